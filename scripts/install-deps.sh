#!/usr/bin/env bash
# System tools (nft, conntrack, ip, dnsmasq) and npm packages, installed only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v nft >/dev/null || missing+=(nftables)
command -v conntrack >/dev/null || missing+=(conntrack)
command -v ip >/dev/null || missing+=(iproute2)
command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
command -v python3 >/dev/null || missing+=(python3)
command -v curl >/dev/null || missing+=(curl)
# the agent reads its drop log (NFLOG) through tcpdump
command -v tcpdump >/dev/null || missing+=(tcpdump)
# npm run bench: the drop log's cost on accepted traffic (without it, that line says skipped)
command -v iperf3 >/dev/null || missing+=(iperf3)
# the template packages: npm run package builds the .rpm with it (test/package-deb.ts)
command -v rpmbuild >/dev/null || missing+=(rpm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "need root to install: ${missing[*]}" >&2; exit 1; fi
  echo "installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi
