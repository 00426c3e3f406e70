import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyOutcome } from '../../services/alerts/lifecycle.ts';
import { alertJson, transitionJson, type Transition } from '../../services/alerts/model.ts';
import { policyFor } from '../../services/alerts/routing.ts';
import { Channels, type Channel, type Delivery } from '../../services/notify/channels/channel.ts';
import { Outbox, type Notice, type OutboxDeps } from '../../services/notify/outbox.ts';
import { OutboxStore, type OutboxItem } from '../../services/notify/outbox-store.ts';
import { Registry } from '../../services/registry/registry.ts';
import { parseRegistry } from '../../services/registry/load.ts';
import { Database } from '../../services/store/database.ts';
import type { Sql } from '../../services/store/sql.ts';
import { stringify } from 'yaml';
import { tempDir } from '../support/app.ts';
import { testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The outbox on its own, on the injected clock: grouping into digests, doubling retries, expiry,
 * one notification id per content across retries and restarts, and channel health. The channel is
 * a recording stand-in (the real ones are tested against real SMTP and HTTP receivers).
 */
class RecordingChannel implements Channel {
  readonly kind = 'webhook';
  sent: { unit: string; id: string; delivery: Delivery }[] = [];
  failing = false;
  attempts = 0;
  ids = ['webhook:0'];
  /** units whose receiver hangs until released */
  hanging = new Map<string, () => void>();
  idsOf = () => this.ids;
  target = () => 'test';
  async send(unit: { id: string }, id: string, delivery: Delivery) {
    this.attempts++;
    if (this.failing) throw new Error('receiver down');
    if (this.hanging.has(unit.id)) await new Promise<void>((r) => this.hanging.set(unit.id, r));
    this.sent.push({ unit: unit.id, id, delivery });
  }
  /** a hanging receiver answers (the messages it held arrive) and no longer hangs */
  release(unitId: string) {
    const answer = this.hanging.get(unitId)!;
    this.hanging.delete(unitId);
    answer();
  }
}

const registry = new Registry(parseRegistry(stringify(testRegistry())));
let groupWaitS = 10;
const policy = () => policyFor({ immediate: {}, byMetric: {}, escalation: [], groupWaitS, groupIntervalS: 60, notificationExpireH: 1, byIndustry: {} });
const alertNotice = (alertId: string, o: { unitId?: string; critical?: boolean } = {}): Notice => {
  const severity = o.critical ? 'critical' : 'major';
  const step = applyOutcome(undefined, { key: 'gas-1/gas-lel', change: 'raise', ruleId: 'gas-lel', ruleKind: 'threshold', enterpriseId: 'E', deviceId: 'gas-1', metric: 'gas_lel', severity, value: 30, peak: 30, threshold: 20, at: 0, message: 'gas' }, { newId: () => alertId, region: '', industry: 'hazchem' })!;
  return { unitId: o.unitId ?? 'ent-chem', channel: 'webhook:0', alertId, urgent: !!o.critical, enterpriseId: 'E', body: { notice: 'alert', alert: alertJson(step.alert, []), transition: transitionJson(step.transitions[0]) } };
};
const alertIdsOf = (d: Delivery) => JSON.stringify(d.event).match(/"id":"a\d+"/g)!.map((m) => m.slice(6, -1));

describe('the outbox', () => {
  let now: number;
  let db: Database;
  let store: OutboxStore;
  let channel: RecordingChannel;
  let recorded: Transition[];
  let health: [string, boolean][];
  const outbox = (extra: Partial<OutboxDeps> = {}) =>
    new Outbox({
      store,
      registry: () => registry,
      record: async (lines) => void recorded.push(...lines),
      channels: new Channels([channel]),
      clock: () => now,
      publicUrl: 'http://x',
      told: { note: () => {} },
      policy,
      counters: { notifications: { inc: () => {} } },
      log: { warn: () => {} },
      baseDelayMs: 1000,
      maxDelayMs: 8000,
      failuresBeforeAlert: 3,
      onChannelHealth: (unit, ch, failing) => health.push([`${unit.id} ${ch}`, failing]),
      ...extra,
    });

  /** the store's next `n` writes fail with `message` (`left` below 0: every one was met) */
  const failWrites = (n: number, message: string) => {
    type Write = (...a: unknown[]) => Promise<void>;
    const write = (store as unknown as { write: Write }).write.bind(store);
    const count = { left: n };
    (store as unknown as { write: Write }).write = async (...a) => {
      if (count.left-- > 0) throw new Error(message);
      return write(...a);
    };
    return count;
  };

  /** the store's writes of notices `which` picks wait (before their transaction) until the answer is called */
  const holdWritesOf = (which: (i: OutboxItem) => boolean) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    type Write = (conn: unknown, adds: { items: OutboxItem[] }[]) => Promise<boolean[]>;
    const write = (store as unknown as { write: Write }).write.bind(store);
    (store as unknown as { write: Write }).write = async (conn, adds) => {
      if (adds.some((g) => g.items.some(which))) await held;
      return write(conn, adds);
    };
    return release;
  };

  /** one notice queued to a failing receiver, past its group wait, tried `rounds` times */
  const failingFor = async (rounds: number) => {
    channel.failing = true;
    const o = outbox();
    await o.enqueue([alertNotice('a1')]);
    now += 10_000;
    for (let i = 0; i < rounds; i++) {
      await o.run();
      now += 8000;
    }
    return o;
  };

  beforeEach(async () => {
    now = Date.UTC(2026, 10, 29, 8);
    db = await Database.open(await tempDir());
    store = await OutboxStore.create(await db.sql());
    channel = new RecordingChannel();
    recorded = [];
    health = [];
    groupWaitS = 10;
  });
  afterEach(() => db.close());

  it('holds notices for the group wait, then sends them together as one digest', async () => {
    const o = outbox();
    await o.enqueue([alertNotice('a1'), alertNotice('a2')]);
    await o.run();
    expect(channel.sent).toEqual([]);
    now += 10_000;
    await o.run();
    expect(channel.sent).toHaveLength(1);
    expect(channel.sent[0].delivery.event).toMatchObject({ digest: true, count: 2 });
    expect(recorded.filter((l) => l.type === 'notified').map((l) => l.alertId).sort()).toEqual(['a1', 'a2']);
  });

  it('sends a grouped message with a critical alarm beside the write of its id, and writes its outcome once that is in', async () => {
    // at full load that write took 0.1 s, before every message that was not express
    const o = outbox();
    await o.enqueue([alertNotice('a1'), alertNotice('a2', { critical: true })]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const update = store.update.bind(store);
    store.update = async (ids, change) => {
      if (change.notificationId) await held;
      return update(ids, change);
    };
    now += 10_000;
    const run = o.run();
    await waitFor(() => channel.sent.length === 1, 5000, 'the digest sent while its id is being written');
    expect(recorded.filter((l) => l.type === 'notified')).toEqual([]);
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'pending', notificationId: null });
    release();
    await run;
    const id = channel.sent[0].delivery.notificationId;
    for (const a of ['a1', 'a2']) expect((await store.forAlert(a))[0]).toMatchObject({ status: 'delivered', notificationId: id });
    expect(recorded.filter((l) => l.type === 'notified').map((l) => l.alertId).sort()).toEqual(['a1', 'a2']);
  });

  it('fixes the id of a grouped message with no critical alarm before sending it', async () => {
    const o = outbox();
    await o.enqueue([alertNotice('a1'), alertNotice('a2')]);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let idWrites = 0;
    const update = store.update.bind(store);
    store.update = async (ids, change) => {
      if (change.notificationId) (idWrites++, await held);
      return update(ids, change);
    };
    now += 10_000;
    const run = o.run();
    await waitFor(() => idWrites === 1, 5000, 'the id being written');
    await new Promise((r) => setImmediate(r));
    expect(channel.attempts).toBe(0);
    release();
    await run;
    expect(channel.sent).toHaveLength(1);
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'delivered', notificationId: channel.sent[0].delivery.notificationId });
  });

  it('sends a grouped alarm again under a new id when its id could not be written, and writes no outcome for the first', async () => {
    const o = outbox();
    await o.enqueue([alertNotice('a1'), alertNotice('a2', { critical: true })]);
    const update = store.update.bind(store);
    let refused = 0;
    store.update = async (ids, change) => {
      if (change.notificationId && refused++ === 0) throw new Error('IO Error: could not write');
      return update(ids, change);
    };
    now += 10_000;
    await o.run();
    expect(channel.sent).toHaveLength(1);
    expect(recorded.filter((l) => l.type === 'notified')).toEqual([]);
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    await o.run();
    expect(channel.sent).toHaveLength(2);
    expect(channel.sent[1].delivery.notificationId).not.toBe(channel.sent[0].delivery.notificationId);
    expect(recorded.filter((l) => l.type === 'notified').map((l) => l.alertId).sort()).toEqual(['a1', 'a2']);
  });

  it('sends a group larger than the receiver takes as several notifications, the worst alerts first, each delivered and recorded on its own', async () => {
    // a receiver that takes at most 8 KB and refuses, for now, the message after the first
    const limited = Object.assign(channel, { maxBodyBytes: () => 8 * 1024 });
    let calls = 0;
    const send = limited.send.bind(limited);
    limited.send = async (unit, id, delivery) => {
      if (++calls === 2) throw new Error('HTTP 500');
      return send(unit, id, delivery);
    };
    const o = outbox();
    const notices = Array.from({ length: 30 }, (_, k) => alertNotice(`a${k}`, { critical: k === 29 }));
    // the critical's group wait is the others' (it joins their group)
    await o.enqueue(notices.map((n) => ({ ...n, urgent: false })));
    now += 10_000;
    await o.run();
    const ids = channel.sent.map((m) => m.delivery.notificationId);
    expect(channel.sent.length).toBeGreaterThan(1);
    expect(new Set(ids).size).toBe(ids.length);
    expect(channel.sent.every((m) => Buffer.byteLength(JSON.stringify(m.delivery.event)) <= 8 * 1024)).toBe(true);
    // the critical went first
    expect(alertIdsOf(channel.sent[0].delivery)[0]).toBe('a29');
    // what was delivered is recorded as delivered; the one refused waits for its retry
    const delivered = channel.sent.flatMap((m) => alertIdsOf(m.delivery));
    expect(recorded.filter((l) => l.type === 'notified').map((l) => l.alertId).sort()).toEqual([...delivered].sort());
    const failed = recorded.filter((l) => l.type === 'notification_failed').map((l) => l.alertId);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.some((a) => delivered.includes(a))).toBe(false);
    // the retry sends the refused message as it was, under its id; every change arrives once
    now += 1000;
    await o.run();
    const all = channel.sent.flatMap((m) => alertIdsOf(m.delivery));
    expect(all.sort()).toEqual(notices.map((n) => n.alertId).sort());
  });

  it('retries with a doubling delay under one notification id and one content, also after a restart', async () => {
    channel.failing = true;
    let o = outbox();
    await o.enqueue([alertNotice('a1')]);
    now += 10_000;
    await o.run(); // attempt 1 fails: next in 1 s
    now += 999;
    await o.run(); // not yet
    expect(channel.attempts).toBe(1);
    now += 1;
    await o.run(); // attempt 2 fails: next in 2 s
    now += 1999;
    await o.run();
    expect(channel.attempts).toBe(2);
    expect(recorded.filter((l) => l.type === 'notification_failed')).toHaveLength(1);
    // a new notice for the same unit arrives while the first is being retried
    await o.enqueue([alertNotice('a2')]);
    // "restart": a new outbox on the same store
    o = outbox();
    channel.failing = false;
    now += 1;
    await o.run();
    now += 60_000;
    await o.run();
    const first = channel.sent.find((s) => JSON.stringify(s.delivery.event).includes('"a1"'))!;
    // the group tried first went again alone, as it was; the newcomer went in a message of its own
    expect(first.delivery.event).toMatchObject({ id: 'a1' });
    expect(channel.sent.map((s) => s.delivery.notificationId)).toHaveLength(2);
    expect(new Set(channel.sent.map((s) => s.delivery.notificationId)).size).toBe(2);
    expect(health).toEqual([]);
  });

  it('gives up after notificationExpireH, records it, and tells the operators of a channel that keeps failing', async () => {
    const o = await failingFor(4);
    expect(health).toEqual([['ent-chem webhook:0', true]]);
    now += 3_600_000;
    await o.run();
    expect(recorded.some((l) => l.type === 'notification_expired')).toBe(true);
    expect((await store.counts()).expired).toBe(1);
  });

  it('tells the operators when notices expire undelivered though others were delivered between (a receiver refusing only its larger messages)', async () => {
    // the receiver refuses whatever carries a1, and takes everything else
    const send = channel.send.bind(channel);
    channel.send = async (unit, id, delivery) => {
      if (alertIdsOf(delivery).includes('a1')) throw new Error('HTTP 413');
      return send(unit, id, delivery);
    };
    const o = outbox();
    await o.enqueue([alertNotice('a1')]);
    now += 10_000;
    for (let k = 2; k < 8; k++) {
      await o.enqueue([alertNotice(`a${k}`)]);
      now += 70_000;
      await o.run();
    }
    // never three failures in a row: no channel alert yet
    expect(health).toEqual([]);
    now += 3_600_000;
    await o.run();
    expect(recorded.find((l) => l.type === 'notification_expired')?.alertId).toBe('a1');
    expect(health).toEqual([['ent-chem webhook:0', true]]);
    // the next delivery takes it down
    await o.enqueue([alertNotice('a9')]);
    now += 70_000;
    await o.run();
    expect(health).toEqual([['ent-chem webhook:0', true], ['ent-chem webhook:0', false]]);
  });

  it("clears at a channel's first delivery after a start the failing alert raised before it (the counts are the last process's)", async () => {
    groupWaitS = 0;
    const asked: string[] = [];
    const o = outbox({ channelAlertOpen: (unit, ch) => (asked.push(`${unit.id} ${ch}`), unit.id === 'ent-chem') });
    await o.enqueue([alertNotice('a1')]);
    await o.run();
    // past the unit's pacing interval
    now += 60_000;
    await o.enqueue([alertNotice('a2')]);
    await o.run();
    expect(channel.sent).toHaveLength(2);
    // cleared once, asked once
    expect(health).toEqual([['ent-chem webhook:0', false]]);
    expect(asked).toEqual(['ent-chem webhook:0']);
  });

  it('stops retrying a channel the unit no longer has, and takes its channel alert down', async () => {
    const o = await failingFor(3);
    expect(health).toEqual([['ent-chem webhook:0', true]]);
    channel.ids = [];
    const tried = channel.attempts;
    await o.run();
    expect(channel.attempts).toBe(tried);
    expect(health).toEqual([['ent-chem webhook:0', true], ['ent-chem webhook:0', false]]);
    expect(recorded.find((l) => l.type === 'notification_expired')?.detail).toMatchObject({ error: 'receiver down', reason: 'the unit no longer has this channel' });
    expect((await store.counts()).expired).toBe(1);
  });

  it('sends a critical raise with no group to wait for at once, alone, under the id it was written with, without a round', async () => {
    groupWaitS = 0;
    const o = outbox();
    await o.enqueue([alertNotice('a1', { critical: true })]);
    // no run(): the express lane takes it as soon as it is stored
    await waitFor(() => channel.sent.length === 1, 5000, 'the express delivery');
    const [item] = await store.forAlert('a1');
    expect(channel.sent[0].delivery.notificationId).toBe(item.id);
    await o.run();
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'delivered', notificationId: item.id, attempts: 1 });
    expect(recorded.filter((l) => l.type === 'notified')).toHaveLength(1);
  });

  it('lets a receiver that hangs hold up only its own lane: another unit\'s critical alarm goes meanwhile', async () => {
    groupWaitS = 0;
    const o = outbox();
    channel.hanging.set('ent-chem', () => {});
    await o.enqueue([alertNotice('a1')]);
    const first = o.run();
    await waitFor(() => channel.attempts === 1, 5000, 'the hanging delivery under way');
    // the township's alarm, critical and not: neither waits for the enterprise's receiver
    await o.enqueue([alertNotice('a2', { unitId: 'twn-a', critical: true })]);
    await o.enqueue([alertNotice('a3', { unitId: 'twn-a' })]);
    await waitFor(() => channel.sent.length === 2, 5000, 'the township told while the enterprise\'s receiver hangs');
    expect(channel.sent.map((s) => [s.unit, alertIdsOf(s.delivery)])).toEqual([['twn-a', ['a2']], ['twn-a', ['a3']]]);
    channel.release('ent-chem');
    await first;
    expect(channel.sent.map((s) => s.unit)).toEqual(['twn-a', 'twn-a', 'ent-chem']);
  });

  it('sends a lane\'s messages one at a time and in order: one goes right behind the one still sending, what queues after it goes as one message', async () => {
    groupWaitS = 0;
    const o = outbox();
    channel.hanging.set('ent-chem', () => {});
    await o.enqueue([alertNotice('a1', { critical: true })]);
    await waitFor(() => channel.attempts === 1, 5000, 'the first message under way');
    // the next notice waits in the lane right behind it (express); the ones after that are not
    // express: they wait, and group. Rounds meanwhile leave the sending lane out of their query
    // (a digest of thousands being sent is not read again every round)
    const found: string[][] = [];
    const due = store.due.bind(store);
    store.due = async (...a) => {
      const rows = await due(...a);
      found.push(rows.map((r) => r.alertId!));
      return rows;
    };
    await o.enqueue([alertNotice('a2')]);
    await o.enqueue([alertNotice('a3', { critical: true })]);
    await o.enqueue([alertNotice('a4')]);
    await waitFor(() => found.length > 0, 5000, 'a round');
    expect(found.flat()).toEqual([]);
    expect(channel.attempts).toBe(1);
    channel.release('ent-chem');
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery).sort())).toEqual([['a1'], ['a2'], ['a3', 'a4']]);
    expect((await store.counts()).delivered).toBe(4);
  });

  it('never lets a lane\'s newer message overtake one that failed: it waits for that one, tried again first (no sooner than the first retry delay), then goes (express ones too)', async () => {
    groupWaitS = 0;
    const o = outbox();
    channel.failing = true;
    await o.enqueue([alertNotice('a1')]);
    await o.run(); // fails: its next attempt in 1 s
    channel.failing = false;
    await o.enqueue([alertNotice('a2')]);
    await o.enqueue([alertNotice('a3', { critical: true })]);
    await o.run();
    // news for a receiver that just failed does not make it tried again at once
    expect(channel.attempts).toBe(1);
    expect(channel.sent).toEqual([]);
    now += 1000;
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery).sort())).toEqual([['a1'], ['a2', 'a3']]);
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it("keeps a message waiting in a lane behind one that fails from overtaking it: it goes after that one's retry", async () => {
    groupWaitS = 0;
    const o = outbox();
    // the first message is held by its receiver, then refused
    let refuse: (() => void) | undefined;
    const send = channel.send.bind(channel);
    channel.send = async (unit, id, delivery) => {
      if (refuse !== undefined || channel.attempts > 0) return send(unit, id, delivery);
      channel.attempts++;
      await new Promise<void>((r) => (refuse = r));
      throw new Error('receiver down');
    };
    await o.enqueue([alertNotice('a1', { critical: true })]);
    await waitFor(() => refuse !== undefined, 5000, 'the first under way');
    await o.enqueue([alertNotice('a2', { critical: true })]);
    refuse!();
    await o.run();
    expect(channel.sent).toEqual([]);
    now += 1000;
    await o.run();
    expect(channel.sent.flatMap((s) => alertIdsOf(s.delivery))).toEqual(['a1', 'a2']);
  });

  it('takes two express notices into a lane, the one it sends and one behind it: of critical raises queued at once the first goes, the second right after, the rest in one message', async () => {
    groupWaitS = 0;
    const o = outbox();
    channel.hanging.set('ent-chem', () => {});
    await Promise.all(['a1', 'a2', 'a3', 'a4', 'a5'].map((id) => o.enqueue([alertNotice(id, { critical: true })])));
    await waitFor(() => channel.attempts === 1, 5000, 'the first under way');
    channel.release('ent-chem');
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery).length)).toEqual([1, 1, 3]);
    expect(channel.sent[0].delivery.notificationId).toBe((await store.forAlert(alertIdsOf(channel.sent[0].delivery)[0]))[0].id);
  });

  it('reads a lane\'s pacing once however many notices for it arrive at once (a plant going offline together), and groups them', async () => {
    const o = outbox();
    const reads = { pending: 0, lastDelivered: 0 };
    const { pending, lastDelivered } = store;
    store.pending = (u, c) => (reads.pending++, pending.call(store, u, c));
    store.lastDelivered = (u, c) => (reads.lastDelivered++, lastDelivered.call(store, u, c));
    await Promise.all(Array.from({ length: 200 }, (_, i) => o.enqueue([alertNotice(`a${i}`)])));
    expect(reads).toEqual({ pending: 1, lastDelivered: 1 });
    now += 10_000;
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery).length)).toEqual([200]);
    // another lane's first notice reads its own
    await o.enqueue([alertNotice('b1', { unitId: 'twn-a' })]);
    expect(reads).toEqual({ pending: 2, lastDelivered: 2 });
  });

  it('keeps notices whose write failed and writes them once it can (their alert is already in the record)', async () => {
    const o = outbox();
    const failures = failWrites(2, 'IO Error: No space left on device');
    store.retryMs = 5;
    const queued = o.enqueue([alertNotice('a1')]);
    const second = o.enqueue([alertNotice('a2')]);
    expect(store.health()).toMatchObject({ ok: true });
    await Promise.all([queued, second]);
    // both failures were met and the notices written after them (in one write or two: when the
    // second add arrives depends on the machine's load)
    expect(failures.left).toBeLessThan(0);
    expect((await store.counts()).pending).toBe(2);
    expect(store.health()).toEqual({ ok: true, waiting: 0 });
  });

  /**
   * A connection whose transactions wait for `held` (a big write under way) or fail with `fail`;
   * `begun`: they read the `told` table before they wait (their snapshot is taken then).
   */
  const slowed = (sql: Sql, o: { held?: Promise<void>; fail?: string; begun?: boolean }): Sql => ({
    dialect: sql.dialect,
    all: (q, p) => sql.all(q, p),
    run: (q, p) => sql.run(q, p),
    insert: (t, c, r) => sql.insert(t, c, r),
    close: () => sql.close(),
    tx: (fn) => sql.tx(async (t) => {
      if (o.begun) await t.all('SELECT count(*) FROM told');
      await o.held;
      if (o.fail) throw new Error(o.fail);
      return fn(t);
    }),
  });

  /** An outbox (no group wait) whose store writes on an urgent connection and on one held until `release`. */
  const heldWrites = async (o: { begun?: boolean } = {}) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    store = await OutboxStore.create(slowed(await db.sql(), { held, ...o }), await db.sql());
    groupWaitS = 0;
    return { o: outbox(), release };
  };

  it('writes an alarm to be told now on a connection of its own: it does not wait behind a big write under way', async () => {
    const { o, release } = await heldWrites();
    // a plant's thousand notices being written (held), then another unit's critical alarm
    const wave = o.enqueue(Array.from({ length: 1000 }, (_, i) => alertNotice(`w${i}`)));
    await o.enqueue([alertNotice('a7777', { unitId: 'twn-a', critical: true })]);
    // (the wave's first notice goes beside the held write)
    await waitFor(() => channel.sent.some((s) => JSON.stringify(s.delivery.event).includes('"id":"a7777"')), 5000, 'the alarm sent');
    release();
    await wave;
    // one count of both (a notice may go from pending to delivered between two)
    const counts = await store.counts();
    expect(counts.pending + counts.delivered).toBe(1001);
  });

  it.each([
    ['a critical alarm', true],
    ['a notice that is not critical', false],
  ])('sends %s beside its write, not after it, and writes its outcome once its row is in', async (_, critical) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // the alarm is written on the urgent connection, anything else on the other
    const [normal, urgent] = [await db.sql(), await db.sql()];
    store = await OutboxStore.create(critical ? normal : slowed(normal, { held }), critical ? slowed(urgent, { held }) : urgent);
    groupWaitS = 0;
    const o = outbox();
    let written = false;
    const queued = o.enqueue([alertNotice('a1', { critical })], []).then(() => (written = true));
    await waitFor(() => channel.sent.length === 1, 5000, 'the notice sent while its write is held');
    expect(written).toBe(false);
    // (read on the connection not held: a read waits behind its connection's transaction)
    if (critical) expect(await store.forAlert('a1')).toEqual([]);
    expect(recorded.filter((l) => l.alertId === 'a1')).toEqual([]);
    release();
    await queued;
    await o.run();
    const [item] = await store.forAlert('a1');
    expect(item).toMatchObject({ status: 'delivered', attempts: 1, notificationId: channel.sent[0].delivery.notificationId });
    expect(recorded.filter((l) => l.alertId === 'a1').map((l) => l.type)).toEqual(['notified']);
  });

  it('writes a delivery into the alert\'s record before marking its row delivered: a kill between them sends it again, never leaves it unrecorded', async () => {
    groupWaitS = 0;
    const o = outbox();
    // the row's update never comes back (the service killed at that moment)
    const update = store.update.bind(store);
    store.update = (ids, change) => (change.status === 'delivered' ? new Promise<void>(() => {}) : update(ids, change));
    await o.enqueue([alertNotice('a1', { critical: true })]);
    await waitFor(() => recorded.some((l) => l.alertId === 'a1' && l.type === 'notified'), 5000, 'the delivery in the record');
    expect((await store.forAlert('a1'))[0]).toMatchObject({ status: 'pending', notificationId: channel.sent[0].delivery.notificationId });
  });

  it("does not hold a unit's next alarm behind the write of its clear: both go while that write is held, in order", async () => {
    // at full load a write took 0.3-0.6 s, and a unit's alarms 100 ms apart queued behind clears
    const { o, release } = await heldWrites();
    const clear = o.enqueue([alertNotice('a1')]);
    const raise = o.enqueue([alertNotice('a2', { critical: true })]);
    await waitFor(() => channel.sent.length === 2, 5000, 'the clear and the alarm sent while the clear is being written');
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a1'], ['a2']]);
    release();
    await Promise.all([clear, raise]);
    await o.run();
    expect((await store.counts()).delivered).toBe(2);
  });

  it('writes no outcome for an alarm sent beside a write that never lands (the service stops): its change stays owed', async () => {
    store = await OutboxStore.create(await db.sql(), slowed(await db.sql(), { fail: 'IO Error: No space left on device' }));
    (store as unknown as { write: () => Promise<void> }).write = async () => {
      throw new Error('IO Error: No space left on device');
    };
    store.retryMs = 5;
    groupWaitS = 0;
    const sql = await db.sql();
    await sql.run(`INSERT INTO notices_owed (owed_to, n, alert_id, line) VALUES ('notify', 7, 'a1', '{}')`);
    const o = outbox();
    const queued = o.enqueue([alertNotice('a1', { critical: true })], [7]).catch((e: Error) => e);
    await waitFor(() => channel.sent.length === 1, 5000, 'the alarm sent');
    store.stop();
    expect(await queued).toBeInstanceOf(Error);
    await o.stop();
    expect(await store.forAlert('a1')).toEqual([]);
    expect(recorded.filter((l) => l.alertId === 'a1')).toEqual([]);
    expect(await sql.all('SELECT n FROM notices_owed')).toEqual([{ n: 7 }]);
  });

  it('tells a change read as owed twice once, and sends an owed alarm only once its write shows it was still owed', async () => {
    // a partition taken over again (or by two owners in turn) while its first telling was being written
    groupWaitS = 0;
    const sql = await db.sql();
    await sql.run(`INSERT INTO notices_owed (owed_to, n, alert_id, line) VALUES ('notify', 7, 'a1', '{}')`);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    store = await OutboxStore.create(slowed(await db.sql(), { held }), slowed(await db.sql(), { held }));
    const o = outbox();
    const first = o.enqueue([alertNotice('a1', { critical: true })], [7], { owed: true });
    const again = o.enqueue([alertNotice('a1', { critical: true })], [7], { owed: true });
    await new Promise((r) => setImmediate(r));
    expect(channel.attempts).toBe(0);
    release();
    await Promise.all([first, again]);
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a1']]);
    expect(await store.forAlert('a1')).toHaveLength(1);
    expect(await sql.all('SELECT n FROM notices_owed')).toEqual([]);
    // the lane goes on: the next notice is sent (after the unit's group interval)
    await o.enqueue([alertNotice('a2')]);
    now += 60_000;
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a1'], ['a2']]);
  });

  it('leaves a change read as owed while its first telling is still being written to that telling', async () => {
    // a worker that took its partitions back reads the change its own telling is writing
    groupWaitS = 0;
    const sql = await db.sql();
    await sql.run(`INSERT INTO notices_owed (owed_to, n, alert_id, line) VALUES ('notify', 7, 'a1', '{}')`);
    const { o, release } = await heldWrites();
    const adds: number[][] = [];
    const add = store.add.bind(store);
    store.add = (items, settles, opts) => (adds.push(settles ?? []), add(items, settles, opts));
    const first = o.enqueue([alertNotice('a1')], [7]);
    await o.enqueue([alertNotice('a1')], [7], { owed: true });
    release();
    await first;
    expect(adds).toEqual([[7]]);
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a1']]);
    expect(await store.forAlert('a1')).toHaveLength(1);
  });

  it('keeps a lane\'s order when an alarm comes while the lane\'s earlier notice is still being written: it is not sent before that one', async () => {
    const { o, release } = await heldWrites();
    // the clear of an earlier alarm, being written; the next raise of the unit comes meanwhile
    const clear = o.enqueue([alertNotice('a1')]);
    const raise = o.enqueue([alertNotice('a2', { critical: true })]);
    release();
    await Promise.all([clear, raise]);
    await o.run();
    expect(channel.sent.flatMap((s) => alertIdsOf(s.delivery))).toEqual(['a1', 'a2']);
  });

  it("sends an alarm that comes while its lane still sends the unit's last news right behind it, not after a round's queries", async () => {
    groupWaitS = 0;
    const o = outbox();
    // the clear of the unit's earlier alarm, still with its receiver
    channel.hanging.set('ent-chem', () => {});
    await o.enqueue([alertNotice('a1')]);
    await waitFor(() => channel.attempts === 1, 5000, 'the clear under way');
    let rounds = 0;
    const due = store.due.bind(store);
    store.due = (...a) => (rounds++, due(...a));
    await o.enqueue([alertNotice('a2', { critical: true })]);
    channel.release('ent-chem');
    await waitFor(() => channel.sent.length === 2, 5000, 'the alarm sent after the clear');
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a1'], ['a2']]);
    // no round was needed to find it (under full load each of its queries waited 0.1-1 s)
    expect(rounds).toBe(0);
    await o.run();
    expect((await store.counts()).delivered).toBe(2);
  });

  it('sends what waited for a lane still sending the moment it is free, from what it wrote itself: no round\'s query needs to answer', async () => {
    groupWaitS = 0;
    const o = outbox();
    channel.hanging.set('ent-chem', () => {});
    await o.enqueue([alertNotice('a1', { critical: true })]);
    await waitFor(() => channel.attempts === 1, 5000, 'the first under way');
    // the one waiting right behind it
    await o.enqueue([alertNotice('a2')]);
    // from here no query answers (an event loop too busy to hear them)
    store.due = () => new Promise(() => {});
    store.retryingLanes = () => new Promise(() => {});
    await o.enqueue([alertNotice('a3')]);
    await o.enqueue([alertNotice('a4', { critical: true })]);
    channel.release('ent-chem');
    await waitFor(() => channel.sent.length === 3, 5000, 'what waited sent');
    expect(channel.sent.map((s) => alertIdsOf(s.delivery).sort())).toEqual([['a1'], ['a2'], ['a3', 'a4']]);
  });

  it('writes a lane\'s earlier notices still waiting for the queue together with its alarm, so the alarm need not wait for the queue', async () => {
    store = await OutboxStore.create(await db.sql(), await db.sql());
    groupWaitS = 0;
    const o = outbox();
    // another unit's notice being written (held before its transaction), this unit's clear
    // waiting in the queue behind it
    const release = holdWritesOf((i) => i.unitId === 'twn-a');
    const other = o.enqueue([alertNotice('a9', { unitId: 'twn-a' })]);
    await waitFor(() => (store as unknown as { writing: boolean }).writing, 5000, 'the first write under way');
    const clear = o.enqueue([alertNotice('a1')]);
    await waitFor(() => store.health().waiting === 1, 5000, 'the clear in the queue');
    await o.enqueue([alertNotice('a2', { critical: true })]);
    await clear;
    // both told while the other unit's write is still held (its notice went beside it)
    await waitFor(() => channel.sent.length === 3, 5000, 'the clear and the alarm sent');
    expect(channel.sent.flatMap((s) => alertIdsOf(s.delivery)).filter((id) => id !== 'a9')).toEqual(['a1', 'a2']);
    release();
    await other;
    await o.run();
    expect(store.health()).toEqual({ ok: true, waiting: 0 });
  });

  it("does not let an alarm written on its own connection overtake a notice queued before it and still being written, though a round finds it beside older ones", async () => {
    // helper-42: a critical rise went before its alert's earlier change on the same lane (840
    // times in a run); a round sent notices 4-16 with 20-21 while 17-19 were still being written
    groupWaitS = 0;
    store = await OutboxStore.create(await db.sql(), await db.sql());
    const release = holdWritesOf((i) => i.alertId === 'a4');
    const o = outbox();
    channel.hanging.set('ent-chem', () => {});
    await o.enqueue([alertNotice('a1', { critical: true })]);
    await waitFor(() => channel.attempts === 1, 5000, 'the first under way');
    // one waits behind it; the next is written and waits for the lane; the one after is being written
    await o.enqueue([alertNotice('a2')]);
    await o.enqueue([alertNotice('a3')]);
    const beingWritten = o.enqueue([alertNotice('a4')]);
    await o.enqueue([alertNotice('a5', { critical: true })]);
    channel.release('ent-chem');
    await waitFor(() => channel.sent.length === 2, 5000, 'the first two sent');
    await o.run();
    expect(channel.sent.map((m) => alertIdsOf(m.delivery))).toEqual([['a1'], ['a2']]);
    release();
    await beingWritten;
    await o.run();
    const messages = channel.sent.map((m) => alertIdsOf(m.delivery).sort());
    expect(messages).toEqual([['a1'], ['a2'], ['a3', 'a4', 'a5']]);
  });

  it('writes an alarm with the others when its own connection fails, and still tells it', async () => {
    store = await OutboxStore.create(await db.sql(), slowed(await db.sql(), { fail: 'IO Error: could not write' }));
    groupWaitS = 0;
    const o = outbox();
    await o.enqueue([alertNotice('a7777', { critical: true })]);
    await o.run();
    expect(channel.sent.map((s) => alertIdsOf(s.delivery))).toEqual([['a7777']]);
    expect(store.health()).toEqual({ ok: true, waiting: 0 });
  });

  it('writes again at once a group whose transaction began before an alarm\'s write of the same alert committed (DuckDB says so as the statement runs)', async () => {
    const { o, release } = await heldWrites({ begun: true });
    store.retryMs = 3_600_000;
    // the alert's earlier notice: its transaction begins, then waits
    const earlier = o.enqueue([alertNotice('a1')]);
    // the same alert, critical now, to the same unit by another channel (a lane with nothing
    // before it): written on the urgent connection first
    await o.enqueue([{ ...alertNotice('a1', { critical: true }), channel: 'webhook:1' }]);
    release();
    await earlier;
    expect(Object.values(await store.counts()).reduce((a, b) => a + b)).toBe(2);
    expect(store.health()).toEqual({ ok: true, waiting: 0 });
  });

  it('writes again at once a group that lost a race with an alarm\'s write (both told a unit of one alert): no retry delay, nothing said in health', async () => {
    const o = outbox();
    const races = failWrites(1, 'TransactionContext Error: Failed to commit: PRIMARY KEY or UNIQUE constraint violation: duplicate key "a1, ent-chem"');
    store.retryMs = 3_600_000;
    await o.enqueue([alertNotice('a1')]);
    expect(races.left).toBeLessThan(0);
    expect((await store.counts()).pending).toBe(1);
    expect(store.health()).toEqual({ ok: true, waiting: 0 });
  });

  it('says so in health while it cannot write, and gives up only when stopped', async () => {
    const o = outbox();
    (store as unknown as { write: () => Promise<void> }).write = async () => {
      throw new Error('IO Error: No space left on device');
    };
    store.retryMs = 5;
    const queued = o.enqueue([alertNotice('a1')]).catch((e: Error) => e);
    await waitFor(() => !store.health().ok, 5000, 'the failure in health');
    expect(store.health()).toMatchObject({ ok: false, waiting: 1, error: 'IO Error: No space left on device' });
    store.stop();
    expect(await queued).toBeInstanceOf(Error);
  });
});
