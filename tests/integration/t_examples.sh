#!/usr/bin/env bash
# examples/: each example's run.sh runs with the built binary, starting its
# own servers (a throwaway PostgreSQL cluster, nats-server), and exits 0
# showing its result; it leaves no scratch folder or server behind:
#   files                 two csv drops, the newest version of each order
#   postgres-incremental  an incremental copy, then an update and an insert
#   cdc                   a copy, then an update and a delete from the WAL
#   http-events           events POSTed to the collector, each loaded once
#   jetstream             events through a JetStream stream
. "$(dirname "$0")/lib.sh"
export SLUICE_BIN
before=$(find /tmp -maxdepth 1 -name 'sluice-example*' | sort)
run_example() {  # NAME WANTED-LINE
  local t0=$SECONDS
  set +e
  timeout 60 bash "$SL_SRCDIR/examples/$1/run.sh" >"$T_DIR/$1.out" 2>"$T_DIR/$1.err"
  local rc=$?
  set -e
  check "example $1: exit 0" 0 "$rc"
  [ "$rc" = 0 ] || tail -n 20 "$T_DIR/$1.err" | sed 's/^/#   /'
  check_contains "example $1: shows its result" "$2" "$(cat "$T_DIR/$1.out")"
  echo "# example $1: $((SECONDS - t0)) s"
}
run_example files "files: 3 orders loaded"
run_example postgres-incremental "postgres-incremental: 101 accounts copied"
check_contains "postgres-incremental: the update came over" "7    renamed" "$(cat "$T_DIR/postgres-incremental.out")"
check_contains "postgres-incremental: reconcile in sync" "accounts: in sync (101 rows" "$(cat "$T_DIR/postgres-incremental.out")"
run_example cdc "cdc: 49 items, item 1 qty 999"
check_contains "cdc: the slot dropped at the end" "dropped replication slot sluice_shop" "$(cat "$T_DIR/cdc.out")"
run_example http-events "http-events: 3 events loaded"
run_example jetstream "jetstream: 3 events loaded"
check "the examples leave no scratch folder behind" "$before" \
  "$(find /tmp -maxdepth 1 -name 'sluice-example*' | sort)"
finish
