import type { Aedes } from 'aedes';

/**
 * A persistent session that never comes back must not hold messages without bound. aedes keeps
 * QoS 1 messages for offline persistent sessions in its persistence without a limit; this wraps
 * the one call through which they are queued: past `limit` messages for one client id (since it
 * was last connected), further ones are dropped and counted. The alert record keeps them all.
 */
export function boundOfflineQueues(broker: Aedes, limit: number, onDropped: () => void) {
  const queued = new Map<string, number>();
  const persistence = (broker as unknown as { persistence: unknown }).persistence as {
    outgoingEnqueueCombi(subs: { clientId: string }[], packet: unknown): Promise<void>;
  };
  const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
  persistence.outgoingEnqueueCombi = (subs, packet) => {
    const kept = subs.filter((sub) => {
      const n = queued.get(sub.clientId) ?? 0;
      if (n >= limit) {
        onDropped();
        return false;
      }
      queued.set(sub.clientId, n + 1);
      return true;
    });
    return kept.length ? enqueue(kept, packet) : Promise.resolve();
  };
  broker.on('clientReady', (c) => queued.delete(c.id));
  return {
    /** the session is gone: nothing more is counted for it */
    forget: (clientId: string) => queued.delete(clientId),
  };
}
