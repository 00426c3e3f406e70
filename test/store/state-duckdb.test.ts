import { Database } from '../../services/store/database.ts';
import { tempDir } from '../support/app.ts';
import { stateStoreContract } from './state-contract.ts';

stateStoreContract('the embedded database (DuckDB)', {
  open: async () => {
    const db = await Database.open(await tempDir('rm-state-'));
    const sql = await db.sql();
    const close = sql.close.bind(sql);
    sql.close = async () => (await close(), db.close());
    return sql;
  },
});
