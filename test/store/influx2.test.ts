import { join } from 'node:path';
import { describe } from 'vitest';
import { InfluxTelemetryStore } from '../../services/store/influx-telemetry.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';
import { tempDir } from '../support/app.ts';
import { storeContract } from './contract.ts';

/**
 * The InfluxDB 2.x native adapter against a real 2.x server. No 2.x server can run on this
 * project's machines (Debian ships InfluxDB 1.x only), so this suite runs where INFLUX2_URL,
 * INFLUX2_TOKEN, INFLUX2_ORG and INFLUX2_BUCKET point at one, and is reported skipped elsewhere.
 */
const env = process.env;
const v2 = env.INFLUX2_URL && env.INFLUX2_TOKEN && env.INFLUX2_ORG && env.INFLUX2_BUCKET ? { url: env.INFLUX2_URL, token: env.INFLUX2_TOKEN, org: env.INFLUX2_ORG, bucket: env.INFLUX2_BUCKET } : null;

describe.skipIf(!v2)('InfluxDB 2.x (INFLUX2_URL)', () => {
  const dirs = new Map<TelemetryStore, string>();
  const openAt = async (dir: string) => {
    const store = await InfluxTelemetryStore.create({ url: v2!.url, database: '', v2: v2!, bufferDir: join(dir, 'buffer'), placement: () => ({ region: '321283', industry: 'hazchem' }) });
    dirs.set(store, dir);
    return store;
  };
  storeContract('InfluxDB 2.x', {
    open: async () => openAt(await tempDir('rm-influx2-')),
    reopen: async (store) => {
      await store.close();
      return openAt(dirs.get(store)!);
    },
  });
});
