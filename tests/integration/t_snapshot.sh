#!/usr/bin/env bash
# A safe baseline: snapshot a table, let two bad batches in (no gates),
# restore the snapshot. The table equals the snapshot's dump byte for byte
# (every column, _sluice_batch too), the ledger shows both batches
# rolled_back ("restored to snapshot N"), their history is gone, and a later
# run loads new drops as usual. For a versioned and a snapshot-kind table,
# into PostgreSQL and SQLite; also listing, and the refusals (wrong table,
# unknown snapshot, a snapshot holding a batch rolled back since).
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
  - name: orders
    source: { kind: files, path: drops/orders, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_orders
        kind: versioned
        primary_key: [id]
        version_key: version
        columns: { id: bigint, amount: numeric, version: bigint, at: timestamptz }
  - name: items
    source: { kind: files, path: drops/items, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_items, kind: snapshot, primary_key: [sku] }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  meta() { if [ $dest = pg ]; then echo "_sluice.$1"; else echo "_sluice_$1"; fi; }
  dump() {
    if [ $dest = pg ]; then pg "select t::text from $1 t order by $2"
    else sqlite3 -batch -noheader -cmd '.mode quote' "$W/wh.db" "select * from $1 order by $2"; fi
  }
  last_batch() { q "select max(id) from $(meta batches) where table_name = '$1'"; }
  run() { sluice run "$W/sluice.yaml" "$1"; [ "$RC" = 0 ] || echo "# run $1: rc $RC: $ERR"; }
  # decisions BATCH: what|who|at|note of each decision in `sluice batches
  # --json`, oldest first (at "ISO" when it is ISO 8601 UTC with Z)
  decisions() {
    local out
    out=$("$SLUICE_BIN" batches "$W/sluice.yaml" --limit 1000 --json)
    python3 -c 'import json,re,sys
b=[x for x in json.loads(sys.argv[1]) if x["id"]==int(sys.argv[2])][0]
for d in b["decisions"]:
    at="ISO" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", d["at"] or "") else d["at"]
    print("%s|%s|%s|%s" % (d["what"], d["who"], at, d["note"]))' "$out" "$1"
  }
  json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)" <<<"$OUT"; }
  O=${dest}_orders I=${dest}_items

  sluice snapshot "$W/sluice.yaml" $O
  check "$dest: no snapshot of a table not loaded yet: no such table (exit 2)" 2 "$RC"
  check_contains "$dest: says why" "does not exist" "$ERR"

  # ---- versioned ----
  printf 'id,amount,version,at,note\n1,10.50,1,2026-01-01T00:00:00Z,a\n2,20,1,2026-01-01T00:00:00Z,\n3,30.25,1,2026-01-01T00:00:00Z,c\n' | drop "$W/drops/orders" a.csv
  run orders
  printf 'id,amount,version,at,note\n2,21,2,2026-01-02T00:00:00Z,b2\n4,40,1,2026-01-02T00:00:00Z,d\n' | drop "$W/drops/orders" b.csv
  run orders
  good=$(last_batch $O)
  sluice snapshot "$W/sluice.yaml" $O --json
  check "$dest: snapshot (rc)" 0 "$RC"
  snap=$(json_field '["id"]')
  check "$dest: snapshot records the last batch and rows" "$good 4" "$(json_field '["last_batch"]') $(json_field '["rows"]')"
  snapdump=$(dump $O id)
  check "$dest: the dump holds every row" "4" "$(wc -l <<<"$snapdump")"

  # two bad batches, the second on keys of the first
  printf 'id,amount,version,at,note\n1,-1,9,2030-01-01T00:00:00Z,BAD\n2,-1,9,2030-01-01T00:00:00Z,BAD\n5,-1,9,2030-01-01T00:00:00Z,BAD\n' | drop "$W/drops/orders" bad1.csv
  run orders
  bad1=$(last_batch $O)
  printf 'id,amount,version,at,note\n1,-2,10,2030-01-01T00:00:00Z,BAD2\n3,-2,10,2030-01-01T00:00:00Z,BAD2\n' | drop "$W/drops/orders" bad2.csv
  run orders
  bad2=$(last_batch $O)
  check "$dest: the bad batches are in" "4" "$(q "select count(*) from $O where note like 'BAD%'")"

  sluice snapshots "$W/sluice.yaml" $O --json
  check "$dest: snapshots TABLE shows the snapshot" "$snap $O $good" \
    "$(json_field '[0]["id"]') $(json_field '[0]["table"]') $(json_field '[0]["last_batch"]')"
  check "$dest: snapshots --json: taken_at in ISO 8601 UTC with Z" "1" \
    "$(json_field '[0]["taken_at"]' | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$')"
  sluice snapshots "$W/sluice.yaml"
  check_contains "$dest: snapshots lists it" "$O" "$OUT"

  sluice restore "$W/sluice.yaml" $I $snap
  check "$dest: restoring another table's snapshot is no such snapshot (rc 2)" 2 "$RC"
  check_contains "$dest: says whose it is" "snapshot $snap is of table \"$O\"" "$ERR"
  sluice restore "$W/sluice.yaml" $O 99999
  check "$dest: an unknown snapshot is no such thing (exit 2)" 2 "$RC"

  fin1=$(q "select finished_at from $(meta batches) where id = $bad1")
  fin2=$(q "select finished_at from $(meta batches) where id = $bad2")
  sluice restore "$W/sluice.yaml" $O $snap
  check "$dest: restore (rc)" 0 "$RC"
  check "$dest: restore says what it did" \
    "restored table $O to snapshot $snap: 4 rows; rolled back batches $bad2, $bad1; sluice has forgotten the content they loaded, so the same drop (or an unchanged source table) loads again" "$OUT"
  check "$dest: restore_gives_the_snapshot_byte_for_byte" "$snapdump" "$(dump $O id)"
  check "$dest: the bad batches are rolled_back in the ledger" "rolled_back
rolled_back" "$(q "select state from $(meta batches) where id in ($bad1, $bad2) order by id")"
  check "$dest: restore records who and when on each batch it rolled back, and keeps when they committed" \
    "rolled back|$(id -un)|ISO|restored to snapshot $snap $fin1
rolled back|$(id -un)|ISO|restored to snapshot $snap $fin2" \
    "$(decisions $bad1) $(q "select finished_at from $(meta batches) where id = $bad1")
$(decisions $bad2) $(q "select finished_at from $(meta batches) where id = $bad2")"
  check "$dest: the batches before the snapshot stay committed" "committed" "$(q "select state from $(meta batches) where id = $good")"
  hist=$(if [ $dest = pg ]; then echo '_sluice."hist_pg_orders"'; else echo '"_sluice_hist_lite_orders"'; fi)
  check "$dest: their history rows are gone" "0" "$(q "select count(*) from $hist where _sluice_replaced_by in ($bad1, $bad2)")"
  check "$dest: the snapshot is kept" "1" "$(q "select count(*) from $(meta snapshots) where id = $snap")"

  # later runs load as usual; the history still rolls back older batches
  printf 'id,amount,version,at,note\n4,44,2,2026-01-03T00:00:00Z,d2\n6,60,1,2026-01-03T00:00:00Z,f\n' | drop "$W/drops/orders" c.csv
  run orders
  check "$dest: a later run loads new drops" "4|44|d2
6|60|f" "$(q "select id, amount, note from $O where id in (4, 6) order by id")"
  c=$(last_batch $O)
  sluice rollback "$W/sluice.yaml" $c
  check "$dest: rollback after a restore gives the snapshot again" "$snapdump" "$(dump $O id)"
  # a snapshot holding a batch rolled back since it was taken is refused
  printf 'id,amount,version,at,note\n7,70,1,2026-01-04T00:00:00Z,g\n' | drop "$W/drops/orders" d.csv
  run orders
  dbatch=$(last_batch $O)
  sluice snapshot "$W/sluice.yaml" $O --json
  snap2=$(json_field '["id"]')
  sluice rollback "$W/sluice.yaml" $dbatch
  sluice restore "$W/sluice.yaml" $O $snap2
  check "$dest: restore refuses a snapshot with a batch rolled back since (rc)" 1 "$RC"
  check_contains "$dest: and names it" "holds rows of batch(es) $dbatch" "$ERR"
  check "$dest: the refusal changes nothing" "$snapdump" "$(dump $O id)"

  # ---- snapshot kind ----
  printf 'sku,name\nA,Widget\nB,Gadget\n' | drop "$W/drops/items" i1.csv
  run items
  sluice snapshot "$W/sluice.yaml" $I --json
  isnap=$(json_field '["id"]')
  idump=$(dump $I sku)
  printf 'sku,name\nZ,BAD\n' | drop "$W/drops/items" i2.csv
  run items
  ib1=$(last_batch $I)
  printf 'sku,name,extra\nY,BAD,1\n' | drop "$W/drops/items" i3.csv
  run items
  ib2=$(last_batch $I)
  sluice restore "$W/sluice.yaml" $I $isnap
  check "$dest: snapshot-kind table restore (rc)" 0 "$RC"
  # the table now has the column the bad batch brought, empty
  if [ $dest = pg ]; then got=$(pg "select row(sku, name, _sluice_batch)::text from $I order by sku")
  else got=$(sqlite3 -batch -noheader -cmd '.mode quote' "$W/wh.db" "select sku, name, _sluice_batch from $I order by sku"); fi
  check "$dest: snapshot-kind table equals its snapshot" "$idump" "$got"
  check "$dest: the new column is empty" "0" "$(q "select count(*) from $I where extra is not null")"
  check "$dest: their kept tables are dropped" "0" "$(q "select count(*) from $(meta kept) where batch_id in ($ib1, $ib2)")"
  printf 'sku,name\nC,Gizmo\n' | drop "$W/drops/items" i4.csv
  run items
  check "$dest: the next snapshot load works" "C|Gizmo" "$(q "select sku, name from $I")"
done
finish
