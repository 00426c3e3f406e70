import { afterEach, describe, expect, it, vi } from 'vitest';
import { AlertStepPending } from '../../services/alerts/alert-book.ts';
import { RemoteBook } from '../../services/cluster/commands.ts';
import type { ClusterLog } from '../../services/cluster/log.ts';

/**
 * An API node's steps on alerts in cluster mode, when the log itself fails: the step is answered
 * (503, it may still be applied) and nothing is left behind to fail later (an unhandled rejection
 * would end the process: vitest fails the run on one). The log is the one part played here, by a
 * stand-in whose appends fail: the rest of RemoteBook's path runs against real NATS in
 * test/e2e/cluster.test.ts.
 */
describe('a step on an alert when the log fails', () => {
  afterEach(() => vi.useRealTimers());

  it('is answered as pending at once, and leaves no timer or subscription behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let subscribed = 0;
    let unsubscribed = 0;
    const log = {
      subscribe: () => (subscribed++, { unsubscribe: () => void unsubscribed++ }),
      append: async () => Promise.reject(new Error('insufficient resources')),
    } as unknown as ClusterLog;
    const book = new RemoteBook(log, async () => 'E1', Date.now, 50);
    await expect(book.ack('a1', 'op')).rejects.toBeInstanceOf(AlertStepPending);
    await expect(book.ack('a1', 'op')).rejects.toThrow(/may still be applied; look at the alert/);
    // the answer's time limit was cleared: nothing is left to reject unhandled later
    expect(vi.getTimerCount()).toBe(0);
    expect([subscribed, unsubscribed]).toEqual([2, 2]);
  });

  it('says an unknown alert is unknown without touching the log', async () => {
    const log = { subscribe: () => ({ unsubscribe() {} }), append: async () => Promise.reject(new Error('must not be called')) } as unknown as ClusterLog;
    const book = new RemoteBook(log, async () => null, Date.now, 50);
    await expect(book.close('nope', 'op', 'other', 'x')).rejects.toThrow('nope');
  });
});
