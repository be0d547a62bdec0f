#!/usr/bin/env bash
# Makes sure the system programs a test suite runs for real are on this machine, so that
# `npm ci && npm test` passes on a fresh Debian machine by itself (npm runs this as `pretest`
# and `pretest:e2e`). Missing programs are installed with apt-get when this process may do so
# (root, or passwordless sudo); otherwise it stops with the exact command to run.
#
#   scripts/test-tools.sh suite   nginx, yamllint, go, redis-server, caddy    (npm test)
#   scripts/test-tools.sh e2e     chromium               (npm run test:e2e)
set -euo pipefail

# program:Debian package. nginx lives in /usr/sbin, which is not on every user's PATH.
case "${1:-}" in
  suite) wanted=("nginx:nginx-light" "yamllint:yamllint" "go:golang-go" "redis-server:redis-server" "caddy:caddy") ;;
  e2e) wanted=("chromium:chromium") ;;
  *) echo "usage: $0 suite|e2e" >&2; exit 2 ;;
esac

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
for pair in "${wanted[@]}"; do
  have "${pair%%:*}" || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: the tests need ${missing[*]} (Debian package names); install them with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "test-tools: the tests need Debian packages that are not installed; run as root:" >&2
  echo "  $install_cmd" >&2
  exit 1
fi

echo "test-tools: installing Debian packages the tests run: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for pair in "${wanted[@]}"; do
  have "${pair%%:*}" || { echo "test-tools: ${pair#*:} installed but ${pair%%:*} is still not found" >&2; exit 1; }
done
