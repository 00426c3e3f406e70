import type { Worker } from 'node:worker_threads';

/**
 * The reading pipeline's thread, started by dist/main.mjs (services/start.mjs) before the service's
 * bundle loads: loading its code and DuckDB takes about half a second, which it spends on the other
 * core while this one loads the service's (the README gives the start times measured). The
 * two bundles share nothing but the process, so the thread is handed over under a global symbol.
 */
const KEY = Symbol.for('risk-monitor/early-pipeline-thread');

interface Early {
  worker: Worker;
  /** the file it runs */
  file: string;
  ended: boolean;
}

const slot = globalThis as unknown as Record<symbol, Early | undefined>;

/** The early thread if it runs `file` and has not ended: taken once, then it is the caller's. */
export function takeEarlyThread(file: string): Worker | undefined {
  const early = slot[KEY];
  slot[KEY] = undefined;
  if (!early || early.ended || early.file !== file) return void early?.worker.terminate();
  early.worker.ref();
  return early.worker;
}

/** No pipeline runs here (PIPELINE_THREAD=off, a role without one): the early thread ends. */
export function dropEarlyThread(): void {
  void takeEarlyThread('')?.terminate();
}
