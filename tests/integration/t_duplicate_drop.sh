#!/usr/bin/env bash
# The same bytes dropped twice, under two names and in two runs: loaded once,
# the copy reported and moved to done/. A snapshot table remembers only the
# content it holds now: the same snapshot twice in a row is skipped, but a
# snapshot going back to an earlier content (A, B, A) loads, and leaves A.
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
    tables: [ { name: ${dest}_payments, kind: append } ]
  - name: s
    source: { kind: files, path: snap, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: ${dest}_prices, kind: snapshot } ]
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  printf 'id,amount\n1,10\n2,20\n' >"$T_DIR/payload.csv"
  drop "$W/in" monday.csv <"$T_DIR/payload.csv"
  drop "$W/in" monday-copy.csv <"$T_DIR/payload.csv"
  sluice run "$W/s.yaml"
  check "$dest: run with a duplicate succeeds" 0 "$RC"
  check_contains "$dest: duplicate reported" "skipped, same content already loaded by batch" "$ERR"
  check_contains "$dest: summary counts it" "1 committed (2 rows), 1 duplicate" "$OUT"
  check "$dest: loaded once" "2" "$(q "select count(*) from ${dest}_payments")"
  drop "$W/in" tuesday-resend.csv <"$T_DIR/payload.csv"
  sluice run "$W/s.yaml"
  check "$dest: still once after a later resend" "2" "$(q "select count(*) from ${dest}_payments")"
  check "$dest: all three files in done/" "3" "$(ls "$W/in/done" | wc -l)"

  snap() { printf 'id,v\n1,%s\n' "$1" | drop "$W/snap" "$2"; sluice run "$W/s.yaml" s; }
  snap a a.csv; snap a a-again.csv
  check "$dest: the same snapshot twice in a row is skipped" "1 duplicate" "$(echo "$OUT" | grep -o '1 duplicate')"
  snap b b.csv; snap a a-back.csv
  check "$dest: a snapshot back to an earlier content (A, B, A) loads" "1 committed (1 rows), 0 duplicate" \
    "$(echo "$OUT" | grep -o '1 committed (1 rows), 0 duplicate')"
  check "$dest: and the table holds A, not B" "a" "$(q "select v from ${dest}_prices")"
done
finish
