// A worker thread run from TypeScript (tests, `npm run start:dev`): tsx compiles it as it loads.
// `npm start` runs the bundles instead (dist/pipeline-thread.mjs, dist/registry-thread.mjs).
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
