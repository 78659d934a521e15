#!/usr/bin/env bash
# Operating a cdc pipeline's replication slot (a PostgreSQL warehouse):
#   status_before     `sluice cdc status` before the first run: no slot,
#                     no cursors; a pipeline that is not there or has no
#                     cdc: is exit 2; `sluice check --verbose` documents
#                     max_retained and max_lag, a misspelt or malformed one
#                     is refused
#   status            after the first run, text and --json agree with
#                     pg_replication_slots, pg_current_wal_lsn(), the
#                     publication and the warehouse's cursors
#   drop_shared       a publication another pipeline of the config streams
#                     is kept
#   watch             the daemon: its stream holds the slot, so `cdc drop`
#                     is refused naming the server process; a held batch
#                     pauses the stream while 20+ MB of WAL goes to an
#                     unrelated table: retained bytes and lag grow past
#                     max_retained 8MB and max_lag 3s in /metrics, both
#                     alerts reach a webhook, /api/status, `sluice status`
#                     and the dashboard say so; the batch approved, the
#                     stream confirms, both resolve
#   drop_and_rerun    `cdc drop` (not streamed now) drops the slot and the
#                     publication sluice made, keeps the warehouse tables;
#                     rows inserted, updated and deleted before the next
#                     `sluice run`, which makes a new slot and copies every
#                     table again: reconcile and counts find the warehouse
#                     equal to the source, and the stream goes on after it
#   drop_theirs       a publication sluice did not make is kept; dropping
#                     what is gone is not an error
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cdc_lib.sh"
cdc_dbs
S_OPS="sl_ops_$$"; S_THEIRS="sl_ops_theirs_$$"; S_TWIN="sl_ops_twin_$$"
CDC_SLOTS="'$S_OPS', '$S_THEIRS', '$S_TWIN'"
P_OPS="sl_ops_$$"; P_THEIRS="sl_theirs_$$"
OBS="python3 $SL_SRCDIR/tests/integration/obs_client.py"
OUTDIR="${SL_TEST_OUTPUT:-$PWD/test-output}/t_cdc_ops"
TOKEN="ops-$RANDOM$RANDOM"
HOOK_PID=""; DPID=""
cdc_on_exit() {
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null || true
  [ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null || true
}
W="$T_DIR/w"; mkdir -p "$W/in" "$OUTDIR"
# jq-like: json FIELD-EXPRESSION (python over the JSON on stdin, as `d`)
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

python3 "$SL_SRCDIR/tests/integration/webhook_receiver.py" "$T_DIR/hook.port" "$T_DIR/hook.jsonl" \
  2>"$T_DIR/hook.log" &
HOOK_PID=$!
for _ in $(seq 50); do [ -s "$T_DIR/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$T_DIR/hook.port")/hook"

src "CREATE TABLE a (id int PRIMARY KEY, v text)"
src "INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 1000) g"
src "CREATE TABLE b (id int PRIMARY KEY, name text)"
src "INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 100) g"
src "CREATE TABLE c (id int PRIMARY KEY, v text)"
src "INSERT INTO c SELECT g, 'c' || g FROM generate_series(1, 10) g"
src "CREATE TABLE filler (x text)"          # in no publication
src "CREATE PUBLICATION $P_THEIRS FOR TABLE c"

pipelines() {
cat <<YAML
  - name: ops
    source:
      kind: postgres
      connection: src
      cdc: { slot: $S_OPS, publication: $P_OPS, max_retained: ${1:-8MB}, max_lag: 3s }
    destination: wh
    tables:
      - { name: a, kind: cdc, primary_key: [id] }
      - name: b
        kind: cdc
        primary_key: [id]
        gates: { rules: [ { column: name, reject_match: "^hold" } ] }
YAML
}
cat >"$W/c.yaml" <<YAML
http: { token: "\${T_ADMIN_TOKEN}" }
alerts:
  - { url: "$HOOK", format: generic }
connections:
  src: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
pipelines:
$(pipelines)
  - name: theirs
    source: { kind: postgres, connection: src, cdc: { slot: $S_THEIRS, publication: $P_THEIRS } }
    destination: wh
    tables:
      - { name: c, kind: cdc, primary_key: [id] }
  - name: files_p
    source: { kind: files, path: in }
    destination: wh
    tables: [ { name: f, kind: append } ]
YAML
# the same pipeline and one more streaming its publication
cat >"$W/c2.yaml" <<YAML
connections:
  src: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
pipelines:
$(pipelines)
  - name: twin
    source: { kind: postgres, connection: src, cdc: { slot: $S_TWIN, publication: $P_OPS } }
    destination: wh
    tables:
      - { name: a_twin, source_table: a, kind: cdc, primary_key: [id] }
YAML
export T_ADMIN_TOKEN="$TOKEN"

# ---- status_before ----
sluice cdc status "$W/c.yaml" ops
check "status_before: exit 0" 0 "$RC"
check_contains "status_before: the slot does not exist yet" "$S_OPS: does not exist" "$OUT"
check_contains "status_before: no cursor yet" "cursor none (copied whole on the next run)" "$OUT"
sluice cdc status "$W/c.yaml" ops --json
check "status_before: --json: no slot, no publication, no cursors" "False False [None, None]" \
  "$(echo "$OUT" | json '" ".join(str(x) for x in (d["pipelines"][0]["slot"]["exists"], d["pipelines"][0]["publication"]["exists"], [t["cursor"] for t in d["pipelines"][0]["tables"]]))')"
sluice cdc status "$W/c.yaml" nosuch
check "status_before: a pipeline not in the config: exit 2" "2" "$RC"
check_contains "status_before: ... says so" 'no pipeline "nosuch"' "$ERR"
sluice cdc status "$W/c.yaml" files_p
check "status_before: a pipeline without cdc: exit 2" "2" "$RC"
check_contains "status_before: ... says so" 'pipeline "files_p" has no replication slot' "$ERR"
down=$(free_port)
sed "s#$SL_PG_URL/$SRC_DB#postgresql://postgres@127.0.0.1:$down/nothing#" "$W/c.yaml" >"$W/down.yaml"
sluice cdc status "$W/down.yaml" ops --json
check "status_before: a source that does not answer: exit 1" 1 "$RC"
check_contains "status_before: ... the JSON says why" "Connection refused" \
  "$(echo "$OUT" | json 'd["pipelines"][0]["error"]')"
sluice cdc drop "$W/c.yaml"
check "cdc drop without a pipeline: usage, exit 2" "2" "$RC"
check_contains "cdc drop without a pipeline: its synopsis" "usage: sluice cdc drop CONFIG PIPELINE" "$ERR"
sluice cdc flush "$W/c.yaml"
check "cdc with an unknown subcommand: exit 2" "2" "$RC"
sluice check "$W/c.yaml" --verbose
check_contains "check --verbose: max_retained with its meaning" \
  "max_retained: 8MB                        # the daemon alerts when the slot keeps more WAL than this" "$OUT"
check_contains "check --verbose: max_lag with its meaning" \
  "max_lag: 3s                              # the daemon alerts when the oldest change not yet confirmed" "$OUT"
sed 's/max_retained: 8MB/max_retaind: 8MB/' "$W/c.yaml" >"$W/bad1.yaml"
sluice check "$W/bad1.yaml"
check "check: a misspelt cdc key: exit 2" 2 "$RC"
check_contains "check: ... names it and suggests" 'unknown key "max_retaind" in source: cdc' "$ERR"
check_contains "check: ... did you mean" 'did you mean "max_retained"?' "$ERR"
sed 's/max_retained: 8MB/max_retained: plenty/' "$W/c.yaml" >"$W/bad2.yaml"
sluice check "$W/bad2.yaml"
check "check: a size that is not one: exit 2" 2 "$RC"
check_contains "check: ... says what a size looks like" 'key "max_retained": expected a size like "1GB" or "512MB", found "plenty"' "$ERR"

# ---- status ----
for p in ops theirs; do
  sluice run "$W/c.yaml" "$p"
  check "status: first run of $p: exit 0" 0 "$RC"
done
check "status: the first copy is in" "1000 100" "$(dst "SELECT count(*) FROM a") $(dst "SELECT count(*) FROM b")"
sluice cdc status "$W/c.yaml" ops
check "status: exit 0" 0 "$RC"
check_contains "status: the slot exists, pgoutput" "$S_OPS: exists, plugin pgoutput, database $SRC_DB" "$OUT"
check_contains "status: nothing streams it" "active           no: nothing streams it now" "$OUT"
check_contains "status: retained WAL, and how it is counted" "bytes: current - restart_lsn); max_retained 8MB" "$OUT"
check_contains "status: WAL not confirmed, and how it is counted" "bytes: current - confirmed_flush_lsn)" "$OUT"
check_contains "status: the publication sluice made, and its tables" \
  "publication      $P_OPS (created by sluice): public.a, public.b" "$OUT"
cur_a=$(dst "SELECT value FROM _sluice.cursors WHERE pipeline = 'ops' AND table_name = 'a'")
check_contains "status: table a's cursor, as the warehouse holds it" "cursor $cur_a" "$(grep 'table a ' <<<"$OUT")"
sluice cdc status "$W/c.yaml" ops --json
echo "$OUT" >"$T_DIR/status.json"
S0='d["pipelines"][0]'
read -r conf rest_lsn cur_lsn retained unconf <<<"$(json "' '.join(str($S0['slot'][k]) for k in ('confirmed_flush_lsn', 'restart_lsn', 'current_lsn', 'retained_bytes', 'unconfirmed_bytes'))" <"$T_DIR/status.json")"
check "status --json: confirmed_flush_lsn and restart_lsn are pg_replication_slots'" \
  "$(src "SELECT confirmed_flush_lsn || ' ' || restart_lsn FROM pg_replication_slots WHERE slot_name = '$S_OPS'")" "$conf $rest_lsn"
check "status --json: retained = current - restart_lsn, unconfirmed = current - confirmed_flush_lsn" \
  "$(src "SELECT pg_wal_lsn_diff('$cur_lsn', '$rest_lsn')::bigint || ' ' || pg_wal_lsn_diff('$cur_lsn', '$conf')::bigint")" "$retained $unconf"
check "status --json: the WAL position is the source's (not past it)" t \
  "$(src "SELECT '$cur_lsn'::pg_lsn <= pg_current_wal_lsn()")"
check "status --json: publication, its tables, the cursors, the limits, not streamed" \
  "True public.a,public.b $cur_a,$(dst "SELECT value FROM _sluice.cursors WHERE pipeline = 'ops' AND table_name = 'b'") 8388608 3.0 False" \
  "$(json "' '.join([str($S0['publication']['created_by_sluice']), ','.join($S0['publication']['tables']), ','.join(t['cursor'] for t in $S0['tables']), str($S0['slot']['max_retained_bytes']), str($S0['slot']['max_lag_seconds']), str($S0['slot']['active'])])" <"$T_DIR/status.json")"
sluice cdc status "$W/c.yaml" --json
check "status --json without a pipeline: every cdc pipeline of the config" "['ops', 'theirs']" \
  "$(echo "$OUT" | json '[p["pipeline"] for p in d["pipelines"]]')"
check "status --json: theirs' publication is not sluice's" False \
  "$(echo "$OUT" | json 'd["pipelines"][1]["publication"]["created_by_sluice"]')"

# ---- drop_shared ----
sluice run "$W/c2.yaml" twin
check "drop_shared: twin streams the same publication" "0 1000" "$RC $(dst "SELECT count(*) FROM a_twin")"
sluice cdc drop "$W/c2.yaml" twin
check "drop_shared: exit 0" 0 "$RC"
check_contains "drop_shared: its slot is dropped" "dropped replication slot $S_TWIN" "$OUT"
check_contains "drop_shared: the publication is kept, and why" \
  "kept publication $P_OPS: pipeline \"ops\" of this config streams it too" "$OUT"
check "drop_shared: the slot is gone, the publication is there" "0 1" \
  "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$S_TWIN'") $(src "SELECT count(*) FROM pg_publication WHERE pubname = '$P_OPS'")"

# ---- watch ----
SLUICE_SLOT_POLL_MS=300 SLUICE_ALERT_RETRY_BASE_MS=50 \
  "$SLUICE_BIN" daemon "$W/c.yaml" --listen 127.0.0.1:0 >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
DPID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T_DIR/daemon.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break; sleep 0.1
done
[ -n "$PORT" ] && ok "watch: the daemon listens" || { not_ok "watch: the daemon listens"; cat "$T_DIR/daemon.log"; finish; exit 1; }
U="http://127.0.0.1:$PORT"
sel() { echo "sluice_cdc_slot_$1{pipeline=\"ops\",slot=\"$S_OPS\"}"; }
check "watch: the daemon's stream holds the slot (sluice_cdc_slot_active 1)" 1 \
  "$($OBS wait-metric "$U/metrics" "$(sel active)" == 1 30)"
check "watch: retained, unconfirmed and lag are exposed (none absent)" 0 \
  "$($OBS metrics "$U/metrics" "$(sel retained_bytes)" "$(sel unconfirmed_bytes)" "$(sel lag_seconds)" | grep -c absent || true)"
pid=$(src "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$S_OPS'")
sluice cdc drop "$W/c.yaml" ops
check "watch: drop of a slot being streamed: refused, exit 1" 1 "$RC"
check_contains "watch: ... naming the server process" "slot $S_OPS is active: server process $pid streams it" "$ERR"
check_contains "watch: ... and dropping nothing" "nothing was dropped" "$ERR"
check "watch: the slot and the publication are still there" "1 1" \
  "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$S_OPS'") $(src "SELECT count(*) FROM pg_publication WHERE pubname = '$P_OPS'")"
sluice cdc status "$W/c.yaml" ops
check_contains "watch: cdc status names the process streaming it" "active           yes: server process $pid streams it to sluice" "$OUT"

src "INSERT INTO b VALUES (1000, 'hold me')"
check "watch: a batch breaking a rule is held" quarantined "$($OBS wait-state "$U" ops b quarantined 30)"
check "watch: the held batch pauses the stream: the slot is not streamed" 0 \
  "$($OBS wait-metric "$U/metrics" "$(sel active)" == 0 30)"
src "INSERT INTO filler SELECT repeat(md5(g::text), 8) FROM generate_series(1, 80000) g"
wal=$(src "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots WHERE slot_name = '$S_OPS'")
echo "# WAL the slot keeps after the filler: $wal bytes"
v=$($OBS wait-metric "$U/metrics" "$(sel retained_bytes)" '>' 8388608 30)
check "watch: retained bytes grow past max_retained 8MB" yes "$(python3 -c "print('yes' if float('$v') > 8388608 else '$v')")"
alert=$($OBS wait-alert "$T_DIR/hook.jsonl" slot_retained firing ops "" 30 || true)
check_contains "watch: the slot_retained alert reaches the webhook" '"event":"slot_retained","status":"firing","pipeline":"ops","table":null' "$alert"
check_contains "watch: ... with the slot and what it keeps" "\"slot\":\"$S_OPS\",\"retained_bytes\":" "$alert"
check_contains "watch: ... saying what to do" "sluice cdc drop" "$alert"
v=$($OBS wait-metric "$U/metrics" "$(sel lag_seconds)" '>' 3 30)
check "watch: the lag grows past max_lag 3s" yes "$(python3 -c "print('yes' if float('$v') > 3 else '$v')")"
alert=$($OBS wait-alert "$T_DIR/hook.jsonl" slot_lag firing ops "" 30 || true)
check_contains "watch: the slot_lag alert reaches the webhook" '"event":"slot_lag","status":"firing"' "$alert"
check "watch: /api/status: exists, not streamed, over both limits" "True False True True" \
  "$($OBS req GET "$U/api/status" | cut -d' ' -f2- | json '" ".join(str(s[k]) for s in [[p for p in d["pipelines"] if p["name"] == "ops"][0]["slot"]] for k in ("exists", "active", "retained_over", "lag_over"))')"
sluice status "$W/c.yaml"
check_contains "watch: sluice status: the slot line, over max_retained" \
  "slot $S_OPS of pipeline ops: inactive, keeps" "$OUT"
check_contains "watch: sluice status: ... marked OVER" "(max_retained 8MB: OVER)" "$OUT"
sluice status "$W/c.yaml" --json
check "watch: sluice status --json: retained_over, and the bytes" "True yes" \
  "$(echo "$OUT" | json '" ".join(str(x) for s in [[p for p in d["pipelines"] if p["name"] == "ops"][0]["slot"]] for x in (s["retained_over"], "yes" if s["retained_bytes"] > 8388608 else s["retained_bytes"]))')"
set +e
python3 "$SL_SRCDIR/tests/integration/dashboard_slot.py" "$U/" ops "$S_OPS" "retained lag" "$OUTDIR" \
  | tee "$T_DIR/dash.out"
set -e
T_PASSES=$((T_PASSES + $(grep -c '^ok - ' "$T_DIR/dash.out" || true)))
T_FAILS=$((T_FAILS + $(grep -c '^not ok - ' "$T_DIR/dash.out" || true)))

held=$($OBS state "$U" ops b quarantined_batch)
check_contains "watch: approving the held batch: 200" "200 " \
  "$($OBS req POST "$U/api/batches/$held/approve" --token "$TOKEN" --data '{"pipeline":"ops"}')"
check "watch: the stream goes on: the slot is streamed again" 1 \
  "$($OBS wait-metric "$U/metrics" "$(sel active)" == 1 30)"
# restart_lsn moves on at the server's next snapshot of running transactions
# past what was confirmed; a checkpoint writes one
resolved=""
for _ in $(seq 40); do
  src "CHECKPOINT"
  if $OBS wait-alert "$T_DIR/hook.jsonl" slot_retained resolved ops "" 2 >/dev/null; then resolved=yes; break; fi
done
check "watch: slot_retained resolves once the stream has confirmed it" yes "$resolved"
check "watch: retained bytes back under 8MB" yes \
  "$(v=$($OBS metrics "$U/metrics" "$(sel retained_bytes)"); python3 -c "print('yes' if float('$v') <= 8388608 else '$v')")"
alert=$($OBS wait-alert "$T_DIR/hook.jsonl" slot_lag resolved ops "" 30 || true)
check_contains "watch: slot_lag resolves" '"event":"slot_lag","status":"resolved"' "$alert"
check "watch: the held row is in" 1 "$(dst "SELECT count(*) FROM b WHERE id = 1000")"
check "watch: each alert fired once and resolved once" "1 1 1 1" \
  "$(for e in slot_retained slot_lag; do for s in firing resolved; do grep -c "\"event\":\"$e\",\"status\":\"$s\"" "$T_DIR/hook.jsonl" || true; done; done | xargs)"
kill -TERM "$DPID"
rc=0; wait "$DPID" || rc=$?
DPID=""
check "watch: the daemon stops on SIGTERM" 0 "$rc"

# ---- drop_and_rerun ----
before="$(dst "SELECT count(*) FROM a") $(dst "SELECT count(*) FROM b")"
sluice cdc drop "$W/c.yaml" ops
check "drop_and_rerun: drop: exit 0" 0 "$RC"
check_contains "drop_and_rerun: the slot is dropped" "dropped replication slot $S_OPS" "$OUT"
check_contains "drop_and_rerun: the publication sluice made is dropped" "dropped publication $P_OPS (created by sluice)" "$OUT"
check_contains "drop_and_rerun: it says what happens to the warehouse" \
  "the warehouse keeps the tables of pipeline ops as they are (a, b); the next \`sluice run\` or \`sluice daemon\` of it makes a new slot and copies every table again" "$OUT"
check "drop_and_rerun: slot and publication gone on the source" "0 0" \
  "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$S_OPS'") $(src "SELECT count(*) FROM pg_publication WHERE pubname = '$P_OPS'")"
check "drop_and_rerun: the warehouse tables are kept" "$before" "$(dst "SELECT count(*) FROM a") $(dst "SELECT count(*) FROM b")"
# changes no slot records
src "INSERT INTO a SELECT g, 'new ' || g FROM generate_series(5001, 5100) g"
src "UPDATE a SET v = 'changed' WHERE id <= 20"
src "DELETE FROM a WHERE id BETWEEN 21 AND 30"
src "BEGIN; INSERT INTO b VALUES (2000, 'b new'); DELETE FROM b WHERE id IN (1, 1000); UPDATE b SET name = 'renamed' WHERE id = 2; COMMIT"
copies_before=$(dst "SELECT count(*) FROM _sluice.batches WHERE pipeline = 'ops' AND state = 'committed' AND source_ref NOT LIKE 'cdc:%'")
sluice run "$W/c.yaml" ops
check "drop_and_rerun: the next run: exit 0" 0 "$RC"
[ "$RC" -eq 0 ] || echo "$ERR" | tail -5
check_contains "drop_and_rerun: it says the old cursors belong to a slot that is gone" \
  "replication slot $S_OPS does not exist, but tables a, b hold the position of an earlier slot" "$ERR"
check "drop_and_rerun: a new slot, and the publication made again by sluice" "1 created by sluice" \
  "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$S_OPS'") $(src "SELECT obj_description(oid, 'pg_publication') FROM pg_publication WHERE pubname = '$P_OPS'")"
check "drop_and_rerun: every table was copied whole again" 2 \
  "$(($(dst "SELECT count(*) FROM _sluice.batches WHERE pipeline = 'ops' AND state = 'committed' AND source_ref NOT LIKE 'cdc:%'") - copies_before))"
check "drop_and_rerun: counts equal the source's" \
  "$(src "SELECT count(*) FROM a") $(src "SELECT count(*) FROM b")" "$(dst "SELECT count(*) FROM a") $(dst "SELECT count(*) FROM b")"
check "drop_and_rerun: the inserts, updates and deletes made with no slot are in" "100 20 0 1 0 renamed" \
  "$(dst "SELECT count(*) FILTER (WHERE id > 5000) || ' ' || count(*) FILTER (WHERE v = 'changed') || ' ' || count(*) FILTER (WHERE id BETWEEN 21 AND 30) FROM a") $(dst "SELECT count(*) FILTER (WHERE id = 2000) || ' ' || count(*) FILTER (WHERE id = 1) || ' ' || max(name) FILTER (WHERE id = 2) FROM b")"
sluice reconcile "$W/c.yaml" a b
check "drop_and_rerun: reconcile: in sync (exit 0)" 0 "$RC"
check "drop_and_rerun: both tables in sync" 2 "$(grep -c ': in sync' <<<"$OUT" || true)"
src "INSERT INTO a VALUES (9001, 'after'); UPDATE b SET name = 'later' WHERE id = 3; DELETE FROM a WHERE id = 40"
sluice run "$W/c.yaml" ops
check "drop_and_rerun: the stream goes on from the new slot" "0 1 later 0" \
  "$RC $(dst "SELECT count(*) FROM a WHERE id = 9001") $(dst "SELECT name FROM b WHERE id = 3") $(dst "SELECT count(*) FROM a WHERE id = 40")"
check "drop_and_rerun: ... as batches of its stream" t \
  "$(dst "SELECT bool_and(source_ref LIKE 'cdc:$S_OPS:%') FROM _sluice.batches WHERE pipeline = 'ops' AND id > (SELECT max(id) FROM _sluice.batches WHERE source_ref NOT LIKE 'cdc:%' AND pipeline = 'ops')")"
sluice reconcile "$W/c.yaml" a b
check "drop_and_rerun: in sync after streaming again" "0 2" "$RC $(grep -c ': in sync' <<<"$OUT" || true)"

# ---- drop_theirs ----
sluice cdc status "$W/c.yaml" theirs
check_contains "drop_theirs: cdc status: not sluice's publication" "publication      $P_THEIRS (not created by sluice): public.c" "$OUT"
sluice cdc drop "$W/c.yaml" theirs
check "drop_theirs: exit 0" 0 "$RC"
check_contains "drop_theirs: the slot is dropped" "dropped replication slot $S_THEIRS" "$OUT"
check_contains "drop_theirs: the publication is kept, and why" \
  "kept publication $P_THEIRS: sluice did not create it (its comment is not 'created by sluice')" "$OUT"
check "drop_theirs: the slot gone, the publication there" "0 1" \
  "$(src "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$S_THEIRS'") $(src "SELECT count(*) FROM pg_publication WHERE pubname = '$P_THEIRS'")"
sluice cdc drop "$W/c.yaml" theirs
check "drop_theirs: dropping it again: exit 0" 0 "$RC"
check_contains "drop_theirs: ... nothing to drop" "replication slot $S_THEIRS does not exist: nothing to drop" "$OUT"
finish
