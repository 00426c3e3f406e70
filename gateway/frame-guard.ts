import type { Duplex } from 'node:stream';

/**
 * Reads a connection's MQTT packets for the broker, a few at a time, watching their fixed headers.
 *
 * - **Size.** A packet that announces more than `maxPacketBytes` closes the connection as soon as
 *   its header arrives, so no client can make the broker collect a huge packet in memory.
 *   SUBSCRIBE and UNSUBSCRIBE get a far smaller bound: the broker's work for one grows with the
 *   square of its filters (thousands of filters in one packet stall every device's alarms for a
 *   minute), and a device needs a handful.
 * - **Pace.** aedes parses everything a read returns, and means to read again once all of it is
 *   handled; but every 'readable' event also counts as one handled, so under load it reads on
 *   while packets are open. A QoS 1 PUBLISH is handled when it is durable, so devices that
 *   pipeline a hundred readings each had them all parsed and held: two thousand such devices
 *   under overload held 110 000 (a gigabyte of RSS, most of it garbage promoted while it waited).
 *   Now a read returns at most `maxPacketsPerRead` whole packets, and nothing while the
 *   connection has that many PUBLISH packets unanswered; the rest stays in the socket's buffer,
 *   which then stops taking from the kernel, and TCP slows the device down.
 * - **Crowding.** That bound is per connection, so what the gateway holds grew with the fleet:
 *   sixteen per connection, 160 000 readings for ten thousand devices under overload. While the
 *   gateway as a whole holds more than its bound (`crowded`), a connection takes one packet at a
 *   time: the held readings are then at most that bound and one per connection. Every connection
 *   still reads (a CONNECT, a PINGREQ, an alarm reading each get their turn), and nothing waits
 *   for a wake-up: aedes reads again after each answer.
 *
 * The rest is put back with `unshift`, not kept aside: the stream then ends only once the broker
 * has read every packet (a DISCONNECT behind a burst still counts; its will is not sent).
 */
export const MAX_SUBSCRIBE_BYTES = 4096;

export interface FrameLimits {
  maxPacketBytes: number;
  maxPacketsPerRead: number;
}

/**
 * `unanswered`: the connection's PUBLISH packets the broker has taken and not answered. While
 * there are `maxPacketsPerRead` of them (one while `crowded()`) the broker's reads get nothing:
 * aedes reads again after each answer, so the next answer is the next try.
 */
export function guardFrames(socket: Duplex, limits: FrameLimits, onTooLarge: (size: number) => void, unanswered: () => number = () => 0, crowded: () => boolean = () => false): void {
  // parser state across chunks: where we are in the current packet
  let phase: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let remaining = 0;
  let limit = limits.maxPacketBytes;

  /** Where the chunk is cut: after its `maxPacketsPerRead`-th whole packet, else its end; -1 once closed. */
  const scan = (chunk: Buffer, cutAt: number): number => {
    let i = 0;
    let packets = 0;
    while (i < chunk.length) {
      if (phase === 'type') {
        if (packets === cutAt) return i;
        const type = chunk[i++] >> 4;
        // 8 SUBSCRIBE, 10 UNSUBSCRIBE
        limit = type === 8 || type === 10 ? Math.min(MAX_SUBSCRIBE_BYTES, limits.maxPacketBytes) : limits.maxPacketBytes;
        phase = 'length';
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
      } else if (phase === 'length') {
        const byte = chunk[i++];
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        lengthBytes++;
        if (byte & 0x80) {
          if (lengthBytes >= 4) return fail(length);
          continue;
        }
        if (length > limit) return fail(length);
        remaining = length;
        if (remaining === 0) (phase = 'type'), packets++;
        else phase = 'body';
      } else {
        const take = Math.min(remaining, chunk.length - i);
        i += take;
        remaining -= take;
        if (remaining === 0) (phase = 'type'), packets++;
      }
    }
    return chunk.length;
  };
  const fail = (size: number) => {
    onTooLarge(size);
    socket.destroy();
    return -1;
  };

  // aedes parses what a read returns at once, and a packet answered during that parse (one refused
  // at once) makes it read again from inside the parse: with packets left in the buffer, that
  // nested parse lost packets. A read during a parse gets nothing; once the parse is over, the
  // broker is told to read again ('readable', as when data arrives).
  let parsing = false;
  let missed = false;
  const parsed = () => {
    parsing = false;
    if (missed) (missed = false), process.nextTick(() => socket.emit('readable'));
  };
  const read = socket.read;
  socket.read = function (this: Duplex, n?: number) {
    // the broker reads everything there is (no size); a sized read is the stream's own, watched but not cut
    const whole = n === undefined || n === null;
    if (whole && parsing) return (missed = true), null;
    const most = whole ? (crowded() ? 1 : limits.maxPacketsPerRead) : Infinity;
    if (unanswered() >= most) return null;
    const chunk = read.call(this, n) as Buffer | null;
    if (chunk === null) return null;
    const cut = scan(chunk, most);
    if (cut < 0) return null;
    if (whole) (parsing = true), queueMicrotask(parsed);
    if (cut === chunk.length) return chunk;
    this.unshift(chunk.subarray(cut));
    return chunk.subarray(0, cut);
  };
}
