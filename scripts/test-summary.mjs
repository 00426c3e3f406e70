// Prints `tests: N passed, N failed` from vitest's JSON reports (every one named on the command
// line: the suite and the cluster's fault tests) and the type check's result, when scripts/test.sh
// ran it; a missing report is a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.length > 2 ? process.argv.slice(2) : ['.vitest-results.json']) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const skip = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    passed += r.numPassedTests;
    skipped += skip;
    // a test file that failed to load counts as a failure even though it ran no test; tests of a
    // worker that died are neither passed nor skipped: they failed too
    const unaccounted = Math.max(0, r.numTotalTests - r.numPassedTests - r.numFailedTests - skip);
    let f = r.numFailedTests + unaccounted + (r.testResults ?? []).filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
    // an error outside any test (a crashed worker, an unhandled rejection) fails the run
    if (r.success === false && f === 0) f = 1;
    failed += f;
  } catch {
    // no report: vitest itself failed
    failed++;
  }
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
