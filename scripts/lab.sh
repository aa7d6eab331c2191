#!/usr/bin/env bash
# npm run lab: the project's main job. Until the namespace lab lands (issue 4), this runs dom0's
# commands on a scratch qubes dir, so you can see qvm-firewall behave as in Qubes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build --silent
export QUBES_DIR="${QUBES_DIR:-/run/qubes-lab/qubes}"
case "${1:-up}" in
  down) rm -rf "$QUBES_DIR"; echo "removed $QUBES_DIR"; exit 0 ;;
  up) ;;
  *) echo "qubes-lab: only 'up' and 'down' exist so far" >&2; exit 1 ;;
esac
rm -rf "$QUBES_DIR"; mkdir -p "$QUBES_DIR"
bin=dist/dom0-tools/bin
show() { local cmd=$1; shift; echo "\$ $cmd $*"; node "$bin/$cmd.js" "$@" || true; echo; }
node $bin/qvm-create.js sys-net --prop provides_network=True --prop netvm=
node $bin/qvm-create.js sys-firewall --prop provides_network=True --prop netvm=sys-net
for vm in work personal untrusted; do node $bin/qvm-create.js $vm --prop netvm=sys-firewall; done
node $bin/qvm-create.js vault --prop netvm=
show qvm-ls -n
show qvm-firewall work add accept www.lab.example tcp 443 'comment=Allow the web'
show qvm-firewall work add accept specialtarget=dns
show qvm-firewall work add --before 0 drop 10.0.0.0/8
show qvm-firewall work add drop
show qvm-firewall work del --rule-no 1
show qvm-firewall work list
show qvm-firewall --raw work
show qvm-firewall work add accept 192.0.2.10 tcp 443-80
echo "dom0 state: $QUBES_DIR (QUBES_DIR=$QUBES_DIR qvm-firewall work ...; npm run lab -- down to remove)"
