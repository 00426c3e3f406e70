/**
 * A small registry for tests: a chemical plant and a casting plant in Taixing (321283), a mall
 * in Zhangjiagang (320582), and callers of each role.
 */
export const CHEM = '91321283MA1CHEM0001';
export const CAST = '91321283MA1CAST0002';
export const MALL = '91320582MA1MALL0003';
export const DUST = '91320582MA1DUST0004';

export function testRegistry(opts: { webhookUrl?: string; dingtalkUrl?: string } = {}) {
  return {
    units: [
      {
        id: 'ent-chem',
        name: '测试化工安全科',
        kind: 'enterprise',
        email: ['safety@chem.test'],
        webhooks: [
          ...(opts.webhookUrl ? [{ url: `${opts.webhookUrl}/hook`, format: 'generic' }] : []),
          ...(opts.dingtalkUrl ? [{ url: `${opts.dingtalkUrl}/robot/send?access_token=abc`, format: 'dingtalk', secret: 'SECtest' }] : []),
        ],
      },
      { id: 'ent-cast', name: '测试铝业安全部', kind: 'enterprise', email: ['safety@cast.test'] },
      { id: 'ent-mall', name: '测试商城消控室', kind: 'enterprise', email: ['xfk@mall.test'] },
      { id: 'ent-dust', name: '测试木业安全部', kind: 'enterprise', email: ['aq@dust.test'] },
      { id: 'twn-a', name: '黄桥镇安监办', kind: 'township', regions: ['321283103'], email: ['ajb@huangqiao.test'] },
      { id: 'reg-a', name: '泰兴市应急管理局', kind: 'regulator', regions: ['321283'], email: ['yjj@taixing.test'] },
      { id: 'fire-b', name: '张家港市消防救援大队', kind: 'fire', regions: ['320582'], email: ['119@zjg.test'] },
    ],
    enterprises: [
      {
        id: CHEM,
        name: '测试化工有限公司',
        industry: 'hazchem',
        region: '321283103',
        units: ['ent-chem'],
        devices: [
          {
            id: 'gas-1',
            secret: 'secret-gas-1',
            reportIntervalS: 10,
            templates: ['hazchem'],
            points: [{ metric: 'gas_lel', range: [0, 100] }, { metric: 'toxic_gas_ppm' }, { metric: 'gas_shutoff_valve_closed' }],
          },
          { id: 'gas-2', secret: 'secret-gas-2', templates: ['hazchem'], points: [{ metric: 'gas_lel' }] },
        ],
      },
      {
        id: CAST,
        name: '测试铝业有限公司',
        industry: 'aluminum_casting',
        region: '321283103',
        units: ['ent-cast'],
        devices: [
          {
            id: 'caster-1',
            secret: 'secret-caster-1',
            templates: ['aluminum_casting'],
            points: [
              { metric: 'casting_active' },
              { metric: 'cooling_water_flow' },
              { metric: 'cooling_water_pressure' },
              { metric: 'melt_level' },
              { metric: 'quick_shutoff_valve_closed' },
              { metric: 'emergency_discharge_open' },
            ],
          },
        ],
      },
      {
        id: MALL,
        name: '测试商城',
        industry: 'fire',
        region: '320582104',
        units: ['ent-mall'],
        devices: [{ id: 'smoke-1', secret: 'secret-smoke-1', templates: ['fire'], points: [{ metric: 'smoke_alarm' }] }],
      },
      {
        id: DUST,
        name: '测试木业有限公司',
        industry: 'dust',
        region: '320582105',
        units: ['ent-dust'],
        devices: [
          {
            id: 'collector-1',
            secret: 'secret-collector-1',
            templates: ['dust'],
            points: [{ metric: 'collector_inlet_temperature' }, { metric: 'filter_pressure_diff' }, { metric: 'spark_detected' }, { metric: 'isolation_valve_closed' }],
          },
        ],
      },
    ],
    routing: {
      immediate: { info: [], warning: ['enterprise'], major: ['enterprise'], critical: ['enterprise', 'township'] },
      byMetric: { smoke_alarm: ['fire'] },
      // tests want notifications at once; the storm test sets its own grouping
      groupWaitS: 0.1,
      groupIntervalS: 0,
      // a site that has not adopted the review loop: its alerts close as in the first round
      // (test/e2e/review.test.ts takes the default, major and above)
      reviewFrom: 'none',
    },
    users: [
      { name: 'operator', token: 'token-operator', role: 'operator' },
      { name: 'regulator-taixing', token: 'token-regulator-a', role: 'regulator', regions: ['321283'] },
      { name: 'regulator-zjg', token: 'token-regulator-b', role: 'regulator', regions: ['320582'] },
      { name: 'chem-user', token: 'token-chem', role: 'enterprise', enterprise: CHEM },
      { name: 'mall-user', token: 'token-mall', role: 'enterprise', enterprise: MALL },
    ],
  };
}

/** Give one unit of a test registry a generic webhook at `${url}/${unitId}` (a receiver in the test). */
export function hookUnit(reg: ReturnType<typeof testRegistry>, unitId: string, url: string) {
  for (const u of reg.units as { id: string; webhooks?: object[] }[]) if (u.id === unitId) u.webhooks = [{ url: `${url}/${unitId}`, format: 'generic' }];
  return reg;
}
