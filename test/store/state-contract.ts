import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Alert, Transition } from '../../services/alerts/model.ts';
import { AlertStore } from '../../services/alerts/alert-store.ts';
import { Silences } from '../../services/alerts/silences.ts';
import { AuditLog } from '../../services/audit/audit-log.ts';
import { EnterpriseStatuses } from '../../services/enterprises/status.ts';
import { HazardStore } from '../../services/hazards/hazard-store.ts';
import type { Hazard, HazardEvent } from '../../services/hazards/hazard.ts';
import { AckLinkStore } from '../../services/notify/ack-link-store.ts';
import { OutboxStore, type OutboxItem } from '../../services/notify/outbox-store.ts';
import { BaselineStore } from '../../services/rules/baselines.ts';
import type { Sql } from '../../services/store/sql.ts';

/**
 * What every database the service keeps its own state in must do: the embedded DuckDB file of a
 * single process and the PostgreSQL of a cluster run these same cases (state-duckdb.test.ts,
 * state-postgres.test.ts). Each case opens a fresh, empty database.
 */
export interface StateDatabase {
  /** a fresh, empty database */
  open(): Promise<Sql>;
}

const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);

const alert = (over: Partial<Alert> = {}): Alert => ({
  id: randomUUID(),
  key: 'gas-1/gas-lel',
  rule: 'gas-lel',
  ruleKind: 'threshold',
  enterpriseId: 'E1',
  deviceId: 'gas-1',
  metric: 'gas_lel',
  pointId: 'gas_lel',
  pointName: null,
  region: '321283103',
  industry: 'hazchem',
  severity: 'critical',
  state: 'active',
  acknowledged: false,
  raisedAt: T0,
  activatedAt: T0,
  ackAt: null,
  ackBy: null,
  clearedAt: null,
  closedAt: null,
  closedBy: null,
  disposition: null,
  closeNote: null,
  value: 45,
  peak: 45,
  threshold: 40,
  message: 'gas',
  escalationLevel: 0,
  remindedAt: null,
  overdueAt: null,
  flapping: false,
  peakSeverity: 'critical',
  feedback: null,
  review: null,
  feedbackDueAt: null,
  feedbackOverdueAt: null,
  ...over,
});

const line = (a: Alert, type: Transition['type'], at: number): Transition => ({ alertId: a.id, at, type, actor: 'rule:gas-lel' });

const item = (over: Partial<OutboxItem> = {}): OutboxItem => ({
  id: randomUUID(),
  unitId: 'ent-chem',
  channel: 'webhook:0',
  alertId: null,
  body: { notice: 'summary', title: 't', text: 'x', markdown: 'x', data: null },
  createdAt: T0,
  notBefore: T0,
  nextAttemptAt: T0,
  attempts: 0,
  status: 'pending',
  lastError: null,
  deliveredAt: null,
  notificationId: null,
  ...over,
});

export function stateStoreContract(name: string, db: StateDatabase) {
  describe(`the service's own state in ${name}`, () => {
    it('parameters by name: one name used twice, two thousand in one statement, a missing one named', async () => {
      const sql = await db.open();
      try {
        await sql.run('CREATE TABLE p (a BIGINT, b VARCHAR)');
        expect(await sql.run('INSERT INTO p VALUES ($a, $b), ($a + 1, $b)', { b: 'x', a: 1n })).toBe(2);
        // an alert commit's upsert binds ten names for each of 200 alerts
        const names = Array.from({ length: 1000 }, (_, i) => i);
        const params = Object.fromEntries(names.flatMap((i) => [[`a${i}`, BigInt(i + 10)], [`b${i}`, `v${i}`]]));
        expect(await sql.run(`INSERT INTO p VALUES ${names.map((i) => `($a${i}, $b${i})`).join(', ')}`, params)).toBe(1000);
        expect(await sql.all('SELECT a, b FROM p WHERE a IN ($x, $y) ORDER BY a', { y: 1009, x: 2 })).toEqual([{ a: 2, b: 'x' }, { a: 1009, b: 'v999' }]);
        await expect(sql.all('SELECT $a + $nothing AS n', { a: 1 })).rejects.toThrow('$nothing');
      } finally {
        await sql.close();
      }
    });

    it('alerts: the latest state of each alert, its record in order, open ones, one alert saved many times', async () => {
      const sql = await db.open();
      const store = await AlertStore.create(sql);
      const a = alert();
      const b = alert({ key: 'gas-2/gas-lel', deviceId: 'gas-2', severity: 'warning', raisedAt: T0 + 1000 });
      await store.saveMany([{ alert: a, transitions: [line(a, 'raised', T0)] }, { alert: b, transitions: [line(b, 'raised', T0 + 1000)] }]);
      const cleared = { ...a, state: 'cleared' as const, clearedAt: T0 + 5000 };
      const closed = { ...b, state: 'closed' as const, closedAt: T0 + 6000 };
      await store.saveMany([{ alert: cleared, transitions: [line(a, 'cleared', T0 + 5000)] }, { alert: closed, transitions: [line(b, 'closed', T0 + 6000)] }], [line(a, 'notified', T0 + 5001)]);
      expect((await store.open()).map((x) => [x.id, x.state])).toEqual([[a.id, 'cleared']]);
      const got = await store.get(a.id);
      expect(got!.alert).toEqual(cleared);
      expect(got!.transitions.map((t) => t.type)).toEqual(['raised', 'cleared', 'notified']);
      expect(await store.get('nope')).toBeNull();
      // a store opened again on the same data numbers its record lines on from the last
      const again = await AlertStore.create(sql);
      await again.save({ ...cleared, state: 'active' }, [line(a, 'reactivated', T0 + 7000)]);
      expect((await again.get(a.id))!.transitions.map((t) => t.type)).toEqual(['raised', 'cleared', 'notified', 'reactivated']);
      await sql.close();
    });

    it('alerts: a change whose companion write fails is not saved at all', async () => {
      const sql = await db.open();
      const store = await AlertStore.create(sql);
      const a = alert();
      await expect(store.saveMany([{ alert: a, transitions: [line(a, 'raised', T0)] }], [], async () => Promise.reject(new Error('fenced')))).rejects.toThrow('fenced');
      expect(await store.get(a.id)).toBeNull();
      expect(await store.open()).toEqual([]);
      await sql.close();
    });

    it('alerts: lists by state, enterprise, region prefix, severity, industry and time, newest first, page by page', async () => {
      const sql = await db.open();
      const store = await AlertStore.create(sql);
      const all = Array.from({ length: 7 }, (_, i) =>
        alert({ key: `d${i}/r`, deviceId: `d${i}`, raisedAt: T0 + i * 60_000, enterpriseId: i % 2 ? 'E2' : 'E1', region: i % 3 ? '321283103' : '320582001', severity: i % 2 ? 'warning' : 'critical', state: i === 6 ? 'closed' : 'active' }),
      );
      await store.saveMany(all.map((a) => ({ alert: a, transitions: [] })));
      const ids = (r: { items: Alert[] }) => r.items.map((a) => a.deviceId);
      expect(ids(await store.list({ limit: 100 }))).toEqual(['d6', 'd5', 'd4', 'd3', 'd2', 'd1', 'd0']);
      expect(ids(await store.list({ limit: 100, state: 'open' }))).toEqual(['d5', 'd4', 'd3', 'd2', 'd1', 'd0']);
      expect(ids(await store.list({ limit: 100, state: 'closed' }))).toEqual(['d6']);
      expect(ids(await store.list({ limit: 100, enterpriseIds: ['E2'] }))).toEqual(['d5', 'd3', 'd1']);
      expect(ids(await store.list({ limit: 100, enterpriseIds: [] }))).toEqual([]);
      expect(ids(await store.list({ limit: 100, regions: ['3205'] }))).toEqual(['d6', 'd3', 'd0']);
      expect(ids(await store.list({ limit: 100, severities: ['warning'], industries: ['hazchem'] }))).toEqual(['d5', 'd3', 'd1']);
      expect(ids(await store.list({ limit: 100, from: T0 + 60_000, to: T0 + 180_000 }))).toEqual(['d2', 'd1']);
      const first = await store.list({ limit: 3 });
      expect(ids(first)).toEqual(['d6', 'd5', 'd4']);
      const second = await store.list({ limit: 3, cursor: first.next! });
      expect(ids(second)).toEqual(['d3', 'd2', 'd1']);
      expect(ids(await store.list({ limit: 3, cursor: second.next! }))).toEqual(['d0']);
      expect((await store.between('E1', T0, T0 + 130_000)).map((a) => a.deviceId).sort()).toEqual(['d0', 'd2']);
      await sql.close();
    });

    it('alerts: counts per day starting at midnight China Standard Time', async () => {
      const sql = await db.open();
      const store = await AlertStore.create(sql);
      const day = 86_400_000;
      const cstMidnight = Date.UTC(2026, 11, 1) - 8 * 3_600_000;
      // one just before a CST midnight, two just after
      const times = [cstMidnight - 1, cstMidnight, cstMidnight + day - 1];
      await store.saveMany(times.map((t, i) => ({ alert: alert({ key: `k${i}`, raisedAt: t }), transitions: [] })));
      const counts = await store.countsOverTime({ from: cstMidnight - day, to: cstMidnight + day, bucketMs: day, offsetMs: 8 * 3_600_000 });
      expect(counts.map((c) => [c.bucket, c.count])).toEqual([
        [cstMidnight - day, 1],
        [cstMidnight, 2],
      ]);
      await sql.close();
    });

    it('outbox: due notices, a group changed together, who was told (kept after pruning), counts', async () => {
      const sql = await db.open();
      const store = await OutboxStore.create(sql);
      const a1 = item({ alertId: 'a1' });
      const a2 = item({ alertId: 'a1', unitId: 'twn-a', channel: 'email', notBefore: T0 + 60_000 });
      const later = item({ nextAttemptAt: T0 + 5000 });
      await store.add([a1, a2, later]);
      expect((await store.due(T0)).map((i) => i.id)).toEqual([a1.id]);
      expect((await store.due(T0 + 60_000)).map((i) => i.id).sort()).toEqual([a1.id, a2.id, later.id].sort());
      expect((await store.pending('ent-chem', 'webhook:0')).length).toBe(2);
      await store.update([a1.id, later.id], { status: 'delivered', deliveredAt: T0 + 10, attempts: 1, notificationId: 'n-1', lastError: null });
      const got = (await store.forAlert('a1')).find((i) => i.id === a1.id);
      expect(got).toEqual({ ...a1, status: 'delivered', deliveredAt: T0 + 10, attempts: 1, notificationId: 'n-1' });
      expect(await store.counts()).toEqual({ pending: 1, delivered: 2, expired: 0 });
      expect(await store.lastDelivered('ent-chem', 'webhook:0')).toBe(T0 + 10);
      expect(await store.lastDelivered('twn-a', 'email')).toBeNull();
      expect(await store.prune(T0 + 1)).toBe(2);
      expect(await store.counts()).toEqual({ pending: 1, delivered: 0, expired: 0 });
      expect(await store.told(['a1', 'a2'])).toEqual(new Map([['a1', ['ent-chem', 'twn-a']]]));
      // tried and waiting for the next attempt: found by unit and channel (an express row keeps its id)
      const failed = item({ alertId: 'a3', notificationId: 'n-3' });
      await store.add([failed]);
      await store.update([a2.id, failed.id], { attempts: 1, nextAttemptAt: T0 + 90_000, lastError: 'down' });
      expect((await store.retryingLanes(T0 + 60_000)).sort((x, y) => x.unitId.localeCompare(y.unitId))).toEqual([
        { unitId: 'ent-chem', channel: 'webhook:0' },
        { unitId: 'twn-a', channel: 'email' },
      ]);
      expect(await store.retryingLanes(T0 + 90_000)).toEqual([]);
      expect((await store.retryingIn([{ unitId: 'ent-chem', channel: 'webhook:0' }], T0 + 60_000)).map((i) => [i.id, i.notificationId])).toEqual([[failed.id, 'n-3']]);
      await sql.close();
    });

    it('outbox: a group whose companion write fails is not added at all', async () => {
      const sql = await db.open();
      const store = await OutboxStore.create(sql);
      store.retryMs = 10;
      store.within = async () => Promise.reject(new Error('fenced'));
      store.stop();
      await expect(store.add([item({ alertId: 'a1' })])).rejects.toThrow('fenced');
      expect(await store.counts()).toEqual({ pending: 0, delivered: 0, expired: 0 });
      expect(await store.told(['a1'])).toEqual(new Map());
      await sql.close();
    });

    it('owed notices: every change committed is owed until the outbox settles it, with its notices or alone; a failed commit owes nothing', async () => {
      const sql = await db.open();
      const alerts = await AlertStore.create(sql);
      const outbox = await OutboxStore.create(sql);
      const a = alert();
      const b = alert({ key: 'gas-2/gas-lel', deviceId: 'gas-2' });
      const [ra] = await alerts.saveMany([{ alert: a, transitions: [line(a, 'raised', T0)] }]);
      // a commit's lines that change no alert (a notification's outcome) owe nothing
      const owedNext = await alerts.saveMany([{ alert: { ...a, severity: 'warning' }, transitions: [line(a, 'severity_changed', T0 + 1000)] }, { alert: b, transitions: [line(b, 'raised', T0 + 1500)] }], [line(a, 'notified', T0 + 1001)]);
      expect(owedNext).toHaveLength(2);
      const [sa, rb] = owedNext;
      expect(ra).toBeLessThan(sa);
      await expect(alerts.saveMany([{ alert: b, transitions: [line(b, 'cleared', T0 + 2000)] }], [], async () => Promise.reject(new Error('fenced')))).rejects.toThrow('fenced');
      const owed = await alerts.owed('notify');
      expect(owed.map((o) => [o.n, o.transition.type, o.alert.id])).toEqual([[ra, 'raised', a.id], [sa, 'severity_changed', a.id], [rb, 'raised', b.id]]);
      // each with the alert as its change left it, not as it is now: routed by its own severity
      expect(owed.map((o) => o.alert.severity)).toEqual([a.severity, 'warning', b.severity]);
      expect(a.severity).not.toBe('warning');
      // with the notices it was owed, in their transaction: both or neither
      const failing = await OutboxStore.create(sql);
      failing.within = async () => Promise.reject(new Error('disk full'));
      failing.stop();
      await expect(failing.add([item({ alertId: a.id })], [ra])).rejects.toThrow('disk full');
      expect((await alerts.owed('notify')).map((o) => o.n)).toEqual([ra, sa, rb]);
      await outbox.add([item({ alertId: a.id })], [ra]);
      // nobody to tell: settled alone
      await outbox.add([], [sa]);
      expect((await alerts.owed('notify')).map((o) => o.n)).toEqual([rb]);
      expect((await outbox.forAlert(a.id)).length).toBe(1);
      // owed to the platforms too while uplinks are open: each settles its own
      alerts.owedTo = () => ['notify', 'forward'];
      const [cb] = await alerts.saveMany([{ alert: { ...b, state: 'cleared' }, transitions: [line(b, 'cleared', T0 + 3000)] }]);
      expect((await alerts.owed('forward')).map((o) => [o.n, o.transition.type])).toEqual([[cb, 'cleared']]);
      await alerts.settle('forward', [cb]);
      expect(await alerts.owed('forward')).toEqual([]);
      expect((await alerts.owed('notify')).map((o) => o.n)).toEqual([rb, cb]);
      await sql.close();
    });

    it('owes a change with the alert as the change left it (`told`), and reads lines owed before that was kept with the alert as it is now', async () => {
      const sql = await db.open();
      const alerts = await AlertStore.create(sql);
      const a = alert();
      // a critical reactivation whose alert fell to major in the same commit
      const [n] = await alerts.saveMany([{ alert: { ...a, severity: 'major' }, transitions: [line(a, 'reactivated', T0)], told: a }]);
      expect((await alerts.owed('notify')).map((o) => [o.n, o.alert.severity])).toEqual([[n, a.severity]]);
      // a line of the old layout (no alert kept with it)
      await sql.run('UPDATE notices_owed SET alert = NULL');
      expect((await alerts.owed('notify')).map((o) => o.alert.severity)).toEqual(['major']);
    });

    it('owed notices told twice at once (a partition taken over again while its first telling is written) are written once', async () => {
      const sql = await db.open();
      const alerts = await AlertStore.create(sql);
      const [first, second] = await Promise.all([OutboxStore.create(sql), OutboxStore.create(sql)]);
      const a = alert();
      const [n] = await alerts.saveMany([{ alert: a, transitions: [line(a, 'raised', T0)] }]);
      const written = await Promise.all([first.add([item({ alertId: a.id })], [n], { owed: true }), second.add([item({ alertId: a.id })], [n], { owed: true })]);
      expect(written.sort()).toEqual([false, true]);
      expect(await first.forAlert(a.id)).toHaveLength(1);
      expect(await alerts.owed('notify')).toEqual([]);
      // told as it is committed, a change's notices are written whatever was settled
      expect(await first.add([item({ alertId: a.id })], [n])).toBe(true);
      expect(await first.forAlert(a.id)).toHaveLength(2);
      await sql.close();
    });

    it('silences: kept across a restart with what was announced; the registry windows beside them', async () => {
      const sql = await db.open();
      const s = await Silences.create(sql);
      const one = await s.add({ enterpriseId: 'E1', deviceId: 'gas-1', rule: null, reason: '检修', by: 'op', from: T0, until: T0 + 3_600_000 }, T0);
      s.useRegistry([{ enterprise: 'E2', from: new Date(T0).toISOString(), to: new Date(T0 + 60_000).toISOString(), reason: 'w', by: 'x' }]);
      expect((await s.due(T0 + 1)).started.map((x) => x.enterpriseId).sort()).toEqual(['E1', 'E2']);
      await s.end(one.id, 'op', T0 + 1000);
      const again = await Silences.create(sql);
      const kept = again.all();
      expect(kept).toHaveLength(1);
      expect(kept[0]).toMatchObject({ id: one.id, endedAt: T0 + 1000, endedBy: 'op', startAnnounced: true });
      expect((await again.due(T0 + 2000)).ended.map((x) => x.id)).toEqual([one.id]);
      expect((await Silences.create(sql)).all()[0].endAnnounced).toBe(true);
      await sql.close();
    });

    it('baselines: the latest per device and metric, and each one set before it', async () => {
      const sql = await db.open();
      const b = await BaselineStore.create(sql);
      await b.add({ enterpriseId: 'E1', deviceId: 'd1', metric: 'filter_pressure_diff', value: 800.5, at: T0, by: 'a', note: null });
      await b.add({ enterpriseId: 'E1', deviceId: 'd1', metric: 'filter_pressure_diff', value: 900, at: T0 + 1, by: 'b', note: 'new bags' });
      await b.add({ enterpriseId: 'E1', deviceId: 'd1', metric: 'power_kw', value: 3, at: T0, by: 'a', note: null });
      const current = (await b.current()).map((x) => [x.metric, x.value, x.by]).sort();
      expect(current).toEqual([
        ['filter_pressure_diff', 900, 'b'],
        ['power_kw', 3, 'a'],
      ]);
      expect((await b.history('d1')).map((x) => x.value)).toEqual([900, 800.5, 3]);
      await sql.close();
    });

    it('audit: a chain that verifies, a head, and an altered entry named', async () => {
      const sql = await db.open();
      const log = await AuditLog.create(sql);
      for (let i = 0; i < 5; i++) void log.append({ at: T0 + i, actor: 'op', action: `a${i}`, subject: 's', detail: { i } });
      await log.append({ at: T0 + 9, actor: 'op', action: 'last', subject: 's', detail: null });
      expect((await log.head()).n).toBe(6);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 6, firstBroken: null });
      const reopened = await AuditLog.create(sql);
      expect(await reopened.head()).toEqual(await log.head());
      await sql.run(`UPDATE audit SET actor = 'someone else' WHERE n = 3`);
      expect((await reopened.verify()).firstBroken).toMatchObject({ n: 3, reason: 'its content was altered' });
      await sql.close();
    });

    it('enterprise statuses: the latest per enterprise after a restart, and the history', async () => {
      const sql = await db.open();
      const s = await EnterpriseStatuses.create(sql);
      await s.set({ enterpriseId: 'E1', status: 'suspended', reason: '停产整顿', by: 'reg', at: T0 });
      await s.set({ enterpriseId: 'E2', status: 'suspended', reason: 'x', by: 'reg', at: T0 + 1 });
      await s.set({ enterpriseId: 'E2', status: 'operating', reason: 'y', by: 'reg', at: T0 + 2 });
      const again = await EnterpriseStatuses.create(sql);
      expect(again.suspendedIds()).toEqual(['E1']);
      expect((await again.history('E2')).map((c) => c.status)).toEqual(['suspended', 'operating']);
      await sql.close();
    });

    it('hazards: saved with their record, listed by state, due ones found', async () => {
      const sql = await db.open();
      const store = await HazardStore.create(sql);
      const h = (id: string, state: Hazard['state'], dueAt: number): Hazard => ({
        ...{ id, enterpriseId: 'E1', region: '321283103', industry: 'hazchem', alertId: null, description: '泄漏', dueAt, state, openedAt: T0, openedBy: 'reg' },
        ...{ rectification: null, signoff: null, overdueAt: null, closedAt: null },
      });
      const event = (hazardId: string, at: number, type: HazardEvent['type']): HazardEvent => ({ hazardId, at, type, actor: 'reg' });
      await store.save({ hazard: h('h1', 'open', T0 + 10), event: event('h1', T0, 'opened') });
      await store.save({ hazard: h('h2', 'closed', T0 + 10), event: event('h2', T0, 'opened') });
      await store.save({ hazard: h('h2', 'closed', T0 + 10), event: event('h2', T0 + 5, 'signed_off') });
      expect((await store.get('h2'))!.events.map((e) => e.type)).toEqual(['opened', 'signed_off']);
      expect((await store.list({ enterpriseIds: ['E1'], state: 'open', now: T0, limit: 10 })).map((x) => x.id)).toEqual(['h1']);
      expect((await store.list({ enterpriseIds: ['E1'], state: 'overdue', now: T0 + 10, limit: 10 })).map((x) => x.id)).toEqual(['h1']);
      expect((await store.list({ enterpriseIds: ['E1'], state: 'all', now: T0, limit: 10 })).map((x) => x.id).sort()).toEqual(['h1', 'h2']);
      expect((await store.due(T0 + 10)).map((x) => x.id)).toEqual(['h1']);
      await sql.close();
    });

    it('acknowledge links: the first one made is kept, and one use wins', async () => {
      const sql = await db.open();
      const store = await AckLinkStore.create(sql);
      const row = { id: 'l1', alertIds: ['a1', 'a2'], unitId: 'u', recipient: '138****0000', channel: 'sms:0', createdAt: T0, expiresAt: T0 + 1000 };
      await store.add(row);
      await store.add({ ...row, expiresAt: T0 + 9999 });
      expect(await store.get('l1')).toEqual({ ...row, usedAt: null });
      const tries = await Promise.all([store.markUsed('l1', T0 + 1), store.markUsed('l1', T0 + 2)]);
      expect(tries.filter(Boolean)).toHaveLength(1);
      await store.prune(T0 + 1001);
      expect(await store.get('l1')).toBeUndefined();
      await sql.close();
    });
  });
}
