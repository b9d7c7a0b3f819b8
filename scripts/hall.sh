#!/usr/bin/env bash
# The main job: the hall on embedded defaults with the shipped reference data.
#   npm run hall            plays the reference applications, then keeps the hall running
#   npm run hall -- --once  exits after the batch
# Starts the private PostgreSQL cluster (unless DATABASE_URL is set) and the Temporal dev server
# with its state in .data/temporal/hall.db (unless TEMPORAL_ADDRESS is set), then the hall.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

"$REPO/scripts/ensure-all.sh"
if [[ -z "${DATABASE_URL:-}" ]]; then
  "$REPO/scripts/postgres.sh" start
  DATABASE_URL="$("$REPO/scripts/postgres.sh" url)"
  export DATABASE_URL
fi
if [[ -z "${TEMPORAL_ADDRESS:-}" ]]; then
  "$REPO/scripts/temporal-dev.sh" start
  export TEMPORAL_ADDRESS="127.0.0.1:$TEMPORAL_PORT"
  export TEMPORAL_UI_URL="http://127.0.0.1:$TEMPORAL_UI_PORT"
fi
exec node "$REPO/bin/onedoor.js" hall "$@"
