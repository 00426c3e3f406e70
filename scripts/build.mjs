// Bundles the service into dist/ with esbuild (our code only; packages stay in node_modules).
// `npm start` runs this first: it takes well under a second, and the bundle runs without the
// per-function cost that running TypeScript through a loader adds.
import { build } from 'esbuild';

await build({
  entryPoints: { main: 'services/main.ts' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});
