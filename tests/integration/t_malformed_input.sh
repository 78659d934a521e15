#!/usr/bin/env bash
# Malformed input: an unterminated quote, a wrong column count, bad UTF-8 and
# a value not of its column's type, each at the end of a long drop so rows
# were already streaming. Each gives exit 1 and an error naming
# file:line:column, lands in failed/ with a .error file, and leaves the table
# and the committed ledger exactly as they were.
. "$(dirname "$0")/lib.sh"
new_db
for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_t
        kind: versioned
        primary_key: [id]
        version_key: v
        columns: { id: bigint, v: bigint, amount: numeric, name: text }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  good() { echo "id,v,amount,name"; seq 1 20000 | awk '{printf "%d,%d,%d.5,name %d\n", $1, 1, $1, $1}'; }
  good | drop "$W/in" good.csv
  sluice run "$W/s.yaml"
  check "$dest: good drop loads" 0 "$RC"
  fingerprint() {
    echo "$(q "select count(*), sum(id), sum(v), sum(amount), max(name), max(_sluice_batch) from ${dest}_t")" \
         "$(q "select count(*), max(id) from $( [ $dest = pg ] && echo _sluice.batches || echo _sluice_batches ) where state = 'committed'")" \
         "$(q "select count(*) from $( [ $dest = pg ] && echo _sluice.files || echo _sluice_files )")"
  }
  before=$(fingerprint)
  # more versions of the same keys, so a half-load would show
  more() { echo "id,v,amount,name"; seq 1 20000 | awk '{printf "%d,%d,%d.75,changed %d\n", $1, 2, $1, $1}'; }

  { more; printf '20001,2,1.0,"never closed\n20002,2,2.0,x\n'; } | drop "$W/in" unterminated.csv
  sluice run "$W/s.yaml"
  check "$dest: unterminated quote exits 1" 1 "$RC"
  check_contains "$dest: unterminated quote names file:line:col" "in/unterminated.csv:20004:1: unterminated" "$ERR"
  check_contains "$dest: unterminated quote says what" "unterminated quoted field (started at 20002:13)" "$ERR"
  check "$dest: unterminated quote leaves table and ledger" "$before" "$(fingerprint)"

  { more; printf '20001,2,1.0,x,extra\n'; } | drop "$W/in" columns.csv
  sluice run "$W/s.yaml"
  check "$dest: wrong column count exits 1" 1 "$RC"
  check_contains "$dest: wrong column count names file:line:col" "in/columns.csv:20002:" "$ERR"
  check_contains "$dest: wrong column count says what" "expected 4 fields, found 5" "$ERR"
  check "$dest: wrong column count leaves table and ledger" "$before" "$(fingerprint)"

  { more; printf '20001,2,1.0,caf\xe9\n'; } | drop "$W/in" utf8.csv
  sluice run "$W/s.yaml"
  check "$dest: bad UTF-8 exits 1" 1 "$RC"
  check_contains "$dest: bad UTF-8 names file:line:col" "in/utf8.csv:20002:16: invalid UTF-8" "$ERR"
  check "$dest: bad UTF-8 leaves table and ledger" "$before" "$(fingerprint)"

  { more; printf '20001,2,12x.5,fine\n'; } | drop "$W/in" type.csv
  sluice run "$W/s.yaml"
  check "$dest: bad value exits 1" 1 "$RC"
  check_contains "$dest: bad value names file:line:col and column" 'in/type.csv:20002:9: column "amount" (numeric)' "$ERR"
  check "$dest: bad value leaves table and ledger" "$before" "$(fingerprint)"


  check "$dest: bad drops moved to failed/ with .error files" \
    "columns.csv columns.csv.error type.csv type.csv.error unterminated.csv unterminated.csv.error utf8.csv utf8.csv.error" \
    "$(ls "$W/in/failed" | sort | xargs)"
  check_contains "$dest: .error says where" "in/type.csv:20002:9:" "$(cat "$W/in/failed/type.csv.error")"
  sluice status "$W/s.yaml"
  check_contains "$dest: status shows the table failing" "failing" "$OUT"

  # a new column in a drop that fails: the log never says it was added
  { echo "id,v,amount,name,extra"; seq 1 100 | awk '{printf "%d,3,%d.5,n,e\n", $1, $1}'; printf '101,3,bad,n,e\n'; } | drop "$W/in" newcol.csv
  sluice run "$W/s.yaml"
  check "$dest: a failing drop with a new column exits 1" 1 "$RC"
  check "$dest: the log does not say a column was added by a batch that rolled back" "" \
    "$(echo "$ERR" | grep 'added column' || true)"
  rm -f "$W/in/failed/newcol.csv" "$W/in/failed/newcol.csv.error"
  { echo "id,v,amount,name,extra"; echo "1,4,1.5,n,e"; } | drop "$W/in" newcol_ok.csv
  sluice run "$W/s.yaml"
  check_contains "$dest: and says it once the batch commits" 'added column "extra" (text)' "$ERR"
  q "update ${dest}_t set v = 1 where id = 1" >/dev/null

  # a new table whose first drop fails: no table is left, and the log never
  # says one was created
  sed "s/^      - name: ${dest}_t\$/      - { name: ${dest}_new, kind: append, pattern: \"new-*.csv\" }\n      - name: ${dest}_t\n        pattern: \"[!n]*.csv\"/" \
    "$W/s.yaml" >"$W/s2.yaml"
  { echo "id,amount"; seq 1 50 | sed 's/$/,1.5/'; echo "51,2.5"; printf '52,"open\n'; } | drop "$W/in" new-1.csv
  sluice run "$W/s2.yaml"
  check "$dest: a failing first drop of a new table exits 1" 1 "$RC"
  check "$dest: the log does not say a table was created by a batch that rolled back" "" \
    "$(echo "$ERR" | grep 'created table' || true)"
  if [ $dest = pg ]; then got=$(pg "select to_regclass('${dest}_new')"); else
    got=$(lite "$W/wh.db" "select name from sqlite_master where name = '${dest}_new'"); fi
  check "$dest: ... and no table is left" "" "$got"
  { echo "id,amount"; echo "1,1.5"; } | drop "$W/in" new-2.csv
  sluice run "$W/s2.yaml"
  check_contains "$dest: a good first drop says it created the table" "table=${dest}_new batch=" \
    "$(echo "$ERR" | grep 'created table' || true)"
  rm -f "$W/in/failed/new-1.csv" "$W/in/failed/new-1.csv.error"

  # fixed and dropped again: loads (the batch is resumable)
  more | drop "$W/in" fixed.csv
  sluice run "$W/s.yaml"
  check "$dest: the fixed drop loads" 0 "$RC"
  check "$dest: every row took the new version" "20000" "$(q "select count(*) from ${dest}_t where v = 2")"
done
finish
