// Prints `tests: N passed, N failed` from vitest's JSON report (and the type check's result, when
// scripts/test.sh ran it); a missing report is a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 1;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(process.argv[2] ?? '.vitest-results.json', 'utf8'));
  passed = r.numPassedTests;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // a test file that failed to load counts as a failure even though it ran no test; tests of a
  // worker that died are neither passed nor skipped: they failed too
  const unaccounted = Math.max(0, r.numTotalTests - r.numPassedTests - r.numFailedTests - skipped);
  failed = r.numFailedTests + unaccounted + (r.testResults ?? []).filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  // an error outside any test (a crashed worker, an unhandled rejection) fails the run
  if (r.success === false && failed === 0) failed = 1;
} catch {
  /* no report: vitest itself failed */
}
// the type check ran before vitest (scripts/test.sh): it counts as one test
try {
  const typecheck = readFileSync('.typecheck-result', 'utf8').trim();
  if (typecheck === 'pass') passed++;
  else failed++;
} catch {
  /* not run (vitest called directly) */
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
