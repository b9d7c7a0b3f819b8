#!/usr/bin/env bash
# Builds the official Temporal CLI (dev server included), pinned, into .tools/temporal.
#   scripts/ensure-temporal.sh
# Uses the Go module proxy: `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`.
# Does nothing when .tools/temporal is already v1.5.1. The first build takes minutes;
# its full output goes to .tools/temporal-build.log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEMPORAL_CLI_VERSION="1.5.1"
MODULE="github.com/temporalio/cli"
BIN="$TOOLS_DIR/temporal"
BUILD_LOG="$TOOLS_DIR/temporal-build.log"

# True when $BIN is a working v$TEMPORAL_CLI_VERSION build. `go install` leaves the
# CLI's version string at 0.0.0-DEV unless -ldflags sets it (as we do), so a build
# made without it is recognized by the module version Go records in the binary.
is_current() {
  [[ -x "$BIN" ]] || return 1
  local out
  out="$("$BIN" --version 2>/dev/null)" || return 1
  [[ "$out" == "temporal version $TEMPORAL_CLI_VERSION "* ]] && return 0
  command -v go >/dev/null 2>&1 || return 1
  out="$(go version -m "$BIN" 2>/dev/null)" || return 1
  [[ "$out" =~ [[:space:]]mod[[:space:]]+${MODULE}[[:space:]]+v${TEMPORAL_CLI_VERSION}[[:space:]] ]]
}

# Another `go install` of the CLI (e.g. started by hand) writing to our GOBIN?
other_build_pids() {
  local pid cmd
  for pid in $(pgrep -x go 2>/dev/null || true); do
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmd" == *"install"*"$MODULE/cmd/temporal"* ]] && printf '%s\n' "$pid"
  done
  return 0
}

is_current && exit 0

mkdir -p "$TOOLS_DIR"
# Serialize concurrent runs of this script.
exec 9>"$TOOLS_DIR/.temporal-build.lock"
if ! flock -n 9; then
  log "another ensure-temporal is building the Temporal CLI; waiting for it..."
  flock 9
fi
is_current && exit 0

others="$(other_build_pids)"
if [[ -n "$others" ]]; then
  log "a go install of the Temporal CLI is already running (pid ${others//$'\n'/ });" \
    "waiting for it..."
  start=$SECONDS
  while [[ -n "$(other_build_pids)" ]]; do
    sleep 1
    (((SECONDS - start) % 10 == 0)) &&
      log "  ...still waiting for the running build ($((SECONDS - start)) s)"
  done
  is_current && { log "Temporal CLI v$TEMPORAL_CLI_VERSION is ready"; exit 0; }
  log "that build did not produce v$TEMPORAL_CLI_VERSION; building it here"
fi

command -v go >/dev/null 2>&1 || die "go not found on PATH (needed to build the Temporal CLI)"

log "building the Temporal CLI v$TEMPORAL_CLI_VERSION with the Go module proxy" \
  "(first time only, several minutes)..."
log "  full output: $BUILD_LOG"
start=$SECONDS
GOBIN="$TOOLS_DIR" go install -v \
  -ldflags "-s -w -X $MODULE/temporalcli.Version=$TEMPORAL_CLI_VERSION" \
  "$MODULE/cmd/temporal@v$TEMPORAL_CLI_VERSION" >"$BUILD_LOG" 2>&1 &
build_pid=$!
trap 'kill "$build_pid" 2>/dev/null || true' INT TERM HUP
while kill -0 "$build_pid" 2>/dev/null; do
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    kill -0 "$build_pid" 2>/dev/null || break 2
  done
  n="$(grep -vc '^go: downloading' "$BUILD_LOG" 2>/dev/null || true)"
  if ((n > 0)); then
    last="$(tail -n 1 "$BUILD_LOG" 2>/dev/null || true)"
    log "  ...$((SECONDS - start)) s, $n packages compiled (last: ${last:0:60})"
  else
    log "  ...$((SECONDS - start)) s, still building"
  fi
done
rc=0
wait "$build_pid" || rc=$?
trap - INT TERM HUP
if ((rc != 0)); then
  tail -n 30 "$BUILD_LOG" >&2
  die "go install failed (exit $rc); see $BUILD_LOG"
fi
is_current ||
  die "built $BIN but it does not report v$TEMPORAL_CLI_VERSION: $("$BIN" --version 2>&1 || true)"
log "built $("$BIN" --version) in $((SECONDS - start)) s"
