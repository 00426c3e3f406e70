import { describe, expect, it } from 'vitest';
import { UnmappedAlarms } from '../../services/alerts/panel-unmapped.ts';
import { decodeData, encodeData } from '../../gateway/fire-panel/application.ts';
import { answer, COMMAND, encode, scan, timeOf, timeLabel, type Frame } from '../../gateway/fire-panel/frame.ts';
import { PanelMemory, pointFor, readingsOf } from '../../gateway/fire-panel/panel-points.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** the byte sum mod 256 written out here, not taken from the code under test */
const sum = (b: Buffer) => b.reduce((s, x) => (s + x) % 256, 0);

// GB/T 26875.3-2011: a centre's confirm of serial 1 (checksum 0xAB), from a vendor's worked example
const CONFIRM = hex('4040 0100 0101 233A091A090C 385B01000000 790300000000 0000 03 AB 2323');

/** A "send data" frame from transmission device 88888 to centre 889, built byte by byte. */
function sendFrame(serial: number, data: Buffer): Buffer {
  const control = Buffer.concat([Buffer.from([serial & 0xff, serial >> 8, 1, 1]), hex('233A091A090C'), hex('385B01000000'), hex('790300000000'), Buffer.from([data.length & 0xff, data.length >> 8, 2])]);
  return Buffer.concat([hex('4040'), control, data, Buffer.from([sum(Buffer.concat([control, data]))]), hex('2323')]);
}
// type 2, one object: fire alarm system 1, component type 40 (smoke) at 0x0002000A, status bit 1 (fire),
// a 31-byte description, time 2012-09-26 09:58:02
const SMOKE_FIRE = hex(`0201 01 01 28 0A000200 0200 ${'00'.repeat(31)} 023A091A090C`);

describe('GB/T 26875.3 frames', () => {
  it('reads the control unit of a frame from the standard (little-endian serial, addresses and length)', () => {
    const s = scan(CONFIRM);
    expect(s.kind).toBe('frame');
    if (s.kind !== 'frame') return;
    expect(s.frame).toMatchObject({ serial: 1, version: [1, 1], source: 88888, destination: 889, command: COMMAND.confirm, time: { second: 35, minute: 58, hour: 9, day: 26, month: 9, year: 12 } });
    expect(s.frame.data).toHaveLength(0);
    expect(s.next).toBe(30);
  });

  it('confirms with the same serial and version, addresses swapped, no data: the very bytes of the example', () => {
    const at = timeOf({ second: 35, minute: 58, hour: 9, day: 26, month: 9, year: 12 })!;
    expect(answer({ serial: 1, version: [1, 1], source: 889, destination: 88888 }, COMMAND.confirm, at)).toEqual(CONFIRM);
    const deny = answer({ serial: 1, version: [1, 1], source: 889, destination: 88888 }, COMMAND.deny, at);
    expect(deny[26]).toBe(6);
    expect(deny[27]).toBe(0xab + 3);
  });

  it('decodes a component status frame built from the standard\'s tables', () => {
    const bytes = sendFrame(7, SMOKE_FIRE);
    const s = scan(bytes);
    if (s.kind !== 'frame') throw new Error(s.kind);
    expect(s.frame.serial).toBe(7);
    const d = decodeData(s.frame.data);
    expect(d).toEqual({ ok: true, type: 2, known: true, items: [{ type: 2, systemType: 1, systemAddress: 1, componentType: 40, componentAddress: 0x0002000a, status: 2, description: '', time: { second: 2, minute: 58, hour: 9, day: 26, month: 9, year: 12 } }] });
    // and our own encoder writes the same bytes
    expect(encode(s.frame)).toEqual(bytes);
    expect(encodeData(d.ok ? d.items : [])).toEqual(SMOKE_FIRE);
  });

  it('reads descriptions as GB 18030 and objects without time labels', () => {
    const desc = Buffer.alloc(31);
    Buffer.from('c8fdb2e3d2bbbac5', 'hex').copy(desc); // 三层一号
    const d = decodeData(Buffer.concat([hex('0201 01 01 29 01000000 0400'), desc]));
    expect(d).toMatchObject({ ok: true, items: [{ componentType: 41, componentAddress: 1, status: 4, description: '三层一号', time: null }] });
    expect(decodeData(hex('0101 01 01 0400'))).toMatchObject({ ok: true, items: [{ type: 1, status: 4, time: null }] });
    expect(decodeData(hex('1501 08 023A091A090C'))).toMatchObject({ ok: true, type: 21, items: [{ type: 21, status: 8 }] });
  });

  it('refuses application data whose objects do not fill it, and takes unknown types as signs of life', () => {
    expect(decodeData(hex('0202 01 01 28'))).toMatchObject({ ok: false });
    expect(decodeData(hex('02'))).toMatchObject({ ok: false });
    expect(decodeData(hex('8001 00'))).toEqual({ ok: true, type: 128, items: [], known: false });
    expect(decodeData(Buffer.alloc(0))).toEqual({ ok: true, type: null, items: [], known: true });
  });

  it('tells a bad checksum (with the header, to deny), a bad end, a bad length, garbage and a truncated frame apart', () => {
    const good = sendFrame(1, SMOKE_FIRE);
    const badSum = Buffer.from(good);
    badSum[good.length - 3] ^= 0xff;
    expect(scan(badSum)).toMatchObject({ kind: 'bad', reason: 'bad_checksum', next: good.length, header: { serial: 1, source: 88888 } });
    const badEnd = Buffer.from(good);
    badEnd[good.length - 1] = 0;
    expect(scan(badEnd)).toMatchObject({ kind: 'bad', reason: 'bad_end' });
    const badLength = Buffer.from(good);
    badLength.writeUInt16LE(5000, 24);
    expect(scan(badLength)).toMatchObject({ kind: 'bad', reason: 'bad_length', next: 2 });
    expect(scan(Buffer.concat([hex('0102037f'), good]))).toEqual({ kind: 'bad', reason: 'garbage', next: 4 });
    // a frame cut short (its rest would run past what came), then a whole one
    const head = Buffer.from(good.subarray(0, 40));
    head.writeUInt16LE(500, 24);
    const cut = Buffer.concat([head, good]);
    expect(scan(cut)).toEqual({ kind: 'bad', reason: 'truncated', next: 40 });
    expect(scan(cut, 40).kind).toBe('frame');
    // cut short where the whole one still fits its length: its end is wrong
    expect(scan(Buffer.concat([good.subarray(0, 40), good]))).toMatchObject({ kind: 'bad', reason: 'bad_end', next: 2 });
    // not all there yet
    expect(scan(good.subarray(0, 20))).toEqual({ kind: 'partial' });
    expect(scan(good.subarray(0, good.length - 1))).toEqual({ kind: 'partial' });
    expect(scan(hex('40'))).toEqual({ kind: 'partial' });
  });

  it('keeps time labels in China Standard Time and refuses dates that do not exist', () => {
    const ms = Date.UTC(2026, 10, 22, 16, 30, 5);
    expect(timeLabel(ms)).toEqual({ second: 5, minute: 30, hour: 0, day: 23, month: 11, year: 26 });
    expect(timeOf(timeLabel(ms))).toBe(ms);
    expect(timeOf({ second: 0, minute: 0, hour: 0, day: 31, month: 2, year: 26 })).toBeNull();
    expect(timeOf({ second: 60, minute: 0, hour: 0, day: 1, month: 1, year: 26 })).toBeNull();
    expect(timeOf({ second: 0, minute: 0, hour: 0, day: 1, month: 13, year: 26 })).toBeNull();
  });
});

describe('panel reports as readings', () => {
  const device = {
    enterpriseId: 'E',
    deviceId: 'panel-1',
    points: [
      { id: 'smoke-any', metric: 'smoke_alarm', panel: {} },
      { id: 'smoke-3f', metric: 'smoke_alarm', panel: { componentType: 40, componentAddress: 0x0002000a } },
      { id: 'gas-kitchen', metric: 'gas_alarm', panel: { systemAddress: 1, componentType: 11 } },
      { id: 'panel-fault', metric: 'fire_panel_fault', panel: { systemType: 1 } },
      { id: 'other', metric: 'smoke_alarm' },
    ],
  };
  const now = Date.UTC(2026, 10, 22, 16, 0, 0);
  const item = (componentType: number, componentAddress: number, status: number) => ({ type: 2 as const, systemType: 1, systemAddress: 1, componentType, componentAddress, status, description: '', time: timeLabel(now - 1000) });

  it('finds the most specific point, and the catch-all for the rest', () => {
    expect(pointFor(device.points, item(40, 0x0002000a, 0))?.id).toBe('smoke-3f');
    expect(pointFor(device.points, item(11, 9, 0))?.id).toBe('gas-kitchen');
    expect(pointFor(device.points, item(42, 77, 0))?.id).toBe('smoke-any');
    // a system's report: the fault point for its faults, the catch-all for its fire; a component's never goes to a fault point
    expect(pointFor(device.points, { type: 1, systemType: 1, systemAddress: 1, status: 0, time: null }, true)?.id).toBe('panel-fault');
    expect(pointFor(device.points, { type: 1, systemType: 1, systemAddress: 1, status: 0, time: null }, false)?.id).toBe('smoke-any');
    expect(pointFor(device.points.slice(1), item(42, 77, 0))).toBeUndefined();
  });

  it('fire is the value, a fault the quality, a report with neither the recovery', () => {
    const { readings } = readingsOf(device, [item(40, 0x0002000a, 0b011), item(11, 9, 0b101), item(40, 0x0002000a, 0b001)], now, 300_000);
    expect(readings.map((r) => ({ ...r, values: { ...r.values }, quality: r.quality && { ...r.quality } }))).toEqual([
      // one after another, in the order they came, though stamped in the same second
      { enterpriseId: 'E', deviceId: 'panel-1', ts: now - 1000, values: { 'smoke-3f': true } },
      { enterpriseId: 'E', deviceId: 'panel-1', ts: now - 999, values: { 'gas-kitchen': false }, quality: { 'gas-kitchen': 'fault' } },
      { enterpriseId: 'E', deviceId: 'panel-1', ts: now - 998, values: { 'smoke-3f': false } },
    ]);
  });

  it('a fire-panel-fault point takes the system\'s fault and power-fault bits, a fire point the system\'s fire bit', () => {
    const both = readingsOf(device, [{ type: 1, systemType: 1, systemAddress: 1, status: 0b110, time: null }], now, 0).readings;
    expect(both.map((r) => ({ ...r.values }))).toEqual([{ 'panel-fault': true }, { 'smoke-any': true }]);
    const sys = (status: number) => ({ type: 1 as const, systemType: 1, systemAddress: 1, status, time: null });
    expect(readingsOf(device, [sys(1 << 8)], now, 0).readings[0].values['panel-fault']).toBe(true);
    expect(readingsOf(device, [sys(0b100)], now, 0).readings[0].values['panel-fault']).toBe(true);
    expect(readingsOf(device, [sys(0b001)], now, 0).readings[0].values['panel-fault']).toBe(false);
  });

  it('keeps reports no point stands for aside, and a time label in the future or not a date becomes now', () => {
    const only = { ...device, points: device.points.slice(1, 2) };
    const { readings, unmapped } = readingsOf(only, [item(42, 5, 0b010)], now, 300_000);
    expect(readings).toEqual([]);
    expect(unmapped).toMatchObject([{ fire: true, fault: false, item: { componentType: 42, componentAddress: 5 } }]);
    const future = { ...item(40, 0x0002000a, 2), time: timeLabel(now + 3_600_000) };
    const bogus = { ...item(40, 0x0002000a, 2), time: { second: 0, minute: 0, hour: 0, day: 31, month: 2, year: 26 } };
    const r = readingsOf(device, [future, bogus], now, 300_000);
    expect(r.readings.map((x) => x.ts)).toEqual([now, now + 1]);
    expect(r.badTimes).toBe(2);
  });

  it('never finds a point by a name from outside the registry', () => {
    const values = readingsOf(device, [item(40, 0x0002000a, 2)], now, 0).readings[0].values;
    expect(Object.getPrototypeOf(values)).toBeNull();
  });
});

export type { Frame };

describe('what a panel may not slip past', () => {
  const device = { enterpriseId: 'E', deviceId: 'p', points: [{ id: 'gas', metric: 'gas_alarm', panel: { componentType: 11 } }] };
  const now = Date.UTC(2026, 10, 22, 16, 0, 0);
  const gas = (status: number, at: number) => ({ type: 2 as const, systemType: 1, systemAddress: 1, componentType: 11, componentAddress: 1, status, description: '', time: timeLabel(at) });

  it('a fire reported with a fault (or a power fault) is a fire, not a sensor fault', () => {
    for (const status of [0b111, 0x107]) {
      const [r] = readingsOf(device, [gas(status, now)], now, 0).readings;
      expect({ ...r.values }).toEqual({ gas: true });
      expect(r.quality).toBeUndefined();
    }
  });

  it('keeps reports in the order they came: a fire stamped before the last report still comes after it', () => {
    const { readings } = readingsOf(device, [gas(0b011, now - 5000)], now, 0, now - 1000);
    expect(readings[0].ts).toBe(now - 999);
  });

  it('a clock far behind (a reset to 2000) is not believed: the report is stamped on receipt', () => {
    const reset = { ...gas(0b011, 0), time: { second: 0, minute: 0, hour: 0, day: 1, month: 1, year: 0 } };
    const r = readingsOf(device, [reset, gas(0b011, now - 11 * 60_000)], now, 0);
    expect(r.readings.map((x) => x.ts)).toEqual([now, now + 1]);
    expect(r.badTimes).toBe(2);
  });

  it("the transmission device's own fire or fault goes aside to the operators, never to a point", () => {
    const r = readingsOf(device, [{ type: 21, status: 0b0011, time: null }], now, 0);
    expect(r.readings).toEqual([]);
    expect(r.unmapped).toMatchObject([{ device: true, fire: true, fault: false }]);
  });

  it('refuses reserved types and objects that are only a count', () => {
    expect(decodeData(Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(1022)]))).toMatchObject({ ok: false });
    expect(decodeData(Buffer.from([28, 255]))).toMatchObject({ ok: false });
    expect(decodeData(Buffer.from([2, 0, 1]))).toMatchObject({ ok: false });
    expect(decodeData(Buffer.from([2, 0]))).toMatchObject({ ok: true, items: [] });
    expect(decodeData(Buffer.concat([Buffer.from([28, 1]), Buffer.alloc(6)]))).toMatchObject({ ok: true });
  });
});

describe('a point standing for several components', () => {
  const device = { enterpriseId: 'E', deviceId: 'p', points: [{ id: 'any', metric: 'smoke_alarm', panel: {} }] };
  const now = Date.UTC(2026, 10, 22, 16, 0, 0);
  const comp = (address: number, status: number) => ({ type: 2 as const, systemType: 1, systemAddress: 1, componentType: 42, componentAddress: address, status, description: '', time: null });
  it('stays in fire while any of them is: another detector\'s normal, or the system\'s, clears nothing', () => {
    const memory = new PanelMemory();
    const read = (items: Parameters<typeof readingsOf>[1]) => readingsOf(device, items, now, 0, -Infinity, memory).readings.map((r) => r.values.any);
    expect(read([comp(1, 0b11)])).toEqual([true]);
    expect(read([comp(2, 0b01)])).toEqual([true]);
    expect(read([{ type: 1, systemType: 1, systemAddress: 1, status: 0b01, time: null }])).toEqual([true]);
    expect(read([comp(3, 0b11), comp(1, 0b01)])).toEqual([true, true]);
    expect(read([comp(3, 0b01)])).toEqual([false]);
  });

  it('keeps at most its bound of components a point, letting faults go before fires: a fault storm never clears a fire', () => {
    const memory = new PanelMemory(100);
    const read = (items: Parameters<typeof readingsOf>[1]) => readingsOf(device, items, now, 0, -Infinity, memory).readings.map((r) => [r.values.any, r.quality?.any ?? 'good']);
    // component status bits: 0b11 fire, 0b101 fault (operating and fault)
    expect(read([comp(1, 0b11)])).toEqual([[true, 'good']]);
    for (let i = 2; i < 20_000; i++) read([comp(i, 0b101)]);
    expect(memory.kept('p', 'any')).toBe(100);
    expect(read([comp(20_000, 0b01)])).toEqual([[true, 'good']]);
    // the fire's own normal clears it; faults kept say the point's quality
    expect(read([comp(1, 0b01)])).toEqual([[false, 'fault']]);
  });

  it('never clears a fire by letting it go: once more fires than its bound came at once, the point stays in fire', () => {
    const memory = new PanelMemory(100);
    const read = (items: Parameters<typeof readingsOf>[1]) => readingsOf(device, items, now, 0, -Infinity, memory).readings.map((r) => r.values.any);
    expect(read([comp(1, 0b11)])).toEqual([true]);
    // 100 more fires push the first out of what is kept; then they all recover
    for (let i = 2; i <= 101; i++) read([comp(i, 0b11)]);
    for (let i = 2; i <= 101; i++) read([comp(i, 0b01)]);
    // the first never said normal: still in fire
    expect(read([comp(500, 0b01)])).toEqual([true]);
  });
});

describe('unregistered components as system alerts (UnmappedAlarms)', () => {
  const dev = { enterpriseId: 'E', deviceId: 'p' };
  const r = (n: number, alarm: boolean) => ({ from: `c${n}`, where: `c${n}`, fire: alarm, fault: false });

  it('one alert each for the first few at once, the rest counted in one that speaks when the count doubles or halves', () => {
    const u = new UnmappedAlarms(2, 10);
    const first = u.report(dev, [r(1, true), r(2, true), r(3, true)], 0);
    expect(first.map((o) => [o.key, o.change, o.value])).toEqual([
      ['_system/panel:p:c1', 'raise', null],
      ['_system/panel:p:c2', 'raise', null],
      ['_system/panel:p:more', 'raise', 1],
    ]);
    // 4 and 5 more: said at 2 and at 4, not at 3 or 5
    expect(u.report(dev, [r(4, true)], 1).map((o) => o.value)).toEqual([2]);
    expect(u.report(dev, [r(5, true)], 2)).toEqual([]);
    expect(u.report(dev, [r(6, true)], 3).map((o) => o.value)).toEqual([4]);
    // a counted one recovers: said again as the count halves; an own one recovers: its alert clears
    expect(u.report(dev, [r(3, false)], 4).map((o) => o.value)).toEqual([3]);
    expect(u.report(dev, [r(1, false)], 5).map((o) => [o.key, o.change])).toEqual([['_system/panel:p:c1', 'clear']]);
    // the freed place goes to the next new one; when the last counted one recovers, the summary clears
    expect(u.report(dev, [r(7, true)], 6).map((o) => o.key)).toEqual(['_system/panel:p:c7']);
    const end = u.report(dev, [r(4, false), r(5, false), r(6, false)], 7);
    expect(end.map((o) => [o.key, o.change])).toEqual([['_system/panel:p:more', 'clear']]);
  });

  it('keeps at most `trackedMore` of them in memory, whatever a storm sends', () => {
    const u = new UnmappedAlarms(1, 100);
    u.report(dev, Array.from({ length: 10_000 }, (_, i) => r(i, true)), 0);
    expect(u.report(dev, [r(20_000, true)], 1)).toEqual([]);
  });
});
