import type { RuleImpl, Verdict } from './kind.ts';
import type { OfflineRuleDef } from './schema.ts';

/**
 * A device that stops reporting: no reading for N reporting intervals (counted from the start of
 * the service, or from when the registry gained it, for a device never heard), or the device
 * saying `offline` (its last will) at once. Saying `online` counts as a sign of life once: a
 * device that says it again without a reading in between (a reboot loop, a client that only says
 * online) is no more heard than before, and once silent past the limit its `online` clears nothing.
 */
export interface OfflineState {
  /** the device said offline and has not spoken since */
  saidOffline: boolean;
  /** this rule has raised: the next sign of life must clear it */
  raised: boolean;
  /** when it said offline (ms); absent in states kept before this was */
  saidAt?: number;
}

export function offlineRule(def: OfflineRuleDef): RuleImpl<OfflineState> {
  const verdict = (severity: Verdict['severity'], message: () => string, silentS: number | null): Verdict => ({
    metric: '',
    severity,
    value: silentS,
    threshold: null,
    message: () => def.message ?? message(),
  });
  const QUIET: OfflineState = { saidOffline: false, raised: false };
  const RAISED: OfflineState = { saidOffline: false, raised: true };
  // one verdict object for every reading: hearing from the device clears silence
  const back = verdict(null, () => '设备恢复上报 / device reporting again', 0);
  const limitMs = (interval: number) => (def.afterS ?? def.afterIntervals * interval) * 1000;
  // built apart from the handler: a closure over its locals would cost an allocation per device on every tick
  const silence = (silentS: number, intervalS: number, limit: number): Verdict => ({
    ...verdict(def.severity, () => `设备 ${silentS} 秒无数据（上报周期 ${intervalS} 秒）/ no reading for ${silentS} s (reports every ${intervalS} s)`, silentS),
    threshold: limit / 1000,
  });
  return {
    id: def.id,
    kind: 'offline',
    metric: '_device',
    perMetric: false,
    triggers: '*',
    init: () => QUIET,
    // an alert still open after a restart: the device's next reading (or "online") clears it; a
    // fresh state had raised nothing, so it stayed open (and escalating) while the device reported
    seed: () => RAISED,
    onReading(s, _r, _d, now, out) {
      if (!s.raised) return s;
      // a reading received before the device said offline (judged after it) is no sign of life
      if (s.saidOffline && s.saidAt !== undefined && now <= s.saidAt) return s;
      out.push(back);
      return QUIET;
    },
    onLink(s, link, at, d, out) {
      if (link === 'offline') {
        out.push(verdict(def.severity, () => '设备离线（设备上报离线或遗嘱消息）/ device went offline (status or last will)', 0));
        return { saidOffline: true, raised: true, saidAt: at };
      }
      // the engine kept the last sign of life of a device that said online before and sent nothing since
      if (s.raised && at - d.lastHeard >= limitMs(d.reportIntervalS)) return s.saidOffline ? { ...s, saidOffline: false } : s;
      out.push(verdict(null, () => '设备上线 / device online', 0));
      return QUIET;
    },
    onTime(s, now, d, out) {
      if (s.saidOffline) return s;
      const silent = now - d.lastHeard;
      const limit = limitMs(d.reportIntervalS);
      if (silent < limit) return s;
      out.push(silence(Math.round(silent / 1000), d.reportIntervalS, limit));
      return s.raised ? s : { saidOffline: false, raised: true };
    },
  };
}
