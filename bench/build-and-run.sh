#!/usr/bin/env bash
# `npm run bench`: the service runs as `npm start` runs it (the esbuild bundle in dist/), the
# bench and its load generator are bundled the same way. Installs mosquitto and influxdb with
# apt-get if they are missing (scripts/system-deps.sh), as the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
node scripts/build.mjs
npx esbuild bench/run.ts bench/generator.ts bench/aedes-broker.ts --bundle --platform=node --format=esm --packages=external --sourcemap --outdir=bench/.build --out-extension:.js=.mjs --log-level=warning
node --enable-source-maps bench/.build/run.mjs "$@"
