import type { Worker } from 'node:worker_threads';
import { newThread, threadEntry } from '../threads/entry.ts';
import type { FileCheckAnswer, FileCheckAsk, RegistryParts } from './file-check.ts';

/**
 * The registry file's check (file-check.ts) on a thread of its own, started for each check and
 * ended after it: reloads are rare, and the thread's heap is large. A thread that fails rejects.
 */
export class FileCheckThread {
  private readonly running = new Set<Worker>();

  /**
   * `entry`: the thread's file (tests run the bundle global-setup built); by default beside this one.
   * `timeoutMs`: the longest a check may take (10 000 devices: 4–6 s of a core)
   */
  constructor(
    private readonly entry?: string,
    private readonly timeoutMs = CHECK_TIMEOUT_MS,
  ) {}

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
    // its heap bounded: a file that needs more is refused, and the service goes on (a 100 MB file
    // took 4.6 GB here, and then the whole service when checked on the main thread)
    const worker = newThread(
      threadEntry({ given: this.entry, caller: import.meta.url, bundle: new URL('./registry-thread.mjs', import.meta.url), ts: new URL('./check-thread.ts', import.meta.url) }),
      { maxOldGenerationSizeMb: CHECK_HEAP_MB },
    );
    this.running.add(worker);
    // a check under way is the holder's to wait for: the thread keeps no service running
    worker.unref();
    // loaded (it says so first): what fails from then on is the check's, not the thread's
    let started = false;
    const failed = (message: string) => (started ? new CheckFailed(message) : new CheckThreadUnavailable(message));
    let timer: NodeJS.Timeout | undefined;
    return new Promise((resolve, reject) => {
      // a file built to be slow to read (30 MiB of one list took 2.5 min) is refused, and the reloads after it go on
      timer = setTimeout(() => reject(new CheckFailed(`it took longer than ${this.timeoutMs / 1000} s`)), this.timeoutMs).unref();
      worker.on('message', (m: { ready: true } | { failed: string } | object) => {
        // the file goes once the thread says it is loaded: a thread failing on the file then fails
        // after its word has arrived. Sent at once, the file could be read (and fail) before the
        // word reached us, and the failure was taken for a thread that cannot start: a loaded
        // test run then checked on the main thread the file the thread had failed on
        if ('ready' in m) (started = true), worker.postMessage(ask);
        else if ('failed' in m) reject(new CheckFailed(m.failed));
        else resolve(m);
      });
      worker.once('error', (err) => reject(failed(err.message)));
      worker.once('exit', (code) => {
        this.running.delete(worker);
        reject(failed(`the registry check thread ended (exit ${code})`));
      });
    }).finally(() => {
      clearTimeout(timer);
      void worker.terminate();
    });
  }
}

/** The heap a check may take: a registry of 10 000 devices takes about 500 MB */
const CHECK_HEAP_MB = 2048;
const CHECK_TIMEOUT_MS = 60_000;

/** The check thread could not start (its code missing, no memory for a thread): the file is checked on the main thread. */
export class CheckThreadUnavailable extends Error {}

/** The check ran and failed on this file (out of its heap, a bug): the reload is refused. */
export class CheckFailed extends Error {}
