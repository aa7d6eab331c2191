#!/bin/sh
# npm's prepare: builds dist/ for `npm install -g .` from a clone and for `npm pack`. A global
# install from a folder does not install devDependencies, so the compiler and bundler are fetched here if missing.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/esbuild ]; then
  # (npm passes its own settings down: this install is the folder's own, not a global one)
  npm install --global=false --prefix "$(pwd)" --no-save --no-audit --no-fund --ignore-scripts >&2
fi
exec sh scripts/build.sh
