#!/usr/bin/env bash
# Captures the *.hex fixtures next to this script from a real server: each
# scenario makes its tables, a publication and a pgoutput slot, runs its SQL,
# and writes the slot's messages (pg_logical_slot_peek_binary_changes,
# proto_version 1, messages on), one hex line each, under a comment naming
# the SQL. Needs a cluster with wal_level = logical and PG* set, e.g.
#   bash tests/integration/pg_cluster.sh start /tmp/pgo-pg && . /tmp/pgo-pg/env.sh
# The oids and LSNs differ from run to run; the tests check names and values.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# scenario NAME SETUP_SQL CHANGES_SQL
scenario() {
  local name=$1 setup=$2 changes=$3 out="$here/$1.hex"
  q -c "DROP PUBLICATION IF EXISTS pub_$name" >/dev/null
  q -c "$setup" >/dev/null
  q -c "CREATE PUBLICATION pub_$name FOR ALL TABLES" >/dev/null
  q -c "SELECT pg_create_logical_replication_slot('s_$name', 'pgoutput')" >/dev/null
  # one statement at a time (autocommit), as an application would
  echo "$changes" | q -f - >/dev/null
  {
    echo "# $name: pgoutput proto_version 1, PostgreSQL $(q -c 'SHOW server_version')"
    echo "$changes" | sed 's/^/# /'
    q -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('s_$name',
            NULL, NULL, 'proto_version', '1', 'publication_names', 'pub_$name',
            'messages', 'true')"
  } >"$out"
  q -c "SELECT pg_drop_replication_slot('s_$name')" >/dev/null
  q -c "DROP PUBLICATION pub_$name" >/dev/null
  echo "$out: $(grep -vc '^#' "$out") messages"
}

q -c "DROP SCHEMA IF EXISTS pgo CASCADE; CREATE SCHEMA pgo" >/dev/null

scenario basic \
"CREATE TABLE pgo.orders (id int PRIMARY KEY, name text, qty int, note text);" \
"INSERT INTO pgo.orders VALUES (1, 'widget', 3, NULL);
UPDATE pgo.orders SET qty = 4 WHERE id = 1;
UPDATE pgo.orders SET id = 2 WHERE id = 1;
DELETE FROM pgo.orders WHERE id = 2;
TRUNCATE pgo.orders;"
q -c "DROP TABLE pgo.orders" >/dev/null

scenario full \
"CREATE TABLE pgo.items (id int, label text, price numeric(10,2));
ALTER TABLE pgo.items REPLICA IDENTITY FULL;" \
"INSERT INTO pgo.items VALUES (1, 'a', 9.99);
UPDATE pgo.items SET label = 'b' WHERE id = 1;
DELETE FROM pgo.items WHERE id = 1;"
q -c "DROP TABLE pgo.items" >/dev/null

scenario toast \
"CREATE TABLE pgo.docs (id int PRIMARY KEY, body text, rev int);
ALTER TABLE pgo.docs ALTER COLUMN body SET STORAGE EXTERNAL;" \
"INSERT INTO pgo.docs VALUES (1, repeat('x', 10000), 1);
UPDATE pgo.docs SET rev = 2 WHERE id = 1;"
q -c "DROP TABLE pgo.docs" >/dev/null

q -c "SELECT pg_replication_origin_drop('upstream')
      FROM pg_replication_origin WHERE roname = 'upstream'" >/dev/null
q -c "SELECT pg_replication_origin_create('upstream')" >/dev/null
scenario misc \
"CREATE TYPE pgo.mood AS ENUM ('sad', 'happy');
CREATE TABLE pgo.a (id int PRIMARY KEY, m pgo.mood, v varchar(12));
CREATE TABLE pgo.b (id serial PRIMARY KEY, a_id int REFERENCES pgo.a);" \
"INSERT INTO pgo.a VALUES (7, 'happy', 'seven');
SELECT pg_logical_emit_message(true, 'sluice', 'in a transaction');
SELECT pg_logical_emit_message(false, 'sluice', 'outside');
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-02 03:04:05+00');
INSERT INTO pgo.a VALUES (8, NULL, 'eight');
COMMIT;
SELECT pg_replication_origin_session_reset();
TRUNCATE pgo.a, pgo.b RESTART IDENTITY CASCADE;"
q -c "DROP SCHEMA pgo CASCADE; SELECT pg_replication_origin_drop('upstream')" >/dev/null
