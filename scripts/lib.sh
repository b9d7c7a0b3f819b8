# shellcheck shell=bash
# Shared settings for the onedoor infrastructure scripts. Source it, don't run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Defines (all overridable from the environment unless noted):
#   REPO         repository root, computed from this file's location (not overridable)
#   DATA_DIR     ${ONEDOOR_DATA_DIR:-$REPO/.data}  (services' state and logs)
#   TOOLS_DIR    $REPO/.tools                      (built/downloaded tools)
#   PG_PORT      54329   TEMPORAL_PORT 7233   TEMPORAL_UI_PORT 8233
# Helpers: log MESSAGE... (one line to stderr), die MESSAGE... (log + exit 1)

if [[ -z "${ONEDOOR_LIB_LOADED:-}" ]]; then
  ONEDOOR_LIB_LOADED=1

  SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
  REPO="$(cd "$SCRIPTS_DIR/.." && pwd -P)"

  DATA_DIR="${ONEDOOR_DATA_DIR:-$REPO/.data}"
  # A relative ONEDOOR_DATA_DIR is taken relative to the current directory.
  [[ "$DATA_DIR" == /* ]] || DATA_DIR="$PWD/$DATA_DIR"
  DATA_DIR="${DATA_DIR%/}"
  TOOLS_DIR="$REPO/.tools"

  PG_PORT="${PG_PORT:-54329}"
  TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
  TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"

  export REPO DATA_DIR TOOLS_DIR PG_PORT TEMPORAL_PORT TEMPORAL_UI_PORT

  # log MESSAGE...: one progress line on stderr, prefixed with the script's name.
  log() {
    local me="${0##*/}"
    printf '%s: %s\n' "${me%.sh}" "$*" >&2
  }

  # die MESSAGE...: log an error and exit 1.
  die() {
    log "error: $*"
    exit 1
  }

  # short_hash STRING: 12 hex characters identifying STRING (e.g. a path).
  short_hash() {
    printf '%s' "$1" | sha256sum | cut -c1-12
  }
fi
