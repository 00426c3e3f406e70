import { parentPort } from 'node:worker_threads';
import { openTelemetry } from '../store/open-telemetry.ts';
import { PipelineCore } from './core.ts';
import type { FromPipeline, ToPipeline } from './protocol.ts';

/**
 * The reading pipeline's thread: decode, rules and the time-series store run here, so that the
 * MQTT edge and the alarm path on the main thread never wait behind a batch of readings being
 * judged or written. Messages are handled in the order they come.
 */
const port = parentPort;
if (!port) throw new Error('services/pipeline/thread.ts runs as a worker thread (see client.ts)');

const core = new PipelineCore(openTelemetry, (m: FromPipeline) => port.postMessage(m));
let started: Promise<void> | undefined;
let ending = false;

/**
 * End the thread, as a crash: nothing flushed, nothing more handled. Never while DuckDB is in a
 * call, which would abort the whole process (node-addon-api cannot throw into an environment
 * being torn down): the call under way returns first.
 */
function endAsCrash(): void {
  if (ending) return;
  ending = true;
  // a store still opening is let finish first: its calls are native too
  void (started ?? Promise.resolve())
    .catch(() => {})
    .then(() => core.halt())
    .catch(() => {})
    .finally(() => process.exit(1));
}

// a bug nobody foresaw ends this thread, not the process: the main thread starts another
process.on('uncaughtException', (err) => {
  core.logger.error({ err: err.message, stack: err.stack }, 'the reading pipeline failed');
  endAsCrash();
});
process.on('unhandledRejection', (err) => {
  core.logger.error({ err: (err as Error)?.message ?? String(err), stack: (err as Error)?.stack }, 'the reading pipeline failed');
  endAsCrash();
});

port.on('message', (m: ToPipeline) => {
  if (ending) return;
  if (m.kind === 'crash') return endAsCrash();
  if (m.kind === 'start') {
    started = core.start(m).catch((err: Error) => {
      core.logger.error({ err: err.message }, 'the reading pipeline could not start');
      // the main thread sees the thread end and says why
      process.exit(1);
    });
    return;
  }
  if (m.kind === 'stop') {
    void (started ?? Promise.resolve())
      .then(() => core.stop())
      .finally(() => port.postMessage({ kind: 'stopped', id: m.id } satisfies FromPipeline));
    return;
  }
  // nothing arrives before `start` resolves: the main thread waits for `ready`
  core.handle(m);
});
