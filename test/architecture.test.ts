import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

/** The doors between the rooms (scripts/check-imports.mjs): no import cycle, no arrow against the flow. */
it('has no import cycle and no import against the flow', async () => {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['scripts/check-imports.mjs']).catch((e: { stdout: string; stderr: string }) => e);
  expect(stderr).toBe('');
  expect(stdout).toMatch(/no cycle, no arrow against the flow/);
});
