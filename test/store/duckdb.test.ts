import { Database, type SerialConnection } from '../../services/store/database.ts';
import { DuckDbTelemetryStore } from '../../services/store/duckdb-telemetry.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';
import { tempDir } from '../support/app.ts';
import { storeContract } from './contract.ts';

const opened = new Map<TelemetryStore, { db: Database; conns: SerialConnection[]; dir: string }>();

async function openAt(dir: string) {
  const db = await Database.open(dir);
  const conns = [await db.connect(), await db.connect()];
  const store = await DuckDbTelemetryStore.create(conns[0], conns[1]);
  opened.set(store, { db, conns, dir });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await Promise.all(conns.map((c) => c.close()));
    db.close();
  };
  return store;
}

storeContract('embedded (DuckDB)', {
  open: async () => openAt(await tempDir('rm-store-')),
  reopen: async (store) => {
    const { dir } = opened.get(store)!;
    await store.close();
    return openAt(dir);
  },
});
