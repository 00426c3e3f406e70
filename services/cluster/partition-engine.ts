import type { Outcome, Reading } from '../../domain/types.ts';
import type { Reject } from '../../gateway/reject-codes.ts';
import { ReadingJudge, type JudgeSnapshot } from '../pipeline/judge.ts';
import { bareReading, type WorldSnapshot } from '../pipeline/protocol.ts';
import type { LoadedRegistry } from '../registry/load.ts';
import { decodeCommand, type Command } from './commands.ts';
import type { LogMessage } from './log.ts';
import { parseLogSubject, partitionOf } from './subjects.ts';

/**
 * What a partition's log means, message by message, with no I/O of its own: the judge (decode,
 * seqs, rules, last values) over the part of the registry in force that the partition holds,
 * and what the rules read of the world. The same log through two engines gives the same outcomes:
 * the worker that owns the partition runs one (partition.ts), and so does anyone who wants to
 * check it (the cluster's fault tests replay every partition through one).
 *
 * The engine's time starts with the log: the first message's time, not a clock's. The world is
 * the registry's maintenance windows (they come with each registry marker) and what the commands
 * in the log said of each enterprise (maintenance spans, a suspension order), both deterministic.
 */
export interface Applied {
  outcomes: Outcome[];
  /** readings kept, to be stored */
  kept: Reading[];
  /** what the device that sent a message must be told */
  rejects?: { enterpriseId: string; deviceId: string; rejects: Reject[] };
  /** a person's step or system outcomes: for the alert book, in order */
  command?: Command;
  /** time passed (a tick): the owner's cue for its time-driven work */
  tick?: boolean;
  /** the device the message was about (its status changed) */
  deviceId?: string;
}

/** What an engine remembers: the judge's state, the registry in force, the world the commands set. */
export interface EngineSnapshot {
  judge: JudgeSnapshot;
  registry: string;
  commands: [string, { maintenance: WorldSnapshot['maintenance']; suspended: boolean }][];
}

/** The part of a registry a partition runs: the enterprises the NATS mapping puts in it. */
export function forPartition(loaded: LoadedRegistry, partition: number, partitions: number): LoadedRegistry {
  const enterprises = loaded.file.enterprises.filter((e) => partitionOf(e.id, partitions) === partition);
  const devices = new Set(enterprises.flatMap((e) => e.devices.map((d) => d.id)));
  return { file: { ...loaded.file, enterprises }, rules: new Map([...loaded.rules].filter(([id]) => devices.has(id))) };
}

const decoder = new TextDecoder();

export class PartitionEngine {
  private judge?: ReadingJudge;
  private registry!: LoadedRegistry;
  registryHash: string;
  /** per enterprise, what the commands last said of its world */
  private readonly commands = new Map<string, { maintenance: WorldSnapshot['maintenance']; suspended: boolean }>();

  /**
   * `registry`: the one in force where reading starts (a snapshot's, else the cluster's first);
   * `world`: for a log whose start aged out, the world as the database has it now.
   */
  constructor(
    readonly partition: number,
    readonly partitions: number,
    private readonly registryOf: (hash: string) => Promise<LoadedRegistry>,
    registryHash: string,
    private readonly onFault: (part: string, err: Error, about?: unknown) => void,
  ) {
    this.registryHash = registryHash;
  }

  /** Back where a snapshot was taken. */
  async restore(s: EngineSnapshot) {
    this.registryHash = s.registry;
    for (const [id, w] of s.commands) this.commands.set(id, w);
    await this.useRegistry(s.registry, s.judge.now);
    this.judge!.restore(s.judge);
  }

  /** Starting where the log's start aged out: the world and baselines as they are now, and the alerts still open. */
  async resume(from: { now: number; world: WorldSnapshot; baselines: { deviceId: string; metric: string; value: number }[]; open: Parameters<ReadingJudge['seed']>[0] }) {
    for (const s of from.world.maintenance) {
      const w = this.commands.get(s.enterpriseId) ?? { maintenance: [], suspended: false };
      w.maintenance.push(s);
      this.commands.set(s.enterpriseId, w);
    }
    for (const id of from.world.suspended) this.commands.set(id, { ...(this.commands.get(id) ?? { maintenance: [] }), suspended: true });
    await this.useRegistry(this.registryHash, from.now);
    for (const b of from.baselines) if (this.judge!.registry.devices.has(b.deviceId)) this.judge!.baseline(b.deviceId, b.metric, b.value);
    this.judge!.seed(from.open);
  }

  snapshot(): EngineSnapshot | null {
    return this.judge ? { judge: this.judge.snapshot(), registry: this.registryHash, commands: [...this.commands] } : null;
  }

  /** the judge, once the log has started */
  get seen() {
    return this.judge?.seen;
  }

  openDevices(): string[] {
    return this.judge ? [...this.judge.registry.devices.keys()] : [];
  }

  private async useRegistry(hash: string, now: number): Promise<Outcome[]> {
    this.registryHash = hash;
    this.registry = forPartition(await this.registryOf(hash), this.partition, this.partitions);
    if (!this.judge) {
      this.judge = new ReadingJudge({ registry: this.registry, world: this.world(), now }, this.onFault);
      return [];
    }
    this.judge.useWorld(this.world());
    return this.judge.useRegistry(this.registry, now);
  }

  private world(): WorldSnapshot {
    const windows = this.registry.file.maintenance
      .filter((m) => partitionOf(m.enterprise, this.partitions) === this.partition)
      .map((m) => ({ enterpriseId: m.enterprise, deviceId: m.device ?? null, from: Date.parse(m.from), until: Date.parse(m.to) }));
    const commanded = [...this.commands.values()];
    return {
      maintenance: [...windows, ...commanded.flatMap((w) => w.maintenance)],
      suspended: [...this.commands].filter(([, w]) => w.suspended).map(([id]) => id),
    };
  }

  /** One message of the log: what it changed, and what its owner must do about it. */
  async apply(m: LogMessage): Promise<Applied> {
    const addr = parseLogSubject(m.subject);
    if (!addr || addr.partition !== this.partition) return { outcomes: [], kept: [] };
    // the engine's time starts with its log
    if (!this.judge) await this.useRegistry(this.registryHash, m.at);
    const judge = this.judge!;
    switch (addr.kind) {
      case 't': {
        const body = Buffer.from(m.data);
        const j = judge.telemetry([{ deviceId: addr.deviceId!, at: m.at, offset: 0, length: body.length }], body);
        const rejects = j.answers[0]?.rejects ?? [];
        return { outcomes: j.outcomes, kept: j.kept, deviceId: addr.deviceId!, ...(rejects.length ? { rejects: { enterpriseId: addr.enterpriseId, deviceId: addr.deviceId!, rejects } } : {}) };
      }
      case 'r': {
        const readings = (JSON.parse(decoder.decode(m.data)) as Reading[]).map(bareReading);
        const j = judge.readings(readings, m.at);
        return { outcomes: j.outcomes, kept: j.kept, deviceId: addr.deviceId! };
      }
      case 'l': {
        const { link, via } = JSON.parse(decoder.decode(m.data)) as { link: 'connected' | 'disconnected' | 'online' | 'offline'; via?: string };
        const news = judge.seen.onLink(addr.deviceId!, link, m.at, via);
        return { outcomes: news && (link === 'online' || link === 'offline') ? judge.link(addr.deviceId!, link, m.at) : [], kept: [], deviceId: addr.deviceId! };
      }
      case 'registry': {
        const { hash } = JSON.parse(decoder.decode(m.data)) as { hash: string };
        return { outcomes: await this.useRegistry(hash, m.at), kept: [] };
      }
      case 'tick':
        return { outcomes: judge.tick(m.at), kept: [], tick: true };
      case 'c': {
        const c = decodeCommand(m.data);
        if (!c) throw new Error(`command ${m.seq} of partition ${this.partition} could not be read`);
        if (c.op === 'baseline') judge.baseline(c.deviceId, c.metric, c.value);
        else if (c.op === 'forget') judge.forget(c.key);
        else if (c.op === 'world') {
          this.commands.set(c.enterpriseId, { maintenance: c.maintenance, suspended: c.suspended });
          judge.useWorld(this.world());
        }
        return { outcomes: c.op === 'outcomes' ? c.outcomes : [], kept: [], command: c };
      }
    }
  }
}
