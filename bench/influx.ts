import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { Reading } from '../domain/types.ts';
import { startInfluxd } from '../scripts/influxd.ts';
import { InfluxTelemetryStore } from '../services/store/influx-telemetry.ts';

/**
 * InfluxDB write throughput into a local influxd: readings through the store (disk buffer, line
 * protocol, gzip, ship), against a reference client that POSTs ready-made gzipped line protocol
 * in the same batch sizes, in the same run.
 */
export interface InfluxFigures {
  points: number;
  pointsPerS: number;
  referencePointsPerS: number;
  ratio: number;
}

export async function benchInflux(readings = 40_000): Promise<InfluxFigures | null> {
  const influxd = await startInfluxd().catch(() => null);
  if (!influxd) return null;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'rm-bench-influx-'));
    const store = await InfluxTelemetryStore.create({ url: influxd.url, database: 'bench', bufferDir: join(dir, 'buffer'), placement: () => ({ region: '321283', industry: 'steel' }) });
    // recent times: InfluxDB drops points older than the raw retention policy (30 days)
    const t0 = Date.now() - 3_600_000;
    const make = (i: number): Reading => ({
      enterpriseId: `E${i % 50}`,
      deviceId: `d${i % 2000}`,
      ts: t0 + i,
      seq: i,
      values: { co_ppm: i % 97, o2_percent: 20.9, furnace_cooling_outlet_temperature: 38 + (i % 5), furnace_cooling_flow_diff: 0.1, power_kw: 450 },
    });
    await store.append([make(0)]);
    await store.flush();
    const points = readings * 5;
    let t = performance.now();
    const batch = 1000;
    const pending: Promise<void>[] = [];
    for (let i = 0; i < readings; i += batch) pending.push(store.append(Array.from({ length: batch }, (_, k) => make(i + k + 1))));
    await Promise.all(pending);
    await store.flush(120_000);
    const pointsPerS = points / ((performance.now() - t) / 1000);
    await store.close();

    // reference: the same points as ready-made line protocol, as the store writes them (the same
    // tags, fields and microsecond times: InfluxDB's own cost per point depends on them), gzipped
    // beforehand and posted in 5 000-line batches
    const lines: string[] = [];
    for (let i = 0; i < readings; i++) {
      const r = make(i + readings + 10);
      for (const [m, v] of Object.entries(r.values)) lines.push(`reading,enterprise=${r.enterpriseId},device=${r.deviceId},metric=${m},region=321283,industry=steel value=${v},seq=${r.seq}i ${r.ts}${String(r.seq! % 1000).padStart(3, '0')}`);
    }
    const bodies: Buffer[] = [];
    for (let i = 0; i < lines.length; i += 5000) bodies.push(gzipSync(lines.slice(i, i + 5000).join('\n')));
    t = performance.now();
    for (const body of bodies) {
      const res = await fetch(`${influxd.url}/write?db=bench&precision=u`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body });
      if (res.status !== 204) throw new Error(`reference write failed: ${res.status}`);
    }
    const referencePointsPerS = lines.length / ((performance.now() - t) / 1000);
    return { points, pointsPerS: Math.round(pointsPerS), referencePointsPerS: Math.round(referencePointsPerS), ratio: Math.round((pointsPerS / referencePointsPerS) * 100) / 100 };
  } finally {
    await influxd.stop();
  }
}
