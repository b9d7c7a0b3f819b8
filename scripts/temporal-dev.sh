#!/usr/bin/env bash
# Local Temporal dev server (temporal server start-dev, SQLite-backed) in the background.
#   scripts/temporal-dev.sh start|stop|status [--port P] [--ui-port U] [--db FILE] [--name NAME]
# Defaults: --port $TEMPORAL_PORT (7233), --ui-port $TEMPORAL_UI_PORT (8233), --name hall,
# --db $DATA_DIR/temporal/NAME.db (kept across restarts, so workflows survive them).
# Files: $DATA_DIR/temporal-NAME.pid, .log, .addr. Binds 127.0.0.1 only.
# Registers the search attributes CaseNumber, ItemCode, Department, CaseStatus (Keyword)
# and DueAt (Datetime), as workflows/searchAttributes.ts declares them (a case carries its
# lead department; each department task of a joint case is a child workflow with its own).
# start-dev keeps the types already in an existing db: `start` checks them and fails if
# they differ (delete that db to re-register, losing its workflows).
# `start` waits (60 s at most) until the cluster health check is SERVING; it is silent
# when the server is already running. With TEMPORAL_ADDRESS set, `start` does nothing.
# `status` prints one line on stdout; exit 0 running, 3 stopped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEMPORAL="$TOOLS_DIR/temporal"
SEARCH_ATTRIBUTES=(
  CaseNumber=Keyword
  ItemCode=Keyword
  Department=Keyword
  CaseStatus=Keyword
  DueAt=Datetime
)
START_TIMEOUT=60

usage() {
  echo "usage: ${0##*/} start|stop|status [--port P] [--ui-port U] [--db FILE] [--name NAME]" >&2
  exit 2
}

(($# >= 1)) || usage
cmd="$1"
shift
port="" ui_port="" db="" name="hall"
while (($#)); do
  case "$1" in
    --port) port="${2:?--port needs a value}"; shift 2 ;;
    --port=*) port="${1#*=}"; shift ;;
    --ui-port) ui_port="${2:?--ui-port needs a value}"; shift 2 ;;
    --ui-port=*) ui_port="${1#*=}"; shift ;;
    --db) db="${2:?--db needs a value}"; shift 2 ;;
    --db=*) db="${1#*=}"; shift ;;
    --name) name="${2:?--name needs a value}"; shift 2 ;;
    --name=*) name="${1#*=}"; shift ;;
    *) usage ;;
  esac
done
[[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "--name must be letters, digits, '.', '_' or '-'"
port_given="$port"
port="${port:-$TEMPORAL_PORT}"
ui_port="${ui_port:-$TEMPORAL_UI_PORT}"
db="${db:-$DATA_DIR/temporal/$name.db}"
[[ "$db" == /* ]] || db="$PWD/$db"
[[ "$port" =~ ^[0-9]+$ && "$ui_port" =~ ^[0-9]+$ ]] || die "ports must be numbers"

PID_FILE="$DATA_DIR/temporal-$name.pid"
LOG_FILE="$DATA_DIR/temporal-$name.log"
ADDR_FILE="$DATA_DIR/temporal-$name.addr"

# PID of our running server, if any (checks the process really is a start-dev).
server_pid() {
  local pid cmdline
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"server start-dev"* ]] || return 1
  printf '%s\n' "$pid"
}

recorded_addr() { cat "$ADDR_FILE" 2>/dev/null || echo "127.0.0.1:$port"; }

healthy() {
  local out
  out="$("$TEMPORAL" operator cluster health --address "$1" --command-timeout 2s 2>/dev/null)" ||
    return 1
  [[ "$out" == *SERVING* && "$out" != *NOT_SERVING* ]]
}

cmd_start() {
  if [[ -n "${TEMPORAL_ADDRESS:-}" ]]; then
    log "TEMPORAL_ADDRESS is set ($TEMPORAL_ADDRESS): not starting a local Temporal dev server"
    return 0
  fi
  local pid addr
  if pid="$(server_pid)"; then
    addr="$(recorded_addr)"
    if [[ -n "$port_given" && "$addr" != "127.0.0.1:$port" ]]; then
      die "'$name' is already running at $addr (pid $pid); stop it first to use port $port"
    fi
    healthy "$addr" && return 0
    log "'$name' is running (pid $pid) but not healthy yet; waiting..."
    wait_healthy "$pid" "$addr"
    return 0
  fi
  "$REPO/scripts/ensure-temporal.sh"
  mkdir -p "$DATA_DIR" "$(dirname "$db")"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use (another Temporal server?); pick one with --port"
  fi
  local sa_args=() sa
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do sa_args+=(--search-attribute "$sa"); done
  log "starting Temporal dev server '$name' on 127.0.0.1:$port" \
    "(UI http://127.0.0.1:$ui_port, db $db)"
  printf '=== %s: start-dev --port %s --ui-port %s --db-filename %s\n' \
    "$(date -u +%FT%TZ)" "$port" "$ui_port" "$db" >>"$LOG_FILE"
  # setsid: own session, so a Ctrl-C in the calling terminal does not stop the server.
  setsid nohup "$TEMPORAL" server start-dev \
    --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" --db-filename "$db" \
    --log-level warn "${sa_args[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  printf '127.0.0.1:%s\n' "$port" >"$ADDR_FILE"
  wait_healthy "$pid" "127.0.0.1:$port"
  check_search_attributes "$pid" "127.0.0.1:$port"
  log "Temporal dev server '$name' is SERVING at 127.0.0.1:$port"
}

# Fails (stopping the server) when the db holds a search attribute with another type.
check_search_attributes() {
  local pid="$1" addr="$2" json sa key type want bad=()
  json="$("$TEMPORAL" operator search-attribute list --address "$addr" -o json 2>&1)" ||
    die "could not list search attributes at $addr: $json"
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    key="${sa%%=*}" type="${sa#*=}"
    want="$(sed -E 's/([a-z])([A-Z])/\1_\2/g' <<<"$type" | tr '[:lower:]' '[:upper:]')"
    want="INDEXED_VALUE_TYPE_$want"
    [[ "$json" == *"\"$key\": \"$want\""* ]] || bad+=("$key (want $type)")
  done
  if ((${#bad[@]})); then
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$PID_FILE" "$ADDR_FILE"
    die "$db has search attributes of other types: ${bad[*]};" \
      "delete it (its workflows go with it) and start again"
  fi
}

wait_healthy() {
  local pid="$1" addr="$2" deadline=$((SECONDS + START_TIMEOUT))
  until healthy "$addr"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG_FILE" >&2
      rm -f "$PID_FILE" "$ADDR_FILE"
      die "the Temporal dev server exited (log: $LOG_FILE)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOG_FILE" >&2
      die "the Temporal dev server at $addr was not SERVING after $START_TIMEOUT s" \
        "(pid $pid still running; log: $LOG_FILE)"
    fi
    sleep 0.5
  done
}

cmd_stop() {
  local pid
  if ! pid="$(server_pid)"; then
    rm -f "$PID_FILE" "$ADDR_FILE"
    return 0
  fi
  log "stopping Temporal dev server '$name' (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after 15 s; killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$ADDR_FILE"
}

cmd_status() {
  local pid addr
  if pid="$(server_pid)"; then
    addr="$(recorded_addr)"
    if healthy "$addr"; then
      local precedence="${TEMPORAL_ADDRESS:+ (TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS takes precedence)}"
      echo "temporal '$name': running (pid $pid) at $addr, SERVING$precedence"
    else
      echo "temporal '$name': running (pid $pid) at $addr, not SERVING"
    fi
    return 0
  fi
  local instead="${TEMPORAL_ADDRESS:+; TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS is used instead}"
  echo "temporal '$name': stopped$instead"
  return 3
}

case "$cmd" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) usage ;;
esac
