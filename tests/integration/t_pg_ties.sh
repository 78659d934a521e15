#!/usr/bin/env bash
# An incremental cursor that is not unique (the postgres source), into both
# warehouses (PostgreSQL and SQLite), read by a role with SELECT only:
#   insert_only_ties      a pgbench_history-shaped table (no key at all),
#       rows five to a timestamp plus one run of 12 sharing one, cursor
#       [mtime], batch_limit 7: every row arrives exactly once (count and md5
#       of the sorted rows), a batch never ends inside a run of ties, the run
#       larger than the limit comes whole in one batch
#   updater_ties          the same for mode updater (key id, cursor
#       [mtime]), rows inserted and then updated five to a timestamp
#   pgbench_while_running the real pgbench writes pgbench_history (its own
#       tpcb-like script and one that inserts five rows a transaction, all
#       stamped CURRENT_TIMESTAMP) while runs replicate it with cursor
#       [mtime] and batch_limit 7; once it stops, the warehouses hold exactly
#       the source's rows
#   check_says_unique     `sluice check` says whether each incremental
#       cursor is unique (a primary key or unique index within the cursor
#       columns; a partial one does not count) and what it does about ties;
#       when it cannot reach the source (refused, or never answering: 5 s at
#       most) it says so and still exits 0
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
DST_DB="${T_DB}_wh"
ROLE="sl_ties_$$"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
psql -qX -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN" >/dev/null
BENCH_PID=""
MUTE_PID=""
cleanup_all() {
  [ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null || true
  [ -n "$MUTE_PID" ] && kill "$MUTE_PID" 2>/dev/null || true
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  cleanup
  psql -qX -d postgres -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1 || true
}
trap cleanup_all EXIT
export PGTZ=UTC
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
SRC_URL="postgresql://$ROLE@$PGHOST:$PGPORT/$SRC_DB"
DST_URL="$SL_PG_URL/$DST_DB"
W="$T_DIR/w"; mkdir -p "$W"
# the text SQLite keeps of a timestamp column
iso() { echo "to_char($1, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"; }
# same_rows NAME SRC_SQL PG_SQL LITE_SQL: the three give the same rows (any
# order: compared sorted), as count and md5
same_rows() {
  local s p l
  s=$(src "$2" | LC_ALL=C sort); p=$(dst "$3" | LC_ALL=C sort); l=$(lite "$W/wh.db" "$4" | LC_ALL=C sort)
  s="$(grep -c . <<<"$s") $(md5sum <<<"$s" | cut -c1-32)"
  check "$1: PostgreSQL warehouse holds each source row once (count md5)" "$s" \
    "$(grep -c . <<<"$p") $(md5sum <<<"$p" | cut -c1-32)"
  check "$1: SQLite warehouse holds each source row once (count md5)" "$s" \
    "$(grep -c . <<<"$l") $(md5sum <<<"$l" | cut -c1-32)"
}

# ---- the source tables ----
# hist: pgbench_history's shape, no key; acct: a key, but not in the cursor
src "CREATE TABLE hist (tid int, bid int, aid int, delta int, mtime timestamp NOT NULL, filler char(22))"
src "CREATE TABLE acct (id int PRIMARY KEY, balance int, mtime timestamptz NOT NULL)"
# for check: a unique index that is not the primary key, and a partial one
src "CREATE TABLE uniq (a int, at timestamptz NOT NULL, v int)"
src "CREATE UNIQUE INDEX uniq_at_a ON uniq (at, a)"
src "CREATE TABLE part (a int, at timestamptz NOT NULL)"
src "CREATE UNIQUE INDEX part_at ON part (at) WHERE a > 0"
src "GRANT SELECT ON hist, acct, uniq, part TO $ROLE"
# ties(GROUPS, SIZE, FROM): GROUPS runs of SIZE rows, run g stamped FROM + g seconds
ties() {
  src "INSERT INTO hist SELECT g % 10, 1, g * 100 + r, r - g, timestamp '$3' + g * interval '1 s', 'f'
         FROM generate_series(1, $1) g, generate_series(1, $2) r"
}
ties 20 5 '2024-01-01 00:00:00'
src "INSERT INTO acct SELECT (g - 1) * 5 + r, r, timestamptz '2024-01-01 00:00+00' + g * interval '1 s'
       FROM generate_series(1, 20) g, generate_series(1, 5) r"

cat >"$W/t.yaml" <<YAML
connections:
  src: { url: "$SRC_URL" }
  wh: { url: "$DST_URL" }
  lite: { url: "sqlite://wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: hist, kind: incremental, mode: insert_only, cursor: [mtime], boundary: 1s, batch_limit: 7 }
      - { name: acct, kind: incremental, mode: updater, primary_key: [id], cursor: [mtime],
          boundary: 1s, batch_limit: 7 }
  - name: to_lite
    source: { kind: postgres, connection: src }
    destination: lite
    tables:
      - { name: hist, kind: incremental, mode: insert_only, cursor: [mtime], boundary: 1s, batch_limit: 7 }
      - { name: acct, kind: incremental, mode: updater, primary_key: [id], cursor: [mtime],
          boundary: 1s, batch_limit: 7 }
YAML

# ---- insert_only_ties ----
sluice run "$W/t.yaml"
check "ties: the first run succeeds" "0" "$RC"
check "ties: the first sync reads the table once, whatever batch_limit says (one batch each)" \
  "100 100" "$(dst "SELECT string_agg(rows_in::text, ' ' ORDER BY id) FROM _sluice.batches WHERE state = 'committed'")"
ties 1 12 '2024-01-01 00:01:00'     # one run larger than the limit
ties 4 5 '2024-01-01 00:02:00'
src "INSERT INTO acct SELECT 100 + r, r, timestamptz '2024-01-01 00:01+00' FROM generate_series(1, 12) r"
sluice run "$W/t.yaml"
check "ties: a later run succeeds" "0" "$RC"
ties 3 5 '2024-01-01 00:03:00'      # a later run takes up where the cursor stands
sluice run "$W/t.yaml"
check "ties: the second run succeeds" "0" "$RC"
hcols="tid, bid, aid, delta"
same_rows "insert_only ties" "SELECT $hcols, $(iso mtime) FROM hist" \
  "SELECT $hcols, $(iso "mtime AT TIME ZONE 'UTC'") FROM hist" "SELECT $hcols, mtime FROM hist"
check "insert_only ties: no batch ended inside a run of ties (batch sizes)" \
  "100 12 10 10 10 5" \
  "$(dst "SELECT string_agg(rows_in::text, ' ' ORDER BY id) FROM _sluice.batches WHERE table_name = 'hist' AND state = 'committed'")"
check "insert_only ties: the run of 12 came whole, in one batch" "12" \
  "$(dst "SELECT max(rows_in) FROM _sluice.batches WHERE table_name = 'hist' AND rows_in < 100")"

# ---- updater_ties ----
src "UPDATE acct SET balance = balance + 1000, mtime = timestamptz '2024-01-02 00:00+00' + ((id - 1) / 5) * interval '1 s'
      WHERE id <= 60"
sluice run "$W/t.yaml"
check "updater ties: the run after updates succeeds" "0" "$RC"
same_rows "updater ties" "SELECT id, balance, $(iso "mtime AT TIME ZONE 'UTC'") FROM acct" \
  "SELECT id, balance, $(iso "mtime AT TIME ZONE 'UTC'") FROM acct" "SELECT id, balance, mtime FROM acct"
check "updater ties: the run of 12 came whole, in one batch" "12" \
  "$(dst "SELECT max(rows_in) FROM _sluice.batches WHERE table_name = 'acct' AND rows_in < 100")"

# ---- pgbench_while_running ----
PGB="$SL_PGBIN/pgbench"
"$PGB" -i -s 1 -q "$SRC_DB" >"$W/pgbench-init.log" 2>&1
src "GRANT SELECT ON pgbench_history TO $ROLE"
cat >"$W/five.sql" <<'SQL'
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
  SELECT :tid, :bid, :aid, :delta + g, CURRENT_TIMESTAMP FROM generate_series(1, 5) g;
END;
SQL
cat >"$W/b.yaml" <<YAML
connections:
  src: { url: "$SRC_URL" }
  wh: { url: "$DST_URL" }
  lite: { url: "sqlite://wh.db" }
pipelines:
  - name: bench_pg
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: pgbench_history, kind: incremental, mode: insert_only, cursor: [mtime],
          boundary: 1s, batch_limit: 7 }
  - name: bench_lite
    source: { kind: postgres, connection: src }
    destination: lite
    tables:
      - { name: pgbench_history, kind: incremental, mode: insert_only, cursor: [mtime],
          boundary: 1s, batch_limit: 7 }
YAML
"$PGB" -n -c 4 -j 2 -T 6 -R 60 -b tpcb-like@1 -f "$W/five.sql@3" "$SRC_DB" >"$W/pgbench.log" 2>&1 &
BENCH_PID=$!
runs=0; bad=0
while kill -0 "$BENCH_PID" 2>/dev/null; do
  sluice run "$W/b.yaml"
  runs=$((runs + 1))
  [ "$RC" = 0 ] || { bad=$((bad + 1)); echo "# run rc $RC: $ERR" | tail -3; }
done
set +e; wait "$BENCH_PID"; brc=$?; set -e; BENCH_PID=""
check "pgbench ran its workload" "0" "$brc"
check "pgbench: runs while it writes all succeed" "0 failed of $runs" "$bad failed of $runs"
sleep 2   # past the boundary
sluice run "$W/b.yaml"
check "pgbench: the run after it stops succeeds" "0" "$RC"
check "pgbench: it wrote runs of rows sharing one mtime" "t" \
  "$(src "SELECT count(*) > 20 FROM (SELECT mtime FROM pgbench_history GROUP BY 1 HAVING count(*) >= 5) q")"
n=$(src "SELECT count(*) FROM pgbench_history")
check "pgbench: PostgreSQL warehouse count equals the source's exactly" "$n" \
  "$(dst "SELECT count(*) FROM pgbench_history")"
check "pgbench: SQLite warehouse count equals the source's exactly" "$n" \
  "$(lite "$W/wh.db" "SELECT count(*) FROM pgbench_history")"
bcols="tid, bid, aid, delta"
same_rows "pgbench" "SELECT $bcols, $(iso mtime) FROM pgbench_history" \
  "SELECT $bcols, $(iso "mtime AT TIME ZONE 'UTC'") FROM pgbench_history" \
  "SELECT $bcols, mtime FROM pgbench_history"

# ---- check_says_unique ----
cat >"$W/c.yaml" <<YAML
connections:
  src: { url: "$SRC_URL" }
  down: { url: "postgresql://nobody@127.0.0.1:1/nothing" }
  wh: { url: "$DST_URL" }
pipelines:
  - name: c
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: hist, kind: incremental, mode: insert_only, cursor: [mtime], batch_limit: 7 }
      - { name: acct, kind: incremental, mode: updater, primary_key: [id], cursor: [mtime], batch_limit: 7 }
      - { name: acct2, source_table: acct, kind: incremental, mode: updater, primary_key: [id],
          cursor: [mtime, id], batch_limit: 7 }
      - { name: uniq, kind: incremental, mode: insert_only, cursor: [at, a], batch_limit: 7 }
      - { name: part, kind: incremental, mode: insert_only, cursor: [at], batch_limit: 7 }
      - { name: nolimit, source_table: hist, kind: incremental, mode: insert_only, cursor: [mtime] }
  - name: d
    source: { kind: postgres, connection: down }
    destination: wh
    tables:
      - { name: hist, kind: incremental, mode: insert_only, cursor: [mtime], batch_limit: 7 }
YAML
sluice check "$W/c.yaml"
check "check: exit 0, even with a source it cannot reach" "0" "$RC"
plan_of() { awk -v t="  table $1:" 'index($0, t) == 1 { on = 1; next } /^  table |^pipeline / { on = 0 } on'; }
hist_plan=$(awk '/^pipeline c /, /^pipeline d /' <<<"$OUT" | plan_of hist)
check_contains "check: insert_only cursor (mtime) is not unique" "cursor (mtime): not unique" "$hist_plan"
check_contains "check: and a batch takes a whole run of ties" "takes the whole run" "$hist_plan"
check_contains "check: updater cursor (mtime) is not unique (the key is not in it)" \
  "cursor (mtime): not unique" "$(plan_of acct <<<"$OUT")"
check_contains "check: cursor (mtime, id) is unique by the primary key" \
  "cursor (mtime, id): unique (index acct_pkey)" "$(plan_of acct2 <<<"$OUT")"
check_contains "check: a unique index that is not the primary key counts" \
  "cursor (at, a): unique (index uniq_at_a)" "$(plan_of uniq <<<"$OUT")"
check_contains "check: a partial unique index does not" "cursor (at): not unique" "$(plan_of part <<<"$OUT")"
check_contains "check: without batch_limit no batch is cut" "no batch_limit" "$(plan_of nolimit <<<"$OUT")"
down_plan=$(awk '/^pipeline d /, 0' <<<"$OUT" | plan_of hist)
check_contains "check: an unreachable source is said, not failed" \
  "cursor (mtime): could not look at the source" "$down_plan"
# a server that takes the connection and never answers: check waits 5 s at most
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(60)' "$T_DIR/mute.port" &
MUTE_PID=$!
for _ in $(seq 50); do [ -s "$T_DIR/mute.port" ] && break; sleep 0.1; done
sed "s|postgresql://nobody@127.0.0.1:1/nothing|postgresql://nobody@127.0.0.1:$(cat "$T_DIR/mute.port")/nothing|" \
  "$W/c.yaml" >"$W/mute.yaml"
t0=$SECONDS
sluice check "$W/mute.yaml"
took=$((SECONDS - t0))
kill "$MUTE_PID" 2>/dev/null || true; MUTE_PID=""
check "check: a source that never answers: exit 0 within 5 s of waiting ($took s)" "0 t" \
  "$RC $([ "$took" -le 8 ] && echo t || echo f)"
check_contains "check: and it says it could not look" "cursor (mtime): could not look at the source" \
  "$(awk '/^pipeline d /, 0' <<<"$OUT" | plan_of hist)"
check_contains "check: a cursor with no index leading with it is named, with the fix" \
  'no index of the source leads with the cursor columns (mtime), so every batch after the first scans and sorts the whole table on the source; CREATE INDEX CONCURRENTLY ON "hist" ("mtime");' "$hist_plan"
check_contains "check: an index whose first columns are the cursor's serves it (the primary key does not lead with mtime)" \
  "cursor order: index uniq_at_a reads the rows past the cursor in order" "$(plan_of uniq <<<"$OUT")"
fix=$(sluice check "$W/c.yaml" --json; python3 -c 'import json,sys; d=json.load(sys.stdin); print([t for p in d["pipelines"] for t in p["tables"] if t["name"] == "acct2"][0]["cursor_index_fix"])' <<<"$OUT")
check "check --json: cursor_index_fix is the SQL" 'CREATE INDEX CONCURRENTLY ON "acct" ("mtime", "id");' "$fix"
src "$fix"
sluice check "$W/c.yaml" --json
check "check --json: once it ran, cursor_index names the index it made" "acct_mtime_id_idx" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print([t for p in d["pipelines"] for t in p["tables"] if t["name"] == "acct2"][0]["cursor_index"])' <<<"$OUT")"
check "check --json: cursor_unique per table" "false false true true false false null" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(json.dumps(t.get("cursor_unique", "missing")) for p in d["pipelines"] for t in p["tables"]))' <<<"$OUT")"

finish
