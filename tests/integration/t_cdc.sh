#!/usr/bin/env bash
# Change data capture (kind cdc) from the shared PostgreSQL 15 cluster
# (wal_level=logical) into both warehouses: PostgreSQL with hard deletes,
# SQLite with soft deletes, each pipeline on its own slot.
#   first_copy        a table with rows is copied in the slot's snapshot;
#                     sluice made the publication and the slot
#   changes           inserts, updates, an update of an unchanged TOASTed
#                     value, a primary key that moves, deletes, one
#                     transaction inserting and updating a row, TRUNCATE:
#                     reconcile finds no drift on either warehouse
#   pgbench_kills     pgbench TPC-B (4 clients) plus a script deleting rows
#                     and moving primary keys, while `sluice run` is
#                     SIGKILLed again and again: afterwards no drift, and the
#                     accounts changes applied equal pgbench's transactions
#                     exactly (none lost, none applied twice)
#   long_txn          a transaction opened first and committed last: its rows
#                     arrive, in commit order
#   held              a gate holds a batch: the stream of its slot waits
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cdc_lib.sh"
cdc_dbs
SLOT_PG="sl_cdc_pg_$$"; SLOT_LITE="sl_cdc_lite_$$"; PUB="sl_cdc_$$"
CDC_SLOTS="'$SLOT_PG', '$SLOT_LITE', '${SLOT_PG}_g'"
BG=""
cdc_on_exit() { local p; for p in $BG; do kill "$p" 2>/dev/null || true; done; }
W="$T_DIR/w"; mkdir -p "$W"

cat >"$W/cdc.yaml" <<YAML
connections:
  src: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
  lite: { url: "sqlite:///$W/wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: src, cdc: { slot: $SLOT_PG, publication: $PUB } }
    destination: wh
    tables:
      - { name: items, kind: cdc, primary_key: [id], deletes: hard }
      - { name: pgbench_accounts, kind: cdc, primary_key: [aid] }
      - { name: pgbench_branches, kind: cdc, primary_key: [bid] }
      - { name: pgbench_tellers, kind: cdc, primary_key: [tid] }
  - name: gated
    source: { kind: postgres, connection: src, cdc: { slot: ${SLOT_PG}_g, publication: ${PUB}_g } }
    destination: wh
    tables:
      - name: gated_t
        kind: cdc
        primary_key: [id]
        gates: { rules: [ { column: name, reject_match: "^test" } ] }
  - name: to_lite
    source: { kind: postgres, connection: src, cdc: { slot: $SLOT_LITE, publication: $PUB } }
    destination: lite
    tables:
      - { name: items, kind: cdc, primary_key: [id], deletes: soft }
      - { name: pgbench_accounts, kind: cdc, primary_key: [aid] }
      - { name: pgbench_branches, kind: cdc, primary_key: [bid] }
      - { name: pgbench_tellers, kind: cdc, primary_key: [tid] }
YAML

# no_drift NAME: reconcile says every table of both pipelines is in sync
no_drift() {
  sluice reconcile "$W/cdc.yaml" items pgbench_accounts pgbench_branches pgbench_tellers
  check "$1: reconcile exits 0" 0 "$RC"
  check "$1: all 8 tables of both pipelines in sync" 8 "$(grep -c ': in sync' <<<"$OUT" || true)"
  check "$1: no table drifts" "" "$(grep -v ': in sync' <<<"$OUT" || true)"
}
run_both() {
  for p in to_pg to_lite; do
    sluice run "$W/cdc.yaml" "$p"
    check "$1: $p: run exits 0" 0 "$RC"
    [ "$RC" -eq 0 ] || echo "$ERR" | tail -5
  done
}

# ---- first_copy ----
pgbench -q -i -s 1 -n "$SRC_DB" >/dev/null 2>&1
src "CREATE TABLE items (id int PRIMARY KEY, name text, n numeric, at timestamp, ok bool, body text)"
src "INSERT INTO items SELECT g, 'item ' || g, g / 3.0, '2026-03-29 01:30:00', g % 2 = 0,
     CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g || '.' || k), '') FROM generate_series(1, 300) k) END
     FROM generate_series(1, 2000) g"   # 9,600 bytes that do not compress: TOASTed out of line
run_both first_copy
check "first_copy: the publication was made" 1 "$(src "SELECT count(*) FROM pg_publication WHERE pubname = '$PUB'")"
check "first_copy: both slots exist" 2 "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name IN ('$SLOT_PG', '$SLOT_LITE')")"
check "first_copy: PostgreSQL holds the rows" 2000 "$(dst "SELECT count(*) FROM items")"
check "first_copy: SQLite holds the rows" 2000 "$(lite "$W/wh.db" "SELECT count(*) FROM items")"
check "first_copy: accounts copied" 100000 "$(dst "SELECT count(*) FROM pgbench_accounts")"
no_drift first_copy

# ---- changes ----
src "INSERT INTO items VALUES (5001, 'new', 1.5, '2026-01-01 00:00:00', true, 'short')"
src "UPDATE items SET name = 'renamed' WHERE id BETWEEN 1 AND 50"   # body (TOASTed) unchanged
src "UPDATE items SET id = 9010 WHERE id = 10"                       # the key moves
src "DELETE FROM items WHERE id BETWEEN 100 AND 149"
src "BEGIN; INSERT INTO items VALUES (6000, 'a', 1, NULL, NULL, (SELECT string_agg(md5(k::text), '') FROM generate_series(1, 290) k));
     UPDATE items SET name = 'b' WHERE id = 6000; COMMIT"
src "UPDATE items SET name = 'again' WHERE id = 6000"                # body from the batch before
run_both changes
check "changes: an unchanged TOASTed value keeps its value (PostgreSQL)" \
  "$(src "SELECT md5(body) FROM items WHERE id = 20")" "$(dst "SELECT md5(body) FROM items WHERE id = 20")"
check "changes: a moved key carries its row" "renamed|$(src "SELECT length(body) FROM items WHERE id = 9010")" \
  "$(dst "SELECT name || '|' || length(body) FROM items WHERE id = 9010")"
check "changes: the old key is gone (hard)" 0 "$(dst "SELECT count(*) FROM items WHERE id = 10 OR id BETWEEN 100 AND 149")"
check "changes: soft deletes keep the row, stamped" 51 \
  "$(lite "$W/wh.db" "SELECT count(*) FROM items WHERE _sluice_deleted_at IS NOT NULL")"
check "changes: a row updated later keeps a value stored by an earlier batch" 9280 \
  "$(lite "$W/wh.db" "SELECT length(body) FROM items WHERE id = 6000")"
no_drift changes
src "TRUNCATE items"
src "INSERT INTO items VALUES (1, 'after truncate', 1, NULL, NULL, NULL)"
run_both truncate
check "truncate: PostgreSQL holds only the row after it" "1|after truncate" "$(dst "SELECT id || '|' || name FROM items")"
check "truncate: SQLite too" "1|after truncate" "$(lite "$W/wh.db" "SELECT id || '|' || name FROM items")"
no_drift truncate

# ---- pgbench_kills ----
src "INSERT INTO items SELECT g, 'k' || g, g, NULL, NULL, NULL FROM generate_series(2, 3000) g"
run_both before_kills
base=$(dst "SELECT coalesce(sum(rows_in), 0) FROM _sluice.batches WHERE table_name = 'pgbench_accounts'
            AND state = 'committed' AND source_ref LIKE 'cdc:%'")
cat >"$W/churn.sql" <<'SQL'
\set id random(2, 3000)
DELETE FROM items WHERE id = :id;
INSERT INTO items VALUES (:id, 'back', 1, now()::timestamp, true, NULL) ON CONFLICT (id) DO UPDATE SET name = 'touched';
UPDATE items SET id = id + 100000 WHERE id = :id + 1;
UPDATE items SET id = id - 100000 WHERE id = :id + 100001;
SQL
pgbench -n -c 4 -T 20 "$SRC_DB" >"$W/pgbench.out" 2>&1 &
BG="$!"; PGB=$!
pgbench -n -c 1 -T 20 -f "$W/churn.sql" "$SRC_DB" >"$W/churn.out" 2>&1 &
BG="$BG $!"; CHURN=$!
kills=0
while kill -0 "$PGB" 2>/dev/null; do
  for p in to_pg to_lite; do
    timeout -s KILL "0.$((RANDOM % 9 + 1))" "$SLUICE_BIN" run "$W/cdc.yaml" "$p" >/dev/null 2>&1 || kills=$((kills + 1))
  done
done
wait "$PGB" "$CHURN" || true
BG=""
end_lsn=$(src "SELECT pg_current_wal_lsn()")
tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/pgbench.out")
echo "# pgbench transactions: $tx; sluice runs killed: $kills"
[ "$kills" -ge 5 ] && ok "pgbench_kills: runs were killed mid-stream ($kills)" || not_ok "pgbench_kills: too few kills ($kills)"
run_both after_kills
run_both after_kills_again
no_drift pgbench_kills
applied=$(dst "SELECT coalesce(sum(rows_in), 0) FROM _sluice.batches WHERE table_name = 'pgbench_accounts'
               AND state = 'committed' AND source_ref LIKE 'cdc:%'")
check "pgbench_kills: accounts changes applied = pgbench transactions (none lost, none twice)" \
  "$tx" "$((applied - base))"
check "pgbench_kills: the slot confirmed everything written before the final runs" "true true" \
  "$(src "SELECT string_agg((confirmed_flush_lsn >= '$end_lsn')::text, ' ') FROM pg_replication_slots
          WHERE slot_name IN ('$SLOT_PG', '$SLOT_LITE')")"

# ---- long_txn ----
coproc LONG { psql -qXAt -d "$SRC_DB"; }
echo "BEGIN; INSERT INTO items VALUES (700001, 'opened first', 1, NULL, NULL, NULL); SELECT 'ready';" >&"${LONG[1]}"
read -r _ <&"${LONG[0]}"
src "INSERT INTO items VALUES (700002, 'committed first', 1, NULL, NULL, NULL)"
run_both long_txn_open
check "long_txn: a later commit is in while the long one is open" "1|0" \
  "$(dst "SELECT count(*) FILTER (WHERE id = 700002) || '|' || count(*) FILTER (WHERE id = 700001) FROM items")"
echo "COMMIT; SELECT 'done';" >&"${LONG[1]}"
read -r _ <&"${LONG[0]}"
run_both long_txn_committed
check "long_txn: the long transaction's row arrives once it commits" 1 "$(dst "SELECT count(*) FROM items WHERE id = 700001")"
check "long_txn: in commit order (its batch after the other's)" t \
  "$(dst "SELECT (SELECT _sluice_batch FROM items WHERE id = 700001) > (SELECT _sluice_batch FROM items WHERE id = 700002)")"
no_drift long_txn

# ---- held ----
src "CREATE TABLE gated_t (id int PRIMARY KEY, name text)"
src "INSERT INTO gated_t SELECT g, 'row ' || g FROM generate_series(1, 10) g"
sluice run "$W/cdc.yaml" gated
check "held: the first copy loads" "0 10" "$RC $(dst "SELECT count(*) FROM gated_t")"
src "INSERT INTO gated_t VALUES (11, 'test account')"
sluice run "$W/cdc.yaml" gated
check "held: a batch breaking a rule is held (exit 3)" 3 "$RC"
check "held: nothing of it is visible" 0 "$(dst "SELECT count(*) FROM gated_t WHERE id = 11")"
src "INSERT INTO gated_t VALUES (12, 'later')"
sluice run "$W/cdc.yaml" gated
check "held: later changes wait behind it" "3 0" "$RC $(dst "SELECT count(*) FROM gated_t WHERE id = 12")"
held=$(dst "SELECT id FROM _sluice.batches WHERE table_name = 'gated_t' AND state = 'quarantined'")
sluice approve "$W/cdc.yaml" "$held"
check "held: approve loads the held range" "0 1" "$RC $(dst "SELECT count(*) FROM gated_t WHERE id = 11")"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
sluice run "$W/cdc.yaml" gated
check "held: the stream goes on after it, in order" "0 12" "$RC $(dst "SELECT count(*) FROM gated_t")"
sluice reconcile "$W/cdc.yaml" gated_t
check "held: in sync afterwards" 0 "$RC"

finish
