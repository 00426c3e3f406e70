import { join } from 'node:path';
import type { PipelineSettings } from '../pipeline/protocol.ts';
import type { PipelineStores, StoreHooks } from '../pipeline/core.ts';
import { Database } from './database.ts';
import { DuckDbTelemetryStore } from './duckdb-telemetry.ts';
import { InfluxTelemetryStore } from './influx-telemetry.ts';

/**
 * The time-series store the reading pipeline owns: InfluxDB when it is set (deployments, through
 * a disk buffer), else the embedded `telemetry.duckdb` under DATA_DIR. Opened where it is written,
 * on the pipeline's thread: the service's own records (alerts, outbox, audit) are elsewhere.
 */
export async function openTelemetry(settings: PipelineSettings, hooks: StoreHooks): Promise<PipelineStores> {
  if (settings.influx) {
    const i = settings.influx;
    const telemetry = await InfluxTelemetryStore.create({
      url: i.url,
      database: i.database,
      username: i.username,
      password: i.password,
      v2: i.v2,
      bufferDir: join(settings.dataDir, 'influx-buffer'),
      maxBufferBytes: i.maxBufferBytes,
      placement: hooks.placement,
      onBuffer: hooks.onBuffer,
      log: hooks.log.child({ part: 'influx' }),
    });
    // its calls are HTTP and files: a thread may end during them
    return { telemetry, close: () => telemetry.close(), halt: async () => {} };
  }
  const db = await Database.openTelemetry(settings.dataDir, settings.storeMemoryMb);
  const conns = [await db.connect(), await db.connect()];
  const telemetry = await DuckDbTelemetryStore.create(conns[0], conns[1]);
  return {
    telemetry,
    async close() {
      await telemetry.close();
      await Promise.all(conns.map((c) => c.close()));
      db.close();
    },
    halt: async () => void (await Promise.all(conns.map((c) => c.halt()))),
  };
}
