import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';

/**
 * A listener, a rule or a reading step that threw: logged and counted under its part, and the
 * others carry on. Every hook that runs code on outside input is wrapped in one of these.
 */
export function faultReporter(metrics: Metrics, log: Logger) {
  const fault = (part: string) => (err: Error, about?: unknown) => {
    metrics.internalFaults.inc({ part });
    log.error({ err: err?.message ?? String(err), stack: err?.stack, part, about }, 'fault isolated');
  };
  const isolated = (part: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      fault(part)(e as Error);
    }
  };
  return { fault, isolated };
}

export type Faults = ReturnType<typeof faultReporter>;
