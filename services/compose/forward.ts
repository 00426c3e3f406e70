import type { Logger } from 'pino';
import type { AppOptions } from '../app-options.ts';
import { Forwarder } from '../forward/forwarder.ts';
import type { Metrics } from '../metrics.ts';
import type { Settings } from '../settings.ts';

/** Forwarding to upstream platforms: a durable queue per uplink and lane under DATA_DIR/forward. */
export function composeForwarder(d: { settings: Settings; options: AppOptions['forward']; settle?: (lines: number[]) => Promise<void>; metrics: Metrics; clock: () => number; log: Logger }): Forwarder {
  return new Forwarder({
    settle: d.settle,
    dataDir: d.settings.DATA_DIR,
    gatewayName: 'risk-monitor',
    clock: d.clock,
    log: d.log.child({ part: 'forward' }),
    baseDelayMs: d.options?.baseDelayMs ?? 5000,
    maxDelayMs: d.options?.maxDelayMs ?? 300_000,
    maxQueueBytes: d.settings.FORWARD_QUEUE_MB * 1024 * 1024,
    onOutcome: (uplink, lane, outcome) => d.metrics.forwarded.inc({ uplink, lane, outcome }),
  });
}
