#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, builds, runs tap.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build
# the tests run from their sources: type-check them too, so a wrong test fails here, not by chance
npx tsc -p tsconfig.test.json
# tap builds its plugin set (package.json: tsx, not its ts-node plugin) at its first run and uses the
# one it had until then: on a fresh install that first run would be the whole suite
npx tap build >/dev/null
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# the tests make no TLS connection, and Node reads NODE_EXTRA_CA_CERTS at every start (~40 ms on a
# 2-core box, for each of the thousands of commands the tests run): npm needed it above, tap does not
env -u NODE_EXTRA_CA_CERTS npx tap "$@" 2>&1 | tee "$log" || status=$?
# tap ends with `# { total: N, pass: P, fail: F, ... }`: say it in the plain form CI reads
summary=$(grep -E '^# \{ total: ' "$log" | tail -1 || true)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
echo "${pass:-0} passed, ${fail:-0} failed${skip:+, $skip skipped}"
exit "$status"
