#!/usr/bin/env bash
# npm run package: the template packages (VM side only; dom0 stays Qubes' own) into dist-pkg/:
# qubes-firewall-agent_VERSION_all.deb (Debian 12) and qubes-firewall-agent-VERSION-1.noarch.rpm
# (Fedora). Each command is ONE file bundled by esbuild from the TypeScript sources (no
# node_modules, no dist/ at run time) for the node the distribution ships (Debian 12: 18).
# Qubes' own /usr/bin/qvm-connect-tcp and /etc/qubes-rpc/qubes.ConnectTCP are left alone: ours
# live in /usr/lib/qubes-firewall/bin only. Without rpmbuild the .rpm is skipped, said on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=$repo/dist-pkg
name=qubes-firewall-agent
version=$(node -p 'require("./package.json").version')
lib=/usr/lib/qubes-firewall
# command name -> entry file; qubes.ConnectTCP and qvm-connect-tcp are not put on PATH (see above)
declare -A entries=(
  [qubes-firewall-agent]=netvm-agent/bin/qubes-firewall-agent.ts
  [qvm-connect-tcp]=vm-hooks/bin/qvm-connect-tcp.ts
  [qubes.ConnectTCP]=vm-hooks/bin/qubes.ConnectTCP.ts
  [qubes-rc-local]=vm-hooks/bin/qubes-rc-local.ts
)
on_path=(qubes-firewall-agent qubes-rc-local)

if [ ! -x node_modules/.bin/esbuild ]; then
  echo "package: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
for tool in dpkg-deb gzip; do
  command -v "$tool" >/dev/null || { echo "package: error: $tool not found (apt-get install dpkg gzip)" >&2; exit 1; }
done
# esbuild does not type-check: a package is made only from sources that pass tsc
node_modules/.bin/tsc -p tsconfig.json --noEmit

deb=$out/${name}_${version}_all.deb
rpm=$out/$name-$version-1.noarch.rpm
# never a package left from an earlier run beside the new one
rm -f "$deb" "$rpm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundles" "$out"

# ESM (the entries use top-level await); commander is CommonJS, so the bundle gets a require()
node_modules/.bin/esbuild "${entries[@]}" --bundle --platform=node --format=esm --target=node18 \
  --outdir="$work/bundles" --entry-names='[name]' --metafile="$work/meta.json" --log-level=warning \
  --banner:js="import { createRequire as __qfCreateRequire } from 'node:module'; const require = __qfCreateRequire(import.meta.url);"
for command in "${!entries[@]}"; do
  # the distribution's node, not whichever node a qube's PATH finds first (/usr/local belongs to the qube)
  sed -i '1s|^#!.*|#!/usr/bin/node|' "$work/bundles/$command.js"
  head -1 "$work/bundles/$command.js" | grep -qx '#!/usr/bin/node' || { echo "package: error: $command.js has no #! line" >&2; exit 1; }
done

# what the bundles carry, for the copyright file: every npm package esbuild took a file from
bundled=$(node -e '
  const fs = require("fs")
  const inputs = Object.keys(JSON.parse(fs.readFileSync(process.argv[1], "utf8")).inputs)
  const names = [...new Set(inputs.flatMap((p) => { const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p); return m ? [m[1]] : [] }))].sort()
  for (const n of names) { const p = require(`./node_modules/${n}/package.json`); console.log(` ${n} ${p.version} (${p.license}): https://www.npmjs.com/package/${n}`) }
' "$work/meta.json")

# stage ROOT UNITDIR: the installed tree; only the systemd directory differs (Debian 12 ships units in
# /lib/systemd/system, Fedora in /usr/lib/systemd/system)
stage() {
  local root=$1 unitdir=$2
  install -d "$root$lib/bin" "$root/usr/bin" "$root/etc/qubes-rpc" "$root$unitdir/system" "$root$unitdir/system-preset" \
    "$root/usr/share/man/man8" "$root$lib/share/man/man1" "$root/usr/share/doc/$name/examples"
  # bin/NAME.js, as in dist/: qvm-connect-tcp re-runs itself in the background as ../bin/qvm-connect-tcp.js
  # from its own file, and every command's --version reads the package.json above it
  for command in "${!entries[@]}"; do
    install -m 0755 "$work/bundles/$command.js" "$root$lib/bin/$command.js"
    ln -s "$command.js" "$root$lib/bin/$command"
  done
  for command in "${on_path[@]}"; do ln -s "../lib/qubes-firewall/bin/$command.js" "$root/usr/bin/$command"; done
  # "type": "module" makes node load bin/*.js as ES modules; --version reads the version from here
  printf '{\n  "name": "qubes-firewall",\n  "version": "%s",\n  "private": true,\n  "type": "module"\n}\n' "$version" > "$root$lib/package.json"
  chmod 0644 "$root$lib/package.json"
  install -m 0755 netvm-agent/qubes-rpc/qubes.FirewallAgent "$root/etc/qubes-rpc/qubes.FirewallAgent"
  install -m 0644 netvm-agent/systemd/qubes-firewall-agent.service "$root$unitdir/system/"
  install -m 0644 packaging/systemd/75-qubes-firewall-agent.preset "$root$unitdir/system-preset/"
  gzip -9nc packaging/man/qubes-firewall-agent.8 > "$root/usr/share/man/man8/qubes-firewall-agent.8.gz"
  # found by man when /usr/lib/qubes-firewall/bin is on PATH; Qubes ships qvm-* man pages itself
  gzip -9nc packaging/man/qvm-connect-tcp.1 > "$root$lib/share/man/man1/qvm-connect-tcp.1.gz"
  # Qubes runs /rw/config/rc.local itself (qubes-misc-post.service): the unit is for hosts without Qubes
  install -m 0644 vm-hooks/systemd/qubes-rc-local.service "$root/usr/share/doc/$name/examples/"
  {
    echo "qubes-firewall $version: GPL-2.0-or-later"
    echo
    echo "The files in $lib/bin bundle these npm packages:"
    echo "$bundled"
  } > "$root/usr/share/doc/$name/copyright"
  chmod -R u=rwX,go=rX "$root"
  chmod 0755 "$root$lib/bin/"*.js "$root/etc/qubes-rpc/qubes.FirewallAgent"
}

# .deb
deb_root=$work/deb
stage "$deb_root" /lib/systemd
install -d "$deb_root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$deb_root" | cut -f1)
sed -e "/^#/d" -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" packaging/debian/control.in > "$deb_root/DEBIAN/control"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$deb_root/DEBIAN/"
echo /etc/qubes-rpc/qubes.FirewallAgent > "$deb_root/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$deb_root" "$deb" >/dev/null
echo "package: built ${deb#"$repo"/}" >&2

# .rpm
if ! command -v rpmbuild >/dev/null; then
  echo "package: the .rpm was SKIPPED: rpmbuild is missing (Debian: apt-get install rpm); only the .deb was built" >&2
  exit 0
fi
rpm_root=$work/rpm-stage
stage "$rpm_root" /usr/lib/systemd
sed -e "s/@VERSION@/$version/" packaging/rpm/$name.spec.in > "$work/$name.spec"
# no post-install step: nothing to strip, the man pages are compressed already (and Debian's
# brp-compress is not sh)
rpmbuild -bb --quiet --define "_topdir $work/rpmbuild" --define "stage $rpm_root" \
  --define '__os_install_post %{nil}' --define '_binary_payload w9.xzdio' "$work/$name.spec" >&2
cp "$work/rpmbuild/RPMS/noarch/$name-$version-1.noarch.rpm" "$rpm"
echo "package: built ${rpm#"$repo"/}" >&2
