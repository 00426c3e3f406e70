// Prints `tests: N passed, N failed` from vitest's JSON report; a missing report is a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 1;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(process.argv[2] ?? '.vitest-results.json', 'utf8'));
  passed = r.numPassedTests;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // a test file that failed to load counts as a failure even though it ran no test
  failed = r.numFailedTests + (r.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch {
  /* no report: vitest itself failed */
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
