import type { ServerResponse } from 'node:http';

/**
 * Server-Sent Events to the dashboards and anyone following `GET /api/alerts/stream`. Each
 * follower sees only the enterprises its caller may see now: the caller is looked up again by its
 * token for every event, so a token withdrawn or a regulator's regions narrowed in the registry
 * take effect on streams already open (an outside probe: a withdrawn token's stream went on
 * receiving alarms), and `recheck()` ends the streams of withdrawn tokens at once.
 */
interface Follower {
  res: ServerResponse;
  /** the caller as the registry in force has it; undefined: its token was withdrawn */
  caller(): { sees(enterpriseId: string): boolean } | undefined;
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

  follow(res: ServerResponse, caller: Follower['caller']): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const f = { res, caller };
    this.followers.add(f);
    res.on('close', () => this.followers.delete(f));
  }

  send(enterpriseId: string, event: string, data: unknown): void {
    const frame = `id: ${++this.seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const f of this.followers) {
      const caller = f.caller();
      if (!caller) this.end(f);
      else if (caller.sees(enterpriseId)) f.res.write(frame);
    }
  }

  /** The registry changed: the streams of withdrawn tokens end now (their next try is refused). */
  recheck(): void {
    for (const f of this.followers) if (!f.caller()) this.end(f);
  }

  private end(f: Follower) {
    this.followers.delete(f);
    f.res.end('event: ended\ndata: {"error":"UNAUTHORIZED","message":"the token was withdrawn"}\n\n');
    f.res.socket?.end();
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
