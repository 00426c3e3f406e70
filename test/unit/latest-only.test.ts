import { describe, expect, it } from 'vitest';
import { LatestOnly } from '../../services/pipeline/latest-only.ts';

/** New registries for the pipeline: one run at a time, and of those asked meanwhile only the latest. */
describe('latest only', () => {
  it('runs one at a time, then only the last of those asked meanwhile; every ask resolves once a run covering it is done', async () => {
    const runs: number[] = [];
    const gates: (() => void)[] = [];
    const work = new LatestOnly<number>(async (n) => {
      runs.push(n);
      await new Promise<void>((r) => gates.push(r));
    });
    const settled: number[] = [];
    const ask = (n: number) => void work.ask(n).then(() => settled.push(n));
    ask(1);
    for (let n = 2; n <= 20; n++) ask(n);
    await Promise.resolve();
    expect(runs).toEqual([1]);
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(settled).toEqual([1]);
    // of the nineteen asked while the first ran, only the last runs
    expect(runs).toEqual([1, 20]);
    ask(21);
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(settled).toEqual([1, ...Array.from({ length: 19 }, (_, i) => i + 2)]);
    expect(runs).toEqual([1, 20, 21]);
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(settled.at(-1)).toBe(21);
    expect(gates).toEqual([]);
  });

  it('goes on after a run that failed, and resolves those who waited for it', async () => {
    const runs: number[] = [];
    const work = new LatestOnly<number>(async (n) => {
      runs.push(n);
      if (n === 1) throw new Error('the thread is starting again');
    });
    await Promise.all([work.ask(1), work.ask(2)]);
    expect(runs).toEqual([1, 2]);
  });
});
