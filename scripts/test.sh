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
  trap '"$REPO/scripts/temporal-dev.sh" stop --name test >/dev/null 2>&1 || true; rm -f "$test_db"*' EXIT
  TEST_TEMPORAL_ADDRESS="127.0.0.1:$TEST_TEMPORAL_PORT"
fi
export TEST_TEMPORAL_ADDRESS

log "format (prettier), lint (eslint), types (tsc)..."
npx prettier --check . >&2
npx eslint . >&2
npx tsc --noEmit -p . >&2

log "tests (ava)..."
out="$DATA_DIR/ava-last.log"
set +e
npx ava "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# One plain closing line, whatever ava's own wording: "N passed, N failed".
passed=$(grep -Eo '([0-9]+) tests? passed' "$out" | tail -1 | grep -Eo '^[0-9]+' || echo 0)
failed=$(grep -Eo '([0-9]+) tests? failed' "$out" | tail -1 | grep -Eo '^[0-9]+' || echo 0)
skipped=$(grep -Eo '([0-9]+) tests? skipped' "$out" | tail -1 | grep -Eo '^[0-9]+' || echo 0)
known=$(grep -Eo '([0-9]+) known failures?' "$out" | tail -1 | grep -Eo '^[0-9]+' || echo 0)
if [[ "$status" -ne 0 && "$failed" -eq 0 ]]; then failed=1; fi
echo "ava: $passed passed, $failed failed, $skipped skipped"
[[ "$known" -eq 0 ]] || echo "($known known failure(s) marked test.failing: see the issue notes)"
exit "$status"
