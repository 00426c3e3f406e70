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
  /** whose stream it is (the token's digest): streams are counted per caller */
  who: string;
  /** the caller as the registry in force has it; undefined: its token was withdrawn */
  caller(): { sees(enterpriseId: string): boolean } | undefined;
}

export class LiveStream {
  private readonly followers = new Set<Follower>();
  private seq = 0;
  private readonly heartbeat: NodeJS.Timeout;

  /** streams open per caller */
  private readonly byCaller = new Map<string, number>();

  /**
   * `maxUnsentBytes`: a follower that does not read (a tab asleep, a stuck proxy) would have every
   * event kept for it in memory, through an alarm storm: past this much unsent, its stream ends
   * (it reconnects and reads the list again), as MQTT's slow readers are let go.
   * `limits`: streams are connections held open, each a file descriptor: without a bound one
   * token opening thousands (an outside probe: 668 idle streams) used up the process's descriptors
   * and devices could no longer connect over MQTT. At most `perCaller` a token and `total` in all.
   */
  constructor(
    heartbeatMs = 15_000,
    private readonly maxUnsentBytes = 4 * 1024 * 1024,
    readonly limits = { perCaller: 50, total: 2000, kept: 200 },
  ) {
    // a comment line now and then keeps proxies from closing an idle stream
    this.heartbeat = setInterval(() => this.followers.forEach((f) => this.write(f, ': keep-alive\n\n')), heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * May this caller open one more stream? 'caller': it has its share open; 'total': the service
   * has. The last `limits.kept` places are kept for those who watch for everyone (operators,
   * regulators): enterprises' streams alone cannot lock the duty room out.
   */
  refuses(who: string, watchesForOthers: boolean): 'caller' | 'total' | null {
    if ((this.byCaller.get(who) ?? 0) >= this.limits.perCaller) return 'caller';
    return this.followers.size >= this.limits.total - (watchesForOthers ? 0 : this.limits.kept) ? 'total' : null;
  }

  follow(res: ServerResponse, who: string, caller: Follower['caller']): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const f = { res, who, caller };
    this.followers.add(f);
    this.byCaller.set(who, (this.byCaller.get(who) ?? 0) + 1);
    res.on('close', () => this.forget(f));
    // a response queued behind another on its connection (pipelined) hears no 'close' of its own
    res.req?.socket?.once('close', () => this.forget(f));
  }

  private forget(f: Follower) {
    if (!this.followers.delete(f)) return;
    const left = (this.byCaller.get(f.who) ?? 1) - 1;
    if (left > 0) this.byCaller.set(f.who, left);
    else this.byCaller.delete(f.who);
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
    this.forget(f);
    f.res.destroy();
  }

  /** The registry changed: the streams of withdrawn tokens end now (their next try is refused). */
  recheck(): void {
    for (const f of this.followers) if (!f.caller()) this.end(f);
  }

  private end(f: Follower) {
    this.forget(f);
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
    this.byCaller.clear();
  }
}
