import { connect, type Socket } from 'node:net';
import { encodeData, type ComponentStatus, type SystemStatus } from '../gateway/fire-panel/application.ts';
import { COMMAND, encode, scan, timeLabel, type Frame } from '../gateway/fire-panel/frame.ts';

/**
 * A fire alarm panel's user information transmission device speaking GB/T 26875.3-2011 to the
 * service: heartbeats, component fire / fault / recovery, system status, and frames that are
 * wrong on purpose (bad checksum, cut short, random bytes). Each frame it sends waits for the
 * centre's answer: `confirmed` or `denied` (or `none` when only bytes were sent).
 */
export interface PanelComponent {
  systemType?: number;
  systemAddress?: number;
  componentType: number;
  componentAddress: number;
  description?: string;
}

/** `closed`: the connection ended before an answer came */
export type Answer = 'confirmed' | 'denied' | 'closed';

export class FirePanelSimulator {
  private socket?: Socket;
  private serial = 0;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiting = new Map<number, (a: Answer) => void>();
  /** every answer the centre sent, as bytes (tests check them) */
  readonly answers: Buffer[] = [];

  constructor(
    private readonly o: { host: string; port: number; address: number; centre?: number; clock?: () => number },
  ) {}

  async connect(): Promise<void> {
    const socket = connect(this.o.port, this.o.host);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('close', () => {
      for (const w of this.waiting.values()) w('closed');
      this.waiting.clear();
    });
    this.socket = socket;
  }

  private read(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let at = 0;
    for (;;) {
      const s = scan(this.buffer, at);
      if (s.kind === 'partial') break;
      at = s.next;
      if (s.kind !== 'frame') continue;
      this.answers.push(Buffer.from(this.buffer.subarray(at - (30 + s.frame.data.length), at)));
      const w = this.waiting.get(s.frame.serial);
      this.waiting.delete(s.frame.serial);
      w?.(s.frame.command === COMMAND.confirm ? 'confirmed' : 'denied');
    }
    this.buffer = this.buffer.subarray(at);
  }

  private now() {
    return (this.o.clock ?? Date.now)();
  }

  /** The bytes of a "send data" frame with the next serial. */
  frame(data: Buffer): { serial: number; bytes: Buffer } {
    const serial = (this.serial = (this.serial + 1) & 0xffff);
    const f: Frame = { serial, version: [1, 0], time: timeLabel(this.now()), source: this.o.address, destination: this.o.centre ?? 0, command: COMMAND.send, data };
    return { serial, bytes: encode(f) };
  }

  /** Send bytes that make one frame, and wait for its answer. */
  send(data: Buffer, mangle?: (bytes: Buffer) => Buffer): Promise<Answer> {
    const { serial, bytes } = this.frame(data);
    const answered = new Promise<Answer>((resolve) => this.waiting.set(serial, resolve));
    this.socket!.write(mangle ? mangle(bytes) : bytes);
    return answered;
  }

  heartbeat(): Promise<Answer> {
    return this.send(Buffer.alloc(0));
  }

  component(c: PanelComponent, state: { fire?: boolean; fault?: boolean }): Promise<Answer> {
    return this.components([c], state);
  }

  /** Several components in one frame (a panel reports what changed together: a fault storm). */
  components(list: readonly PanelComponent[], state: { fire?: boolean; fault?: boolean }): Promise<Answer> {
    const items = list.map(
      (c): ComponentStatus => ({
        type: 2,
        systemType: c.systemType ?? 1,
        systemAddress: c.systemAddress ?? 1,
        componentType: c.componentType,
        componentAddress: c.componentAddress,
        // bit 0: normal operation; 1 fire; 2 fault
        status: 1 | (state.fire ? 1 << 1 : 0) | (state.fault ? 1 << 2 : 0),
        description: c.description ?? '',
        time: timeLabel(this.now()),
      }),
    );
    return this.send(encodeData(items));
  }

  fire(c: PanelComponent) {
    return this.component(c, { fire: true });
  }

  fault(c: PanelComponent) {
    return this.component(c, { fault: true });
  }

  recover(c: PanelComponent) {
    return this.component(c, {});
  }

  system(s: { systemType?: number; systemAddress?: number; fire?: boolean; fault?: boolean; mainPowerFault?: boolean }): Promise<Answer> {
    const item: SystemStatus = {
      type: 1,
      systemType: s.systemType ?? 1,
      systemAddress: s.systemAddress ?? 1,
      status: 1 | (s.fire ? 1 << 1 : 0) | (s.fault ? 1 << 2 : 0) | (s.mainPowerFault ? 1 << 8 : 0),
      time: timeLabel(this.now()),
    };
    return this.send(encodeData([item]));
  }

  /** A frame whose checksum is wrong: the centre denies it. */
  badChecksum(c: PanelComponent): Promise<Answer> {
    const item: ComponentStatus = { type: 2, systemType: 1, systemAddress: 1, componentType: c.componentType, componentAddress: c.componentAddress, status: 3, description: '', time: timeLabel(this.now()) };
    return this.send(encodeData([item]), (b) => {
      b[b.length - 3] ^= 0x5a;
      return b;
    });
  }

  /** The first part of a frame only (a device that restarted mid-frame): no answer comes. */
  truncated(): void {
    const { bytes } = this.frame(encodeData([{ type: 1, systemType: 1, systemAddress: 1, status: 3, time: timeLabel(this.now()) }]));
    this.socket!.write(bytes.subarray(0, 20));
  }

  /** Bytes that are no frame at all. */
  garbage(bytes: Buffer): void {
    this.socket!.write(bytes);
  }

  close() {
    this.socket?.destroy();
  }
}
