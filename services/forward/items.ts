import type { Alert, Transition } from '../alerts/model.ts';
import type { Reading, Severity, Value } from '../../domain/types.ts';

/** One point's value at one time, under the code an upstream platform knows it by. */
export interface Sample {
  deviceId: string;
  metric: string;
  code: string;
  ts: number;
  value: Value;
}

/** An alarm going up or clearing, as a platform wants to hear of it. */
export interface AlarmEvent {
  alertId: string;
  deviceId: string;
  metric: string;
  code: string;
  ts: number;
  state: 'alarm' | 'clear';
  severity: Severity;
  value: Value | null;
  threshold: number | null;
  content: string;
}

/** What waits in an uplink's queue: one enterprise's readings, or one alarm event. */
export type Entry =
  | { lane: 'readings'; enterpriseId: string; createdAt: number; samples: Sample[] }
  | { lane: 'alarms'; enterpriseId: string; createdAt: number; event: AlarmEvent };

/** deviceId → metric → code; points without a code are not forwarded. */
export type PointCodes = Map<string, Map<string, string>>;

export function samplesOf(readings: readonly Reading[], codes: PointCodes): Sample[] {
  const out: Sample[] = [];
  for (const r of readings) {
    const byMetric = codes.get(r.deviceId);
    if (!byMetric) continue;
    for (const metric in r.values) {
      const code = byMetric.get(metric);
      if (code !== undefined) out.push({ deviceId: r.deviceId, metric, code, ts: r.ts, value: r.values[metric] });
    }
  }
  return out;
}

/** The newest sample of every point (a device's buffered flush can arrive out of order). */
export function latestPerPoint(samples: readonly Sample[]): Sample[] {
  const latest = new Map<string, Sample>();
  for (const s of samples) {
    const key = `${s.deviceId}\u0000${s.metric}`;
    const seen = latest.get(key);
    if (!seen || s.ts >= seen.ts) latest.set(key, s);
  }
  return [...latest.values()].sort((a, b) => a.ts - b.ts);
}

/** Samples in arrival order, cut into batches a platform accepts. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The alarm event a transition means for a platform, if any: raising, a change of level, and
 * clearing. An alert closed by hand while its condition still held is cleared upstream too, or
 * the platform would show it active for ever.
 */
export function alarmEventOf(alert: Alert, t: Transition, code: string): AlarmEvent | null {
  const base = { alertId: alert.id, deviceId: alert.deviceId, metric: alert.metric, code, ts: t.at, severity: alert.severity, threshold: alert.threshold };
  switch (t.type) {
    case 'raised':
    case 'reactivated':
    case 'severity_changed':
      return { ...base, state: 'alarm', value: t.value ?? alert.value, content: alert.message };
    case 'cleared':
      return { ...base, state: 'clear', value: t.value ?? alert.value, content: `报警消除：${alert.message}` };
    case 'closed':
      return alert.clearedAt === null ? { ...base, state: 'clear', value: alert.value, content: `报警已人工关闭：${alert.message}` } : null;
    default:
      return null;
  }
}
