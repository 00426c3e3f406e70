import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, testRegistry } from '../support/registry.ts';

/**
 * What the standards fix, end to end through MQTT and the registry: a toxic point alarms at its
 * gas's limit (GB/T 50493-2019 from GBZ 2.1-2019), and a registry asking for more is refused.
 */
describe('the standards a site cannot loosen', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  const gas1 = reg.enterprises[0].devices[0] as { points: { metric: string; gas?: string }[] };
  gas1.points.find((p) => p.metric === 'toxic_gas_ppm')!.gas = 'H2S';

  beforeAll(async () => {
    app = await startTestApp({ registry: reg });
  });
  afterAll(async () => app?.stop());

  it('raises H2S at 8 ppm: above its MAC of 10 mg/m³ (7.05 ppm), below the 10 ppm of the first round', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { toxic_gas_ppm: 8 } });
    const items = (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items;
    expect(items.find((a: any) => a.rule === 'toxic-gas')).toMatchObject({ severity: 'major', threshold: 7.05, value: 8 });
    await dev.end();
  });

  it('refuses a registry that sets H2S at 20 ppm, citing GB/T 50493-2019, and keeps the one in force', async () => {
    const r = parse(await readFile(app.configPath, 'utf8'));
    r.enterprises[0].devices[0].rules = [{ id: 'toxic-gas', above: [{ severity: 'major', value: 20 }] }];
    await writeFile(app.configPath, stringify(r));
    const result = await app.reload();
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join('\n')).toMatch(/H2S first-level setpoint 20 ppm is above 7\.05 ppm, which GB\/T 50493-2019 forbids/);
    const kept = app.registry().devices.get('gas-1')!.rules.find((x) => x.id === 'toxic-gas')!;
    expect(kept.kind === 'threshold' && kept.above!.map((l) => l.value)).toEqual([7.05, 14.1]);
  });
});
