// The reading pipeline's thread, run from TypeScript (tests, `npm run start:dev`): tsx compiles
// it as it loads. `npm start` runs the bundle instead (dist/pipeline-thread.mjs).
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
