import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, THREADED } from '../support/app.ts';
import { CHEM } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

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
      await app.stop();
    }
  });
});
