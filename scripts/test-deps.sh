#!/usr/bin/env bash
# Installs the npm packages the tests read (package-lock.json) into
# ./node_modules, unless the lock file it was installed from is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

# The admin UI's browser test drives Debian's Chromium. As root it is
# installed when missing; CI must have it; elsewhere the test is skipped.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium (apt-get) for the admin UI's browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif [ "${CI:-}" = true ]; then
    echo "chromium not found at /usr/bin/chromium: the admin UI's browser test needs it (apt-get install chromium, as root)" >&2
    exit 1
  else
    echo "chromium not found at /usr/bin/chromium: the admin UI's browser test will be skipped (apt-get install chromium, as root, to run it)" >&2
  fi
fi

# npm ci replaces node_modules, so this copy is gone whenever it is.
stamp=node_modules/.installed-package-lock.json
if cmp -s package-lock.json "$stamp"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: the tests need Node.js and npm to install package-lock.json" >&2; exit 1; }
echo "installing test packages (npm ci)"
npm ci --ignore-scripts --no-audit --no-fund
cp package-lock.json "$stamp"
