#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what is missing, starts PostgreSQL and a
# fresh Temporal dev server of its own, then runs the format check, lint, type check and ava.
#   npm test            (README command 2; .ci/run calls it)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

"$REPO/scripts/ensure-all.sh"

if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  "$REPO/scripts/postgres.sh" start
  TEST_DATABASE_URL="$("$REPO/scripts/postgres.sh" url)"
fi
export TEST_DATABASE_URL

# The tests' own dev server: a new SQLite file each run, on ports apart from the hall's.
TEST_TEMPORAL_PORT="${TEST_TEMPORAL_PORT:-7250}"
if [[ -z "${TEST_TEMPORAL_ADDRESS:-}" ]]; then
  mkdir -p "$DATA_DIR/temporal"
  test_db="$DATA_DIR/temporal/test-$$.db"
  "$REPO/scripts/temporal-dev.sh" stop --name test >/dev/null 2>&1 || true
  (unset TEMPORAL_ADDRESS; "$REPO/scripts/temporal-dev.sh" start --name test \
    --port "$TEST_TEMPORAL_PORT" --ui-port "$((TEST_TEMPORAL_PORT + 1000))" --db "$test_db")
  trap '"$REPO/scripts/temporal-dev.sh" stop --name test >/dev/null 2>&1 || true
    rm -f "$test_db"*' EXIT
  TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEST_TEMPORAL_PORT"
fi
export TEST_TEMPORAL_ADDRESS

log "format (prettier), lint (eslint), types (tsc)..."
npx prettier --check . >&2
npx eslint . >&2
npx tsc --noEmit -p . >&2

log "tests (ava)..."
out="$DATA_DIR/ava-last.log"
: >"$out"
status=0
# The time-skipping workflow tests run apart, one file at a time: the Java test server is
# sensitive to a loaded machine, and two of them beside the rest of the suite can stall.
# Each run is bounded, so a hang fails the suite instead of holding CI until its hard limit.
set +e
if [[ $# -gt 0 ]]; then
  timeout 45m npx ava "$@" 2>&1 | tee -a "$out"
  status=${PIPESTATUS[0]}
else
  timeout 40m npx ava 'test/*.test.ts' 'api/**/*.test.ts' 'lib/**/*.test.ts' 'cli/**/*.test.ts' \
    2>&1 | tee -a "$out"
  status=${PIPESTATUS[0]}
  timeout 15m npx ava 'test/workflows/**/*.test.ts' --concurrency 1 2>&1 | tee -a "$out"
  second=${PIPESTATUS[0]}
  [[ "$status" -ne 0 ]] || status=$second
fi
set -e
# One plain closing line, whatever ava's own wording: "N passed, N failed".
# Only ava's own summary lines count (not the per-TZ child runs a test logs).
sum() {
  { grep -E "^[[:space:]]*[0-9]+ $1[[:space:]]*$" "$out" || true; } |
    awk '{ n += $1 } END { print n + 0 }'
}
passed=$(sum 'tests? passed')
failed=$(sum 'tests? failed')
skipped=$(sum 'tests? skipped')
known=$(sum 'known failures?')
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}; known=${known:-0}
if [[ "$status" -ne 0 && "$failed" -eq 0 ]]; then failed=1; fi
echo "ava: $passed passed, $failed failed, $skipped skipped"
[[ "$known" -eq 0 ]] || echo "($known known failure(s) marked test.failing: see the issue notes)"
exit "$status"
