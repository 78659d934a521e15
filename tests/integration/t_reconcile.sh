#!/usr/bin/env bash
# sluice reconcile, against a PostgreSQL source and two warehouses
# (PostgreSQL, SQLite):
#   in_sync_after_load        equal tables are reported in sync (exit 0), over
#       every column type the warehouse stores
#   pending_is_not_drift      a row updated normally after the last run (its
#       cursor moved) is pending, not drift
#   silent_drift_found        an UPDATE that leaves updated_at alone, a DELETE
#       and a row inserted with an old timestamp are found: the exact keys,
#       as different, extra and missing (exit 1, a "drift" alert); the same
#       for a table with a two-column key; the key ranges bisect a table of
#       5000 rows with a few checksum queries
#   key_limit_never_hides_drift  with SLUICE_RECONCILE_MAX_KEYS below the
#       number of differences, every difference is still counted (exit 1,
#       in_sync false, how many not listed), and a pending row takes no slot
#   repair_resyncs_and_rolls_back  --repair re-syncs exactly those keys as a
#       batch of its own (kind repair, committed), after which the tables are
#       in sync; rolling that batch back brings the drift back
. "$(dirname "$0")/lib.sh"
new_db
SRC_DB=$T_DB
DST_DB="${T_DB}_wh"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DST_DB\"" >/dev/null
python3 "$SL_SRCDIR/tests/integration/webhook_receiver.py" "$T_DIR/hook.port" "$T_DIR/hook.jsonl" 2>/dev/null &
HOOK_PID=$!
cleanup_all() {
  kill $HOOK_PID 2>/dev/null || true
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$DST_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  cleanup
}
trap cleanup_all EXIT
for _ in $(seq 50); do [ -s "$T_DIR/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$T_DIR/hook.port")/hook"
export PGTZ=UTC
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
dst() { psql -qXAt -v ON_ERROR_STOP=1 -d "$DST_DB" -c "$1"; }
W="$T_DIR/w"; mkdir -p "$W"

src "CREATE TABLE accounts (id bigint PRIMARY KEY, name text, balance numeric(14,2),
       ratio double precision, flag boolean, opened date, meta jsonb, doc json, local_ts timestamp,
       small int, tiny real, tags text[], updated_at timestamptz NOT NULL)"
src "INSERT INTO accounts SELECT i, CASE WHEN i % 7 = 0 THEN 'a, \"b\" (c)\\\\' ELSE 'n' || i END,
       i * 1.5, CASE WHEN i % 11 = 0 THEN 'NaN' WHEN i % 13 = 0 THEN -0.0 ELSE i / 3.0 END,
       CASE WHEN i % 5 = 0 THEN NULL ELSE i % 2 = 0 END, date '2000-01-01' + i,
       jsonb_build_object('k', i), ('{\"x\":  ' || i || '}')::json,
       '2023-11-05 01:30'::timestamp + i * interval '1 s', i % 100, i / 7.0,
       array['t' || i, ''], '2024-01-01'::timestamptz + (i / 10) * interval '1 min'
     FROM generate_series(1, 5000) i"
src "CREATE TABLE pairs (region text, n int, v text, at timestamptz, PRIMARY KEY (region, n))"
src "INSERT INTO pairs SELECT r, n, r || n, '2024-01-01'::timestamptz + n * interval '1 h'
       FROM unnest(array['eu', 'us', 'EU', 'äsia', 'z z']) r, generate_series(1, 600) n"

for dest in pg lite; do
  if [ $dest = pg ]; then url="$SL_PG_URL/$DST_DB"; else url="sqlite://wh.db"; fi
  cat >"$W/$dest.yaml" <<YAML
alerts:
  - { url: "$HOOK", format: generic }
connections:
  crm: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$url" }
pipelines:
  - name: crm
    source: { kind: postgres, connection: crm, timezone: America/New_York }
    destination: wh
    tables:
      - { name: accounts, kind: incremental, mode: updater, primary_key: [id],
          cursor: [updated_at, id], boundary: 1s, batch_limit: 2000 }
      - { name: pairs, kind: snapshot, primary_key: [region, n] }
YAML
done
run_all() { for d in pg lite; do sluice run "$W/$d.yaml"; [ "$RC" = 0 ] || echo "# run $d: rc $RC: $ERR"; done; }
# keys of one kind of drift, from --json: "table:kind" -> "k=v k=v;..."
keys() {
  python3 -c '
import json, sys
out = json.load(open(sys.argv[1]))
t = [r for r in out if r["table"] == sys.argv[2]][0]
print(";".join(" ".join(k + "=" + v for k, v in sorted(row.items())) for row in t[sys.argv[3]]))' "$W/rec.json" "$1" "$2"
}
field() {
  python3 -c '
import json, sys
out = json.load(open(sys.argv[1]))
print([r for r in out if r["table"] == sys.argv[2]][0][sys.argv[3]])' "$W/rec.json" "$1" "$2"
}

run_all
for dest in pg lite; do
  sluice reconcile "$W/$dest.yaml"
  check "$dest: equal tables are in sync (exit 0)" "0" "$RC"
  check_contains "$dest: accounts in sync" "accounts: in sync (5000 rows" "$OUT"
  check_contains "$dest: pairs in sync" "pairs: in sync (3000 rows" "$OUT"
done

# ---- pending_is_not_drift ----
src "UPDATE accounts SET name = 'moved', updated_at = now() WHERE id = 10"
for dest in pg lite; do
  sluice reconcile "$W/$dest.yaml" accounts --json
  echo "$OUT" >"$W/rec.json"
  check "$dest: a row changed after the cursor is pending, not drift" "0 True 1" \
    "$RC $(field accounts in_sync) $(field accounts pending)"
done
sleep 1.2
run_all

# ---- silent_drift_found ----
src "UPDATE accounts SET balance = balance + 1 WHERE id = 1234"     # updated_at untouched
src "UPDATE accounts SET meta = '{\"k\": -1}' WHERE id = 4999"
src "DELETE FROM accounts WHERE id = 4321"
src "INSERT INTO accounts (id, name, balance, updated_at) VALUES (99999, 'late', 1, '2000-01-01')"
src "UPDATE pairs SET v = 'changed' WHERE region = 'EU' AND n = 17"
src "DELETE FROM pairs WHERE region = 'z z' AND n = 600"
: >"$T_DIR/hook.jsonl"
for dest in pg lite; do
  sluice reconcile "$W/$dest.yaml" --json
  echo "$OUT" >"$W/rec.json"
  check "$dest: drift is exit 1" "1" "$RC"
  check "$dest: accounts: the row updated without its timestamp, and the jsonb one, are different" \
    "id=1234;id=4999" "$(keys accounts different)"
  check "$dest: accounts: the deleted row is extra" "id=4321" "$(keys accounts extra)"
  check "$dest: accounts: the row inserted with an old timestamp is missing" "id=99999" "$(keys accounts missing)"
  check "$dest: pairs (two-column key): different and extra" "n=17 region=EU|n=600 region=z z" \
    "$(keys pairs different)|$(keys pairs extra)"
  check "$dest: the bisection took few checksum queries" "True" \
    "$(python3 -c 'import json,sys; r=[t for t in json.load(open(sys.argv[1])) if t["table"]=="accounts"][0]; print(2 <= r["checksum_queries"] <= 12)' "$W/rec.json")"
  sluice reconcile "$W/$dest.yaml" accounts
  check_contains "$dest: the text report names the keys" "different (id)=(1234)" "$OUT"
done
check "a drift alert went out for every comparison that found drift (3 per warehouse)" "6" \
  "$(grep -c '"drift"' "$T_DIR/hook.jsonl" || true)"
check_contains "the alert says what drifted" "1 missing, 1 extra, 2 different" "$(cat "$T_DIR/hook.jsonl")"

# ---- key_limit_never_hides_drift ----
src "UPDATE accounts SET name = 'moved again', updated_at = now() + interval '1 h' WHERE id = 20"
for dest in pg lite; do
  for lim in 1 2 3; do
    export SLUICE_RECONCILE_MAX_KEYS=$lim
    sluice reconcile "$W/$dest.yaml" accounts --json
    echo "$OUT" >"$W/rec.json"
    listed=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))[0]; print(len(r["missing"])+len(r["extra"])+len(r["different"]))' "$W/rec.json")
    check "$dest: key limit $lim: drift (exit 1), not in sync, every difference counted, $lim listed, $((4 - lim)) not, the pending row apart" \
      "1 False 1 1 2 $lim $((4 - lim)) 1" \
      "$RC $(field accounts in_sync) $(field accounts missing_count) $(field accounts extra_count) $(field accounts different_count) $listed $(field accounts unlisted) $(field accounts pending)"
  done
  export SLUICE_RECONCILE_MAX_KEYS=1
  sluice reconcile "$W/$dest.yaml" accounts
  check "$dest: key limit 1: the text report is drift (exit 1)" "1" "$RC"
  check_contains "$dest: key limit 1: it says how many it did not list" \
    "accounts: drift: 1 missing, 1 extra, 2 different" "$OUT"
  check_contains "$dest: key limit 1: and that they are past the limit" "3 of them not listed" "$OUT"
  export SLUICE_RECONCILE_MAX_COUNTED=2
  sluice reconcile "$W/$dest.yaml" accounts
  check "$dest: counting capped at 2: still drift (exit 1)" "1" "$RC"
  check_contains "$dest: counting capped: the counts are a floor" "accounts: drift: at least " "$OUT"
  sluice reconcile "$W/$dest.yaml" accounts --json
  echo "$OUT" >"$W/rec.json"
  check "$dest: counting capped: counts_complete false in --json" "False" "$(field accounts counts_complete)"
  unset SLUICE_RECONCILE_MAX_KEYS SLUICE_RECONCILE_MAX_COUNTED
done

# ---- repair_resyncs_and_rolls_back ----
for dest in pg lite; do
  if [ $dest = pg ]; then q() { dst "$1"; }; B=_sluice.batches; else q() { lite "$W/wh.db" "$1"; }; B=_sluice_batches; fi
  sluice reconcile "$W/$dest.yaml" --repair
  check "$dest: --repair exits 0" "0" "$RC"
  check_contains "$dest: it names the repair batch" "re-synced by batch" "$OUT"
  check_contains "$dest: and the real command that undoes it" "(undo: sluice rollback $W/$dest.yaml " "$OUT"
  sluice reconcile "$W/$dest.yaml"
  check "$dest: after the repair the tables are in sync" "0" "$RC"
  check "$dest: the repaired rows are the source's" "$(src "SELECT balance FROM accounts WHERE id = 1234")|0|1" \
    "$(q "SELECT balance FROM accounts WHERE id = 1234")|$(q "SELECT count(*) FROM accounts WHERE id = 4321")|$(q "SELECT count(*) FROM accounts WHERE id = 99999")"
  rb=$(q "SELECT max(id) FROM $B WHERE table_name = 'accounts' AND kind = 'repair' AND state = 'committed'")
  check "$dest: the repair is a committed batch of its own" "t" "$([ -n "$rb" ] && echo t || echo f)"
  sluice rollback "$W/$dest.yaml" "$rb"
  check "$dest: the repair batch rolls back" "0" "$RC"
  check "$dest: a repair batch had no drop to forget" "" "$(echo "$OUT" | grep -i 'drop' || true)"
  sluice reconcile "$W/$dest.yaml" accounts --json
  echo "$OUT" >"$W/rec.json"
  check "$dest: after the rollback the drift is back" "1 id=1234;id=4999 id=4321 id=99999" \
    "$RC $(keys accounts different) $(keys accounts extra) $(keys accounts missing)"
done

# ---- the daemon reconciles on its own: reconcile: { every } ----
sed 's/^    destination: wh$/    destination: wh\n    reconcile: { every: 1s }/' "$W/pg.yaml" >"$W/daemon.yaml"
SLUICE_POLL_MS=300 "$SLUICE_BIN" daemon "$W/daemon.yaml" --listen 127.0.0.1:0 >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.err" &
DPID=$!
for _ in $(seq 100); do grep -q "reconcile: 1 missing, 1 extra, 2 different" "$T_DIR/daemon.err" && break; sleep 0.2; done
kill -TERM $DPID; wait $DPID || true
check_contains "daemon: reconcile every 1s finds the drift" "table=accounts: reconcile: 1 missing, 1 extra, 2 different rows" \
  "$(cat "$T_DIR/daemon.err")"
check_contains "daemon: and the tables in sync" "table=pairs: reconcile: in sync" "$(cat "$T_DIR/daemon.err")"

# its own clock: first at start, then every `every`, whatever the schedule
sed 's/^    destination: wh$/    destination: wh\n    schedule: every 1h\n    reconcile: { every: 2s }/' "$W/pg.yaml" >"$W/clock.yaml"
"$SLUICE_BIN" daemon "$W/clock.yaml" --listen 127.0.0.1:0 >"$T_DIR/clock.out" 2>"$T_DIR/clock.err" &
DPID=$!
for _ in $(seq 100); do [ "$(grep -c "table=pairs: reconcile: in sync" "$T_DIR/clock.err")" -ge 2 ] && break; sleep 0.2; done
kill -TERM $DPID; wait $DPID || true
check "daemon: with a schedule of 1h, reconcile every 2s runs at start and again 2s later" "2" \
  "$(grep -c "table=pairs: reconcile: in sync" "$T_DIR/clock.err" | awk '{print ($1 >= 2) ? 2 : $1}')"
# ... and first at start: with every: 1h, a reconcile that waited `every`
# before its first pass would say nothing in the first seconds
sed 's/^    destination: wh$/    destination: wh\n    schedule: every 1h\n    reconcile: { every: 1h }/' "$W/pg.yaml" >"$W/start.yaml"
"$SLUICE_BIN" daemon "$W/start.yaml" --listen 127.0.0.1:0 >"$T_DIR/start.out" 2>"$T_DIR/start.err" &
DPID=$!
for _ in $(seq 75); do grep -q "table=pairs: reconcile: in sync" "$T_DIR/start.err" && break; sleep 0.2; done
kill -TERM $DPID; wait $DPID || true
check "daemon: reconcile every 1h runs once at start (within 15 s)" "1" \
  "$(grep -c "table=pairs: reconcile: in sync" "$T_DIR/start.err")"

# reconcile holds the table's lease as a run does: one held elsewhere (as a
# load would hold it) makes it wait up to lock_wait, then say so (exit 1)
key=$(python3 -c '
import sys
h = 1469598103934665603
for c in ("sluice:" + sys.argv[1]).encode():
    h = ((h ^ c) * 1099511628211) % (1 << 64)
print(h - (1 << 64) if h >= (1 << 63) else h)' "public.accounts")
sed 's/^    destination: wh$/    destination: wh\n    lock_wait: 1s/' "$W/pg.yaml" >"$W/leased.yaml"
psql -qXAt -d "$DST_DB" -c "select pg_advisory_lock($key)" -c "select pg_sleep(4)" >/dev/null &
HOLDER=$!
sleep 0.5
sluice reconcile "$W/leased.yaml" accounts
check "reconcile while a load holds the table: exit 1" "1" "$RC"
check_contains "reconcile while a load holds the table: says so" "is being loaded by another run" "$ERR"
wait $HOLDER

sluice reconcile "$W/pg.yaml" nosuch
check "an unknown table is a usage error (exit 2)" "2" "$RC"

finish
