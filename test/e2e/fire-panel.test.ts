import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeData } from '../../gateway/fire-panel/application.ts';
import { COMMAND, encode, scan, timeLabel } from '../../gateway/fire-panel/frame.ts';
import { FirePanelSimulator } from '../../simulators/fire-panel.ts';
import { apiClient, startTestApp } from '../support/app.ts';
import { MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * A fire alarm panel's transmission device over real TCP, speaking GB/T 26875.3 through the
 * panel simulator: fire, fault and recovery become alerts and clears end to end; bad frames are
 * denied or skipped, and counted, while the panel keeps being served.
 */
const SMOKE_3F = { componentType: 40, componentAddress: 0x0002000a, description: '3F-12' };
const GAS_KITCHEN = { componentType: 11, componentAddress: 3 };
const UNREGISTERED = { componentType: 42, componentAddress: 77, description: 'B1-77' };

describe('GB/T 26875.3 fire panels', () => {
  let now = Date.UTC(2026, 10, 22, 16, 0, 0);
  const clock = () => now;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let panel: FirePanelSimulator;
  const api = () => apiClient(app, 'token-operator');
  const alerts = async () => (await api().get(`/api/alerts?limit=200`)).json.items as any[];
  const metric = async (outcome: string) => Number(new RegExp(`fire_panel_frames_total\\{outcome="${outcome}"\\} (\\d+)`).exec(await (await fetch(`http://127.0.0.1:${app.ports.http}/metrics`)).text())?.[1] ?? 0);

  beforeAll(async () => {
    const reg = testRegistry() as any;
    reg.enterprises.find((e: any) => e.id === MALL).devices.push({
      id: 'panel-1',
      name: '消防主机',
      panelAddress: '88888',
      reportIntervalS: 30,
      templates: ['fire'],
      points: [
        { id: 'smoke-3f-12', metric: 'smoke_alarm', name: '3层12号感烟', panel: { componentType: 40, componentAddress: 0x0002000a } },
        { id: 'gas-kitchen', metric: 'gas_alarm', name: '厨房燃气探测器', panel: { componentType: 11 } },
        { id: 'host-fault', metric: 'fire_panel_fault', name: '主机故障', panel: { systemType: 1 } },
      ],
    });
    reg.enterprises.find((e: any) => e.id === MALL).devices.push({
      id: 'panel-2',
      panelAddress: '77777',
      panelHosts: ['10.9.9.9'],
      templates: ['fire'],
      points: [{ id: 'smoke-any', metric: 'smoke_alarm', panel: {} }],
    });
    // a panel with no hosts of its own and one point that no storm detector is: whatever they report is unregistered
    reg.enterprises.find((e: any) => e.id === MALL).devices.push({ id: 'panel-3', panelAddress: '66666', templates: ['fire'], points: [{ id: 'lobby-smoke', metric: 'smoke_alarm', panel: { componentType: 40, componentAddress: 1 } }] });
    app = await startTestApp({ registry: reg, clock, schedule: false, tickMs: 0, settings: { FIRE_PANEL_PORT: 0, FIRE_PANEL_ADDRESS: 889 } });
    panel = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 88888, centre: 889, clock });
    await panel.connect();
  });
  afterAll(async () => {
    panel?.close();
    await app?.stop();
  });

  it('confirms a heartbeat with the frame the standard describes', async () => {
    expect(await panel.heartbeat()).toBe('confirmed');
    const s = scan(panel.answers.at(-1)!);
    if (s.kind !== 'frame') throw new Error(s.kind);
    // same serial, addresses swapped, no data, command 3; the checksum was checked by scan
    expect(s.frame).toMatchObject({ serial: 1, source: 889, destination: 88888, command: 3, version: [1, 0] });
    expect(s.frame.data).toHaveLength(0);
    // on the board like any device: connected, online, seen
    const device = (await api().get(`/api/enterprises/${MALL}`)).json.devices.find((d: any) => d.id === 'panel-1');
    expect(device).toMatchObject({ online: true, connected: true, lastSeen: new Date(now).toISOString() });
  });

  it('a component\'s fire raises a critical alert on its point, and its recovery clears it', async () => {
    expect(await panel.fire(SMOKE_3F)).toBe('confirmed');
    // the confirm came after the alarm was recorded
    const raised = (await alerts()).find((a) => a.deviceId === 'panel-1' && a.rule === 'smoke-alarm');
    expect(raised).toMatchObject({ severity: 'critical', state: 'active', pointId: 'smoke-3f-12', pointName: '3层12号感烟', enterpriseId: MALL });
    now += 60_000;
    expect(await panel.recover(SMOKE_3F)).toBe('confirmed');
    const cleared = (await api().get(`/api/alerts/${raised.id}`)).json;
    expect(cleared.state).toBe('cleared');
    const readings = (await api().get(`/api/telemetry?device=panel-1&point=smoke-3f-12`)).json;
    expect(JSON.stringify(readings)).toContain('smoke-3f-12');
  });

  it('a fault becomes the fault quality of the point; the system\'s power fault the panel-fault point', async () => {
    expect(await panel.fault(GAS_KITCHEN)).toBe('confirmed');
    await waitFor(async () => (await alerts()).some((a) => a.deviceId === 'panel-1' && a.rule === 'sensor-fault' && a.pointId === 'gas-kitchen'), 5000, 'fault alert');
    expect(await panel.system({ mainPowerFault: true })).toBe('confirmed');
    now += 11_000;
    app.tick();
    await app.settled();
    await waitFor(async () => (await alerts()).some((a) => a.deviceId === 'panel-1' && a.rule === 'fire-panel-fault' && a.state === 'active'), 5000, 'panel fault alert');
    expect(await panel.system({})).toBe('confirmed');
    expect(await panel.recover(GAS_KITCHEN)).toBe('confirmed');
    await waitFor(async () => (await alerts()).filter((a) => a.deviceId === 'panel-1' && ['sensor-fault', 'fire-panel-fault'].includes(a.rule)).every((a) => a.state !== 'active'), 5000, 'faults cleared');
  });

  it('a fire from a component no point stands for reaches the operators as the service\'s own critical alarm', async () => {
    expect(await panel.fire(UNREGISTERED)).toBe('confirmed');
    const a = await waitFor(async () => (await alerts()).find((x) => x.rule === 'fire-panel-unmapped' && x.state === 'active'), 5000, 'unmapped alert');
    expect(a.severity).toBe('critical');
    expect(a.message).toContain('B1-77');
    expect(await panel.recover(UNREGISTERED)).toBe('confirmed');
    await waitFor(async () => (await api().get(`/api/alerts/${a.id}`)).json.state === 'cleared', 5000, 'unmapped cleared');
  });

  it('a storm of reports from unregistered components is a few dozen alerts, confirmed as fast as they are recorded; the real panel\'s fire goes through', async () => {
    const storm = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 66666, centre: 889, clock });
    await storm.connect();
    // 60 frames of 20 detectors each, as fast as the centre answers, next to the real panel
    const frames = Array.from({ length: 60 }, (_, f) => storm.components(Array.from({ length: 20 }, (_, i) => ({ componentType: 11, componentAddress: 1000 + f * 20 + i, description: `D${f * 20 + i}` })), { fire: true }));
    const fire = panel.fire(SMOKE_3F);
    expect(await fire).toBe('confirmed');
    expect((await Promise.all(frames)).every((a) => a === 'confirmed')).toBe(true);
    const fromStorm = (await alerts()).filter((a) => a.rule === 'fire-panel-unmapped' && a.deviceId === '_system' && a.key.includes('panel-3'));
    // 32 detectors one by one, the other 1168 counted in one alert (its count said as it doubles)
    expect(fromStorm.length).toBe(33);
    const more = fromStorm.find((a) => a.key.endsWith(':more'));
    expect(more).toMatchObject({ severity: 'critical', state: 'active' });
    expect(more.peak).toBeGreaterThanOrEqual(1024);
    expect(more.message).toContain(String(more.peak));
    expect((await alerts()).find((a) => a.deviceId === 'panel-1' && a.pointId === 'smoke-3f-12' && a.state === 'active')).toBeTruthy();
    // all back to normal: every one of them clears
    await Promise.all(Array.from({ length: 60 }, (_, f) => storm.components(Array.from({ length: 20 }, (_, i) => ({ componentType: 11, componentAddress: 1000 + f * 20 + i })), {})));
    expect((await alerts()).filter((a) => a.key.includes('panel-3') && a.state === 'active')).toEqual([]);
    storm.close();
    expect(await panel.recover(SMOKE_3F)).toBe('confirmed');
  });

  it('connections speaking for one panel address cannot take every slot: each panel keeps a place', async () => {
    const before = await metric('evicted');
    // 20 connections from this address, each proven with a heartbeat as panel-3
    const posers: FirePanelSimulator[] = [];
    for (let i = 0; i < 20; i++) {
      const p = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 66666, centre: 889, clock });
      await p.connect();
      await p.heartbeat();
      posers.push(p);
    }
    // panel-3 holds at most 4; the real panel, from the same address, is served
    expect(await metric('evicted')).toBeGreaterThanOrEqual(before + 16);
    const late = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 88888, centre: 889, clock });
    await late.connect();
    expect(await late.heartbeat()).toBe('confirmed');
    expect(await panel.heartbeat()).toBe('confirmed');
    for (const p of posers) p.close();
    late.close();
    expect(await panel.heartbeat()).toBe('confirmed');
  });

  it('denies a bad checksum, skips a cut frame and random bytes, and keeps serving the panel', async () => {
    const before = { checksum: await metric('bad_checksum'), garbage: await metric('garbage') };
    expect(await panel.badChecksum(SMOKE_3F)).toBe('denied');
    const deny = scan(panel.answers.at(-1)!);
    if (deny.kind !== 'frame') throw new Error(deny.kind);
    expect(deny.frame).toMatchObject({ command: 6, source: 889, destination: 88888 });
    // the denied frame said fire: nothing was raised from it
    expect((await alerts()).filter((a) => a.deviceId === 'panel-1' && a.rule === 'smoke-alarm' && a.state === 'active')).toEqual([]);
    panel.truncated();
    panel.garbage(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(await panel.fire(SMOKE_3F)).toBe('confirmed');
    expect((await alerts()).some((a) => a.deviceId === 'panel-1' && a.rule === 'smoke-alarm' && a.state === 'active')).toBe(true);
    expect(await metric('bad_checksum')).toBe(before.checksum + 1);
    expect(await metric('garbage')).toBeGreaterThan(before.garbage);
    expect(await panel.recover(SMOKE_3F)).toBe('confirmed');
  });

  it('denies a panel the registry does not know, and a known one from an address it may not use', async () => {
    const stranger = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 12345, clock });
    await stranger.connect();
    expect(await stranger.fire(SMOKE_3F)).toBe('denied');
    stranger.close();
    expect(await metric('unknown_panel')).toBe(1);
    // GB/T 26875.3 has no credentials: panel-2 may only speak from its own network address
    const impostor = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 77777, clock });
    await impostor.connect();
    expect(await impostor.fire(SMOKE_3F)).toBe('denied');
    impostor.close();
    expect(await metric('host_refused')).toBe(1);
    expect((await alerts()).filter((a) => a.deviceId === 'panel-2')).toEqual([]);
  });

  it('survives random bytes on other connections while the panel is served', async () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
    for (let c = 0; c < 20; c++) {
      const s = connect(app.ports.firePanel!, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      const bytes = Buffer.from(Array.from({ length: 200 + Math.floor(rand() * 3000) }, () => (rand() < 0.1 ? 0x40 : Math.floor(rand() * 256))));
      // one at a time: connections from one address are limited
      const closed = new Promise((r) => s.once('close', r));
      s.end(bytes);
      s.resume();
      await closed;
    }
    expect(await panel.heartbeat()).toBe('confirmed');
    const health = (await api().get('/api/health')).json;
    expect(health.broker.closed).toBe(false);
  });

  it('a fire reported with a fault is a fire; a fire stamped before the last report is not dropped', async () => {
    expect(await panel.component(GAS_KITCHEN, { fire: true, fault: true })).toBe('confirmed');
    expect((await alerts()).find((a) => a.deviceId === 'panel-1' && a.rule === 'gas-alarm' && a.state === 'active')).toMatchObject({ severity: 'critical', pointId: 'gas-kitchen' });
    expect(await panel.recover(GAS_KITCHEN)).toBe('confirmed');
    // the panel's clock runs 30 s behind the report before it
    now += 60_000;
    expect(await panel.heartbeat()).toBe('confirmed');
    expect(await panel.recover(SMOKE_3F)).toBe('confirmed');
    const late = encodeData([{ type: 2, systemType: 1, systemAddress: 1, componentType: 40, componentAddress: SMOKE_3F.componentAddress, status: 0b11, description: '', time: timeLabel(now - 30_000) }]);
    expect(await panel.send(late)).toBe('confirmed');
    expect((await alerts()).some((a) => a.deviceId === 'panel-1' && a.rule === 'smoke-alarm' && a.state === 'active')).toBe(true);
    expect(await panel.recover(SMOKE_3F)).toBe('confirmed');
  });

  it('closes a connection that does not read its answers, and one address cannot take every connection', async () => {
    const before = await metric('overflow');
    const evictedBefore = await metric('evicted');
    // bad checksums as fast as possible, never reading a deny
    const flood = connect({ port: app.ports.firePanel!, host: '127.0.0.1' });
    flood.on('error', () => {});
    await new Promise((r) => flood.once('connect', r));
    flood.pause();
    const bad = encode({ serial: 1, version: [1, 0], time: timeLabel(now), source: 88888, destination: 889, command: COMMAND.send, data: Buffer.alloc(0) });
    bad[27] ^= 0xff;
    const closed = new Promise((r) => flood.once('close', r));
    for (let i = 0; i < 5000 && !flood.destroyed; i++) flood.write(bad);
    await closed;
    expect(await metric('overflow')).toBeGreaterThan(before);
    // the panel is served all along
    expect(await panel.heartbeat()).toBe('confirmed');

    const idle: ReturnType<typeof connect>[] = [];
    for (let i = 0; i < 15; i++) {
      const c = connect({ port: app.ports.firePanel!, host: '127.0.0.1' });
      c.on('error', () => {});
      await new Promise((r) => c.once('connect', r));
      idle.push(c);
    }
    // the panel holds one connection from this address, the idle ones 15: the next one makes
    // room by closing the oldest that never sent a good frame, so idle sockets lock no panel out
    const firstClosed = new Promise((r) => idle[0].once('close', r));
    const extra = new FirePanelSimulator({ host: '127.0.0.1', port: app.ports.firePanel!, address: 88888, centre: 889, clock });
    await extra.connect();
    await firstClosed;
    expect(await metric('evicted')).toBe(evictedBefore + 1);
    expect(await extra.heartbeat()).toBe('confirmed');
    for (const c of idle) c.destroy();
    expect(await panel.heartbeat()).toBe('confirmed');
    // two connections of one panel: closing one leaves it connected
    extra.close();
    // a round trip on the other connection: the close was seen before it
    expect(await panel.heartbeat()).toBe('confirmed');
    const device = (await api().get(`/api/enterprises/${MALL}`)).json.devices.find((d: any) => d.id === 'panel-1');
    expect(device.connected).toBe(true);
  });

  it('goes offline like any device when its heartbeats stop', async () => {
    now += 5 * 30_000;
    app.tick();
    await app.settled();
    await waitFor(async () => (await alerts()).some((a) => a.deviceId === 'panel-1' && a.rule === 'device-offline' && a.state === 'active'), 5000, 'offline');
    expect(await panel.heartbeat()).toBe('confirmed');
    await waitFor(async () => (await alerts()).filter((a) => a.deviceId === 'panel-1' && a.rule === 'device-offline').every((a) => a.state !== 'active'), 5000, 'back online');
  });
});
