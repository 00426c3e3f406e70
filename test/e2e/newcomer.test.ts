import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { tempDir } from '../support/app.ts';
import { freePort } from '../support/receivers.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { startServiceProcess } from '../support/service-process.ts';
import { waitFor } from '../support/wait.ts';

/**
 * `npm start` with its built-in plants, and a scenario run beside it (`npm run simulate`): the
 * plant of a device that another program reports for keeps quiet until that program is gone, so
 * the two never take turns on one device.
 */
describe('the built-in plants and a scenario run', () => {
  let child: ChildProcess | undefined;
  afterAll(() => void child?.kill('SIGTERM'));

  it('a plant pauses while another connection reports for its device, and resumes after', async () => {
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    await writeFile(config, stringify(testRegistry()));
    const ports = { mqtt: await freePort(), http: await freePort(), ws: await freePort() };
    const lines: string[] = [];
    child = await startServiceProcess(dataDir, config, ports, { SIMULATORS: 'on', LOG_LEVEL: 'info' }, (l) => lines.push(l));
    const said = (re: RegExp) => lines.some((l) => re.test(l));
    // the way `npm run simulate` connects: a client id of its own, the device's credentials
    const scenario = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: `sim-cli-1-gas-1`, username: 'gas-1', password: 'secret-gas-1', reconnectPeriod: 0 });
    await waitFor(() => said(/built-in plant gas-1 pauses/), 10_000, 'the plant pauses');
    await scenario.publishAsync(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify({ ts: Date.now(), values: { gas_lel: 45 } }), { qos: 1 });
    await scenario.endAsync();
    await waitFor(() => said(/built-in plant gas-1 resumes/), 10_000, 'the plant resumes');
    // only that device was paused
    expect(lines.filter((l) => /built-in plant \S+ pauses/.test(l)).every((l) => /gas-1/.test(l))).toBe(true);
  });
});
