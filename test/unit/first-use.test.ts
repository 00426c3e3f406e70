import { afterEach, describe, expect, it } from 'vitest';
import { payFirstUseCosts } from '../../services/first-use.ts';

describe('first-use costs paid at start', () => {
  const real = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = real;
  });

  it('makes one request with fetch, to a local server of its own that answers it', async () => {
    const asked: { url: string; status: number }[] = [];
    globalThis.fetch = async (url, init) => {
      const answer = await real(url, init);
      asked.push({ url: String(url), status: answer.status });
      return answer;
    };
    await payFirstUseCosts();
    expect(asked).toHaveLength(1);
    expect(asked[0].url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(asked[0].status).toBe(200);
  });

  it('never fails the start: a fetch that throws is let go', async () => {
    globalThis.fetch = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(payFirstUseCosts()).resolves.toBeUndefined();
  });
});
