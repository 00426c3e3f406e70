// `dist/main.mjs`, what `npm start` runs: quiets `debug` before any package loads, then the service
// (`dist/service.mjs`, the bundle of services/main.ts). In this order: a module's imports run in
// the order written, and a bundle's own code only after every package it imports.
import './quiet-debug.mjs';
import './service.mjs';
