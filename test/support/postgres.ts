/** The tests' PostgreSQL: the same harness the benchmark uses. */
export { startPostgres, postgresBin, type TestPostgres } from '../../scripts/postgres.ts';
