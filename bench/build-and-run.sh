#!/usr/bin/env bash
# The benchmark runs the code as `npm start` runs it: bundled by esbuild, not through tsx.
set -euo pipefail
cd "$(dirname "$0")/.."
npx esbuild bench/run.ts --bundle --platform=node --format=esm --packages=external --sourcemap --outfile=bench/.build/run.mjs --log-level=warning
node --enable-source-maps bench/.build/run.mjs "$@"
