#!/usr/bin/env bash
# CDC: a throwaway cluster with wal_level=logical; the first run copies the
# table and creates the slot, the second applies an update and a delete
# read from the WAL; then the slot is dropped.
. "$(dirname "$0")/../lib.sh"
ex_pg_start
ex_psql -c "CREATE DATABASE shop"
ex_psql -d shop -c "CREATE TABLE items (id int PRIMARY KEY, name text, qty int);
  INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 50) i"
export SHOP_URL="$PG_URL/shop"
cp "$EX_SRC/cdc/sluice.yaml" .
sluice check sluice.yaml >/dev/null
sluice run sluice.yaml
ex_psql -d shop -c "UPDATE items SET qty = 999 WHERE id = 1; DELETE FROM items WHERE id = 2"
sluice run sluice.yaml
echo "items 1 to 3 in the warehouse:"
sqlite3 -header -column warehouse.db 'SELECT id, name, qty FROM items WHERE id <= 3 ORDER BY id'
echo "cdc: $(sqlite3 warehouse.db 'SELECT count(*) FROM items') items, item 1 qty $(sqlite3 warehouse.db 'SELECT qty FROM items WHERE id = 1')"
sluice cdc drop sluice.yaml shop
