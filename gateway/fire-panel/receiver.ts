import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Reading } from '../../domain/types.ts';
import { decodeData } from './application.ts';
import { answer, COMMAND, scan, type Frame } from './frame.ts';
import { PanelMemory, readingsOf, type PanelDevice, type Unmapped } from './panel-points.ts';

/**
 * The TCP listener for fire alarm panels' transmission devices (GB/T 26875.3-2011, FIRE_PANEL_PORT).
 * A connection belongs to the panel whose address its first good frame carries. Every "send data"
 * frame is confirmed (command 3) once what it reported is stored and its alarms recorded, and
 * denied (command 6) when it is bad or could not be stored, so the device sends it again. Bytes
 * that are not frames are skipped and counted; nothing on the wire can stop the listener.
 */
export type FrameOutcome =
  | 'accepted'
  | 'heartbeat'
  | 'garbage'
  | 'bad_length'
  | 'bad_checksum'
  | 'bad_end'
  | 'truncated'
  | 'bad_data'
  | 'unknown_panel'
  | 'host_refused'
  | 'other_panel'
  | 'not_stored'
  | 'unmapped'
  | 'unsupported_type'
  | 'ignored_command'
  | 'overflow'
  | 'too_many_connections'
  | 'evicted';

export interface RegisteredPanel extends PanelDevice {
  /** addresses the panel may connect from (none: any) */
  hosts?: readonly string[];
}

export interface FirePanelOptions {
  port: number;
  host?: string;
  /** this centre's address in the frames it sends */
  address?: number;
  findPanel(address: number): RegisteredPanel | undefined;
  onReadings(readings: Reading[]): { stored: Promise<void>; recorded: Promise<void> };
  /** a frame without readings (a heartbeat, a type only recognised): the panel is alive */
  onHeartbeat(device: PanelDevice, at: number): void;
  onLink(device: PanelDevice, link: 'connected' | 'disconnected', at: number): void;
  /**
   * reports that no point stands for (a frame's, together): a fire from them must still reach
   * someone. The frame is confirmed once this resolves (they are in the alert record), so a
   * panel reporting faster than that is slowed, as by its readings.
   */
  onUnmapped(device: PanelDevice, u: Unmapped[], at: number): Promise<void>;
  counters: { frames: { inc(labels: { outcome: FrameOutcome }): void } };
  maxConnections?: number;
  /** connections from one address (a panel's network, a NAT): idle sockets from one place cannot lock others out */
  maxConnectionsPerAddress?: number;
  /** connections one panel may hold (a reconnect overlaps its old socket): beyond, its oldest goes */
  maxConnectionsPerPanel?: number;
  /** a connection without a good frame this long after it opened is closed */
  firstFrameS?: number;
  /** a connection without a good frame this long is closed (a panel sends heartbeats); noise does not keep it open */
  idleTimeoutS?: number;
  maxFutureSkewMs: number;
  clock(): number;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
}

/** Bytes a connection may hold that are not yet a frame: two of the largest frames. */
const MAX_PENDING = 2 * (30 + 1024);
const MAX_IN_FLIGHT = 32;
/** answers a device has not read: beyond this it is not reading them, and the connection ends */
const MAX_UNREAD_ANSWERS = 64 * 1024;
/** bad frames in a row before the connection ends: a device of the standard resends 3 times */
const MAX_BAD_STREAK = 64;

export class FirePanelReceiver {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  /** per panel, the time of its last report: events are kept in the order they came */
  private readonly lastTs = new Map<string, number>();
  /** what each component behind a shared point last said */
  private readonly memory = new PanelMemory();
  /** open connections per panel: it is disconnected only when the last one closes (a reconnect overlaps the old socket) */
  private readonly linksOf = new Map<string, number>();
  /** connections that have not yet sent a good frame, oldest first: the first to go when the limits are reached */
  private readonly unproven = new Set<Socket>();
  /** each panel's connections, oldest first, and where each comes from */
  private readonly socketsOf = new Map<string, Socket[]>();
  private readonly remoteOf = new WeakMap<Socket, string>();
  port?: number;

  constructor(private readonly o: FirePanelOptions) {}

  async listen(): Promise<number> {
    const server = createServer((s) => this.connection(s));
    server.on('error', (err) => this.o.log.warn({ err: err.message }, 'fire panel listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => (server.off('error', reject), resolve()));
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private count(outcome: FrameOutcome) {
    this.o.counters.frames.inc({ outcome });
  }

  /**
   * At a limit (per address, or in all), room is made: first the oldest connection that has not
   * yet sent a good frame goes, then the oldest of the panel holding the most connections there
   * (when it holds more than one). Idle sockets, or many sockets speaking for one panel address
   * (a panel's frames carry no secret), cannot lock the other panels out; only when every panel
   * there holds a single connection is the new one refused.
   */
  private makeRoom(remote: string): boolean {
    const perAddress = this.o.maxConnectionsPerAddress ?? 16;
    const atAddress = (this.perAddress.get(remote) ?? 0) >= perAddress;
    const atAll = this.sockets.size >= (this.o.maxConnections ?? 2000);
    if (!atAddress && !atAll) return true;
    const inScope = (s: Socket) => atAll || this.remoteOf.get(s) === remote;
    for (const s of this.unproven) {
      if (!inScope(s)) continue;
      this.unproven.delete(s);
      this.evict(s);
      return true;
    }
    let most: Socket[] = [];
    for (const list of this.socketsOf.values()) {
      const here = list.filter(inScope);
      if (here.length > most.length) most = here;
    }
    if (most.length < 2) return false;
    this.evict(most[0]);
    return true;
  }

  private evict(s: Socket) {
    this.count('evicted');
    s.destroy();
  }

  /** A connection has shown which panel it speaks for: the panel's oldest beyond its share go. */
  private bind(socket: Socket, deviceId: string) {
    const list = this.socketsOf.get(deviceId) ?? [];
    list.push(socket);
    this.socketsOf.set(deviceId, list);
    while (list.length > (this.o.maxConnectionsPerPanel ?? 4)) this.evict(list.shift()!);
  }

  private connection(socket: Socket) {
    const remote = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '?';
    if (!this.makeRoom(remote)) {
      this.count('too_many_connections');
      socket.destroy();
      return;
    }
    this.perAddress.set(remote, (this.perAddress.get(remote) ?? 0) + 1);
    this.remoteOf.set(socket, remote);
    this.sockets.add(socket);
    this.unproven.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let badStreak = 0;
    let panel: RegisteredPanel | undefined;
    // frames are handled one after another: a fire and its recovery must not swap places
    let queue = Promise.resolve();
    // only good frames keep a connection open: first within firstFrameS, then within idleTimeoutS
    let timer = setTimeout(() => socket.destroy(), (this.o.firstFrameS ?? 30) * 1000).unref();
    const alive = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), (this.o.idleTimeoutS ?? 300) * 1000).unref();
    };
    const tooMuch = () => {
      // a device that does not read its answers, or sends nothing but bad frames
      if (socket.writableLength <= MAX_UNREAD_ANSWERS && badStreak <= MAX_BAD_STREAK) return false;
      this.count('overflow');
      socket.destroy();
      return true;
    };

    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let at = 0;
      for (;;) {
        const s = scan(pending, at);
        if (s.kind === 'partial') break;
        at = s.next;
        if (s.kind === 'bad') {
          this.count(s.reason);
          badStreak++;
          if (tooMuch()) return;
          // a frame whose control unit could be read is answered, so the device resends it
          if (s.header && s.reason === 'bad_checksum') queue = queue.then(() => this.reply(socket, s.header!, COMMAND.deny));
          continue;
        }
        if (tooMuch()) return;
        const frame = s.frame;
        // a device sending faster than its frames are stored is read no further until they are
        if (++inFlight === MAX_IN_FLIGHT) socket.pause();
        queue = queue.then(async () => {
          const outcome = await this.frame(socket, frame, panel, remote).catch((err: Error) => (this.o.log.warn({ err: err.message }, 'fire panel frame not handled'), 'not_stored' as const));
          if (typeof outcome === 'object') {
            if (!panel) {
              this.unproven.delete(socket);
              this.bind(socket, outcome.deviceId);
              const n = (this.linksOf.get(outcome.deviceId) ?? 0) + 1;
              this.linksOf.set(outcome.deviceId, n);
              if (n === 1) this.o.onLink(outcome, 'connected', this.o.clock());
            }
            panel = outcome;
            badStreak = 0;
            alive();
          } else if (outcome !== 'not_stored') badStreak++;
          if (--inFlight === MAX_IN_FLIGHT - 1) socket.resume();
        });
      }
      pending = pending.subarray(at);
      if (pending.length > MAX_PENDING) {
        this.count('overflow');
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const left = (this.perAddress.get(remote) ?? 1) - 1;
      if (left > 0) this.perAddress.set(remote, left);
      else this.perAddress.delete(remote);
      this.sockets.delete(socket);
      this.unproven.delete(socket);
      if (panel) {
        const list = this.socketsOf.get(panel.deviceId);
        if (list) {
          const i = list.indexOf(socket);
          if (i >= 0) list.splice(i, 1);
          if (!list.length) this.socketsOf.delete(panel.deviceId);
        }
        const n = (this.linksOf.get(panel.deviceId) ?? 1) - 1;
        if (n > 0) this.linksOf.set(panel.deviceId, n);
        else {
          this.linksOf.delete(panel.deviceId);
          this.o.onLink(panel, 'disconnected', this.o.clock());
        }
      }
    });
  }

  /** One good frame: the panel it belongs to when it was taken, else its outcome. */
  private async frame(socket: Socket, f: Frame, bound: RegisteredPanel | undefined, remote: string): Promise<RegisteredPanel | FrameOutcome> {
    // answers and confirms from the device, requests we never asked for: nothing to do
    if (f.command !== COMMAND.send) return this.refused(socket, f, 'ignored_command', false);
    const panel = this.o.findPanel(f.source);
    if (!panel) return this.refused(socket, f, 'unknown_panel');
    if (panel.hosts?.length && !panel.hosts.includes(remote)) return this.refused(socket, f, 'host_refused');
    // one connection speaks for one panel: another address on it is someone else's claim
    if (bound && bound.deviceId !== panel.deviceId) return this.refused(socket, f, 'other_panel');
    const decoded = decodeData(f.data);
    if (!decoded.ok) {
      this.o.log.warn({ panel: panel.deviceId, reason: decoded.reason }, 'fire panel frame refused');
      return this.refused(socket, f, 'bad_data');
    }
    const now = this.o.clock();
    const { readings, unmapped } = readingsOf(panel, decoded.items, now, this.o.maxFutureSkewMs, this.lastTs.get(panel.deviceId), this.memory);
    // noted before the store is awaited: a frame on another connection of the panel comes after
    if (readings.length) this.lastTs.set(panel.deviceId, Math.max(this.lastTs.get(panel.deviceId) ?? -Infinity, ...readings.map((r) => r.ts)));
    for (const u of unmapped) if (!u.device) this.count('unmapped');
    if (!decoded.known) this.count('unsupported_type');
    try {
      const kept = unmapped.length ? this.o.onUnmapped(panel, unmapped, now) : undefined;
      if (!readings.length) {
        await kept;
        this.o.onHeartbeat(panel, now);
        this.count('heartbeat');
        await this.reply(socket, f, COMMAND.confirm);
        return panel;
      }
      const { stored, recorded } = this.o.onReadings(readings);
      await Promise.all([stored, recorded, kept]);
    } catch (err) {
      this.o.log.warn({ panel: panel.deviceId, err: (err as Error).message }, 'fire panel readings not stored: denied, the device sends them again');
      return this.refused(socket, f, 'not_stored');
    }
    this.count('accepted');
    await this.reply(socket, f, COMMAND.confirm);
    return panel;
  }

  private async refused(socket: Socket, f: Frame, outcome: FrameOutcome, deny = true): Promise<FrameOutcome> {
    this.count(outcome);
    if (deny) await this.reply(socket, f, COMMAND.deny);
    return outcome;
  }

  private reply(socket: Socket, to: Pick<Frame, 'serial' | 'version' | 'source' | 'destination'>, command: typeof COMMAND.confirm | typeof COMMAND.deny): Promise<void> {
    if (socket.destroyed) return Promise.resolve();
    if (socket.writableLength > MAX_UNREAD_ANSWERS) {
      this.count('overflow');
      socket.destroy();
      return Promise.resolve();
    }
    return new Promise((resolve) => socket.write(answer(to, command, this.o.clock()), () => resolve()));
  }
}
