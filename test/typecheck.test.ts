import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

/** The whole project type-checks in strict mode (tsx runs it without checking). */
it('type-checks (tsc --noEmit, strict)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', '.']).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  expect(stdout).toBe('');
}, 120_000);
