import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { changes, engineWith } from '../support/engine.ts';
import { seed } from '../../rules/engine.ts';
import type { DeviceView, Verdict } from '../../rules/kind.ts';
import { rateRule, type RateState } from '../../rules/rate.ts';
import { bareFieldsOf } from '../../domain/types.ts';

/** Each rule kind as a pure function over readings, ticks and status changes. */

describe('rate of change', () => {
  const rule = { id: 'p-fall', kind: 'rate' as const, metric: 'cooling_water_pressure', fallingFaster: 0.05, windowS: 5, severity: 'major' as const };

  it('raises when the value falls faster than the limit over the window, and clears when it steadies', () => {
    const e = engineWith([rule]);
    expect(e.read(0, { cooling_water_pressure: 0.45 })).toEqual([]);
    expect(e.read(1000, { cooling_water_pressure: 0.44 })).toEqual([]);
    // 0.45 → 0.2 over 2 s: -0.125 MPa/s
    const [o] = e.read(2000, { cooling_water_pressure: 0.2 });
    expect(o).toMatchObject({ change: 'raise', severity: 'major', value: -0.125, threshold: -0.05 });
    expect(changes(e.read(8000, { cooling_water_pressure: 0.2 }))).toEqual(['clear']);
  });

  it('does not raise at exactly the limit minus a hair, and does at the limit', () => {
    const e = engineWith([rule]);
    e.read(0, { cooling_water_pressure: 1 });
    expect(e.read(1000, { cooling_water_pressure: 0.951 })).toEqual([]);
    const e2 = engineWith([rule]);
    e2.read(0, { cooling_water_pressure: 1 });
    expect(changes(e2.read(1000, { cooling_water_pressure: 0.95 }))).toEqual(['raise:major']);
  });

  it('measures from the oldest reading within the window, whatever the gaps between readings', () => {
    // the window is kept in place, its oldest readings leaving from the front as new ones come:
    // one, several or all of them at once, and none
    const impl = rateRule({ ...rule, enabled: true });
    const view = { latest: () => undefined, ranges: null } as unknown as DeviceView;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 12_000 }), fc.double({ min: 0, max: 2, noNaN: true })), { minLength: 1, maxLength: 60 }), (steps) => {
        let s: RateState = impl.init(0);
        const seen: [number, number][] = [];
        let ts = 0;
        for (const [gap, v] of steps) {
          ts += gap;
          seen.push([ts, v]);
          const said: Verdict[] = [];
          s = impl.onReading!(s, { enterpriseId: 'E', deviceId: 'D', ts, values: bareFieldsOf(['cooling_water_pressure', v]) }, view, ts, { push: (x) => said.push(x) });
          const inWindow = seen.filter(([t]) => ts - t <= rule.windowS * 1000);
          const [t0, v0] = inWindow[0];
          expect(s.ts).toEqual(inWindow.map(([t]) => t));
          expect(s.values).toEqual(inWindow.map(([, x]) => x));
          expect(said.map((x) => x.value)).toEqual([Math.round((ts > t0 ? ((v - v0) * 1000) / (ts - t0) : 0) * 1e4) / 1e4]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('only measures over the window: a slow drift is not a fall', () => {
    const e = engineWith([rule]);
    for (let i = 0; i <= 60; i++) expect(e.read(i * 1000, { cooling_water_pressure: 0.6 - i * 0.004 })).toEqual([]);
  });
});

describe('deviation from baseline', () => {
  const rule = { id: 'dp', kind: 'baseline' as const, metric: 'filter_pressure_diff', deviationPct: 20, deadbandPct: 2 };

  it('waits for a baseline, then raises at 20 % away in either direction', () => {
    const e = engineWith([rule]);
    expect(e.read(0, { filter_pressure_diff: 5000 })).toEqual([]);
    e.baseline('filter_pressure_diff', 1000);
    expect(e.read(1000, { filter_pressure_diff: 1199 })).toEqual([]);
    expect(e.read(2000, { filter_pressure_diff: 1200 })).toMatchObject([{ change: 'raise', severity: 'major', threshold: 1000, value: 1200 }]);
    expect(e.read(3000, { filter_pressure_diff: 1181 })).toEqual([]);
    expect(changes(e.read(4000, { filter_pressure_diff: 1180 }))).toEqual(['clear']);
    expect(changes(e.read(5000, { filter_pressure_diff: 790 }))).toEqual(['raise:major']);
  });

  it('measures against a new baseline once it is set (bags replaced)', () => {
    const e = engineWith([rule]);
    e.baseline('filter_pressure_diff', 1000);
    e.read(0, { filter_pressure_diff: 1500 });
    e.baseline('filter_pressure_diff', 1480);
    expect(changes(e.read(1000, { filter_pressure_diff: 1500 }))).toEqual(['clear']);
  });

  it('continues an alert still open after a restart without waiting its duration again, and clears when back', () => {
    const e = engineWith([{ ...rule, forS: 600 }]);
    e.baseline('filter_pressure_diff', 1000);
    seed(e.set, e.state, 'D/dp', 'major', 1300, 1300);
    expect(e.read(0, { filter_pressure_diff: 1300 })).toEqual([]);
    expect(changes(e.read(1000, { filter_pressure_diff: 1000 }))).toEqual(['clear']);
  });
});

describe('offline', () => {
  const rule = { id: 'off', kind: 'offline' as const, afterIntervals: 3 };

  it('raises after N reporting intervals of silence, counted from start for a device never heard', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    expect(e.tick(29_999)).toEqual([]);
    expect(e.tick(30_000)).toMatchObject([{ change: 'raise', severity: 'major', metric: '_device', value: 30 }]);
    expect(changes(e.read(31_000, { gas_lel: 1 }))).toEqual(['clear']);
    expect(e.tick(60_999)).toEqual([]);
    expect(changes(e.tick(61_000))).toEqual(['raise:major']);
  });

  it('raises at once when the device says offline (its last will), clears when it is back', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { gas_lel: 1 });
    expect(changes(e.link('offline', 1000))).toEqual(['raise:major']);
    expect(e.tick(60_000)).toEqual([]);
    expect(changes(e.link('online', 61_000))).toEqual(['clear']);
  });

  it('hears a device that keeps saying online without a reading once: its silence counts from its first online, and then its online clears nothing', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { gas_lel: 1 });
    expect(e.link('online', 5000)).toEqual([]);
    for (const t of [15_000, 25_000, 34_000]) expect(e.link('online', t)).toEqual([]);
    expect(e.tick(34_999)).toEqual([]);
    expect(changes(e.tick(35_000))).toEqual(['raise:major']);
    expect(e.link('online', 36_000)).toEqual([]);
    expect(e.tick(50_000)).toEqual([]);
    // data again: the device is back, and its next online is a sign of life again
    expect(changes(e.read(51_000, { gas_lel: 1 }))).toEqual(['clear']);
    expect(e.link('online', 60_000)).toEqual([]);
    expect(e.tick(89_999)).toEqual([]);
  });

  it('keeps a device in a reboot loop (its will, then online, again and again, no reading) offline once past the limit from its first online', () => {
    // without the flapping hold, which would keep it open sooner
    const e = engineWith([rule], { reportIntervalS: 10, flapping: { changes: 1000, windowS: 1 } });
    e.read(0, { gas_lel: 1 });
    // the first reboot: its will raises, its online clears (it may well send data now)
    expect(changes(e.link('offline', 1000))).toEqual(['raise:major']);
    expect(changes(e.link('online', 2000))).toEqual(['clear']);
    let t = 2000;
    while (t < 31_000) {
      expect(changes(e.link('offline', (t += 500)))).toEqual(['raise:major']);
      expect(changes(e.link('online', (t += 500)))).toEqual(['clear']);
    }
    // 30 s after its first online its will still raises, and its online no longer clears: it has sent no data
    expect(changes(e.link('offline', (t += 500)))).toEqual(['raise:major']);
    expect(e.link('online', (t += 1000))).toEqual([]);
    expect(e.tick((t += 10_000))).toEqual([]);
    expect(changes(e.read(t + 1, { gas_lel: 1 }))).toEqual(['clear']);
  });

  it('is not cleared by a reading that arrived before the device said offline, judged after it', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { gas_lel: 1 });
    expect(changes(e.link('offline', 1000))).toEqual(['raise:major']);
    // received at 999 and 1000 (sent before the link closed), judged after the will
    expect(e.read(990, { gas_lel: 1 }, { now: 999 })).toEqual([]);
    expect(e.read(995, { gas_lel: 1 }, { now: 1000 })).toEqual([]);
    // received after it: the device is back
    expect(changes(e.read(1001, { gas_lel: 1 }, { now: 1001 }))).toEqual(['clear']);
  });

  it('judges silence by arrival, not by the device timestamps of a flushed buffer', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { gas_lel: 1 });
    e.tick(40_000);
    expect(changes(e.read(5000, { gas_lel: 1 }, { now: 41_000 }))).toEqual(['clear']);
  });

  it('clears an alert still open after a restart at the device\'s next reading, and keeps it while the device stays silent', () => {
    const e = engineWith([{ id: 'off', kind: 'offline', afterIntervals: 3, severity: 'major' }], { reportIntervalS: 10 });
    seed(e.set, e.state, 'D/off', 'major', 0, 0);
    expect(changes(e.read(1000, { gas_lel: 1 }))).toEqual(['clear']);
    const silent = engineWith([{ id: 'off', kind: 'offline', afterIntervals: 3, severity: 'major' }], { reportIntervalS: 10 });
    seed(silent.set, silent.state, 'D/off', 'major', 0, 0);
    expect(silent.tick(10_000)).toEqual([]);
    expect(silent.tick(40_000)).toEqual([]);
    expect(changes(silent.read(41_000, { gas_lel: 1 }))).toEqual(['clear']);
  });
});

describe('stuck value', () => {
  const rule = { id: 'stuck', kind: 'stuck' as const, metric: 'filter_pressure_diff', tolerance: 1, windowS: 60 };

  it('raises when an analogue value has not moved beyond the tolerance for the window', () => {
    const e = engineWith([rule]);
    e.read(0, { filter_pressure_diff: 1000 });
    expect(e.read(30_000, { filter_pressure_diff: 1000.5 })).toEqual([]);
    expect(e.read(59_999, { filter_pressure_diff: 999.2 })).toEqual([]);
    expect(changes(e.read(60_000, { filter_pressure_diff: 1000.9 }))).toEqual(['raise:warning']);
    expect(changes(e.read(61_000, { filter_pressure_diff: 1001.1 }))).toEqual(['clear']);
  });

  it('continues an alert still open after a restart while the value stays stuck, and clears when it moves', () => {
    const e = engineWith([rule]);
    seed(e.set, e.state, 'D/stuck', 'warning', 1000, 1000);
    expect(e.read(0, { filter_pressure_diff: 1000.5 })).toEqual([]);
    expect(e.read(1000, { filter_pressure_diff: 999.5 })).toEqual([]);
    expect(changes(e.read(2000, { filter_pressure_diff: 1002 }))).toEqual(['clear']);
  });
});

describe('impossible value', () => {
  it('raises per point outside the point range (else the catalogue range), and keeps it away from thresholds', () => {
    const e = engineWith(
      [
        { id: 'imp', kind: 'range' },
        { id: 'gas', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'critical', value: 40 }] },
      ],
      { ranges: { gas_lel: [0, 100] } },
    );
    const out = e.read(0, { gas_lel: 180, co_ppm: -5 });
    expect(out.map((o) => [o.key, o.change, o.severity, o.threshold])).toEqual([
      ['D/imp/gas_lel', 'raise', 'warning', 100],
      ['D/imp/co_ppm', 'raise', 'warning', 0],
    ]);
    expect(e.read(1000, { gas_lel: 10 }).map((o) => [o.key, o.change])).toEqual([['D/imp/gas_lel', 'clear']]);
  });
  it('clears alerts still open after a restart when their points come back in range, each its own', () => {
    const e = engineWith([{ id: 'imp', kind: 'range' }], { ranges: { gas_lel: [0, 100] } });
    seed(e.set, e.state, 'D/imp/gas_lel', 'warning', 180, 180);
    seed(e.set, e.state, 'D/imp/co_ppm', 'warning', -5, -5);
    expect(e.read(0, { gas_lel: 150 })).toEqual([]);
    expect(e.read(1000, { gas_lel: 10 }).map((o) => [o.key, o.change])).toEqual([['D/imp/gas_lel', 'clear']]);
    expect(e.read(2000, { co_ppm: 3 }).map((o) => [o.key, o.change])).toEqual([['D/imp/co_ppm', 'clear']]);
  });
});

describe('device fault', () => {
  it('raises per point the device reports faulted, clears when it reports good again', () => {
    const e = engineWith([{ id: 'fault', kind: 'fault' }]);
    expect(e.read(0, { melt_level: 600 }, { quality: { melt_level: 'fault' } }).map((o) => [o.key, o.change, o.severity])).toEqual([['D/fault/melt_level', 'raise', 'major']]);
    expect(e.read(1000, {}, { quality: { melt_level: 'fault' } })).toEqual([]);
    expect(changes(e.read(2000, { melt_level: 600 }))).toEqual(['clear']);
  });

  it('clears a fault alert still open after a restart when its point reports good', () => {
    const e = engineWith([{ id: 'fault', kind: 'fault' }]);
    seed(e.set, e.state, 'D/fault/melt_level', 'major', 600, 600);
    expect(e.read(0, { melt_level: 600 }, { quality: { melt_level: 'fault' } })).toEqual([]);
    expect(changes(e.read(1000, { melt_level: 600 }))).toEqual(['clear']);
  });

  it('raises when too many seq numbers go missing, and a flushed buffer fills the gap', () => {
    const e = engineWith([{ id: 'gaps', kind: 'gaps', maxMissing: 2, windowS: 600 }]);
    e.read(0, { gas_lel: 1 }, { seq: 1 });
    expect(e.read(1000, { gas_lel: 1 }, { seq: 4 })).toEqual([]);
    expect(e.read(2000, { gas_lel: 1 }, { seq: 6 })).toMatchObject([{ change: 'raise', value: 3 }]);
    expect(changes(e.read(500, { gas_lel: 1 }, { seq: 5, now: 3000 }))).toEqual(['clear']);
  });

  it('keeps a readings-missing warning still open after a restart for one window, then clears it if nothing more went missing', () => {
    const e = engineWith([{ id: 'gaps', kind: 'gaps', maxMissing: 2, windowS: 600 }]);
    seed(e.set, e.state, 'D/gaps', 'warning', 5, 5, 0);
    expect(e.read(1000, { gas_lel: 1 }, { seq: 40 })).toEqual([]);
    expect(e.read(2000, { gas_lel: 1 }, { seq: 41 })).toEqual([]);
    expect(changes(e.read(601_000, { gas_lel: 1 }, { seq: 42 }))).toEqual(['clear']);
  });
});

describe('interlock', () => {
  const casting = {
    id: 'cool',
    kind: 'interlock' as const,
    guard: 'casting_active',
    when: 'cooling_water_flow < 30 or cooling_water_pressure < 0.2',
    forS: 1,
    expect: { quick_shutoff_valve_closed: true, emergency_discharge_open: true },
    withinS: 5,
  };
  const ready = { casting_active: true, cooling_water_flow: 120, cooling_water_pressure: 0.45, quick_shutoff_valve_closed: false, emergency_discharge_open: false };

  it('is quiet when the valves act within the deadline', () => {
    const e = engineWith([casting]);
    e.read(0, ready);
    expect(e.read(1000, { cooling_water_flow: 10 })).toEqual([]);
    expect(e.tick(3000)).toEqual([]);
    expect(e.read(6999, { quick_shutoff_valve_closed: true, emergency_discharge_open: true })).toEqual([]);
    expect(e.tick(20_000)).toEqual([]);
  });

  it('raises a critical interlock failure when the feedback has not come within the deadline', () => {
    const e = engineWith([casting]);
    e.read(0, ready);
    e.read(1000, { cooling_water_pressure: 0.1 });
    // condition from 1 s, held 1 s → tripped at 2 s; deadline 7 s
    expect(e.tick(6999)).toEqual([]);
    const [o] = e.tick(7000);
    expect(o).toMatchObject({ change: 'raise', severity: 'critical', key: 'D/cool', ruleKind: 'interlock' });
    // in words, with the points' names, not as an expression
    expect(o.message).toContain('快速切断阀关闭 为 否');
    expect(o.message).toContain('「结晶器冷却水流量 < 30 或');
    expect(o.message).not.toMatch(/quick_shutoff_valve_closed|cooling_water_flow/);
    expect(o.threshold).toBeNull();
    // one valve alone is not enough
    expect(e.read(8000, { quick_shutoff_valve_closed: true })).toEqual([]);
    expect(changes(e.read(9000, { emergency_discharge_open: true }))).toEqual(['clear']);
  });

  it('does not trip on a condition shorter than forS, nor outside the guard', () => {
    const e = engineWith([casting]);
    e.read(0, ready);
    e.read(1000, { cooling_water_flow: 10 });
    e.read(1999, { cooling_water_flow: 120 });
    expect(e.tick(30_000)).toEqual([]);
    e.read(31_000, { casting_active: false, cooling_water_flow: 0 });
    expect(e.tick(60_000)).toEqual([]);
  });

  it('treats a point with no value yet as the condition not holding', () => {
    const e = engineWith([{ id: 'x', kind: 'interlock', when: 'gas_lel >= 40', expect: { gas_shutoff_valve_closed: true }, withinS: 1 }]);
    expect(e.read(0, { gas_shutoff_valve_closed: false })).toEqual([]);
    expect(e.tick(10_000)).toEqual([]);
  });
});

describe('start permissive', () => {
  const rule = {
    id: 'permit',
    kind: 'permissive' as const,
    on: 'casting_active',
    sensors: ['cooling_water_flow', 'melt_level'],
    ready: { quick_shutoff_valve_closed: false },
  };

  it('raises when a run starts with a faulted sensor or a valve not ready, clears when the run ends', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { casting_active: false, cooling_water_flow: 100, melt_level: 600, quick_shutoff_valve_closed: true }, { quality: { melt_level: 'fault' } });
    const [o] = e.read(1000, { casting_active: true });
    expect(o).toMatchObject({ change: 'raise', severity: 'critical' });
    expect(o.message).toContain('melt level: fault');
    expect(o.message).toContain('quick shut-off valve closed: true (ready is false)');
    expect(changes(e.read(2000, { casting_active: false }))).toEqual(['clear']);
  });

  it('is quiet when everything is in order at the start', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { casting_active: false, cooling_water_flow: 100, melt_level: 600, quick_shutoff_valve_closed: false });
    expect(e.read(1000, { casting_active: true })).toEqual([]);
  });

  it('counts a sensor that has stopped reporting', () => {
    const e = engineWith([rule], { reportIntervalS: 10 });
    e.read(0, { cooling_water_flow: 100, melt_level: 600, quick_shutoff_valve_closed: false, casting_active: false });
    e.read(100_000, { casting_active: false, cooling_water_flow: 100, quick_shutoff_valve_closed: false });
    const [o] = e.read(101_000, { casting_active: true });
    expect(o.message).toContain('melt level: not reporting');
  });
});

describe('flapping', () => {
  it('holds an alert that toggles too often open, marked flapping, and clears it once it settles', () => {
    const e = engineWith([{ id: 'smoke', kind: 'threshold', metric: 'smoke_alarm', above: [{ severity: 'critical', value: 1 }] }], { flapping: { changes: 4, windowS: 60 } });
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push(...e.read(i * 1000, { smoke_alarm: i % 2 === 0 }).map((o) => `${o.change}${o.flapping ? '+flapping' : ''}`));
    // held open; each return to alarm says the alarm again (not the clear's "back to normal")
    expect(seen).toEqual(['raise', 'clear', 'raise', 'update+flapping', 'update+flapping', 'update+flapping']);
    const again = engineWith([{ id: 'smoke', kind: 'threshold', metric: 'smoke_alarm', above: [{ severity: 'critical', value: 1 }] }], { flapping: { changes: 4, windowS: 60 } });
    const messages = Array.from({ length: 8 }, (_, i) => again.read(i * 1000, { smoke_alarm: i % 2 === 0 })).flat().map((o) => o.message);
    expect(messages.at(-1)).not.toMatch(/恢复|back to normal/);
    expect(messages[3]).toBe('报警频繁跳变，保持打开直至稳定 / alert is flapping: held open until it settles');
    expect(e.tick(7000 + 59_999)).toEqual([]);
    expect(e.tick(7000 + 60_000)).toMatchObject([{ change: 'clear', flapping: false }]);
  });

  it('keeps a flapping alert held across a restart (restored from the open alerts)', () => {
    const rules = [{ id: 'smoke', kind: 'threshold' as const, metric: 'smoke_alarm', above: [{ severity: 'critical' as const, value: 1 }] }];
    const e = engineWith(rules, { flapping: { changes: 4, windowS: 60 } });
    seed(e.set, e.state, 'D/smoke', 'critical', true, true, 100_000, true);
    // the first clear after the restart is held, not a clear and a new alarm: the return to
    // alarm says the alarm again within the same alert, as before the restart
    expect(e.read(101_000, { smoke_alarm: false })).toEqual([]);
    expect(e.read(102_000, { smoke_alarm: true })).toMatchObject([{ change: 'update', flapping: true }]);
    expect(e.read(103_000, { smoke_alarm: false })).toEqual([]);
    expect(e.tick(103_000 + 60_000)).toMatchObject([{ change: 'clear', flapping: false }]);
    // without the flag, as before: a restored alert clears on its first normal reading
    const plain = engineWith(rules, { flapping: { changes: 4, windowS: 60 } });
    seed(plain.set, plain.state, 'D/smoke', 'critical', true, true);
    expect(plain.read(101_000, { smoke_alarm: false })).toMatchObject([{ change: 'clear' }]);
  });
});

describe('maintenance marked without an announcement', () => {
  const rule = { id: 'maintenance-unannounced', kind: 'maintenance' as const };
  // a maintenance window from 10 s to 20 s
  const e = () => engineWith([rule], { announced: (at) => at >= 10_000 && at < 20_000 });

  it('raises once per device when values are marked maintenance outside a window, and clears when the marking stops', () => {
    const x = e();
    const [o] = x.read(0, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' } });
    expect(o).toMatchObject({ change: 'raise', severity: 'major', metric: '_device', ruleKind: 'maintenance' });
    expect(o.message).toMatch(/可燃气体浓度 标记为维护，但未登记维护窗口或静默/);
    expect(x.read(1000, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' } })).toEqual([]);
    expect(changes(x.read(2000, { gas_lel: 3 }))).toEqual(['clear']);
  });

  it('says nothing of maintenance within an announced window, judged by when the values were measured', () => {
    const x = e();
    expect(x.read(12_000, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' } })).toEqual([]);
    // a buffer flushed after the window, measured inside it
    expect(x.read(15_000, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' }, now: 60_000 })).toEqual([]);
    expect(changes(x.read(25_000, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' } }))).toEqual(['raise:major']);
    // the window registered late: the next marked reading inside one clears it
    expect(changes(x.read(19_000, { gas_lel: 3 }, { quality: { gas_lel: 'maintenance' } }))).toEqual(['clear']);
  });

  it('does not take a fault for maintenance', () => {
    expect(e().read(0, { gas_lel: 3 }, { quality: { gas_lel: 'fault' } })).toEqual([]);
  });
});

describe('an interlock that any one feedback satisfies', () => {
  const rule = { id: 'spark', kind: 'interlock' as const, when: 'spark_detected', expect: { spark_extinguisher_active: true, isolation_valve_closed: true }, expectAny: true, withinS: 2 };
  it('is answered by the extinguisher alone, and fails when neither acts', () => {
    const e = engineWith([rule]);
    e.read(0, { spark_detected: true, spark_extinguisher_active: false, isolation_valve_closed: false });
    e.read(1000, { spark_extinguisher_active: true });
    expect(e.tick(5000)).toEqual([]);
    const f = engineWith([rule]);
    f.read(0, { spark_detected: true, spark_extinguisher_active: false, isolation_valve_closed: false });
    const [o] = f.tick(3000);
    expect(o).toMatchObject({ change: 'raise', severity: 'critical' });
    expect(o.message).toMatch(/应 火花熄灭装置动作 为 是 或 .* 为 是/);
  });
});
