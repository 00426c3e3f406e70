import CryptoJS from 'crypto-js';
import { sm4 } from 'sm-crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { desCbc, keyBytes, sm4Cbc } from '../../services/forward/ciphers.ts';
import { alarmEventOf, chunk, latestPerPoint, samplesOf, type Sample } from '../../services/forward/items.ts';
import type { Alert, Transition } from '../../services/alerts/model.ts';
import { validateRegistry } from '../../services/registry/load.ts';
import { CHEM, testRegistry } from '../support/registry.ts';

describe('upstream ciphers agree with independent implementations', () => {
  it('DES-CBC (through two-key triple DES with equal keys) decrypts with crypto-js', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ minLength: 8, maxLength: 8, unit: fc.constantFrom(...'abcdefgh12345678') }), (text, key) => {
        const sealed = desCbc(text, keyBytes(key, 8), keyBytes(key, 8)).toString('base64');
        const plain = CryptoJS.DES.decrypt(CryptoJS.lib.CipherParams.create({ ciphertext: CryptoJS.enc.Base64.parse(sealed) }), CryptoJS.enc.Utf8.parse(key), {
          iv: CryptoJS.enc.Utf8.parse(key),
          mode: CryptoJS.mode.CBC,
          padding: CryptoJS.pad.Pkcs7,
        }).toString(CryptoJS.enc.Utf8);
        expect(plain).toBe(text);
      }),
      { numRuns: 50 },
    );
  });

  it('SM4-CBC decrypts with sm-crypto, keys given as hex or as text', () => {
    const key = keyBytes('0123456789abcdeffedcba9876543210', 16);
    const iv = keyBytes('abcdefghijklmnop', 16);
    expect(iv.toString()).toBe('abcdefghijklmnop');
    const sealed = sm4Cbc('{"温度":42.5}', key, iv);
    expect(sm4.decrypt(sealed.toString('hex'), key.toString('hex'), { mode: 'cbc', iv: iv.toString('hex') })).toBe('{"温度":42.5}');
  });
});

describe('what goes up', () => {
  const codes = new Map([['d1', new Map([['gas_lel', 'P1']])]]);
  it('maps points to their codes and leaves out points without one', () => {
    expect(samplesOf([{ enterpriseId: 'e', deviceId: 'd1', ts: 1, values: { gas_lel: 3, toxic_gas_ppm: 1 } }, { enterpriseId: 'e', deviceId: 'd2', ts: 1, values: { gas_lel: 9 } }], codes)).toEqual([
      { deviceId: 'd1', metric: 'gas_lel', code: 'P1', ts: 1, value: 3 },
    ]);
  });

  it('keeps the newest value per point even when a buffered flush arrives late', () => {
    const s = (ts: number, value: number, metric = 'm'): Sample => ({ deviceId: 'd', metric, code: metric, ts, value });
    expect(latestPerPoint([s(5, 1), s(2, 2), s(3, 3, 'n')])).toEqual([s(3, 3, 'n'), s(5, 1)]);
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('turns raising, level changes and clearing into events, and a hand-closed active alarm into a clearing', () => {
    const alert = { id: 'a1', deviceId: 'd1', metric: 'gas_lel', severity: 'major', threshold: 20, value: 25, message: 'gas high', clearedAt: null } as Alert;
    const t = (type: Transition['type']): Transition => ({ alertId: 'a1', at: 100, type, actor: 'x' });
    expect(alarmEventOf(alert, t('raised'), 'P1')).toMatchObject({ state: 'alarm', code: 'P1', value: 25, threshold: 20, ts: 100 });
    expect(alarmEventOf(alert, t('cleared'), 'P1')?.state).toBe('clear');
    expect(alarmEventOf(alert, t('closed'), 'P1')?.state).toBe('clear');
    expect(alarmEventOf({ ...alert, clearedAt: 50 }, t('closed'), 'P1')).toBeNull();
    expect(alarmEventOf(alert, t('acknowledged'), 'P1')).toBeNull();
  });
});

describe('uplinks in the registry', () => {
  const withUplinks = (uplinks: object[], code?: object) => {
    const reg = testRegistry() as any;
    if (code) reg.enterprises[0].devices[0].points[0].codes = code;
    return { ...reg, uplinks };
  };
  const problems = (raw: object) => {
    try {
      validateRegistry(raw, 't');
      return [];
    } catch (e) {
      return (e as { problems: string[] }).problems.map((p) => p.replace(/ \((?:line \d+)?(?:; )?(?:(?:enterprise|device|point|unit|user|uplink|rule|provider) [^()]*)?\)$/, ''));
    }
  };
  const des = { id: 'p', kind: 'http-des', url: 'http://x/', key: '12345678', gatewayCode: 'G', enterprises: [CHEM] };

  it('accepts each kind, with the defaults filled in', () => {
    const r = validateRegistry(withUplinks([des, { id: 'm', kind: 'mqtt', url: 'mqtts://city:8883', regions: ['32'] }]), 't');
    expect(r.file.uplinks[0]).toMatchObject({ maxRefusals: 10, giveUpAfterH: 72, enabled: true });
    expect(r.file.uplinks[1]).toMatchObject({ topic: '{enterprise}/{device}/{type}', rejectUnauthorized: true });
  });

  it('names what is wrong: key sizes, unknown enterprises and uplinks, an uplink covering no one', () => {
    expect(problems(withUplinks([{ ...des, key: 'short' }]))).toEqual(['uplinks[0].key: give 8 characters or 16 hex digits']);
    expect(problems(withUplinks([{ ...des, enterprises: ['nope'] }]))).toContain('uplinks[0].enterprises[0]: no enterprise "nope"');
    expect(problems(withUplinks([{ ...des, enterprises: [] }]))).toContain('uplinks[0]: say which enterprises it covers (enterprises or regions)');
    expect(problems(withUplinks([des, des]))).toContain('uplinks[1].id: duplicate uplink id "p"');
    expect(problems(withUplinks([des], { other: 'X1' }))).toContain('enterprises[0].devices[0].points[0].codes.other: no uplink "other"');
    expect(problems(withUplinks([{ ...des, kind: 'ftp' }]))[0]).toMatch(/^uplinks\[0\]\.kind/);
  });
});
