import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { failureText } from '../../services/failure-text.ts';

/** A port nothing listens on: one just let go. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const failureOf = (p: Promise<unknown>) => p.then(() => expect.unreachable(), (e: unknown) => e);

describe('a failed delivery, as the record and the log say it', () => {
  it('says why fetch failed: a refused connection, a name that does not resolve', async () => {
    const port = await closedPort();
    const refused = await failureOf(fetch(`http://127.0.0.1:${port}/hook`));
    expect((refused as Error).message).toBe('fetch failed');
    expect(failureText(refused)).toMatch(new RegExp(`^fetch failed: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    const unknown = await failureOf(fetch('http://no-such-host.invalid/hook'));
    expect(failureText(unknown)).toMatch(/^fetch failed: getaddrinfo \w+ no-such-host\.invalid/);
  });

  it('a message with no words of its own (an AggregateError) says its first error, or its code', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED ::1:9'), { code: 'ECONNREFUSED' });
    expect(failureText(new TypeError('fetch failed', { cause: new AggregateError([inner], '') }))).toBe('fetch failed: connect ECONNREFUSED ::1:9');
    expect(failureText(new TypeError('fetch failed', { cause: Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }) }))).toBe('fetch failed: ECONNREFUSED');
  });

  it('never says a URL\'s query or fragment (a robot\'s token rides in it), and says each cause once', () => {
    const e = new Error('bad answer from https://oapi.dingtalk.com/robot/send?access_token=s3cr3t-token', { cause: new Error('answered 403 for https://h.example/x#key=s3cr3t-2') });
    const said = failureText(e);
    expect(said).not.toMatch(/s3cr3t/);
    expect(said).toBe('bad answer from https://oapi.dingtalk.com/robot/send?…: answered 403 for https://h.example/x?…');
    expect(failureText(new Error('timeout: the receiver did not answer', { cause: new Error('the receiver did not answer') }))).toBe('timeout: the receiver did not answer');
  });

  it('whatever was thrown: not an Error, a cause that loops, nothing at all', () => {
    expect(failureText('refused')).toBe('refused');
    const loop = new Error('a');
    (loop as { cause?: unknown }).cause = loop;
    expect(failureText(loop)).toBe('a');
    expect(failureText(new Error(''))).toBe('Error');
    expect(failureText(undefined)).toBe('unknown error');
    // thrown things that throw when read
    expect(failureText({ toString: () => { throw new Error('no'); } })).toBe('unknown error');
    expect(failureText(Object.defineProperty(new Error('outer'), 'cause', { get: () => { throw new Error('no'); } }))).toBe('outer');
    expect(failureText(Object.create(null))).toBe('unknown error');
  });
});
