#!/bin/sh
# npm run build (and npm's prepare): dist/ from the TypeScript sources, then each user command
# (dom0-tools/bin, netvm-agent/bin, vm-hooks/bin) bundled by esbuild into ONE file at the same path,
# so that a command loads one module instead of dozens (start-up is most of a short command's time).
# npm packages go into the bundles too: an ESM bundle imports external packages at its top, so a
# --help would load them all. commander is CommonJS: the bundle gets a require() for its requires.
set -e
cd "$(dirname "$0")/.."
rm -rf dist
node_modules/.bin/tsc -p tsconfig.json
node_modules/.bin/esbuild dom0-tools/bin/*.ts netvm-agent/bin/*.ts vm-hooks/bin/*.ts \
  --bundle --platform=node --format=esm --target=node20 \
  --outbase=. --outdir=dist --allow-overwrite --log-level=warning \
  --banner:js="import { createRequire as __qfCreateRequire } from 'node:module'; const require = __qfCreateRequire(import.meta.url);"
