import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/app.ts';
import { freePort, startReceiver } from '../support/receivers.ts';
import { CAST, CHEM, MALL, testRegistry } from '../support/registry.ts';
import { kill9, startServiceProcess } from '../support/service-process.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The delivery guarantee under a real crash: the service runs as its own process, devices publish
 * at QoS 1 as fast as they can, the process is killed with SIGKILL, started again on the same
 * DATA_DIR, and every reading a device got a PUBACK for must be stored exactly once.
 */


describe('crash safety', () => {
  it('stores every PUBACKed reading exactly once after kill -9 and a restart', async () => {
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    await writeFile(config, stringify(testRegistry()));
    const ports = { mqtt: await freePort(), http: await freePort(), ws: await freePort() };
    let child = await startServiceProcess(dataDir, config, ports);

    const devices = [
      { ent: CHEM, id: 'gas-1', secret: 'secret-gas-1', metric: 'gas_lel' },
      { ent: CHEM, id: 'gas-2', secret: 'secret-gas-2', metric: 'gas_lel' },
      { ent: CAST, id: 'caster-1', secret: 'secret-caster-1', metric: 'melt_level' },
      { ent: MALL, id: 'smoke-1', secret: 'secret-smoke-1', metric: 'smoke_alarm' },
    ];
    const acked = new Map(devices.map((d) => [d.id, new Set<number>()]));
    const base = Date.now();
    let running = true;
    /** per device, messages published and not yet answered */
    const inFlight = new Map(devices.map((d) => [d.id, 0]));
    const clients = await Promise.all(
      devices.map(async (d) => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: d.id, password: d.secret, clientId: `crash-${d.id}`, reconnectPeriod: 200, clean: false });
        let seq = 0;
        // keep up to 50 messages in flight per device, as a device flushing its buffer would
        const pump = () => {
          while (running && seq - acked.get(d.id)!.size < 50) {
            const s = ++seq;
            const value = d.metric === 'smoke_alarm' ? false : 10;
            inFlight.set(d.id, inFlight.get(d.id)! + 1);
            c.publish(`v1/${d.ent}/${d.id}/telemetry`, JSON.stringify({ ts: base + s, seq: s, values: { [d.metric]: value } }), { qos: 1 }, (err) => {
              inFlight.set(d.id, inFlight.get(d.id)! - 1);
              if (!err) acked.get(d.id)!.add(s);
              pump();
            });
          }
        };
        pump();
        return c;
      }),
    );
    await waitFor(() => [...acked.values()].every((s) => s.size > 200), 20_000, 'readings flowing');
    await kill9(child);
    const ackedBeforeCrash = [...acked.values()].reduce((n, s) => n + s.size, 0);
    const atCrash = new Map([...acked].map(([id, s]) => [id, s.size]));
    child = await startServiceProcess(dataDir, config, ports);
    // devices reconnect and resend what was in flight; once each has 100 more answered, they stop
    await waitFor(() => [...acked].every(([id, s]) => s.size >= atCrash.get(id)! + 100), 20_000, 'readings flowing again');
    running = false;
    await waitFor(() => clients.every((c) => c.connected) && [...inFlight.values()].every((n) => n === 0), 10_000, 'every message answered');
    await Promise.all(clients.map((c) => c.endAsync()));

    for (const d of devices) {
      const r = await fetch(`http://127.0.0.1:${ports.http}/api/telemetry?device=${d.id}&metric=${d.metric}&from=${base - 1000}&limit=100000`, { headers: { authorization: 'Bearer token-operator' } });
      const seqs: number[] = ((await r.json()) as { points: { seq: number }[] }).points.map((p: { seq: number }) => p.seq);
      const stored = new Set(seqs);
      expect(seqs.length, `${d.id}: no reading stored twice`).toBe(stored.size);
      const missing = [...acked.get(d.id)!].filter((s) => !stored.has(s));
      expect(missing, `${d.id}: every PUBACKed reading stored`).toEqual([]);
    }
    expect(ackedBeforeCrash).toBeGreaterThan(800);
    await kill9(child);
  }, 90_000);

  it('keeps an alarm PUBACKed in the first run of a fresh DATA_DIR in the record after kill -9, and tells it once', async () => {
    // at a first start gateway.duckdb is open before the reading pipeline creates telemetry.duckdb:
    // nothing the pipeline does to its file may cost the alert record what it commits afterwards
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    const hooks = await startReceiver();
    await writeFile(config, stringify(testRegistry({ webhookUrl: hooks.url })));
    const ports = { mqtt: await freePort(), http: await freePort(), ws: await freePort() };
    let child = await startServiceProcess(dataDir, config, ports);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'gas-2', password: 'secret-gas-2', clientId: 'first-run-gas-2', reconnectPeriod: 0 });
    const ts = Date.now() - 1000;
    // the PUBACK: the reading is stored and the alert it raised is in the record
    await c.publishAsync(`v1/${CHEM}/gas-2/telemetry`, JSON.stringify({ ts, seq: 1, values: { gas_lel: 45 } }), { qos: 1 });
    await c.endAsync(true);
    // a device saying it goes offline: the PUBACK means its offline alarm is in the record too
    const said = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', clientId: 'first-run-gas-1', reconnectPeriod: 0 });
    await said.publishAsync(`v1/${CHEM}/gas-1/status`, 'offline', { qos: 1 });
    await said.endAsync(true);
    await kill9(child);
    child = await startServiceProcess(dataDir, config, ports);
    try {
      const r = await fetch(`http://127.0.0.1:${ports.http}/api/alerts?enterprise=${CHEM}&limit=100`, { headers: { authorization: 'Bearer token-operator' } });
      const alerts = ((await r.json()) as { items: { id: string; deviceId: string; rule: string; raisedAt: string; message: string }[] }).items;
      expect(alerts.filter((a) => a.deviceId === 'gas-2' && a.rule === 'gas-lel').map((a) => Date.parse(a.raisedAt))).toEqual([ts]);
      expect(alerts.filter((a) => a.deviceId === 'gas-1' && a.rule === 'device-offline').map((a) => a.message)).toEqual([expect.stringContaining('status or last will')]);
      // killed right after the PUBACK, whether its notices were queued yet or not: the raise
      // reaches the webhook, under one notification id (a resend after a crash keeps its id)
      const id = alerts.find((a) => a.deviceId === 'gas-2')!.id;
      const raises = () => hooks.requests.filter((q: any) => (q.body.digest ? q.body.events : [q.body]).some((e: { id: string; transition?: { type: string } }) => e.id === id && e.transition?.type === 'raised'));
      await waitFor(() => raises().length > 0, 20_000, 'the raise told');
      expect(new Set(raises().map((q) => q.headers['x-notification-id'])).size).toBe(1);
    } finally {
      await kill9(child);
      await hooks.close();
    }
  }, 90_000);
});
