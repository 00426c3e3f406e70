import { readFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { INDUSTRIES } from '../../domain/indicators.ts';
import { RegistryError, parseRegistry } from '../../services/registry/load.ts';
import { Registry } from '../../services/registry/registry.ts';
import { testRegistry } from '../support/registry.ts';
import { hashSecret } from '../../gateway/credentials.ts';

function problemsOf(raw: unknown): string[] {
  try {
    parseRegistry(typeof raw === 'string' ? raw : stringify(raw));
  } catch (e) {
    // where each problem is (line, ids) has a test of its own: the others read the problem alone
    if (e instanceof RegistryError) return e.problems.map((p) => p.replace(/ \((?:line \d+)?(?:; )?(?:(?:enterprise|device|point|unit|user|uplink|rule|provider) [^()]*)?\)$/, ''));
    throw e;
  }
  return [];
}

function withDevice(device: object) {
  const r = testRegistry();
  (r.enterprises[0].devices as object[]).push(device);
  return r;
}

describe('device secret hashes', () => {
  it('refuses a hash that would make each login check cost too much memory or time, and takes what `npm run secret` makes', async () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const hash = Buffer.alloc(32, 2).toString('base64');
    const device = (secretHash: string) => withDevice({ id: 'hashed-1', secretHash, points: [{ metric: 'gas_lel' }] });
    expect(problemsOf(device(await hashSecret('made-by-npm-run-secret')))).toEqual([]);
    for (const [params, why] of [
      ['2097152$8$1', 'N must be a power of two'],
      ['1073741824$8$1', 'N must be a power of two'],
      ['16000$8$1', 'N must be a power of two'],
      ['16384$8$4096', 'p must be 1 to 4'],
      ['16384$64$1', 'r must be 1 to 16'],
      ['131072$16$1', 'too much memory or work'],
      ['16384$8$x', 'p must be 1 to 4'],
    ])
      expect(problemsOf(device(`scrypt$${params}$${salt}$${hash}`)).join()).toContain(why);
    expect(problemsOf(device(`scrypt$16384$8$1$${salt}$${Buffer.alloc(2000).toString('base64')}`)).join()).toMatch(/secretHash/);
    expect(problemsOf(device(`scrypt$16384$8$1$$${hash}`)).join()).toContain('salt must be 8 to 64 bytes');
  });
});

describe('registry', () => {
  it('loads the example registry: every industry, two regions, units for each', async () => {
    const reg = new Registry(parseRegistry(await readFile('config/example.yaml', 'utf8'), 'example'));
    const industries = new Set([...reg.enterprises.values()].map((e) => e.industry));
    expect([...industries].sort()).toEqual([...INDUSTRIES].sort());
    const counties = new Set([...reg.enterprises.values()].map((e) => e.region.slice(0, 6)));
    expect(counties.size).toBeGreaterThanOrEqual(2);
    for (const ent of reg.enterprises.values()) {
      const kinds = new Set(reg.unitsFor(ent.id, ['enterprise', 'township', 'regulator', 'fire']).map((u) => u.kind));
      expect([...kinds].sort(), ent.name).toEqual(['enterprise', 'fire', 'regulator', 'township']);
    }
    // the caster's override of the template keeps the template's guard and deadband
    const caster = reg.devices.get('caster-1')!.rules.find((r) => r.id === 'cooling-flow-low')!;
    expect(caster).toMatchObject({ guard: 'casting_active', deadband: 2, below: [{ severity: 'critical', value: 40 }] });
  });

  it('names the path of each problem', () => {
    const r = testRegistry();
    (r.enterprises[1].devices[0].points as object[]).push({ metric: 'dust_conc' });
    expect(problemsOf(r)).toContain('enterprises[1].devices[0].points[6].metric: unknown metric "dust_conc"');
  });

  it("takes a generic receiver's maxBodyKB within 16 to 10 240, and refuses one on a robot, whose limit is known", () => {
    const withHook = (hook: object) => {
      const r = testRegistry();
      r.units[0].webhooks = [hook] as never;
      return r;
    };
    expect(problemsOf(withHook({ url: 'http://h/x', format: 'generic', maxBodyKB: 64 }))).toEqual([]);
    expect(problemsOf(withHook({ url: 'http://h/x' }))).toEqual([]);
    for (const bad of [15, 10_241, 64.5, '64', -1]) expect(problemsOf(withHook({ url: 'http://h/x', maxBodyKB: bad })).join()).toMatch(/maxBodyKB/);
    expect(problemsOf(withHook({ url: 'https://oapi.dingtalk.com/robot/send?access_token=T', format: 'dingtalk', maxBodyKB: 64 })).join()).toMatch(/maxBodyKB is for generic receivers/);
  });

  it('refuses the whole registry, listing every problem', () => {
    const r = testRegistry();
    r.enterprises[0].units = ['no-such-unit'];
    (r.enterprises[2].devices[0] as { id: string }).id = 'gas-1';
    const problems = problemsOf(r);
    expect(problems).toContain('enterprises[0].units[0]: no unit "no-such-unit"');
    expect(problems.some((p) => p.includes('device id "gas-1" is already used in enterprises[0].devices[0]'))).toBe(true);
  });

  it('refuses gas setpoints above what GB/T 50493-2019 allows, citing it', () => {
    const tooHigh = withDevice({
      id: 'g',
      secret: 'secret-g-123',
      templates: ['hazchem'],
      points: [{ metric: 'gas_lel' }],
      rules: [{ id: 'gas-lel', above: [{ severity: 'major', value: 30 }, { severity: 'critical', value: 55 }] }],
    });
    const problems = problemsOf(tooHigh);
    expect(problems).toEqual([
      'enterprises[0].devices[2].rules[0]: gas_lel first-level setpoint 30 %LEL is above 25 %LEL, which GB/T 50493-2019 forbids',
      'enterprises[0].devices[2].rules[0]: gas_lel second-level setpoint 55 %LEL is above 50 %LEL, which GB/T 50493-2019 forbids',
    ]);
    const atLimit = withDevice({ id: 'g', secret: 'secret-g-123', templates: ['hazchem'], points: [{ metric: 'gas_lel' }], rules: [{ id: 'gas-lel', above: [{ severity: 'major', value: 25 }, { severity: 'critical', value: 50 }] }] });
    expect(problemsOf(atLimit)).toEqual([]);
  });

  it('gives a toxic point the levels of its gas (GBZ 2.1-2019 via GB/T 50493-2019) and refuses more, citing both', () => {
    const toxic = (point: object, rules: object[] = []) => withDevice({ id: 'g', secret: 'secret-g-123', templates: ['hazchem'], points: [point], rules });
    const levels = (raw: unknown) => {
      const rule = parseRegistry(stringify(raw)).rules.get('g')!.find((r) => r.id === 'toxic-gas')!;
      return rule.kind === 'threshold' ? rule.above!.map((l) => l.value) : [];
    };
    // H2S: MAC 10 mg/m³ is 7.05 ppm at 20 °C (M 34.08, 24.04 l/mol), not the 10 ppm of the first round
    expect(levels(toxic({ metric: 'toxic_gas_ppm', gas: 'H2S' }))).toEqual([7.05, 14.1]);
    expect(levels(toxic({ metric: 'toxic_gas_ppm', gas: 'H2S', unit: 'mg/m³' }))).toEqual([10, 20]);
    expect(levels(toxic({ metric: 'toxic_gas_ppm', gas: 'CO', unit: 'mg/m³' }))).toEqual([20, 40]);
    expect(levels(toxic({ metric: 'toxic_gas_ppm', gas: 'Cl2', unit: 'mg/m³' }))).toEqual([1, 2]);
    // a point of the first round, naming no gas, keeps its levels
    expect(levels(toxic({ metric: 'toxic_gas_ppm' }))).toEqual([10, 20]);

    expect(problemsOf(toxic({ metric: 'toxic_gas_ppm', gas: 'H2S' }, [{ id: 'toxic-gas', above: [{ severity: 'major', value: 20 }] }]))).toEqual([
      'enterprises[0].devices[2].rules[0]: H2S first-level setpoint 20 ppm is above 7.05 ppm, which GB/T 50493-2019 forbids (at most 100 % / 200 % of the H2S MAC of 10 mg/m³ in GBZ 2.1-2019)',
      // and with one level left, the critical one is gone
      'enterprises[0].devices[2].rules[0]: rule "toxic-gas" is required by GB/T 50493-2019: its severity cannot be lowered below critical',
    ]);
    expect(problemsOf(toxic({ metric: 'toxic_gas_ppm', gas: 'H2S' }, [{ id: 'toxic-gas', above: [{ severity: 'major', value: 5 }, { severity: 'critical', value: 14 }] }]))).toEqual([]);
    expect(problemsOf(toxic({ metric: 'toxic_gas_ppm', gas: 'H2S', unit: '%' }))[0]).toMatch(/measures in ppm or mg\/m³/);
    expect(problemsOf(toxic({ metric: 'toxic_gas_ppm', gas: 'XYZ' }))[0]).toMatch(/unknown toxic gas "XYZ"; known: H2S, CO/);
    expect(problemsOf(toxic({ metric: 'gas_lel', gas: 'H2S' }))[0]).toMatch(/only a toxic_gas_ppm point names a gas/);
  });

  it('refuses switching off or weakening a rule the law or a standard requires, citing it; tuning within bounds is fine', () => {
    const casting = (rules: object[]) =>
      withDevice({ id: 'g', secret: 'secret-g-123', templates: ['aluminum_casting'], points: ['casting_active', 'cooling_water_flow', 'cooling_water_pressure', 'quick_shutoff_valve_closed', 'emergency_discharge_open'].map((metric) => ({ metric })), rules });
    const at = 'enterprises[0].devices[2].rules[0]: ';
    expect(problemsOf(casting([{ id: 'casting-cooling-interlock', enabled: false }]))).toEqual([`${at}rule "casting-cooling-interlock" is required by 工贸企业重大事故隐患判定标准 (应急管理部令第10号), 有色 (三): it cannot be switched off`]);
    expect(problemsOf(casting([{ id: 'casting-cooling-interlock', expect: { quick_shutoff_valve_closed: true }, withinS: 60 }]))).toEqual([
      `${at}rule "casting-cooling-interlock" is required by 工贸企业重大事故隐患判定标准 (应急管理部令第10号), 有色 (三): its feedback emergency_discharge_open cannot be dropped`,
      `${at}rule "casting-cooling-interlock" is required by 工贸企业重大事故隐患判定标准 (应急管理部令第10号), 有色 (三): it cannot wait longer than 5 s for its feedback`,
    ]);
    expect(problemsOf(casting([{ id: 'cooling-flow-low', below: [{ severity: 'warning', value: 30 }] }]))[0]).toMatch(/its severity cannot be lowered below critical/);
    expect(problemsOf(casting([{ id: 'maintenance-unannounced', enabled: false }]))).toEqual([`${at}rule "maintenance-unannounced" is required by 安全生产法 (2021) 第三十六条: it cannot be switched off`]);
    // a site's own setpoint, a quicker interlock and a rule no standard names are its to set
    expect(problemsOf(casting([{ id: 'cooling-flow-low', below: [{ severity: 'critical', value: 40 }] }, { id: 'casting-cooling-interlock', withinS: 3 }, { id: 'cooling-flow-stuck', enabled: false }, { id: 'device-offline', afterIntervals: 5 }]))).toEqual([]);
  });

  it('fits the dust, hazchem and gas-user rules to what each device has', () => {
    const rulesOf = (device: object) => parseRegistry(stringify(withDevice({ id: 'g', secret: 'secret-g-123', ...device }))).rules.get('g')!;
    const rule = (device: object, id: string) => rulesOf(device).find((r) => r.id === id) as Record<string, any> | undefined;
    // a spark: the extinguisher or the isolation valve, whichever the device has
    expect(rule({ templates: ['dust'], points: [{ metric: 'spark_detected' }, { metric: 'isolation_valve_closed' }] }, 'spark-isolation-interlock')).toMatchObject({ expect: { isolation_valve_closed: true }, expectAny: true });
    expect(rule({ templates: ['dust'], points: [{ metric: 'spark_detected' }, { metric: 'spark_extinguisher_active' }, { metric: 'isolation_valve_closed' }] }, 'spark-isolation-interlock')!.expect).toEqual({ spark_extinguisher_active: true, isolation_valve_closed: true });
    // baseline and stuck only while the collector runs, where the device reports it
    const dp = [{ metric: 'filter_pressure_diff' }];
    expect(rule({ templates: ['dust'], points: [...dp, { metric: 'collector_running' }] }, 'filter-pressure-stuck')).toMatchObject({ guard: 'collector_running' });
    expect(rule({ templates: ['dust'], points: dp }, 'filter-pressure-stuck')!.guard).toBeUndefined();
    // dust concentration at 25 % / 50 % of the dust's minimum explosible concentration (30 g/m³)
    expect(rule({ templates: ['dust'], points: [{ metric: 'dust_concentration', mec: 30 }] }, 'dust-concentration')!.above).toEqual([
      { severity: 'major', value: 7500 },
      { severity: 'critical', value: 15000 },
    ]);
    expect(rule({ templates: ['dust'], points: [{ metric: 'dust_concentration' }] }, 'dust-concentration')).toBeUndefined();
    // a tank's pressure and temperature near the top of its declared range
    expect(rule({ templates: ['hazchem'], points: [{ metric: 'tank_pressure', range: [0, 1.6] }] }, 'tank-pressure-high')!.above).toEqual([
      { severity: 'major', value: 1.44 },
      { severity: 'critical', value: 1.52 },
    ]);
    // the shut-off interlock follows the site's second level; a stand-alone gas alarm has its own
    const gas = [{ metric: 'gas_lel' }, { metric: 'gas_alarm' }, { metric: 'gas_shutoff_valve_closed' }];
    expect(rule({ templates: ['gas_user'], points: gas, rules: [{ id: 'gas-lel', above: [{ severity: 'major', value: 15 }, { severity: 'critical', value: 30 }] }] }, 'gas-shutoff-interlock')!.when).toBe('gas_lel >= 30');
    expect(rule({ templates: ['gas_user'], points: gas }, 'gas-shutoff-interlock')!.when).toBe('gas_lel >= 40');
    expect(rule({ templates: ['gas_user'], points: gas }, 'gas-alarm-shutoff-interlock')).toMatchObject({ when: 'gas_alarm', expect: { gas_shutoff_valve_closed: true } });
    // metallurgy: a leaking water-cooled element must lift the lance or cut the power, whichever the furnace has
    expect(rule({ templates: ['steel'], points: [{ metric: 'furnace_cooling_flow_diff' }, { metric: 'oxygen_lance_raised' }] }, 'furnace-cooling-leak-interlock')!.expect).toEqual({ oxygen_lance_raised: true });
    expect(rule({ templates: ['steel'], points: [{ metric: 'furnace_cooling_flow_diff' }] }, 'furnace-cooling-leak-interlock')).toBeUndefined();
    // building materials (Order No. 10 第六条): the kiln's gas main interlocked with the emergency cut-off
    expect(rulesOf({ templates: ['building_materials'], points: [{ metric: 'gas_main_pressure' }, { metric: 'gas_shutoff_valve_closed' }] }).map((r) => r.id)).toEqual(expect.arrayContaining(['gas-main-pressure-low', 'gas-main-cutoff-interlock']));
  });

  it('refuses a rule on a point the device does not have', () => {
    const r = withDevice({ id: 'g', secret: 'secret-g-123', points: [{ metric: 'gas_lel' }], rules: [{ id: 'x', kind: 'threshold', metric: 'co_ppm', above: [{ severity: 'major', value: 1 }] }] });
    expect(problemsOf(r)).toEqual(['enterprises[0].devices[2].rules[0].metric: the device has no point "co_ppm"']);
  });

  it('refuses an interlock condition longer than a person writes, before reading it', () => {
    const nested = '('.repeat(20_000) + 'gas_lel > 1' + ')'.repeat(20_000);
    const r = withDevice({ id: 'g', secret: 'secret-g-123', points: [{ metric: 'gas_lel' }, { metric: 'gas_shutoff_valve_closed' }], rules: [{ id: 'x', kind: 'interlock', when: nested, expect: { gas_shutoff_valve_closed: true } }] });
    const problems = problemsOf(r);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^enterprises\[0\]\.devices\[2\]\.rules\[0\]\.when: .*1000/);
  });

  it('applies the data-quality rules to every device, and only the template rules whose points it has; enabled: false turns one off', () => {
    const r = withDevice({ id: 'g', secret: 'secret-g-123', templates: ['hazchem'], points: [{ metric: 'gas_lel' }, { metric: 'tank_level' }], rules: [{ id: 'tank-level', enabled: false }] });
    const reg = new Registry(parseRegistry(stringify(r)));
    expect(reg.devices.get('g')!.rules.map((x) => [x.id, x.enabled])).toEqual([
      ['device-offline', true],
      ['impossible-value', true],
      ['sensor-fault', true],
      ['maintenance-unannounced', true],
      ['readings-missing', true],
      ['gas-lel', true],
      ['tank-level', false],
    ]);
  });

  it('explains a device with neither secret nor hash, bad YAML, and wrong types', () => {
    expect(problemsOf(withDevice({ id: 'g', points: [{ metric: 'gas_lel' }] }))).toEqual(['enterprises[0].devices[2]: give exactly one of secret or secretHash']);
    const yaml = problemsOf('units: [\n  - {');
    expect(yaml[0]).toMatch(/^line 2, column \d+: not valid YAML: .*[^:]$/);
    expect(yaml.length).toBeGreaterThan(1);
    expect(problemsOf({ enterprises: 'many' })).toEqual(['enterprises: Invalid input: expected array, received string']);
  });

  it('lets an enterprise\'s devices hold twice their number of connections, at least 500, unless the file says how many', () => {
    const big = testRegistry();
    const ent = big.enterprises[0] as { id: string; devices: object[] };
    const template = ent.devices[0] as { id: string; secret?: string };
    for (let i = 0; i < 400; i++) ent.devices.push({ ...structuredClone(template), id: `extra-${i}`, secret: `secret-extra-${i}` });
    const reg = new Registry(parseRegistry(stringify(big)));
    const own = reg.enterprises.get(ent.id)!.devices.length;
    expect(own).toBeGreaterThan(400);
    // a plant's every device reconnecting under a new client id while its old link lingers
    expect(reg.connectionLimitOf(ent.id)).toBe(2 * own);
    expect(reg.connectionLimitOf(big.enterprises[1].id)).toBe(500);
    expect(reg.connectionLimitOf('no-such-enterprise')).toBe(500);
    const said = new Registry(parseRegistry(stringify({ ...big, gateway: { maxConnectionsPerEnterprise: 50 } })));
    expect(said.connectionLimitOf(ent.id)).toBe(50);
  });

  it('covers a region and everything under it', () => {
    const reg = new Registry(parseRegistry(stringify(testRegistry())));
    expect(reg.unitsFor('91321283MA1CHEM0001', ['township', 'regulator']).map((u) => u.id)).toEqual(['twn-a', 'reg-a']);
    expect(reg.unitsFor('91320582MA1MALL0003', ['township', 'fire']).map((u) => u.id)).toEqual(['fire-b']);
  });
});

describe('registry: phones, providers and fire panels', () => {
  const provider = { id: 'ali', kind: 'aliyun', accessKeyId: 'k', accessKeySecret: 's', signName: '安全监测', smsTemplate: 'SMS_1' };

  it('takes phones as numbers or with a name, and refuses what is no phone number', () => {
    const r = testRegistry() as any;
    r.units[0].phones = ['13800001111', { number: '+85291234567', name: '值班员' }];
    r.messaging = { providers: [provider], sms: 'ali' };
    expect(problemsOf(r)).toEqual([]);
    r.units[0].phones = ['12345', { number: '138-0000-1111' }];
    expect(problemsOf(r).filter((p) => p.includes('phones'))).toHaveLength(2);
  });

  it('refuses a provider nobody defined, per unit and globally, and duplicate provider ids', () => {
    const r = testRegistry() as any;
    r.units[0].sms = 'tencent';
    r.messaging = { providers: [provider, provider], voice: 'nobody' };
    const problems = problemsOf(r);
    expect(problems.some((p) => p.includes('provider ids must be unique'))).toBe(true);
    expect(problems.some((p) => p.includes('messaging.sms and messaging.voice name a provider'))).toBe(true);
  });

  it('an escalation step says its channels with known names only', () => {
    const r = testRegistry() as any;
    r.routing = { escalation: [{ afterMin: 5, to: 'enterprise', via: ['voice', 'pager'] }] };
    expect(problemsOf(r).some((p) => p.startsWith('routing.escalation[0].via[1]'))).toBe(true);
  });

  it('a panel device needs no secret; its address is unique; only panel devices have panel points, and only yes/no ones', () => {
    const panel = (id: string, address: string, points: object[]) => ({ id, panelAddress: address, templates: ['fire'], points });
    const r = testRegistry() as any;
    r.enterprises[2].devices.push(panel('p1', '88888', [{ id: 's', metric: 'smoke_alarm', panel: { componentType: 40 } }]));
    expect(problemsOf(r)).toEqual([]);
    r.enterprises[2].devices.push(panel('p2', '88888', [{ id: 's', metric: 'smoke_alarm', panel: {} }, { id: 't', metric: 'gas_lel', panel: {} }]));
    r.enterprises[2].devices[0].points.push({ id: 'x', metric: 'smoke_alarm', panel: {} });
    const problems = problemsOf(r);
    expect(problems.some((p) => p.includes('panel address 88888 is already used'))).toBe(true);
    expect(problems.some((p) => p.includes("the point's metric must be a yes/no one"))).toBe(true);
    expect(problems.some((p) => p.includes('only a device with a panelAddress'))).toBe(true);
    const big = testRegistry() as any;
    big.enterprises[2].devices.push(panel('p3', '281474976710656', [{ metric: 'smoke_alarm' }]));
    expect(problemsOf(big).some((p) => p.includes('a panel address fits 6 bytes'))).toBe(true);
  });
});

describe('registry problems an operator can act on', () => {
  const text = `units:
  - { id: ent-a, name: A, kind: enterprise, emial: [a@b.c] }
enterprises:
  - id: E1
    name: 测试
    industry: hazchem
    region: "321283103"
    units: [ent-b]
    devices:
      - id: gas-1
        secret: "secret-gas-1"
        templates: [hazchem]
        points:
          - { metric: gas_lell }
      - id: gas-2
        secret: "secret-gas-2"
        templates: [hazchem]
        points:
          - { metric: gas_lel }
        rules:
          - { id: gas-lel, above: [{ severity: critical, value: 200 }] }
  - { id: E2, name: 二, industry: hazchemm, region: "321283103" }
users:
  - { name: x, token: "12345678", role: enterprise, enterprise: E3 }
`;
  const problems = (() => {
    try {
      parseRegistry(text, 'site.yaml');
    } catch (e) {
      return (e as RegistryError).problems;
    }
    return [];
  })();

  it('lists every problem at once: the file\'s form, its references and its rules', () => {
    expect(problems).toHaveLength(6);
  });

  it('gives each its line, the ids it is in, and the name meant', () => {
    expect(problems).toEqual([
      'units[0].emial: unknown setting "emial"; did you mean "email"? (line 2; unit ent-a)',
      'enterprises[0].devices[0].points[0].metric: unknown metric "gas_lell"; did you mean "gas_lel"? (line 14; enterprise E1, device gas-1, point gas_lell)',
      expect.stringMatching(/^enterprises\[1\]\.industry: Invalid option: .*; did you mean "hazchem"\? \(line 22; enterprise E2\)$/),
      'enterprises[0].units[0]: no unit "ent-b" (line 8; enterprise E1)',
      'users[0].enterprise: no enterprise "E3"; did you mean "E1"? (line 24; user x)',
      'enterprises[0].devices[1].rules[0]: gas_lel first-level setpoint 200 %LEL is above 25 %LEL, which GB/T 50493-2019 forbids (line 21; enterprise E1, device gas-2, rule gas-lel)',
    ]);
  });

  it('suggests only what is near, and lists the settings when nothing is', () => {
    const far = problemsOf({ units: [{ id: 'u', name: 'U', kind: 'enterprise', qqq: 1 }] });
    expect(far[0]).toMatch(/^units\[0\]\.qqq: unknown setting "qqq" \(known: id, name, kind, regions, email, webhooks, phones, sms, voice\)$/);
  });
});

describe("where a template's rule problem is", () => {
  const problems = (text: string) => {
    try {
      parseRegistry(text, 'site.yaml');
    } catch (e) {
      return (e as RegistryError).problems;
    }
    return [];
  };
  const site = (device: string) => `
units:
  - { id: ent-a, name: A, kind: enterprise, email: [a@a.test] }
enterprises:
  - id: E1
    name: 一
    industry: hazchem
    region: "321283103"
    units: [ent-a]
    devices:
      ${device}
users:
  - { name: x, token: "12345678", role: enterprise, enterprise: E1 }
`;

  it("names the enterprise and device of a template's rule that a point cannot take", () => {
    const [p] = problems(site('- { id: tox-1, secret: "secret-tox-1", templates: [hazchem], points: [{ metric: toxic_gas_ppm, gas: H2S, unit: "%" }] }'));
    expect(p).toMatch(/^enterprises\[0\]\.devices\[0\]\.templates\.rule toxic-gas: .* \(line \d+; enterprise E1, device tox-1\)$/);
  });
});
