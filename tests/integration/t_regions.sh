#!/usr/bin/env bash
# Regions: a pipeline's `region:` and its destination connection's `region:` /
# `accepts:`, on both warehouses (PostgreSQL and SQLite):
#   - check, run and daemon refuse (exit 2) a pipeline whose data would be
#     written to a connection of another region, naming both regions, the
#     pipeline and the connection; nothing is written
#   - a connection of no region is refused for a pipeline that has one
#   - the same region, or a connection that accepts the pipeline's, loads
#   - `sluice status` (text and --json) and /api/status show each
#     pipeline's region; `sluice check` shows the connections' regions
. "$(dirname "$0")/lib.sh"
new_db
W="$T_DIR/w"; mkdir -p "$W"
DPID=""
trap '[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null || true; cleanup' EXIT
printf 'id,v\n1,a\n2,b\n' | drop "$W/drops/a" a.csv
printf 'id,v\n1,a\n' | drop "$W/drops/b" b.csv

# config PG_CONN_YAML LITE_CONN_YAML
config() {
  cat >"$W/r.yaml" <<YAML
connections:
  pg_wh: $1
  lite_wh: $2
pipelines:
  - name: eu_to_pg
    region: eu
    source: { kind: files, path: drops/a, format: csv }
    destination: pg_wh
    tables: [ { name: a, kind: append } ]
  - name: eu_to_lite
    region: eu
    source: { kind: files, path: drops/b, format: csv }
    destination: lite_wh
    tables: [ { name: b, kind: append } ]
YAML
}

for wh in pg lite; do
  if [ $wh = pg ]; then
    config "{ url: \"$T_PG_URL\", region: us }" "{ url: \"sqlite://wh.db\", region: eu }"
    pipe=eu_to_pg; conn=pg_wh
  else
    config "{ url: \"$T_PG_URL\", region: eu }" "{ url: \"sqlite://wh.db\", region: us }"
    pipe=eu_to_lite; conn=lite_wh
  fi
  want="pipeline \"$pipe\": region eu: destination \"$conn\""
  sluice check "$W/r.yaml"
  check "$wh: check refuses a crossing: exit 2" 2 "$RC"
  check_contains "$wh: check names the pipeline and the connection" "$want" "$ERR"
  check_contains "$wh: check names both regions" "is in region us, so the pipeline's data would be written outside region eu" "$ERR"
  sluice run "$W/r.yaml" $pipe
  check "$wh: run refuses it: exit 2" 2 "$RC"
  check_contains "$wh: run says the same" "$want" "$ERR"
  set +e
  timeout 20 "$SLUICE_BIN" daemon "$W/r.yaml" --listen 127.0.0.1:0 >"$T_DIR/d.out" 2>"$T_DIR/d.err"
  drc=$?
  set -e
  check "$wh: daemon refuses it: exit 2" 2 "$drc"
  check_contains "$wh: daemon says the same" "$want" "$(cat "$T_DIR/d.err")"
done
check "nothing was written to PostgreSQL" "0" "$(pg "select count(*) from information_schema.tables where table_name in ('a', 'b')")"
check "nothing was written to SQLite" "no file" "$([ -e "$W/wh.db" ] && echo file || echo 'no file')"

config "{ url: \"$T_PG_URL\" }" "{ url: \"sqlite://wh.db\", region: eu }"
sluice check "$W/r.yaml"
check "a connection of no region: exit 2" 2 "$RC"
check_contains "a connection of no region: says so" 'destination "pg_wh" (at 2:3) says no region' "$ERR"

config "{ url: \"$T_PG_URL\", region: us, accepts: [eu, ch] }" "{ url: \"sqlite://wh.db\", region: eu }"
sluice check "$W/r.yaml"
check "accepts: [eu, ch] takes an eu pipeline: check exit 0" 0 "$RC"
check_contains "check shows a connection's region and accepts" "region=us accepts=[eu, ch]" "$OUT"
sluice run "$W/r.yaml"
check "accepted and same-region pipelines run: exit 0" 0 "$RC"
check "PostgreSQL (accepts eu) holds the eu rows" 2 "$(pg "select count(*) from a")"
check "SQLite (region eu) holds the eu rows" 1 "$(lite "$W/wh.db" "select count(*) from b")"

config "{ url: \"$T_PG_URL\", region: us, accepts: [ch] }" "{ url: \"sqlite://wh.db\", region: eu }"
sluice check "$W/r.yaml"
check "accepts without the region: refused" 2 "$RC"
check_contains "accepts without the region: names what it accepts" "is in region us and accepts only ch" "$ERR"

config "{ url: \"$T_PG_URL\", region: eu }" "{ url: \"sqlite://wh.db\", region: eu }"
sluice status "$W/r.yaml"
check_contains "status: a REGION column" "REGION" "$OUT"
check "status: each table's region" "eu eu" "$(awk 'NR > 1 { print $4 }' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
sluice status "$W/r.yaml" --json
check "status --json: each pipeline's region" "eu eu" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(p["region"] for p in d["pipelines"]))' <<<"$OUT")"
"$SLUICE_BIN" daemon "$W/r.yaml" --listen 127.0.0.1:0 >"$T_DIR/d.out" 2>"$T_DIR/d.err" &
DPID=$!
ADMIN=""
for _ in $(seq 200); do
  ADMIN=$(grep -o 'http://127.0.0.1:[0-9]*' "$T_DIR/d.err" | head -1 || true)
  [ -n "$ADMIN" ] && break; sleep 0.05
done
check "/api/status: each pipeline's region" "eu eu" \
  "$(curl -s "$ADMIN/api/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(p["region"] for p in d["pipelines"]))')"
kill "$DPID"; wait "$DPID" 2>/dev/null || true; DPID=""
finish
