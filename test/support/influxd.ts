/** The tests' InfluxDB: the same harness the benchmark uses. */
export { startInfluxd, type Influxd } from '../../scripts/influxd.ts';
