import { metricNames } from './describe.ts';
import { type DeviceView, type RuleImpl, type Verdict } from './kind.ts';
import type { PermissiveRuleDef } from './schema.ts';

/**
 * Start permissive: a run (casting_active rising) must not start while a required sensor is
 * faulted or not reporting, or while a valve is out of its ready state. The alert clears when the
 * run ends or everything is in order.
 */
export interface PermissiveState {
  running: boolean;
  violated: boolean;
}

export function permissiveRule(def: PermissiveRuleDef): RuleImpl<PermissiveState> {
  const problems = (d: DeviceView, now: number): string[] => {
    const out: string[] = [];
    const stale = 3 * d.reportIntervalS * 1000;
    if (d.link === 'offline') out.push('设备离线 / device offline');
    for (const m of def.sensors) {
      const name = metricNames(m).en;
      if (d.quality[m] === 'fault') out.push(`${name}: fault`);
      else if (d.latest[m] === undefined) out.push(`${name}: no reading`);
      else if (now - (d.latestAt[m] ?? 0) > stale) out.push(`${name}: not reporting`);
    }
    for (const [m, v] of Object.entries(def.ready)) if (d.latest[m] !== v) out.push(`${metricNames(m).en}: ${d.latest[m] ?? '—'} (ready is ${v})`);
    return out;
  };
  const verdict = (found: string[]): Verdict => ({
    metric: '',
    severity: found.length ? def.severity : null,
    value: null,
    threshold: null,
    message: () => def.message ?? `开始作业时条件不满足 / run started while not permitted: ${found.join('; ')}`,
  });
  return {
    id: def.id,
    kind: 'permissive',
    metric: def.on,
    perMetric: false,
    // the run starting, or a reading that may put a violated start back in order
    triggers: [def.on, ...def.sensors, ...Object.keys(def.ready)],
    init: () => ({ running: false, violated: false }),
    onReading(s, r, d, now) {
      const running = d.latest[def.on] === true;
      if (!running) return [{ running, violated: false }, [verdict([])]];
      const starting = !s.running && r.values[def.on] === true;
      // judged at the start of the run; afterwards only the way back to normal is watched
      if (!starting && !s.violated) return [{ running, violated: false }, []];
      const found = problems(d, now);
      return [{ running, violated: found.length > 0 }, [verdict(found)]];
    },
  };
}
