import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { Reading } from '../domain/types.ts';
import { startInfluxd } from '../scripts/influxd.ts';
import { InfluxTelemetryStore } from '../services/store/influx-telemetry.ts';

/**
 * InfluxDB write throughput into a local influxd: readings through the store (line protocol, disk
 * buffer, gzip, ship), against a reference client that POSTs ready-made gzipped line protocol, in
 * the same run.
 *
 * Fair to both: every series exists before either is timed (creating a series costs InfluxDB far
 * more than adding a point to one, and the first to write would pay for both), and the two take
 * turns, pass by pass, so neither gets a warmer influxd or a quieter machine; each figure is the
 * median of its passes, and the ratio the median of each pass's ratio to the reference's pass
 * beside it (this machine's speed moved by a third between passes: a ratio of medians took one
 * side's fast pass against the other's slow one, 0.73× in a run whose paired passes gave 0.70-0.87×).
 */
export interface InfluxFigures {
  points: number;
  passes: number;
  pointsPerS: number;
  referencePointsPerS: number;
  ratio: number;
  samples: { store: number[]; reference: number[] };
}

const DEVICES = 2000;

export async function benchInflux(readings = 40_000, passes = 5): Promise<InfluxFigures | null> {
  const influxd = await startInfluxd().catch(() => null);
  if (!influxd) return null;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'rm-bench-influx-'));
    const store = await InfluxTelemetryStore.create({ url: influxd.url, database: 'bench', bufferDir: join(dir, 'buffer'), placement: () => ({ region: '321283', industry: 'steel' }) });
    // recent times: InfluxDB drops points older than the raw retention policy (30 days)
    const t0 = Date.now() - 3_600_000;
    const make = (i: number): Reading => ({
      enterpriseId: `E${i % 50}`,
      deviceId: `d${i % DEVICES}`,
      ts: t0 + i,
      seq: i,
      values: { co_ppm: i % 97, o2_percent: 20.9, furnace_cooling_outlet_temperature: 38 + (i % 5), furnace_cooling_flow_diff: 0.1, power_kw: 450 },
    });
    // every series once (through the store: the reference then finds them, as the store will)
    await store.append(Array.from({ length: DEVICES }, (_, i) => make(i)));
    await store.flush(120_000);
    const points = readings * 5;
    let next = DEVICES;
    const stretch = () => Array.from({ length: readings }, () => make(next++));

    const throughStore = async () => {
      const rs = stretch();
      const t = performance.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < readings; i += 1000) pending.push(store.append(rs.slice(i, i + 1000)));
      await Promise.all(pending);
      await store.flush(120_000);
      return points / ((performance.now() - t) / 1000);
    };

    // the same points as ready-made line protocol, as the store writes them (the same tags, fields
    // and nanosecond times: InfluxDB's own cost per point depends on them), gzipped beforehand
    // and posted in 5 000-line batches
    const reference = async () => {
      const lines: string[] = [];
      for (const r of stretch())
        for (const [m, v] of Object.entries(r.values)) lines.push(`reading,enterprise=${r.enterpriseId},device=${r.deviceId},metric=${m},region=321283,industry=steel value=${v},seq=${r.seq}i ${r.ts}${String(r.seq! % 1_000_000).padStart(6, '0')}`);
      const bodies: Buffer[] = [];
      for (let i = 0; i < lines.length; i += 5000) bodies.push(gzipSync(lines.slice(i, i + 5000).join('\n')));
      const t = performance.now();
      for (const body of bodies) {
        const res = await fetch(`${influxd.url}/write?db=bench&precision=ns`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body });
        if (res.status !== 204) throw new Error(`reference write failed: ${res.status}`);
      }
      return lines.length / ((performance.now() - t) / 1000);
    };

    const samples = { store: [] as number[], reference: [] as number[] };
    for (let p = 0; p < passes; p++) {
      samples.store.push(Math.round(await throughStore()));
      samples.reference.push(Math.round(await reference()));
    }
    await store.close();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const pointsPerS = median(samples.store);
    const referencePointsPerS = median(samples.reference);
    const ratio = median(samples.store.map((x, i) => x / samples.reference[i]));
    return { points, passes, pointsPerS, referencePointsPerS, ratio: Math.round(ratio * 100) / 100, samples };
  } finally {
    await influxd.stop();
  }
}
