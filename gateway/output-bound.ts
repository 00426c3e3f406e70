import type { Duplex } from 'node:stream';

/**
 * What the broker writes to a connection never makes it wait, and a connection that does not
 * take what is written to it is closed once `maxUnsent` bytes wait for it.
 *
 * aedes waits for a connection's 'drain' whenever a write reports a full buffer, and a delivery to
 * a subscriber holds its place in the message router while it waits (until aedes' 30 s drain
 * timeout). With the router's default bound, one control-room tool subscribed to `alerts/#` that
 * stopped reading filled it: every other publish queued behind it, no device got a PUBACK, and
 * when the queue was let go at once it overflowed the stack and the service died (an outside
 * probe, 2026-12-07; the router has no bound now, broker.ts). So a write always says "go on";
 * what waits is counted on the connection, and past the bound the reader that cannot keep up is
 * let go (it logs in again; a kept session gets what was queued for it while away), not the
 * memory of everything sent to it meanwhile.
 */
export function boundOutput(stream: Duplex, maxUnsent: number, onSlow: (unsent: number) => void): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    write(...args);
    if (stream.writableLength > maxUnsent && !stream.destroyed) {
      onSlow(stream.writableLength);
      stream.destroy();
    }
    return true;
  }) as Duplex['write'];
}
