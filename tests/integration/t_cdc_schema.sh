#!/usr/bin/env bash
# Change data capture: what else happens to a source table, on both
# warehouses (PostgreSQL with hard deletes and `schema: evolve`, SQLite with
# soft deletes), plus a pipeline whose schema gate quarantines:
#   ddl          columns added (with and without a default) and dropped
#                mid-stream, with changes before and after in one run:
#                evolve adds the column, reconcile finds no drift; the
#                quarantining pipeline holds the batch, approve goes on
#   rollback     a cdc batch of updates, hard deletes and a moved key rolled
#                back: the table is as it was before it, row for row; a
#                reconcile --repair then brings it level with the source
#   reject       a held batch rejected: the stream goes on past it, its
#                changes do not come again
#   added_later  a table added to a pipeline's config later is copied in a
#                snapshot of its own, added to the publication, then streamed
#   long_txn     a transaction opened first and committed last, read by cdc
#                and by an incremental pipeline with a 1 s boundary side by
#                side: cdc has its row, incremental passed it by for good
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cdc_lib.sh"
cdc_dbs
TAG="$$"
CDC_SLOTS="'sl_s_pg_$TAG', 'sl_s_lite_$TAG', 'sl_s_q_$TAG', 'sl_s_pg_${TAG}_l'"
W="$T_DIR/w"; mkdir -p "$W"

cat >"$W/cdc.yaml" <<YAML
connections:
  src: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
  lite: { url: "sqlite:///$W/wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: src, cdc: { slot: sl_s_pg_$TAG, publication: sl_s_$TAG } }
    destination: wh
    tables:
      - { name: t, kind: cdc, primary_key: [id], deletes: hard, gates: { schema: evolve } }
      - { name: r, kind: cdc, primary_key: [id], deletes: hard }
      - { name: g, kind: cdc, primary_key: [id], gates: { rules: [ { column: name, reject_match: "^test" } ] } }
  - name: to_lite
    source: { kind: postgres, connection: src, cdc: { slot: sl_s_lite_$TAG, publication: sl_s_$TAG } }
    destination: lite
    tables:
      - { name: t, kind: cdc, primary_key: [id], deletes: soft, gates: { schema: evolve } }
  - name: strict
    source: { kind: postgres, connection: src, cdc: { slot: sl_s_q_$TAG, publication: sl_s_q_$TAG } }
    destination: wh
    tables:
      - { name: tq, source_table: t, kind: cdc, primary_key: [id], deletes: hard, gates: { schema: quarantine } }
  - name: inc
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: t_inc, source_table: l, kind: incremental, mode: updater, primary_key: [id], cursor: [at, id], boundary: 1s }
  - name: l_cdc
    source: { kind: postgres, connection: src, cdc: { slot: sl_s_pg_${TAG}_l, publication: sl_s_${TAG}_l } }
    destination: wh
    tables:
      - { name: t_cdc, source_table: l, kind: cdc, primary_key: [id] }
YAML

run() {
  local p
  for p in "$@"; do
    sluice run "$W/cdc.yaml" "$p"
    [ "$RC" -eq 0 ] || { echo "# $p: exit $RC"; echo "$ERR" | tail -5; }
  done
}
in_sync() {  # NAME TABLE...: reconcile says each is in sync
  sluice reconcile "$W/cdc.yaml" "${@:2}"
  check "$1: reconcile exits 0" 0 "$RC"
  check "$1: no table drifts" "" "$(grep -v ': in sync' <<<"$OUT" || true)"
}

# ---- ddl ----
src "CREATE TABLE t (id int PRIMARY KEY, name text, n int)"
src "INSERT INTO t SELECT g, 'row ' || g, g FROM generate_series(1, 100) g"
src "CREATE TABLE r (id int PRIMARY KEY, name text, body text)"
src "INSERT INTO r SELECT g, 'r ' || g, CASE WHEN g % 10 = 0 THEN (SELECT string_agg(md5(g || '.' || k), '') FROM generate_series(1, 300) k) END
     FROM generate_series(1, 200) g"   # bodies TOASTed out of line
src "CREATE TABLE g (id int PRIMARY KEY, name text)"
src "INSERT INTO g SELECT g, 'g ' || g FROM generate_series(1, 10) g"
src "CREATE TABLE l (id int PRIMARY KEY, at timestamptz NOT NULL, what text)"
src "INSERT INTO l VALUES (1, now() - interval '1 hour', 'old')"
run to_pg to_lite strict
check "ddl: first copies" "100 100 100" \
  "$(dst "SELECT count(*) FROM t") $(lite "$W/wh.db" "SELECT count(*) FROM t") $(dst "SELECT count(*) FROM tq")"
src "UPDATE t SET name = 'before' WHERE id <= 10"
src "ALTER TABLE t ADD COLUMN note text"
src "UPDATE t SET note = 'noted ' || id WHERE id BETWEEN 5 AND 15"
src "INSERT INTO t VALUES (101, 'new', 101, 'with a note')"
src "ALTER TABLE t ADD COLUMN flag int DEFAULT 7"   # the rows there have 7 now, with no WAL for them
src "INSERT INTO t (id, name, n) VALUES (102, 'newer', 102)"
src "ALTER TABLE t DROP COLUMN n"
src "UPDATE t SET name = 'after drop' WHERE id IN (1, 50)"
src "DELETE FROM t WHERE id = 99"
run to_pg to_lite
check "ddl: evolve adds the columns (PostgreSQL)" "note flag" \
  "$(dst "SELECT string_agg(column_name, ' ' ORDER BY ordinal_position) FROM information_schema.columns
          WHERE table_name = 't' AND column_name IN ('note', 'flag')")"
check "ddl: a change after the new column carries its value" "noted 7|with a note" \
  "$(dst "SELECT (SELECT note FROM t WHERE id = 7) || '|' || (SELECT note FROM t WHERE id = 101)")"
check "ddl: rows no change touched since have the default the source gives them" "7|7" \
  "$(dst "SELECT (SELECT flag FROM t WHERE id = 60) || '|' || (SELECT flag FROM t WHERE id = 102)")"
check "ddl: SQLite too" "noted 7|7|7" \
  "$(lite "$W/wh.db" "SELECT (SELECT note FROM t WHERE id = 7) || '|' || (SELECT flag FROM t WHERE id = 60) || '|' || (SELECT flag FROM t WHERE id = 102)")"
check "ddl: changes after the dropped column land" "after drop|0" \
  "$(dst "SELECT (SELECT name FROM t WHERE id = 50) || '|' || (SELECT count(*) FROM t WHERE id = 99)")"
in_sync ddl t
sluice run "$W/cdc.yaml" strict
check "ddl: the quarantining pipeline holds the batch with the new columns (exit 3)" 3 "$RC"
check "ddl: nothing of it is visible" "0|row 1" \
  "$(dst "SELECT (SELECT count(*) FROM information_schema.columns WHERE table_name = 'tq' AND column_name = 'note') || '|' || (SELECT name FROM tq WHERE id = 1)")"
held=$(dst "SELECT id FROM _sluice.batches WHERE table_name = 'tq' AND state = 'quarantined'")
sluice approve "$W/cdc.yaml" "$held"
check "ddl: approve loads it" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
run strict
in_sync ddl_strict tq

# ---- rollback ----
run to_pg
before=$(dst "SELECT md5(string_agg(id || ':' || name || ':' || coalesce(md5(body), '-'), ',' ORDER BY id)) FROM r")
src "UPDATE r SET name = 'changed' WHERE id <= 30"          # bodies unchanged (TOAST)
src "DELETE FROM r WHERE id BETWEEN 31 AND 40"
src "UPDATE r SET id = 1000 WHERE id = 50"
src "INSERT INTO r VALUES (2000, 'inserted', NULL)"
run to_pg
bid=$(dst "SELECT max(id) FROM _sluice.batches WHERE table_name = 'r' AND state = 'committed'")
check "rollback: the changes are in" "30|0|1" \
  "$(dst "SELECT (SELECT count(*) FROM r WHERE name = 'changed') || '|' || (SELECT count(*) FROM r WHERE id BETWEEN 31 AND 40) || '|' || (SELECT count(*) FROM r WHERE id = 1000)")"
sluice rollback "$W/cdc.yaml" "$bid"
check "rollback: exits 0" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
check "rollback: the table is as it was before the batch, row for row" "$before" \
  "$(dst "SELECT md5(string_agg(id || ':' || name || ':' || coalesce(md5(body), '-'), ',' ORDER BY id)) FROM r")"
sluice reconcile "$W/cdc.yaml" r --repair
check "rollback: reconcile --repair exits 0" 0 "$RC"
in_sync rollback r
src "UPDATE r SET name = 'after' WHERE id = 1"
run to_pg
in_sync rollback_then_stream r

# ---- reject ----
run to_pg
src "INSERT INTO g VALUES (11, 'test row')"
sluice run "$W/cdc.yaml" to_pg
check "reject: the batch is held (exit 3)" 3 "$RC"
src "INSERT INTO g VALUES (12, 'later')"
held=$(dst "SELECT id FROM _sluice.batches WHERE table_name = 'g' AND state = 'quarantined'")
sluice reject "$W/cdc.yaml" "$held"
check "reject: exits 0" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
run to_pg
check "reject: the stream goes on past it" "0|1" \
  "$(dst "SELECT (SELECT count(*) FROM g WHERE id = 11) || '|' || (SELECT count(*) FROM g WHERE id = 12)")"
run to_pg
check "reject: its changes do not come again" "0|" \
  "$(dst "SELECT (SELECT count(*) FROM g WHERE id = 11) || '|' || coalesce((SELECT string_agg(id::text, ',') FROM _sluice.batches WHERE table_name = 'g' AND state = 'quarantined'), '')")"

# ---- added_later ----
src "CREATE TABLE late (id int PRIMARY KEY, v text)"
src "INSERT INTO late SELECT g, 'v' || g FROM generate_series(1, 500) g"
run to_pg
src "UPDATE late SET v = 'before it was added' WHERE id <= 10"
sed -i "s|      - { name: r, kind: cdc, primary_key: \[id\], deletes: hard }|&\n      - { name: late, kind: cdc, primary_key: [id] }|" "$W/cdc.yaml"
run to_pg
check "added_later: copied whole" "500|10" \
  "$(dst "SELECT count(*) || '|' || count(*) FILTER (WHERE v = 'before it was added') FROM late")"
check "added_later: in the publication now" 1 \
  "$(src "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'sl_s_$TAG' AND tablename = 'late'")"
src "DELETE FROM late WHERE id > 400"
src "UPDATE late SET v = 'streamed' WHERE id = 1"
run to_pg
check "added_later: then streamed" "400|streamed" "$(dst "SELECT count(*) || '|' || (SELECT v FROM late WHERE id = 1) FROM late")"
in_sync added_later late t r

# ---- long_txn ----
run inc l_cdc
coproc LONG { psql -qXAt -d "$SRC_DB"; }
echo "BEGIN; INSERT INTO l VALUES (2, now(), 'opened first'); SELECT 'ready';" >&"${LONG[1]}"
read -r _ <&"${LONG[0]}"
sleep 1
src "INSERT INTO l VALUES (3, clock_timestamp(), 'committed first')"
sleep 2.5       # past the 1 s boundary: the incremental run takes row 3
run inc l_cdc
check "long_txn: both have the row committed first" "1|1" \
  "$(dst "SELECT (SELECT count(*) FROM t_inc WHERE id = 3) || '|' || (SELECT count(*) FROM t_cdc WHERE id = 3)")"
echo "COMMIT; SELECT 'done';" >&"${LONG[1]}"
read -r _ <&"${LONG[0]}"
sleep 2.5
run inc l_cdc
run inc l_cdc
check "long_txn: cdc has the row of the transaction committed last" 1 "$(dst "SELECT count(*) FROM t_cdc WHERE id = 2")"
check "long_txn: incremental passed it by for good (its cursor is past the row's time)" 0 \
  "$(dst "SELECT count(*) FROM t_inc WHERE id = 2")"
finish
