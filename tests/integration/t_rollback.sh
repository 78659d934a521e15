#!/usr/bin/env bash
# A bad batch slips through (no gates), is committed, and is rolled back: the
# table equals what it was before, byte for byte (every column, _sluice_batch
# too, as the database stores it), with later batches kept. For each kind,
# into PostgreSQL and SQLite:
#   append     the bad batch's rows go; a later batch of other rows stays
#   versioned  the bad batch's rows go and the rows it replaced come back; a
#              later batch on other keys stays; a later batch on the same keys
#              makes rollback refuse, naming it and the keys, and --cascade
#              rolls back both
#   snapshot   the table the bad batch replaced comes back; a later snapshot
#              makes rollback refuse; --cascade rolls back both
# Also: a table whose name needs quoting (schema-qualified in PostgreSQL), a
# rolled-back drop loads again when offered again, and rolling back a batch
# that is not committed is an error naming its state.
. "$(dirname "$0")/lib.sh"
new_db

for dest in pg lite; do
  W="$T_DIR/$dest"
  mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; odd="public.$dest \"odd\" orders"; else url="sqlite://wh.db"; odd="$dest \"odd\" orders"; fi
  cat >"$W/sluice.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: orders
    source: { kind: files, path: drops/orders, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_orders
        kind: versioned
        primary_key: [id]
        version_key: version
        columns: { id: bigint, amount: numeric, at: timestamptz, version: bigint }
  - name: odd
    source: { kind: files, path: drops/odd, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: '$odd'
        kind: versioned
        primary_key: [k]
        version_key: v
  - name: events
    source: { kind: files, path: drops/events, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_events, kind: append }
  - name: catalog
    source: { kind: files, path: drops/catalog, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_items, kind: snapshot, primary_key: [sku] }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  meta() { if [ $dest = pg ]; then echo "_sluice.$1"; else echo "_sluice_$1"; fi; }
  # dump TABLE ORDER [WHERE]: every column of every row as stored
  dump() {
    if [ $dest = pg ]; then pg "select t::text from $1 t ${3:+where $3} order by $2"
    else sqlite3 -batch -noheader -cmd '.mode quote' "$W/wh.db" "select * from $1 ${3:+where $3} order by $2"; fi
  }
  last_batch() { q "select max(id) from $(meta batches) where table_name = '$1'"; }
  state_of() { q "select state from $(meta batches) where id = $1"; }
  # decisions BATCH: what|who|at|note of each decision in `sluice batches
  # --json`, oldest first (at "ISO" when it is ISO 8601 UTC with Z)
  decisions() {
    sluice batches "$W/sluice.yaml" --limit 1000 --json
    python3 -c 'import json,re,sys
b=[x for x in json.loads(sys.argv[1]) if x["id"]==int(sys.argv[2])][0]
for d in b["decisions"]:
    at="ISO" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", d["at"] or "") else d["at"]
    print("%s|%s|%s|%s" % (d["what"], d["who"], at, d["note"]))' "$OUT" "$1"
  }
  run() { sluice run "$W/sluice.yaml" "$1"; [ "$RC" = 0 ] || echo "# run $1: rc $RC: $ERR"; }
  rollback() { sluice rollback "$W/sluice.yaml" "$@"; }
  O=${dest}_orders E=${dest}_events C=${dest}_items

  # ---- versioned ----
  printf 'id,amount,at,version,note\n1,10.50,2026-01-01T00:00:00Z,1,a\n2,20.00,2026-01-01T01:00:00Z,1,\n3,30.25,2026-01-01T02:00:00Z,1,c\n4,40,2026-01-01T03:00:00Z,1,d\n5,50.5,2026-01-01T04:00:00Z,1,e\n' | drop "$W/drops/orders" a.csv
  run orders
  first=$(last_batch $O)
  printf 'id,amount,at,version,note\n3,31.00,2026-01-02T00:00:00Z,2,c2\n4,41.00,2026-01-02T00:00:00Z,2,"d\t2"\n6,60,2026-01-02T00:00:00Z,1,f\n' | drop "$W/drops/orders" b.csv
  run orders
  before=$(dump $O id)
  check "$dest: the dump holds every row, every column" "6 rows, 6 columns" \
    "$(wc -l <<<"$before") rows, $(head -1 <<<"$before" | awk -F, '{print NF}') columns"
  # the bad batch: overwrites 1 and 2, adds 7, carries an older 3 (unchanged)
  printf 'id,amount,at,version,note\n1,-999,2030-01-01T00:00:00Z,5,BAD\n2,-999,2030-01-01T00:00:00Z,5,BAD\n7,-999,2030-01-01T00:00:00Z,5,BAD\n3,-999,2030-01-01T00:00:00Z,1,BAD\n' | drop "$W/drops/orders" bad.csv
  run orders
  bad=$(last_batch $O)
  # a later batch on other keys
  printf 'id,amount,at,version,note\n5,55.00,2026-01-03T00:00:00Z,3,e3\n8,80,2026-01-03T00:00:00Z,1,h\n' | drop "$W/drops/orders" later.csv
  run orders
  later=$(last_batch $O)
  check "$dest: versioned bad batch is in" "3" "$(q "select count(*) from $O where note = 'BAD'")"
  check "$dest: history holds exactly the rows the bad batch replaced" "1|$first
2|$first" "$(q "select id, _sluice_batch from $(if [ $dest = pg ]; then echo '_sluice."hist_pg_orders"'; else echo '"_sluice_hist_lite_orders"'; fi) where _sluice_replaced_by = $bad order by id")"
  fin=$(q "select finished_at from $(meta batches) where id = $bad")
  rollback $bad
  check "$dest: versioned rollback exits 0" 0 "$RC"
  check "$dest: rollback records who and when, and keeps when it committed" "rolled back|$(id -un)|ISO|None $fin" \
    "$(decisions $bad) $(q "select finished_at from $(meta batches) where id = $bad")"
  check "$dest: versioned rollback says what it did" \
    "rolled back batch $bad (versioned, $O): removed 3 rows, restored 2 replaced rows" "$(head -1 <<<"$OUT")"
  check_contains "$dest: rollback says the drop can be loaded again" "so the same drop (or an unchanged source table) loads again" "$OUT"
  check "$dest: versioned_rollback_restores_replaced_rows_byte_for_byte" \
    "$(echo "$before" | if [ $dest = pg ]; then grep -v '^(5,\|^(8,'; else grep -v '^5,\|^8,'; fi)" \
    "$(dump $O id "id not in (5, 8)")"
  check "$dest: the later batch on other keys is kept" "5|55.00|$later
8|80|$later" "$(q "select id, amount, _sluice_batch from $O where id in (5, 8) order by id")"
  check "$dest: ledger marks the bad batch rolled_back" "rolled_back" "$(state_of $bad)"
  rollback $later
  check "$dest: rolling back the later batch too gives the table before both" "$before" "$(dump $O id)"
  check "$dest: history is empty again after both rollbacks" "0" \
    "$(q "select count(*) from $(if [ $dest = pg ]; then echo '_sluice."hist_pg_orders"'; else echo '"_sluice_hist_lite_orders"'; fi) where _sluice_replaced_by >= $bad")"

  rollback $bad
  check "$dest: rolling back a rolled-back batch fails" 1 "$RC"
  check_contains "$dest: the error names the state" "is rolled_back, not committed" "$ERR"
  rollback 999999
  check "$dest: an unknown batch is no such thing (exit 2)" 2 "$RC"
  check_contains "$dest: the error names the batch" "no batch 999999" "$ERR"

  # the rolled-back drop, offered again deliberately, loads again
  printf 'id,amount,at,version,note\n1,-999,2030-01-01T00:00:00Z,5,BAD\n2,-999,2030-01-01T00:00:00Z,5,BAD\n7,-999,2030-01-01T00:00:00Z,5,BAD\n3,-999,2030-01-01T00:00:00Z,1,BAD\n' | drop "$W/drops/orders" bad-again.csv
  run orders
  again=$(last_batch $O)
  check "$dest: the same content loads again after its rollback" "3" "$(q "select count(*) from $O where note = 'BAD' and _sluice_batch = $again")"
  rollback $again
  check "$dest: and rolls back again" "$before" "$(dump $O id)"

  # a later batch on the same keys: refused, then --cascade
  printf 'id,amount,at,version,note\n1,-1,2030-01-01T00:00:00Z,6,BAD2\n2,-1,2030-01-01T00:00:00Z,6,BAD2\n9,-1,2030-01-01T00:00:00Z,6,BAD2\n' | drop "$W/drops/orders" bad2.csv
  run orders
  bad2=$(last_batch $O)
  printf 'id,amount,at,version,note\n2,-2,2030-01-01T00:00:00Z,7,LATER\n9,-2,2030-01-01T00:00:00Z,7,LATER\n' | drop "$W/drops/orders" later2.csv
  run orders
  later2=$(last_batch $O)
  mid=$(dump $O id)
  rollback $bad2
  check "$dest: versioned_rollback_refused_when_later_batch_replaced_its_keys (rc)" 1 "$RC"
  check_contains "$dest: the refusal names the later batch and its keys" \
    "batch $later2 (later) replaced keys of batch $bad2: id=2, id=9" "$ERR"
  check_contains "$dest: the refusal points at --cascade" "--cascade" "$ERR"
  check "$dest: a refused rollback changes nothing" "$mid" "$(dump $O id)"
  check "$dest: a refused rollback leaves the ledger alone" "committed committed" "$(state_of $bad2) $(state_of $later2)"
  rollback $bad2 --cascade
  check "$dest: --cascade rolls back both (rc)" 0 "$RC"
  check "$dest: --cascade goes newest first" "rolled back batch $later2 (versioned, $O): removed 2 rows, restored 2 replaced rows
rolled back batch $bad2 (versioned, $O): removed 3 rows, restored 2 replaced rows" "$(head -2 <<<"$OUT")"
  check "$dest: versioned_cascade_rollback_restores_table_before_both" "$before" "$(dump $O id)"
  check "$dest: both rolled_back in the ledger" "rolled_back rolled_back" "$(state_of $bad2) $(state_of $later2)"
  check "$dest: the ledger notes the cascade, who and when" "rolled back|$(id -un)|ISO|with batch $bad2 (--cascade)" \
    "$(decisions $later2)"
  check "$dest: the batch named is rolled back plainly" "rolled back|$(id -un)|ISO|None" "$(decisions $bad2)"

  # ---- a name that needs quoting (and a new column in the bad batch) ----
  if [ $dest = pg ]; then oddq="public.\"$dest \"\"odd\"\" orders\""; else oddq="\"$dest \"\"odd\"\" orders\""; fi
  printf 'k,v,"say ""hi"""\n1,1,one\n2,1,two\n' | drop "$W/drops/odd" o1.csv
  run odd
  obefore=$(dump "$oddq" k)
  check "$dest: quoted table dump" "2" "$(wc -l <<<"$obefore")"
  printf 'k,v,"say ""hi""",extra\n1,2,ONE,x\n3,1,three,y\n' | drop "$W/drops/odd" o2.csv
  run odd
  ob=$(last_batch "$odd")
  rollback $ob
  check "$dest: quoted table name: rollback exits 0" 0 "$RC"
  if [ $dest = pg ]; then
    check "$dest: quoted table name: rows as before (new column empty)" "$obefore" "$(dump "$oddq" k | sed 's/,)$/)/')"
  else
    check "$dest: quoted table name: rows as before (new column empty)" "$obefore" "$(dump "$oddq" k | sed 's/,NULL$//')"
  fi

  # ---- append ----
  printf '{"id":1,"kind":"a"}\n{"id":2,"kind":"b"}\n' | drop "$W/drops/events" e1.jsonl
  run events
  e1=$(last_batch $E)
  ebefore=$(dump $E id)
  check "$dest: append dump" "2" "$(wc -l <<<"$ebefore")"
  printf '{"id":100,"kind":"BAD"}\n{"id":101,"kind":"BAD"}\n' | drop "$W/drops/events" e2.jsonl
  run events
  ebad=$(last_batch $E)
  printf '{"id":3,"kind":"c"}\n' | drop "$W/drops/events" e3.jsonl
  run events
  elater=$(last_batch $E)
  rollback $ebad
  check "$dest: append rollback (rc)" 0 "$RC"
  check "$dest: append rollback says what it did" "rolled back batch $ebad (append, $E): removed 2 rows, restored 0 replaced rows" "$(head -1 <<<"$OUT")"
  check "$dest: append_rollback_removes_only_its_rows" "$ebefore" "$(dump $E id "_sluice_batch <> $elater")"
  check "$dest: the later append batch is kept" "3|$elater" "$(q "select id, _sluice_batch from $E where _sluice_batch <> $e1 order by id")"

  # ---- snapshot ----
  printf 'sku,name,price\nA,Widget,1.00\nB,Gadget,2.00\n' | drop "$W/drops/catalog" c1.csv
  run catalog
  printf 'sku,name,price\nA,Widget,1.10\nC,Gizmo,3.00\n' | drop "$W/drops/catalog" c2.csv
  run catalog
  cbefore=$(dump $C sku)
  check "$dest: snapshot dump" "2" "$(wc -l <<<"$cbefore")"
  printf 'sku,name,price\nZ,BAD,0\n' | drop "$W/drops/catalog" c3.csv
  run catalog
  cbad=$(last_batch $C)
  rollback $cbad
  check "$dest: snapshot rollback (rc)" 0 "$RC"
  check "$dest: snapshot rollback says what it did" "rolled back batch $cbad (snapshot, $C): removed 1 rows, put back the table it replaced (2 rows)" "$(head -1 <<<"$OUT")"
  check "$dest: snapshot_rollback_brings_back_previous_table" "$cbefore" "$(dump $C sku)"
  # two more; rolling back the first is refused, then cascaded
  printf 'sku,name,price\nY,BAD,0\n' | drop "$W/drops/catalog" c4.csv
  run catalog
  c4=$(last_batch $C)
  printf 'sku,name,price\nX,LATER,0\n' | drop "$W/drops/catalog" c5.csv
  run catalog
  c5=$(last_batch $C)
  rollback $c4
  check "$dest: snapshot rollback refused with a later snapshot (rc)" 1 "$RC"
  check_contains "$dest: the refusal names the later snapshot" "batch $c5 (later) replaced the whole table after batch $c4" "$ERR"
  rollback $c4 --cascade
  check "$dest: snapshot --cascade (rc)" 0 "$RC"
  check "$dest: snapshot_cascade_rollback_brings_back_table_before_both" "$cbefore" "$(dump $C sku)"
  if [ $dest = pg ]; then
    check "$dest: primary key named as before" "pg_items_pkey" \
      "$(pg "select conname from pg_constraint where conrelid = 'pg_items'::regclass and contype = 'p'")"
    check "$dest: batch index back" "1" \
      "$(pg "select count(*) from pg_indexes where tablename = 'pg_items' and indexdef like '%brin%'")"
    check "$dest: no stray tables left in _sluice" "0" \
      "$(pg "select count(*) from pg_tables where schemaname = '_sluice' and tablename like '\\_sluice\\_%'")"
  else
    check "$dest: batch index back" "1" \
      "$(lite "$W/wh.db" "select count(*) from sqlite_master where type = 'index' and tbl_name = 'lite_items' and sql is not null")"
  fi
  # loads go on as before after a snapshot rollback
  printf 'sku,name,price\nA,Widget,1.20\n' | drop "$W/drops/catalog" c6.csv
  run catalog
  check "$dest: a snapshot load after rollback works" "A|Widget|1.20" "$(q "select sku, name, price from $C")"
  # only the newest few replaced tables are kept
  for i in 7 8 9 10; do printf 'sku,name,price\nA,W,%s\n' "$i" | drop "$W/drops/catalog" c$i.csv; run catalog; done
  check "$dest: kept tables are pruned to the newest 3" "3" "$(q "select count(*) from $(meta kept) where table_name = '$C'")"
  if [ $dest = pg ]; then
    check "$dest: pruned kept tables are dropped" "3" "$(pg "select count(*) from pg_tables where schemaname = '_sluice' and tablename like 'prev\\_%'")"
  else
    check "$dest: pruned kept tables are dropped" "3" "$(lite "$W/wh.db" "select count(*) from sqlite_master where type = 'table' and name like '\\_sluice\\_prev\\_%' escape '\\'")"
  fi
done

# a snapshot table in a schema of its own (PostgreSQL): kept in _sluice, put back in its schema
pg "create schema \"sales dept\""
W="$T_DIR/schema"
mkdir -p "$W"
cat >"$W/sluice.yaml" <<YAML
connections:
  wh: { url: "$T_PG_URL" }
pipelines:
  - name: s
    source: { kind: files, path: drops, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: 'sales dept.items', kind: snapshot, primary_key: [sku] }
YAML
printf 'sku,name\nA,one\n' | drop "$W/drops" s1.csv
sluice run "$W/sluice.yaml"
sbefore=$(pg "select t::text from \"sales dept\".items t order by sku")
printf 'sku,name\nB,BAD\n' | drop "$W/drops" s2.csv
sluice run "$W/sluice.yaml"
sb=$(pg "select max(id) from _sluice.batches where table_name = 'sales dept.items'")
check "pg: the replaced table is kept in _sluice" "prev_$sb" "$(pg "select tablename from pg_tables where schemaname = '_sluice' and tablename = 'prev_$sb'")"
sluice rollback "$W/sluice.yaml" $sb
check "pg: schema-qualified snapshot rollback (rc)" 0 "$RC"
check "pg: the table is back in its schema, as it was" "$sbefore" "$(pg "select t::text from \"sales dept\".items t order by sku")"
check "pg: with its primary key" "items_pkey" "$(pg "select conname from pg_constraint where conrelid = '\"sales dept\".items'::regclass and contype = 'p'")"
printf 'sku,name\nC,three\n' | drop "$W/drops" s3.csv
sluice run "$W/sluice.yaml"
check "pg: and loads go on" "C" "$(pg "select string_agg(sku, ',') from \"sales dept\".items")"
finish
