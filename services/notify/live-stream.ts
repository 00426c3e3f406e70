import type { ServerResponse } from 'node:http';

/**
 * Server-Sent Events to the dashboards and anyone following `GET /api/alerts/stream`. Each
 * follower sees only the enterprises its caller may see.
 */
interface Follower {
  res: ServerResponse;
  sees(enterpriseId: string): boolean;
}

export class LiveStream {
  private readonly followers = new Set<Follower>();
  private seq = 0;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(heartbeatMs = 15_000) {
    // a comment line now and then keeps proxies from closing an idle stream
    this.heartbeat = setInterval(() => this.followers.forEach((f) => f.res.write(': keep-alive\n\n')), heartbeatMs);
    this.heartbeat.unref();
  }

  follow(res: ServerResponse, sees: (enterpriseId: string) => boolean): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const f = { res, sees };
    this.followers.add(f);
    res.on('close', () => this.followers.delete(f));
  }

  send(enterpriseId: string, event: string, data: unknown): void {
    const frame = `id: ${++this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const f of this.followers) if (f.sees(enterpriseId)) f.res.write(frame);
  }

  get size() {
    return this.followers.size;
  }

  close() {
    clearInterval(this.heartbeat);
    // the connection ends with its stream: a stream's connection is never reused, and one left
    // open after it would hold the API's close until the follower's next request (a dashboard's
    // refresh, 15 s) or its keep-alive timeout
    for (const f of this.followers) {
      f.res.end();
      f.res.socket?.end();
    }
    this.followers.clear();
  }
}
