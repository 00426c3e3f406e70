// `dist/main.mjs`, what `npm start` runs: quiets `debug` before any package loads, then the service
// (`dist/service.mjs`, the bundle of services/main.ts). In this order: a module's imports run in
// the order written, and a bundle's own code only after every package it imports.
import './quiet-debug.mjs';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

// The reading pipeline's thread loads its code and DuckDB (about half a second) on the other core
// while this one loads the service's; the service takes it (services/pipeline/early-thread.ts).
// Unreferenced until taken, and nothing said until then: it waits for its `start` message.
const file = fileURLToPath(new URL('./pipeline-thread.mjs', import.meta.url));
const early = { worker: new Worker(file), file, ended: false };
early.worker.unref();
// a thread that fails to load is not taken: the service starts one of its own and says why
early.worker.on('error', () => {});
early.worker.once('exit', () => (early.ended = true));
globalThis[Symbol.for('risk-monitor/early-pipeline-thread')] = early;

await import('./service.mjs');
