import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Which file a worker thread runs: the bundle beside the service's (`npm start`: dist/), or, when
 * the service runs from TypeScript (tests, `npm run start:dev`), its TypeScript through tsx
 * (`boot`). `given`: a file chosen by the caller (tests run the bundles global-setup built: tsx
 * costs about a second of a core at each thread's start).
 */
export function threadEntry(o: { given?: string; caller: string; bundle: URL; ts: URL }): { file: string; boot?: URL } {
  if (o.given && !o.given.endsWith('.ts')) return { file: o.given };
  const here = fileURLToPath(o.caller);
  if (!o.given && (here.endsWith('.mjs') || here.endsWith('.js'))) return { file: fileURLToPath(o.bundle) };
  const ts = o.given ? pathToFileURL(o.given).href : o.ts.href;
  const boot = new URL('./tsx-boot.mjs', import.meta.url);
  if (!existsSync(boot)) throw new Error('services/threads/tsx-boot.mjs is missing');
  return { file: ts, boot };
}

export function newThread(entry: { file: string; boot?: URL }, resourceLimits?: ResourceLimits): Worker {
  return entry.boot ? new Worker(entry.boot, { workerData: { entry: entry.file }, resourceLimits }) : new Worker(entry.file, { resourceLimits });
}
