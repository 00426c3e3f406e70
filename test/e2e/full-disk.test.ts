import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../services/audit/audit-log.ts';
import { AckLinkStore } from '../../services/notify/ack-link-store.ts';
import { Database } from '../../services/store/database.ts';
import { apiClient, connectDevice, startTestApp, tempDir, THREADED } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** gas-2 raises a critical alarm; the webhook hears it with its acknowledge link (its address on this service). */
async function alarmWithLink(app: Awaited<ReturnType<typeof startTestApp>>, hooks: Awaited<ReturnType<typeof startReceiver>>) {
  const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
  await dev.telemetry({ seq: 1, values: { gas_lel: 45 } });
  const told = await waitFor(() => hooks.requests.find((r) => (r.body as { ackUrl?: string }).ackUrl), 5000, 'the alarm with its acknowledge link');
  const { id, ackUrl } = told.body as { id: string; ackUrl: string };
  return { dev, id, link: `http://127.0.0.1:${app.ports.http}${new URL(ackUrl).pathname}` };
}

/**
 * A PUBACK means stored, also when the disk fills up. DATA_DIR sits on a small tmpfs of its own
 * (the tests run as root, as CI does); a junk file fills it while a device sends at QoS 1. The
 * device gets no PUBACK, health says degraded, and once the disk has room again the message is
 * acknowledged (the alert record's next try succeeds) or, if it was refused, its resend (same seqs)
 * is accepted and stored, not acknowledged as a duplicate of what was never stored.
 */
describe('a full disk', () => {
  let mountPoint: string;
  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'rm-full-'));
    // no silent skip: without a mount this test fails and says why
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mountPoint]);
  });
  afterAll(async () => {
    execFileSync('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });

  it('withholds the PUBACK, then stores the resend once the disk has room again', async () => {
    const dataDir = join(mountPoint, 'data');
    await mkdir(dataDir);
    const app = await startTestApp({ ...THREADED, dataDir });
    try {
      const api = apiClient(app);
      const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
      await dev.telemetry({ seq: 1, values: { gas_lel: 1 } });
      // fill the disk (the write itself ends with ENOSPC once it is full)
      await writeFile(join(mountPoint, 'junk'), Buffer.alloc(40 * 1024 * 1024)).catch(() => {});
      const batch = Array.from({ length: 1000 }, (_, i) => ({ ts: Date.now() + i, seq: 100 + i, values: { gas_lel: 30 } }));
      let acked = false;
      dev.client.publish(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify(batch), { qos: 1 }, (err) => (acked = !err));
      // nothing can commit, so no PUBACK. Which write meets the full disk first is the disk's
      // business: the alert record (it commits first; the PUBACK waits while the book tries again)
      // or the readings store (the gateway refuses the message and drops the link)
      await waitFor(async () => (await api.get('/api/health')).json.status === 'degraded', 10_000, 'health degraded');
      const health = (await api.get('/api/health')).json;
      expect(health.alerts.ok && health.store.ok, JSON.stringify(health)).toBe(false);
      expect(acked).toBe(false);

      await rm(join(mountPoint, 'junk'));
      await waitFor(() => acked || !dev.client.connected, 15_000, 'the PUBACK, or the link dropped');
      if (!acked) {
        // refused: the device sends the same readings again, and they are accepted (never stored
        // the first time, so not duplicates)
        const again = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
        await again.client.publishAsync(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify(batch), { qos: 1 });
        expect(again.rejects.filter((r) => r.error === 'DUPLICATE_SEQ')).toEqual([]);
        await again.end();
      }
      const points = (await apiClient(app, 'token-operator').get(`/api/telemetry?device=gas-1&from=${Date.now() - 60_000}&limit=100000`)).json.points as { seq: number }[];
      const seqs = points.map((p) => p.seq).filter((s) => s >= 100);
      expect(new Set(seqs).size).toBe(1000);
      // the alarm those readings raised reached the record too, and health recovers
      await waitFor(async () => (await api.get('/api/health')).json.status === 'ok', 10_000, 'healthy again');
      const alerts = (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items;
      expect(alerts.some((a: { deviceId: string; metric: string }) => a.deviceId === "gas-1" && a.metric === "gas_lel"), JSON.stringify(alerts)).toBe(true);
      await dev.end();
    } finally {
      // room again before the stop, whatever failed: the stop's last commits, and the next test, need it
      await rm(join(mountPoint, 'junk'), { force: true });
      await app.stop();
    }
  });

  it('acknowledges through a link tapped on a full disk, and uses the link up only once the acknowledgement is written', async () => {
    const dataDir = join(mountPoint, 'data-link');
    await mkdir(dataDir);
    const hooks = await startReceiver();
    const app = await startTestApp({ dataDir, registry: testRegistry({ webhookUrl: hooks.url }) });
    try {
      const { dev, id, link } = await alarmWithLink(app, hooks);
      await writeFile(join(mountPoint, 'junk'), Buffer.alloc(40 * 1024 * 1024)).catch(() => {});
      const api = apiClient(app, 'token-operator');
      const first = await fetch(link, { method: 'POST' });
      expect(first.status).toBe(200);
      const page = await first.text();
      expect(page).toContain('已确认 1 条报警');
      // the service still answers: the gateway and the API are up
      expect((await apiClient(app).get('/api/health')).status).toBeLessThan(600);
      expect(dev.client.connected).toBe(true);
      await rm(join(mountPoint, 'junk'));
      await waitFor(async () => ((await api.get(`/api/alerts/${id}`)).json.history ?? []).some((t: { type: string; recorded?: boolean }) => t.type === 'acknowledged' && t.recorded !== false), 15_000, 'the acknowledgement recorded');
      expect((await api.get(`/api/alerts/${id}`)).json).toMatchObject({ acknowledged: true, ackBy: 'ack-link:ent-chem' });
      // tapped again: nothing more to acknowledge; once what it did is recorded, the link is used
      const again = await fetch(link, { method: 'POST' });
      expect([200, 409]).toContain(again.status);
      expect((await fetch(link, { method: 'POST' })).status).toBe(409);
      await dev.end();
    } finally {
      await rm(join(mountPoint, 'junk'), { force: true });
      await app.stop();
      await hooks.close();
    }
  });

  it('stores audit entries while their head cannot be published beside the database, leaves no half-written head, and publishes it once there is room', async () => {
    const headDir = join(mountPoint, 'head');
    await mkdir(headDir);
    const db = await Database.open(await tempDir());
    const sql = await db.sql();
    try {
      const log = await AuditLog.create(sql, join(headDir, 'audit-head.json'));
      await log.append({ at: 1, actor: 'system', action: 'test', subject: 's', detail: {} });
      await writeFile(join(mountPoint, 'junk'), Buffer.alloc(40 * 1024 * 1024)).catch(() => {});
      // the entry is stored (the caller is not told it was lost); health says the head lags
      await log.append({ at: 2, actor: 'system', action: 'test', subject: 's', detail: {} });
      expect((await log.head()).n).toBe(2);
      expect(log.problem).toMatch(/audit head could not be published.*(ENOSPC|no space)/i);
      expect(await readdir(headDir)).toEqual(['audit-head.json']);
      expect(JSON.parse(await readFile(join(headDir, 'audit-head.json'), 'utf8')).n).toBe(1);
      await rm(join(mountPoint, 'junk'));
      // published again on its own once there is room, with nothing more appended
      await waitFor(async () => JSON.parse(await readFile(join(headDir, 'audit-head.json'), 'utf8')).n === 2, 10_000, 'the head published');
      expect(log.problem).toBeNull();
      await log.append({ at: 3, actor: 'system', action: 'test', subject: 's', detail: {} });
      expect(JSON.parse(await readFile(join(headDir, 'audit-head.json'), 'utf8')).n).toBe(3);
      expect((await log.verify()).ok).toBe(true);
      log.close();
    } finally {
      await rm(join(mountPoint, 'junk'), { force: true });
      await sql.close();
      db.close();
    }
  });

  it('answers a tap whose acknowledgement was written but whose link could not be marked used: acknowledged, the link still usable', async () => {
    const hooks = await startReceiver();
    const app = await startTestApp({ registry: testRegistry({ webhookUrl: hooks.url }) });
    try {
      const { dev, id, link } = await alarmWithLink(app, hooks);
      // the record takes the step; the write that marks the link used meets a full disk
      const store = (app.ackLinks as unknown as { deps: { store: { markUsed: (...a: unknown[]) => Promise<boolean> } } }).deps.store;
      const markUsed = store.markUsed.bind(store);
      store.markUsed = async () => {
        throw new Error('IO Error: No space left on device');
      };
      const first = await fetch(link, { method: 'POST' });
      expect(first.status).toBe(200);
      expect(await first.text()).toContain('已确认 1 条报警');
      expect((await apiClient(app, 'token-operator').get(`/api/alerts/${id}`)).json).toMatchObject({ acknowledged: true, ackBy: 'ack-link:ent-chem' });
      // room again: the next tap finds nothing more to acknowledge and uses the link up
      store.markUsed = markUsed;
      expect((await fetch(link, { method: 'POST' })).status).toBe(200);
      expect((await fetch(link, { method: 'POST' })).status).toBe(409);
      await dev.end();
    } finally {
      await app.stop();
      await hooks.close();
    }
  });

  it('marks an acknowledge link used or says it could not, without taking the process down', async () => {
    // DuckDB 1.5 aborted the whole process (the gateway with it) when an `UPDATE … RETURNING` on a
    // table with a key could not commit; marking a link used was one
    const dir = join(mountPoint, 'data-store');
    await mkdir(dir);
    const db = await Database.open(dir);
    const sql = await db.sql();
    try {
      const links = await AckLinkStore.create(sql);
      await links.add({ id: 'link-1', alertIds: ['a'], unitId: 'u', recipient: 'r', channel: 'sms', createdAt: 0, expiresAt: 10 });
      await sql.run('CREATE TABLE scratch (x VARCHAR)');
      await writeFile(join(mountPoint, 'junk'), Buffer.alloc(40 * 1024 * 1024)).catch(() => {});
      // the last page of the log may still take a write or two: until one is refused
      await waitFor(async () => sql.run('INSERT INTO scratch VALUES ($x)', { x: '' }).then(() => false, () => true), 20_000, 'a write refused');
      await expect(links.markUsed('link-1', 5)).rejects.toThrow(/space/);
      await rm(join(mountPoint, 'junk'));
      expect(await links.markUsed('link-1', 6)).toBe(true);
      expect(await links.markUsed('link-1', 7)).toBe(false);
      expect((await links.get('link-1'))?.usedAt).toBe(6);
    } finally {
      await rm(join(mountPoint, 'junk'), { force: true });
      await sql.close();
      db.close();
    }
  });
});
