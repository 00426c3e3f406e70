// The reading pipeline's thread with a fault nobody foresaw: judging a reading of gas_lel 66.6
// ends the thread as it runs (as a message that runs it out of memory would), though the judge
// catches what one message throws.
import '../../services/pipeline/thread.ts';
import { PipelineCore } from '../../services/pipeline/core.ts';
import { ReadingJudge } from '../../services/pipeline/judge.ts';

class Fatal extends Error {}
type Judge = (this: ReadingJudge, readings: { values: Record<string, unknown> }[], at: number) => void;
const proto = ReadingJudge.prototype as unknown as { judge: Judge };
const judge = proto.judge;
proto.judge = function (readings, at) {
  if (readings.some((r) => r.values.gas_lel === 66.6)) throw new Fatal('a fault nobody foresaw');
  return judge.call(this, readings, at);
};
// not taken as one message's fault: it leaves the judging
const core = PipelineCore.prototype as unknown as { fault(part: string, err: Error, about?: unknown): void };
const fault = core.fault;
core.fault = function (part, err, about) {
  if (err instanceof Fatal) throw err;
  return fault.call(this, part, err, about);
};
