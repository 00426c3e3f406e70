import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit } from '../../services/store/group-commit.ts';

describe('the telemetry stores\' group commit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function group(maxSize = 100) {
    const writes: string[][] = [];
    const g = new GroupCommit<string>(async (items) => void writes.push(items), { maxWaitMs: 20, maxSize });
    return { g, writes };
  }

  it('writes what comes alone at the end of the turn, not after a window nothing else joins', async () => {
    const { g, writes } = group();
    const a = g.add('a', 1);
    const b = g.add('b', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toEqual([['a', 'b']]);
    await Promise.all([a, b]);
  });

  it('closes at most one group a window while readings keep coming: as many to a write as before', async () => {
    const { g, writes } = group();
    void g.add('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toEqual([['a']]);
    // within the window of the last: each waits its window, the others join it
    await vi.advanceTimersByTimeAsync(5);
    void g.add('b', 1);
    await vi.advanceTimersByTimeAsync(5);
    void g.add('c', 1);
    await vi.advanceTimersByTimeAsync(14);
    expect(writes).toEqual([['a']]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([['a'], ['b', 'c']]);
    void g.add('d', 1);
    await vi.advanceTimersByTimeAsync(19);
    expect(writes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([['a'], ['b', 'c'], ['d']]);
    // a window after the last group closed, the next reading goes at once again
    await vi.advanceTimersByTimeAsync(50);
    void g.add('e', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(writes.at(-1)).toEqual(['e']);
  });

  it('waits the window while a write is under way, however long ago the last group closed: a slow store gets batches, not one write each', async () => {
    const writes: string[][] = [];
    let finish = () => {};
    const g = new GroupCommit<string>((items) => (writes.push(items), new Promise<void>((r) => (finish = r))), { maxWaitMs: 20, maxSize: 100 });
    void g.add('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toEqual([['a']]);
    // the write takes 30 ms: what comes meanwhile gathers for a window
    await vi.advanceTimersByTimeAsync(30);
    void g.add('b', 1);
    await vi.advanceTimersByTimeAsync(0);
    void g.add('c', 1);
    await vi.advanceTimersByTimeAsync(19);
    finish();
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toEqual([['a'], ['b', 'c']]);
    finish();
  });

  it('closes a group at once when it reaches its size, and an explicit flush writes what waits', async () => {
    const { g, writes } = group(3);
    void g.add('a', 1);
    await vi.advanceTimersByTimeAsync(0);
    void g.add('b', 2);
    void g.add('c', 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(writes).toEqual([['a'], ['b', 'c']]);
    void g.add('d', 1);
    await g.flush();
    expect(writes.at(-1)).toEqual(['d']);
  });

  it('rejects every caller of a group whose write failed, and goes on with the next', async () => {
    let fail = true;
    const g = new GroupCommit<string>(async () => {
      if (fail) throw new Error('disk full');
    }, { maxWaitMs: 20, maxSize: 100 });
    const settled: string[] = [];
    for (const item of ['a', 'b']) g.add(item, 1).then(() => settled.push('written'), () => settled.push('rejected'));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toEqual(['rejected', 'rejected']);
    fail = false;
    const c = g.add('c', 1);
    await vi.advanceTimersByTimeAsync(20);
    await expect(c).resolves.toBeUndefined();
  });
});
