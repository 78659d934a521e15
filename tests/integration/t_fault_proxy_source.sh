#!/usr/bin/env bash
# Connections to a PostgreSQL source cut, SL_PROXY_CUTS times (default 20),
# by a proxy between sluice and the source server (faultproxy.py), while
# incremental (insert_only without a key, updater) and snapshot tables
# replicate into a PostgreSQL and a SQLite warehouse. Before each trial the
# source changes (rows inserted, updated, deleted); then one cut of one kind,
# in turn, at a random place:
#   copy           mid-COPY: after N bytes of a COPY (SELECT ..) TO STDOUT
#   commit_before  the read transaction's COMMIT never reaches the server
#   commit_reply   it does; its answer is lost with the connection
#   select         a catalog read, the clock or the probe for new rows
#   bytes          after N bytes of the whole run, wherever that falls
# Every other trial runs with SLUICE_RETRIES=1, so the cut fails the run
# (exit 1) and a second run finishes. After each trial both warehouses equal
# the source exactly (count and md5 of the sorted rows).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault_lib.sh"
new_db
SRC_DB=$T_DB
WH_DB="${T_DB}_wh"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$WH_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$WH_DB\"" >/dev/null
wh_cleanup() {
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$WH_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fault_cleanup
}
trap wh_cleanup EXIT
CUTS=${SL_PROXY_CUTS:-20}
[ "${SL_SANITIZED:-OFF}" = ON ] && CUTS=${SL_PROXY_CUTS_ASAN:-8}
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
wh() { psql -qXAt -v ON_ERROR_STOP=1 -d "$WH_DB" -c "$1"; }

proxy_start SRCP "$PGPORT"
W="$T_DIR/w"; mkdir -p "$W"
src "CREATE TABLE log (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text, amount numeric(12,2))"
src "CREATE TABLE acct (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text, amount numeric(12,2))"
src "CREATE TABLE cat (id bigint PRIMARY KEY, v text, amount numeric(12,2))"
src "INSERT INTO cat SELECT 900000000 + g, 'c' || g, g * 0.1 FROM generate_series(1, 1500) g"
# change N: the source's writes of trial N (timestamps only move forward)
change() {
  local base="'2024-01-01'::timestamptz + $1 * interval '3 hours'"
  psql -qX -v ON_ERROR_STOP=1 -d "$SRC_DB" >/dev/null <<SQL
INSERT INTO log SELECT $1 * 10000 + g, $base + (g / 3) * interval '1 s', 'l' || g, g * 0.25
  FROM generate_series(1, 600) g;
UPDATE acct SET v = v || '+', amount = amount + 1,
       at = $base + interval '1 hour' + (id % 50) * interval '1 s'
 WHERE id IN (SELECT id FROM acct ORDER BY random() LIMIT 150);
INSERT INTO acct SELECT $1 * 10000 + g, $base + interval '2 hours' + (g / 4) * interval '1 s', 'a' || g, g * 1.5
  FROM generate_series(1, 100) g;
UPDATE cat SET v = v || '*' WHERE id IN (SELECT id FROM cat ORDER BY random() LIMIT 20);
DELETE FROM cat WHERE id IN (SELECT id FROM cat ORDER BY random() LIMIT 10);
INSERT INTO cat SELECT $1 * 10000 + g, 'c' || g, g * 0.1 FROM generate_series(1, 15) g;
SQL
}
tables_yaml='
      - { name: s_log, source_table: log, kind: incremental, mode: insert_only,
          cursor: [at, id], boundary: 1s, batch_limit: 250 }
      - { name: s_acct, source_table: acct, kind: incremental, mode: updater, primary_key: [id],
          cursor: [at, id], boundary: 1s, batch_limit: 250 }
      - { name: s_cat, source_table: cat, kind: snapshot, primary_key: [id] }'
cat >"$W/s.yaml" <<YAML
connections:
  crm: { url: "postgresql://postgres@127.0.0.1:$SRCP_PORT/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$WH_DB" }
  lite: { url: "sqlite://wh.db" }
pipelines:
  - name: to_pg
    source: { kind: postgres, connection: crm }
    destination: wh
    tables: $tables_yaml
  - name: to_lite
    source: { kind: postgres, connection: crm }
    destination: lite
    tables: $tables_yaml
YAML

# verify LABEL: both warehouses hold exactly the source's rows, once
verify() {
  local bad=0 t want got
  for t in log acct cat; do
    cols="id, v, amount"
    [ $t = cat ] || cols="id, at, v, amount"
    want=$(src "SELECT $cols FROM $t" | digest)
    got=$(wh "SELECT $cols FROM s_$t" | digest)
    [ "$got" = "$want" ] || { echo "# $1: PostgreSQL s_$t holds $got, the source $want"; bad=1; }
    want=$(src "SELECT id, v, amount FROM $t" | digest)
    got=$(lite "$W/wh.db" "SELECT id, v, amount FROM s_$t" | digest)
    [ "$got" = "$want" ] || { echo "# $1: SQLite s_$t holds $got, the source $want"; bad=1; }
  done
  return $bad
}

change 0
sluice run "$W/s.yaml"
check "the first load succeeds" 0 "$RC"
# calibrate: how many statements of each kind, how many bytes, in a trial's run
change 1
proxy "$SRCP_CTL" reset >/dev/null
sluice run "$W/s.yaml"
check "a run without faults succeeds" 0 "$RC"
verify "no faults" && ok "a run without faults: both warehouses equal the source" \
  || not_ok "a run without faults: both warehouses equal the source"
NCOPY=$(proxy_stat "$SRCP_CTL" COPY)
NCOMMIT=$(proxy_stat "$SRCP_CTL" COMMIT)
NSELECT=$(proxy_stat "$SRCP_CTL" SELECT)
NBYTES=$(( $(proxy_stat "$SRCP_CTL" c2s) + $(proxy_stat "$SRCP_CTL" s2c) ))
echo "# a run: $NCOPY COPY, $NCOMMIT COMMIT, $NSELECT SELECT, $NBYTES bytes through the proxy"

kinds=(copy commit_before commit_reply select bytes)
bad=0; uncut=0; exit1=0
for trial in $(seq 2 $((CUTS + 1))); do
  change "$trial"
  proxy "$SRCP_CTL" reset >/dev/null
  kind=${kinds[$(( (trial - 2) % ${#kinds[@]} ))]}
  case $kind in
    copy) arm="query COPY $((1 + RANDOM % NCOPY)) s2c $((RANDOM % 3000))" ;;
    commit_before) arm="query COMMIT $((1 + RANDOM % NCOMMIT)) before" ;;
    commit_reply) arm="query COMMIT $((1 + RANDOM % NCOMMIT)) reply" ;;
    select) arm="query SELECT $((1 + RANDOM % NSELECT)) before" ;;
    bytes) arm="bytes $(( (RANDOM * 32768 + RANDOM) % NBYTES ))" ;;
  esac
  proxy "$SRCP_CTL" $arm >/dev/null
  retries=6; [ $((trial % 2)) = 1 ] && retries=1
  t0=$(date +%s%N)
  SLUICE_RETRIES=$retries sluice run "$W/s.yaml"
  echo "# trial $trial: run $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  cuts=$(proxy_stat "$SRCP_CTL" cuts)
  [ "$cuts" -ge 1 ] || { uncut=$((uncut + 1)); echo "# trial $trial ($arm): no cut"; }
  what="trial $trial ($kind: $arm, retries $retries)"
  if [ "$RC" = 1 ]; then
    exit1=$((exit1 + 1))
    sluice run "$W/s.yaml"
  fi
  if [ "$RC" != 0 ]; then
    echo "# $what: exit $RC: $(tail -3 <<<"$ERR")"; bad=$((bad + 1)); continue
  fi
  verify "$what" || bad=$((bad + 1))
done
check "$CUTS trials, each cut a connection (none without a cut)" 0 "$uncut"
check "after each cut the run finished, or exited 1 and a re-run finished; both warehouses equal the source exactly" \
  "0 bad of $CUTS" "$bad bad of $CUTS"
check "some cuts outlasted SLUICE_RETRIES=1 (exit 1, then a re-run)" t "$([ "$exit1" -ge 1 ] && echo t || echo "f ($exit1)")"
finish
