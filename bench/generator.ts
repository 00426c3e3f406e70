import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { modelFor, type Model } from '../simulators/models.ts';

/**
 * The load generator: its own process (pinned to a core by the bench), raw MQTT 3.1.1 over TCP
 * with mqtt-packet for parsing. Publish packets are laid out by hand from a prepared topic, so the
 * generator spends its time on the wire, not in a client library, and can outrun the brokers it
 * measures. The same generator, payloads and QoS drive every broker in a run.
 *
 * Input: one JSON job (or a file holding it) on argv[2]. Output: JSON lines on stdout ({ event: … }). While holding
 * connections it waits for "stop" on stdin.
 */
export interface Job {
  host: string;
  port: number;
  /** who connects: devices with credentials, or anonymous clients */
  clients: { id: string; username?: string; password?: string; topic: string; metrics: string[] }[];
  qos: 0 | 1;
  /** readings per second over all publishers; 0 = as fast as the broker takes them */
  rate: number;
  durationS: number;
  /** QoS 1 messages in flight per connection before waiting for PUBACKs */
  inflight?: number;
  /** subscribe on this filter with one extra connection and count what arrives */
  subscribe?: string;
  /** connect this many at once */
  connectConcurrency?: number;
  /** after connecting, wait for a line on stdin before publishing */
  waitForGo?: boolean;
  /** connect, report, and hold the connections idle until "stop" */
  holdOnly?: boolean;
  /** where each device's seq goes on from (its last of the previous run): seqs never repeat across
   * runs, so what was acknowledged can be looked up in the store by seq, and never jump (a jump
   * is readings missing, a data-quality alarm for every device) */
  seqFrom?: Record<string, number>;
  /** QoS 1: report each device's acknowledged seqs as ranges (`ackedSeqs` in "done") */
  reportAcked?: boolean;
}

interface Conn {
  socket: Socket;
  client: Job['clients'][number];
  topicBytes: Buffer;
  seq: number;
  inflight: number;
  nextId: number;
  blocked: boolean;
  values: string;
  models: Map<string, Model>;
  /** packet id → the seq it carried, until acknowledged */
  seqOf: Float64Array | null;
  /** acknowledged seqs as [lo, hi] pairs, flat */
  acked: number[];
}

import { readFileSync } from 'node:fs';
// a job is a JSON file (thousands of devices do not fit on a command line) or JSON itself
const arg = process.argv[2];
const job = JSON.parse(arg.startsWith('{') ? arg : readFileSync(arg, 'utf8')) as Job;
const emit = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
/** values: readings × their points, to compare with the rows a store holds afterwards */
const counts = { sent: 0, acked: 0, received: 0, refused: 0, valuesSent: 0, valuesAcked: 0 };

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A PUBLISH laid out by hand: fixed header, topic, packet id for QoS 1, payload. */
function publishPacket(c: Conn, payload: Buffer, qos: 0 | 1, id: number): Buffer {
  const len = 2 + c.topicBytes.length + (qos ? 2 : 0) + payload.length;
  const head = varint(len);
  const buf = Buffer.allocUnsafe(1 + head.length + len);
  let o = 0;
  buf[o++] = qos ? 0x32 : 0x30;
  for (const b of head) buf[o++] = b;
  buf.writeUInt16BE(c.topicBytes.length, o);
  o += 2;
  o += c.topicBytes.copy(buf, o);
  if (qos) {
    buf.writeUInt16BE(id, o);
    o += 2;
  }
  payload.copy(buf, o);
  return buf;
}

/** A reading as the simulators send it: every point of the device from its normal model. */
function valuesOf(c: Conn): string {
  const values: Record<string, number | boolean> = {};
  for (const [m, model] of c.models) values[m] = model.next(now, Math.random);
  return JSON.stringify(values);
}
let now = Date.now();
function reading(c: Conn): Buffer {
  // the values change now and then; the time and the sequence number always
  if ((c.seq & 15) === 0) c.values = valuesOf(c);
  return Buffer.from(`{"ts":${now},"seq":${++c.seq},"values":${c.values}}`);
}

/**
 * Incoming frames without a full parser: the generator only needs the packet type and, for
 * PUBLISH with QoS 1 and PUBACK, the packet id. Frames may be split across chunks.
 */
function frameScanner(onFrame: (type: number, flags: number, body: Buffer) => void) {
  let rest: Buffer | null = null;
  return (chunk: Buffer) => {
    let buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = null;
    let o = 0;
    while (o < buf.length) {
      let len = 0;
      let mul = 1;
      let i = o + 1;
      let complete = false;
      while (i < buf.length) {
        const b = buf[i++];
        len += (b & 127) * mul;
        mul *= 128;
        if (!(b & 128)) {
          complete = true;
          break;
        }
      }
      if (!complete || i + len > buf.length) break;
      onFrame(buf[o] >> 4, buf[o] & 15, buf.subarray(i, i + len));
      o = i + len;
    }
    if (o < buf.length) rest = Buffer.from(buf.subarray(o));
  };
}

function open(client: Job['clients'][number], onFrame: (type: number, flags: number, body: Buffer, c: Conn) => void): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: job.host, port: job.port, noDelay: true });
    const c: Conn = { socket, client, topicBytes: Buffer.from(client.topic), seq: (client.username && job.seqFrom?.[client.username]) || 0, inflight: 0, nextId: 1, blocked: false, values: '{}', models: new Map(client.metrics.map((m) => [m, modelFor(m)])), seqOf: job.reportAcked ? new Float64Array(65536) : null, acked: [] };
    c.values = valuesOf(c);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let connected = false;
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') {
        if (p.returnCode === 0) {
          connected = true;
          // from here on only PUBACKs and deliveries arrive: a frame scanner is enough
          const scan = frameScanner((type, flags, body) => onFrame(type, flags, body, c));
          socket.removeAllListeners('data');
          socket.on('data', scan);
          resolve(c);
        } else {
          counts.refused++;
          reject(new Error(`CONNACK ${p.returnCode} for ${client.id}`));
        }
      }
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('drain', () => {
      c.blocked = false;
      pump(c);
    });
    socket.on('error', (err) => (connected ? undefined : reject(err)));
    socket.on('close', () => {
      if (!connected) reject(new Error(`closed before CONNACK: ${client.id}`));
    });
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: client.id, keepalive: 0, username: client.username, password: client.password ? Buffer.from(client.password) : undefined }));
  });
}

const puback = (id: number) => Buffer.from([0x40, 2, id >> 8, id & 0xff]);

let publishing = false;
let budget = 0; // messages allowed now (paced runs)
const inflightCap = job.inflight ?? 200;
let conns: Conn[] = [];
let rr = 0;
/** paced runs: what one connection sends per 10 ms tick, so the load spreads over the devices */
let perTick = 1;

function pump(c: Conn) {
  if (!publishing || c.blocked) return;
  const paced = job.rate > 0;
  let n = 0;
  // many packets per write: the generator's own system calls must not be what is measured
  c.socket.cork();
  while (publishing && !c.blocked && (job.qos === 0 || c.inflight < inflightCap) && (!paced || budget > 0)) {
    if (paced) budget--;
    const id = c.nextId;
    c.nextId = c.nextId === 65535 ? 1 : c.nextId + 1;
    if (job.qos) c.inflight++;
    counts.sent++;
    counts.valuesSent += c.client.metrics.length;
    const packet = publishPacket(c, reading(c), job.qos, id);
    if (c.seqOf) c.seqOf[id] = c.seq;
    if (!c.socket.write(packet)) c.blocked = true;
    // a flood gives the event loop back now and then, so acknowledgements and deliveries are read
    if (++n >= (paced ? perTick : 256)) {
      if (!paced && job.qos === 0) setImmediate(() => pump(c));
      break;
    }
  }
  process.nextTick(() => c.socket.uncork());
}

const PUBLISH = 3;
const PUBACK = 4;
const onFrame = (type: number, flags: number, body: Buffer, c: Conn) => {
  if (type === PUBACK) {
    if (c.seqOf) ackedSeq(c, c.seqOf[body.readUInt16BE(0)]);
    counts.acked++;
    counts.valuesAcked += c.client.metrics.length;
    c.inflight--;
    if (job.rate === 0) pump(c);
  } else if (type === PUBLISH) {
    counts.received++;
    lastReceived = performance.now();
    // a QoS 1 delivery to the subscriber is acknowledged, in batches, so the broker keeps sending
    if ((flags & 6) === 2) {
      const id = body.readUInt16BE(2 + body.readUInt16BE(0));
      if (!c.socket.writableCorked) {
        c.socket.cork();
        process.nextTick(() => c.socket.uncork());
      }
      c.socket.write(puback(id));
    }
  }
};
let lastReceived = 0;

function ackedSeq(c: Conn, seq: number) {
  const a = c.acked;
  if (a.length && a[a.length - 1] === seq - 1) a[a.length - 1] = seq;
  else a.push(seq, seq);
}

async function main() {
  const t0 = performance.now();
  const concurrency = job.connectConcurrency ?? 200;
  const queue = [...job.clients];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let cl = queue.shift(); cl; cl = queue.shift()) {
        try {
          conns.push(await open(cl, onFrame));
        } catch (e) {
          if (failures.length < 5) failures.push((e as Error).message);
        }
      }
    }),
  );
  const connectS = (performance.now() - t0) / 1000;
  emit({ event: 'connected', connected: conns.length, refused: job.clients.length - conns.length, connectS, perS: conns.length / connectS, failures });
  if (job.subscribe) {
    const sub = await open({ id: `bench-sub-${process.pid}`, topic: '', metrics: [] }, onFrame);
    sub.socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: job.subscribe, qos: job.qos }] }));
    await new Promise((r) => setTimeout(r, 300));
  }
  if (job.holdOnly) {
    process.stdin.on('data', (d) => {
      if (String(d).includes('stop')) {
        for (const c of conns) c.socket.destroy();
        process.exit(0);
      }
    });
    return;
  }
  // the bench reads the broker's counters between "connected" and "go": a busy broker answers late
  if (job.waitForGo) await new Promise<void>((r) => process.stdin.once('data', () => r()));
  perTick = Math.max(1, Math.ceil(job.rate / 100 / Math.max(1, conns.length)));
  publishing = true;
  const start = performance.now();
  const samples: { t: number; sent: number; acked: number; received: number }[] = [];
  const tick = setInterval(() => {
    now = Date.now();
    if (job.rate > 0) {
      // paced by the clock, not by the timer: what is due by now, less what was sent; a stall is
      // not made up in one burst (at most a tenth of a second is carried over)
      const due = (job.rate * (performance.now() - start)) / 1000;
      budget = Math.min(due - counts.sent, job.rate / 10);
      for (let i = 0; i < conns.length && budget >= 1; i++) pump(conns[(rr + i) % conns.length]);
      rr = (rr + 1) % Math.max(1, conns.length);
    }
  }, 10);
  if (job.rate === 0) for (const c of conns) pump(c);
  else budget = 0;
  const sampler = setInterval(() => samples.push({ t: (performance.now() - start) / 1000, ...counts }), 1000);
  await new Promise((r) => setTimeout(r, job.durationS * 1000));
  publishing = false;
  clearInterval(tick);
  clearInterval(sampler);
  const elapsed = (performance.now() - start) / 1000;
  const sentAtEnd = counts.sent;
  // what is still in flight gets a moment to be acknowledged or delivered
  const settleUntil = performance.now() + 5000;
  while (performance.now() < settleUntil && (job.qos === 1 ? counts.acked < sentAtEnd : false)) await new Promise((r) => setTimeout(r, 50));
  if (job.subscribe) {
    let last = -1;
    while (performance.now() < settleUntil && counts.received !== last) {
      last = counts.received;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const deliveryS = lastReceived ? (lastReceived - start) / 1000 : elapsed;
  const acked = job.reportAcked ? conns.filter((c) => c.acked.length).map((c) => ({ device: c.client.username ?? c.client.id, ranges: c.acked })) : undefined;
  const lastSeqs = Object.fromEntries(conns.filter((c) => c.client.username).map((c) => [c.client.username!, c.seq]));
  emit({ event: 'done', elapsedS: elapsed, ...counts, sentAtEnd, sentPerS: sentAtEnd / elapsed, receivedPerS: counts.received / Math.max(elapsed, deliveryS), samples, ackedSeqs: acked, lastSeqs });
  for (const c of conns) c.socket.end();
  setTimeout(() => process.exit(0), 200).unref();
}

main().catch((e) => {
  emit({ event: 'error', message: (e as Error).message });
  process.exit(1);
});
