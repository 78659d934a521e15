#!/usr/bin/env bash
# Files: two csv drops of orders, the second updating one of the first's;
# sluice run loads both, the table holds the newest version of each order.
. "$(dirname "$0")/../lib.sh"
cp "$EX_SRC/files/sluice.yaml" .
mkdir -p drops/orders
printf 'id,amount,updated_at\n1,10.00,2024-01-01T10:00:00Z\n2,20.00,2024-01-01T10:00:00Z\n' >drops/orders/a.csv
printf 'id,amount,updated_at\n2,25.00,2024-01-02T10:00:00Z\n3,30.00,2024-01-02T10:00:00Z\n' >drops/orders/b.csv
touch -d '-10 seconds' drops/orders/*.csv
sluice check sluice.yaml >/dev/null
sluice run sluice.yaml
echo "orders in the warehouse:"
sqlite3 -header -column warehouse.db 'SELECT id, amount, updated_at FROM orders ORDER BY id'
echo "files: $(sqlite3 warehouse.db 'SELECT count(*) FROM orders') orders loaded"
