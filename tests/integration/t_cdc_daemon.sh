#!/usr/bin/env bash
# Change data capture under `sluice daemon`, from a source cluster of this
# test's own (so it can be restarted without disturbing the other tests)
# into both warehouses, one daemon streaming both pipelines:
#   kills     pgbench TPC-B (4 clients, SL_CDC_SECONDS, default 60 s) plus a
#             script deleting rows and moving primary keys, while the daemon
#             is SIGKILLed SL_CDC_KILLS times (default 20) at random points
#             and started again
#   restarts  the source restarted under the stream, once with -m fast and
#             once with -m immediate (crash recovery: the slot may go back
#             to an older position and send changes the warehouse has)
# Afterwards reconcile finds no drift on any table of either warehouse, and
# the accounts changes each warehouse applied equal the transactions the
# source committed (its pgbench_history rows) exactly: none lost, none twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault_lib.sh"
SECS=${SL_CDC_SECONDS:-60}
KILLS=${SL_CDC_KILLS:-20}
new_db
DST_DB=$T_DB
priv_pg_start
p2 postgres "CREATE DATABASE src" >/dev/null
SRC_URL="postgresql://postgres@127.0.0.1:$P2PORT/src"
src() { p2 src "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
export PGTZ=UTC
W="$T_DIR/w"; mkdir -p "$W"
DPID=""
LOADERS=""
stop_all() {
  for p in $LOADERS $DPID; do kill -9 "$p" 2>/dev/null || true; done
  fault_cleanup
}
trap stop_all EXIT

TABLES='
      - { name: items, kind: cdc, primary_key: [id], deletes: hard }
      - { name: pgbench_accounts, kind: cdc, primary_key: [aid] }
      - { name: pgbench_branches, kind: cdc, primary_key: [bid] }
      - { name: pgbench_tellers, kind: cdc, primary_key: [tid] }
      - { name: pgbench_history, kind: cdc, primary_key: [hid] }'
cat >"$W/cdc.yaml" <<YAML
connections:
  src: { url: "$SRC_URL" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
  lite: { url: "sqlite:///$W/wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: src, cdc: { slot: to_pg, publication: sl_pub } }
    destination: wh
    tables:$TABLES
  - name: to_lite
    source: { kind: postgres, connection: src, cdc: { slot: to_lite, publication: sl_pub } }
    destination: lite
    tables:$TABLES
YAML

PGB="pgbench -h 127.0.0.1 -p $P2PORT -U postgres"
$PGB -q -i -s 1 -n src >/dev/null 2>&1
# each TPC-B transaction inserts one history row: their count is the truth
src "ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY"
src "CREATE TABLE items (id int PRIMARY KEY, name text, at timestamptz, body text)"
src "INSERT INTO items SELECT g, 'item ' || g, now(), CASE WHEN g % 50 = 0 THEN repeat(md5(g::text), 300) END
     FROM generate_series(1, 3000) g"
cat >"$W/churn.sql" <<'SQL'
\set id random(1, 3000)
DELETE FROM items WHERE id = :id;
INSERT INTO items VALUES (:id, 'back', now(), NULL) ON CONFLICT (id) DO UPDATE SET name = 'touched';
UPDATE items SET id = id + 100000 WHERE id = :id + 1;
UPDATE items SET id = id - 100000 WHERE id = :id + 100001;
UPDATE items SET name = name || '.' WHERE id = :id + 2;
SQL

start_daemon() {
  "$SLUICE_BIN" daemon "$W/cdc.yaml" --listen 127.0.0.1:0 >>"$T_DIR/daemon.out" 2>>"$T_DIR/daemon.log" &
  DPID=$!
}
# load SECONDS: pgbench and the churn script in the background
load() {
  $PGB -n -c 4 -T "$1" src >>"$W/pgbench.out" 2>&1 &
  LOADERS="$!"
  $PGB -n -c 1 -T "$1" -f "$W/churn.sql" src >>"$W/churn.out" 2>&1 &
  LOADERS="$LOADERS $!"
}
loading() { local p; for p in $LOADERS; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

start_daemon
# the first copies, before the load starts
for _ in $(seq 600); do
  [ "$(dst "SELECT count(*) FROM _sluice.batches WHERE state = 'committed'" 2>/dev/null || echo 0)" -ge 5 ] &&
    [ "$(lite "$W/wh.db" "SELECT count(*) FROM _sluice_batches WHERE state = 'committed'" 2>/dev/null || echo 0)" -ge 5 ] &&
    break
  sleep 0.2
done
check "first copies: both warehouses hold the accounts" "100000 100000" \
  "$(dst "SELECT count(*) FROM pgbench_accounts") $(lite "$W/wh.db" "SELECT count(*) FROM pgbench_accounts")"

# ---- kills ----
# the load lasts until the last kill (a busy machine may stretch the kills
# past SECS); the source's history rows, not pgbench's count, are the truth
load "$((SECS * 5))"
kills=0
t0=$SECONDS
while loading && [ "$kills" -lt "$KILLS" ]; do
  # spread the kills over the load
  sleep "$(awk -v s="$SECS" -v k="$KILLS" -v r="$RANDOM" 'BEGIN { printf "%.2f", (s / (k + 2)) * (0.3 + 1.4 * r / 32767) }')"
  kill -9 "$DPID" 2>/dev/null && kills=$((kills + 1))
  wait "$DPID" 2>/dev/null || true
  start_daemon
done
echo "# daemon SIGKILLed $kills times in $((SECONDS - t0)) s"
check "kills: the daemon was SIGKILLed under the stream" "$KILLS" "$kills"
for p in $LOADERS; do kill -INT "$p" 2>/dev/null || true; done
wait $LOADERS 2>/dev/null || true

# ---- restarts ----
for mode in fast immediate; do
  load 8
  sleep 3
  pg_ctl2 -m "$mode" -w restart >/dev/null
  ok "restarts: the source restarted (-m $mode) under the stream"
  wait $LOADERS 2>/dev/null || true
  load 3   # pgbench's clients die with the server: load some more after it
  wait $LOADERS 2>/dev/null || true
done
LOADERS=""

# the daemon catches up with what the source wrote, then stops cleanly
end_lsn=$(src "SELECT pg_current_wal_lsn()")
caught=""
for _ in $(seq 900); do
  caught=$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('to_pg', 'to_lite')
                AND confirmed_flush_lsn >= '$end_lsn'")
  [ "$caught" = 2 ] && break
  sleep 0.2
done
check "the daemon caught up: both slots confirmed the source's last write" 2 "$caught"
kill -TERM "$DPID"
rc=0; wait "$DPID" || rc=$?
DPID=""
check "SIGTERM: the daemon exits 0" 0 "$rc"
if grep -q 'ERROR' "$T_DIR/daemon.log"; then
  echo "# errors the daemon logged (retried):"; grep 'ERROR' "$T_DIR/daemon.log" | sort | uniq -c | sort -rn | head -5
fi

tx=$(src "SELECT count(*) FROM pgbench_history")
echo "# transactions the source committed: $tx"
[ "$tx" -gt 1000 ] && ok "the load committed transactions ($tx)" || not_ok "too few transactions ($tx)"
sluice reconcile "$W/cdc.yaml" items pgbench_accounts pgbench_branches pgbench_tellers pgbench_history
check "reconcile exits 0" 0 "$RC"
check "all 10 tables of both pipelines in sync" 10 "$(grep -c ': in sync' <<<"$OUT" || true)"
check "no table drifts" "" "$(grep -v ': in sync' <<<"$OUT" || true)"
for wh in pg lite; do
  q="SELECT coalesce(sum(rows_in), 0) FROM %s WHERE table_name = 'pgbench_accounts' AND state = 'committed' AND source_ref LIKE 'cdc:%%'"
  if [ "$wh" = pg ]; then
    # shellcheck disable=SC2059
    applied=$(dst "$(printf "$q" _sluice.batches)")
    hist=$(dst "SELECT count(*) FROM pgbench_history")
  else
    # shellcheck disable=SC2059
    applied=$(lite "$W/wh.db" "$(printf "$q" _sluice_batches)")
    hist=$(lite "$W/wh.db" "SELECT count(*) FROM pgbench_history")
  fi
  check "$wh: accounts changes applied = transactions committed (none lost, none twice)" "$tx" "$applied"
  check "$wh: every history row once" "$tx" "$hist"
done
finish
