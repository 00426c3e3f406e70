import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../domain/types.ts';
import { clockSeen, NOTHING_SEEN } from '../../rules/device-clock.ts';
import { DeviceWatches } from '../../services/pipeline/device-watches.ts';

/** The judge's watches of a device beside its rules, through a restart, a close, a registry change and a snapshot. */
const gas = { enterpriseId: 'E', deviceId: 'gas-1' };
const AT = Date.UTC(2026, 11, 6, 8);
const TAKEN = { accepted: 1, rejects: [] };
const REFUSED = { accepted: 0, rejects: [{ code: 'READING_INVALID' as const }] };
const AHEAD = { ...clockSeen(), ahead: 1, worstMs: 3_600_000 };
const RIGHT = { ...clockSeen(), right: 1 };

function messages(w: DeviceWatches, list: [typeof NOTHING_SEEN, typeof TAKEN | typeof REFUSED][]) {
  const out: Outcome[] = [];
  for (const [seen, answer] of list) w.message(gas, seen, answer, AT, out);
  return out.map((o) => `${o.ruleId} ${o.change} ${o.severity}`);
}

describe('the device watches', () => {
  it('raises and clears each alert from the messages, the clock and the refusals on their own', () => {
    const w = new DeviceWatches();
    expect(messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED], [AHEAD, REFUSED]])).toEqual(['device-clock raise major', 'readings-refused raise major']);
    expect(messages(w, [[RIGHT, TAKEN], [RIGHT, TAKEN], [RIGHT, TAKEN]])).toEqual(['device-clock clear null', 'readings-refused clear null']);
  });

  it('takes open alerts back after a restart, so right messages clear them; leaves alone keys that are not its own', () => {
    const w = new DeviceWatches();
    w.seed(
      [
        { key: 'gas-1/device-clock', state: 'active', severity: 'warning' },
        { key: 'gas-1/readings-refused', state: 'active', severity: 'major' },
        { key: 'gas-1/gas-lel', state: 'active', severity: 'critical' },
        { key: 'gone-1/readings-refused', state: 'active', severity: 'major' },
        { key: 'gas-2/device-clock', state: 'cleared', severity: 'warning' },
      ],
      (d) => (d === 'gas-1' || d === 'gas-2' ? 'E' : undefined),
    );
    expect(w.export()).toMatchObject({ clocks: [['gas-1', { raised: 'behind' }]], refused: [['gas-1', { raised: true }]] });
    expect(messages(w, [[RIGHT, TAKEN], [RIGHT, TAKEN], [RIGHT, TAKEN]])).toEqual(['device-clock clear null', 'readings-refused clear null']);
  });

  it('watches afresh after a close while the fault held, clears for a device gone, and comes back from a snapshot', () => {
    const w = new DeviceWatches();
    messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED], [AHEAD, REFUSED]]);
    expect(w.forget('gas-1/readings-refused')).toBe(true);
    expect(w.forget('gas-1/gas-lel')).toBe(false);
    expect(messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED]])).toEqual([]);
    expect(messages(w, [[AHEAD, REFUSED]])).toEqual(['readings-refused raise major']);

    const copy = new DeviceWatches();
    copy.import(JSON.parse(JSON.stringify(w.export())));
    expect(copy.export()).toEqual(w.export());
    copy.import({ clocks: [['x', { nope: 1 }], 'junk', [7, {}]] as never, refused: undefined });
    expect(copy.export()).toEqual({ clocks: [], refused: [] });

    const out: Outcome[] = [];
    w.registryChanged(() => false, AT, out);
    expect(out.map((o) => `${o.key} ${o.change}`)).toEqual(['gas-1/device-clock clear', 'gas-1/readings-refused clear']);
    expect(w.export()).toEqual({ clocks: [], refused: [] });
  });
});
