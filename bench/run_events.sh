#!/usr/bin/env bash
# bench/run_events.sh BUILD_DIR: events per second end to end, HTTP to committed rows.
#
# `sluice daemon` runs an http source (the collector) into PostgreSQL, then
# into SQLite; wrk posts NDJSON batches of events with unique ids on loopback
# (bench/events.lua) for BENCH_SECONDS. A request is answered 200 only after
# the transaction holding its events committed, so wrk's answered requests
# times the events in each are events durably stored; the table's row count
# before and after says the same from the database's side. Everything shares
# this machine's cores: wrk, sluice and the database.
#
#   BENCH_SECONDS (15)  EVENTS_PER_REQUEST (100)  BENCH_CONNECTIONS (16)
#
# The PostgreSQL cluster is the throwaway one of the tests
# (tests/integration/pg_cluster.sh: fsync off, as in bench/run.sh); SQLite runs
# as sluice always runs it (WAL, synchronous=FULL). Report: BUILD/bench/events.txt.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
secs=${BENCH_SECONDS:-15}
per=${EVENTS_PER_REQUEST:-100}
conns=${BENCH_CONNECTIONS:-16}
work=$build/bench/events
sluice=$build/sluice
rm -rf "$work" && mkdir -p "$work"
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/setup-deps.sh --bench" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

bash "$here/../tests/integration/pg_cluster.sh" start "$work/pg" >&2
dpid=""
trap '[ -n "$dpid" ] && kill -9 $dpid 2>/dev/null; bash "$here/../tests/integration/pg_cluster.sh" stop "$work/pg" >&2' EXIT
# shellcheck disable=SC1091
. "$work/pg/env.sh"
psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS events_bench" \
  -c "CREATE DATABASE events_bench" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SLUICE_TOKEN="bench-$RANDOM"

# run NAME URL: one destination; prints a report line
run() {
  local name=$1 url=$2 before after
  cat >"$work/$name.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: app
    source: { kind: http, listen: "127.0.0.1:$port", token: "\${SLUICE_TOKEN}", event_id: event_id }
    destination: wh
    tables:
      - name: events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, type: text, user_id: bigint, amount: numeric, ts: timestamptz }
        paths: { amount: order.total }
YAML
  "$sluice" --quiet daemon "$work/$name.yaml" --listen 127.0.0.1:0 2>"$work/$name.log" &
  dpid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $SLUICE_TOKEN" --data '[]' \
      "http://127.0.0.1:$port/v1/events/app" && break
    sleep 0.1
  done
  # warm up: the table is made, connections are open
  RUN_ID=w EVENTS_PER_REQUEST=$per wrk -t2 -c"$conns" -d2s -s "$here/events.lua" \
    "http://127.0.0.1:$port/v1/events/app" >/dev/null
  before=$(count "$name")
  RUN_ID=m EVENTS_PER_REQUEST=$per wrk -t2 -c"$conns" -d"${secs}s" -s "$here/events.lua" \
    "http://127.0.0.1:$port/v1/events/app" >"$work/$name.wrk"
  after=$(count "$name")
  kill -TERM $dpid; wait $dpid || true; dpid=""
  local line
  line=$(grep '^BENCH' "$work/$name.wrk")
  python3 - "$name" "$line" "$before" "$after" "$per" "$conns" <<'PY'
import sys
name, line, before, after, per, conns = sys.argv[1:]
f = dict(kv.split("=") for kv in line.split()[1:])
secs = float(f["seconds"])
acked = int(f["events"])
rows = int(after) - int(before)
print("%-10s %9.0f events/s acknowledged  %9.0f rows/s committed  "
      "(%d requests of %s events, %s connections, %.0f s; p50 %s ms, p99 %s ms; %s errors)"
      % (name, acked / secs, rows / secs, int(f["requests"]), per, conns, secs,
         f["p50_ms"], f["p99_ms"], f["errors"]))
PY
}
count() {
  if [ "$1" = postgresql ]; then
    psql -qXAt -d events_bench -c "SELECT count(*) FROM events"
  else
    python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from events").fetchone()[0])' "$work/wh.db"
  fi
}

{
  echo "sluice events bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores: wrk, sluice and the database on one machine"
  run postgresql "$SL_PG_URL/events_bench"
  run sqlite "sqlite://wh.db"
} | tee "$work/../events.txt"
