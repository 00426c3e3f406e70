import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { StoreHealth } from './store/telemetry-store.ts';

/**
 * `GET /api/health`: the service is "ok" only while every part of the alarm path is. A stalled
 * event loop holds every alarm back even while each part says it is fine, so the worst stall of
 * the last 10 s window counts; so does an alert record that cannot commit or is falling behind.
 */
export class ServiceHealth {
  private readonly loop = monitorEventLoopDelay({ resolution: 20 });
  private stallMs = 0;
  private readonly window: NodeJS.Timeout;

  constructor(
    private readonly parts: {
      store: () => StoreHealth & { kind: string };
      broker: () => { closed: boolean; clients: number; ports: object };
      alerts: () => { ok: boolean; error?: string; waiting: number };
      notifications: () => { ok: boolean; error?: string; waiting: number };
      audit: () => { ok: boolean; error?: string };
      clock: () => number;
      started: number;
    },
  ) {
    this.loop.enable();
    this.window = setInterval(() => ((this.stallMs = this.loop.max / 1e6), this.loop.reset()), 10_000).unref();
  }

  now() {
    const { store: s, broker: b, alerts: a, notifications: n, audit: au, clock, started } = this.parts;
    const store = s();
    const broker = b();
    const alerts = a();
    const notifications = n();
    const audit = au();
    // thousands of changes waiting: a storm the record is not keeping up with
    const behind = alerts.waiting >= 10_000;
    const eventLoop = { worstStallMs: Math.round(Math.max(this.stallMs, this.loop.max / 1e6)) };
    const ok = store.ok && alerts.ok && notifications.ok && audit.ok && !behind && !broker.closed && eventLoop.worstStallMs < 5000;
    return {
      status: ok ? ('ok' as const) : ('degraded' as const),
      broker,
      store,
      alerts: { ...alerts, ...(behind ? { ok: false, error: `${alerts.waiting} changes waiting for the record` } : {}) },
      notifications,
      audit,
      eventLoop,
      uptimeS: Math.round((clock() - started) / 1000),
    };
  }

  stop() {
    clearInterval(this.window);
    this.loop.disable();
  }
}

/**
 * An error as anyone asking for health may read it (the route takes no token): no file paths
 * and no addresses, which the log keeps whole. "Could not write file <file>: No space left on
 * device" still says what is wrong.
 */
export const withoutPlaces = (e: string) =>
  e.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"']+/gi, '<address>').replace(/(?:[A-Za-z]:)?(?:[\\/][^\s"'\\/:]+){2,}[\\/]?/g, '<file>');

/** The health answer with each part's error stripped of places. */
export function publicHealth<H extends Record<string, unknown>>(h: H): H {
  const out: Record<string, unknown> = { ...h };
  for (const [k, v] of Object.entries(h))
    if (v && typeof v === 'object' && typeof (v as { error?: unknown }).error === 'string') out[k] = { ...v, error: withoutPlaces((v as { error: string }).error) };
  return out as H;
}
