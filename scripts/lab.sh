#!/usr/bin/env bash
# npm run lab [-- up|down|status|matrix]: installs what the lab needs, builds, runs qubes-lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent
exec node dist/lab/bin/qubes-lab.js "$@"
