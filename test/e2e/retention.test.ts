import { describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Retention: readings older than RETENTION_DAYS leave the embedded store, and notifications
 * delivered longer ago than OUTBOX_RETENTION_DAYS leave the outbox; what is younger, and every
 * notification still pending, stays. Time moves through the injected clock.
 */
describe('retention', () => {
  it('deletes old readings and old delivered notifications, and nothing else', async () => {
    const day = 86_400_000;
    let now = Date.now();
    const hooks = await startReceiver();
    const app = await startTestApp({ clock: () => now, registry: testRegistry({ webhookUrl: hooks.url }), settings: { RETENTION_DAYS: 30, OUTBOX_RETENTION_DAYS: 7 } });
    try {
      const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
      // a buffered reading from 40 days ago, one from 10 days ago, and a raise that is notified now
      await dev.telemetry({ ts: now - 40 * day, seq: 1, values: { gas_lel: 1 } });
      await dev.telemetry({ ts: now - 10 * day, seq: 2, values: { gas_lel: 2 } });
      await dev.telemetry({ seq: 3, values: { gas_lel: 45 } });
      const api = apiClient(app, 'token-operator');
      const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: { metric: string }) => a.metric === 'gas_lel'), 5000, 'alert');
      // past the unit's group wait: the outbox sends
      now += 1000;
      await waitFor(async () => (await api.get(`/api/alerts/${alert.id}`)).json.notifications.some((n: { status: string }) => n.status === 'delivered'), 5000, 'delivered');
      const seqs = async () => (await api.get(`/api/telemetry?device=gas-1&metric=gas_lel&from=${now - 60 * day}&to=${now + day}`)).json.points.map((p: { seq: number }) => p.seq);
      expect(await seqs()).toEqual([1, 2, 3]);

      expect(await app.retention()).toEqual({ readings: 1, notifications: 0 });
      expect(await seqs()).toEqual([2, 3]);
      // eight days on, the delivered notifications go; the record keeps their outcome
      now += 8 * day;
      const removed = await app.retention();
      expect(removed.notifications).toBeGreaterThan(0);
      const after = (await api.get(`/api/alerts/${alert.id}`)).json;
      expect(after.notifications).toEqual([]);
      expect(after.history.some((h: { type: string }) => h.type === 'notified')).toBe(true);
      await dev.end();
    } finally {
      await app.stop();
      await hooks.close();
    }
  });
});
