#!/usr/bin/env bash
# Installs the Debian packages onedoor needs, when missing, and checks the toolchains.
#   scripts/ensure-system.sh
# Packages: chromium, fonts-noto-cjk, poppler-utils (pdftotext/pdftoppm),
# libxml2-utils (xmllint), openjdk-17-jre-headless + maven (test server), postgresql-15.
# Node >= 20, npm and Go cannot come from Debian 12 (too old): they are checked only.
# Silent when everything is already there.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN="/usr/lib/postgresql/15/bin"
wanted=(chromium fonts-noto-cjk poppler-utils libxml2-utils)
# Debian can provide these too, if the machine lacks them
command -v java >/dev/null 2>&1 || wanted+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || wanted+=(maven)
for b in initdb pg_ctl postgres psql; do
  [[ -x "$PG_BIN/$b" ]] || { wanted+=(postgresql-15 postgresql-client-15); break; }
done

installed() {
  local status
  status="$(dpkg -s "$1" 2>/dev/null)" || return 1
  [[ "$status" == *"Status: install ok installed"* ]]
}

missing=()
for p in "${wanted[@]}"; do
  installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "not root and no sudo: install these Debian packages: ${missing[*]}"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_log="$(mktemp -t onedoor-apt.XXXXXX)"
  trap 'rm -f "$apt_log"' EXIT
  log "installing Debian packages: ${missing[*]} (apt-get update first)..."
  if ! { "${sudo[@]}" apt-get update -q &&
    "${sudo[@]}" apt-get install -y -q -o Dpkg::Use-Pty=0 "${missing[@]}"; } >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    die "apt-get failed for: ${missing[*]}"
  fi
  log "installed ${missing[*]}"
fi

# Toolchains that must come from elsewhere (the machine image, nvm, go.dev...).
problems=()
for c in node npm go java mvn; do
  command -v "$c" >/dev/null 2>&1 || problems+=("$c not found on PATH")
done
if command -v node >/dev/null 2>&1; then
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  ((node_major >= 20)) || problems+=("node >= 20 required, found $(node --version)")
fi
for b in initdb pg_ctl postgres psql; do
  [[ -x "$PG_BIN/$b" ]] || problems+=("PostgreSQL 15 binary $PG_BIN/$b missing")
done
for c in chromium pdftotext pdftoppm xmllint; do
  command -v "$c" >/dev/null 2>&1 || problems+=("$c not found on PATH")
done
if ((${#problems[@]})); then
  for m in "${problems[@]}"; do log "error: $m"; done
  exit 1
fi
