import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { InfluxTelemetryStore } from '../../services/store/influx-telemetry.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';
import { tempDir } from '../support/app.ts';
import { startInfluxd, type Influxd } from '../support/influxd.ts';
import { storeContract } from './contract.ts';

/** The same contract, against a real influxd (Debian's influxdb, started here on a free port). */
let influxd: Influxd;
beforeAll(async () => {
  influxd = await startInfluxd();
}, 30_000);
afterAll(async () => influxd?.stop());

const where = new Map<TelemetryStore, { db: string; dir: string }>();
let n = 0;
const openAt = async (db: string, dir: string) => {
  const store = await InfluxTelemetryStore.create({ url: influxd.url, database: db, bufferDir: join(dir, 'buffer'), placement: () => ({ region: '321283', industry: 'hazchem' }) });
  where.set(store, { db, dir });
  return store;
};

storeContract('InfluxDB 1.x', {
  open: async () => openAt(`contract_${++n}`, await tempDir('rm-influx-store-')),
  reopen: async (store) => {
    const { db, dir } = where.get(store)!;
    await store.close();
    return openAt(db, dir);
  },
});
