#!/usr/bin/env bash
# Warehouse edges, on PostgreSQL and SQLite alike:
#  - reserved names: a table in sluice's own namespace, a column named like
#    sluice's own, refused by `sluice check` (exit 2, file:line:col) where the
#    config names them, and at load (the batch fails naming drop and column)
#    where the data does; sluice's ledger is never touched.
#  - a table the user created (their DDL and key, no _sluice_batch) is
#    adopted; a config whose key or column types disagree with it fails the
#    batch saying how.
#  - PostgreSQL names over 63 bytes map to the same stored name every time.
. "$(dirname "$0")/lib.sh"
new_db

# q DEST W "SQL": run SQL on the warehouse of DEST
q() { if [ "$1" = pg ]; then pg "$3"; else lite "$2/wh.db" "$3"; fi; }
# ledger DEST W: sluice's files table, as named on DEST
files_table() { if [ "$1" = pg ]; then echo "_sluice.files"; else echo "_sluice_files"; fi; }

# yaml W URL TABLE-LINE: a files pipeline into one table
yaml() {
  cat >"$1/s.yaml" <<YAML
connections: { wh: { url: "$2" } }
pipelines:
  - name: p
    source: { kind: files, path: in, settle: 0s }
    destination: wh
    tables:
      - $3
YAML
}

for dest in pg lite; do
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi

  # ---- reserved names ----
  W="$T_DIR/$dest-reserved"; mkdir -p "$W"
  yaml "$W" "$url" "{ name: ok_t, kind: append }"
  printf 'id,v\n1,a\n' | drop "$W/in" first.csv
  sluice run "$W/s.yaml"
  check "$dest: a first drop loads (ledger exists)" 0 "$RC"
  ledger_before=$(q $dest "$W" "select count(*) from $(files_table $dest)")

  own=$(files_table $dest)
  yaml "$W" "$url" "{ name: \"$own\", kind: snapshot }"
  sluice check "$W/s.yaml"
  check "$dest: check refuses a table named $own (exit 2)" 2 "$RC"
  check_contains "$dest: ... naming file:line:col" "s.yaml:7:17: pipeline \"p\": table name \"$own\" is reserved" "$ERR"
  check_contains "$dest: ... saying why" "names starting with _sluice are sluice's own" "$ERR"
  printf 'table_name,content_hash\nx,y\n' | drop "$W/in" evil.csv
  sluice run "$W/s.yaml"
  check "$dest: run refuses it too (exit 2)" 2 "$RC"
  check "$dest: sluice's ledger is untouched" "$ledger_before" \
    "$(q $dest "$W" "select count(*) from $own")"
  rm -f "$W/in/evil.csv"

  yaml "$W" "$url" "{ name: ok_t, kind: append, columns: { id: bigint, _sluice_batch: bigint } }"
  sluice check "$W/s.yaml"
  check "$dest: check refuses a declared column _sluice_batch (exit 2)" 2 "$RC"
  check_contains "$dest: ... naming file:line:col and the column" \
    "s.yaml:7:60: pipeline \"p\": table \"ok_t\": column \"_sluice_batch\" is reserved: names starting with _sluice_ are sluice's own columns" "$ERR"
  yaml "$W" "$url" "{ name: ok_t, kind: versioned, primary_key: [id, _SLUICE_x], version_key: v }"
  sluice check "$W/s.yaml"
  check "$dest: check refuses a key column _SLUICE_x (exit 2)" 2 "$RC"
  check_contains "$dest: ... naming its place" "s.yaml:7:58: pipeline \"p\": table \"ok_t\": key \"primary_key\": column \"_SLUICE_x\" is reserved" "$ERR"

  # in the data: the existing table, and a new one
  yaml "$W" "$url" "{ name: ok_t, kind: append }"
  printf 'id,_sluice_batch,v\n2,7,b\n' | drop "$W/in" sneaky.csv
  sluice run "$W/s.yaml"
  check "$dest: a drop with a column _sluice_batch fails (exit 1)" 1 "$RC"
  check_contains "$dest: ... naming the drop and the column" \
    "in/sneaky.csv: column \"_sluice_batch\" is reserved: names starting with _sluice_ are sluice's own columns" "$ERR"
  check "$dest: ... it goes to failed/" yes "$([ -f "$W/in/failed/sneaky.csv" ] && echo yes || echo no)"
  check "$dest: ... the table is untouched" "1|a" "$(q $dest "$W" "select id, v from ok_t")"
  yaml "$W" "$url" "{ name: new_t, kind: append }"
  printf '{"id":1,"_sluice_replaced_by":3}\n' | drop "$W/in" sneaky2.jsonl
  sluice run "$W/s.yaml"
  check "$dest: a new table's drop with a column _sluice_replaced_by fails (exit 1)" 1 "$RC"
  check_contains "$dest: ... naming the drop and the column" \
    "in/sneaky2.jsonl: column \"_sluice_replaced_by\" is reserved" "$ERR"
  if [ $dest = pg ]; then
    check "$dest: ... no table made" "" "$(pg "select to_regclass('new_t')")"
  else
    check "$dest: ... no table made" "0" "$(lite "$W/wh.db" "select count(*) from sqlite_master where name = 'new_t'")"
  fi

  # ---- a table the user made ----
  W="$T_DIR/$dest-adopt"; mkdir -p "$W"
  if [ $dest = pg ]; then ts=timestamptz; else ts=text; fi
  q $dest "$W" "create table shop (id bigint primary key, amount numeric, updated_at $ts)"
  q $dest "$W" "insert into shop values (1, 10, '2024-01-01 00:00:00+00'), (3, 30, '2024-01-01 00:00:00+00')"
  q $dest "$W" "create table pairs (a bigint, b bigint, v text, updated_at $ts, primary key (a, b))"
  q $dest "$W" "create table nokey (id bigint, v text, updated_at $ts)"
  q $dest "$W" "create table uq (id bigint not null, v text, updated_at $ts)"
  q $dest "$W" "create unique index uq_id on uq (id)"
  q $dest "$W" "create table typed (id bigint primary key, amount bigint)"
  yaml "$W" "$url" "{ name: shop, kind: versioned, primary_key: [id], version_key: updated_at }"
  printf 'id,amount,updated_at\n1,11,2024-02-01T00:00:00Z\n2,20,2024-02-01T00:00:00Z\n' | drop "$W/in" a.csv
  sluice run "$W/s.yaml"
  check "$dest: a table the user made loads (rc)" 0 "$RC"
  check_contains "$dest: ... and says it adopted it" 'adopted table "shop" (added _sluice_batch)' "$ERR"
  check "$dest: ... merged with the rows it had" "1|11
2|20
3|30" "$(q $dest "$W" "select id, amount from shop order by id")"
  check "$dest: ... the rows it had belong to no batch" "3|" \
    "$(q $dest "$W" "select id, _sluice_batch from shop where _sluice_batch is null")"
  b1=$(q $dest "$W" "select max(_sluice_batch) from shop")
  printf 'id,amount,updated_at\n4,40,2024-02-01T00:00:00Z\n' | drop "$W/in" b.csv
  sluice run "$W/s.yaml"
  check "$dest: a second drop loads" 0 "$RC"
  if [[ "$ERR" == *adopted* ]]; then not_ok "$dest: ... without adopting again"; else ok "$dest: ... without adopting again"; fi
  sluice rollback "$W/s.yaml" "$((b1 + 1))"
  sluice rollback "$W/s.yaml" "$b1"
  check "$dest: rolling the adopting batch back gives the user's rows back" "1|10
3|30" "$(q $dest "$W" "select id, amount from shop order by id")"

  yaml "$W" "$url" "{ name: pairs, kind: versioned, primary_key: [a], version_key: updated_at }"
  printf 'a,b,v,updated_at\n1,1,x,2024-02-01T00:00:00Z\n' | drop "$W/in" p.csv
  sluice run "$W/s.yaml"
  check "$dest: a key that is not the table's fails the batch (rc)" 1 "$RC"
  check_contains "$dest: ... saying what the table has and what to do" \
    'table "pairs" in the warehouse has primary key (a, b), not primary_key (a) as the config says' "$ERR"
  check_contains "$dest: ... and how to fix it" "set primary_key to one of the table's keys, or add a unique index on (a)" "$ERR"
  check "$dest: ... the table is untouched" "0" "$(q $dest "$W" "select count(*) from pairs")"

  yaml "$W" "$url" "{ name: nokey, kind: versioned, primary_key: [id], version_key: updated_at }"
  printf 'id,v,updated_at\n1,x,2024-02-01T00:00:00Z\n' | drop "$W/in" n.csv
  sluice run "$W/s.yaml"
  check "$dest: a table without a key fails a versioned batch (rc)" 1 "$RC"
  check_contains "$dest: ... saying so" \
    'table "nokey" in the warehouse has no primary key or unique index, and this load merges rows on primary_key (id): give the table a primary key or unique index on (id)' "$ERR"

  yaml "$W" "$url" "{ name: uq, kind: versioned, primary_key: [id], version_key: updated_at }"
  printf 'id,v,updated_at\n1,x,2024-02-01T00:00:00Z\n1,y,2024-03-01T00:00:00Z\n' | drop "$W/in" u.csv
  sluice run "$W/s.yaml"
  check "$dest: a unique index serves as the key (rc)" 0 "$RC"
  check "$dest: ... merged on it" "1|y" "$(q $dest "$W" "select id, v from uq")"

  # keys ON CONFLICT cannot use are not keys: an index with an expression
  # column or a predicate (both warehouses), INCLUDE columns and deferrable
  # keys (PostgreSQL)
  q $dest "$W" "create table ex (id bigint not null, email text, v text, updated_at $ts)"
  q $dest "$W" "create unique index ex_u on ex (lower(email), id)"
  yaml "$W" "$url" "{ name: ex, kind: versioned, primary_key: [id], version_key: updated_at }"
  printf 'id,email,v,updated_at\n1,a@x,x,2024-02-01T00:00:00Z\n' | drop "$W/in" ex.csv
  sluice run "$W/s.yaml"
  check "$dest: a unique index with an expression column is not a key on the others (rc)" 1 "$RC"
  check_contains "$dest: ... the batch fails saying the table has no key to merge on" \
    'table "ex" in the warehouse has no primary key or unique index, and this load merges rows on primary_key (id)' "$ERR"
  check "$dest: ... the table is untouched" "0" "$(q $dest "$W" "select count(*) from ex")"
  q $dest "$W" "create table part (id bigint not null, v text, updated_at $ts)"
  q $dest "$W" "create unique index part_u on part (id) where id > 0"
  yaml "$W" "$url" "{ name: part, kind: versioned, primary_key: [id], version_key: updated_at }"
  printf 'id,v,updated_at\n1,x,2024-02-01T00:00:00Z\n' | drop "$W/in" part.csv
  sluice run "$W/s.yaml"
  check "$dest: a partial unique index is not a key (rc)" 1 "$RC"
  check_contains "$dest: ... saying so" 'table "part" in the warehouse has no primary key or unique index' "$ERR"
  if [ $dest = pg ]; then
    pg "create table incl (id bigint not null, x text, updated_at timestamptz)"
    pg "create unique index incl_u on incl (id) include (x)"
    pg "insert into incl values (1, 'old', '2024-01-01 00:00:00+00')"
    yaml "$W" "$url" "{ name: incl, kind: versioned, primary_key: [id], version_key: updated_at }"
    printf 'id,x,updated_at\n1,new,2024-02-01T00:00:00Z\n2,two,2024-02-01T00:00:00Z\n' | drop "$W/in" incl.csv
    sluice run "$W/s.yaml"
    check "$dest: a unique index with INCLUDE columns is a key on its key columns (rc)" 0 "$RC"
    [ "$RC" = 0 ] || echo "$ERR" | tail -3 | sed 's/^/#   /'
    check "$dest: ... merged on it" "1|new
2|two" "$(pg "select id, x from incl order by id")"
    yaml "$W" "$url" "{ name: incl, kind: versioned, primary_key: [id, x], version_key: updated_at }"
    printf 'id,x,updated_at\n3,three,2024-02-01T00:00:00Z\n' | drop "$W/in" incl2.csv
    sluice run "$W/s.yaml"
    check "$dest: ... but its INCLUDE columns are not part of the key (rc)" 1 "$RC"
    check_contains "$dest: ... the batch fails saying what the key is" \
      'table "incl" in the warehouse has unique key (id), not primary_key (id, x) as the config says' "$ERR"
    pg "create table defer (id bigint, v text, updated_at timestamptz, primary key (id) deferrable)"
    yaml "$W" "$url" "{ name: defer, kind: versioned, primary_key: [id], version_key: updated_at }"
    printf 'id,v,updated_at\n1,x,2024-02-01T00:00:00Z\n' | drop "$W/in" defer.csv
    sluice run "$W/s.yaml"
    check "$dest: a deferrable primary key is not a key ON CONFLICT can use (rc)" 1 "$RC"
    check_contains "$dest: ... saying so" 'table "defer" in the warehouse has no primary key or unique index' "$ERR"
  fi

  yaml "$W" "$url" "{ name: typed, kind: append, columns: { amount: numeric } }"
  printf 'id,amount\n1,1.5\n' | drop "$W/in" t.csv
  sluice run "$W/s.yaml"
  check "$dest: a declared type the table's column cannot take fails (rc)" 1 "$RC"
  check_contains "$dest: ... saying how" \
    'table "typed": column "amount" is bigint in the warehouse but declared numeric in the config' "$ERR"

  # ---- names longer than PostgreSQL keeps (63 bytes) ----
  W="$T_DIR/$dest-long"; mkdir -p "$W"
  p63=$(printf 'c%.0s' $(seq 1 63))
  long70="measurement_recorded_by_the_upstream_sensor_array_in_degrees_celsius"   # 70 bytes
  tname="a_table_whose_name_is_longer_than_postgresql_keeps_for_identifiers_xyz"
  yaml "$W" "$url" "{ name: $tname, kind: versioned, primary_key: [id], version_key: v, columns: { $long70: text } }"
  sluice check "$W/s.yaml"
  check "$dest: a config with long names checks (rc)" 0 "$RC"
  if [ $dest = pg ]; then
    check_contains "$dest: ... showing how the column is stored" "$long70 (stored as \"${long70:0:54}_" "$OUT"
    check_contains "$dest: ... and the table" "table $tname (stored as \"${tname:0:54}_" "$OUT"
  else
    if [[ "$OUT" == *"stored as"* ]]; then not_ok "$dest: SQLite stores names whole"; else ok "$dest: SQLite stores names whole"; fi
  fi
  printf 'id,v,%s,%s_first,%s_second\n1,1,t1,x1,y1\n2,1,t2,x2,y2\n' "$long70" "$p63" "$p63" | drop "$W/in" l1.csv
  sluice run "$W/s.yaml"
  check "$dest: a drop with long column names loads (rc)" 0 "$RC"
  [ $dest = pg ] && check_contains "$dest: ... logging how a column is stored" "column \"$long70\" is stored as \"${long70:0:54}_" "$ERR"
  printf 'id,v,%s,%s_first,%s_second\n1,2,t1b,x1b,y1b\n' "$long70" "$p63" "$p63" | drop "$W/in" l2.csv
  sluice run "$W/s.yaml"
  check "$dest: a second drop with the same header loads (rc)" 0 "$RC"
  [ "$RC" = 0 ] || echo "$ERR" | tail -3 | sed 's/^/#   /'
  printf 'id,v,%s_third\n3,1,z3\n' "$p63" | drop "$W/in" l3.csv
  sluice run "$W/s.yaml"
  check "$dest: a drop bringing a new long column loads (rc)" 0 "$RC"
  if [ $dest = pg ]; then
    tq=$(pg "select quote_ident(relname) from pg_class where relname like 'a\_table\_whose\_name%' and relkind = 'r'")
  else
    tq="\"$tname\""
  fi
  # columns: the declared one first, then id, v, the drop's, _sluice_batch, the new one
  check "$dest: long names sharing 63 bytes keep their data apart" "t1b|1|2|x1b|y1b|
t2|2|1|x2|y2|
|3|1|||z3" "$(q $dest "$W" "select * from $tq order by id" | cut -d'|' -f1-5,7)"
  b3=$(q $dest "$W" "select max(_sluice_batch) from $tq")
  sluice rollback "$W/s.yaml" "$b3"
  sluice rollback "$W/s.yaml" "$((b3 - 1))"
  check "$dest: rolling back over long names gives the rows back" "t1|1|1|x1|y1
t2|2|1|x2|y2" "$(q $dest "$W" "select * from $tq order by id" | cut -d'|' -f1-5)"

  # a long name cut on a UTF-8 boundary is stored in fewer than 63 bytes
  # (53 + 2 x 10 bytes: stored as 53 + 9 = 62); a later drop still finds it
  u73="$(printf 'a%.0s' $(seq 1 53))$(printf '\xc3\xa9%.0s' $(seq 1 10))"
  yaml "$W" "$url" "{ name: utf8_t, kind: append }"
  printf 'id,%s\n1,u1\n' "$u73" | drop "$W/in" u1.csv
  sluice run "$W/s.yaml"
  check "$dest: a drop with a long name cut short of 63 bytes loads (rc)" 0 "$RC"
  printf 'id,%s\n2,u2\n' "$u73" | drop "$W/in" u2.csv
  sluice run "$W/s.yaml"
  check "$dest: ... and a second drop with the same header (rc)" 0 "$RC"
  [ "$RC" = 0 ] || echo "$ERR" | tail -3 | sed 's/^/#   /'
  if [ $dest = pg ]; then
    ncol=$(pg "select count(*) from pg_attribute where attrelid = 'utf8_t'::regclass and attname like 'aaa%' and not attisdropped")
  else
    ncol=$(lite "$W/wh.db" "select count(*) from pragma_table_info('utf8_t') where name like 'aaa%'")
  fi
  check "$dest: ... into the one column" "1" "$ncol"
  check "$dest: ... both rows in it" "1|u1
2|u2" "$(q $dest "$W" "select * from utf8_t order by id" | cut -d'|' -f1-2)"

  # two long names whose 32-bit hashes collide (found by a birthday search)
  # would be stored as one name: PostgreSQL refuses them, saying which two
  ca=column_name_longer_than_postgresql_keeps_for_identifiers_00039599
  cb=column_name_longer_than_postgresql_keeps_for_identifiers_00222382
  check "the two names' FNV-1a hashes do collide" t "$(python3 -c '
import sys
def fnv(b):
    h = 2166136261
    for c in b: h = ((h ^ c) * 16777619) & 0xffffffff
    return h
print("t" if fnv(sys.argv[1].encode()) == fnv(sys.argv[2].encode()) else "f")' "$ca" "$cb")"
  yaml "$W" "$url" "{ name: coll_t, kind: append }"
  printf 'id,%s,%s\n1,a,b\n' "$ca" "$cb" | drop "$W/in" c1.csv
  sluice run "$W/s.yaml"
  if [ $dest = pg ]; then
    check "$dest: a drop with two long names stored alike fails (rc)" 1 "$RC"
    check_contains "$dest: ... naming both" "columns \"$ca\" and \"$cb\" would both be stored as \"${ca:0:54}_" "$ERR"
    check "$dest: ... and no table was made" "" "$(pg "select to_regclass('coll_t')")"
    printf 'id,%s\n1,a\n' "$ca" | drop "$W/in" c2.csv
    sluice run "$W/s.yaml"
    printf 'id,%s\n2,b\n' "$cb" | drop "$W/in" c3.csv
    sluice run "$W/s.yaml"
    check "$dest: a later drop bringing a name stored like an existing column's fails (rc)" 1 "$RC"
    check_contains "$dest: ... naming both" "columns \"$ca\" and \"$cb\" would both be stored as" "$ERR"
    check "$dest: ... the first column's rows are untouched" "1|a" "$(pg "select id, \"${ca:0:54}_75055942\" from coll_t")"
  else
    check "$dest: SQLite keeps both long names whole (rc)" 0 "$RC"
    check "$dest: ... as two columns" "1|a|b" "$(lite "$W/wh.db" "select * from coll_t" | cut -d'|' -f1-3)"
  fi
done

# ---- a long table name from before names were stored cut + hash ----
# sluice once passed a table name over 63 bytes whole and PostgreSQL cut it
# to its first 63 bytes (whole characters: here 62, as the 63rd byte is
# inside an 'é'). Such a table, with its rows, is renamed to the stored name
# and carries on, its history with it.
W="$T_DIR/pg-legacy"; mkdir -p "$W"
legacy="legacy_$(printf 'x%.0s' $(seq 1 55))$(printf '\xc3\xa9')_tail"   # 69 bytes
cut62="${legacy:0:62}"
pg "create table \"$cut62\" (id bigint primary key, v text, updated_at timestamptz, _sluice_batch bigint)"
pg "insert into \"$cut62\" values (1, 'old1', '2024-01-01 00:00:00+00', 1), (2, 'old2', '2024-01-01 00:00:00+00', 1)"
yaml "$W" "$T_PG_URL" "{ name: \"$legacy\", kind: versioned, primary_key: [id], version_key: updated_at }"
printf 'id,v,updated_at\n1,new1,2024-02-01T00:00:00Z\n3,new3,2024-02-01T00:00:00Z\n' | drop "$W/in" g1.csv
sluice run "$W/s.yaml"
check "pg: a table cut by PostgreSQL under an older sluice loads (rc)" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR" | tail -3 | sed 's/^/#   /'
check_contains "pg: ... saying it renamed the table" "renamed table \"$cut62\" to its stored name \"${legacy:0:54}_" "$ERR"
check "pg: ... the one table, under its stored name" "${legacy:0:54}" \
  "$(pg "select left(relname, 54) from pg_class where relname like 'legacy%' and relkind = 'r'")"
lq=$(pg "select quote_ident(relname) from pg_class where relname like 'legacy%' and relkind = 'r'")
check "pg: ... its old rows kept, merged with the new" "1|new1
2|old2
3|new3" "$(pg "select id, v from $lq order by id")"
bl=$(pg "select max(_sluice_batch) from $lq")
sluice rollback "$W/s.yaml" "$bl"
check "pg: ... and the batch rolls back to the old rows" "1|old1
2|old2" "$(pg "select id, v from $lq order by id")"
printf 'id,v,updated_at\n4,new4,2024-02-01T00:00:00Z\n' | drop "$W/in" g2.csv
sluice run "$W/s.yaml"
check "pg: ... a later drop loads into it too (rc)" 0 "$RC"
if [[ "$ERR" == *renamed* ]]; then not_ok "pg: ... without renaming again"; else ok "pg: ... without renaming again"; fi
check "pg: ... 3 rows" "3" "$(pg "select count(*) from $lq")"
finish
