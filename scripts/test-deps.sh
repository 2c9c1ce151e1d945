#!/usr/bin/env bash
# Installs the npm packages the tests read (package-lock.json) into
# ./node_modules, unless the lock file it was installed from is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci replaces node_modules, so this copy is gone whenever it is.
stamp=node_modules/.installed-package-lock.json
if cmp -s package-lock.json "$stamp"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: the tests need Node.js and npm to install package-lock.json" >&2; exit 1; }
echo "installing test packages (npm ci)"
npm ci --ignore-scripts --no-audit --no-fund
cp package-lock.json "$stamp"
