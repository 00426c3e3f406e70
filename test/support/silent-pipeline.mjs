// A reading pipeline's thread that starts, then says nothing until it is asked something: a
// thread held up (by a rule that takes minutes, or a commit that never ends).
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (m) => {
  // ready a moment after it is asked, as a thread that opens its store: a restart takes a while
  if (m.kind === 'start') setTimeout(() => parentPort.postMessage({ kind: 'ready', store: 'embedded', tid: 0 }), 500);
  // told to end: it ends, as a thread that crashed
  else if (m.kind === 'annotate' && m.type === 'end') process.exit(1);
  // asked something: it answers, and says its health from then on, as a pipeline that is free
  // again does (once only, a main thread busy past the silence bound before it looked again
  // found it silent again, and the test waited for an answer that had come and gone)
  else if (m.kind === 'annotate') {
    const health = () => parentPort.postMessage({ kind: 'health', health: { ok: true, pending: 0, lagMs: 0 }, heap: [0, 0] });
    health();
    setInterval(health, 50).unref();
  }
  else if (m.kind === 'stop') parentPort.postMessage({ kind: 'stopped', id: m.id });
});
