#!/usr/bin/env bash
# A postgres snapshot table that has not changed is not copied again, into
# PostgreSQL and SQLite:
#   unchanged_snapshot_skipped  a second run over the same source content is
#       skipped and logged ("unchanged since batch N"), the warehouse table
#       and ledger untouched; a change loads; going back to the earlier
#       content (A, B, A) loads too; so does an unchanged source when the
#       warehouse's table was dropped or rolled back to another batch
#   database_default_schedule  without a schedule, `sluice check` prints the
#       database default (every 5m) and the daemon does not copy the table
#       again at every 2 s poll
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
DST_DB="${T_DB}_wh"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
trap 'psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
W="$T_DIR/w"; mkdir -p "$W"
src "CREATE TABLE plans (code text PRIMARY KEY, price numeric)"
src "INSERT INTO plans SELECT 'p' || i, i FROM generate_series(1, 2000) i"

for dest in pg lite; do
  if [ $dest = pg ]; then url="$SL_PG_URL/$DST_DB"; q() { dst "$1"; }; B=_sluice.batches
  else url="sqlite://wh.db"; q() { lite "$W/wh.db" "$1"; }; B=_sluice_batches; fi
  cat >"$W/$dest.yaml" <<YAML
connections:
  crm: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$url" }
pipelines:
  - name: crm_$dest
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - { name: plans, kind: snapshot }
YAML
  sluice run "$W/$dest.yaml"
  check "$dest: first run loads the table" "0 2000" "$RC $(q "select count(*) from plans")"
  first=$(q "select max(_sluice_batch) from plans")
  sluice run "$W/$dest.yaml"
  check "$dest: the same content again: skipped (0 committed, 1 duplicate)" \
    "0 committed (0 rows), 1 duplicate" "$(echo "$OUT" | grep -o '0 committed (0 rows), 1 duplicate')"
  check_contains "$dest: and logged" "unchanged since batch $first (same content): skipped" "$ERR"
  check "$dest: the table still holds the first batch's rows, one committed batch" "$first 1" \
    "$(q "select max(_sluice_batch) from plans") $(q "select count(*) from $B where table_name = 'plans' and state = 'committed'")"
  src "UPDATE plans SET price = price + 1 WHERE code = 'p7'"
  sluice run "$W/$dest.yaml"
  check "$dest: a changed source loads" "8" "$(q "select price from plans where code = 'p7'")"
  src "UPDATE plans SET price = price - 1 WHERE code = 'p7'"
  sluice run "$W/$dest.yaml"
  check "$dest: back to the earlier content (A, B, A) loads" "7" "$(q "select price from plans where code = 'p7'")"
  src "UPDATE plans SET price = 7 WHERE code = 'p7'"
  q "drop table plans" >/dev/null
  sluice run "$W/$dest.yaml"
  check "$dest: the warehouse table dropped: the unchanged source loads again" "0 2000" \
    "$RC $(q "select count(*) from plans")"
  last=$(q "select max(_sluice_batch) from plans")
  sluice rollback "$W/$dest.yaml" "$last"
  sluice run "$W/$dest.yaml"
  check "$dest: the table rolled back to the batch before: the source's content loads again" \
    "1 committed" "$(echo "$OUT" | grep -o '1 committed')"
done

sluice check "$W/pg.yaml"
check_contains "check prints the database default schedule" \
  "(every 5m: the default for a database source; set schedule: to change it)" "$OUT"
n0=$(dst "select count(*) from _sluice.batches where table_name = 'plans'")
SLUICE_POLL_MS=200 "$SLUICE_BIN" daemon "$W/pg.yaml" --listen 127.0.0.1:0 >"$T_DIR/d.out" 2>"$T_DIR/d.err" &
DPID=$!
sleep 3
kill -TERM $DPID; wait $DPID || true
check "daemon: a snapshot table without a schedule is read once in 3 s, not at every 0.2 s poll" "1" \
  "$(( $(dst "select count(*) from _sluice.batches where table_name = 'plans'") - n0 + $(grep -c 'unchanged since batch' "$T_DIR/d.err") ))"
finish
