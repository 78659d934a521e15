#!/usr/bin/env bash
# The three table kinds, end to end, into PostgreSQL and SQLite: append,
# versioned (highest version wins whatever order drops arrive in, an older
# version never overwrites a newer one, ties keep the stored row) and snapshot
# (swapped in whole); CSV, TSV, JSON lines, gzip and zstd drops.
. "$(dirname "$0")/lib.sh"
new_db

for dest in pg lite; do
  W="$T_DIR/$dest"
  mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/sluice.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: ${dest}_orders
    source: { kind: files, path: drops/orders, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_orders
        kind: versioned
        primary_key: [id]
        version_key: version
        columns: { amount: numeric }
  - name: ${dest}_events
    source: { kind: files, path: drops/events, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_events, kind: append }
  - name: ${dest}_catalog
    source: { kind: files, path: drops/catalog, format: tsv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_catalog, kind: snapshot, primary_key: [sku] }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }

  # versioned: drop 2 carries an older version of id 1 and a newer one of id 2
  printf 'id,amount,version,note\n1,10.50,5,first\n2,20.00,1,first\n3,30.25,1,first\n' | drop "$W/drops/orders" a.csv
  sluice run "$W/sluice.yaml" ${dest}_orders
  check "$dest: first versioned drop loads (rc)" 0 "$RC"
  printf 'id,amount,version,note\n1,11.00,4,older\n2,21.00,2,newer\n4,40.00,1,new\n3,99.99,1,tie\n' | drop "$W/drops/orders" b.csv
  sluice run "$W/sluice.yaml" ${dest}_orders
  check "$dest: second versioned drop loads (rc)" 0 "$RC"
  check "$dest: versioned_older_version_never_overwrites, ties keep stored row" \
    "1|10.50|5|first
2|21.00|2|newer
3|30.25|1|first
4|40.00|1|new" "$(q "select id, amount, version, note from ${dest}_orders order by id")"
  # the same two versions arriving in the other order give the same table
  printf 'id,amount,version,note\n7,1.00,2,newer\n' | drop "$W/drops/orders" c.csv
  sluice run "$W/sluice.yaml" ${dest}_orders
  printf 'id,amount,version,note\n7,2.00,1,older\n' | drop "$W/drops/orders" d.csv
  sluice run "$W/sluice.yaml" ${dest}_orders
  check "$dest: versioned_order_of_drops_does_not_matter" "1.00|2|newer" \
    "$(q "select amount, version, note from ${dest}_orders where id = 7")"
  check "$dest: rows carry their batch" "0" \
    "$(q "select count(*) from ${dest}_orders where _sluice_batch is null")"
  check "$dest: drops moved to done/" "a.csv b.csv c.csv d.csv" "$(ls "$W/drops/orders/done" | sort | xargs)"

  # append: JSON lines, plain, gzip and zstd
  printf '{"id":1,"kind":"a","amount":1.5,"at":"2026-01-01T00:00:00Z","tags":["x"]}\n{"id":2,"kind":"b","amount":2,"at":"2026-01-01T01:00:00+01:00","tags":[]}\n' | drop "$W/drops/events" e1.jsonl
  printf '{"id":3,"kind":"c","amount":3.25,"at":"2026-01-02T00:00:00Z","tags":null}\n' | gzip | drop "$W/drops/events" e2.jsonl.gz
  printf '{"id":4,"kind":"d","amount":4,"at":"2026-01-03T00:00:00Z","tags":[1,2]}\n' | zstd -q | drop "$W/drops/events" e3.ndjson.zst
  sluice run "$W/sluice.yaml" ${dest}_events
  check "$dest: append drops load (rc)" 0 "$RC"
  check "$dest: append keeps every row once" "1|a|1.5
2|b|2
3|c|3.25
4|d|4" "$(q "select id, kind, amount from ${dest}_events order by id")"
  if [ $dest = pg ]; then
    check "$dest: inferred types" "id:bigint kind:text amount:numeric at:timestamp with time zone tags:jsonb" \
      "$(pg "select string_agg(column_name || ':' || data_type, ' ' order by ordinal_position) from information_schema.columns where table_name = 'pg_events' and column_name <> '_sluice_batch'")"
    check "$dest: timestamps stored in UTC" "2026-01-01 00:00:00+00" \
      "$(pg "select at from pg_events where id = 2")"
  else
    check "$dest: timestamps stored in UTC" "2026-01-01T00:00:00.000000Z" \
      "$(lite "$W/wh.db" "select at from lite_events where id = 2")"
  fi

  # snapshot: the second drop replaces the first whole
  printf 'sku\tname\tprice\nA\tWidget\t1.00\nB\tGadget\t2.00\nC\tGizmo\t3.00\n' | drop "$W/drops/catalog" cat1.tsv
  sluice run "$W/sluice.yaml" ${dest}_catalog
  check "$dest: first snapshot loads" "3" "$(q "select count(*) from ${dest}_catalog")"
  printf 'sku\tname\tprice\nB\tGadget v2\t2.50\nD\tDoohickey\t4.00\n' | drop "$W/drops/catalog" cat2.tsv
  sluice run "$W/sluice.yaml" ${dest}_catalog
  check "$dest: snapshot replaced whole" "B|Gadget v2|2.50
D|Doohickey|4.00" "$(q "select sku, name, price from ${dest}_catalog order by sku")"
  check "$dest: no leftover new tables" "0" \
    "$(if [ $dest = pg ]; then pg "select count(*) from pg_tables where tablename like '\\_sluice\\_new%'"; else lite "$W/wh.db" "select count(*) from sqlite_master where name like '%sluice_new%'"; fi)"

  sluice batches "$W/sluice.yaml" --json
  check "$dest: batches --json lists every committed batch" "9" \
    "$(python3 -c 'import json,sys; print(sum(1 for b in json.load(sys.stdin) if b["state"]=="committed"))' <<<"$OUT")"
  sluice status "$W/sluice.yaml"
  check "$dest: status exits 0" 0 "$RC"
  check_contains "$dest: status shows the table ok" "${dest}_orders" "$OUT"
done
finish
