import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { dropEarlyThread, takeEarlyThread } from '../../services/pipeline/early-thread.ts';
import { waitFor } from '../support/wait.ts';

const KEY = Symbol.for('risk-monitor/early-pipeline-thread');
const slot = globalThis as unknown as Record<symbol, unknown>;

/** What dist/main.mjs (services/start.mjs) leaves: a thread waiting, unreferenced, under the symbol. */
function leaveEarly(file = '/dist/pipeline-thread.mjs') {
  const worker = new Worker('require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m))', { eval: true });
  worker.unref();
  const early = { worker, file, ended: false };
  worker.once('exit', () => (early.ended = true));
  slot[KEY] = early;
  return early;
}
const exited = (w: Worker) => new Promise<number>((r) => w.once('exit', r));

afterEach(() => dropEarlyThread());

describe("the pipeline's early thread", () => {
  it('is taken once, by the client that runs its file, and answers', async () => {
    const early = leaveEarly();
    const worker = takeEarlyThread('/dist/pipeline-thread.mjs');
    expect(worker).toBe(early.worker);
    expect(takeEarlyThread('/dist/pipeline-thread.mjs')).toBeUndefined();
    const answer = new Promise((r) => worker!.once('message', r));
    worker!.postMessage('start');
    expect(await answer).toBe('start');
    await worker!.terminate();
  });

  it('ends when asked for another file, or when no pipeline runs on a thread', async () => {
    const other = leaveEarly();
    const ended = exited(other.worker);
    expect(takeEarlyThread('/elsewhere/pipeline-thread.mjs')).toBeUndefined();
    await ended;
    const unused = leaveEarly();
    const dropped = exited(unused.worker);
    dropEarlyThread();
    await dropped;
    expect(slot[KEY]).toBeUndefined();
  });

  it('is not taken once it has ended (it failed to load): the client starts its own', async () => {
    const early = leaveEarly();
    await early.worker.terminate();
    await waitFor(() => early.ended, 5000, 'ended');
    expect(takeEarlyThread('/dist/pipeline-thread.mjs')).toBeUndefined();
  });
});
