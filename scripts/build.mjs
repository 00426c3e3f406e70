// Bundles the service and the simulator CLI into dist/ with esbuild (our code only; packages stay in node_modules),
// and the dashboards into dist/web. `npm start` runs this first: it takes about a second, and
// the bundle runs without the per-function cost that running TypeScript through a loader adds.
import { cpSync } from 'node:fs';
import { build } from 'esbuild';
import { buildDashboards } from '../dashboards/build.mjs';

await Promise.all([
  build({
    // the reading pipeline's thread is a bundle of its own, beside service.mjs (services/pipeline/client.ts)
    entryPoints: { service: 'services/main.ts', simulate: 'simulators/cli.ts', 'pipeline-thread': 'services/pipeline/thread.ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  }),
  buildDashboards(),
]);
// the simulator's scenarios are read next to the bundle
cpSync('simulators/scenarios', 'dist/scenarios', { recursive: true });
// dist/main.mjs runs services/quiet-debug.mjs before the service's bundle and its packages load
cpSync('services/start.mjs', 'dist/main.mjs');
cpSync('services/quiet-debug.mjs', 'dist/quiet-debug.mjs');
