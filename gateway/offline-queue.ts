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
    outgoingStream(client: { id: string }): AsyncIterable<Queued>;
    outgoingUpdate(client: { id: string }, packet: Queued): Promise<void>;
    outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<unknown>;
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
    /**
     * The session is gone (its device removed, or its place taken by a newer one of the same
     * device): nothing more is counted for it, and what it held is let go. aedes has no call for
     * that; its own way (as for a clean session that connects) is to number each queued packet and
     * clear it by that number.
     */
    forget: async (clientId: string) => {
      queued.delete(clientId);
      const ref = { id: clientId };
      let n = 0;
      for await (const p of persistence.outgoingStream(ref)) {
        if (p.messageId === undefined) await persistence.outgoingUpdate(ref, { ...p, messageId: (n = (n % 65535) + 1) });
        await persistence.outgoingClearMessageId(ref, { messageId: p.messageId ?? n });
      }
    },
  };
}

interface Queued {
  brokerId: string;
  brokerCounter: number;
  messageId?: number;
}
