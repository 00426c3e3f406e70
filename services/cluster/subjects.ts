import type { Reject } from '../../gateway/reject-codes.ts';

/**
 * The names things have on NATS in cluster mode, in one place.
 *
 * Into the log (JetStream), by enterprise: edges publish `rm.in.<enterprise>.<device>.<kind>`;
 * the NATS server maps that subject to `rm.p.<partition>.…` by hashing the enterprise token
 * (`mappingConfig`), so one enterprise's readings, links and commands are in one partition, in
 * the order they were published, whichever edge took them. Each partition is a stream of its own
 * (`RM_P_<n>`) whose sequence numbers are contiguous: a reader can tell a gap.
 *
 * Besides the log, plain NATS subjects carry what is news only while it happens: alert events to
 * API nodes (the live stream) and edges (MQTT `alerts/…`), messages for devices (rejects, commands)
 * to every edge, and the answers to commands.
 */

/** What a message in a partition is. */
export type LogKind =
  /** telemetry as the device published it (bytes), with the edge's receive time */
  | 't'
  /** readings made by an edge (a fire panel's reports), JSON */
  | 'r'
  /** a device's connection and status: connected, disconnected, online, offline */
  | 'l'
  /** a person's or the system's command on an enterprise's alerts and rules (ack, close, baseline…) */
  | 'c';

/** Partition-wide markers, published straight to a partition: time passing, a new registry. */
export type MarkerKind = 'tick' | 'registry';

/**
 * An id as a subject token: ids made of letters, digits, `_` and `-` stand as they are; any other
 * (a `.` would split the subject) is written `~` and its UTF-8 bytes in hex, which no plain id
 * starts with. Enterprise tokens are what the server hashes: every process must encode alike.
 */
export function token(id: string): string {
  return /^[A-Za-z0-9_-]+$/.test(id) ? id : `~${Buffer.from(id, 'utf8').toString('hex')}`;
}

export function fromToken(t: string): string {
  return t.startsWith('~') ? Buffer.from(t.slice(1), 'hex').toString('utf8') : t;
}

/** A command's device token: no device id is a single `_` … but ids may be, so commands use `~`. */
const NO_DEVICE = '~';

export const inbound = (enterpriseId: string, deviceId: string | null, kind: LogKind) => `rm.in.${token(enterpriseId)}.${deviceId === null ? NO_DEVICE : token(deviceId)}.${kind}`;

export const marker = (partition: number, kind: MarkerKind) => `rm.p.${partition}.${kind}`;

/** A message that checks the servers' mapping at start: its kind is none a reader takes. */
export const PROBE_ENTERPRISE = '_probe_';
export const probe = () => `rm.in.${PROBE_ENTERPRISE}.${PROBE_ENTERPRISE}.probe`;

export const streamName = (partition: number) => `RM_P_${partition}`;

export const streamSubjects = (partition: number) => [`rm.p.${partition}.>`];

/** What a partition's message is about, read from its subject. */
export type LogAddress = { partition: number; kind: LogKind; enterpriseId: string; deviceId: string | null } | { partition: number; kind: MarkerKind };

export function parseLogSubject(subject: string): LogAddress | null {
  const parts = subject.split('.');
  if (parts[0] !== 'rm' || parts[1] !== 'p') return null;
  const partition = Number(parts[2]);
  if (!Number.isInteger(partition) || partition < 0) return null;
  if (parts.length === 4 && (parts[3] === 'tick' || parts[3] === 'registry')) return { partition, kind: parts[3] };
  if (parts.length !== 6 || !['t', 'r', 'l', 'c'].includes(parts[5])) return null;
  return { partition, kind: parts[5] as LogKind, enterpriseId: fromToken(parts[3]), deviceId: parts[4] === NO_DEVICE ? null : fromToken(parts[4]) };
}

/**
 * The NATS server's partition of an enterprise: FNV-1a (32 bits) of its token, modulo the number
 * of partitions, as the server's `partition()` mapping function computes it (checked against a
 * real server in the tests). Workers use it to know which enterprises a partition holds.
 */
export function partitionOf(enterpriseId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(token(enterpriseId), 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

/** The server's account mapping that puts `rm.in.…` into partitions (nats-server configuration). */
export function mappingConfig(partitions: number): string {
  return `mappings = {\n  "rm.in.*.*.*": "rm.p.{{partition(${partitions},1)}}.{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}"\n}`;
}

/** Alert events, per enterprise: API nodes feed the live stream, edges MQTT `alerts/<enterprise>`. */
export const liveAlerts = (enterpriseId: string) => `rm.live.alert.${token(enterpriseId)}`;
export const LIVE_ALERTS_ALL = 'rm.live.alert.>';

/** An MQTT message for devices and watchers (a reject, a command): every edge publishes it to its own. */
export const TO_DEVICES = 'rm.out';
export type EdgeMessage = { kind: 'reject'; enterpriseId: string; deviceId: string; rejects: Reject[] } | { kind: 'publish'; topic: string; payload: string };

/** The answer to a command, to the one waiting for it. */
export const reply = (id: string) => `rm.reply.${id}`;

/** Something shared changed (silences, statuses, the registry): caches read it again. */
export const changed = (what: 'silences' | 'statuses' | 'registry') => `rm.changed.${what}`;
