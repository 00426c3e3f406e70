// Builds the dashboards into dist/web: one script and one stylesheet (uPlot and its CSS bundled
// in), plus the page. Run by `npm start` (scripts/build.mjs) and by the test setup, so the
// served assets never lag the source.
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildDashboards(outdir = `${root}dist/web`) {
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { app: `${root}dashboards/web/src/main.ts` },
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: true,
    outdir,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'favicon.svg']) await copyFile(`${root}dashboards/web/${f}`, `${outdir}/${f}`);
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildDashboards();
