// The reading pipeline's thread with a bug nobody foresaw: a telemetry batch holding the bytes
// `CRASH-ME` throws as the thread starts judging it (as a defect reached by one message would).
import '../../services/pipeline/thread.ts';
import { PipelineCore } from '../../services/pipeline/core.ts';
import type { ToPipeline } from '../../services/pipeline/protocol.ts';

const MARK = Buffer.from('CRASH-ME');
const handle = PipelineCore.prototype.handle;
PipelineCore.prototype.handle = function (this: PipelineCore, m: ToPipeline) {
  if (m.kind === 'telemetry' && Buffer.from(m.bytes).includes(MARK)) throw new Error('a bug nobody foresaw');
  return handle.call(this, m);
};
