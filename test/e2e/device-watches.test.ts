import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, type DeviceClient } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';
import { QUIET_TO_CLEAR_MS } from '../../rules/device-clock.ts';

/**
 * A device the gateway cannot read, told to its enterprise. A clock 8 h ahead (firmware that sends
 * Beijing time marked as UTC) gets every reading refused as TS_IN_FUTURE, its gas alarm included:
 * the enterprise hears of its clock instead of nothing (rules/device-clock.ts). A clock that lost
 * its time gets a warning. Messages refused whole for any other fault get an alert of their own
 * (gateway/refused-readings.ts). Right messages clear them.
 */
describe('a device whose clock is wrong or whose messages are refused', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let dev: DeviceClient;
  let now = Date.now();
  /** past the quiet time after a device's last fault (QUIET_TO_CLEAR_MS) */
  const quietTimePasses = () => (now += QUIET_TO_CLEAR_MS + 1000);
  const clockAlert = async () => ((await apiClient(app, 'token-chem').get(`/api/alerts?enterprise=${CHEM}&limit=100`)).json.items as { rule: string; deviceId: string; severity: string; state: string; message: string }[]).find((a) => a.rule === 'device-clock' && a.deviceId === 'gas-1');
  beforeAll(async () => {
    hooks = await startReceiver();
    // the service's clock is the test's: an alert on a device clears only five minutes after its last fault
    const registry = testRegistry({ webhookUrl: hooks.url });
    // a gas controller whose two channels have ids of their own in the registry
    (registry.enterprises[0].devices as object[]).push({ id: 'ctl-1', secret: 'secret-ctl-1', templates: ['hazchem'], reportIntervalS: 10, points: [{ id: 'gas-1', metric: 'gas_lel' }, { id: 'gas-2', metric: 'gas_lel' }, { metric: 'power_kw' }] });
    app = await startTestApp({ registry, clock: () => now });
    dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
  });
  afterAll(async () => {
    await dev?.end();
    await app?.stop();
    await hooks?.close();
  });

  it('raises a major alert on the device at the third reading refused for a time 8 h ahead, tells the enterprise, and clears once the time is right', async () => {
    let seq = 0;
    for (let i = 0; i < 2; i++) await dev.telemetry({ seq: ++seq, ts: now + 8 * 3_600_000, values: { gas_lel: 45 } });
    await waitFor(() => dev.rejects.filter((r) => r.error === 'TS_IN_FUTURE').length === 2, 5000, 'two refused');
    await app.book.settled();
    // one stray time is no broken clock
    expect(await clockAlert()).toBeUndefined();
    await dev.telemetry({ seq: ++seq, ts: now + 8 * 3_600_000, values: { gas_lel: 45 } });
    const raised = await waitFor(clockAlert, 10_000, 'the clock alert');
    expect(raised).toMatchObject({ severity: 'major', state: 'active' });
    expect(raised.message).toContain('8.0 h ahead');
    // the enterprise's own receiver hears of it, with the device named, once the group wait has passed
    now += 15_000;
    const told = await waitFor(() => hooks.requests.find((r: any) => (r.body.events ?? [r.body]).some((e: { rule?: string }) => e.rule === 'device-clock')), 10_000, 'the enterprise told');
    expect(JSON.stringify(told.body)).toContain('gas-1');

    // the clock set right: three right times clear it, and the gas alarm they carry is raised
    // right at once, but a device's alert comes and goes no faster than its quiet time
    for (let i = 0; i < 3; i++) await dev.telemetry({ seq: ++seq, ts: now, values: { gas_lel: 45 } });
    // (a PUBACK comes once a reading is judged and what it changed is recorded)
    await app.book.settled();
    expect((await clockAlert())?.state).toBe('active');
    quietTimePasses();
    await dev.telemetry({ seq: ++seq, ts: now, values: { gas_lel: 45 } });
    await waitFor(async () => (await clockAlert())?.state === 'cleared', 10_000, 'the clock alert cleared');
    const alerts = (await apiClient(app, 'token-chem').get(`/api/alerts?enterprise=${CHEM}&limit=100`)).json.items as { rule: string; state: string }[];
    expect(alerts.find((a) => a.rule === 'gas-lel')?.state).toBe('active');
  });

  it('raises a warning for a clock that lost its time: its readings are kept as of their arrival', async () => {
    const other = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    try {
      for (let i = 1; i <= 3; i++) await other.telemetry({ seq: i, ts: Date.UTC(2000, 0, 1) + i * 1000, values: { gas_lel: 1 } });
      const alert = await waitFor(async () => ((await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&limit=100`)).json.items as { rule: string; deviceId: string; severity: string; message: string }[]).find((a) => a.rule === 'device-clock' && a.deviceId === 'gas-2'), 10_000, 'the warning');
      expect(alert.severity).toBe('warning');
      expect(alert.message).toMatch(/\d+ d behind/);
      expect(other.rejects.map((r) => r.error)).toEqual(['TS_TOO_OLD', 'TS_TOO_OLD', 'TS_TOO_OLD']);
    } finally {
      await other.end();
    }
  });

  it('raises a major alert on a device whose messages are all refused (seq sent as a string), naming the code; its smoke alarm comes once they are read', async () => {
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    const api = apiClient(app, 'token-operator');
    const refusedAlert = async () => ((await api.get(`/api/alerts?enterprise=${MALL}&limit=100`)).json.items as { rule: string; severity: string; state: string; message: string }[]).find((a) => a.rule === 'readings-refused');
    try {
      for (let i = 1; i <= 3; i++) await smoke.telemetry({ seq: String(i), values: { smoke_alarm: true } });
      const alert = await waitFor(refusedAlert, 10_000, 'the refused-messages alert');
      expect(alert).toMatchObject({ severity: 'major', state: 'active' });
      expect(alert.message).toContain('READING_INVALID');
      // the smoke alarm those messages carried was never judged
      expect(((await api.get(`/api/alerts?enterprise=${MALL}&limit=100`)).json.items as { rule: string }[]).map((a) => a.rule)).toEqual(['readings-refused']);
      quietTimePasses();
      for (let i = 1; i <= 3; i++) await smoke.telemetry({ seq: i, values: { smoke_alarm: true } });
      await waitFor(async () => (await refusedAlert())?.state === 'cleared', 10_000, 'cleared');
      expect(((await api.get(`/api/alerts?enterprise=${MALL}&limit=100`)).json.items as { rule: string }[]).length).toBe(2);
    } finally {
      await smoke.end();
    }
  });

  it("raises a major alert on a point whose values are refused while the device's others are read (a toxic-gas channel stuck at 65535)", async () => {
    const api = apiClient(app, 'token-chem');
    const pointAlert = async () => ((await api.get(`/api/alerts?enterprise=${CHEM}&limit=100`)).json.items as { key: string; metric: string; severity: string; state: string; message: string }[]).find((a) => a.key === 'gas-1/readings-refused/toxic_gas_ppm');
    for (let i = 1; i <= 3; i++) await dev.telemetry({ seq: 100 + i, values: { gas_lel: 2, toxic_gas_ppm: 65535 } });
    const alert = await waitFor(pointAlert, 10_000, "the point's alert");
    expect(alert).toMatchObject({ metric: 'toxic_gas_ppm', severity: 'major', state: 'active' });
    expect(alert.message).toContain('VALUE_OUT_OF_RANGE');
    quietTimePasses();
    for (let i = 4; i <= 6; i++) await dev.telemetry({ seq: 100 + i, values: { gas_lel: 2, toxic_gas_ppm: 1.5 } });
    await waitFor(async () => (await pointAlert())?.state === 'cleared', 10_000, "the point's alert cleared");
  });

  it('raises a major alert on a device that sends its gas channels under names the registry lacks while the rest is read, naming the silent points; its gas alarm comes once they are named right', async () => {
    const ctl = await connectDevice(app, CHEM, 'ctl-1', 'secret-ctl-1');
    const api = apiClient(app, 'token-chem');
    const alerts = async () => (await api.get(`/api/alerts?enterprise=${CHEM}&limit=100`)).json.items as { rule: string; deviceId: string; severity: string; state: string; message: string }[];
    const misnamed = async () => (await alerts()).find((a) => a.rule === 'points-misnamed' && a.deviceId === 'ctl-1');
    try {
      // firmware that says gas1 and gas2 where the registry has gas-1 and gas-2: the power is read.
      // Raised at the third such message, three report intervals (10 s) after the first
      for (let i = 1; i <= 3; i++) await ctl.telemetry({ seq: i, values: { gas1: 45, gas2: 3, power_kw: 5 } });
      await app.book.settled();
      expect(await misnamed()).toBeUndefined();
      // (a message without those names says nothing of them, and keeps the device heard)
      now += 15_000;
      await ctl.telemetry({ seq: 4, values: { power_kw: 5 } });
      now += 15_000;
      await ctl.telemetry({ seq: 5, values: { gas1: 45, gas2: 3, power_kw: 5 } });
      const alert = await waitFor(misnamed, 10_000, 'the misnamed-points alert');
      expect(alert).toMatchObject({ severity: 'major', state: 'active' });
      expect(alert.message).toContain('registry points gas-1, gas-2');
      // what the device sent is not repeated in the alert
      expect(alert.message).not.toContain('gas1');
      expect(ctl.rejects.filter((r) => r.error === 'UNKNOWN_METRIC')).toHaveLength(8);
      // 45 %LEL was never judged
      expect((await alerts()).filter((a) => a.deviceId === 'ctl-1').map((a) => a.rule)).toEqual(['points-misnamed']);
      now += 15_000;
      await waitFor(() => hooks.requests.find((r: any) => (r.body.events ?? [r.body]).some((e: { rule?: string }) => e.rule === 'points-misnamed')), 10_000, 'the enterprise told');

      // the firmware fixed: the gas alarm at once, the alert after its quiet time
      for (let i = 6; i <= 8; i++) await ctl.telemetry({ seq: i, values: { 'gas-1': 45, 'gas-2': 3, power_kw: 5 } });
      await app.book.settled();
      expect((await alerts()).find((a) => a.rule === 'gas-lel' && a.deviceId === 'ctl-1')?.state).toBe('active');
      expect((await misnamed())?.state).toBe('active');
      quietTimePasses();
      await ctl.telemetry({ seq: 9, values: { 'gas-1': 45, 'gas-2': 3, power_kw: 5 } });
      await waitFor(async () => (await misnamed())?.state === 'cleared', 10_000, 'cleared');
    } finally {
      await ctl.end();
    }
  });
});
