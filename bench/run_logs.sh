#!/usr/bin/env bash
# bench/run_logs.sh BUILD_DIR: a log drop against psql \copy, as a ratio.
#
#   a combined-format access log of 2,000,000 lines into PostgreSQL
#     sluice run (format: combined: parse, UTC times, typed, COPY with its ledger row)
#     vs  psql \copy of the same records already converted to CSV, into a
#         table of the same shape
#
# Median of BENCH_TRIALS runs (default 3), the two interleaved so that noise on
# this 2-core machine hits both alike. Data is generated here
# (bench/gen_access.py, seeded). The PostgreSQL cluster is a throwaway one
# (tests/integration/pg_cluster.sh). Report in BUILD_DIR/bench/report_logs.txt.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
lines=${BENCH_LINES:-2000000}
trials=${BENCH_TRIALS:-3}
work=$build/bench/logs
mkdir -p "$work"
sluice=$build/sluice

log() { printf '%s\n' "$*" >&2; }

accesslog=$work/access-$lines.log
csv=$work/access-$lines.csv
[ -s "$accesslog" ] && [ -s "$csv" ] || { log "generating $accesslog"; python3 "$here/gen_access.py" "$lines" "$accesslog" "$csv"; }
mb=$(( $(stat -c %s "$accesslog") / 1000000 ))

bash "$here/../tests/integration/pg_cluster.sh" start "$work/pg" >&2
trap 'bash "$here/../tests/integration/pg_cluster.sh" stop "$work/pg" >&2' EXIT
# shellcheck disable=SC1091
. "$work/pg/env.sh"
psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
url="$SL_PG_URL/bench"
q() { PGOPTIONS="-c client_min_messages=warning" psql -qXAt -v ON_ERROR_STOP=1 -d bench -c "$1"; }

cat >"$work/logs.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: access
    source: { kind: files, path: drops, format: combined, settle: 0s }
    destination: wh
    tables:
      - { name: b_access, kind: append }
YAML
offer() { rm -rf "$work/drops" && mkdir -p "$work/drops"; ln -f "$1" "$work/drops/$(basename "$1")"; touch -d '-1 minute' "$work/drops/$(basename "$1")"; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; return 1; }; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

cols="ts,client,ident,\"user\",method,path,protocol,status,bytes,referer,user_agent,lineno"
: >"$work/t_sluice"; : >"$work/t_copy"
for i in $(seq "$trials"); do
  log "trial $i/$trials"
  q "DROP TABLE IF EXISTS b_access; DROP SCHEMA IF EXISTS _sluice CASCADE"
  offer "$accesslog"
  secs "$sluice" --quiet run "$work/logs.yaml" >>"$work/t_sluice"
  [ "$(q 'select count(*) from b_access')" = "$lines" ] || { log "sluice lost lines"; exit 1; }
  q "DROP TABLE IF EXISTS c_access; CREATE TABLE c_access (LIKE b_access INCLUDING ALL); ALTER TABLE c_access ALTER _sluice_batch SET DEFAULT 0"
  secs psql -qX -d bench -c "\\copy c_access($cols) from '$csv' with (format csv, header true)" >>"$work/t_copy"
  [ "$(q 'select count(*) from c_access')" = "$lines" ] || { log "psql lost lines"; exit 1; }
done
# the same rows both ways
diff <(q "select md5(string_agg(t::text, ',' order by lineno)) from (select ts, client, ident, \"user\", method, path, protocol, status, bytes, referer, user_agent, lineno from b_access) t") \
     <(q "select md5(string_agg(t::text, ',' order by lineno)) from (select ts, client, ident, \"user\", method, path, protocol, status, bytes, referer, user_agent, lineno from c_access) t") \
  >/dev/null || { log "sluice and psql loaded different rows"; exit 1; }

t_sluice=$(median <"$work/t_sluice"); t_copy=$(median <"$work/t_copy")
{
  echo "sluice log bench: $lines combined-format lines, $mb MB, median of $trials, $(nproc) cores, $(date -u +%F)"
  printf 'combined  sluice %6.2f s   psql \\copy of the CSV %6.2f s   ratio %s (target <= 1.5)\n' \
    "$t_sluice" "$t_copy" "$(ratio "$t_sluice" "$t_copy")"
} | tee "$build/bench/report_logs.txt"
