import type { Worker } from 'node:worker_threads';
import { newThread, threadEntry } from '../threads/entry.ts';
import type { FileCheckAnswer, FileCheckAsk, RegistryParts } from './file-check.ts';

/**
 * The registry file's check (file-check.ts) on a thread of its own, started for each check and
 * ended after it: reloads are rare, and the thread's heap is large. A thread that fails rejects.
 */
export class FileCheckThread {
  private readonly running = new Set<Worker>();

  /** `entry`: the thread's file (tests run the bundle global-setup built); by default beside this one */
  constructor(private readonly entry?: string) {}

  check(ask: FileCheckAsk): Promise<FileCheckAnswer> {
    return this.run({ ...ask, keep: false }) as Promise<FileCheckAnswer>;
  }

  /** Only the parts of the file the service holds the registry of, for the first edit to compare with. */
  keep(ask: FileCheckAsk): Promise<{ ok: true; parts: RegistryParts } | { ok: false; problems: string[] }> {
    return this.run({ ...ask, keep: true }) as Promise<{ ok: true; parts: RegistryParts } | { ok: false; problems: string[] }>;
  }

  /** Ends the checks under way (they reject). */
  async close(): Promise<void> {
    await Promise.all([...this.running].map((w) => w.terminate()));
  }

  private run(ask: FileCheckAsk & { keep: boolean }): Promise<unknown> {
    const worker = newThread(threadEntry({ given: this.entry, caller: import.meta.url, bundle: new URL('./registry-thread.mjs', import.meta.url), ts: new URL('./check-thread.ts', import.meta.url) }));
    this.running.add(worker);
    // a check under way is the holder's to wait for: the thread keeps no service running
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.once('message', (m: { failed: string } | object) => ('failed' in m ? reject(new Error(m.failed)) : resolve(m)));
      worker.once('error', reject);
      worker.once('exit', (code) => {
        this.running.delete(worker);
        reject(new Error(`the registry check thread ended (exit ${code})`));
      });
      worker.postMessage(ask);
    }).finally(() => void worker.terminate());
  }
}
