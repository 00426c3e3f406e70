import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterLog, type LogMessage } from '../../services/cluster/log.ts';
import { inbound, parseLogSubject, partitionOf, token } from '../../services/cluster/subjects.ts';
import { startNats, type TestNats } from '../support/nats.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Cluster mode's log on three real nats-server processes: the server's mapping puts an
 * enterprise's messages in the partition the service computes for it, and a partition is read in
 * order from any position, with nothing skipped, while a NATS node is killed and started again.
 */
const P = 8;
const quiet = { info() {}, warn() {}, error() {} };

describe('the log: NATS JetStream partitions', () => {
  let nats: TestNats;
  let log: ClusterLog;
  beforeAll(async () => {
    nats = await startNats({ servers: 3, partitions: P });
    log = await ClusterLog.connect(nats.urls, 'test', quiet);
    await waitFor(async () => (await log.ensureStreams(P, 3).then(() => true)), 30_000, 'streams made');
  }, 60_000);
  afterAll(async () => {
    await log?.close();
    await nats?.stop();
  });

  it('puts every enterprise in the partition the service computes for it (the server hashes alike)', async () => {
    const ids = ['91321283MA1CHEM0001', '91320582MA1MALL0003', 'E.with.dots', '泰兴龙鑫', 'x', 'ent-42', ...Array.from({ length: 30 }, (_, i) => `E${i}`)];
    const before = await Promise.all(Array.from({ length: P }, (_, p) => log.bounds(p)));
    const landed = new Map<string, number>();
    for (const id of ids) {
      await log.append(inbound(id, 'dev.1', 't'), new TextEncoder().encode(id), 1);
    }
    for (let p = 0; p < P; p++) {
      const r = log.reader(p, before[p].last + 1);
      for (let got: LogMessage[]; (got = await r.read(100, 200)).length; ) for (const m of got) {
        const a = parseLogSubject(m.subject)!;
        expect(a.partition).toBe(p);
        if ('enterpriseId' in a) landed.set(a.enterpriseId, p);
        expect('deviceId' in a && a.deviceId).toBe('dev.1');
      }
      r.stop();
    }
    expect(Object.fromEntries(landed)).toEqual(Object.fromEntries(ids.map((id) => [id, partitionOf(id, P)])));
    expect(token('E.with.dots')).not.toContain('.');
  });

  it('reads a partition in order from any position, with nothing lost, while a NATS node goes away and comes back', async () => {
    const ent = 'E-order';
    const p = partitionOf(ent, P);
    const start = (await log.bounds(p)).last + 1;
    let i = 0;
    // as an edge does: a publish not acknowledged (the stream's leader went away) is sent again,
    // so a message may be in the log twice, never missing
    const send = async (n: number) => {
      for (let k = 0; k < n; k++, i++)
        await waitFor(() => log.append(inbound(ent, 'd', 't'), new TextEncoder().encode(String(i)), i).then(() => true), 30_000, `message ${i} appended`);
    };
    await send(200);
    const reader = log.reader(p, start + 50);
    const read: LogMessage[] = [];
    const drain = async (until: number) => {
      await waitFor(async () => {
        read.push(...(await reader.read(100, 300)));
        return read.length >= until;
        // a bound against hanging, not a speed: under the whole suite's load, the election after
        // a kill and the JetStream API's 5 s timeouts have taken more than 30 s
      }, 60_000, `read ${until}`);
    };
    await drain(150);
    await nats.kill(1);
    await send(200);
    await drain(350);
    await nats.start(1);
    await send(100);
    const last = (await log.bounds(p)).last;
    await drain(last - start - 49);
    reader.stop();
    // every position from where reading began, once, in order
    expect(read.map((m) => m.seq)).toEqual(Array.from({ length: last - start - 49 }, (_, k) => start + 50 + k));
    // every message sent from there on, in the order sent (one not acknowledged may be there twice)
    const bodies = read.map((m) => Number(new TextDecoder().decode(m.data))).filter((b, k, all) => k === 0 || all[k - 1] !== b);
    expect(bodies).toEqual(Array.from({ length: 450 }, (_, k) => k + 50));
    expect(read.every((m) => m.at === Number(new TextDecoder().decode(m.data)))).toBe(true);
  }, 150_000);
});
