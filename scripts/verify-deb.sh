#!/usr/bin/env bash
# Opt-in (minutes, root, network; not part of npm test): installs dist-pkg's .deb with apt into a
# clean Debian 12 root made by debootstrap, so nodejs and nftables come from Debian, and checks
# that it runs there: each command on Debian's node 18, an apply in a fresh network namespace,
# the unit enabled and passing `systemd-analyze verify`.
#   scripts/verify-deb.sh [ROOT]   ROOT: a bookworm root to reuse (made there if empty, kept);
#                                  without it a temporary one is made and removed
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "verify-deb: error: needs root (debootstrap, chroot)" >&2; exit 1; }
version=$(node -p 'require("./package.json").version')
deb=dist-pkg/qubes-firewall-agent_${version}_all.deb
[ -f "$deb" ] || npm run package
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

keep=${1:+yes}
root=${1:-$(mktemp -d /var/tmp/qf-verify-deb.XXXXXX)}
# apt's _apt user reads the lists through it
chmod 0755 "$root"
cleanup() {
  mountpoint -q "$root/proc" && umount "$root/proc"
  if [ -z "$keep" ]; then rm -rf "$root"; fi
}
trap cleanup EXIT
trap 'echo "verify-deb: FAILED at line $LINENO" >&2' ERR
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
step() { printf '\n== %s\n' "$*"; }
fail() { echo "verify-deb: FAILED: $*" >&2; exit 1; }

if [ ! -f "$root/etc/debian_version" ]; then
  step "debootstrap --variant=minbase bookworm $root"
  debootstrap --variant=minbase bookworm "$root" >/dev/null
fi
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"

step "apt-get install --no-install-recommends ./$(basename "$deb") (its Depends alone must do)"
cp "$deb" "$root/tmp/"
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" >/dev/null
in_root dpkg -s qubes-firewall-agent | grep -E '^(Status|Version|Depends):'

step "commands, on Debian's node"
in_root node --version
shown=$(in_root qubes-firewall-agent --version) && [ "$shown" = "$version" ] || fail "qubes-firewall-agent --version: '$shown', want $version"
for command in /usr/bin/qubes-firewall-agent /usr/bin/qubes-rc-local /usr/lib/qubes-firewall/bin/qvm-connect-tcp /usr/lib/qubes-firewall/bin/qubes.ConnectTCP; do
  usage=$(in_root "$command" --help 2>&1) || fail "$command --help: $usage"
  usage=${usage%%$'\n'*}
  echo "$command --help: $usage"
  [[ $usage == "Usage: $(basename "$command") "* ]] || fail "$command --help"
done

step "qubes-firewall-agent apply, in a fresh network namespace (unshare -n)"
cat > "$root/tmp/push.json" <<'EOF'
{"/qubes-firewall/10.137.0.5":"","/qubes-firewall/10.137.0.5/policy":"drop","/qubes-firewall/10.137.0.5/0000":"action=accept dst4=192.0.2.0/24 proto=tcp dstports=443-443","/connected-ips":"10.137.0.5","/connected-ips6":""}
EOF
unshare -n chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c \
  'qubes-firewall-agent --force --state-dir /tmp/qf-state apply < /tmp/push.json && nft list chain ip qubes qf-vm-10-137-0-5-g0' \
  || fail "apply"

step "the unit: enabled, where its ExecStart points, systemd-analyze verify"
[ -L "$root/etc/systemd/system/multi-user.target.wants/qubes-firewall-agent.service" ] || fail "not enabled"
echo "enabled: /etc/systemd/system/multi-user.target.wants/qubes-firewall-agent.service"
grep '^ExecStart=' "$root/lib/systemd/system/qubes-firewall-agent.service"
[ -x "$root/usr/bin/qubes-firewall-agent" ] || fail "ExecStart's /usr/bin/qubes-firewall-agent"
in_root apt-get install -y -qq --no-install-recommends systemd >/dev/null
in_root systemd-analyze verify /lib/systemd/system/qubes-firewall-agent.service || fail "systemd-analyze verify"
echo "systemd-analyze verify: no complaint"

step "apt-get purge leaves nothing of ours"
in_root apt-get purge -y -qq qubes-firewall-agent >/dev/null
left=$(cd "$root" && ls -d usr/lib/qubes-firewall usr/bin/qubes-firewall-agent etc/qubes-rpc/qubes.FirewallAgent \
  lib/systemd/system/qubes-firewall-agent.service etc/systemd/system/multi-user.target.wants/qubes-firewall-agent.service 2>/dev/null || true)
[ -z "$left" ] || fail "left after purge: $left"
echo "nothing left"

echo
echo "verify-deb: OK ($deb on Debian $(cat "$root/etc/debian_version"))"
