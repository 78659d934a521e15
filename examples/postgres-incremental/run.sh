#!/usr/bin/env bash
# PostgreSQL incremental: a throwaway cluster with a table of accounts;
# sluice run copies it, an update and an insert later the second run copies
# just those, and reconcile finds the copy in sync.
. "$(dirname "$0")/../lib.sh"
ex_pg_start
ex_psql -c "CREATE DATABASE crm"
ex_psql -d crm -c "CREATE TABLE accounts (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL)
  ; INSERT INTO accounts SELECT i, 'account ' || i, now() - interval '1 hour' + i * interval '1 s'
    FROM generate_series(1, 100) i"
export CRM_URL="$PG_URL/crm"
cp "$EX_SRC/postgres-incremental/sluice.yaml" .
sluice run sluice.yaml
ex_psql -d crm -c "UPDATE accounts SET name = 'renamed', updated_at = now() WHERE id = 7;
  INSERT INTO accounts VALUES (101, 'new', now())"
sleep 1
sluice run sluice.yaml
sluice reconcile sluice.yaml
echo "accounts 7 and 101 in the warehouse:"
sqlite3 -header -column warehouse.db 'SELECT id, name FROM accounts WHERE id IN (7, 101) ORDER BY id'
echo "postgres-incremental: $(sqlite3 warehouse.db 'SELECT count(*) FROM accounts') accounts copied"
