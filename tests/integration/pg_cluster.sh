#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 cluster for the integration tests.
#   pg_cluster.sh start STATE_DIR   initdb + start on a free loopback port,
#                                   write STATE_DIR/env.sh (PGHOST, PGPORT, ...)
#   pg_cluster.sh restart STATE_DIR restart it (after ALTER SYSTEM)
#   pg_cluster.sh stop STATE_DIR    stop it and remove its files
# A test's own second cluster may differ from the shared one:
#   SL_PG_EXTRA_CONF  lines appended to postgresql.conf (the later setting wins)
#   SL_PG_HBA         the whole of pg_hba.conf
# initdb refuses to run as root, so as root the cluster belongs to an
# unprivileged user (sluicetest) and lives in a temp dir that user owns.
set -euo pipefail
cmd=$1
state=$2
bindir=$(pg_config --bindir 2>/dev/null || true)
[ -x "$bindir/initdb" ] || bindir=/usr/lib/postgresql/15/bin
PGUSER_OS=sluicetest

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PGUSER_OS" -- "$@"
  else
    "$@"
  fi
}

free_port() { python3 "$(dirname "$0")/free_port.py"; }

case "$cmd" in
start)
  mkdir -p "$state"
  if [ -f "$state/env.sh" ]; then
    # a previous run's cluster: stop it first
    bash "$0" stop "$state" || true
    mkdir -p "$state"
  fi
  if [ "$(id -u)" -eq 0 ] && ! id "$PGUSER_OS" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
  fi
  dir=$(mktemp -d /tmp/sluice-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$dir"
  port=$(free_port)
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync \
    --locale=C >"$state/initdb.log" 2>&1
  as_owner mkdir -p "$dir/sock"
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
fsync = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
CONF
  if [ -n "${SL_PG_EXTRA_CONF:-}" ]; then
    printf '%s\n' "$SL_PG_EXTRA_CONF" >>"$dir/data/postgresql.conf"
  fi
  if [ -n "${SL_PG_HBA:-}" ]; then
    printf '%s\n' "$SL_PG_HBA" >"$dir/data/pg_hba.conf"
  fi
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
  cat >"$state/env.sh" <<ENV
export SL_PGDIR=$dir
export SL_PGBIN=$bindir
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export PGDATABASE=postgres
export SL_PG_URL=postgresql://postgres@127.0.0.1:$port
export SL_PG_OWNER=$PGUSER_OS
ENV
  echo "postgres started on 127.0.0.1:$port ($dir)"
  ;;
restart)
  # shellcheck disable=SC1091
  . "$state/env.sh"
  as_owner "$bindir/pg_ctl" -D "$SL_PGDIR/data" -l "$SL_PGDIR/server.log" -w -t 60 restart >/dev/null
  ;;
stop)
  [ -f "$state/env.sh" ] || exit 0
  # shellcheck disable=SC1091
  . "$state/env.sh"
  as_owner "$bindir/pg_ctl" -D "$SL_PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$SL_PGDIR" "$state/env.sh"
  echo "postgres stopped"
  ;;
*)
  echo "usage: $0 start|restart|stop STATE_DIR" >&2
  exit 2
  ;;
esac
