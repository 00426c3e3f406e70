import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Built as `npm start` builds them: the dashboards the service serves from dist/web, and the
 * service and simulator bundles that tests run as processes of their own.
 *
 * Every test's scratch (data folders, databases, browser profiles, the service processes' files)
 * goes in one folder for the run, removed at its end: the suite writes about 400 MB in some
 * hundred folders, which stayed behind in /tmp run after run.
 */
export default async function setup() {
  // @ts-expect-error: a plain ES module without types, which builds when imported
  await import('../../scripts/build.mjs');
  const scratch = await mkdtemp(join(tmpdir(), 'rm-tests-'));
  // as /tmp is: PostgreSQL's test server runs as its own user, in a folder of its own in here
  await chmod(scratch, 0o1777);
  // the test processes vitest starts, and the processes they start, inherit it (os.tmpdir())
  process.env.TMPDIR = scratch;
  return () => rm(scratch, { recursive: true, force: true, maxRetries: 3 });
}
