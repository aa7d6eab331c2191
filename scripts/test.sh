#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, builds, runs tap.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build
exec npx tap "$@"
