import { parentPort } from 'node:worker_threads';
import { checkFile, type FileCheckAsk } from './file-check.ts';

/**
 * The thread an edited registry file is read and checked on (file-check.ts), so that the main
 * thread does not stop for it: one check, then it ends (its heap, hundreds of MB at 10 000
 * devices, goes with it). A check that fails (a bug) says so, and the service checks that file on
 * its own thread instead.
 */
const port = parentPort;
if (!port) throw new Error('services/registry/check-thread.ts runs as a worker thread (see check-client.ts)');
// loaded: from here on, a failure is the check's (the file's), not the thread's
port.postMessage({ ready: true });
port.once('message', (ask: FileCheckAsk & { keep: boolean }) => {
  try {
    port.postMessage(checkFile(ask, ask.keep));
  } catch (e) {
    port.postMessage({ failed: (e as Error)?.message ?? String(e) });
  }
});
