/** The tests' NATS servers: the same harness the benchmark uses. */
export { startNats, NATS_SERVER, type TestNats } from '../../scripts/nats.ts';
