#!/usr/bin/env bash
# bench/run.sh BUILD_DIR: sluice against its peers, in the same session, as ratios.
#
#   1. append: a 2,000,000-row CSV (~260 MB) into PostgreSQL
#        sluice run   vs  psql \copy (same file, same table shape)  vs  pgloader
#   2. versioned merge of the same file into a table already holding it
#        sluice run (merge by primary key, highest version wins)  vs  psql \copy
#   3. peak RSS of sluice for that file and for one twice its size
#
# Each timing is the median of BENCH_TRIALS runs (default 3), peers
# interleaved so that noise on this 2-core machine hits all of them alike.
# Data is generated here (bench/gen_csv.py, seeded). The PostgreSQL cluster is
# a throwaway one (tests/integration/pg_cluster.sh), shared by every peer.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
rows=${BENCH_ROWS:-2000000}
trials=${BENCH_TRIALS:-3}
work=$build/bench
mkdir -p "$work"
sluice=$build/sluice

log() { printf '%s\n' "$*" >&2; }

# ---- data ----
csv=$work/orders-$rows.csv
csv2=$work/orders-$((rows * 2)).csv
[ -s "$csv" ] || { log "generating $csv"; python3 "$here/gen_csv.py" "$rows" "$csv"; }
[ -s "$csv2" ] || { log "generating $csv2"; python3 "$here/gen_csv.py" $((rows * 2)) "$csv2"; }
mb=$(( $(stat -c %s "$csv") / 1000000 ))

# ---- cluster ----
bash "$here/../tests/integration/pg_cluster.sh" start "$work/pg" >&2
trap 'bash "$here/../tests/integration/pg_cluster.sh" stop "$work/pg" >&2' EXIT
# shellcheck disable=SC1091
. "$work/pg/env.sh"
psql -qX -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" >/dev/null
url="$SL_PG_URL/bench"
q() { PGOPTIONS="-c client_min_messages=warning" psql -qXAt -v ON_ERROR_STOP=1 -d bench -c "$1"; }

cols="id,customer,email,amount,status,created_at,updated_at,note"
write_cfg() {   # write_cfg KIND TABLE
  cat >"$work/$2.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: $2
    source: { kind: files, path: drops/$2, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: $2
        kind: $1
        primary_key: [id]
        version_key: updated_at
        columns: { id: bigint, customer: text, email: text, amount: numeric,
                   status: text, created_at: timestamptz, updated_at: timestamptz, note: text }
YAML
  rm -rf "$work/drops/$2" && mkdir -p "$work/drops/$2"
}
# offer FILE TABLE: put the drop in place (a hard link; sluice moves it to done/)
offer() { rm -rf "$work/drops/$2/done"; ln -f "$1" "$work/drops/$2/$(basename "$1")"; touch -d '-1 minute' "$work/drops/$2/$(basename "$1")"; }

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; return 1; }; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

write_cfg append b_append
write_cfg versioned b_versioned
: >"$work/t_sluice"; : >"$work/t_copy"; : >"$work/t_pgloader"; : >"$work/t_merge"; : >"$work/t_vload"

for i in $(seq "$trials"); do
  log "trial $i/$trials"
  # sluice append into a fresh table and ledger
  q "DROP TABLE IF EXISTS b_append; DROP SCHEMA IF EXISTS _sluice CASCADE"
  offer "$csv" b_append
  secs "$sluice" --quiet run "$work/b_append.yaml" >>"$work/t_sluice"
  [ "$(q 'select count(*) from b_append')" = "$rows" ] || { log "sluice append lost rows"; exit 1; }
  # psql \copy into a table of the same shape
  q "DROP TABLE IF EXISTS c_append; CREATE TABLE c_append (LIKE b_append INCLUDING ALL); ALTER TABLE c_append ALTER _sluice_batch SET DEFAULT 0"
  secs psql -qX -d bench -c "\\copy c_append($cols) from '$csv' with (format csv, header true)" >>"$work/t_copy"
  # pgloader, same file, same columns (pgloader cannot leave _sluice_batch to
  # its default, so its table goes without that column: in its favour)
  if command -v pgloader >/dev/null; then
    q "DROP TABLE IF EXISTS p_append; CREATE TABLE p_append (LIKE b_append INCLUDING ALL); ALTER TABLE p_append DROP COLUMN _sluice_batch"
    secs pgloader --quiet --type csv --field "$cols" --with "skip header = 1" \
      --with "fields terminated by ','" --with "fields optionally enclosed by '\"'" \
      --with "fields escaped by double-quote" \
      "$csv" "$url?tablename=p_append" >>"$work/t_pgloader"
    [ "$(q 'select count(*) from p_append')" = "$rows" ] || log "pgloader loaded $(q 'select count(*) from p_append') rows"
  fi
  # versioned: first load, then merge the same file again (the content
  # record is removed so the drop is not skipped as a duplicate)
  q "DROP TABLE IF EXISTS b_versioned; DELETE FROM _sluice.files WHERE table_name = 'b_versioned'" 2>/dev/null || true
  offer "$csv" b_versioned
  secs "$sluice" --quiet run "$work/b_versioned.yaml" >>"$work/t_vload"
  q "DELETE FROM _sluice.files WHERE table_name = 'b_versioned'"
  offer "$csv" b_versioned
  secs "$sluice" --quiet run "$work/b_versioned.yaml" >>"$work/t_merge"
  [ "$(q 'select count(*) from b_versioned')" = "$rows" ] || { log "versioned merge changed the row count"; exit 1; }
done

t_sluice=$(median <"$work/t_sluice"); t_copy=$(median <"$work/t_copy")
t_merge=$(median <"$work/t_merge"); t_vload=$(median <"$work/t_vload")
t_pgl=$( [ -s "$work/t_pgloader" ] && median <"$work/t_pgloader" || echo "")

# ---- memory ----
rss() {  # rss FILE -> peak KB of one sluice append run
  q "DROP TABLE IF EXISTS b_append; DELETE FROM _sluice.files WHERE table_name = 'b_append'"
  offer "$1" b_append
  /usr/bin/time -f %M -o "$work/rss" "$sluice" --quiet run "$work/b_append.yaml" >/dev/null
  cat "$work/rss"
}
rss1=$(rss "$csv"); rss2=$(rss "$csv2")

{
  echo "sluice bench: $rows rows, $mb MB CSV, median of $trials, $(nproc) cores, $(date -u +%F)"
  printf 'append    sluice %6.2f s   psql \\copy %6.2f s   ratio %s (target <= 1.25)\n' "$t_sluice" "$t_copy" "$(ratio "$t_sluice" "$t_copy")"
  if [ -n "$t_pgl" ]; then
    printf 'append    pgloader %6.2f s   pgloader / sluice %s (target >= 5)\n' "$t_pgl" "$(ratio "$t_pgl" "$t_sluice")"
  fi
  printf 'versioned first load %6.2f s   re-merge %6.2f s   merge / \\copy %s (target <= 2.5)\n' "$t_vload" "$t_merge" "$(ratio "$t_merge" "$t_copy")"
  printf 'peak RSS  %d MB for %s MB, %d MB for %s MB (target < 100 MB, flat)\n' "$((rss1 / 1024))" "$mb" "$((rss2 / 1024))" "$((mb * 2))"
} | tee "$work/report.txt"
