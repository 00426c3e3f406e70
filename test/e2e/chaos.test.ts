import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/app.ts';
import { freePort, startReceiver } from '../support/receivers.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { kill9, startServiceProcess } from '../support/service-process.ts';
import { waitFor } from '../support/wait.ts';

/**
 * kill -9, again and again: the service runs as its own process while two devices send readings
 * that raise and clear critical gas alarms at QoS 1, and a webhook receiver answers slowly, so the
 * kills land during reading commits, alert commits and webhook deliveries. After every round:
 * every PUBACKed reading is stored exactly once, every PUBACKed alarm reading is covered by an
 * alert in the record, every alert a receiver was told of is in the record, and every
 * notification id names exactly one content however often it was sent.
 */
const ROUNDS = 4;



/** 45 %LEL (critical) for ten readings, then 1 %LEL for ten: an alarm raised and cleared every 20 */
const valueOf = (seq: number) => (seq % 20 < 10 ? 45 : 1);

describe('chaos: kill -9 in a loop', () => {
  it('loses no acknowledged reading, no recorded alarm, and never sends one notification id with two contents', async () => {
    const dataDir = await tempDir();
    const config = join(dataDir, 'registry.yaml');
    // a receiver on a slow link: kills land while deliveries are under way
    const hooks = await startReceiver(() => new Promise((r) => setTimeout(() => r({ status: 200, body: { ok: true } }), 50)));
    const reg = testRegistry({ webhookUrl: hooks.url });
    // every raise is news to tell: an alarm that comes and goes every ten readings would otherwise
    // be held open as flapping (across restarts too), and deliveries would stop after a round or two
    for (const d of reg.enterprises.find((e) => e.id === CHEM)!.devices) (d as { flapping?: object }).flapping = { changes: 1000, windowS: 1 };
    await writeFile(config, stringify(reg));
    const ports = { mqtt: await freePort(), http: await freePort(), ws: await freePort() };
    const devices = ['gas-1', 'gas-2'];
    const acked = new Map(devices.map((d) => [d, new Map<number, number>()]));
    const base = Date.now() - 60_000;
    let child = await startServiceProcess(dataDir, config, ports);
    let running = true;
    const clients: MqttClient[] = await Promise.all(
      devices.map(async (id) => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: id, password: `secret-${id}`, clientId: `chaos-${id}`, reconnectPeriod: 100, clean: false });
        let seq = 0;
        const inFlight = new Set<number>();
        // a device's clock ticks a millisecond a reading: readings stay in order and in the past
        const pump = () => {
          while (running && inFlight.size < 20) {
            const s = ++seq;
            inFlight.add(s);
            const ts = base + s;
            c.publish(`v1/${CHEM}/${id}/telemetry`, JSON.stringify({ ts, seq: s, values: { gas_lel: valueOf(s) } }), { qos: 1 }, (err) => {
              inFlight.delete(s);
              if (!err) acked.get(id)!.set(s, ts);
              pump();
            });
          }
        };
        pump();
        return c;
      }),
    );
    const total = () => [...acked.values()].reduce((n, m) => n + m.size, 0);
    for (let round = 0; round < ROUNDS; round++) {
      const before = total();
      // kill at a different point of the work each round: after 150, 250, 350… more acknowledgements
      await waitFor(() => total() >= before + 150 + 100 * round && hooks.requests.length > round, 30_000, `round ${round}: readings and deliveries under way`);
      await kill9(child);
      child = await startServiceProcess(dataDir, config, ports);
    }
    // the service goes on after the last restart: more readings acknowledged, more deliveries made
    const afterLast = { readings: total(), requests: hooks.requests.length };
    await waitFor(() => clients.every((c) => c.connected), 10_000, 'reconnected');
    await waitFor(() => total() >= afterLast.readings + 300 && hooks.requests.length > afterLast.requests, 30_000, 'more readings and deliveries after the last restart');
    running = false;
    await waitFor(() => clients.every((c) => c.connected && Object.keys((c as unknown as { outgoing: object }).outgoing).length === 0), 10_000, 'nothing in flight');
    await Promise.all(clients.map((c) => c.endAsync()));

    const api = async (path: string) => (await fetch(`http://127.0.0.1:${ports.http}${path}`, { headers: { authorization: 'Bearer token-operator' } })).json() as Promise<any>;
    // every acknowledged reading stored exactly once
    for (const id of devices) {
      const seqs: number[] = (await api(`/api/telemetry?device=${id}&metric=gas_lel&from=${base}&limit=100000`)).points.map((p: { seq: number }) => p.seq);
      expect(seqs.length, `${id}: no reading stored twice`).toBe(new Set(seqs).size);
      const stored = new Set(seqs);
      expect([...acked.get(id)!.keys()].filter((s) => !stored.has(s)), `${id}: every PUBACKed reading stored`).toEqual([]);
    }
    // every acknowledged alarm reading lies inside an alert of the record
    const alerts: { id: string; deviceId: string; rule: string; raisedAt: string; clearedAt: string | null }[] = [];
    for (let cursor: string | undefined, page; ; cursor = page.next) {
      page = await api(`/api/alerts?enterprise=${CHEM}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      alerts.push(...page.items);
      if (!page.next) break;
    }
    for (const id of devices) {
      const spans = alerts.filter((a) => a.deviceId === id && a.rule === 'gas-lel').map((a) => [Date.parse(a.raisedAt), a.clearedAt ? Date.parse(a.clearedAt) : Infinity]);
      const uncovered = [...acked.get(id)!].filter(([s, ts]) => valueOf(s) === 45 && !spans.some(([from, to]) => from <= ts && ts <= to));
      expect(uncovered.map(([s]) => s), `${id}: PUBACKed alarm readings without an alert`).toEqual([]);
    }
    // every alert a receiver heard of is in the record
    const known = new Set(alerts.map((a) => a.id));
    const told = hooks.requests.flatMap((r: any) => (r.body.digest ? r.body.events : [r.body])).map((e: { id: string }) => e.id);
    expect(told.filter((id) => !known.has(id))).toEqual([]);
    // one notification id, one content
    const contents = new Map<string, Set<string>>();
    for (const r of hooks.requests) {
      const nid = String(r.headers['x-notification-id']);
      contents.set(nid, (contents.get(nid) ?? new Set()).add(JSON.stringify(r.body)));
    }
    expect([...contents].filter(([, c]) => c.size > 1)).toEqual([]);
    expect(hooks.requests.length).toBeGreaterThan(ROUNDS);
    await kill9(child);
    await hooks.close();
  }, 180_000);
});
