import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../domain/types.ts';
import { AlertBook } from '../../services/alerts/alert-book.ts';
import { AlertStore } from '../../services/alerts/alert-store.ts';
import type { Alert, AlertChange } from '../../services/alerts/model.ts';
import { Database } from '../../services/store/database.ts';
import { tempDir } from '../support/app.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The alert book on its own: changes applied at once and committed in batches, live listeners
 * before the commit and the others after it, every listener isolated, and nothing decided lost when
 * a commit fails (it goes with the next one).
 */
const outcome = (over: Partial<Outcome> = {}): Outcome => ({
  key: 'gas-1/gas-lel',
  change: 'raise',
  ruleId: 'gas-lel',
  ruleKind: 'threshold',
  enterpriseId: 'E',
  deviceId: 'gas-1',
  metric: 'gas_lel',
  severity: 'critical',
  value: 45,
  peak: 45,
  threshold: 40,
  at: Date.UTC(2026, 10, 29, 8),
  message: 'gas',
  ...over,
});

describe('the alert book', () => {
  let db: Database;
  let store: AlertStore;
  let errors: string[];
  beforeEach(async () => {
    db = await Database.open(await tempDir());
    store = await AlertStore.create(await db.sql());
    errors = [];
  });
  afterEach(() => db.close());
  /** The record's disk, full while `full`: every commit fails with 'disk full'. */
  const fullDisk = (full: boolean) => {
    const disk = { full, store: { saveMany: (...args: Parameters<AlertStore['saveMany']>) => (disk.full ? Promise.reject(new Error('disk full')) : store.saveMany(...args)) } };
    return disk;
  };
  /** The record's commits, each held until the test lets it go (`gates`); `seen` hears each one's changes first. */
  const heldCommits = (seen: (changes: Parameters<AlertStore['saveMany']>[0]) => void = () => {}) => {
    const gates: (() => void)[] = [];
    const gated = {
      saveMany: async (...args: Parameters<AlertStore['saveMany']>) => {
        seen(args[0]);
        await new Promise<void>((r) => gates.push(r));
        return store.saveMany(...args);
      },
    };
    return { gates, gated };
  };
  const book = (s: Pick<AlertStore, 'saveMany'> = store) => new AlertBook(s as AlertStore, () => ({ region: '321283', industry: 'hazchem', review: { from: null, withinMs: 0 } }), () => Date.UTC(2026, 10, 29, 8), (err) => errors.push(err.message));

  it("keeps one enterprise's alert from another's outcomes under the same key (a device id that passed from one to the other)", async () => {
    const b = book();
    await b.handle([outcome({ enterpriseId: 'A' })]);
    await b.handle([outcome({ enterpriseId: 'A', change: 'clear', severity: null, message: 'the device is no longer in the registry' })]);
    const [first] = b.openAlerts();
    expect(first).toMatchObject({ enterpriseId: 'A', state: 'cleared' });
    // the same key, another enterprise's device: a new alarm of its own, the first left as it was
    await b.handle([outcome({ enterpriseId: 'B', value: 50 })]);
    const open = b.openAlerts();
    expect(open.map((a) => [a.enterpriseId, a.state])).toEqual([
      ['A', 'cleared'],
      ['B', 'active'],
    ]);
    expect(b.current(first.id)).toMatchObject({ state: 'cleared', value: 45 });
    // and its clear clears its own
    await b.handle([outcome({ enterpriseId: 'B', change: 'clear', severity: null })]);
    expect(b.openAlerts().map((a) => [a.enterpriseId, a.state])).toEqual([
      ['A', 'cleared'],
      ['B', 'cleared'],
    ]);
    const recorded = await store.open();
    expect(recorded.map((a) => a.enterpriseId).sort()).toEqual(['A', 'B']);
  });

  it('tells live listeners at once, the others once the record is committed, each of them isolated', async () => {
    const b = book();
    const heard: string[] = [];
    b.onLive(() => heard.push('live'));
    b.onChange(() => {
      throw new Error('a broken listener');
    });
    let id = '';
    b.onChange((c: AlertChange) => (heard.push('committed'), (id = c.alert.id)));
    const done = b.handle([outcome()]);
    expect(heard).toEqual(['live']);
    await done;
    expect(heard).toEqual(['live', 'committed']);
    expect(await store.get(id)).not.toBe(null);
    expect(errors).toEqual(['a broken listener']);
  });

  it('keeps the changes of a failed commit for the next one, and says so in health', async () => {
    const disk = fullDisk(true);
    const b = book(disk.store);
    const committed: string[] = [];
    b.onChange((c) => committed.push(c.transition.type));
    await expect(b.handle([outcome()])).rejects.toThrow('disk full');
    expect(b.health()).toMatchObject({ ok: false, error: 'disk full', waiting: 1 });
    expect(committed).toEqual([]);
    disk.full = false;
    await b.handle([outcome({ change: 'clear', severity: null, value: 1, at: Date.UTC(2026, 10, 29, 8, 1) })]);
    expect(committed).toEqual(['raised', 'cleared']);
    expect(b.health()).toMatchObject({ ok: true, waiting: 0 });
    const [open] = await store.open();
    expect(open).toMatchObject({ state: 'cleared', severity: 'critical' });
  });

  it('says when everything handled so far is in the record, however many tries that took', async () => {
    let fail = true;
    let tries = 0;
    const flaky = { saveMany: (...args: Parameters<AlertStore['saveMany']>) => (tries++, fail ? Promise.reject(new Error('disk full')) : store.saveMany(...args)) };
    const b = book(flaky);
    await b.whenRecorded(); // nothing handled: nothing to wait for
    let recorded = false;
    await expect(b.handle([outcome()])).rejects.toThrow('disk full');
    const waiting = b.whenRecorded().then(() => (recorded = true));
    // the book's own retry (a second later) fails as well: still not recorded
    await waitFor(() => tries >= 2, 20_000, 'the retry refused');
    expect(recorded).toBe(false);
    fail = false;
    await waiting;
    expect(await store.open()).toHaveLength(1);
    await b.whenRecorded();
  });

  it('commits critical alarms ahead of a storm larger than one transaction, keeps each alert\'s steps in order, and counts a step recorded only once every step before it is', async () => {
    const calls: string[][] = [];
    const { gates, gated } = heldCommits((changes) => calls.push(changes.map((c) => `${c.alert.key} ${c.transitions.map((t) => t.type).join()}`)));
    const b = book(gated);
    const first = b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })]);
    await waitFor(() => calls.length === 1, 20_000, 'the first commit under way');
    // meanwhile: a plant's 2 500 devices offline, one of them worse, then a gas alarm elsewhere
    const storm = b.handle(Array.from({ length: 2500 }, (_, i) => outcome({ key: `m${i}/offline`, deviceId: `m${i}`, severity: 'major' })));
    const worse = b.handle([outcome({ key: 'm1/offline', deviceId: 'm1', severity: 'critical', value: 50, peak: 50 })]);
    const alarm = b.handle([outcome()]);
    let all = false;
    void b.whenRecorded().then(() => (all = true));
    gates.shift()!();
    await waitFor(() => calls.length === 2 && gates.length === 1, 20_000, 'the next commit');
    // the gas alarm first; m1's change stays behind m1's raise, and goes in the same transaction
    // (the alert is saved as it is now: its record must not lag behind its row)
    expect(calls[1].slice(0, 3)).toEqual(['gas-1/gas-lel raised', 'm0/offline raised', 'm1/offline raised']);
    expect(calls[1].at(-1)).toMatch(/^m1\/offline (?!raised)/);
    expect(calls[1]).toHaveLength(2001);
    gates.shift()!();
    await waitFor(() => calls.length === 3 && gates.length === 1, 20_000, 'the last commit');
    const m1 = b.openAlerts().find((a) => a.key === 'm1/offline')!;
    const saved = (await store.get(m1.id))!;
    expect(saved.alert.severity).toBe('critical');
    expect(saved.transitions.map((t) => t.type)).toEqual(calls[1].filter((c) => c.startsWith('m1/')).map((c) => c.split(' ')[1]));
    expect(calls[2]).toHaveLength(501);
    // the alarm is in the record, but 501 steps handled before the last are not yet
    expect(all).toBe(false);
    gates.shift()!();
    await Promise.all([first, storm, worse, alarm]);
    await waitFor(() => all, 20_000, 'everything recorded');
    expect(await store.open()).toHaveLength(2502);
  });

  it('answers a handle once its changes and those before them are recorded, not when the commits run dry', async () => {
    const { gates, gated } = heldCommits();
    const b = book(gated);
    const heard: string[] = [];
    const first = b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })]).then(() => heard.push('first'));
    await waitFor(() => gates.length === 1, 20_000, 'the first commit under way');
    // handled while the first commit runs: the next commit takes it
    const second = b.handle([outcome()]).then(() => heard.push('second'));
    gates.shift()!();
    await waitFor(() => gates.length === 1, 20_000, 'the second commit under way');
    await waitFor(() => heard.includes('first'), 20_000, 'the first answered while the second commit is held');
    await first;
    // an outcome that changes nothing (a clear of no alert) still waits for what was handled before it
    const again = b.handle([outcome({ key: 'y/gas-lel', deviceId: 'y', change: 'clear', severity: null })]).then(() => heard.push('again'));
    await Promise.resolve();
    expect(heard).toEqual(['first']);
    gates.shift()!();
    await Promise.all([second, again]);
    expect(heard).toEqual(['first', 'second', 'again']);
  });

  it('records a person\'s acknowledgement in the next transaction, not after a storm\'s backlog, with its alert\'s waiting change before it', async () => {
    const calls: string[][] = [];
    const { gates, gated } = heldCommits((changes) => calls.push(changes.flatMap((c) => c.transitions.map((t) => `${c.alert.key} ${t.type}`))));
    const b = book(gated);
    const z = { key: 'z/offline', deviceId: 'z', severity: 'major' as const };
    const raised = b.handle([outcome(z)]);
    await waitFor(() => gates.length === 1, 20_000, 'the raise under way');
    gates.shift()!();
    await raised;
    const id = b.openAlerts()[0].id;
    // a storm of 5 000 changes (three transactions) waits behind a commit under way; then the
    // alert clears, and an operator acknowledges it
    void b.handle(Array.from({ length: 5000 }, (_, i) => outcome({ key: `m${i}/offline`, deviceId: `m${i}`, severity: 'major' })));
    await waitFor(() => gates.length === 1, 20_000, 'a storm commit under way');
    void b.handle([outcome({ ...z, change: 'clear', severity: null, value: 1 })]);
    let answered = false;
    const acked = b.ack(id, 'operator:li').then((a) => ((answered = true), a));
    gates.shift()!();
    await waitFor(() => calls.length === 3 && gates.length === 1, 20_000, 'the next transaction under way');
    // the acknowledgement is in it, its alert's clear just before it: the row saved (cleared,
    // acknowledged) and its record agree
    expect(calls[2].filter((c) => c.startsWith('z/'))).toEqual(['z/offline cleared', 'z/offline acknowledged']);
    expect(calls[2].length).toBeLessThanOrEqual(2002);
    gates.shift()!();
    // answered while the storm's next transactions still wait
    await waitFor(() => answered && calls.length === 4 && gates.length === 1, 20_000, 'the acknowledgement answered');
    expect((await acked).acknowledged).toBe(true);
    while (b.health().waiting || gates.length) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await b.settled();
    const saved = (await store.get(id))!;
    expect(saved.alert).toMatchObject({ state: 'cleared', acknowledged: true });
    expect(saved.transitions.map((t) => t.type)).toEqual(['raised', 'cleared', 'acknowledged']);
  });

  it('keeps a person\'s step whose transaction failed, says so, and writes it when the record can be', async () => {
    const disk = fullDisk(false);
    const b = book(disk.store);
    await b.handle([outcome()]);
    const id = b.openAlerts()[0].id;
    disk.full = true;
    await expect(b.ack(id, 'operator:li')).rejects.toThrow(/cannot be written now: the step is kept/);
    // applied, and kept for the record: asking again is a conflict, not a second acknowledgement
    await expect(b.ack(id, 'operator:li')).rejects.toThrow(/acknowledged already/);
    // and shown as waiting for the record, the raise before it being recorded
    expect(b.unrecordedOf(id).map((t) => [t.type, t.actor])).toEqual([['acknowledged', 'operator:li']]);
    disk.full = false;
    await waitFor(async () => ((await store.get(id))?.transitions.length ?? 0) === 2, 20_000, 'written on the retry');
    expect((await store.get(id))!.alert.acknowledged).toBe(true);
    expect(b.unrecordedOf(id)).toEqual([]);
  });

  it('keeps an escalation whose commit failed and records it on the retry (the sweep does not escalate twice)', async () => {
    const disk = fullDisk(false);
    const b = book(disk.store);
    await b.handle([outcome()]);
    const id = b.openAlerts()[0].id;
    const escalate = (a: Alert) => (a.escalationLevel > 0 ? null : { alert: { ...a, escalationLevel: 1 }, transitions: [{ alertId: a.id, at: Date.UTC(2026, 10, 29, 8, 5), type: 'escalated' as const, actor: 'system' }] });
    disk.full = true;
    await expect(b.sweep(escalate)).rejects.toThrow('disk full');
    await b.sweep(escalate).catch(() => {});
    disk.full = false;
    await waitFor(async () => ((await store.get(id))?.transitions ?? []).map((t) => t.type).join() === 'raised,escalated', 20_000, 'the escalation recorded on the retry');
    expect((await store.get(id))!.alert.escalationLevel).toBe(1);
  });

  it('says once that the record cannot be written, and once that it can again', async () => {
    const disk = fullDisk(true);
    const said: string[] = [];
    const b = new AlertBook(disk.store as AlertStore, () => ({ region: '321283', industry: 'hazchem', review: { from: null, withinMs: 0 } }), () => Date.UTC(2026, 10, 29, 8), () => {}, {
      mode: 'auto',
      onFailing: (err, waiting) => said.push(err ? `failing: ${err.message} (${waiting} waiting)` : `written again (${waiting} waiting)`),
    });
    await expect(b.handle([outcome()])).rejects.toThrow('disk full');
    await expect(b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })])).rejects.toThrow('disk full');
    disk.full = false;
    await b.whenRecorded();
    expect(said).toEqual(['failing: disk full (1 waiting)', 'written again (0 waiting)']);
  });

  it('tells whoever waits for the record that a book shut will not write it', async () => {
    const { gates, gated } = heldCommits();
    const b = book(gated);
    void b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })]).catch(() => {});
    await waitFor(() => gates.length === 1, 20_000, 'a commit under way');
    const waiting = b.handle([outcome()]);
    const line = b.record([{ alertId: b.openAlerts()[0].id, at: Date.UTC(2026, 10, 29, 8), type: 'notified', actor: 'system' }]);
    b.shut();
    await expect(waiting).rejects.toThrow('closed');
    await expect(line).rejects.toThrow('closed');
    await expect(b.whenRecorded()).rejects.toThrow('closed');
    gates.shift()!();
  });

  it('answers record lines once they are written, while the storm after them still commits', async () => {
    const { gates, gated } = heldCommits();
    const b = book(gated);
    void b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })]);
    await waitFor(() => gates.length === 1, 20_000, 'a commit under way');
    const id = b.openAlerts()[0].id;
    let told = false;
    const notified = b.record([{ alertId: id, at: Date.UTC(2026, 10, 29, 8), type: 'notified', actor: 'system' }]).then(() => (told = true));
    gates.shift()!();
    await waitFor(() => gates.length === 1, 20_000, 'the line\'s commit under way');
    // the storm goes on: a change handled while the line is being written
    void b.handle([outcome()]);
    gates.shift()!();
    await waitFor(() => gates.length === 1, 20_000, 'the next commit under way');
    // answered while the storm's next transaction is still held
    await waitFor(() => told, 20_000, 'the line answered');
    await notified;
    gates.shift()!();
    await b.settled();
    expect((await store.get(id))!.transitions.map((t) => t.type)).toEqual(['raised', 'notified']);
  });

  it('lets critical alarms take at most half of a transaction: the others go on during a storm of them', async () => {
    const calls: number[] = [];
    const gates: (() => void)[] = [];
    let free = false;
    const gated = {
      saveMany: async (...args: Parameters<AlertStore['saveMany']>) => {
        calls.push(args[0].filter((c) => c.alert.severity === 'critical').length);
        if (!free) await new Promise<void>((r) => gates.push(r));
        return store.saveMany(...args);
      },
    };
    const b = book(gated);
    const first = b.handle([outcome({ key: 'x/offline', deviceId: 'x', severity: 'major' })]);
    await waitFor(() => calls.length === 1, 20_000, 'the first commit under way');
    const majors = b.handle(Array.from({ length: 3000 }, (_, i) => outcome({ key: `m${i}/offline`, deviceId: `m${i}`, severity: 'major' })));
    const criticals = b.handle(Array.from({ length: 3000 }, (_, i) => outcome({ key: `g${i}/gas-lel`, deviceId: `g${i}` })));
    for (let k = 1; k <= 3; k++) {
      gates.shift()!();
      await waitFor(() => calls.length === k + 1 && gates.length === 1, 20_000, `commit ${k + 1}`);
    }
    expect(calls.slice(1, 4)).toEqual([1000, 1000, 1000]);
    free = true;
    gates.shift()!();
    await Promise.all([first, majors, criticals]);
    expect(await store.open()).toHaveLength(6001);
  });
});
