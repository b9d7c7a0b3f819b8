#!/usr/bin/env bash
# Everything a fresh machine or clone needs before building and testing onedoor:
# Debian packages, the Temporal CLI (built once), the Java time-skipping test server,
# and node_modules (npm ci when missing or older than package-lock.json).
#   scripts/ensure-all.sh
# Silent when all is already in place.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO/scripts/ensure-system.sh"
"$REPO/scripts/ensure-temporal.sh"
"$REPO/scripts/ensure-test-server.sh"
"$REPO/scripts/ensure-fonts.sh"

# npm records each install in node_modules/.package-lock.json; compare against that.
cd "$REPO"
stamp="node_modules/.package-lock.json"
[[ -e "$stamp" ]] || stamp="node_modules"
if [[ -f package-lock.json ]]; then
  if [[ ! -e "$stamp" || package-lock.json -nt "$stamp" ]]; then
    log "npm ci (node_modules missing or older than package-lock.json)..."
    npm ci --no-audit --no-fund --loglevel=error >&2
    mkdir -p node_modules
    touch node_modules/.package-lock.json
  fi
elif [[ -f package.json ]]; then
  if [[ ! -e "$stamp" || package.json -nt "$stamp" ]]; then
    log "npm install (no package-lock.json; node_modules missing or older than package.json)..."
    npm install --no-audit --no-fund --loglevel=error >&2
    mkdir -p node_modules
    touch node_modules/.package-lock.json
  fi
fi
