#!/usr/bin/env bash
# `snapshots: { every, keep }`: after a run, a table whose newest snapshot is
# older than `every` gets a new one, and only the newest `keep` stay.
# PostgreSQL and SQLite.
. "$(dirname "$0")/lib.sh"
new_db
for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; S=_sluice.snapshots; else url="sqlite://wh.db"; S=_sluice_snapshots; fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: ${dest}_t, kind: append } ]
    snapshots: { every: 1s, keep: 2 }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  for i in 1 2 3 4; do
    printf 'id\n%d\n' "$i" | drop "$W/in" "d$i.csv"
    sluice run "$W/s.yaml"
    check "$dest: run $i loads" 0 "$RC"
    [ $i = 1 ] && check "$dest: first run takes a snapshot" "1" "$(q "select count(*) from $S where table_name = '${dest}_t'")"
    sleep 1.1
  done
  check "$dest: only the newest 2 snapshots are kept" "2" "$(q "select count(*) from $S where table_name = '${dest}_t'")"
  check "$dest: the newest snapshot holds every row" "4" "$(q "select rows from $S where table_name = '${dest}_t' order by id desc limit 1")"
  check_contains "$dest: the run says it took one" "took snapshot" "$ERR"
done
finish
