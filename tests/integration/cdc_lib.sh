# tests/integration/cdc_lib.sh: what the cdc tests on the harness cluster
# share (sourced after lib.sh): a source database (the test's own, T_DB)
# and a warehouse database beside it, src/dst to run SQL in each, and a
# cleanup that drops the test's replication slots first (a database a slot
# belongs to cannot be dropped).
#   cdc_dbs                 make both; sets SRC_DB, DST_DB; traps EXIT
#   CDC_SLOTS="'a', 'b'"    the slots to drop at exit (set it after cdc_dbs)
#   cdc_on_exit() { ...; }  define it for a test's own cleanup (run first)
CDC_SLOTS="''"
cdc_on_exit() { :; }
cdc_cleanup() {
  cdc_on_exit || true
  psql -qX -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE slot_name IN ($CDC_SLOTS)" >/dev/null 2>&1 || true
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  cleanup
}
cdc_dbs() {
  new_db
  SRC_DB=$T_DB
  DST_DB="${T_DB}_wh"
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
  trap cdc_cleanup EXIT
  export PGTZ=UTC
}
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
