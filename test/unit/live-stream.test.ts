import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LiveStream } from '../../services/notify/live-stream.ts';
import { waitFor } from '../support/wait.ts';

const everyone = () => ({ sees: () => true });

describe('the live alert stream', () => {
  it('lets go of a follower that stops reading once its unsent events pass the bound; one that reads gets every event', async () => {
    const live = new LiveStream(15_000, 256 * 1024);
    const server = createServer((req, res) => live.follow(res, req.url ?? '', everyone));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const open = () => new Promise<IncomingMessage>((resolve) => request({ host: '127.0.0.1', port, path: '/' }, resolve).end());
    const reader = await open();
    let received = 0;
    reader.on('data', (c: Buffer) => (received += c.toString().split('event: alert').length - 1));
    const asleep = await open();
    // a tab asleep: nothing it is sent is read
    asleep.pause();
    asleep.socket.pause();
    await waitFor(() => live.size === 2, 5000, 'both following');
    const big = { message: 'x'.repeat(8 * 1024) };
    let sent = 0;
    // an alarm storm, until the sleeper has been let go (the kernel's buffers hold a few MB first)
    while (live.size === 2 && sent < 10_000) {
      live.send('E', 'alert', big);
      sent++;
      if (sent % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(live.size).toBe(1);
    await waitFor(() => received === sent, 10_000, 'every event read by the reader');
    live.close();
    asleep.destroy();
    await new Promise((r) => server.close(r));
  });

  it('follows at most its bound of streams a caller and in all, the last places kept for those who watch for everyone; a stream closed frees its place', async () => {
    const live = new LiveStream(15_000, 4 * 1024 * 1024, { perCaller: 2, total: 4, kept: 1 });
    const server = createServer((req, res) => live.follow(res, req.url!.slice(1), everyone));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const open = (who: string) => new Promise<IncomingMessage>((resolve) => request({ host: '127.0.0.1', port, path: `/${who}` }, resolve).end());
    const a1 = await open('a');
    await open('a');
    expect(live.refuses('a', false)).toBe('caller');
    expect(live.refuses('b', false)).toBeNull();
    await open('b');
    // the last place is an operator's or a regulator's
    expect(live.refuses('c', false)).toBe('total');
    expect(live.refuses('operator', true)).toBeNull();
    await open('operator');
    expect(live.refuses('regulator', true)).toBe('total');
    // one of a's closed: a place is free again, and a is under its own bound
    a1.destroy();
    await waitFor(() => live.size === 3, 5000, 'the closed stream forgotten');
    expect(live.refuses('regulator', true)).toBeNull();
    expect(live.refuses('a', true)).toBeNull();
    live.close();
    await new Promise((r) => server.close(r));
  });
});
