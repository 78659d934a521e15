#!/usr/bin/env bash
# bench/run_pg.sh BUILD_DIR: the postgres source against its peers, as ratios.
#
#   1. snapshot of a 2,000,000-row table, PostgreSQL to PostgreSQL
#        sluice run (COPY out, typed, COPY in, swapped in with its ledger row)
#        vs  psql -c "copy .. to stdout (format binary)" | psql -c "copy .. from stdin (format binary)"
#        vs  pgcopydb copy table-data
#      every target table has the same shape and its primary key while loading
#   2. reconcile of the two equal tables (source and the snapshot sluice loaded)
#        sluice reconcile  vs  one `select count(*)` on each (psql, one after the other)
#
# Median of BENCH_TRIALS runs (default 3), peers interleaved so that noise on a
# small machine hits all alike. Source and target are two databases of one
# throwaway cluster (tests/integration/pg_cluster.sh). Report in
# BUILD_DIR/bench/report_pg.txt.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
rows=${BENCH_ROWS:-2000000}
trials=${BENCH_TRIALS:-3}
work=$build/bench/pg
mkdir -p "$work"
sluice=$build/sluice

log() { printf '%s\n' "$*" >&2; }

bash "$here/../tests/integration/pg_cluster.sh" start "$work/cluster" >&2
trap 'bash "$here/../tests/integration/pg_cluster.sh" stop "$work/cluster" >&2' EXIT
# shellcheck disable=SC1091
. "$work/cluster/env.sh"
export PGOPTIONS="-c client_min_messages=warning"
psql -qX -c "CREATE DATABASE bsrc" -c "CREATE DATABASE bdst" >/dev/null
SRC="$SL_PG_URL/bsrc"
DST="$SL_PG_URL/bdst"
s() { psql -qXAt -v ON_ERROR_STOP=1 -d bsrc -c "$1"; }
d() { psql -qXAt -v ON_ERROR_STOP=1 -d bdst -c "$1"; }

ddl="(id bigint PRIMARY KEY, customer text, email text, amount numeric(12,2), status text,
      created_at timestamptz, updated_at timestamptz, note text)"
log "generating $rows rows"
s "CREATE TABLE orders $ddl"
s "INSERT INTO orders SELECT i, 'customer ' || (i % 50000), 'user' || i || '@example.com',
     (i % 100000) / 100.0, (array['placed', 'paid', 'shipped', 'returned'])[1 + i % 4],
     '2024-01-01'::timestamptz + i * interval '7 s', '2024-06-01'::timestamptz + i * interval '3 s',
     CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || md5(i::text) END
   FROM generate_series(1, $rows) i"
s "VACUUM ANALYZE orders"

cat >"$work/b.yaml" <<YAML
connections:
  src: { url: "$SRC" }
  wh: { url: "$DST" }
pipelines:
  - name: snap
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: b_orders, source_table: orders, kind: snapshot, primary_key: [id] }
YAML

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; return 1; }; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
pipe_copy() {
  psql -qX -d bsrc -c "COPY orders TO STDOUT (FORMAT binary)" |
    psql -qX -d bdst -c "COPY p_orders FROM STDIN (FORMAT binary)"
}
counts() { psql -qXAt -d bsrc -c "SELECT count(*) FROM orders" && psql -qXAt -d bdst -c "SELECT count(*) FROM b_orders"; }

: >"$work/t_sluice"; : >"$work/t_pipe"; : >"$work/t_pgcopydb"; : >"$work/t_rec"; : >"$work/t_count"
for i in $(seq "$trials"); do
  log "trial $i/$trials"
  # sluice: a fresh warehouse each time (the first snapshot creates the table)
  d "DROP TABLE IF EXISTS b_orders; DROP SCHEMA IF EXISTS _sluice CASCADE"
  secs "$sluice" --quiet run "$work/b.yaml" >>"$work/t_sluice"
  [ "$(d 'SELECT count(*) FROM b_orders')" = "$rows" ] || { log "sluice lost rows"; exit 1; }
  # psql binary COPY pipe into a table of the same shape
  d "DROP TABLE IF EXISTS p_orders; CREATE TABLE p_orders $ddl"
  secs pipe_copy >>"$work/t_pipe"
  # pgcopydb: the table of the same shape in a database of its own
  if command -v pgcopydb >/dev/null; then
    psql -qX -c "DROP DATABASE IF EXISTS bcopy" -c "CREATE DATABASE bcopy" >/dev/null
    psql -qXAt -v ON_ERROR_STOP=1 -d bcopy -c "CREATE TABLE orders $ddl"
    rm -rf "$work/pgcopydb"
    secs pgcopydb copy table-data --source "$SRC" --target "$SL_PG_URL/bcopy" \
      --dir "$work/pgcopydb" >>"$work/t_pgcopydb"
    [ "$(psql -qXAt -d bcopy -c 'SELECT count(*) FROM orders')" = "$rows" ] || log "pgcopydb copied $(psql -qXAt -d bcopy -c 'SELECT count(*) FROM orders') rows"
  fi
  # reconcile of the equal tables vs one count(*) on each
  secs counts >>"$work/t_count"
  secs "$sluice" --quiet reconcile "$work/b.yaml" >>"$work/t_rec"
done
"$sluice" --quiet reconcile "$work/b.yaml" | grep -q "in sync" || { log "reconcile did not find the tables in sync"; exit 1; }

t_sluice=$(median <"$work/t_sluice"); t_pipe=$(median <"$work/t_pipe")
t_rec=$(median <"$work/t_rec"); t_count=$(median <"$work/t_count")
t_pgc=$( [ -s "$work/t_pgcopydb" ] && median <"$work/t_pgcopydb" || echo "")
{
  echo "sluice postgres source bench: $rows rows, median of $trials, $(nproc) cores, $(date -u +%F)"
  printf 'snapshot  sluice %6.2f s   psql binary copy pipe %6.2f s   ratio %s (target <= 1.2)\n' \
    "$t_sluice" "$t_pipe" "$(ratio "$t_sluice" "$t_pipe")"
  if [ -n "$t_pgc" ]; then
    printf 'snapshot  pgcopydb copy table-data %6.2f s   pgcopydb / sluice %s (target > 1)\n' \
      "$t_pgc" "$(ratio "$t_pgc" "$t_sluice")"
  fi
  printf 'reconcile sluice %6.2f s   count(*) on each %6.2f s   ratio %s (target < 3)\n' \
    "$t_rec" "$t_count" "$(ratio "$t_rec" "$t_count")"
} | tee "$build/bench/report_pg.txt"
