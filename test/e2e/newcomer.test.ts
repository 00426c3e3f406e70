import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
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
  const lines: string[] = [];
  afterAll(() => void child?.kill('SIGTERM'));

  it('a plant pauses while another connection reports for its device, and resumes after', async () => {
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    await writeFile(config, stringify(testRegistry()));
    const ports = { mqtt: await freePort(), http: await freePort(), ws: await freePort() };
    // started from another folder, as a service manager may: it finds its dashboards all the same
    child = await startServiceProcess(dataDir, config, ports, { SIMULATORS: 'on', LOG_LEVEL: 'info' }, (l) => lines.push(l), dataDir);
    const page = await fetch(`http://127.0.0.1:${ports.http}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app"');
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

  it('Ctrl-C under `npm start` (the terminal\'s SIGINT, then npm\'s) stops it once, in order, with exit code 0', async () => {
    const running = child!;
    const exited = new Promise<number | null>((r) => running.once('exit', (code) => r(code)));
    running.kill('SIGINT');
    await waitFor(() => lines.includes('SIGINT: stopping'), 10_000, 'the service stopping');
    running.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(lines.filter((l) => l === 'SIGINT: stopping')).toHaveLength(1);
    child = undefined;
  });
});

/**
 * What stops `npm start` and the person at the terminal can fix is said in a line that names the
 * fix, with exit code 2 and no stack trace.
 */
describe('a start that cannot go on', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

  const failedStart = (dataDir: string, config: string, ports: { mqtt: number; http: number; ws: number }) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['dist/main.mjs'], {
        env: { ...process.env, CONFIG: config, DATA_DIR: dataDir, MQTT_PORT: String(ports.mqtt), MQTT_WS_PORT: String(ports.ws), HTTP_PORT: String(ports.http), HOST: '127.0.0.1', SIMULATORS: 'off', LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  const ports = async () => ({ mqtt: await freePort(), http: await freePort(), ws: await freePort() });

  it('a second instance on the same DATA_DIR, a busy port, a damaged registered-devices.json', async () => {
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    await writeFile(config, stringify(testRegistry()));
    const first = await ports();
    children.push(await startServiceProcess(dataDir, config, first));

    const second = await failedStart(dataDir, config, await ports());
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`only one service can use DATA_DIR=${dataDir} at a time`);
    expect(second.stderr).not.toMatch(/\n\s+at /);

    const busy = await failedStart(await tempDir(), config, { ...(await ports()), http: first.http });
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain(`port ${first.http} is already in use (HTTP_PORT)`);

    const damaged = await tempDir();
    await writeFile(join(damaged, 'registered-devices.json'), '{"devices": [');
    const bad = await failedStart(damaged, config, await ports());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('registered-devices.json is not valid JSON');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
