# examples/lib.sh: what the examples' run.sh share (sourced). Each example
# runs in a scratch folder removed at exit, with the servers it starts
# stopped then too.
#   SLUICE_BIN  the sluice binary (default: build/sluice of this tree, then PATH)
set -euo pipefail
EX_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${SLUICE_BIN:-}" ]; then
  if [ -x "$EX_SRC/../build/sluice" ]; then SLUICE_BIN="$EX_SRC/../build/sluice"; else SLUICE_BIN=sluice; fi
fi
EX_DIR=$(mktemp -d /tmp/sluice-example.XXXXXX)
EX_PIDS=()
EX_PG=""
ex_cleanup() {
  local rc=$? p f
  if [ "$rc" -ne 0 ]; then
    for f in "$EX_DIR"/*.log; do
      [ -f "$f" ] && { echo "example failed (exit $rc); the end of $(basename "$f"):" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  for p in "${EX_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$EX_PG" ]; then
    ex_as_owner "$EX_PGBIN/pg_ctl" -D "$EX_PG/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$EX_PG"
  fi
  rm -rf "$EX_DIR"
}
trap ex_cleanup EXIT
cd "$EX_DIR"

sluice() { "$SLUICE_BIN" "$@"; }
ex_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# initdb refuses root: as root the cluster belongs to an unprivileged user
EX_PGUSER_OS=${EX_PGUSER_OS:-sluicetest}
ex_as_owner() { (cd / && if [ "$(id -u)" -eq 0 ]; then runuser -u "$EX_PGUSER_OS" -- "$@"; else "$@"; fi); }

# ex_pg_start: a throwaway PostgreSQL cluster (wal_level=logical) on a free
# loopback port; sets PGHOST, PGPORT, PGUSER, PGDATABASE and PG_URL
ex_pg_start() {
  EX_PGBIN=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$EX_PGBIN/initdb" ] || EX_PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ "$(id -u)" -eq 0 ] && ! id "$EX_PGUSER_OS" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$EX_PGUSER_OS"
  fi
  EX_PG=$(mktemp -d /tmp/sluice-example-pg.XXXXXX)
  chmod 755 "$EX_PG"
  [ "$(id -u)" -eq 0 ] && chown "$EX_PGUSER_OS" "$EX_PG"
  local port; port=$(ex_port)
  ex_as_owner "$EX_PGBIN/initdb" -D "$EX_PG/data" -U postgres -A trust -E UTF8 --no-sync \
    --locale=C >"$EX_DIR/initdb.log" 2>&1
  ex_as_owner mkdir -p "$EX_PG/sock"
  cat >>"$EX_PG/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$EX_PG/sock'
fsync = off
wal_level = logical
max_replication_slots = 4
max_wal_senders = 4
CONF
  ex_as_owner "$EX_PGBIN/pg_ctl" -D "$EX_PG/data" -l "$EX_PG/server.log" -w -t 60 start >/dev/null
  export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres
  PG_URL="postgresql://postgres@127.0.0.1:$port"
}
ex_psql() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }

# ex_wait_for FILE TEXT [SECONDS]: until FILE holds TEXT
ex_wait_for() {
  local i
  for i in $(seq $((${3:-15} * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "example: \"$2\" not seen in $1 after ${3:-15} s" >&2
  tail -n 20 "$1" >&2
  return 1
}
