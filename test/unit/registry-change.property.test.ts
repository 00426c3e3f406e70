import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecretVerifier } from '../../gateway/credentials.ts';
import type { Gateway } from '../../gateway/broker.ts';
import { credentialsFollower } from '../../services/compose/edge.ts';
import { ReadingJudge } from '../../services/pipeline/judge.ts';
import { applyRegistryChange, registryChange, type RegistryChange } from '../../services/registry/change.ts';
import { changeSince, partsOf } from '../../services/registry/file-check.ts';
import { composeRegistry, composeWithDevice } from '../../services/registry/compose.ts';
import type { LoadedRegistry } from '../../services/registry/load.ts';
import type { RegisteredDevice } from '../../services/registry/registered-devices.ts';
import { Registry } from '../../services/registry/registry.ts';
import { CAST, CHEM, MALL, testRegistry } from '../support/registry.ts';

/**
 * A new registry goes to the pipeline thread as what changed from the one it holds (at 10 000
 * devices the whole took about 1.5 s of both threads at each registration), and an edited file,
 * read on a thread of its own, comes to the service as what changed since that thread last read it
 * (registrations came between). Whatever happens (registrations, reloads, edits, readings, time),
 * the service takes the registry a whole check gives, and a thread sent changes judges exactly as
 * one sent the whole each time.
 */
const HASH = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
const T0 = Date.parse('2026-12-07T08:00:00Z');
const WORLD = { maintenance: [], suspended: [] };

type Step =
  | { kind: 'register'; enterpriseId: string; templates: readonly string[] }
  | { kind: 'reload' }
  | { kind: 'edit'; how: 'drop' | 'retemplate' | 'claim' }
  | { kind: 'reading'; device: number; value: number }
  | { kind: 'tick'; s: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('register' as const), enterpriseId: fc.constantFrom(CHEM, CAST, MALL), templates: fc.constantFrom(['hazchem'], [], ['gas_user']) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reload' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('edit' as const), how: fc.constantFrom('drop' as const, 'retemplate' as const, 'claim' as const) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('reading' as const), device: fc.nat(), value: fc.constantFrom(0, 5, 22, 30, 45, 80) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), s: fc.constantFrom(5, 30, 200) }) },
);

/** what a thread is sent: a copy, as postMessage makes one */
const across = <T>(x: T): T => structuredClone(x);

describe('a new registry sent to the pipeline as what changed', () => {
  it('leaves the thread with the registry the whole would, and judging as it would', () => {
    const counted = { changes: 0, everyEnterprise: 0, checked: 0, claimed: 0, outcomes: 0 };
    fc.assert(
      fc.property(fc.array(step, { minLength: 5, maxLength: 30 }), (steps) => {
        let raw = testRegistry() as { enterprises: { id: string; devices: { id: string; secret?: string; points?: unknown[]; rules?: unknown[] }[] }[] };
        const inForce: RegisteredDevice[] = [];
        let main: Registry = composeRegistry(raw, inForce, 'registry').registry;
        let now = T0;
        const start = { registry: main.loaded, world: WORLD, now };
        const fault = (part: string, err: Error) => {
          throw new Error(`${part}: ${err.message}`);
        };
        const sentWhole = new ReadingJudge(across(start), fault);
        const sentChanges = new ReadingJudge(across(start), fault);
        /** what the thread that reads the file composed last (it does not see registrations between) */
        let checked = partsOf(main.loaded);
        /** a reload, as the service takes it: what the check thread found changed since it last read */
        /** enterprises registered into since the check thread last read the file (the holder's `touched`) */
        const touched = new Set<string>();
        const reread = (next: Registry) => {
          const change = changeSince(checked, next.loaded, undefined, touched);
          checked = partsOf(next.loaded);
          touched.clear();
          const applied = applyRegistryChange(main.loaded, change);
          expect(applied).toEqual(next.loaded);
          counted.checked++;
          return new Registry(applied, main);
        };
        const use = (next: Registry) => {
          const change: RegistryChange = registryChange(main.loaded, next.loaded, 1);
          expect('whole' in change).toBe(false);
          counted.changes++;
          if ('changed' in change && change.changed.length === change.order.length) counted.everyEnterprise++;
          const a = sentWhole.useRegistry(across(next.loaded), now);
          const b = sentChanges.useRegistry(applyRegistryChange(sentChanges.registry.loaded, across(change)), now);
          expect(b).toEqual(a);
          main = next;
        };
        for (const [i, s] of steps.entries()) {
          now += 1000;
          if (s.kind === 'register') {
            const entry: RegisteredDevice = {
              enterpriseId: s.enterpriseId,
              registeredAt: '2026-12-07T00:00:00Z',
              registeredBy: 'test',
              device: { id: `reg-${i}`, secretHash: HASH, reportIntervalS: 60, templates: [...s.templates], points: [{ metric: 'gas_lel' }] } as unknown as RegisteredDevice['device'],
            };
            // as the holder does: against the registered devices in force (those the file set aside stay aside)
            use(composeWithDevice(main, raw, inForce.filter((d) => main.devices.get(d.device.id)?.enterprise.id === d.enterpriseId), entry, 'registration'));
            inForce.push(entry);
            touched.add(s.enterpriseId);
          } else if (s.kind === 'reload') use(reread(composeRegistry(raw, inForce, 'registry').registry));
          else if (s.kind === 'edit') {
            // the operator edits the file (a device removed, another's rules redefined): read and checked whole again
            raw = structuredClone(raw);
            if (s.how === 'drop') raw.enterprises.find((e) => e.devices.length > 2)?.devices.pop();
            else if (s.how === 'claim') {
              // the file takes a registered device's id, in another enterprise: the registered one is set aside
              const taken = inForce.find((d) => main.devices.get(d.device.id)?.enterprise.id === d.enterpriseId);
              if (taken) counted.claimed++;
              if (taken) raw.enterprises.find((e) => e.id !== taken.enterpriseId)!.devices.push({ id: taken.device.id, secret: 'claimed-by-the-file-1', points: [{ metric: 'battery_percent' }] });
            } else {
              // stricter thresholds on gas-2, or its template's again
              const gas2 = raw.enterprises.flatMap((e) => e.devices).find((d) => d.id === 'gas-2')!;
              gas2.rules = gas2.rules?.length ? [] : [{ id: 'gas-lel', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 4 }, { severity: 'critical', value: 25 }], deadband: 2 }];
            }
            use(reread(composeRegistry(raw, inForce, 'registry').registry));
          } else if (s.kind === 'tick') {
            now += s.s * 1000;
            expect(sentChanges.tick(now)).toEqual(sentWhole.tick(now));
          } else {
            const ids = [...main.devices.keys()];
            // gas-2 (whose rules an edit redefines) one time in three
            const entry = main.devices.get(s.device % 3 === 0 ? 'gas-2' : ids[s.device % ids.length])!;
            const reading = { enterpriseId: entry.enterprise.id, deviceId: entry.device.id, ts: now, values: Object.fromEntries(entry.device.points.map((p) => [p.id, s.value])) };
            const outcomes = sentWhole.readings([across(reading)], now).outcomes;
            counted.outcomes += outcomes.length;
            expect(sentChanges.readings([across(reading)], now).outcomes).toEqual(outcomes);
          }
          expect(sentChanges.registry.loaded).toEqual(sentWhole.registry.loaded);
        }
        expect(sentChanges.snapshot()).toEqual(sentWhole.snapshot());
      }),
      { numRuns: 60, seed: 20261207 },
    );
    expect(counted.changes).toBeGreaterThan(80);
    expect(counted.checked).toBeGreaterThan(30);
    expect(counted.claimed).toBeGreaterThan(5);
    // and the readings raised and cleared alerts
    expect(counted.outcomes).toBeGreaterThan(80);
  });

  it('sends only the enterprise a registration changed, and the thread keeps the rest as it had it', () => {
    const raw = testRegistry();
    const before = composeRegistry(raw, [], 'registry').registry;
    const entry: RegisteredDevice = {
      enterpriseId: CHEM,
      registeredAt: '2026-12-07T00:00:00Z',
      registeredBy: 'test',
      device: { id: 'reg-new', secretHash: HASH, points: [{ metric: 'gas_lel' }], templates: ['hazchem'] } as unknown as RegisteredDevice['device'],
    };
    const after = composeWithDevice(before, raw, [], entry, 'registration');
    const change = registryChange(before.loaded, after.loaded, 1);
    expect('whole' in change).toBe(false);
    if ('whole' in change) return;
    expect(change.changed.map((e) => e.id)).toEqual([CHEM]);
    expect(change.rules.map(([id]) => id)).toEqual(after.enterprises.get(CHEM)!.devices.map((d) => d.id));

    const judge = new ReadingJudge({ registry: across(before.loaded), world: WORLD, now: T0 }, () => {});
    const had = judge.registry;
    judge.useRegistry(applyRegistryChange(had.loaded, across(change)), T0);
    // every device of the other enterprises is the entry it was (its compiled rules kept by it)
    for (const [id, e] of judge.registry.devices) expect(e === had.devices.get(id)).toBe(e.enterprise.id !== CHEM);
    expect(judge.registry.devices.has('reg-new')).toBe(true);
  });

  it("judges by a device's redefined rules from the next reading, the state of the others kept", () => {
    const raw = testRegistry() as { enterprises: { devices: { id: string; rules?: unknown[] }[] }[] };
    const before = composeRegistry(raw, [], 'registry').registry;
    const judge = new ReadingJudge({ registry: across(before.loaded), world: WORLD, now: T0 }, () => {});
    const lel = (deviceId: string, value: number, at: number) => judge.readings([{ enterpriseId: CHEM, deviceId, ts: at, values: { gas_lel: value } }], at).outcomes.map((o) => [o.deviceId, o.change, o.severity]);
    expect(lel('gas-2', 10, T0 + 1000)).toEqual([]);
    expect(lel('gas-1', 30, T0 + 1000)).toEqual([['gas-1', 'raise', 'major']]);
    const edited = structuredClone(raw);
    edited.enterprises[0].devices.find((d) => d.id === 'gas-2')!.rules = [{ id: 'gas-lel', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 4 }, { severity: 'critical', value: 25 }], deadband: 1 }];
    const after = composeRegistry(edited, [], 'registry').registry;
    expect(judge.useRegistry(applyRegistryChange(judge.registry.loaded, across(registryChange(before.loaded, after.loaded, 1))), T0 + 2000)).toEqual([]);
    expect(lel('gas-2', 10, T0 + 3000)).toEqual([['gas-2', 'raise', 'major']]);
    // gas-1's alarm held on through the change: it escalates, not raised again
    expect(lel('gas-1', 45, T0 + 3000)).toEqual([['gas-1', 'update', 'critical']]);
  });

  it('clears the alarms of a device gone from the registry, saying so; back, it starts afresh', () => {
    const raw = testRegistry() as { enterprises: { id: string; devices: { id: string }[] }[] };
    const withGas2 = composeRegistry(raw, [], 'registry').registry;
    const judge = new ReadingJudge({ registry: across(withGas2.loaded), world: WORLD, now: T0 }, () => {});
    const lel = (value: number, at: number) => judge.readings([{ enterpriseId: CHEM, deviceId: 'gas-2', ts: at, values: { gas_lel: value } }], at).outcomes.map((o) => [o.change, o.severity]);
    expect(lel(45, T0 + 1000)).toEqual([['raise', 'critical']]);
    const without = structuredClone(raw);
    without.enterprises[0].devices = without.enterprises[0].devices.filter((d) => d.id !== 'gas-2');
    const gone = judge.useRegistry(across(composeRegistry(without, [], 'registry').registry.loaded), T0 + 2000);
    expect(gone).toEqual([expect.objectContaining({ key: expect.stringMatching(/^gas-2\//), enterpriseId: CHEM, deviceId: 'gas-2', change: 'clear', metric: 'gas_lel', message: expect.stringContaining('no longer in the registry') })]);
    // its own alarm's words (the rule, the point) as the book knows them
    expect(gone[0].ruleId).toBe('gas-lel');
    judge.useRegistry(across(withGas2.loaded), T0 + 3000);
    expect(lel(0, T0 + 4000)).toEqual([]);
    expect(lel(45, T0 + 5000)).toEqual([['raise', 'critical']]);
  });

  it("clears the alarms of a device moved to another enterprise as the first one's, saying so; the second's start afresh", () => {
    const raw = testRegistry() as { enterprises: { id: string; devices: { id: string }[] }[] };
    const judge = new ReadingJudge({ registry: across(composeRegistry(raw, [], 'registry').registry.loaded), world: WORLD, now: T0 }, () => {});
    const lel = (enterpriseId: string, value: number, at: number) => judge.readings([{ enterpriseId, deviceId: 'gas-2', ts: at, values: { gas_lel: value } }], at).outcomes.map((o) => [o.enterpriseId, o.change, o.severity]);
    expect(lel(CHEM, 45, T0 + 1000)).toEqual([[CHEM, 'raise', 'critical']]);
    const moved = structuredClone(raw);
    const gas2 = moved.enterprises[0].devices.find((d) => d.id === 'gas-2')!;
    moved.enterprises[0].devices = moved.enterprises[0].devices.filter((d) => d !== gas2);
    moved.enterprises.find((e) => e.id === CAST)!.devices.push(gas2);
    const out = judge.useRegistry(across(composeRegistry(moved, [], 'registry').registry.loaded), T0 + 2000);
    expect(out).toEqual([expect.objectContaining({ enterpriseId: CHEM, deviceId: 'gas-2', change: 'clear', message: expect.stringContaining('moved to another enterprise') })]);
    expect(lel(CAST, 45, T0 + 3000)).toEqual([[CAST, 'raise', 'critical']]);
    expect(lel(CAST, 0, T0 + 4000)).toEqual([[CAST, 'clear', null]]);
  });

  it('sends the parts beside the enterprises that changed; the whole when a rule has no device', () => {
    const base = composeRegistry(testRegistry(), [], 'registry').registry.loaded;
    const order = base.file.enterprises.map((e) => e.id);
    const units: LoadedRegistry = { file: { ...base.file, units: [...base.file.units] }, rules: base.rules };
    expect(registryChange(base, units, 1)).toEqual({ from: 1, rest: { units: units.file.units }, order, changed: [], rules: [] });
    const stray: LoadedRegistry = { file: base.file, rules: new Map([...base.rules, ['nowhere', []]]) };
    expect(registryChange(base, stray, 1)).toEqual({ whole: stray });
    expect(registryChange(base, { file: { ...base.file }, rules: base.rules }, 1)).toEqual({ from: 1, rest: {}, order, changed: [], rules: [] });
    // an enterprise edited, its devices' rules the same: that enterprise goes
    const renamed = { ...base.file.enterprises[0], name: 'renamed' };
    const edited = registryChange(base, { file: { ...base.file, enterprises: [renamed, ...base.file.enterprises.slice(1)] }, rules: base.rules }, 1);
    expect('changed' in edited && edited.changed).toEqual([renamed]);
    // a device's rules redefined, its enterprise the same object: that enterprise goes
    const device = base.file.enterprises[1].devices[0];
    const redefined = registryChange(base, { file: base.file, rules: new Map([...base.rules, [device.id, []]]) }, 1);
    expect('changed' in redefined && redefined.changed.map((e) => e.id)).toEqual([base.file.enterprises[1].id]);
  });
});

describe("the gateway's device secrets following the registry", () => {
  it('hashes again only the secrets of devices whose entry changed; a rotated secret is taken', () => {
    const remembered: [string, string][] = [];
    const verifier = { retain: () => {}, remember: (id: string, secret: string) => remembered.push([id, secret]) } as unknown as SecretVerifier;
    let rechecks = 0;
    const follow = credentialsFollower(verifier, { recheck: () => rechecks++ } as unknown as Gateway);
    const raw = testRegistry() as { enterprises: { id: string; devices: { id: string; secret: string }[] }[] };
    const plain = (r: Registry, enterpriseId?: string) => [...r.devices.values()].filter((e) => e.device.secret && (!enterpriseId || e.enterprise.id === enterpriseId)).map((e) => [e.device.id, e.device.secret]);
    const before = composeRegistry(raw, [], 'registry').registry;
    follow(before);
    expect(remembered).toEqual(plain(before));

    remembered.length = 0;
    const entry: RegisteredDevice = {
      enterpriseId: CHEM,
      registeredAt: '2026-12-07T00:00:00Z',
      registeredBy: 'test',
      device: { id: 'reg-new', secretHash: HASH, points: [{ metric: 'gas_lel' }] } as unknown as RegisteredDevice['device'],
    };
    const registered = composeWithDevice(before, raw, [], entry, 'registration');
    follow(registered);
    // the registering enterprise's devices only (it was checked again); the others kept their entries
    expect(remembered).toEqual(plain(registered, CHEM));
    expect(remembered.length).toBeLessThan(plain(registered).length);

    remembered.length = 0;
    const rotated = structuredClone(raw);
    rotated.enterprises[1].devices[0].secret = 'a-new-secret-for-caster-1';
    follow(composeRegistry(rotated, [entry], 'registry').registry);
    expect(remembered).toContainEqual([rotated.enterprises[1].devices[0].id, 'a-new-secret-for-caster-1']);
    expect(rechecks).toBe(3);
  });
});
