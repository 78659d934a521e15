#!/usr/bin/env bash
# An append table with a primary key and a unique_key gate, into PostgreSQL
# and SQLite:
#   duplicate_in_drop_is_gated  a key twice within one drop is the gate's to
#       judge, though the warehouse's key refuses it first: quarantine holds
#       the drop (exit 3, table unchanged), fail fails it with the gate's
#       report (exit 1)
#   key_loaded_before_fails     a key an earlier batch loaded is refused by
#       the append table itself (exit 1), nothing of the drop visible
. "$(dirname "$0")/lib.sh"
new_db
for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: q
    source: { kind: files, path: in/q, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: ${dest}_evq, kind: append, primary_key: [id], gates: { unique_key: quarantine } } ]
  - name: f
    source: { kind: files, path: in/f, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: ${dest}_evf, kind: append, primary_key: [id], gates: { unique_key: fail } } ]
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  printf 'id,v\n1,a\n2,b\n' | drop "$W/in/q" a.csv
  printf 'id,v\n1,a\n2,b\n' | drop "$W/in/f" a.csv
  sluice run "$W/s.yaml"
  check "$dest: first drops load" 0 "$RC"
  printf 'id,v\n3,a\n4,x\n3,b\n' | drop "$W/in/q" dup.csv
  sluice run "$W/s.yaml" q
  check "$dest: a key twice in a drop, unique_key quarantine: held (exit 3)" 3 "$RC"
  check "$dest: held in quarantine/, the table unchanged" "dup.csv 2" "$(ls "$W/in/q/quarantine" | xargs) $(q "select count(*) from ${dest}_evq")"
  check_contains "$dest: the report names the gate and the key" '1 duplicate key (id), e.g. id=3' "$ERR"
  printf 'id,v\n3,a\n4,x\n3,b\n' | drop "$W/in/f" dup.csv
  sluice run "$W/s.yaml" f
  check "$dest: a key twice in a drop, unique_key fail: failed (exit 1)" 1 "$RC"
  check_contains "$dest: failed by the gate" "gate(s) failed: unique_key" "$ERR"
  check "$dest: nothing of it visible" 2 "$(q "select count(*) from ${dest}_evf")"
  printf 'id,v\n2,again\n5,new\n' | drop "$W/in/f" again.csv
  sluice run "$W/s.yaml" f
  check "$dest: a key an earlier batch loaded: refused by the append table (exit 1)" 1 "$RC"
  check_contains "$dest: and said so" "duplicate" "$ERR"
  check "$dest: nothing of that drop visible" 2 "$(q "select count(*) from ${dest}_evf")"
done
finish
