#!/usr/bin/env bash
# Private PostgreSQL 15 cluster for onedoor development and tests.
#   scripts/postgres.sh start    init the cluster once, start it, create role+db onedoor
#   scripts/postgres.sh stop     stop it (fast shutdown)
#   scripts/postgres.sh status   one line on stdout; exit 0 running, 3 stopped
#   scripts/postgres.sh url      the connection URL (DATABASE_URL when that is set)
# Cluster: $DATA_DIR/pg, socket dir $DATA_DIR/pg-run, log $DATA_DIR/pg.log, listening
# on 127.0.0.1:$PG_PORT only. Run as root, the server runs as the OS user `postgres`
# (created when missing); run as another user, it runs as that user.
# If the postgres user cannot reach $DATA_DIR (a root-only parent folder the project
# does not own), the cluster lives in /var/lib/onedoor/<hash of DATA_DIR>/ instead.
# Auth: trust on the Unix socket, scram-sha-256 (password onedoor) on TCP.
# With DATABASE_URL set, `start` does nothing: that database is used instead.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN="/usr/lib/postgresql/15/bin"
DB_NAME="onedoor" DB_USER="onedoor" DB_PASSWORD="onedoor"
LOCAL_URL="postgres://$DB_USER:$DB_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"

usage() {
  echo "usage: ${0##*/} start|stop|status|url" >&2
  exit 2
}

if [[ "$(id -u)" == 0 ]]; then
  PG_OS_USER="postgres"
  as_pg() { runuser -u "$PG_OS_USER" -- "$@"; }
else
  PG_OS_USER="$(id -un)"
  as_pg() { "$@"; }
fi

# Where the cluster lives: $DATA_DIR, or the fallback when the server's user can't reach it.
FALLBACK_BASE="/var/lib/onedoor/$(short_hash "$DATA_DIR")"
pg_reaches() { as_pg test -x "$1" 2>/dev/null; }
choose_base() {
  if [[ -f "$DATA_DIR/pg/PG_VERSION" ]]; then
    PG_BASE="$DATA_DIR"
  elif [[ -f "$FALLBACK_BASE/pg/PG_VERSION" ]]; then
    PG_BASE="$FALLBACK_BASE"
  else
    PG_BASE="$DATA_DIR"
  fi
  PGDATA="$PG_BASE/pg"
  PG_LOG="$PG_BASE/pg.log"
  PG_RUN="$PG_BASE/pg-run"
  # Unix socket paths are limited to 107 bytes.
  if ((${#PG_RUN} + 20 > 107)); then
    PG_RUN="/tmp/onedoor-pg-$(short_hash "$PGDATA")"
  fi
}
choose_base

pg_running() {
  [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

psql_admin() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres \
    -d postgres "$@"
}

ensure_os_user() {
  [[ "$(id -u)" == 0 ]] || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  log "creating the system user postgres"
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
    --shell /usr/sbin/nologin postgres
}

# Make $DATA_DIR reachable by the postgres user: o+x on the folders the project owns
# (repo root down to DATA_DIR, or DATA_DIR alone when it is outside the repo).
ensure_reachable() {
  [[ "$(id -u)" == 0 ]] || return 0
  [[ "$PG_BASE" == "$DATA_DIR" ]] || return 0 # the cluster already lives in the fallback
  mkdir -p "$DATA_DIR"
  pg_reaches "$DATA_DIR" && return 0
  local dirs=("$DATA_DIR") d="$DATA_DIR"
  if [[ "$DATA_DIR/" == "$REPO/"* ]]; then
    while [[ "$d" != "$REPO" ]]; do
      d="$(dirname "$d")"
      dirs+=("$d")
    done
  fi
  # Opening our folders is pointless when a folder above them is closed to postgres.
  pg_reaches "$(dirname "$d")" || dirs=()
  for d in "${dirs[@]}"; do
    if ! (( 8#$(stat -c '%a' "$d") & 1 )); then
      log "chmod o+x $d (so the postgres user can reach the cluster)"
      chmod o+x "$d"
    fi
  done
  pg_reaches "$DATA_DIR" && return 0
  PG_BASE="$FALLBACK_BASE"
  PGDATA="$PG_BASE/pg" PG_LOG="$PG_BASE/pg.log" PG_RUN="$PG_BASE/pg-run"
  log "the postgres user cannot reach $DATA_DIR (a parent folder is closed); using $PG_BASE instead"
  mkdir -p "$PG_BASE"
  chmod 755 /var/lib/onedoor "$PG_BASE"
}

init_cluster() {
  [[ -f "$PGDATA/PG_VERSION" ]] && return 0
  log "initializing a PostgreSQL 15 cluster in $PGDATA"
  mkdir -p "$PGDATA"
  chown "$PG_OS_USER": "$PGDATA"
  chmod 700 "$PGDATA"
  local out
  if ! out="$(as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "initdb failed"
  fi
  # Settings that may change between starts live in onedoor.conf, rewritten by `start`.
  printf '\n# onedoor: %s\n%s\n' \
    'port, addresses and socket dir, rewritten by scripts/postgres.sh start' \
    "include_if_exists = 'onedoor.conf'" |
    as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
}

write_conf() {
  local conf
  conf="# written by scripts/postgres.sh start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
# dev/test cluster: a crash may lose the last transactions, never corrupts
synchronous_commit = off
# the test suite runs several halls at once, each with its pools
max_connections = 300
"
  if [[ "$(cat "$PGDATA/onedoor.conf" 2>/dev/null)"$'\n' != "$conf" ]]; then
    printf '%s' "$conf" | as_pg tee "$PGDATA/onedoor.conf" >/dev/null
  fi
}

ensure_role_and_db() {
  local has
  has="$(psql_admin -tA -c "SELECT count(*) FROM pg_roles WHERE rolname = '$DB_USER'")"
  if [[ "$has" != 1 ]]; then
    log "creating role $DB_USER"
    psql_admin -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  fi
  has="$(psql_admin -tA -c "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")"
  if [[ "$has" != 1 ]]; then
    log "creating database $DB_NAME"
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING 'UTF8'"
  fi
}

cmd_start() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    log "DATABASE_URL is set: not starting the local PostgreSQL"
    return 0
  fi
  [[ -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL 15 is not installed (run scripts/ensure-system.sh)"
  if pg_running; then
    local running_port
    running_port="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$running_port" && "$running_port" != "$PG_PORT" ]]; then
      die "PostgreSQL ($PGDATA) is already running on port $running_port, not $PG_PORT;" \
        "stop it first"
    fi
    ensure_role_and_db
    return 0
  fi
  ensure_os_user
  ensure_reachable
  init_cluster
  write_conf
  mkdir -p "$PG_RUN"
  chown "$PG_OS_USER": "$PG_RUN"
  chmod 755 "$PG_RUN"
  [[ -f "$PG_LOG" ]] || install -m 640 -o "$PG_OS_USER" /dev/null "$PG_LOG"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t 60 -s >/dev/null 2>&1; then
    tail -n 20 "$PG_LOG" >&2
    die "PostgreSQL did not start (is port $PG_PORT in use?)"
  fi
  ensure_role_and_db
}

cmd_stop() {
  pg_running || return 0
  log "stopping PostgreSQL ($PGDATA)"
  as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 -s
}

cmd_status() {
  if pg_running; then
    local pid port precedence
    pid="$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || true)"
    port="$(sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || echo "$PG_PORT")"
    precedence="${DATABASE_URL:+ (DATABASE_URL is set and takes precedence)}"
    echo "postgres: running (pid $pid) on 127.0.0.1:$port, data $PGDATA$precedence"
    return 0
  fi
  echo "postgres: stopped (data $PGDATA)${DATABASE_URL:+; DATABASE_URL is set and is used instead}"
  return 3
}

cmd_url() {
  printf '%s\n' "${DATABASE_URL:-$LOCAL_URL}"
}

(($# == 1)) || usage
case "$1" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  *) usage ;;
esac
