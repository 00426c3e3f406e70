import { PassThrough } from 'node:stream';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { guardFrames } from '../../gateway/frame-guard.ts';

const publish = (i: number, payload = `{"seq":${i}}`) => mqttPacket.generate({ cmd: 'publish', topic: 'v1/E/d/telemetry', payload: Buffer.from(payload), qos: 1, messageId: i, retain: false, dup: false });

/** A connection as the broker reads it: read(null) until null, every packet parsed by mqtt-packet. */
function connection(maxPacketsPerRead: number, maxPacketBytes = 1 << 20) {
  const socket = new PassThrough();
  let unanswered = 0;
  let crowded = false;
  const tooLarge: number[] = [];
  guardFrames(socket, { maxPacketBytes, maxPacketsPerRead }, (size) => tooLarge.push(size), () => unanswered, () => crowded);
  const parser = mqttPacket.parser();
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (p) => packets.push(p));
  return {
    socket,
    packets,
    tooLarge,
    set unanswered(n: number) {
      unanswered = n;
    },
    /** the gateway as a whole holds more than its bound */
    set crowded(on: boolean) {
      crowded = on;
    },
    /** one read and its parse, as aedes does them; how many packets it completed */
    async read(): Promise<number | null> {
      const before = packets.length;
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return null;
      parser.parse(chunk);
      // the parse is over: the guard hears it in a microtask
      await null;
      return packets.length - before;
    },
  };
}

describe('frame guard', () => {
  it('hands the broker a few whole packets per read, none while as many are unanswered, and every byte in order', async () => {
    const c = connection(16);
    // a device's 100 pipelined readings arrive in one chunk, the last one split across two
    const all = Buffer.concat(Array.from({ length: 100 }, (_, i) => publish(i + 1)));
    c.socket.write(all.subarray(0, all.length - 5));
    await new Promise((r) => setImmediate(r));
    expect(await c.read()).toBe(16);
    c.unanswered = 16;
    expect(await c.read()).toBeNull();
    // the rest waits in the socket's buffer, not parsed
    expect(c.socket.readableLength).toBe(all.length - 5 - c.packets.reduce((n, p) => n + mqttPacket.generate(p).length, 0));
    c.unanswered = 15;
    expect(await c.read()).toBe(16);
    c.unanswered = 0;
    while ((await c.read()) !== null);
    expect(c.packets).toHaveLength(99);
    c.socket.write(all.subarray(all.length - 5));
    await new Promise((r) => setImmediate(r));
    while ((await c.read()) !== null);
    expect(c.packets.map((p) => (p as mqttPacket.IPublishPacket).messageId)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(c.packets.map((p) => JSON.parse((p as mqttPacket.IPublishPacket).payload.toString()).seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(c.tooLarge).toEqual([]);
  });

  it('hands over one packet at a time while the gateway is crowded, none while one is unanswered, and the usual few again once it is not', async () => {
    const c = connection(16);
    const all = Buffer.concat(Array.from({ length: 40 }, (_, i) => publish(i + 1)));
    c.socket.write(all);
    await new Promise((r) => setImmediate(r));
    c.crowded = true;
    expect(await c.read()).toBe(1);
    c.unanswered = 1;
    expect(await c.read()).toBeNull();
    c.unanswered = 0;
    expect(await c.read()).toBe(1);
    // a connection with packets unanswered from before the crowding takes nothing until they are
    c.unanswered = 5;
    expect(await c.read()).toBeNull();
    c.crowded = false;
    expect(await c.read()).toBe(16);
    c.unanswered = 0;
    while ((await c.read()) !== null);
    expect(c.packets.map((p) => (p as mqttPacket.IPublishPacket).messageId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('gives a read from inside the parse nothing, and has the broker read again once the parse is over', async () => {
    const c = connection(4);
    c.socket.write(Buffer.concat(Array.from({ length: 8 }, (_, i) => publish(i + 1))));
    await new Promise((r) => setImmediate(r));
    let readable = 0;
    c.socket.on('readable', () => readable++);
    const chunk = c.socket.read() as Buffer;
    // a packet answered at once during the parse: aedes reads again, nested
    expect(c.socket.read()).toBeNull();
    await new Promise((r) => setImmediate(r));
    expect(readable).toBeGreaterThan(0);
    expect(chunk.length + c.socket.readableLength).toBe(8 * publish(1).length);
  });

  it('still closes on an oversized header behind packets cut off at the previous read', async () => {
    const c = connection(4, 1000);
    c.socket.on('error', () => {});
    c.socket.write(Buffer.concat([...Array.from({ length: 6 }, (_, i) => publish(i + 1)), Buffer.from([0x30, 0x80, 0x80, 0x80, 0x30])]));
    await new Promise((r) => setImmediate(r));
    expect(await c.read()).toBe(4);
    expect(c.tooLarge).toEqual([]);
    // the next read reaches the header that announces 100 MB: the connection closes, nothing is handed on
    expect(await c.read()).toBeNull();
    expect(c.tooLarge).toEqual([100_663_296]);
    expect(c.socket.destroyed).toBe(true);
    expect(c.packets).toHaveLength(4);
  });

  it('ends the stream only once the broker has read every packet (a DISCONNECT behind a burst is read)', async () => {
    const c = connection(8);
    let ended = false;
    c.socket.on('end', () => (ended = true));
    c.socket.end(Buffer.concat([...Array.from({ length: 20 }, (_, i) => publish(i + 1)), mqttPacket.generate({ cmd: 'disconnect' })]));
    await new Promise((r) => setImmediate(r));
    expect(await c.read()).toBe(8);
    await new Promise((r) => setImmediate(r));
    expect(ended).toBe(false);
    while ((await c.read()) !== null);
    await new Promise((r) => setImmediate(r));
    expect(c.packets.at(-1)!.cmd).toBe('disconnect');
    expect(c.packets).toHaveLength(21);
    expect(ended).toBe(true);
  });
});
