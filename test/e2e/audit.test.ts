import pino from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { Database } from '../../services/store/database.ts';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** The audit trail is hash-chained: altering, removing or inserting an entry is found. */
describe('tamper-evident audit trail', () => {
  it('chains alert handling, logins, silences and reloads; names the first broken link after tampering', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }));
    let app = await startTestApp({ logger });
    const dataDir = app.dataDir;
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 45 } });
    const op = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await op.get(`/api/alerts?enterprise=${CHEM}`)).json.items[0], 5000, 'alert');
    await op.post(`/api/alerts/${alert.id}/ack`, { note: '收到' });
    await op.post(`/api/alerts/${alert.id}/close`, { disposition: 'drill', note: '演练' });
    await op.post('/api/silences', { enterpriseId: CHEM, reason: '检修', until: new Date(Date.now() + 3_600_000).toISOString() });
    await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'wrong-secret', reconnectPeriod: 0 }).catch(() => null);
    await app.reload();
    await dev.end();

    const ok = await op.get('/api/audit/verify');
    expect(ok.json).toMatchObject({ ok: true, firstBroken: null });
    expect(ok.json.entries).toBeGreaterThanOrEqual(8);
    expect((await apiClient(app, 'token-chem').get('/api/audit/verify')).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-a').get('/api/audit/verify')).status).toBe(200);
    await app.stop();

    // secrets and tokens never reach the logs
    const logged = lines.join('');
    for (const secret of ['secret-gas-1', 'wrong-secret', 'token-operator']) expect(logged).not.toContain(secret);

    // someone edits the record behind the service's back
    const db = await Database.open(dataDir);
    const conn = await db.connect();
    const actions = await conn.all<{ n: bigint; action: string }>('SELECT n, action FROM audit ORDER BY n');
    expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['service.started', 'login.mqtt', 'alert.raised', 'alert.acknowledged', 'alert.closed', 'silence.created', 'login.mqtt.refused', 'registry.reloaded', 'service.stopped']));
    const closed = Number(actions.find((a) => a.action === 'alert.closed')!.n);
    await conn.run(`UPDATE audit SET detail = '{"note":"nothing happened"}' WHERE n = ${closed}`);
    await conn.close();
    db.close();

    app = await startTestApp({ dataDir });
    const broken = (await apiClient(app, 'token-operator').get('/api/audit/verify')).json;
    expect(broken).toMatchObject({ ok: false, firstBroken: { n: closed, action: 'alert.closed', reason: 'its content was altered' } });
    await app.stop();

    const db2 = await Database.open(dataDir);
    const conn2 = await db2.connect();
    await conn2.run(`DELETE FROM audit WHERE n = 2`);
    await conn2.close();
    db2.close();
    app = await startTestApp({ dataDir });
    expect((await apiClient(app, 'token-operator').get('/api/audit/verify')).json.firstBroken).toMatchObject({ n: 3, reason: 'entry 2 is missing' });
    await app.stop();
  }, 30_000);

  it('detects the newest entries deleted: the head published beside the database and a head a regulator kept are no longer in the trail', async () => {
    let app = await startTestApp();
    const dataDir = app.dataDir;
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 45 } });
    await dev.end();
    const reg = apiClient(app, 'token-regulator-a');
    const kept = (await reg.get('/api/audit/head')).json;
    expect(kept).toMatchObject({ n: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await reg.get(`/api/audit/verify?head=${kept.head}`)).json).toMatchObject({ ok: true, missingHead: null });
    expect((await reg.get('/api/audit/verify?head=nonsense')).json).toMatchObject({ error: 'BAD_REQUEST', field: 'head' });
    expect((await apiClient(app, 'token-chem').get('/api/audit/head')).status).toBe(403);
    await app.stop();

    // the newest entries go, leaving a chain that is whole, only shorter
    const db = await Database.open(dataDir);
    const conn = await db.connect();
    const [{ n: last }] = await conn.all<{ n: bigint }>('SELECT max(n) AS n FROM audit');
    await conn.run(`DELETE FROM audit WHERE n > ${Number(last) - 3}`);
    await conn.close();
    db.close();

    app = await startTestApp({ dataDir });
    const op = apiClient(app, 'token-operator');
    const verdict = (await op.get(`/api/audit/verify?head=${kept.head}`)).json;
    expect(verdict).toMatchObject({ ok: false, firstBroken: null, missingHead: { n: Number(last), source: 'the head published beside the database before this start' } });
    const alarm = (await op.get('/api/alerts?state=active')).json.items.find((a: any) => a.rule === 'audit-trail-truncated');
    expect(alarm).toMatchObject({ severity: 'critical', enterpriseId: '_system' });
    await app.stop();
  });
});
