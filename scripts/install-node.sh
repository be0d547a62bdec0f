#!/usr/bin/env bash
# Installs the newest Node $1.x from the npm registry's `node` package into the directory $2; the
# binary is then $2/node_modules/.bin/node. Used by scripts/node.sh and by CI (.ci/run).
#
# That package's preinstall step fetches the binary for this platform. The package.json written
# first approves it in npm's allowScripts: npm reports unapproved install scripts, and says a
# future release will block them.
set -euo pipefail
major=$1
dir=$2
mkdir -p "$dir"
printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$dir/package.json"
npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$major" >/dev/null
