#!/usr/bin/env bash
# `npm test`: installs the system programs the tests need, then runs every test (vitest) and
# ends with the plain summary line `tests: N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh || { echo "could not install the system programs the tests need"; echo "tests: 0 passed, 1 failed"; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund
rm -f .vitest-results.json .vitest-cluster-results.json .typecheck-result
# type-checking (strict, the service and the dashboards) runs before the tests, not inside them:
# tsx and esbuild run TypeScript without checking it, so this is the one place types are proven
echo "type-checking (tsc --noEmit, strict; service and dashboards)"
if npm run -s typecheck; then echo pass > .typecheck-result; else echo fail > .typecheck-result; fi
npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json "$@"
code=$?
reports=(.vitest-results.json)
# the cluster's fault tests (three NATS nodes, PostgreSQL, InfluxDB and seven service processes)
# take both cores for a minute and a half: they run after the suite, alone, unless arguments
# chose other tests
if [ $# -eq 0 ]; then
  rm -f .vitest-cluster-results.json
  CLUSTER_FAULTS=1 npx vitest run test/e2e/cluster-faults.test.ts --reporter=default --reporter=json --outputFile.json=.vitest-cluster-results.json || code=1
  reports+=(.vitest-cluster-results.json)
fi
node scripts/test-summary.mjs "${reports[@]}" || code=1
exit $code
