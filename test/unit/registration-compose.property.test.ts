import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composeRegistry, composeWithDevice } from '../../services/registry/compose.ts';
import { RegistryError } from '../../services/registry/load.ts';
import type { RegisteredDevice } from '../../services/registry/registered-devices.ts';
import { TEMPLATE_NAMES } from '../../rules/templates/index.ts';
import { CAST, CHEM, MALL, testRegistry } from '../support/registry.ts';

/**
 * A registration is checked against the enterprise it joins, not the whole registry again (a
 * whole check held the main thread 2–4 s at 10 000 devices): whatever is registered, it is
 * refused, or taken, exactly as the whole check would.
 */
const HASH = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
const registered = (enterpriseId: string, id: string, device: object = {}): RegisteredDevice => ({
  enterpriseId,
  registeredAt: '2026-12-07T00:00:00Z',
  registeredBy: 'test',
  device: { id, secretHash: HASH, points: [{ metric: 'gas_lel' }], ...device } as RegisteredDevice['device'],
});

/** the whole check, as registrations were made before */
function whole(raw: unknown, inForce: RegisteredDevice[], entry: RegisteredDevice) {
  const { registry, skipped } = composeRegistry(raw, [...inForce, entry], 'registration');
  const refused = skipped.find((s) => s.id === entry.device.id);
  if (refused) throw new RegistryError('registration', [refused.why]);
  return registry;
}

const outcome = (fn: () => { loaded: unknown }) => {
  try {
    return { taken: fn().loaded };
  } catch (e) {
    if (!(e instanceof RegistryError)) throw e;
    return { refused: e.problems.join('; ') };
  }
};

describe('a registration checked against its enterprise', () => {
  const raw = testRegistry() as { enterprises: { id: string; alarmDevice?: string; devices: { id: string }[] }[] };
  // an enterprise whose alarm device the check must not lose sight of
  raw.enterprises.find((e) => e.id === CAST)!.alarmDevice = raw.enterprises.find((e) => e.id === CAST)!.devices[0].id;
  const inForce = [registered(CHEM, 'reg-chem-1'), registered(MALL, 'reg-mall-1', { points: [{ metric: 'smoke_alarm' }], templates: ['fire'] })];
  const current = composeRegistry(raw, inForce, 'registry').registry;

  // mostly devices the registry takes, with now and then what it must refuse
  const metric = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('gas_lel', 'smoke_alarm', 'dust_concentration', 'hopper_temperature', 'collector_running') }, { weight: 1, arbitrary: fc.constant('no_such_metric') });
  const plainPoint = fc.record({ metric, id: fc.constantFrom('p1', 'p2', 'p3'), range: fc.constant([0, 50]) }, { requiredKeys: ['metric'] });
  const oddPoint = fc.oneof(
    fc.record({ metric: fc.constant('gas_lel'), id: fc.constantFrom('gas_lel', 'hopper_temperature') }),
    fc.record({ metric: fc.constant('gas_lel'), range: fc.constant([50, 0]) }),
    fc.record({ metric: fc.constantFrom('toxic_gas_ppm', 'gas_lel'), gas: fc.constantFrom('h2s', 'co', 'nonsense') }),
    fc.record({ metric: fc.constant('smoke_alarm'), panel: fc.constant({ loop: 1, address: 2 }) }),
    fc.record({ metric: fc.constant('gas_lel'), codes: fc.constant({ nowhere: 'x' }) }),
  );
  const point = fc.oneof({ weight: 12, arbitrary: plainPoint }, { weight: 1, arbitrary: oddPoint });
  const templates = fc.oneof({ weight: 8, arbitrary: fc.subarray([...TEMPLATE_NAMES], { maxLength: 2 }) }, { weight: 1, arbitrary: fc.constant(['no_such_template']) });
  const device = fc.record({ points: fc.array(point, { minLength: 1, maxLength: 4 }), templates, reportIntervalS: fc.constantFrom(5, 60, 0) }, { requiredKeys: ['points'] });
  const enterprise = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(CHEM, CAST, MALL) }, { weight: 1, arbitrary: fc.constant('NO-SUCH-ENTERPRISE') });
  /** how many the whole check took and refused (the property must see both) */
  const seen = { taken: 0, refused: 0 };

  it('refuses with the same problems, or takes the same registry, as the whole check would', () => {
    fc.assert(
      fc.property(enterprise, device, (enterpriseId, d) => {
        const entry = registered(enterpriseId, 'new-device', d);
        const expected = outcome(() => whole(raw, inForce, entry));
        seen['taken' in expected ? 'taken' : 'refused']++;
        const got = outcome(() => composeWithDevice(current, raw, inForce, entry, 'registration'));
        expect(got).toEqual(expected);
      }),
      { numRuns: 300, seed: 20261207 },
    );
    expect(seen.taken).toBeGreaterThan(30);
    expect(seen.refused).toBeGreaterThan(30);
  });

  it('takes a plain registration, in every enterprise, as the whole check does', () => {
    for (const enterpriseId of [CHEM, CAST, MALL]) {
      const entry = registered(enterpriseId, `plain-${enterpriseId}`, { templates: ['hazchem'] });
      const got = composeWithDevice(current, raw, inForce, entry, 'registration');
      expect(got.devices.get(entry.device.id)?.enterprise.id).toBe(enterpriseId);
      expect(got.loaded).toEqual(whole(raw, inForce, entry).loaded);
    }
  });

  it("checks a device without checking its enterprise's other devices again, refused or taken", () => {
    // at 500 devices of 256 points, a check of the enterprise whole held the main thread 0.3–0.5 s
    const own = testRegistry() as { enterprises: { id: string; devices: object[] }[] };
    let read = 0;
    const chem = own.enterprises.find((e) => e.id === CHEM)!;
    chem.devices = chem.devices.map((d) => new Proxy(d, { get: (t, k, r) => (k === 'points' && read++, Reflect.get(t, k, r)) }));
    const before = composeRegistry(own, [], 'registry').registry;
    read = 0;
    const twice = registered(CHEM, 'twice', { points: [{ id: 'a', metric: 'gas_lel' }, { id: 'a', metric: 'gas_lel' }] });
    expect(outcome(() => composeWithDevice(before, own, [], twice, 'registration'))).toEqual({ refused: `enterprises[0].devices[2].points[1].id: point id "a" listed twice (enterprise ${CHEM}, device twice, point a)` });
    const fine = registered(CHEM, 'fine', { templates: ['hazchem'] });
    const after = composeWithDevice(before, own, [], fine, 'registration');
    expect(read).toBe(0);
    expect(after.loaded).toEqual(whole(testRegistry(), [], fine).loaded);
    // an id its enterprise already has is refused as the whole check names it
    expect(outcome(() => composeWithDevice(before, own, [], registered(CHEM, 'gas-1'), 'registration'))).toEqual({ refused: expect.stringContaining('device id "gas-1" is already used in enterprises[0].devices[0]') });
  });
});
