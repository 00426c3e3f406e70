import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Imported first by each benchmark: everything it writes (the service's databases, influxd's and
 * mosquitto's data, registries) goes in one folder, removed when it exits. A full run stores
 * millions of readings, and left them behind in /tmp at every run. `bench:profile` keeps its
 * folder (its profiles are read afterwards) and does not import this.
 */
const scratch = mkdtempSync(join(tmpdir(), 'rm-bench-run-'));
process.env.TMPDIR = scratch;
process.on('exit', () => rmSync(scratch, { recursive: true, force: true, maxRetries: 3 }));
