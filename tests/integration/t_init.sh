#!/usr/bin/env bash
# sluice init: a starter config from what is there.
#   folder_config_checks_and_loads  a folder with csv, tsv, jsonl.gz and .zst (a key only the second has) and an
#       nginx-style access log: one pipeline per kind of file, with its
#       format, delimiter, header, column types and key suggestion (versioned
#       where an updated_at column exists, append elsewhere); `sluice check`
#       accepts it and `sluice run` loads every file
#   two_headers_two_pipelines  csv files of two header shapes in one folder
#       are two pipelines, each taking only its own files
#   database_config_checks_and_copies  a table with a primary key and
#       updated_at is an incremental updater with cursor [updated_at, id],
#       one with a key and an indexed timestamptz is incremental on that,
#       one with a key only and one without are snapshots; check accepts the
#       config, run copies all three, reconcile finds the two with a key in sync (a
#       table without one has nothing to compare by)
#   output_file_not_overwritten  -o FILE writes the config there, and refuses
#       a FILE that exists (exit 2, the file untouched)
#   usage  init without --from: exit 2 and its usage line
. "$(dirname "$0")/lib.sh"

# --- folder_config_checks_and_loads
D="$T_DIR/drops"
printf 'id,customer,amount,updated_at\n1,acme,10.5,2024-01-01T00:00:00Z\n2,globex,20,2024-01-02T00:00:00Z\n3,acme,7.25,2024-01-03T00:00:00Z\n' |
  drop "$D" orders_1.csv
printf 'id,customer,amount,updated_at\n4,initech,1,2024-01-04T00:00:00Z\n' | drop "$D" orders_2.csv
printf 'sku\tname\tprice\nA1\tbolt\t3\nB2\tnut\t4\nC3\tgear\t4\n' | drop "$D" products.tsv
printf '{"event_id":"e1","kind":"click","n":1}\n{"event_id":"e2","kind":"view","n":2,"meta":{"x":1}}\n' |
  gzip | drop "$D/events" day1.jsonl.gz
printf '{"event_id":"e3","kind":"click","n":3,"ref":"ad"}\n' | zstd -q | drop "$D/events" day2.jsonl.zst
printf '%s\n' \
  '127.0.0.1 - - [10/Oct/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 2326 "-" "curl/8.0"' \
  '10.0.0.1 - bob [10/Oct/2024:13:55:37 +0000] "POST /b HTTP/1.1" 404 12 "http://x/" "Mozilla/5.0"' \
  '10.0.0.2 - - [10/Oct/2024:13:55:38 +0000] "GET /c HTTP/1.1" 200 99 "-" "Mozilla/5.0"' |
  drop "$D" access.log
cd "$T_DIR"
sluice init --from "$D"
check "init --from DIR: exit 0" 0 "$RC"
printf '%s\n' "$OUT" >folder.yaml
check "one pipeline per kind of file (csv, tsv, jsonl, access log)" 4 "$(grep -c '^  - name: ' folder.yaml)"
check_contains "the csv: versioned by updated_at, keyed on id" \
  "kind: versioned" "$(sed -n '/- name: orders/,/^$/p' folder.yaml)"
check_contains "the csv: version_key updated_at" "version_key: updated_at" "$OUT"
check_contains "the csv: its column types inferred" '"amount": numeric' "$OUT"
check_contains "the csv: updated_at a timestamptz" '"updated_at": timestamptz' "$OUT"
check_contains "the tsv: its delimiter" 'delimiter: "\t"' "$OUT"
check_contains "the tsv: keyed on its unique column" "primary_key: [sku]" "$OUT"
check_contains "the jsonl.gz: format jsonl" "format: jsonl" "$OUT"
check_contains "the jsonl.gz: keyed on event_id" "primary_key: [event_id]" "$OUT"
check_contains "the jsonl.gz: a nested object is json" '"meta": json' "$OUT"
check_contains "the jsonl: a key only the second file has is a column too" '"ref": text' "$OUT"
check_contains "the access log: read as the combined log format" "format: combined" "$OUT"
check_contains "comments say where each pipeline comes from" "# 2 files like $D/orders_1.csv: csv" "$OUT"
sluice check folder.yaml
check "sluice check accepts the folder's config" 0 "$RC"
sluice run folder.yaml
check "sluice run loads it: exit 0" 0 "$RC"
check "orders: every row of both files" 4 "$(lite warehouse.db 'SELECT count(*) FROM orders')"
check "orders: amounts as numbers" "38.75" "$(lite warehouse.db 'SELECT sum(amount) FROM orders')"
check "products: every row" 3 "$(lite warehouse.db 'SELECT count(*) FROM products')"
check "events: every row of both files" 3 "$(lite warehouse.db 'SELECT count(*) FROM events')"
check "access log: every record" 3 "$(lite warehouse.db 'SELECT count(*) FROM access')"
check "access log: the status parsed" 404 "$(lite warehouse.db "SELECT status FROM access WHERE user = 'bob'")"
check "every file moved to done/" 6 "$(find "$D" -path '*/done/*' -type f | wc -l)"

# --- two_headers_two_pipelines
D2="$T_DIR/mixed"
printf 'id,a\n1,x\n2,y\n' | drop "$D2" users_1.csv
printf 'id,a\n3,z\n' | drop "$D2" users_2.csv
printf 'code,b,c\nk1,1,2\n' | drop "$D2" codes.csv
mkdir -p mixed_cfg
cd mixed_cfg
sluice init --from "$D2" -o mixed.yaml
check "init -o FILE: exit 0" 0 "$RC"
check "two header shapes: two pipelines" 2 "$(grep -c '^  - name: ' mixed.yaml)"
check_contains "each narrowed to its files' names" 'pattern: "users_*.csv*"' "$(cat mixed.yaml)"
sluice run mixed.yaml
check "run: exit 0" 0 "$RC"
check "users: the rows of its two files" 3 "$(lite warehouse.db 'SELECT count(*) FROM users')"
check "codes: its file" "k1" "$(lite warehouse.db 'SELECT code FROM codes')"

# --- output_file_not_overwritten
cp mixed.yaml before.yaml
sluice init --from "$D2" -o mixed.yaml
check "-o onto a file that exists: exit 2" 2 "$RC"
check_contains "it says so" "exists; not overwritten" "$ERR"
check "the file is untouched" "" "$(cmp mixed.yaml before.yaml 2>&1)"
check "no file left beside it" 0 "$(find . -name 'mixed.yaml.init.*' | wc -l)"
cd "$T_DIR"

# --- usage
sluice init
check "init without --from: exit 2" 2 "$RC"
check_contains "its usage line" "usage: sluice init --from SOURCE [-o FILE]" "$ERR"

# --- database_config_checks_and_copies
new_db
pg "CREATE TABLE accounts (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL)"
pg "INSERT INTO accounts SELECT i, 'n' || i, '2024-01-01'::timestamptz + i * interval '1 min'
      FROM generate_series(1, 500) i"
pg "CREATE TABLE regions (code text PRIMARY KEY, label text)"
pg "INSERT INTO regions VALUES ('eu', 'Europe'), ('us', 'United States')"
pg "CREATE TABLE clicks (at timestamp, url text)"
pg "INSERT INTO clicks SELECT '2024-01-01'::timestamp + i * interval '1 s', '/p' || i
      FROM generate_series(1, 50) i"
pg "CREATE TABLE readings (id int PRIMARY KEY, taken timestamptz NOT NULL, v int)"
pg "CREATE INDEX ON readings (taken)"
pg "INSERT INTO readings SELECT i, '2024-01-01'::timestamptz + i * interval '1 s', i FROM generate_series(1, 20) i"
mkdir -p db && cd db
sluice init --from "$T_PG_URL"
check "init --from postgresql://...: exit 0" 0 "$RC"
printf '%s\n' "$OUT" >db.yaml
acc=$(sed -n '/- name: "accounts"/,/- name: "clicks\|- name: "regions"/p' db.yaml)
check_contains "pk + updated_at: incremental" "kind: incremental" "$acc"
check_contains "pk + updated_at: updater" "mode: updater" "$acc"
check_contains "pk + updated_at: cursor [updated_at, id]" "cursor: [updated_at, id]" "$acc"
reg=$(sed -n '/- name: "regions"/,$p' db.yaml)
check_contains "pk only: snapshot" "kind: snapshot" "$reg"
check_contains "pk only: its key" "primary_key: [code]" "$reg"
cl=$(sed -n '/- name: "clicks"/,/- name: "regions"/p' db.yaml)
check_contains "no pk: snapshot" "kind: snapshot           # the whole table each run (no primary key)" "$cl"
rd=$(sed -n '/- name: "readings"/,/- name: "regions"/p' db.yaml)
check_contains "pk + an indexed timestamptz: incremental on it" "cursor: [taken, id]" "$rd"
sluice check db.yaml
check "sluice check accepts the database's config" 0 "$RC"
sluice run db.yaml
check "sluice run copies it: exit 0" 0 "$RC"
check "accounts copied" 500 "$(lite warehouse.db 'SELECT count(*) FROM accounts')"
check "regions copied" 2 "$(lite warehouse.db 'SELECT count(*) FROM regions')"
check "readings copied" 20 "$(lite warehouse.db 'SELECT count(*) FROM readings')"
check "clicks copied" 50 "$(lite warehouse.db 'SELECT count(*) FROM clicks')"
sluice reconcile db.yaml accounts readings regions
check "reconcile of the tables with a key: in sync (exit 0)" 0 "$RC"
check_contains "reconcile: accounts in sync" "accounts: in sync (500 rows" "$OUT"
check_contains "reconcile: regions in sync" "regions: in sync (2 rows" "$OUT"
finish
