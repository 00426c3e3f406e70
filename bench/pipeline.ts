import { DuckDBInstance } from '@duckdb/node-api';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import type { Job } from './generator.ts';
import { cpuMs, freePort, generate, rssKb, startService } from './processes.ts';

/**
 * The whole service (auth, ACL, decoding, de-duplication, every template, the store, alerts) under
 * load from the generator: the highest sustained rate at which every reading is acknowledged (QoS
 * 1) or accepted (QoS 0) and afterwards found in the store; CPU per reading; publish → alert
 * latency to the SSE stream and to a webhook at half and all of that rate; a 3× overload.
 */
export interface PipelineFigures {
  store: string;
  devices: number;
  qos1: { maxBurstPerS: number; sustainedPerS: number } & CpuFigures;
  qos0: { sustainedPerS: number } & CpuFigures;
  /** alarms raised once the load has run WARM_S (steady), and those raised before (warm-up: the fleet's first burst, code not yet compiled) */
  /** `notArrived`: alarms seen on the live stream (steady phase) whose webhook had not come `LATE_WAIT_S` after the last probe */
  latency: { at: string; ratePerS: number; sse: Stats; webhook: Stats; notArrived: number; warmup: { sse: Stats; webhook: Stats } }[];
  overload: { targetPerS: number; sentPerS: number; ackedPerS: number; rssStartMb: number; rssPeakMb: number; rssEndMb: number; drainS: number; crashed: boolean };
  qos0Flood: { devices: number; sentPerS: number; rssPeakMb: number; crashed: boolean };
  stored: { expectedValues: number; storedValues: number; lost: number; bySeq: BySeq };
}
/** CPU per reading: the whole process, its main thread (MQTT, API, alerts) and the pipeline thread */
export interface CpuFigures {
  cpuUsPerReading: number;
  mainUsPerReading: number;
  pipelineUsPerReading: number;
}
/** every QoS 1 reading acknowledged, looked up in the store by device and seq */
export interface BySeq {
  acknowledged: number;
  found: number;
  missing: number;
  /** values stored more than once (device, seq, point) */
  duplicated: number;
  examples: string[];
}
export interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

const TOKEN = 'bench-operator-token';
const PROBES = 20;
/** the latency targets are the service's in steady state: alarms raised in the load's first seconds are reported apart */
export const WARM_S = 3;

export async function benchPipeline(o: { dir: string; devices: number; influx?: { url: string; db: string }; overloadS: number; steadyS: number; log: (s: string) => void }): Promise<PipelineFigures> {
  const hooks = await webhookReceiver();
  const { registry, clients } = benchRegistry(o.devices, { webhookUrl: hooks.url, probes: PROBES });
  await mkdir(o.dir, { recursive: true });
  const config = join(o.dir, 'registry.yaml');
  await writeFile(config, stringify(registry));
  const service = await startService({ CONFIG: config, DATA_DIR: join(o.dir, 'data'), ...(o.influx ? { INFLUX_URL: o.influx.url, INFLUX_DB: o.influx.db } : {}) });
  const base = `http://127.0.0.1:${service.http}`;
  let expectedValues = 0;
  // each device's seq goes on from run to run; what QoS 1 runs had acknowledged is looked up in
  // the store by (device, seq) at the end
  const seqFrom: Record<string, number> = Object.create(null);
  const acked: { device: string; ranges: number[] }[] = [];
  const job = (qos: 0 | 1, rate: number, durationS: number): Job => ({ host: '127.0.0.1', port: service.port, clients, qos, rate, durationS, inflight: 20, connectConcurrency: 300, seqFrom: { ...seqFrom }, reportAcked: qos === 1 });
  const keepAcked = (done: { ackedSeqs?: { device: string; ranges: number[] }[]; lastSeqs?: Record<string, number> } | null) => {
    if (done?.ackedSeqs) acked.push(...done.ackedSeqs);
    if (done?.lastSeqs) Object.assign(seqFrom, done.lastSeqs);
  };
  /** one generator run, with the service's CPU time (whole and per thread) over the publishing part */
  const run = async (j: Job) => {
    const g = generate({ ...j, waitForGo: true });
    await g.connected;
    const cpu0 = await cpuMs(service.pid);
    const before = await scrape(base);
    g.go();
    const done = await g.done;
    // what was accepted is processed on the pipeline thread, maybe a little later: its CPU counts
    await drained(base);
    const cpu = (await cpuMs(service.pid)) - cpu0;
    const after = await scrape(base);
    expectedValues += j.qos === 1 ? done.valuesAcked : done.valuesSent;
    keepAcked(done);
    return { ...done, cpuMs: cpu, mainMs: (after.main - before.main) * 1000, pipelineMs: (after.pipeline - before.pipeline) * 1000, accepted: after.accepted - before.accepted };
  };
  const perReading = (r: { cpuMs: number; mainMs: number; pipelineMs: number }, n: number): CpuFigures => ({
    cpuUsPerReading: round((r.cpuMs * 1000) / n, 1),
    mainUsPerReading: round((r.mainMs * 1000) / n, 1),
    pipelineUsPerReading: round((r.pipelineMs * 1000) / n, 1),
  });
  try {
    // QoS 1: as fast as it acknowledges, then the highest rate it keeps up with for a while
    const burst = await run(job(1, 0, 5));
    const maxBurstPerS = Math.round(burst.acked / burst.elapsedS);
    o.log(`  QoS 1 burst: ${maxBurstPerS}/s`);
    let rate = Math.round(maxBurstPerS * 0.95);
    let q1 = { sustainedPerS: 0, ...perReading({ cpuMs: 0, mainMs: 0, pipelineMs: 0 }, 1) };
    for (let i = 0; i < 5; i++) {
      const r = await run(job(1, rate, o.steadyS));
      const kept = r.sentAtEnd >= rate * o.steadyS * 0.97 && r.acked === r.sentAtEnd;
      o.log(`  QoS 1 at ${rate}/s: sent ${Math.round(r.sentPerS)}/s, acked ${r.acked}/${r.sentAtEnd} → ${kept ? 'kept up' : 'fell behind'}`);
      if (kept) {
        q1 = { sustainedPerS: rate, ...perReading(r, r.acked) };
        break;
      }
      rate = Math.round(rate * 0.85);
    }
    // QoS 0 at the same rates: accepted (not dropped by the gateway) and stored
    let q0 = { sustainedPerS: 0, ...perReading({ cpuMs: 0, mainMs: 0, pipelineMs: 0 }, 1) };
    rate = Math.round(Math.max(q1.sustainedPerS, maxBurstPerS) * 1.1);
    for (let i = 0; i < 5; i++) {
      const r = await run(job(0, rate, o.steadyS));
      const kept = r.sentAtEnd >= rate * o.steadyS * 0.97 && r.accepted >= r.sentAtEnd;
      o.log(`  QoS 0 at ${rate}/s: sent ${Math.round(r.sentPerS)}/s, accepted ${r.accepted}/${r.sentAtEnd} → ${kept ? 'kept up' : 'fell behind'}`);
      if (kept) {
        q0 = { sustainedPerS: rate, ...perReading(r, r.accepted) };
        break;
      }
      rate = Math.round(rate * 0.85);
    }

    const latency: PipelineFigures['latency'] = [];
    for (const [at, share] of [
      ['50 %', 0.5],
      ['100 %', 1],
    ] as const) {
      const ratePerS = Math.round(q1.sustainedPerS * share);
      const g = generate(job(1, ratePerS, o.steadyS + WARM_S));
      await g.connected;
      const probe = await probeLatency(service.port, base, hooks, Math.max(6, o.steadyS - 2) + WARM_S, Date.now() + WARM_S * 1000);
      const done = await g.done;
      keepAcked(done);
      expectedValues += done.valuesAcked + probe.values;
      latency.push({ at, ratePerS, sse: probe.sse, webhook: probe.webhook, notArrived: probe.notArrived, warmup: probe.warmup });
      o.log(`  latency at ${at} (${ratePerS}/s): SSE p50 ${probe.sse.p50} p99 ${probe.sse.p99} ms; webhook p50 ${probe.webhook.p50} p99 ${probe.webhook.p99} ms, ${probe.notArrived} not arrived within ${LATE_WAIT_S} s; in the first ${WARM_S} s: SSE max ${probe.warmup.sse.max}, webhook max ${probe.warmup.webhook.max} ms`);
    }

    // 3× the sustained rate: the gateway slows devices through PUBACKs; memory must stay bounded
    const target = q1.sustainedPerS * 3;
    const rss: number[] = [await rssKb(service.pid)];
    const g = generate({ ...job(1, target, o.overloadS), inflight: 100 });
    await g.connected;
    const sampler = setInterval(() => void rssKb(service.pid).then((k) => rss.push(k), () => {}), 1000);
    const over = await g.done.catch(() => null);
    clearInterval(sampler);
    const t0 = Date.now();
    await drained(base);
    const drainS = round((Date.now() - t0) / 1000, 1);
    let crashed = false;
    try {
      process.kill(service.pid, 0);
    } catch {
      crashed = true;
    }
    if (over) expectedValues += over.valuesAcked;
    keepAcked(over);
    rss.push(await rssKb(service.pid).catch(() => 0));
    const overload = {
      targetPerS: target,
      sentPerS: Math.round(over?.sentPerS ?? 0),
      ackedPerS: Math.round((over?.acked ?? 0) / (over?.elapsedS ?? 1)),
      rssStartMb: round(rss[0] / 1024, 0),
      rssPeakMb: round(Math.max(...rss) / 1024, 0),
      rssEndMb: round(rss.at(-1)! / 1024, 0),
      drainS,
      crashed,
    };
    o.log(`  overload ${target}/s for ${o.overloadS} s: acked ${overload.ackedPerS}/s, RSS ${overload.rssStartMb} → peak ${overload.rssPeakMb} → ${overload.rssEndMb} MB, drained in ${drainS} s`);

    // the flood that once took bare aedes down (a stack overflow in its topic matcher): four
    // devices publishing QoS 0 as fast as the link takes it; the gateway drops what is over their
    // rate and answers, and must stay up
    const beforeFlood = await accepted(base);
    const flood = generate({ host: '127.0.0.1', port: service.port, clients: clients.slice(0, 4), qos: 0, rate: 0, durationS: 10, connectConcurrency: 4, seqFrom: { ...seqFrom } });
    await flood.connected;
    const floodRss: number[] = [];
    const floodSampler = setInterval(() => void rssKb(service.pid).then((k) => floodRss.push(k), () => {}), 1000);
    const flooded = await flood.done.catch(() => null);
    clearInterval(floodSampler);
    let floodCrashed = false;
    try {
      process.kill(service.pid, 0);
      await fetch(`${base}/api/health`);
    } catch {
      floodCrashed = true;
    }
    const qos0Flood = { devices: 4, sentPerS: Math.round(flooded?.sentPerS ?? 0), rssPeakMb: round(Math.max(0, ...floodRss) / 1024, 0), crashed: floodCrashed };
    // what the gateway accepted of the flood (within each device's rate) is stored as well
    if (!floodCrashed) expectedValues += ((await accepted(base)) - beforeFlood) * clients[0].metrics.length;
    o.log(`  QoS 0 flood from 4 devices: ${qos0Flood.sentPerS}/s offered, RSS peak ${qos0Flood.rssPeakMb} MB, ${floodCrashed ? 'CRASHED' : 'still serving'}`);
    await drained(base).catch(() => {});

    await service.stop();
    const storedValues = o.influx ? await influxCount(o.influx) : await duckCount(join(o.dir, 'data'));
    const bySeq = await checkBySeq(acked, o.influx ?? null, join(o.dir, 'data'), new Map(clients.map((c) => [c.username ?? c.id, c.metrics.length])));
    const stored = { expectedValues, storedValues, lost: Math.max(0, expectedValues - storedValues), bySeq };
    o.log(`  stored ${storedValues} values of ${expectedValues} acknowledged or accepted; by seq: ${bySeq.found} of ${bySeq.acknowledged} acknowledged readings found, ${bySeq.missing} missing, ${bySeq.duplicated} values stored twice ${bySeq.examples.join(', ')}`);
    return { store: o.influx ? 'influxdb' : 'embedded', devices: o.devices, qos1: { maxBurstPerS, ...q1 }, qos0: q0, latency, overload, qos0Flood, stored };
  } finally {
    await service.stop();
    await hooks.close();
  }
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

async function accepted(base: string): Promise<number> {
  return (await scrape(base)).accepted;
}

/** the service's own counters: readings accepted, CPU seconds of its main and pipeline threads */
async function scrape(base: string) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const thread = (name: string) => Number(new RegExp(`^process_thread_cpu_seconds\\{thread="${name}"\\} ([\\d.e+-]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { accepted: Number(/^gateway_readings_accepted_total (\d+)/m.exec(text)?.[1] ?? 0), main: thread('main'), pipeline: thread('pipeline') };
}

/** Until nothing accepted waits for the store (InfluxDB: its disk buffer is shipped too). */
async function drained(base: string, ms = 120_000) {
  const until = Date.now() + ms;
  for (;;) {
    const h = (await (await fetch(`${base}/api/health`)).json()) as { store: { pending: number; handedOver?: number; buffered?: { batches: number } } };
    if (h.store.pending === 0 && !h.store.handedOver && !h.store.buffered?.batches) return;
    if (Date.now() > until) throw new Error('the store did not catch up');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
}

/** a probe's alarm is raised the first time and reactivated after (its alert cleared, not closed) */
const ALARMS = new Set(['raised', 'reactivated']);
/** how long after the last probe a critical alarm's webhook is waited for */
export const LATE_WAIT_S = 20;
/** the probes' threshold rule (their interlock alerts come from the clock, not from a publish) */
const PROBE_RULE = 'gas-lel';

async function webhookReceiver() {
  const arrivals: { key: string; raisedAt: number; at: number }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string; rule?: string; transition?: { type: string; at: string }; events?: { id: string; rule: string; transition: { type: string; at: string } }[] };
        for (const e of body.events ?? [body]) if (e.rule === PROBE_RULE && e.transition && ALARMS.has(e.transition.type)) arrivals.push({ key: `${e.id}|${e.transition.at}`, raisedAt: Date.parse(e.transition.at), at });
      } catch {
        /* not a probe */
      }
      res.end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/hook`, arrivals, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

/**
 * Probe devices raise and clear a gas alarm in turn while the load runs; each raise is timed from
 * its reading's timestamp (taken as it is published) to its arrival on the SSE stream and at the
 * webhook.
 */
async function probeLatency(mqttPort: number, base: string, hooks: Awaited<ReturnType<typeof webhookReceiver>>, seconds: number, steadyFrom: number) {
  const ctrl = new AbortController();
  /** [raised at, ms to arrive] */
  const sse: [number, number][] = [];
  /** the steady phase's alarms seen live, by alert and time: each must also reach the webhook */
  const seen = new Set<string>();
  const res = await fetch(`${base}/api/alerts/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctrl.signal });
  const reader = res.body!.getReader();
  void (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const at = Date.now();
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!data) continue;
          const a = JSON.parse(data) as { id: string; deviceId: string; rule: string; transition?: { type: string; at: string } };
          if (a.deviceId.startsWith('probe-') && a.rule === PROBE_RULE && a.transition && ALARMS.has(a.transition.type)) {
            sse.push([Date.parse(a.transition.at), at - Date.parse(a.transition.at)]);
            if (Date.parse(a.transition.at) >= steadyFrom) seen.add(`${a.id}|${a.transition.at}`);
          }
        }
      }
    } catch {
      /* aborted */
    }
  })();
  const hooked = hooks.arrivals.length;
  const probes = await Promise.all(
    Array.from({ length: PROBES }, (_, i) => mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: `probe-${i}`, password: `probe-secret-${i}`, clientId: `probe-${i}-${Date.now()}`, reconnectPeriod: 0 })),
  );
  const seqs = probes.map(() => Math.floor(Date.now() / 1000));
  let values = 0;
  const until = Date.now() + seconds * 1000;
  let k = 0;
  // each probe: raise, then clear 100 ms later; a probe is used again only after the others
  while (Date.now() < until) {
    const i = k++ % PROBES;
    const topic = `v1/PROBE/probe-${i}/telemetry`;
    // QoS 0: the alert is raised on receipt; a probe must not wait for the store to acknowledge
    // at the template's critical level (40 %LEL): the alarm the webhook target is about
    probes[i].publish(topic, JSON.stringify({ ts: Date.now(), seq: ++seqs[i], values: { gas_lel: 45 } }), { qos: 0 });
    await new Promise((r) => setTimeout(r, 100));
    probes[i].publish(topic, JSON.stringify({ ts: Date.now(), seq: ++seqs[i], values: { gas_lel: 1 } }), { qos: 0 });
    await new Promise((r) => setTimeout(r, 100));
    values += 2;
  }
  // a late alarm is waited for, so it counts as late and not as missing: the live stream's
  // last frames, then every alarm seen there at the webhook (or the wait is over)
  await new Promise((r) => setTimeout(r, 1500));
  const notHooked = () => {
    const hooked = new Set(hooks.arrivals.map((a) => a.key));
    return [...seen].filter((k) => !hooked.has(k)).length;
  };
  for (const until = Date.now() + LATE_WAIT_S * 1000; notHooked() > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
  ctrl.abort();
  await Promise.all(probes.map((p) => p.endAsync()));
  const notArrived = notHooked();
  const webhook = hooks.arrivals.slice(hooked).map((a) => [a.raisedAt, a.at - a.raisedAt] as [number, number]);
  const steady = (xs: [number, number][], yes: boolean) => stats(xs.filter(([raised]) => raised >= steadyFrom === yes).map(([, ms]) => ms));
  return { sse: steady(sse, true), webhook: steady(webhook, true), notArrived, warmup: { sse: steady(sse, false), webhook: steady(webhook, false) }, values };
}

/**
 * Every acknowledged reading, found once: the acknowledged ranges go into an in-memory DuckDB
 * table beside the stored (device, seq, point) rows (the embedded store's file attached read-only,
 * or InfluxDB's rows read out), and are joined by device and seq.
 */
async function checkBySeq(acked: { device: string; ranges: number[] }[], influx: { url: string; db: string } | null, dataDir: string, points: Map<string, number>): Promise<BySeq> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run('CREATE TABLE acked (device VARCHAR, lo BIGINT, hi BIGINT)');
  const a = await conn.createAppender('acked');
  for (const d of acked)
    for (let i = 0; i < d.ranges.length; i += 2) {
      a.appendVarchar(d.device);
      a.appendBigInt(BigInt(d.ranges[i]));
      a.appendBigInt(BigInt(d.ranges[i + 1]));
      a.endRow();
    }
  a.closeSync();
  if (influx) {
    await conn.run('CREATE TABLE stored (device VARCHAR, metric VARCHAR, seq BIGINT)');
    const s = await conn.createAppender('stored');
    const res = await fetch(`${influx.url}/query?db=${influx.db}&chunked=true&chunk_size=50000&q=${encodeURIComponent('SELECT "seq" FROM "raw"."reading" GROUP BY "device","metric"')}`);
    let buf = '';
    const take = (line: string) => {
      if (!line.trim()) return;
      const body = JSON.parse(line) as { results: { series?: { tags: { device: string; metric: string }; values: [string, number | null][] }[] }[] };
      for (const series of body.results[0]?.series ?? [])
        for (const [, seq] of series.values)
          if (seq !== null) {
            s.appendVarchar(series.tags.device);
            s.appendVarchar(series.tags.metric);
            s.appendBigInt(BigInt(seq));
            s.endRow();
          }
    };
    const dec = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        take(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    take(buf);
    s.closeSync();
  } else {
    await conn.run(`ATTACH '${join(dataDir, 'telemetry.duckdb')}' AS t (READ_ONLY)`);
    await conn.run('CREATE VIEW stored AS SELECT device, metric, seq FROM t.readings');
  }
  await conn.run('CREATE TABLE pts (device VARCHAR, n INTEGER)');
  const p = await conn.createAppender('pts');
  for (const [device, n] of points) {
    p.appendVarchar(device);
    p.appendInteger(n);
    p.endRow();
  }
  p.closeSync();
  const rows = (
    await conn.runAndReadAll(`
      WITH hits AS (
        SELECT s.device, s.seq, s.metric, count(*) AS n FROM stored s JOIN acked a ON s.device = a.device AND s.seq BETWEEN a.lo AND a.hi GROUP BY ALL
      ), readings AS (SELECT device, seq, count(*) AS points FROM hits GROUP BY ALL)
      SELECT
        (SELECT coalesce(sum(hi - lo + 1), 0) FROM acked) AS acknowledged,
        (SELECT count(*) FROM readings r JOIN pts USING (device) WHERE r.points >= pts.n) AS found,
        (SELECT coalesce(sum(n - 1), 0) FROM hits WHERE n > 1) AS duplicated`)
  ).getRowObjects()[0];
  const acknowledged = Number(rows.acknowledged);
  const found = Number(rows.found);
  const examples =
    found < acknowledged
      ? (
          await conn.runAndReadAll(`
            SELECT a.device, a.lo, a.hi FROM acked a WHERE (a.hi - a.lo + 1) > (SELECT count(DISTINCT s.seq) FROM stored s WHERE s.device = a.device AND s.seq BETWEEN a.lo AND a.hi) LIMIT 5`)
        )
          .getRowObjects()
          .map((r) => `${r.device} ${r.lo}–${r.hi}`)
      : [];
  conn.closeSync();
  return { acknowledged, found, missing: acknowledged - found, duplicated: Number(rows.duplicated), examples };
}

async function duckCount(dataDir: string): Promise<number> {
  const db = await DuckDBInstance.create(join(dataDir, 'telemetry.duckdb'), { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  const rows = (await conn.runAndReadAll('SELECT count(*) AS n FROM readings')).getRowObjects();
  conn.closeSync();
  return Number(rows[0].n);
}

async function influxCount(influx: { url: string; db: string }): Promise<number> {
  const res = await fetch(`${influx.url}/query?db=${influx.db}&q=${encodeURIComponent('SELECT count("seq") FROM "raw"."reading"')}`);
  const body = (await res.json()) as { results: { series?: { values: [string, number][] }[] }[] };
  return body.results[0].series?.[0]?.values[0][1] ?? 0;
}
