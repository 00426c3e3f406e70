// Bundles the service and the simulator CLI into dist/ with esbuild (our code only; packages stay in node_modules),
// and the dashboards into dist/web. `npm start` runs this first: it takes about a second, and
// the bundle runs without the per-function cost that running TypeScript through a loader adds.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';
import { buildDashboards } from '../dashboards/build.mjs';

// chunks are named by their content: the last build's would pile up (a fresh clone has no dist/)
if (existsSync('dist')) for (const f of readdirSync('dist', { withFileTypes: true }).filter((e) => e.name.startsWith('chunk-'))) rmSync(`dist/${f.name}`);
await Promise.all([
  build({
    // the reading pipeline's thread and the registry file's check thread are bundles of their own,
    // beside service.mjs (services/pipeline/client.ts, services/registry/check-client.ts)
    entryPoints: { service: 'services/main.ts', simulate: 'simulators/cli.ts', 'pipeline-thread': 'services/pipeline/thread.ts', 'registry-thread': 'services/registry/check-thread.ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    outdir: 'dist',
    // a cluster role's code and its packages (NATS, PostgreSQL) load only in that role: dynamic
    // imports become chunks of their own, loaded when asked (shared code goes in chunks too), in
    // dist/ itself: the code reads files beside it (scenarios, web, pipeline-thread.mjs, registry-thread.mjs)
    splitting: true,
    chunkNames: 'chunk-[hash]',
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
