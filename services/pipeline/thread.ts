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

port.on('message', (m: ToPipeline) => {
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
