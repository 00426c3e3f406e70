/**
 * GB/T 26875.3-2011 frames, the wire protocol of fire alarm "user information transmission
 * devices" (用户信息传输装置):
 *
 *   @@ | serial(2, LE) version(2) time(6: s m h D M YY) source(6, LE) destination(6, LE)
 *      | length(2, LE) command(1) | application data (length ≤ 1024) | checksum(1) | ##
 *
 * The checksum is the byte sum, mod 256, of the control unit (serial … command) and the
 * application data. Commands: 1 control, 2 send data, 3 confirm, 4 request, 5 answer, 6 deny.
 * Pure functions over bytes; the listener is receiver.ts.
 */
export const START = 0x40; // '@'
export const END = 0x23; // '#'
export const HEADER_BYTES = 27; // @@ + the 25-byte control unit
export const FRAME_OVERHEAD = 30; // header + checksum + ##
export const MAX_DATA_BYTES = 1024;

export const COMMAND = { control: 1, send: 2, confirm: 3, request: 4, answer: 5, deny: 6 } as const;

export interface TimeLabel {
  second: number;
  minute: number;
  hour: number;
  day: number;
  month: number;
  /** 0–99: years since 2000 */
  year: number;
}

export interface Frame {
  serial: number;
  version: [number, number];
  time: TimeLabel;
  /** 6-byte addresses as numbers (they fit: < 2^48) */
  source: number;
  destination: number;
  command: number;
  data: Buffer;
}

export type Scan =
  /** a whole, valid frame; `next` is where the following one starts */
  | { kind: 'frame'; frame: Frame; next: number }
  /** not enough bytes yet */
  | { kind: 'partial' }
  /** bytes that are not a frame: skip to `next`. `header` when the control unit could be read (to deny) */
  | { kind: 'bad'; reason: 'garbage' | 'bad_length' | 'bad_checksum' | 'bad_end' | 'truncated'; next: number; header?: Omit<Frame, 'data'> };

const readUIntLE48 = (b: Buffer, at: number) => b.readUIntLE(at, 6);

export function checksum(bytes: Buffer): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

function headerAt(b: Buffer, at: number): Omit<Frame, 'data'> {
  return {
    serial: b.readUInt16LE(at + 2),
    version: [b[at + 4], b[at + 5]],
    time: { second: b[at + 6], minute: b[at + 7], hour: b[at + 8], day: b[at + 9], month: b[at + 10], year: b[at + 11] },
    source: readUIntLE48(b, at + 12),
    destination: readUIntLE48(b, at + 18),
    command: b[at + 26],
  };
}

/** Where the next `@@` starts at or after `from` (-1: none). */
function startAt(b: Buffer, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === START && b[i + 1] === START) return i;
  // a lone '@' at the very end may be the first half of a start
  return b.length > from && b[b.length - 1] === START ? b.length - 1 : -1;
}

/** The frame at `from` if it is whole and valid, without resynchronising. */
function frameAt(b: Buffer, at: number): Scan {
  if (b.length - at < HEADER_BYTES) return { kind: 'partial' };
  const length = b.readUInt16LE(at + 24);
  if (length > MAX_DATA_BYTES) return { kind: 'bad', reason: 'bad_length', next: at + 2 };
  const total = FRAME_OVERHEAD + length;
  if (b.length - at < total) return { kind: 'partial' };
  const header = headerAt(b, at);
  if (b[at + total - 2] !== END || b[at + total - 1] !== END) return { kind: 'bad', reason: 'bad_end', next: at + 2, header };
  const sum = checksum(b.subarray(at + 2, at + HEADER_BYTES + length));
  if (sum !== b[at + HEADER_BYTES + length]) return { kind: 'bad', reason: 'bad_checksum', next: at + total, header };
  return { kind: 'frame', frame: { ...header, data: Buffer.from(b.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length)) }, next: at + total };
}

/**
 * The next thing in a connection's bytes from `from`. Bytes before a start are garbage; a frame
 * that cannot be complete because a whole, valid frame starts inside it was cut short (a device
 * that restarted mid-frame) and is given up, so the good frame after it is not held back.
 */
export function scan(b: Buffer, from = 0): Scan {
  const at = startAt(b, from);
  if (at < 0) return b.length > from ? { kind: 'bad', reason: 'garbage', next: b.length } : { kind: 'partial' };
  if (at > from) return { kind: 'bad', reason: 'garbage', next: at };
  const here = frameAt(b, at);
  if (here.kind !== 'partial') return here;
  for (let i = startAt(b, at + 2); i >= 0 && i + 1 < b.length; i = startAt(b, i + 2)) {
    const later = frameAt(b, i);
    if (later.kind === 'frame') return { kind: 'bad', reason: 'truncated', next: i };
  }
  return here;
}

/** The bytes of a frame (the checksum computed here). */
export function encode(f: Frame): Buffer {
  if (f.data.length > MAX_DATA_BYTES) throw new RangeError('application data over 1024 bytes');
  const out = Buffer.alloc(FRAME_OVERHEAD + f.data.length);
  out[0] = START;
  out[1] = START;
  out.writeUInt16LE(f.serial & 0xffff, 2);
  out[4] = f.version[0];
  out[5] = f.version[1];
  const t = f.time;
  out.set([t.second, t.minute, t.hour, t.day, t.month, t.year], 6);
  out.writeUIntLE(f.source, 12, 6);
  out.writeUIntLE(f.destination, 18, 6);
  out.writeUInt16LE(f.data.length, 24);
  out[26] = f.command;
  f.data.copy(out, HEADER_BYTES);
  out[HEADER_BYTES + f.data.length] = checksum(out.subarray(2, HEADER_BYTES + f.data.length));
  out[out.length - 2] = END;
  out[out.length - 1] = END;
  return out;
}

/** The answer to a frame: the same serial and version, addresses swapped, no data, our time. */
export function answer(to: Pick<Frame, 'serial' | 'version' | 'source' | 'destination'>, command: typeof COMMAND.confirm | typeof COMMAND.deny, now: number): Buffer {
  return encode({ serial: to.serial, version: to.version, time: timeLabel(now), source: to.destination, destination: to.source, command, data: Buffer.alloc(0) });
}

/** China Standard Time: the panels keep local time. */
const CST_MS = 8 * 3_600_000;

export function timeLabel(ms: number): TimeLabel {
  const d = new Date(ms + CST_MS);
  return { second: d.getUTCSeconds(), minute: d.getUTCMinutes(), hour: d.getUTCHours(), day: d.getUTCDate(), month: d.getUTCMonth() + 1, year: d.getUTCFullYear() % 100 };
}

/** Epoch ms of a time label (China Standard Time), or null when it is not a real date. */
export function timeOf(t: TimeLabel): number | null {
  const { second, minute, hour, day, month, year } = t;
  if (year > 99 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(2000 + year, month - 1, day, hour, minute, second);
  // 31 February would roll into March
  return new Date(ms).getUTCDate() === day ? ms - CST_MS : null;
}

export function readTime(b: Buffer, at: number): TimeLabel {
  return { second: b[at], minute: b[at + 1], hour: b[at + 2], day: b[at + 3], month: b[at + 4], year: b[at + 5] };
}

export function writeTime(t: TimeLabel): Buffer {
  return Buffer.from([t.second, t.minute, t.hour, t.day, t.month, t.year]);
}
