import { createRequire } from 'node:module';

/**
 * DuckDB's Node package, loaded with `require`. It is CommonJS: loaded by `import`, node first
 * reads each of its 120 files with cjs-module-lexer to find their exports, 140–200 ms of CPU in
 * every thread that loads it (the main thread and the pipeline's, at each start and restart)
 * against 90 ms this way.
 */
export const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');
