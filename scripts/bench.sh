#!/usr/bin/env bash
# Benchmarks of onedoor: every bench/*.ts that exports run(argv), in turn (bench/run.ts).
#   scripts/bench.sh [--cases N] [--concurrency C] [--only NAME[,NAME]]   (npm run bench -- ...)
# Makes sure the tools and node_modules are in place and PostgreSQL runs; each bench starts what
# else it needs (the case bench: a dev server of its own on 7260 and a fresh database).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO/scripts/ensure-all.sh"
"$REPO/scripts/postgres.sh" start
cd "$REPO"
# The hall's logger reads its level once, at import: benches want warnings only.
export LOG_LEVEL="${LOG_LEVEL:-warn}"
exec npx tsx bench/run.ts "$@"
