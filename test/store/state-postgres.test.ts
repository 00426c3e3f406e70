import { afterAll, beforeAll } from 'vitest';
import { PgSql } from '../../services/store/postgres-sql.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { stateStoreContract } from './state-contract.ts';

let server: TestPostgres;
let n = 0;
beforeAll(async () => void (server = await startPostgres()), 60_000);
afterAll(async () => server?.stop());

stateStoreContract('PostgreSQL (cluster mode)', {
  open: async () => PgSql.connect(await server.database(`state_${++n}`)),
});
