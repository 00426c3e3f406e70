import { type DeviceView, type RuleImpl, type Verdict } from './kind.ts';
import type { PermissiveRuleDef } from './schema.ts';
import { BY_METRIC, type RuleContext } from './points.ts';

/**
 * Start permissive: a run (casting_active rising) must not start while a required sensor is
 * faulted or not reporting, or while a valve is out of its ready state. The alert clears when the
 * run ends or everything is in order.
 */
export interface PermissiveState {
  running: boolean;
  violated: boolean;
}

export function permissiveRule(def: PermissiveRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<PermissiveState> {
  // every point of a sensor's metric must be in order, and of a ready metric in its ready state
  const on = ctx.keyOf(def.on);
  const sensors = def.sensors.flatMap((m) => ctx.keysOf(m));
  const ready = Object.entries(def.ready).flatMap(([m, v]) => ctx.keysOf(m).map((k) => [k, v] as const));
  const problems = (d: DeviceView, now: number): string[] => {
    const out: string[] = [];
    const stale = 3 * d.reportIntervalS * 1000;
    if (d.link === 'offline') out.push('设备离线 / device offline');
    for (const m of sensors) {
      const name = ctx.names(m).en;
      if (d.quality[m] === 'fault') out.push(`${name}: fault`);
      else if (d.latest(m) === undefined) out.push(`${name}: no reading`);
      else if (now - (d.arrivedAt(m) ?? 0) > stale) out.push(`${name}: not reporting`);
    }
    for (const [m, v] of ready) if (d.latest(m) !== v) out.push(`${ctx.names(m).en}: ${d.latest(m) ?? '—'} (ready is ${v})`);
    return out;
  };
  const verdict = (found: string[]): Verdict => ({
    metric: '',
    severity: found.length ? def.severity : null,
    value: null,
    threshold: null,
    message: () => def.message ?? `开始作业时条件不满足 / run started while not permitted: ${found.join('; ')}`,
  });
  // no run, nothing to judge: one verdict for every such reading
  const fine = verdict([]);
  return {
    id: def.id,
    kind: 'permissive',
    metric: on,
    perMetric: false,
    // the run starting, or a reading that may put a violated start back in order
    triggers: [on, ...sensors, ...ready.map(([k]) => k)],
    init: () => ({ running: false, violated: false }),
    onReading(s, r, d, now, out) {
      const running = d.latest(on) === true;
      if (!running) {
        s.running = s.violated = false;
        out.push(fine);
        return s;
      }
      const starting = !s.running && r.values[on] === true;
      s.running = true;
      // judged at the start of the run; afterwards only the way back to normal is watched
      if (!starting && !s.violated) return s;
      const found = problems(d, now);
      s.violated = found.length > 0;
      out.push(verdict(found));
      return s;
    },
  };
}
