#!/usr/bin/env bash
# `node "$@"` on a Node this project supports, so that `npm ci && npm start` and
# `npm ci && npm test` also work on a machine whose preinstalled Node is older: every npm script
# that runs Node goes through here.
#
# The `node` on PATH is used when it satisfies package.json's engines.node. Otherwise Node
# $major, the one the container image runs, comes from the npm registry's `node` package,
# installed once into ${XDG_CACHE_HOME:-~/.cache}/kratos-gateway/node$major, and goes first on
# PATH, so what the command starts (`node` and `npm` children, test processes) runs on it too.
# An older Node cannot simply be used: better-sqlite3 needs Node-API 10 (Node 22.14) and crashes
# on older versions. `npm ci` itself may run on the older Node because nothing it installs
# depends on the Node that ran it (the native modules are Node-API prebuilds).
set -euo pipefail

major=26 # test/integration/deploy/supported-node.test.ts checks it is the Dockerfile's Node
root=$(cd "$(dirname "$0")/.." && pwd)

# Exit 0 when the node binary $1 satisfies engines.node, 1 when not, 2 when engines.node has a
# form this check does not understand (then it says so rather than guessing).
satisfies() {
  "$1" -e '
    const want = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).engines.node;
    const m = /^>=(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(want);
    if (!m) {
      console.error(`scripts/node.sh: package.json engines.node "${want}" is not of the form >=X.Y.Z`);
      process.exit(2);
    }
    const need = m.slice(1).map((n) => Number(n ?? 0));
    const have = process.versions.node.split(".").map(Number);
    const cmp = have[0] - need[0] || have[1] - need[1] || have[2] - need[2];
    process.exit(cmp >= 0 ? 0 : 1);
  ' "$root/package.json"
}

status=0
satisfies node || status=$?
[ "$status" -eq 0 ] && exec node "$@"
[ "$status" -eq 1 ] || exit "$status"

cache="${XDG_CACHE_HOME:-$HOME/.cache}/kratos-gateway"
dir="$cache/node$major"
fetched="$dir/node_modules/.bin"
status=1
if [ -x "$fetched/node" ]; then
  status=0
  satisfies "$fetched/node" || status=$?
fi
if [ "$status" -eq 1 ]; then
  echo "scripts/node.sh: Node $(node -p process.version) does not satisfy package.json engines.node; installing Node $major from the npm registry's node package into $dir" >&2
  rm -rf "$dir" # an unusable copy, if any
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node$major.XXXXXX")
  if ! bash "$root/scripts/install-node.sh" "$major" "$tmp"; then
    rm -rf "$tmp"
    echo "scripts/node.sh: could not install node@$major; install Node $major (or any Node that satisfies package.json engines.node) and put it first on PATH" >&2
    exit 1
  fi
  # A run started at the same time may have put its copy there first; that one is as good.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
elif [ "$status" -ne 0 ]; then
  exit "$status"
fi
export PATH="$fetched:$PATH"
echo "scripts/node.sh: running on Node $(node -p process.version) from $dir (this machine's Node is older than package.json engines.node)" >&2
exec node "$@"
