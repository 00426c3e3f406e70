import { appendFile, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { UplinkConfig } from '../registry/schema.ts';
import { DiskBuffer } from '../store/disk-buffer.ts';
import { chunk, latestPerPoint, type AlarmEvent, type Entry, type Sample } from './items.ts';
import { PlatformRefused } from './platform-answer.ts';
import type { Sender } from './sender.ts';
import { failureText } from '../failure-text.ts';

export type Lane = Entry['lane'];
export const LANES: readonly Lane[] = ['alarms', 'readings'];
export type SendOutcome = 'sent' | 'refused' | 'failed' | 'dead';

export interface UplinkDeps {
  clock: () => number;
  log: Logger;
  /** first wait after a failure, doubling up to maxDelayMs */
  baseDelayMs: number;
  maxDelayMs: number;
  /** queues of one uplink beyond this many bytes refuse new entries (the oldest are kept) */
  maxQueueBytes: number;
  onOutcome: (uplink: string, lane: Lane, outcome: SendOutcome) => void;
}

interface LaneState {
  queue: DiskBuffer;
  /** the send under way: a stop waits for it, so a restarted uplink never sends an entry twice */
  current: Promise<void> | null;
  failures: number;
  refusals: number;
  nextAt: number;
  timer?: NodeJS.Timeout;
  lastError: string | null;
  lastSentAt: number | null;
}

interface DeadLetter {
  entry: Entry;
  reason: string;
  at: number;
}

/**
 * One upstream platform: a durable queue per lane under its own folder, sent strictly in order.
 * Alarm events are queued at once; readings collect in a journal (so a restart keeps them) and
 * become one entry per enterprise every `readingsEveryS`. Alarms have a lane of their own so that
 * a batch of readings the platform refuses never holds an alarm back. A failure waits with a
 * doubling delay; an entry refused `maxRefusals` times, or older than `giveUpAfterH`, becomes a
 * dead letter, kept for people to look at and requeue.
 */
export class Uplink {
  private readonly lanes = {} as Record<Lane, LaneState>;
  private dead!: DiskBuffer;
  /** enterprise → samples not yet cut into an entry (all journaled or about to be) */
  private pending = new Map<string, Sample[]>();
  private unjournaled: string[] = [];
  private io: Promise<void> = Promise.resolve();
  private journalTimer?: NodeJS.Timeout;
  private cutTimer?: NodeJS.Timeout;
  private stopped = false;

  private constructor(
    readonly config: UplinkConfig,
    private readonly dir: string,
    private readonly sender: Sender,
    private readonly deps: UplinkDeps,
  ) {}

  static async open(config: UplinkConfig, dir: string, sender: Sender, deps: UplinkDeps): Promise<Uplink> {
    const u = new Uplink(config, dir, sender, deps);
    for (const lane of LANES) u.lanes[lane] = { queue: await DiskBuffer.open(join(dir, lane), deps.maxQueueBytes), current: null, failures: 0, refusals: 0, nextAt: 0, lastError: null, lastSentAt: null };
    u.dead = await DiskBuffer.open(join(dir, 'dead'), Number.MAX_SAFE_INTEGER);
    await u.restoreJournal();
    const everyMs = Math.max(1, u.readingsEveryS) * 1000;
    u.cutTimer = setInterval(() => u.cut(), everyMs);
    for (const lane of LANES) void u.drain(lane);
    return u;
  }

  get id() {
    return this.config.id;
  }

  private get readingsEveryS() {
    return this.config.readingsEveryS ?? (this.config.kind === 'mqtt' ? 0 : 300);
  }

  private get sendMode() {
    return this.config.send ?? (this.config.kind === 'mqtt' ? 'all' : 'latest');
  }

  private get journal() {
    return join(this.dir, 'pending.jsonl');
  }

  /** Readings of one enterprise, already mapped to this platform's point codes. */
  /** The audit head to the platform, if its format has a place for it (failures only logged: the next one follows). */
  async auditHead(head: { n: number; hash: string; at: number }): Promise<void> {
    if (!this.sender.auditHead) return;
    await this.sender.auditHead(head).catch((err: Error) => this.deps.log.warn({ err: failureText(err) }, 'audit head not published to the platform'));
  }

  accept(enterpriseId: string, samples: Sample[]): void {
    if (!samples.length || this.stopped) return;
    let list = this.pending.get(enterpriseId);
    if (!list) this.pending.set(enterpriseId, (list = []));
    for (const s of samples) list.push(s);
    this.unjournaled.push(JSON.stringify({ e: enterpriseId, s: samples }));
    // written in small groups: a kill loses at most this instant's readings for the platform
    this.journalTimer ??= setTimeout(() => this.writeJournal(), 200);
  }

  alarm(enterpriseId: string, event: AlarmEvent): Promise<void> {
    return this.enqueue([{ lane: 'alarms', enterpriseId, createdAt: this.deps.clock(), event }]);
  }

  /** Turn what has collected into queue entries now (the interval does this by itself). */
  cut(): Promise<void> {
    const taken = this.pending;
    this.pending = new Map();
    this.unjournaled = [];
    const at = this.deps.clock();
    const entries: Entry[] = [];
    for (const [enterpriseId, samples] of taken) {
      const chosen = this.sendMode === 'latest' ? latestPerPoint(samples) : samples;
      for (const part of chunk(chosen, this.config.maxItemsPerBatch)) entries.push({ lane: 'readings', enterpriseId, createdAt: at, samples: part });
    }
    return this.serial(async () => {
      for (const e of entries) await this.lanes.readings.queue.append(JSON.stringify(e));
      await truncate(this.journal).catch(() => {});
      if (entries.length) void this.drain('readings');
    });
  }

  private enqueue(entries: Entry[]): Promise<void> {
    return this.serial(async () => {
      for (const e of entries) await this.lanes[e.lane].queue.append(JSON.stringify(e));
    }).then(() => {
      for (const lane of new Set(entries.map((e) => e.lane))) void this.drain(lane);
    });
  }

  private writeJournal(): Promise<void> {
    this.journalTimer = undefined;
    const lines = this.unjournaled;
    this.unjournaled = [];
    if (!lines.length) return this.io;
    return this.serial(() => appendFile(this.journal, lines.join('\n') + '\n'));
  }

  private async restoreJournal() {
    const text = await readFile(this.journal, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const { e, s } = JSON.parse(line) as { e: string; s: Sample[] };
        let list = this.pending.get(e);
        if (!list) this.pending.set(e, (list = []));
        list.push(...s);
      } catch {
        // a line cut short by a crash: the rest of the journal is still good
      }
    }
  }

  /** File work in the order it was asked for: the journal and the queues never interleave. */
  private serial(fn: () => Promise<unknown>): Promise<void> {
    const next = this.io.then(fn).then(() => undefined);
    this.io = next.catch((err: Error) => this.deps.log.error({ uplink: this.id, err: err.message }, 'uplink queue not written'));
    return next;
  }

  private drain(lane: Lane): Promise<void> {
    const st = this.lanes[lane];
    if (st.current || this.stopped) return st.current ?? Promise.resolve();
    st.current = this.sendQueued(lane, st).finally(() => {
      st.current = null;
    });
    return st.current;
  }

  private async sendQueued(lane: Lane, st: LaneState): Promise<void> {
    while (!this.stopped) {
      const now = this.deps.clock();
      if (now < st.nextAt) {
        clearTimeout(st.timer);
        st.timer = setTimeout(() => void this.drain(lane), st.nextAt - now);
        return;
      }
      const { names, bytes, missing } = await st.queue.peek(1);
      if (missing.length) this.deps.log.error({ uplink: this.id, lane, missing }, 'queued uplink entries are gone from the disk (removed by hand?): they are not sent');
      if (!names.length) {
        if (missing.length) continue;
        return;
      }
      const entry = JSON.parse(bytes.toString('utf8')) as Entry;
      try {
        await this.sender.send(entry);
        await st.queue.remove(names);
        Object.assign(st, { failures: 0, refusals: 0, lastError: null, lastSentAt: this.deps.clock() });
        this.deps.onOutcome(this.id, lane, 'sent');
      } catch (err) {
        const refused = err instanceof PlatformRefused;
        const message = failureText(err);
        st.failures++;
        if (refused) st.refusals++;
        st.lastError = message;
        this.deps.onOutcome(this.id, lane, refused ? 'refused' : 'failed');
        const tooOld = now - entry.createdAt > this.config.giveUpAfterH * 3_600_000;
        if ((refused && st.refusals >= this.config.maxRefusals) || tooOld) {
          const reason = tooOld ? `not delivered within ${this.config.giveUpAfterH} h: ${message}` : `refused ${st.refusals} times: ${message}`;
          await this.dead.append(JSON.stringify({ entry, reason, at: now } satisfies DeadLetter));
          await st.queue.remove(names);
          Object.assign(st, { failures: 0, refusals: 0 });
          this.deps.onOutcome(this.id, lane, 'dead');
          this.deps.log.error({ uplink: this.id, lane, enterpriseId: entry.enterpriseId, reason }, 'uplink entry given up: kept as a dead letter');
          continue;
        }
        const delay = Math.min(this.deps.baseDelayMs * 2 ** (st.failures - 1), this.deps.maxDelayMs);
        st.nextAt = now + delay;
        this.deps.log.warn({ uplink: this.id, lane, attempts: st.failures, err: message, retryInMs: delay }, 'uplink send failed; will retry');
      }
    }
  }

  /** Try now, whatever the back-off says (after a platform is known to be back). */
  retryNow(): void {
    for (const lane of LANES) {
      this.lanes[lane].nextAt = 0;
      void this.drain(lane);
    }
  }

  status() {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const lanes = Object.fromEntries(
      LANES.map((lane) => {
        const st = this.lanes[lane];
        const d = st.queue.depth;
        return [lane, { queued: d.batches, bytes: d.bytes, oldestAt: iso(d.oldestAt), attempts: st.failures, lastError: st.lastError, lastSentAt: iso(st.lastSentAt), nextAttemptAt: st.failures ? iso(st.nextAt) : null }];
      }),
    ) as Record<Lane, { queued: number; bytes: number; oldestAt: string | null; attempts: number; lastError: string | null; lastSentAt: string | null; nextAttemptAt: string | null }>;
    let pendingSamples = 0;
    for (const s of this.pending.values()) pendingSamples += s.length;
    return { id: this.id, kind: this.config.kind, name: this.config.name ?? null, readingsEveryS: this.readingsEveryS, send: this.sendMode, pendingSamples, lanes, deadLetters: this.dead.depth.batches };
  }

  async deadLetters(limit: number) {
    return (await this.dead.list(limit)).map(({ name, text }) => {
      const d = JSON.parse(text) as DeadLetter;
      return { id: name.replace(/\.batch$/, ''), lane: d.entry.lane, enterpriseId: d.entry.enterpriseId, reason: d.reason, at: new Date(d.at).toISOString(), entry: d.entry };
    });
  }

  /** Put every dead letter back at the end of its lane, as if new; returns how many. */
  async requeue(): Promise<number> {
    const letters = await this.dead.list(Number.MAX_SAFE_INTEGER);
    const now = this.deps.clock();
    await this.enqueue(letters.map(({ text }) => ({ ...(JSON.parse(text) as DeadLetter).entry, createdAt: now })));
    await this.dead.remove(letters.map((l) => l.name));
    return letters.length;
  }

  /** Stop sending; what has collected stays in the journal and the queues for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.cutTimer);
    clearTimeout(this.journalTimer);
    for (const lane of LANES) clearTimeout(this.lanes[lane].timer);
    await Promise.all(LANES.map((lane) => this.lanes[lane].current?.catch(() => {})));
    await this.writeJournal();
    await this.io;
    await this.sender.close();
  }
}
