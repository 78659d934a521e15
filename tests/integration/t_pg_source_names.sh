#!/usr/bin/env bash
# A source table that itself came from sluice (warehouse to mart: it has a
# _sluice_batch column) replicates, into PostgreSQL and SQLite:
#   source_sluice_batch_kept_apart  the source's _sluice_batch values load as
#       _source_sluice_batch, the table's own _sluice_batch is the loading
#       batch's; snapshot and incremental updater alike; the log says so;
#       reconcile compares the kept column like any other (in sync)
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
DST_DB="${T_DB}_wh"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
trap 'psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
W="$T_DIR/w"; mkdir -p "$W"

src "CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric, updated_at timestamptz NOT NULL,
       _sluice_batch bigint)"
src "INSERT INTO orders SELECT i, i * 1.5, '2024-01-01'::timestamptz + i * interval '1 s', 7
       FROM generate_series(1, 50) i"

for dest in pg lite; do
  if [ $dest = pg ]; then url="$SL_PG_URL/$DST_DB"; q() { dst "$1"; }; else url="sqlite://wh.db"; q() { lite "$W/wh.db" "$1"; }; fi
  cat >"$W/$dest.yaml" <<YAML
connections:
  mart: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$url" }
pipelines:
  - name: mart
    source: { kind: postgres, connection: mart }
    destination: wh
    tables:
      - { name: orders_snap, source_table: orders, kind: snapshot }
      - { name: orders_inc, source_table: orders, kind: incremental, mode: updater,
          primary_key: [id], cursor: [updated_at, id], boundary: 0s }
YAML
  sluice run "$W/$dest.yaml"
  check "$dest: a source table with a _sluice_batch column replicates (exit 0)" 0 "$RC"
  check_contains "$dest: the log says where its values go" \
    'source column "_sluice_batch" is named like sluice'"'"'s own: it loads as "_source_sluice_batch"' "$ERR"
  for t in orders_snap orders_inc; do
    check "$dest: $t: the source's _sluice_batch values are kept as _source_sluice_batch" \
      "$(src "select count(*), sum(_sluice_batch) from orders")" \
      "$(q "select count(*), sum(_source_sluice_batch) from $t")"
    check "$dest: $t: _sluice_batch is the loading batch's" "0" \
      "$(q "select count(*) from $t where _sluice_batch is null or _sluice_batch = 7")"
  done
  if [ $dest = pg ]; then
    src "UPDATE orders SET _sluice_batch = 8, updated_at = now() - interval '1 minute' WHERE id = 3"
    sleep 1
    sluice run "$W/$dest.yaml"
    check "$dest: an update of the source's _sluice_batch comes through" "8" \
      "$(q "select _source_sluice_batch from orders_inc where id = 3")"
  fi
  sluice reconcile "$W/$dest.yaml" orders_inc
  check "$dest: reconcile compares the kept column: in sync" 0 "$RC"
done
finish
