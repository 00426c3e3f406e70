import type { Duplex } from 'node:stream';

/**
 * Watches the MQTT fixed headers on a connection: a packet that announces more than
 * `maxPacketBytes` closes the connection as soon as its header arrives, so no client can make the
 * broker collect a huge packet in memory. SUBSCRIBE and UNSUBSCRIBE get a far smaller bound: the
 * broker's work for one grows with the square of its filters (thousands of filters in one packet
 * stall every device's alarms for a minute), and a device needs a handful. Call it after the
 * broker has taken the connection.
 */
export const MAX_SUBSCRIBE_BYTES = 4096;

export function guardFrames(socket: Duplex, maxPacketBytes: number, onTooLarge: (size: number) => void): void {
  // parser state across chunks: where we are in the current packet
  let phase: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let remaining = 0;
  let limit = maxPacketBytes;

  const check = (chunk: Buffer): boolean => {
    let i = 0;
    while (i < chunk.length) {
      if (phase === 'type') {
        const type = chunk[i++] >> 4;
        // 8 SUBSCRIBE, 10 UNSUBSCRIBE
        limit = type === 8 || type === 10 ? Math.min(MAX_SUBSCRIBE_BYTES, maxPacketBytes) : maxPacketBytes;
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
        phase = remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(remaining, chunk.length - i);
        i += take;
        remaining -= take;
        if (remaining === 0) phase = 'type';
      }
    }
    return true;
  };
  const fail = (size: number) => {
    onTooLarge(size);
    socket.destroy();
    return false;
  };

  // attached after the broker has its 'readable' listener: 'data' then only observes the chunks the
  // broker reads, without changing how (or how fast) it reads them
  socket.on('data', check);
}
