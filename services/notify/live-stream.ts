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

  /**
   * `maxUnsentBytes`: a follower that does not read (a tab asleep, a stuck proxy) would have every
   * event kept for it in memory, through an alarm storm: past this much unsent, its stream ends
   * (it reconnects and reads the list again), as MQTT's slow readers are let go.
   */
  constructor(
    heartbeatMs = 15_000,
    private readonly maxUnsentBytes = 4 * 1024 * 1024,
  ) {
    // a comment line now and then keeps proxies from closing an idle stream
    this.heartbeat = setInterval(() => this.followers.forEach((f) => this.write(f, ': keep-alive\n\n')), heartbeatMs);
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
      else if (caller.sees(enterpriseId)) this.write(f, frame);
    }
  }

  private write(f: Follower, text: string) {
    f.res.write(text);
    if (f.res.writableLength <= this.maxUnsentBytes) return;
    this.followers.delete(f);
    f.res.destroy();
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
