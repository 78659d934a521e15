#!/usr/bin/env bash
# `sluice check` on a cdc source: it connects, looks at what the pipeline
# needs there, and says what is missing with the SQL that fixes it; each
# printed fix is run and the check passes after it.
#   readme_grants_suffice     the README's SQL (LOGIN REPLICATION, USAGE,
#                             SELECT, the publication made by the owner):
#                             every line ok, exit 0; `sluice run` copies and
#                             streams inserts, updates and deletes as that role
#   no_replication            a role without REPLICATION: refused, with
#                             ALTER ROLE ... REPLICATION and libpq's refusal of
#                             the replication connection; `sluice run` and
#                             `sluice daemon` refuse with the same words
#   no_usage_no_select        no USAGE on a schema, no SELECT on a table; a
#                             table that is not there
#   json_shape                --json: per pipeline source_checks {check,
#                             table, ok, status, detail, fix}
#   no_primary_key            a table without a primary key (REPLICA IDENTITY
#                             DEFAULT) refused; the source itself refuses its
#                             updates meanwhile; FULL: ok with a warning, and
#                             its updates and deletes reach the warehouse
#   identity_nothing          REPLICA IDENTITY NOTHING refused (DEFAULT is the
#                             fix: the primary key is primary_key); the source
#                             itself refuses its deletes meanwhile
#   key_outside_identity      primary_key naming a column outside the replica
#                             identity: refused
#   publication_lacks_table   a table not in the publication, which the role
#                             may not add: ALTER PUBLICATION ... ADD TABLE;
#                             a column list, a row filter, a publication
#                             of inserts only: refused
#   owner_makes_publication   a role owning its tables: without CREATE on the
#                             database refused (GRANT CREATE); with it sluice
#                             creates the publication, then adds a table the
#                             config gains
#   slot_refused              a slot of plugin test_decoding, a pgoutput slot
#                             of another database: refused; dropped: ok
#   unreachable               a source nothing listens for: a missing connect
#                             line with libpq's reason, exit 2, at once; one
#                             that never answers: after the 5 s timeout
#   offline                   --offline does not look (exit 0, says so), at
#                             an incremental table's cursor either
#   wal_level_replica         a cluster of the test's own with wal_level
#                             replica, no slot and no WAL sender, pg_hba.conf
#                             without a replication line: refused; the fixes
#                             and a restart: ok, and `sluice run` streams; one
#                             free slot: a warning, and the first copy fails
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
SFX=$$
R_OK="sl_ck_ok_$SFX"; R_NOREP="sl_ck_norep_$SFX"; R_NOSEL="sl_ck_nosel_$SFX"; R_OWN="sl_ck_own_$SFX"
ROLES="$R_OK $R_NOREP $R_NOSEL $R_OWN"
SLOT="sl_ck_$SFX"
PG2="$T_DIR/pg2"
BG=""
cleanup_all() {
  for p in $BG; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  # slots before the databases they belong to
  psql -qX -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name LIKE 'sl\_ck\_$SFX%'" >/dev/null 2>&1 || true
  [ -f "$PG2/env.sh" ] && bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" stop "$PG2" >/dev/null 2>&1
  cleanup
  for r in $ROLES; do psql -qX -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true; done
}
trap cleanup_all EXIT

# cfg FILE ROLE SLOT PUB TABLE...: a cdc pipeline "p" reading the test
# database as ROLE into a SQLite warehouse of its own; each TABLE a YAML
# flow mapping
cfg() {
  local f=$1 role=$2 slot=$3 pub=$4 url=${URL:-postgresql://$2@$PGHOST:$PGPORT/$SRC_DB}
  shift 4
  {
    cat <<YAML
connections:
  src: { url: "$url" }
  wh: { url: "sqlite:///$T_DIR/$(basename "$f" .yaml).db" }
pipelines:
  - name: p
    source: { kind: postgres, connection: src, cdc: { slot: $slot, publication: $pub } }
    destination: wh
    tables:
YAML
    for t in "$@"; do echo "      - $t"; done
  } >"$T_DIR/$f"
}

# has_line NAME STATUS CHECK NEEDLE: a check line "STATUS  CHECK: ...NEEDLE..."
has_line() {
  local hit
  hit=$(grep -E "^    $2 +$3: " <<<"$OUT" | grep -F -- "$4" || true)
  if [ -n "$hit" ]; then ok "$1"; else
    not_ok "$1"; echo "#   wanted: $2 $3: ...$4"
    grep -E '^    (ok|warning|missing) |fix:' <<<"$OUT" | sed 's/^/#   /'
  fi
}
# fix_of CHECK NEEDLE: the fix printed under the missing line that holds NEEDLE
fix_of() {
  awk -v c="$1" -v n="$2" '
    /^    (ok|warning|missing) / { on = ($0 ~ ("^    missing +" c ": ") && index($0, n) > 0); next }
    on && /^ +fix: / { sub(/^ +fix: /, ""); print; on = 0 }' <<<"$OUT"
}
detail_of() {
  grep -E "^    missing +$1: " <<<"$OUT" | grep -F -- "$2" | head -1 | sed -E "s/^    missing +$1: //"
}
# apply_fixes DB [PSQL_ARGS...]: run every fix the last check printed, as a
# superuser
apply_fixes() {
  local db=$1
  shift
  { grep -E '^ +fix: ' <<<"$OUT" || true; } | sed -E 's/^ +fix: //' >"$T_DIR/fix.sql"
  psql -qX -v ON_ERROR_STOP=1 "$@" -d "$db" -f "$T_DIR/fix.sql" >/dev/null
}
missing_count() { grep -cE '^    missing ' <<<"$OUT" || true; }
all_ok() {  # NAME
  check "$1: exit 0" 0 "$RC"
  check "$1: nothing missing" 0 "$(missing_count)"
  [ "$RC" -eq 0 ] || grep -E '^    missing |fix:' <<<"$OUT" | sed 's/^/#   /'
}
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }

src "CREATE SCHEMA sales;
     CREATE TABLE public.customers (id int PRIMARY KEY, name text);
     CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric);
     CREATE TABLE public.notes (a int, b text);
     CREATE TABLE public.parts (id int PRIMARY KEY, x text, y text);
     INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 20) g;
     INSERT INTO sales.orders SELECT g, g * 1.5 FROM generate_series(1, 10) g;
     INSERT INTO public.notes SELECT g, 'n' || g FROM generate_series(1, 5) g"
CUST='{ name: customers, kind: cdc, primary_key: [id] }'
ORDERS='{ name: orders, source_table: sales.orders, kind: cdc, primary_key: [id] }'

# ---- readme_grants_suffice ----
# the README's SQL for the source, as it stands there, for a role of this test
awk '/^### Change data capture/ { on = 1 } on && /^ *```sql/ { f = 1; next }
     f && /^ *```/ { exit } f' "$SL_SRCDIR/README.md" | sed "s/replicator/$R_OK/g" >"$T_DIR/grants.sql"
check_contains "readme_grants_suffice: the README's SQL makes a REPLICATION role" \
  "CREATE ROLE $R_OK LOGIN REPLICATION" "$(cat "$T_DIR/grants.sql")"
psql -qX -v ON_ERROR_STOP=1 -d "$SRC_DB" -f "$T_DIR/grants.sql" >/dev/null
cfg ok.yaml "$R_OK" "${SLOT}" sluice_crm "$CUST" "$ORDERS"
sluice check "$T_DIR/ok.yaml"
all_ok "readme_grants_suffice: check"
for want in "ok       connect: connected to database $SRC_DB as role $R_OK" \
            "ok       wal_level: wal_level is logical" \
            "ok       replication_role: role $R_OK has REPLICATION" \
            "ok       replication_connection: a replication connection was let in: IDENTIFY_SYSTEM answered" \
            "ok       table: table sales.orders is there, and role $R_OK may read it (USAGE on sales, SELECT)" \
            "ok       replica_identity: the replica identity of public.customers is its primary key (id), which holds primary_key (id)" \
            "ok       publication: publication sluice_crm exists (owner postgres)" \
            "ok       publication_table: sales.orders is in publication sluice_crm" \
            "ok       slot: slot $SLOT does not exist: sluice creates it (pgoutput)"; do
  check_contains "readme_grants_suffice: check says: $want" "$want" "$OUT"
done
sluice run "$T_DIR/ok.yaml"
check "readme_grants_suffice: run as that role exits 0" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
check "readme_grants_suffice: the first copy is in" "20 10" \
  "$(lite "$T_DIR/ok.db" "SELECT (SELECT count(*) FROM customers) || ' ' || (SELECT count(*) FROM orders)")"
src "INSERT INTO public.customers VALUES (21, 'new'); UPDATE public.customers SET name = 'changed' WHERE id = 1;
     DELETE FROM public.customers WHERE id = 2; UPDATE sales.orders SET amount = 0 WHERE id = 3"
sluice run "$T_DIR/ok.yaml"
check "readme_grants_suffice: the stream as that role exits 0" 0 "$RC"
check "readme_grants_suffice: insert, update, delete streamed" "20|changed|0|0" \
  "$(lite "$T_DIR/ok.db" "SELECT (SELECT count(*) FROM customers), (SELECT name FROM customers WHERE id = 1),
     (SELECT count(*) FROM customers WHERE id = 2), (SELECT amount FROM orders WHERE id = 3)")"
sluice check "$T_DIR/ok.yaml"
has_line "readme_grants_suffice: the slot sluice made passes" ok slot "slot $SLOT exists (pgoutput, database $SRC_DB)"

# ---- no_replication ----
src "CREATE ROLE $R_NOREP LOGIN; GRANT USAGE ON SCHEMA sales TO $R_NOREP;
     GRANT SELECT ON public.customers, sales.orders TO $R_NOREP"
cfg norep.yaml "$R_NOREP" "${SLOT}_norep" sluice_crm "$CUST" "$ORDERS"
sluice check "$T_DIR/norep.yaml"
check "no_replication: exit 2" 2 "$RC"
has_line "no_replication: says the role cannot replicate" missing replication_role \
  "role $R_NOREP has neither REPLICATION nor superuser"
check "no_replication: the fix" "ALTER ROLE $R_NOREP REPLICATION;" "$(fix_of replication_role "$R_NOREP")"
has_line "no_replication: the replication connection's refusal, libpq's words" missing replication_connection \
  "must be superuser or replication role to start walsender"
check_contains "no_replication: stderr names the pipeline" 'pipeline "p": the source is not ready' "$ERR"
WANT_DETAIL=$(detail_of replication_role "$R_NOREP")
sluice run "$T_DIR/norep.yaml"
check "no_replication: run exits 1" 1 "$RC"
check_contains "no_replication: run says what check says" "$WANT_DETAIL (fix: ALTER ROLE $R_NOREP REPLICATION;)" "$ERR"
check "no_replication: run made no slot" 0 "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '${SLOT}_norep'")"
"$SLUICE_BIN" daemon "$T_DIR/norep.yaml" --listen "127.0.0.1:$(free_port)" >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
BG="$BG $!"; DPID=$!
for _ in $(seq 1 100); do grep -q "is not ready" "$T_DIR/daemon.log" 2>/dev/null && break; sleep 0.1; done
check_contains "no_replication: daemon says what check says" "$WANT_DETAIL (fix: ALTER ROLE $R_NOREP REPLICATION;)" \
  "$(cat "$T_DIR/daemon.log")"
kill "$DPID"; wait "$DPID" 2>/dev/null || true
sluice check "$T_DIR/norep.yaml"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/norep.yaml"
all_ok "no_replication: after the printed fix"

# ---- no_usage_no_select ----
src "CREATE ROLE $R_NOSEL LOGIN REPLICATION; GRANT SELECT ON public.customers TO $R_NOSEL"
cfg nosel.yaml "$R_NOSEL" "${SLOT}_nosel" sluice_crm "$CUST" "$ORDERS"
sluice check "$T_DIR/nosel.yaml"
check "no_usage_no_select: exit 2" 2 "$RC"
has_line "no_usage_no_select: no USAGE on the schema" missing usage "role $R_NOSEL has no USAGE on schema sales"
check "no_usage_no_select: its fix" "GRANT USAGE ON SCHEMA sales TO $R_NOSEL;" "$(fix_of usage sales)"
has_line "no_usage_no_select: no SELECT on the table" missing select "role $R_NOSEL has no SELECT on sales.orders"
check "no_usage_no_select: its fix" "GRANT SELECT ON sales.orders TO $R_NOSEL;" "$(fix_of select sales.orders)"
has_line "no_usage_no_select: the other table passes" ok table "table public.customers is there"

# ---- json_shape ----
sluice check "$T_DIR/nosel.yaml" --json
check "json_shape: exit 2" 2 "$RC"
printf '%s' "$OUT" >"$T_DIR/check.json"
check "json_shape: source_checks as promised" "ok" "$(python3 - "$R_NOSEL" "$T_DIR/check.json" <<'PY' 2>&1
import json, sys
role = sys.argv[1]
d = json.load(open(sys.argv[2]))
assert d["offline"] is False, d["offline"]
sc = d["pipelines"][0]["source_checks"]
assert isinstance(sc, list) and len(sc) > 8, sc
for c in sc:
    assert set(c) == {"check", "table", "ok", "status", "detail", "fix"}, c
    assert c["status"] in ("ok", "warning", "missing"), c
    assert c["ok"] is (c["status"] != "missing"), c
    assert isinstance(c["detail"], str) and c["detail"], c
    assert c["fix"] is None or isinstance(c["fix"], str), c
    assert c["table"] is None or c["table"] in ("customers", "orders"), c
usage = [c for c in sc if c["check"] == "usage"]
assert len(usage) == 1 and usage[0]["table"] == "orders" and not usage[0]["ok"], usage
assert usage[0]["fix"] == "GRANT USAGE ON SCHEMA sales TO %s;" % role, usage
assert [c["check"] for c in sc if not c["ok"]] == ["usage", "select"], sc
assert next(c for c in sc if c["check"] == "wal_level")["table"] is None
print("ok")
PY
)"
sluice check "$T_DIR/nosel.yaml"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/nosel.yaml"
all_ok "no_usage_no_select: after the printed fixes"
cfg ghost.yaml "$R_OK" "${SLOT}_ghost" sluice_crm "$CUST" '{ name: ghost, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/ghost.yaml"
check "no_usage_no_select: a table that is not there: exit 2" 2 "$RC"
has_line "no_usage_no_select: a table that is not there is named" missing table "table ghost (\"ghost\") does not exist"

# ---- no_primary_key ----
src "GRANT SELECT ON public.notes TO $R_OK; CREATE PUBLICATION ck_notes FOR TABLE public.notes"
cfg notes.yaml "$R_OK" "${SLOT}_notes" ck_notes '{ name: notes, kind: cdc, primary_key: [a] }'
sluice check "$T_DIR/notes.yaml"
check "no_primary_key: exit 2" 2 "$RC"
has_line "no_primary_key: refused" missing replica_identity \
  "public.notes has no primary key and REPLICA IDENTITY DEFAULT: its updates and deletes carry no key"
check "no_primary_key: the fix" "ALTER TABLE public.notes REPLICA IDENTITY FULL;" "$(fix_of replica_identity public.notes)"
set +e
UPD=$(psql -qXAt -d "$SRC_DB" -c "UPDATE public.notes SET b = 'x' WHERE a = 1" 2>&1)
set -e
check_contains "no_primary_key: meanwhile the source refuses its updates" \
  'cannot update table "notes" because it does not have a replica identity and publishes updates' "$UPD"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/notes.yaml"
all_ok "no_primary_key: after REPLICA IDENTITY FULL"
has_line "no_primary_key: FULL passes" ok replica_identity "public.notes has REPLICA IDENTITY FULL"
has_line "no_primary_key: a key no unique index holds is a warning" warning primary_key \
  "no primary key or unique index of public.notes lies within primary_key (a)"
sluice run "$T_DIR/notes.yaml"
check "no_primary_key: run exits 0" 0 "$RC"
check_contains "no_primary_key: run warns as check does" "no primary key or unique index of public.notes" "$ERR"
src "UPDATE public.notes SET b = 'changed' WHERE a = 1; DELETE FROM public.notes WHERE a = 2"
sluice run "$T_DIR/notes.yaml"
check "no_primary_key: updates and deletes of a FULL table reach the warehouse" "4|changed|0" \
  "$(lite "$T_DIR/notes.db" "SELECT (SELECT count(*) FROM notes), (SELECT b FROM notes WHERE a = 1), (SELECT count(*) FROM notes WHERE a = 2)")"

# ---- identity_nothing ----
src "CREATE TABLE public.quiet (id int PRIMARY KEY); INSERT INTO public.quiet VALUES (1);
     ALTER TABLE public.quiet REPLICA IDENTITY NOTHING; GRANT SELECT ON public.quiet TO $R_OK;
     CREATE PUBLICATION ck_quiet FOR TABLE public.quiet"
cfg quiet.yaml "$R_OK" "${SLOT}_quiet" ck_quiet '{ name: quiet, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/quiet.yaml"
check "identity_nothing: exit 2" 2 "$RC"
has_line "identity_nothing: refused" missing replica_identity "public.quiet has REPLICA IDENTITY NOTHING"
check "identity_nothing: the fix" "ALTER TABLE public.quiet REPLICA IDENTITY DEFAULT;" "$(fix_of replica_identity public.quiet)"
set +e
DEL=$(psql -qXAt -d "$SRC_DB" -c "DELETE FROM public.quiet" 2>&1)
set -e
check_contains "identity_nothing: meanwhile the source refuses its deletes" \
  'cannot delete from table "quiet" because it does not have a replica identity and publishes deletes' "$DEL"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/quiet.yaml"
all_ok "identity_nothing: after the printed fix"

# ---- key_outside_identity ----
cfg keyout.yaml "$R_OK" "${SLOT}_keyout" sluice_crm '{ name: customers, kind: cdc, primary_key: [id, name] }'
sluice check "$T_DIR/keyout.yaml"
check "key_outside_identity: exit 2" 2 "$RC"
has_line "key_outside_identity: refused" missing replica_identity \
  "primary_key (id, name) is not within the replica identity of public.customers, its primary key (id): a delete, or an update that changes name, would not find its row"
check "key_outside_identity: the fix" "ALTER TABLE public.customers REPLICA IDENTITY FULL;" \
  "$(fix_of replica_identity public.customers)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/keyout.yaml"
all_ok "key_outside_identity: after the printed fix"
src "ALTER TABLE public.customers REPLICA IDENTITY DEFAULT"

# ---- publication_lacks_table ----
src "CREATE PUBLICATION ck_part FOR TABLE public.customers"
cfg part.yaml "$R_OK" "${SLOT}_part" ck_part "$CUST" "$ORDERS"
sluice check "$T_DIR/part.yaml"
check "publication_lacks_table: exit 2" 2 "$RC"
has_line "publication_lacks_table: refused" missing publication_table \
  "sales.orders is not in publication ck_part, and role $R_OK may not add it"
check "publication_lacks_table: the fix" "ALTER PUBLICATION ck_part ADD TABLE sales.orders;" \
  "$(fix_of publication_table sales.orders)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/part.yaml"
all_ok "publication_lacks_table: after the printed fix"
src "GRANT SELECT ON public.parts TO $R_OK; CREATE PUBLICATION ck_cols FOR TABLE public.parts (id, x)"
cfg cols.yaml "$R_OK" "${SLOT}_cols" ck_cols '{ name: parts, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/cols.yaml"
check "publication_lacks_table: a column list: exit 2" 2 "$RC"
has_line "publication_lacks_table: a column list is refused" missing publication_table \
  "publication ck_cols publishes only some columns of public.parts (a column list)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/cols.yaml"
all_ok "publication_lacks_table: a column list, after the printed fix"
check "publication_lacks_table: every column published now" "{id,x,y}" \
  "$(src "SELECT attnames FROM pg_publication_tables WHERE pubname = 'ck_cols'")"

src "CREATE PUBLICATION ck_rows FOR TABLE public.customers WHERE (id > 5)"
cfg rows.yaml "$R_OK" "${SLOT}_rows" ck_rows "$CUST"
sluice check "$T_DIR/rows.yaml"
check "publication_lacks_table: a row filter: exit 2" 2 "$RC"
has_line "publication_lacks_table: a row filter is refused" missing publication_table \
  "publication ck_rows publishes only some rows of public.customers (a row filter)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/rows.yaml"
all_ok "publication_lacks_table: a row filter, after the printed fix"
src "CREATE PUBLICATION ck_ins FOR TABLE public.customers WITH (publish = 'insert')"
cfg ins.yaml "$R_OK" "${SLOT}_ins" ck_ins "$CUST"
sluice check "$T_DIR/ins.yaml"
check "publication_lacks_table: inserts only: exit 2" 2 "$RC"
has_line "publication_lacks_table: inserts only is refused" missing publication_publishes \
  "publication ck_ins does not publish update, delete, truncate"
check "publication_lacks_table: inserts only: the fix" \
  "ALTER PUBLICATION ck_ins SET (publish = 'insert, update, delete, truncate');" "$(fix_of publication_publishes ck_ins)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/ins.yaml"
all_ok "publication_lacks_table: inserts only, after the printed fix"

# ---- owner_makes_publication ----
src "CREATE ROLE $R_OWN LOGIN REPLICATION;
     CREATE TABLE public.own_a (id int PRIMARY KEY); CREATE TABLE public.own_b (id int PRIMARY KEY);
     ALTER TABLE public.own_a OWNER TO $R_OWN; ALTER TABLE public.own_b OWNER TO $R_OWN;
     INSERT INTO public.own_a VALUES (1), (2); INSERT INTO public.own_b VALUES (7)"
cfg own.yaml "$R_OWN" "${SLOT}_own" ck_own '{ name: own_a, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/own.yaml"
check "owner_makes_publication: without CREATE on the database: exit 2" 2 "$RC"
has_line "owner_makes_publication: without CREATE on the database: refused" missing publication \
  "publication ck_own does not exist, and role $R_OWN may not create it (it owns the tables but has no CREATE on database $SRC_DB)"
check "owner_makes_publication: the fix" "GRANT CREATE ON DATABASE $SRC_DB TO $R_OWN;" "$(fix_of publication ck_own)"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/own.yaml"
all_ok "owner_makes_publication: with CREATE"
has_line "owner_makes_publication: sluice will create it" ok publication \
  "publication ck_own does not exist: sluice creates it (CREATE PUBLICATION ck_own FOR TABLE public.own_a;)"
sluice run "$T_DIR/own.yaml"
check "owner_makes_publication: run exits 0" 0 "$RC"
check "owner_makes_publication: the publication is the role's, commented" "$R_OWN|created by sluice" \
  "$(src "SELECT pg_get_userbyid(pubowner), obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = 'ck_own'")"
cfg own.yaml "$R_OWN" "${SLOT}_own" ck_own '{ name: own_a, kind: cdc, primary_key: [id] }' '{ name: own_b, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/own.yaml"
all_ok "owner_makes_publication: a table the config gains"
has_line "owner_makes_publication: sluice will add it" ok publication_table \
  "public.own_b is not in publication ck_own yet: sluice adds it (ALTER PUBLICATION ck_own ADD TABLE public.own_b;)"
sluice run "$T_DIR/own.yaml"
check "owner_makes_publication: run exits 0 again" 0 "$RC"
check "owner_makes_publication: both tables published, and copied" "2|2 1" \
  "$(src "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'ck_own'")|$(lite "$T_DIR/own.db" "SELECT (SELECT count(*) FROM own_a) || ' ' || (SELECT count(*) FROM own_b)")"

# ---- slot_refused ----
src "SELECT pg_create_logical_replication_slot('${SLOT}_td', 'test_decoding')" >/dev/null
cfg td.yaml "$R_OK" "${SLOT}_td" sluice_crm "$CUST"
sluice check "$T_DIR/td.yaml"
check "slot_refused: test_decoding: exit 2" 2 "$RC"
has_line "slot_refused: test_decoding refused" missing slot \
  "slot ${SLOT}_td is a logical slot of plugin test_decoding, not a pgoutput one"
check "slot_refused: the fix" "SELECT pg_drop_replication_slot('${SLOT}_td');" "$(fix_of slot "${SLOT}_td")"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/td.yaml"
all_ok "slot_refused: after the printed fix"
psql -qXAt -d postgres -c "SELECT pg_create_logical_replication_slot('${SLOT}_otherdb', 'pgoutput')" >/dev/null
cfg otherdb.yaml "$R_OK" "${SLOT}_otherdb" sluice_crm "$CUST"
sluice check "$T_DIR/otherdb.yaml"
check "slot_refused: another database's: exit 2" 2 "$RC"
has_line "slot_refused: another database's refused" missing slot \
  "slot ${SLOT}_otherdb belongs to database postgres, not this one"
apply_fixes "$SRC_DB"
sluice check "$T_DIR/otherdb.yaml"
all_ok "slot_refused: another database's, after the printed fix"

# ---- unreachable ----
URL="postgresql://$R_OK@127.0.0.1:$(free_port)/$SRC_DB" cfg gone.yaml "$R_OK" "${SLOT}_gone" sluice_crm "$CUST"
t0=$(date +%s)
sluice check "$T_DIR/gone.yaml"
t1=$(date +%s)
check "unreachable: exit 2" 2 "$RC"
has_line "unreachable: a missing connect line with libpq's reason" missing connect \
  'source "src": could not connect: connection to server at "127.0.0.1"'
check_contains "unreachable: libpq's reason" "Connection refused" "$OUT"
check "unreachable: answered within the connect timeout" 1 "$(( t1 - t0 <= 6 ? 1 : 0 ))"
check_contains "unreachable: stderr names the pipeline" 'pipeline "p": the source is not ready' "$ERR"

# a server that takes the connection and never answers: the 5 s timeout
SILENT_PORT=$(free_port)
python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    held.append(s.accept()[0])
' "$SILENT_PORT" &
BG="$BG $!"
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SILENT_PORT") 2>/dev/null && break; sleep 0.1; done
URL="postgresql://$R_OK@127.0.0.1:$SILENT_PORT/$SRC_DB" cfg silent.yaml "$R_OK" "${SLOT}_silent" sluice_crm "$CUST"
t0=$(date +%s)
sluice check "$T_DIR/silent.yaml"
t1=$(date +%s)
check "unreachable: a server that never answers: exit 2" 2 "$RC"
has_line "unreachable: a server that never answers: libpq's reason" missing connect "timeout expired"
check "unreachable: a server that never answers: given up after 4 to 8 s (took $(( t1 - t0 )) s)" 1 \
  "$(( t1 - t0 >= 4 && t1 - t0 <= 8 ? 1 : 0 ))"

# ---- offline ----
sluice check "$T_DIR/gone.yaml" --offline
check "offline: exit 0" 0 "$RC"
check_contains "offline: says it did not look" "  source checks: not looked at (--offline)" "$OUT"
check "offline: no check line" 0 "$(grep -cE '^    (ok|missing|warning) ' <<<"$OUT" || true)"
cat >>"$T_DIR/gone.yaml" <<'YAML'
  - name: inc
    source: { kind: postgres, connection: src }
    destination: wh
    tables:
      - { name: customers, kind: incremental, mode: updater, primary_key: [id], cursor: [id] }
YAML
sluice check "$T_DIR/gone.yaml" --offline
check "offline: an incremental table's cursor is not looked at either" \
  "    cursor: whether it is unique is not looked at (--offline)" "$(grep -F '    cursor:' <<<"$OUT")"
sluice check "$T_DIR/gone.yaml" --offline --json
check "offline: --json exit 0" 0 "$RC"
check "offline: --json has no source_checks" "True None" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["offline"], d["pipelines"][0].get("source_checks"))' <<<"$OUT")"

# ---- wal_level_replica: a cluster of the test's own ----
SL_PG_EXTRA_CONF=$'wal_level = replica\nmax_replication_slots = 0\nmax_wal_senders = 0' \
SL_PG_HBA=$'local all all trust\nhost all all 127.0.0.1/32 trust' \
  bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" start "$PG2" >/dev/null
PORT2=$(sed -n 's/^export PGPORT=//p' "$PG2/env.sh")
p2() { psql -qXAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT2" -U postgres -d "${2:-c2}" -c "$1"; }
p2 "CREATE DATABASE c2" postgres
p2 "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')"
check "wal_level_replica: pg_hba.conf has no replication line" 0 \
  "$(grep -c replication "$(sed -n 's/^export SL_PGDIR=//p' "$PG2/env.sh")/data/pg_hba.conf" || true)"
URL="postgresql://postgres@127.0.0.1:$PORT2/c2" cfg c2.yaml postgres sl_ck_c2 ck_c2 '{ name: t, kind: cdc, primary_key: [id] }'
sluice check "$T_DIR/c2.yaml"
check "wal_level_replica: exit 2" 2 "$RC"
has_line "wal_level_replica: wal_level refused" missing wal_level "wal_level is replica; logical decoding needs logical"
check "wal_level_replica: its fix" "ALTER SYSTEM SET wal_level = logical;" "$(fix_of wal_level replica)"
has_line "wal_level_replica: no free slot" missing replication_slots "0 of 0 replication slots (max_replication_slots) are in use"
has_line "wal_level_replica: no free WAL sender" missing wal_senders "0 of 0 WAL senders (max_wal_senders) are in use"
has_line "wal_level_replica: the replication connection refused, libpq's words" missing replication_connection \
  "exceeds max_wal_senders"
apply_fixes c2 -h 127.0.0.1 -p "$PORT2" -U postgres
bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" restart "$PG2"
sluice check "$T_DIR/c2.yaml"
all_ok "wal_level_replica: after the printed fixes and a restart"
has_line "wal_level_replica: a replication connection without a replication line in pg_hba.conf" ok \
  replication_connection "IDENTIFY_SYSTEM answered"
p2 "ALTER SYSTEM SET max_replication_slots = 1"
bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" restart "$PG2"
sluice check "$T_DIR/c2.yaml"
check "wal_level_replica: one free slot: exit 0" 0 "$RC"
has_line "wal_level_replica: one free slot is a warning" warning replication_slots \
  "1 of 1 replication slots (max_replication_slots) are free: a table's first copy takes one more for a while"
sluice run "$T_DIR/c2.yaml"
check "wal_level_replica: one free slot: the first copy fails" 1 "$RC"
check_contains "wal_level_replica: ... for want of a slot" "all replication slots are in use" "$ERR"
p2 "ALTER SYSTEM SET max_replication_slots = 10"
bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" restart "$PG2"
sluice run "$T_DIR/c2.yaml"
check "wal_level_replica: run exits 0 once fixed" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -3
p2 "UPDATE t SET v = 'streamed' WHERE id = 2"
sluice run "$T_DIR/c2.yaml"
check "wal_level_replica: copied and streamed" "2|streamed" \
  "$(lite "$T_DIR/c2.db" "SELECT (SELECT count(*) FROM t), (SELECT v FROM t WHERE id = 2)")"
finish
