#!/usr/bin/env bash
# The postgres source, against real databases of the harness cluster (source
# and warehouse are two databases; SQLite as a warehouse too), read by a role
# that has nothing but SELECT on the replicated tables:
#   incremental_under_writes   a writer keeps inserting and updating rows, ten
#       sharing each timestamp, while incremental replication (updater and
#       insert_only, batch_limit 7, two tables in parallel) runs again and
#       again; after the writer stops and one more run, each warehouse equals
#       the source exactly (no row missing, none twice)
#   snapshot                   the whole table, again after rows change and go
#   schema_follows_source      a column added on the source is added; a dropped
#       one stays, NULL in new rows, with a warning
#   dst_fall_back              a `timestamp without time zone` cursor across
#       the America/New_York fall-back hour, clocks simulated by
#       SLUICE_SOURCE_NOW: rows stamped in the repeated hour wait until the
#       clocks have shown it for the last time, and every row arrives once
#   quarantine_approve         a gate holds an incremental batch; approve loads
#       it and the cursor moves on
#   source_restart_mid_batch   the source's server restarts (pg_ctl restart
#       -m fast) while a large snapshot and a large incremental batch stream:
#       retried, no loss, no duplicates (a cluster of this test's own, so other
#       tests running at the same time are not disturbed)
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
DST_DB="${T_DB}_wh"
ROLE="sl_ro_$$"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
psql -qX -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN" >/dev/null
PRIV_PG=""
WRITER_PID=""
cleanup_all() {
  [ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null || true
  if [ -n "$PRIV_PG" ]; then bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" stop "$PRIV_PG" >/dev/null 2>&1 || true; fi
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

# ---- the source tables; the role may only read them ----
src "CREATE TABLE customers (id bigint PRIMARY KEY, name text, amount numeric(12,2),
       score double precision, active boolean, born date, doc jsonb, tags text[],
       updated_at timestamptz NOT NULL)"
src "CREATE TABLE events (id bigserial PRIMARY KEY, kind text, payload json,
       created_at timestamptz NOT NULL DEFAULT now())"
src "CREATE TABLE products (sku text PRIMARY KEY, title text, price numeric, weight real,
       \"odd \"\"name\" int)"
src "CREATE TABLE ny (id serial PRIMARY KEY, at timestamp without time zone NOT NULL, v int)"
src "INSERT INTO customers SELECT i, 'c' || i || E'\\t\"q\"\\\\', i * 1.25, i / 7.0, i % 2 = 0,
       date '1990-01-01' + i, jsonb_build_object('i', i, 'l', array[1, 2]), array['a', 'b c'],
       now() - interval '1 hour' FROM generate_series(1, 40) i"
src "INSERT INTO products SELECT 'sku-' || i, 'title ' || i, i * 0.5, i / 3.0, i FROM generate_series(1, 30) i"
src "GRANT SELECT ON customers, events, products, ny TO $ROLE"
check "the source role has SELECT only" "f|f|t" \
  "$(src "SELECT has_table_privilege('$ROLE', 'customers', 'INSERT'), has_table_privilege('$ROLE', 'customers', 'UPDATE'), has_table_privilege('$ROLE', 'customers', 'SELECT')")"

cat >"$W/s.yaml" <<YAML
connections:
  crm: { url: "$SRC_URL" }
  wh: { url: "$DST_URL" }
  lite: { url: "sqlite://wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: crm, parallel: 2 }
    destination: wh
    tables:
      - { name: customers, kind: incremental, mode: updater, primary_key: [id],
          cursor: [updated_at, id], boundary: 2s, batch_limit: 7 }
      - { name: events, kind: incremental, mode: insert_only, primary_key: [id],
          cursor: [created_at, id], boundary: 2s, batch_limit: 7 }
  - name: to_lite
    source: { kind: postgres, connection: crm }
    destination: lite
    tables:
      - { name: customers, kind: incremental, mode: updater, primary_key: [id],
          cursor: [updated_at, id], boundary: 2s, batch_limit: 7 }
      - { name: events, kind: incremental, mode: insert_only, primary_key: [id],
          cursor: [created_at, id], boundary: 2s, batch_limit: 7 }
  - name: catalog
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - { name: products, kind: snapshot, primary_key: [sku] }
  - name: catalog_lite
    source: { kind: postgres, connection: crm }
    destination: lite
    tables:
      - { name: products, kind: snapshot, primary_key: [sku] }
YAML
sluice check "$W/s.yaml"
check "check accepts the postgres source" "0" "$RC"

# ---- incremental_under_writes ----
# the writer: each transaction inserts ten customers and ten events sharing
# one timestamp, and updates a few existing customers (their timestamp moves)
writer() {
  local i=0 next=1000
  while [ ! -f "$W/stop" ]; do
    i=$((i + 1))
    psql -qX -d "$SRC_DB" -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL || true
BEGIN;
INSERT INTO customers SELECT g, 'w' || g, g * 0.5, g / 3.0, true, date '2000-01-01', '{"w": true}', '{}', now()
  FROM generate_series($next, $next + 9) g;
INSERT INTO events (kind, payload) SELECT 'k' || g, ('{"g": ' || g || '}')::json FROM generate_series(1, 10) g;
UPDATE customers SET amount = amount + 1, name = name || '+', updated_at = now()
 WHERE id IN (SELECT id FROM customers ORDER BY random() LIMIT 3);
COMMIT;
SQL
    next=$((next + 10))
    sleep 0.05
  done
}
writer & WRITER_PID=$!
runs=0; bad=0
end=$((SECONDS + 8))
while [ $SECONDS -lt $end ]; do
  sluice run "$W/s.yaml" to_pg to_lite
  runs=$((runs + 1))
  [ "$RC" = 0 ] || { bad=$((bad + 1)); echo "# run rc $RC: $ERR" | tail -3; }
done
touch "$W/stop"; wait "$WRITER_PID" || true; WRITER_PID=""
check "replication runs while the writer writes all succeed" "0 failed of $runs" "$bad failed of $runs"
sleep 3   # past the boundary
sluice run "$W/s.yaml" to_pg to_lite
check "the run after the writer stops succeeds" "0" "$RC"
cust_cols="id, name, amount, score, active, born, doc::text, tags::text, updated_at"
want_c=$(src "SELECT $cust_cols FROM customers ORDER BY id")
want_e=$(src "SELECT id, kind, payload::jsonb::text, created_at FROM events ORDER BY id")
check "warehouse customers equal the source's ($(wc -l <<<"$want_c") rows)" "$want_c" \
  "$(dst "SELECT $cust_cols FROM customers ORDER BY id")"
check "warehouse events equal the source's ($(wc -l <<<"$want_e") rows, none twice)" "$want_e" \
  "$(dst "SELECT id, kind, payload::text, created_at FROM events ORDER BY id")"
check "the writer wrote ties of ten: batches of 7 cut inside them" "t" \
  "$(src "SELECT count(*) > 10 FROM (SELECT updated_at FROM customers GROUP BY 1 HAVING count(*) >= 10) q")"
ts_c="to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
check "SQLite customers equal the source's" \
  "$(src "SELECT id, name, amount, $ts_c FROM customers ORDER BY id")" \
  "$(lite "$W/wh.db" "SELECT id, name, amount, updated_at FROM customers ORDER BY id")"
check "SQLite events equal the source's" \
  "$(src "SELECT id, kind, payload::jsonb::text FROM events ORDER BY id")" \
  "$(lite "$W/wh.db" "SELECT id, kind, payload FROM events ORDER BY id")"
check "every committed incremental batch after a table's first sync held at most batch_limit rows" "0" \
  "$(dst "SELECT count(*) FROM _sluice.batches WHERE kind = 'incremental' AND rows_in > 7
          AND id NOT IN (SELECT min(id) FROM _sluice.batches WHERE kind = 'incremental' GROUP BY table_name)")"
check "rows updated in the warehouse were kept in history (rollback)" "t" \
  "$(dst "SELECT count(*) > 0 FROM _sluice.hist_customers")"
check "the cursor is the source's own text of each cursor column" "t" \
  "$(dst "SELECT value ~ '^\\[\"[0-9-]+ [0-9:.]+\\+00\",\"[0-9]+\"\\]\$' FROM _sluice.cursors WHERE pipeline = 'to_pg' AND table_name = 'customers'")"
sluice run "$W/s.yaml" to_pg
check "a run with nothing new commits nothing" "to_pg: 0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred, 0 quarantined" "$OUT"
check "warehouse types follow the source's" "bigint numeric double precision boolean date jsonb text timestamp with time zone" \
  "$(dst "SELECT string_agg(format_type(atttypid, atttypmod), ' ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'customers'::regclass AND attnum > 0 AND attname NOT IN ('name', '_sluice_batch') AND NOT attisdropped")"

# ---- snapshot ----
sluice run "$W/s.yaml" catalog catalog_lite
check "snapshot runs" "0" "$RC"
pcols='sku, title, price, weight, "odd ""name"'
check "snapshot: the warehouse holds the whole table" "$(src "SELECT $pcols FROM products ORDER BY sku")" \
  "$(dst "SELECT $pcols FROM products ORDER BY sku")"
psql -qX -d "$SRC_DB" -c "DELETE FROM products WHERE sku IN ('sku-3', 'sku-4')" -c "UPDATE products SET title = 'new' WHERE sku = 'sku-5'" \
  -c "INSERT INTO products VALUES ('sku-x', 'x', 1, 2.5, 3)" >/dev/null
sluice run "$W/s.yaml" catalog catalog_lite
check "snapshot again: rows gone, changed and new as on the source" "$(src "SELECT $pcols FROM products ORDER BY sku")" \
  "$(dst "SELECT $pcols FROM products ORDER BY sku")"
check "snapshot into SQLite" "$(src "SELECT sku, title, price FROM products ORDER BY sku")" \
  "$(lite "$W/wh.db" "SELECT sku, title, price FROM products ORDER BY sku")"

# ---- schema_follows_source ----
psql -qX -d "$SRC_DB" -c "ALTER TABLE products ADD COLUMN colour text" -c "UPDATE products SET colour = 'red'" \
  -c "ALTER TABLE products DROP COLUMN weight" >/dev/null
sluice run "$W/s.yaml" catalog
check "schema: the run succeeds" "0" "$RC"
check "schema: the new column is added and filled" "red" "$(dst "SELECT DISTINCT colour FROM products")"
check "schema: the dropped column stays, NULL in the new rows" "0" "$(dst "SELECT count(weight) FROM products")"
check_contains "schema: the dropped column is reported" 'column "weight" is no longer in the source' "$ERR"

# ---- dst_fall_back ----
# 2023-11-05 in America/New_York: 06:00 UTC (02:00 EDT) the clocks go back to
# 01:00 EST. Every 10 minutes of simulated time two rows are written, stamped
# with the wall clock, and sluice runs with that instant as the source's now.
cat >"$W/ny.yaml" <<YAML
connections:
  crm: { url: "$SRC_URL" }
  wh: { url: "$DST_URL" }
  lite: { url: "sqlite://ny.db" }
pipelines:
  - name: ny
    source: { kind: postgres, connection: crm, timezone: America/New_York }
    destination: wh
    tables:
      - { name: ny, kind: incremental, mode: insert_only, primary_key: [id], cursor: [at, id],
          boundary: 1m, batch_limit: 3 }
  - name: ny_lite
    source: { kind: postgres, connection: crm, timezone: America/New_York }
    destination: lite
    tables:
      - { name: ny, kind: incremental, mode: insert_only, primary_key: [id], cursor: [at, id],
          boundary: 1m, batch_limit: 3 }
YAML
held_ok=1
for m in $(seq 0 10 170); do
  inst=$(date -u -d "2023-11-05 04:30:00 UTC + $m minutes" '+%Y-%m-%d %H:%M:%S+00')
  src "INSERT INTO ny (at, v) SELECT ('$inst'::timestamptz AT TIME ZONE 'America/New_York'), g FROM generate_series(1, 2) g"
  SLUICE_SOURCE_NOW="$inst" sluice run "$W/ny.yaml"
  [ "$RC" = 0 ] || { echo "# ny run at $inst: rc $RC: $ERR"; held_ok=0; }
  # in the hour before the clocks go back, nothing stamped 01:00 or later is taken
  if [[ "$inst" > "2023-11-05 05:00:00" && "$inst" < "2023-11-05 06:00:00" ]]; then
    n=$(dst "SELECT count(*) FROM ny WHERE at >= '2023-11-05 05:00:00+00'")
    [ "$n" = 0 ] || { echo "# at $inst the warehouse already had $n rows of the repeated hour"; held_ok=0; }
  fi
done
check "fall-back: every run succeeds, and rows of the repeated hour wait for its last pass" "1" "$held_ok"
SLUICE_SOURCE_NOW="2023-11-05 09:00:00+00" sluice run "$W/ny.yaml"
check "fall-back: the runs after the hour succeed" "0" "$RC"
check "fall-back: every row arrives once, read in the source's zone" \
  "$(src "SELECT id, at AT TIME ZONE 'America/New_York' FROM ny ORDER BY id")" \
  "$(dst "SELECT id, at FROM ny ORDER BY id")"
check "fall-back: rows stamped in the second pass of 01:xx (EST) are there" "t" \
  "$(src "SELECT count(*) = 24 FROM ny WHERE at >= '2023-11-05 01:00' AND at < '2023-11-05 02:00'")"
check "fall-back: SQLite holds the same rows" "$(dst "SELECT id FROM ny ORDER BY id")" \
  "$(lite "$W/ny.db" "SELECT id FROM ny ORDER BY id")"

# ---- quarantine_approve ----
src "CREATE TABLE orders (id int PRIMARY KEY, email text, at timestamptz NOT NULL)"
src "GRANT SELECT ON orders TO $ROLE"
src "INSERT INTO orders SELECT i, 'u' || i || '@shop.example', '2024-01-01'::timestamptz + i * interval '1 min' FROM generate_series(1, 5) i"
src "INSERT INTO orders VALUES (6, 'x@test.example', '2024-01-01 00:06+00')"
cat >"$W/q.yaml" <<YAML
connections:
  crm: { url: "$SRC_URL" }
  wh: { url: "$DST_URL" }
pipelines:
  - name: orders
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - name: orders
        kind: incremental
        mode: updater
        primary_key: [id]
        cursor: [at, id]
        gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] }
YAML
sluice run "$W/q.yaml"
check "quarantine: a gate holds the batch (exit 3)" "3" "$RC"
check "quarantine: nothing of it is loaded" "t" "$(dst "SELECT to_regclass('orders') IS NULL")"
held=$(dst "SELECT id FROM _sluice.batches WHERE table_name = 'orders' AND state = 'quarantined'")
sluice approve "$W/q.yaml" "$held"
check "quarantine: approve loads it" "0 6" "$RC $(dst "SELECT count(*) FROM orders")"
src "INSERT INTO orders VALUES (7, 'u7@shop.example', '2024-01-01 00:07+00')"
sluice run "$W/q.yaml"
check "quarantine: the cursor moved on with the approved batch" "0 7 1" \
  "$RC $(dst "SELECT count(*) FROM orders") $(dst "SELECT rows_in FROM _sluice.batches WHERE table_name = 'orders' ORDER BY id DESC LIMIT 1")"

# ---- source_restart_mid_batch ----
PRIV_PG="$T_DIR/pg2"
bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" start "$PRIV_PG" >/dev/null
P2PORT=$(. "$PRIV_PG/env.sh"; echo "$PGPORT")
P2DIR=$(. "$PRIV_PG/env.sh"; echo "$SL_PGDIR")
p2() { psql -qXAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P2PORT" -U postgres -d "$1" -c "$2"; }
p2 postgres "CREATE DATABASE src" >/dev/null
p2 postgres "CREATE DATABASE wh" >/dev/null
N=400000
p2 src "CREATE TABLE big (id bigint PRIMARY KEY, body text, at timestamptz NOT NULL)"
p2 src "INSERT INTO big SELECT i, repeat(md5(i::text), 4), '2024-01-01'::timestamptz + (i / 50) * interval '1 s' FROM generate_series(1, $N) i"
cat >"$W/r.yaml" <<YAML
connections:
  crm: { url: "postgresql://postgres@127.0.0.1:$P2PORT/src" }
  wh: { url: "postgresql://postgres@127.0.0.1:$P2PORT/wh" }
pipelines:
  - name: whole
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - { name: big_snap, source_table: big, kind: snapshot, primary_key: [id] }
  - name: delta
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - { name: big_inc, source_table: big, kind: incremental, mode: insert_only,
          primary_key: [id], cursor: [at, id], batch_limit: 300000 }
YAML
restart_mid() {   # restart_mid PIPELINE: run it, restart the server while rows stream
  SLUICE_RETRIES=12 SLUICE_RETRY_BASE_MS=300 "$SLUICE_BIN" run "$W/r.yaml" "$1" >"$W/r.out" 2>"$W/r.err" &
  local pid=$! i
  for i in $(seq 200); do
    if [ "$(p2 postgres "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'sluice source' AND backend_type = 'client backend' AND state = 'active' AND query LIKE 'COPY (SELECT%'" 2>/dev/null)" = t ]; then
      break
    fi
    sleep 0.05
  done
  sleep 0.2
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$SL_PG_OWNER" -- "$SL_PGBIN/pg_ctl" -D "$P2DIR/data" -m fast -w restart >/dev/null 2>&1
  else
    "$SL_PGBIN/pg_ctl" -D "$P2DIR/data" -m fast -w restart >/dev/null 2>&1
  fi
  set +e; wait $pid; RC=$?; set -e
}
restart_mid whole
check "restart: the snapshot run succeeds after retrying" "0" "$RC"
check_contains "restart: the snapshot was retried" "transient failure, retrying" "$(cat "$W/r.err")"
check "restart: the snapshot holds every row once" "$N $N $((N * (N + 1) / 2))" \
  "$(p2 wh "SELECT count(*), count(DISTINCT id), sum(id) FROM big_snap" | tr '|' ' ')"
restart_mid delta
check "restart: the incremental run succeeds after retrying" "0" "$RC"
check_contains "restart: the incremental batch was retried" "transient failure, retrying" "$(cat "$W/r.err")"
SLUICE_RETRY_BASE_MS=300 sluice run "$W/r.yaml" delta
check "restart: incremental holds every row once" "$N $N $((N * (N + 1) / 2))" \
  "$(p2 wh "SELECT count(*), count(DISTINCT id), sum(id) FROM big_inc" | tr '|' ' ')"
check "restart: same content as the source" "$(p2 src "SELECT md5(string_agg(id || body || at, ',' ORDER BY id)) FROM big")" \
  "$(p2 wh "SELECT md5(string_agg(id || body || at, ',' ORDER BY id)) FROM big_inc")"

# ---- config ----
sed 's/connection: crm, parallel: 2/connection: crmm, parallel: 2/' "$W/s.yaml" >"$W/bad.yaml"
sluice check "$W/bad.yaml"
check "check: an unknown connection is a config error (exit 2)" "2" "$RC"
check_contains "check: it names the connection" 'connection "crmm" is not under connections' "$ERR"

finish
