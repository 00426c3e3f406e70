import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const QUIET = fileURLToPath(new URL('../../services/quiet-debug.mjs', import.meta.url));

/** What the packages' `debug` does in a fresh node with services/quiet-debug.mjs loaded first, and DEBUG as given. */
function run(debugEnv: string | undefined) {
  const script = `
    import ${JSON.stringify(QUIET)};
    import { createRequire } from 'node:module';
    const createDebug = createRequire(${JSON.stringify(QUIET)})('debug');
    const parser = createDebug('mqtt-packet:parser');
    const mine = createDebug('probe:mine');
    parser('parsed %s', 'a packet');
    mine('said %s', 'something');
    // the no-op is a function of no arguments; debug's own gathers them (...args) before it looks
    console.log(JSON.stringify({ parserNoop: parser.length === 0 && !String(parser).includes('args'), mine: mine.enabled, child: mine.extend('child').namespace }));`;
  const env: NodeJS.ProcessEnv = { ...process.env, DEBUG_COLORS: 'no' };
  delete env.DEBUG;
  if (debugEnv !== undefined) env.DEBUG = debugEnv;
  const { stdout, stderr } = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  return { ...JSON.parse(stdout), stderr };
}

describe('the packages\' debug logging', () => {
  it('costs nothing while DEBUG does not name it, and logs as before for the namespaces DEBUG names', () => {
    const quiet = run(undefined);
    expect(quiet).toMatchObject({ parserNoop: true, mine: false, child: 'probe:mine:child' });
    expect(quiet.stderr).toBe('');
    const asked = run('probe:*');
    expect(asked).toMatchObject({ parserNoop: true, mine: true });
    expect(asked.stderr).toContain('probe:mine said something');
  });
});
