import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bareRecord, type Quality, type Reading } from '../../domain/types.ts';
import { LineBatch, lineCount, readingLines, transitionLine } from '../../services/store/influx-lines.ts';

const place = { region: '321283', industry: 'steel' };
const text = (batch: LineBatch) => Buffer.concat(batch.pieces()).toString('utf8');
const linesOf = (r: Reading, sub = 0) => {
  const batch = new LineBatch(1 << 20, 1);
  readingLines(r, place, sub, batch);
  return text(batch).split('\n').slice(0, -1);
};

describe('InfluxDB line protocol', () => {
  it('writes one line per value: tags, the value or state field, seq, and the time in nanoseconds', () => {
    const r: Reading = { enterpriseId: 'E1', deviceId: 'd1', ts: 1_765_000_000_000, seq: 1042, values: { co_ppm: 12.5, gas_shutoff_valve_closed: true } };
    expect(linesOf(r, 42)).toEqual([
      'reading,enterprise=E1,device=d1,metric=co_ppm,region=321283,industry=steel value=12.5,seq=1042i 1765000000000000042',
      'reading,enterprise=E1,device=d1,metric=gas_shutoff_valve_closed,region=321283,industry=steel state=true,seq=1042i 1765000000000000042',
    ]);
    expect(linesOf({ ...r, seq: undefined, values: { co_ppm: 1 } }, 7)).toEqual(['reading,enterprise=E1,device=d1,metric=co_ppm,region=321283,industry=steel value=1 1765000000000000007']);
    expect(linesOf({ ...r, values: { co_ppm: 1 } }, 999_999)[0]).toMatch(/ 1765000000000999999$/);
  });

  it('escapes tags and strings, and keeps UTF-8 names whole', () => {
    const quality = bareRecord<Quality>();
    quality['co ppm'] = 'fault';
    const r: Reading = { enterpriseId: '企业 A,1', deviceId: 'd=1', ts: 1000, seq: 5, values: { 'co ppm': 3 }, quality };
    expect(linesOf(r, 5)).toEqual(['reading,enterprise=企业\\ A\\,1,device=d\\=1,metric=co\\ ppm,region=321283,industry=steel value=3,seq=5i,quality="fault" 1000000005']);
    expect(transitionLine({ id: 'a"1', enterpriseId: 'E', deviceId: 'd', rule: 'r 1', severity: 'major', metric: '', message: 'say "hi" \\o/' }, 'raised', 9)).toBe(
      'alert_transition,enterprise=E,device=d,rule=r\\ 1,severity=major,type=raised,metric=none,point=none alert_id="a\\"1",message="say \\"hi\\" \\\\o/" 9000000',
    );
  });

  it('never lets a newline in a name or a message cut a line in two', () => {
    const line = transitionLine({ id: 'a1', enterpriseId: 'E', deviceId: 'd', rule: 'r\n1', severity: 'major', metric: 'co', message: '1号炉\n温度\r\n过高' }, 'raised', 9);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toBe('alert_transition,enterprise=E,device=d,rule=r\\ 1,severity=major,type=raised,metric=co,point=co alert_id="a1",message="1号炉\\n温度\\r\\n过高" 9000000');
    expect(linesOf({ enterpriseId: 'E', deviceId: 'd', ts: 1, values: { 'co\nreading,enterprise=E2 value=1': 1 } })).toHaveLength(1);
  });

  it('keeps a quality without a value, and never takes an inherited member for a quality', () => {
    const quality = bareRecord<Quality>();
    quality.o2_percent = 'maintenance';
    const r: Reading = { enterpriseId: 'E', deviceId: 'd', ts: 1, values: { toString: 4, constructor: 5 }, quality };
    expect(linesOf(r)).toEqual([
      'reading,enterprise=E,device=d,metric=toString,region=321283,industry=steel value=4 1000000',
      'reading,enterprise=E,device=d,metric=constructor,region=321283,industry=steel value=5 1000000',
      'reading,enterprise=E,device=d,metric=o2_percent,region=321283,industry=steel quality="maintenance" 1000000',
    ]);
    expect(lineCount([r, r])).toBe(6);
    // a plain object for quality, as a caller might build one: what it inherits is no quality
    expect(linesOf({ ...r, quality: {} }).join('\n')).not.toContain('quality=');
  });

  it('cuts a batch into pieces of at most the limit, each ending at a line end, every byte kept in order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', minLength: 0, maxLength: 60 }), { minLength: 0, maxLength: 80 }), fc.integer({ min: 8, max: 400 }), (lines, most) => {
        const batch = new LineBatch(most, 1);
        const clean = lines.map((l) => l.replace(/\n/g, ' '));
        for (const l of clean) batch.push(l);
        const pieces = batch.pieces();
        expect(Buffer.concat(pieces).toString('utf8')).toBe(clean.map((l) => `${l}\n`).join(''));
        for (const p of pieces) {
          expect(p.at(-1)).toBe(0x0a);
          // over the limit only when it is one line alone
          if (p.length > most) expect(p.subarray(0, -1).includes(0x0a)).toBe(false);
        }
      }),
    );
  });
});
