import type { Worker } from 'node:worker_threads';

/**
 * A reading pipeline's thread loaded and waiting for its `start`: unreferenced (the process may
 * end with it waiting), taken once, and not taken once it has ended (it failed to load: the client
 * starts one of its own and says why). Two kinds: the thread dist/main.mjs (services/start.mjs)
 * starts before the service's bundle loads, so that its code and DuckDB (about half a second) load
 * on the other core meanwhile; and the spare a client keeps once a thread has ended unasked. The
 * two bundles share nothing but the process, so the early one is handed over under a global symbol
 * (start.mjs, plain JavaScript, builds it in the same shape).
 */
export interface WaitingThread {
  worker: Worker;
  /** the file it runs */
  file: string;
  ended: boolean;
}

const KEY = Symbol.for('risk-monitor/early-pipeline-thread');
const slot = globalThis as unknown as Record<symbol, WaitingThread | undefined>;

/** `worker`, kept waiting. */
export function waitingThread(worker: Worker, file: string): WaitingThread {
  const waiting = { worker, file, ended: false };
  worker.unref();
  worker.on('error', () => {});
  worker.once('exit', () => (waiting.ended = true));
  return waiting;
}

/** The waiting thread's worker if it runs `file` and has not ended, now the caller's; else it ends. */
export function takeWaiting(waiting: WaitingThread | undefined, file: string): Worker | undefined {
  if (!waiting || waiting.ended || waiting.file !== file) return void waiting?.worker.terminate();
  waiting.worker.ref();
  return waiting.worker;
}

/** The early thread, taken once. */
export function takeEarlyThread(file: string): Worker | undefined {
  const early = slot[KEY];
  slot[KEY] = undefined;
  return takeWaiting(early, file);
}

/** No pipeline runs here (PIPELINE_THREAD=off, a role without one): the early thread ends. */
export function dropEarlyThread(): void {
  void takeEarlyThread('')?.terminate();
}
