import { readTime, writeTime, type TimeLabel } from './frame.ts';

/**
 * The application data unit of a "send data" frame: a type, an object count, the objects (each
 * usually followed by a 6-byte time label). The types the service acts on:
 *
 *   1  building fire facility system status: system type(1) address(1) status(2, LE)
 *   2  component status: system type(1) address(1) component type(1) address(4, LE)
 *      status(2, LE) description(31, GB 18030)
 *  21  the transmission device's own status: status(1)
 *
 * Status bits (0-based): 0 normal (0: test), 1 fire alarm, 2 fault, 3 disabled, 4 supervisory,
 * 5 started, 6 feedback, 7 delay; system 8 main power fault, 9 backup power fault, 10 bus fault;
 * component 8 power fault. Device (21): 1 fire, 2 fault, 3 main power, 4 backup power, 5 link fault.
 * Other types of the standard (3–8, 24–28) are recognised and taken as signs of life.
 */
export interface SystemStatus {
  type: 1;
  systemType: number;
  systemAddress: number;
  status: number;
  time: TimeLabel | null;
}

export interface ComponentStatus {
  type: 2;
  systemType: number;
  systemAddress: number;
  componentType: number;
  componentAddress: number;
  status: number;
  description: string;
  time: TimeLabel | null;
}

export interface DeviceStatus {
  type: 21;
  status: number;
  time: TimeLabel | null;
}

export type Item = SystemStatus | ComponentStatus | DeviceStatus;

export type Decoded = { ok: true; type: number | null; items: Item[]; known: boolean } | { ok: false; reason: string };

/** Object sizes without the time label, for the types read here and those only recognised. */
const SIZES = new Map<number, number>([
  [1, 4],
  [2, 40],
  [3, 10],
  [4, 4],
  [5, 4],
  [8, 2],
  [21, 1],
  [24, 2],
  [25, 2],
  [28, 0],
]);
const TIMED = new Set([1, 2, 3, 4, 8, 21, 24, 28]);
const VARIABLE = new Set([6, 7, 26]);

export const BIT = { fire: 1 << 1, fault: 1 << 2, mainPower: 1 << 8, backupPower: 1 << 9, bus: 1 << 10, componentPower: 1 << 8 } as const;
export const DEVICE_BIT = { fire: 1 << 1, fault: 1 << 2, mainPower: 1 << 3, backupPower: 1 << 4, link: 1 << 5 } as const;

const gb18030 = new TextDecoder('gb18030');

export function decodeData(data: Buffer): Decoded {
  // an empty unit is a heartbeat
  if (data.length === 0) return { ok: true, type: null, items: [], known: true };
  if (data.length < 2) return { ok: false, reason: 'application data shorter than its type and count' };
  const type = data[0];
  const count = data[1];
  const size = SIZES.get(type);
  if (size === undefined) {
    // types 6, 7, 26 and the user-defined ones (128–255) carry lengths of their own: taken as
    // life; a reserved type is no report a device of the standard sends
    if (VARIABLE.has(type) || type >= 128) return { ok: true, type, items: [], known: false };
    return { ok: false, reason: `type ${type} is reserved` };
  }
  const body = data.length - 2;
  if (count === 0) return body === 0 ? { ok: true, type, items: [], known: true } : { ok: false, reason: `type ${type}: no objects, yet ${body} bytes` };
  const timed = TIMED.has(type) && body === count * (size + 6);
  // an object of no size but its time label must have it
  if (!timed && (size === 0 || body !== count * size)) return { ok: false, reason: `type ${type}: ${count} objects do not fill ${body} bytes` };
  const step = size + (timed ? 6 : 0);
  const items: Item[] = [];
  for (let i = 0, at = 2; i < count; i++, at += step) {
    const time = timed ? readTime(data, at + size) : null;
    if (type === 1) items.push({ type, systemType: data[at], systemAddress: data[at + 1], status: data.readUInt16LE(at + 2), time });
    else if (type === 2)
      items.push({
        type,
        systemType: data[at],
        systemAddress: data[at + 1],
        componentType: data[at + 2],
        componentAddress: data.readUInt32LE(at + 3),
        status: data.readUInt16LE(at + 7),
        description: gb18030.decode(data.subarray(at + 9, at + 40)).replace(/[\0\s]+$/, ''),
        time,
      });
    else if (type === 21) items.push({ type, status: data[at], time });
  }
  return { ok: true, type, items, known: true };
}

/** The bytes of application data (the simulator and the tests build frames with it). */
export function encodeData(items: Item[]): Buffer {
  if (!items.length) return Buffer.alloc(0);
  const type = items[0].type;
  const parts = items.map((it) => {
    const time = writeTime(it.time ?? { second: 0, minute: 0, hour: 0, day: 1, month: 1, year: 0 });
    if (it.type === 1) {
      const b = Buffer.alloc(4);
      b[0] = it.systemType;
      b[1] = it.systemAddress;
      b.writeUInt16LE(it.status, 2);
      return Buffer.concat([b, time]);
    }
    if (it.type === 2) {
      const b = Buffer.alloc(40);
      b[0] = it.systemType;
      b[1] = it.systemAddress;
      b[2] = it.componentType;
      b.writeUInt32LE(it.componentAddress >>> 0, 3);
      b.writeUInt16LE(it.status, 7);
      // descriptions are GB 18030; the simulator writes ASCII, which GB 18030 shares
      Buffer.from(it.description.replace(/[^\x20-\x7e]/g, '?').slice(0, 31), 'latin1').copy(b, 9);
      return Buffer.concat([b, time]);
    }
    return Buffer.concat([Buffer.from([it.status]), time]);
  });
  return Buffer.concat([Buffer.from([type, items.length]), ...parts]);
}
