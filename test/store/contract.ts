import { describe, expect, it } from 'vitest';
import type { Reading } from '../../domain/types.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';

/**
 * The behaviour every time-series store must have. Each store's test file calls this with a
 * factory that opens a fresh store (and can reopen it on the same data for the durability case).
 */
export interface StoreFactory {
  open(): Promise<TelemetryStore>;
  /** close and open again on the same data */
  reopen(store: TelemetryStore): Promise<TelemetryStore>;
}

// recent enough for any retention policy a deployment store keeps raw data under
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 86_400_000;
const r = (deviceId: string, ts: number, values: Reading['values'], seq?: number, enterpriseId = 'E1'): Reading => ({ enterpriseId, deviceId, ts, values, ...(seq !== undefined ? { seq } : {}) });

export function storeContract(name: string, factory: StoreFactory) {
  describe(`${name} store contract`, () => {
    it('makes appended readings queryable once flushed (an append resolves when they are durable)', async () => {
      const store = await factory.open();
      await store.append([r('d1', T0, { gas_lel: 1.5, gas_shutoff_valve_closed: false }, 1), r('d1', T0 + 1000, { gas_lel: 2.5 }, 2)]);
      await store.flush();
      const points = await store.query({ deviceId: 'd1', from: T0, to: T0 + 10_000, limit: 100 });
      expect(points).toEqual([
        { ts: T0, enterpriseId: 'E1', deviceId: 'd1', metric: 'gas_lel', value: 1.5, seq: 1 },
        { ts: T0, enterpriseId: 'E1', deviceId: 'd1', metric: 'gas_shutoff_valve_closed', value: false, seq: 1 },
        { ts: T0 + 1000, enterpriseId: 'E1', deviceId: 'd1', metric: 'gas_lel', value: 2.5, seq: 2 },
      ]);
      await store.close();
    });

    it('knows when a device was first heard of, and of a device never heard nothing', async () => {
      const store = await factory.open();
      await store.append([r('late', T0 + 5000, { co_ppm: 1 }, 1), r('late', T0 + 2000, { co_ppm: 2 }, 2), r('other', T0, { co_ppm: 3 }, 1)]);
      await store.flush();
      expect(await store.firstSeen('late')).toBe(T0 + 2000);
      expect(await store.firstSeen('never')).toBeNull();
      await store.close();
    });

    it('keeps every reading of a point that shares a timestamp with another (with or without seq)', async () => {
      const store = await factory.open();
      // a whole tick stamped with one ts, devices with second-resolution clocks: none may overwrite another
      await store.append([r('same', T0, { co_ppm: 1 }, 7), r('same', T0, { co_ppm: 2 }, 8), r('same', T0 + 1, { co_ppm: 3 }, 9)]);
      // a seq a thousand on, in the same millisecond (a 2 kHz sensor stamping whole seconds): kept too
      await store.append([r('same', T0, { co_ppm: 4 }, 1007)]);
      await store.append([r('noseq', T0, { co_ppm: 4 }), r('noseq', T0, { co_ppm: 5 })]);
      await store.append([r('noseq', T0, { co_ppm: 6 })]);
      await store.flush();
      const values = async (deviceId: string) => (await store.query({ deviceId, from: T0, to: T0 + 1000, limit: 100 })).map((p) => [p.ts, (p as { value: unknown }).value]);
      expect((await values('same')).sort()).toEqual([[T0, 1], [T0, 2], [T0, 4], [T0 + 1, 3]]);
      expect((await values('noseq')).sort()).toEqual([[T0, 4], [T0, 5], [T0, 6]]);
      await store.close();
    });

    it('filters by enterprise, device, metric and half-open time range', async () => {
      const store = await factory.open();
      await store.append([r('d1', T0, { co_ppm: 1 }), r('d2', T0, { co_ppm: 2 }), r('d3', T0, { co_ppm: 3 }, undefined, 'E2'), r('d1', T0 + 5000, { co_ppm: 4, o2_percent: 20.9 })]);
      await store.flush();
      const q = (over: object) => store.query({ from: T0, to: T0 + 5000, limit: 100, ...over });
      expect((await q({ enterpriseId: 'E1' })).map((p) => p.deviceId)).toEqual(['d1', 'd2']);
      expect((await q({ enterpriseId: 'E2' })).map((p) => p.deviceId)).toEqual(['d3']);
      expect(await q({ deviceId: 'd1', to: T0 + 5001, metric: 'o2_percent' })).toMatchObject([{ value: 20.9 }]);
      expect(await q({ deviceId: 'd1', limit: 1, to: T0 + 5001 })).toHaveLength(1);
      await store.close();
    });

    it('aggregates min, mean and max per window', async () => {
      const store = await factory.open();
      const readings = [0, 10, 20, 60, 70].map((s, i) => r('d1', T0 + s * 1000, { co_ppm: [5, 15, 10, 100, 200][i] }));
      await store.append(readings);
      await store.flush();
      const w = await store.query({ deviceId: 'd1', metric: 'co_ppm', from: T0, to: T0 + 120_000, everyMs: 60_000, limit: 100 });
      expect(w).toEqual([
        { ts: T0, enterpriseId: 'E1', deviceId: 'd1', metric: 'co_ppm', min: 5, mean: 10, max: 15, count: 3 },
        { ts: T0 + 60_000, enterpriseId: 'E1', deviceId: 'd1', metric: 'co_ppm', min: 100, mean: 150, max: 200, count: 2 },
      ]);
      await store.close();
    });

    it('reports the latest value per point and the recent seqs per device, also after reopening', async () => {
      let store = await factory.open();
      await store.append([r('d1', T0, { co_ppm: 1 }, 7), r('d1', T0 + 1000, { co_ppm: 9 }, 8), r('d2', T0, { smoke_alarm: true }, 3)]);
      store = await factory.reopen(store);
      await store.flush();
      const latest = await store.latest();
      expect(latest.map((p) => [p.deviceId, p.metric, p.value, p.ts]).sort()).toEqual([
        ['d1', 'co_ppm', 9, T0 + 1000],
        ['d2', 'smoke_alarm', true, T0],
      ]);
      const seqs = await store.recentSeqs(100);
      expect(seqs.get('d1')!.sort()).toEqual([
        [7, T0],
        [8, T0 + 1000],
      ]);
      await store.close();
    });

    it('commits concurrent appends in groups and resolves each caller', async () => {
      const store = await factory.open();
      const appends = Array.from({ length: 200 }, (_, i) => store.append([r(`d${i % 7}`, T0 + i, { co_ppm: i }, i)]));
      await Promise.all(appends);
      await store.flush();
      expect(store.health()).toMatchObject({ ok: true, pending: 0 });
      const points = await store.query({ enterpriseId: 'E1', from: T0, to: T0 + 1000, limit: 1000 });
      expect(points).toHaveLength(200);
      await store.close();
    });
  });
}
