#!/usr/bin/env bash
# The http event collector (`source: { kind: http }` served by `sluice daemon`):
#   1. the right status for a bad token (401), an oversized body (413),
#      malformed JSON (400 naming line:column), an unknown pipeline (404);
#      a JSON object, an array and NDJSON are all taken;
#   2. a mixed batch: the good events land, the bad ones (wrong type, no id,
#      a broken rule, a bad timestamp) go to the dead letter table with the
#      error and the raw event; after the config is fixed `sluice replay`
#      loads what now passes, and a second replay loads nothing twice;
#   3. 100,000 events from 8 concurrent clients, some requests sent twice as
#      a retrying client would: the table holds exactly the distinct events;
#   4. SIGKILL of the daemon during such a load: every event acknowledged
#      before the kill is in the table; after a restart the clients resend
#      what got no answer, and the table ends with each event exactly once;
#   5. the same into SQLite; HTTPS with a certificate; SIGTERM stops cleanly;
#   0. and first: config mistakes are refused by `sluice check` with file:line:col.
. "$(dirname "$0")/lib.sh"
shopt -s lastpipe    # `... | post`: post sets CODE and BODY here
new_db
CLIENT="python3 $SL_SRCDIR/tests/integration/event_client.py"
W="$T_DIR/w"; mkdir -p "$W"
TOKEN="tok-$RANDOM-$RANDOM"
N=100000; NKILL=40000; NLITE=20000
if [ "${SL_SANITIZED:-}" = "ON" ]; then N=20000; NKILL=10000; NLITE=5000; fi
DPID=""
trap '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null || true; cleanup' EXIT

PORT=$(free_port); TLSPORT=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1

# write_config RULE_MAX: the max the amount rule allows
write_config() {
  cat >"$W/c.yaml" <<YAML
connections:
  pgwh: { url: "$T_PG_URL" }
  litewh: { url: "sqlite://wh.db" }
pipelines:
  - name: app
    source: { kind: http, listen: "127.0.0.1:$PORT", token: "\${T_TOKEN}", event_id: event_id,
              max_body: 64KB }
    destination: pgwh
    tables:
      - name: events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, type: text, user_id: bigint, amount: numeric, ts: timestamptz }
        paths: { amount: order.total }
        gates: { rules: [ { column: amount, min: 0, max: $1 } ] }
  - name: lite
    source: { kind: http, listen: "127.0.0.1:$PORT", token: "\${T_TOKEN}", event_id: meta.id }
    destination: litewh
    tables:
      - name: lite_events
        kind: append
        primary_key: [id]
        columns: { id: text, amount: numeric }
        paths: { amount: order.total }
        gates: { rules: [ { column: amount, max: $1 } ] }
  - name: gated
    source: { kind: http, listen: "127.0.0.1:$PORT", token: "\${T_TOKEN}", event_id: event_id }
    destination: litewh
    tables:
      - name: gated_events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, user_id: bigint }
        gates: { unique_key: { columns: [user_id] } }
  - name: secure
    source: { kind: http, listen: "127.0.0.1:$TLSPORT", token: "\${T_TOKEN}", event_id: event_id,
              tls_cert: cert.pem, tls_key: key.pem }
    destination: litewh
    tables:
      - { name: secure_events, kind: append, primary_key: [event_id] }
YAML
}
write_config 1000
export T_TOKEN="$TOKEN"

start_daemon() {
  local before
  before=$(grep -c "collecting events on" "$T_DIR/daemon.log" 2>/dev/null || true)
  "$SLUICE_BIN" daemon "$W/c.yaml" --listen 127.0.0.1:0 >>"$T_DIR/daemon.out" 2>>"$T_DIR/daemon.log" &
  DPID=$!
  for _ in $(seq 200); do
    [ "$(grep -c "collecting events on" "$T_DIR/daemon.log" 2>/dev/null || true)" -ge $((before + 4)) ] && return 0
    sleep 0.05
  done
  not_ok "daemon started"; tail -20 "$T_DIR/daemon.log"; return 1
}

# post PATH [TOKEN]: POST stdin; sets CODE and BODY
post() {
  local auth=()
  [ -n "${2-}" ] && auth=(-H "Authorization: Bearer $2")
  CODE=$(curl -s -o "$T_DIR/.resp" -w '%{http_code}' -X POST "${auth[@]}" \
    -H 'Content-Type: application/x-ndjson' --data-binary @- "http://127.0.0.1:$PORT$1")
  BODY=$(cat "$T_DIR/.resp")
}

# ---- 0. config mistakes ----
# bad_config NAME WANT SOURCE TABLE: `sluice check` refuses it, saying WANT
bad_config() {
  printf 'connections:\n  wh: { url: "sqlite://x.db" }\npipelines:\n  - name: p\n    source: %s\n    destination: wh\n    tables:\n%s\n' \
    "$3" "$4" >"$W/bad.yaml"
  sluice check "$W/bad.yaml"
  check "config: $1: exit 2" 2 "$RC"
  check_contains "config: $1: says why" "$2" "$ERR"
}
bad_config "paths on a files source" 'key "paths" applies to event sources' \
  '{ kind: files, path: in }' '      - { name: t, kind: append, paths: { a: b.c } }'
bad_config "event_id without a primary key" 'event_id fills the primary key' \
  '{ kind: http, listen: "127.0.0.1:1", event_id: id }' '      - { name: t, kind: append }'
bad_config "two tables" 'an event source loads one table' \
  '{ kind: http, listen: "127.0.0.1:1" }' '      - { name: t, kind: append }
      - { name: u, kind: append }'
bad_config "max_body" 'max_body "lots": expected a size' \
  '{ kind: http, listen: "127.0.0.1:1", max_body: lots }' '      - { name: t, kind: append }'
bad_config "publish without servers" 'source: publish: missing required key "servers"' \
  '{ kind: http, listen: "127.0.0.1:1", publish: { subject: x } }' '      - { name: t, kind: append }'
bad_config "jetstream without durable" 'missing required key "durable"' \
  '{ kind: jetstream, servers: [nats://127.0.0.1:4222], stream: S, subject: s }' '      - { name: t, kind: append }'
bad_config "an empty path part" 'has an empty part' \
  '{ kind: http, listen: "127.0.0.1:1" }' '      - { name: t, kind: append, paths: { a: "b..c" } }'

start_daemon

# ---- 1. statuses ----
# a batch gate holds the request's batch: 202, and nothing counted as stored
printf '{"event_id":"g1","user_id":7}\n{"event_id":"g2","user_id":7}\n' | post /v1/events/gated "$TOKEN"
check "held by a batch gate: 202" 202 "$CODE"
check "held: nothing is accepted (stored) yet, both events are held" "0 2" \
  "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["accepted"], d["held"])' <<<"$BODY")"
check "held: nothing is in the table" "0" "$(lite "$W/wh.db" "select count(*) from gated_events" 2>/dev/null || echo 0)"
echo '{"event_id":"s1"}' | post /v1/events/app
check "no token: 401" 401 "$CODE"
echo '{"event_id":"s1"}' | post /v1/events/app "wrong-$TOKEN"
check "wrong token: 401" 401 "$CODE"
python3 -c 'import json; print("\n".join(json.dumps({"event_id": "big%d" % i, "pad": "x" * 200}) for i in range(400)))' |
  post /v1/events/app "$TOKEN"
check "body over max_body: 413" 413 "$CODE"
printf '{"event_id":"s1",\n "order": {"total": [1, 2,}}' | post /v1/events/app "$TOKEN"
check "malformed JSON: 400" 400 "$CODE"
check_contains "malformed JSON: the error names line:column" '"2:27: invalid JSON' "$BODY"
printf '{"event_id":"n1"}\n{"event_id":"n2"}\n{"event_id": tru}\n' | post /v1/events/app "$TOKEN"
check "malformed NDJSON line: 400" 400 "$CODE"
check_contains "malformed NDJSON: names line 3" '"3:' "$BODY"
printf '[{"event_id":"a1"}, 42]' | post /v1/events/app "$TOKEN"
check "array with a non-object: 400" 400 "$CODE"
echo '{"event_id":"s1"}' | post /v1/events/nosuch "$TOKEN"
check "unknown pipeline: 404" 404 "$CODE"
check "nothing of the refused requests was stored" t "$(pg "SELECT to_regclass('events') IS NULL")"
echo '{"event_id":"s1","type":"one","order":{"total":1.50}}' | post /v1/events/app "$TOKEN"
check "one JSON object: 200" '200 {"accepted":1,"dead_lettered":0}' "$CODE $BODY"
printf '[{"event_id":"s2","order":{"total":2}},\n {"event_id":"s3","order":{"total":3}}]' |
  post /v1/events/app "$TOKEN"
check "a JSON array: 200" '200 {"accepted":2,"dead_lettered":0}' "$CODE $BODY"
check "stored with exact numbers and the whole event" \
  '1.50|one|t' "$(pg "SELECT amount, type, _event = '{\"event_id\":\"s1\",\"type\":\"one\",\"order\":{\"total\":1.50}}'::jsonb FROM events WHERE event_id = 's1'")"

# ---- 2. a mixed batch, the dead letter table, replay ----
cat >"$T_DIR/mixed.ndjson" <<'EOF'
{"event_id":"m1","order":{"total":10}}
{"event_id":"m2","order":{"total":"abc"}}
{"order":{"total":5},"type":"no id"}
{"event_id":"m4","order":{"total":5000}}
{"event_id":"m5","order":{"total":20},"ts":"2024-03-10T02:30:00Z"}
{"event_id":"m6","order":{"total":30},"ts":"yesterday"}
EOF
post /v1/events/app "$TOKEN" <"$T_DIR/mixed.ndjson"
check "mixed batch: 200, accepted is what was stored (2), 4 dead-lettered" '200 {"accepted":2,"dead_lettered":4}' "$CODE $BODY"
post /v1/events/app "$TOKEN" <"$T_DIR/mixed.ndjson"
check "mixed batch retried by the client: the same answer" '200 {"accepted":2,"dead_lettered":4}' "$CODE $BODY"
check "mixed batch retried: each bad event is dead-lettered once (by id, or by its bytes without one)" "4" \
  "$(pg "SELECT count(*) FROM _sluice.dead_letter WHERE pipeline = 'app'")"
check "mixed batch: the good events landed" "m1 m5" \
  "$(pg "SELECT string_agg(event_id, ' ' ORDER BY event_id) FROM events WHERE event_id LIKE 'm%'")"
DL=$(pg "SELECT coalesce(event_id, '-') || ': ' || error FROM _sluice.dead_letter WHERE pipeline = 'app' ORDER BY id")
check_contains "dead letter: wrong type" 'm2: column "amount" (numeric): not a number: "abc"' "$DL"
check_contains "dead letter: no id" '-: primary key column "event_id" is empty' "$DL"
check_contains "dead letter: broken rule" 'm4: rule "amount range" broken' "$DL"
check_contains "dead letter: bad timestamp" 'm6: column "ts" (timestamptz)' "$DL"
check "dead letter keeps the raw event and when" '{"event_id":"m2","order":{"total":"abc"}}|t|t' \
  "$(pg "SELECT payload, received_at IS NOT NULL, batch_id IS NOT NULL FROM _sluice.dead_letter WHERE event_id = 'm2'")"

# a value the warehouse refuses that no check catches (jsonb cannot hold
# 1e999999): found by halving the batch, set aside alone
printf '{"event_id":"p1","order":{"total":1}}\n{"event_id":"p2","x":1e999999}\n{"event_id":"p3","order":{"total":3}}\n' |
  post /v1/events/app "$TOKEN"
check "refused by the warehouse: 200, that one dead-lettered" '200 {"accepted":2,"dead_lettered":1}' "$CODE $BODY"
check "refused by the warehouse: the others landed" "p1 p3" \
  "$(pg "SELECT string_agg(event_id, ' ' ORDER BY event_id) FROM events WHERE event_id LIKE 'p%'")"
check_contains "refused by the warehouse: its error" "the warehouse refused the event" \
  "$(pg "SELECT error FROM _sluice.dead_letter WHERE event_id = 'p2'")"
pg "DELETE FROM _sluice.dead_letter WHERE event_id = 'p2'" >/dev/null

sluice replay "$W/c.yaml" --pipeline app
check "replay before the fix: exit 1, nothing loads" "1" "$RC"
check_contains "replay before the fix: counts" "replayed 4 events: 0 loaded, 0 already stored, 4 still failing" "$OUT"
write_config 100000     # the fix: the amount rule was too strict
sluice replay "$W/c.yaml" --pipeline app
check_contains "replay after the fix: the rule-broken event loads" "replayed 4 events: 1 loaded, 0 already stored, 3 still failing" "$OUT"
check "replayed event is in the table once" "1|5000" "$(pg "SELECT count(*), max(amount) FROM events WHERE event_id = 'm4'")"
check "replayed event is marked" "t" \
  "$(pg "SELECT replayed_at IS NOT NULL AND replayed_by IS NOT NULL FROM _sluice.dead_letter WHERE event_id = 'm4'")"
sluice replay "$W/c.yaml" --pipeline app
check_contains "replay again: only the still failing ones" "replayed 3 events: 0 loaded" "$OUT"
M4=$(pg "SELECT id FROM _sluice.dead_letter WHERE event_id = 'm4'")
sluice replay "$W/c.yaml" "$M4" --json
check "replay of a replayed id by number: exit 0" 0 "$RC"
check_contains "replay of a replayed id: stored already, not twice" '"already_stored": 1' "$OUT"
check "m4 still once" 1 "$(pg "SELECT count(*) FROM events WHERE event_id = 'm4'")"
# the daemon keeps its config until restarted
kill -TERM $DPID; wait $DPID || true; DPID=""
start_daemon

# ---- 3. 100,000 events, 8 clients, some requests sent twice ----
BEFORE=$(pg "SELECT count(*) FROM events")
crc=0
$CLIENT load "http://127.0.0.1:$PORT/v1/events/app" --events $N --clients 8 --per-request 80 \
  --repeat-rate 0.1 --token "$TOKEN" --prefix L --seed 7 >"$T_DIR/load.json" 2>"$T_DIR/load.err" || crc=$?
check "load: every request answered" 0 "$crc"
[ "$crc" = 0 ] || head -5 "$T_DIR/load.err"
check_contains "load: some requests were sent twice" '"repeated_requests"' "$(cat "$T_DIR/load.json")"
check "load: exactly the distinct events" "$N|$N" \
  "$(pg "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE 'L-%'")"
check "load: nothing else changed" "$((BEFORE + N))" "$(pg "SELECT count(*) FROM events")"
check "load: values as sent" "7.07|order.placed|10" \
  "$(pg "SELECT amount, type, user_id FROM events WHERE event_id = 'L-1007'")"
NGROUPS=$(pg "SELECT count(*) FROM _sluice.batches WHERE pipeline = 'app' AND state = 'committed' AND source_ref LIKE 'http:%'")
echo "# $N events in $NGROUPS group commits ($(cat "$T_DIR/load.json"))"
[ "$NGROUPS" -lt $((N / 80)) ] && ok "group commit: fewer commits than requests" || not_ok "group commit: $NGROUPS commits"

# ---- 4. SIGKILL during a load; restart; clients resend ----
: >"$T_DIR/acked.txt"
$CLIENT load "http://127.0.0.1:$PORT/v1/events/app" --events $NKILL --clients 8 --per-request 60 \
  --repeat-rate 0.05 --token "$TOKEN" --prefix K --acked "$T_DIR/acked.txt" --seed 11 \
  >"$T_DIR/kill.json" 2>"$T_DIR/kill.err" &
CPID=$!
lost=0
for round in 1 2 3; do
  want=$((NKILL * round / 4))
  for _ in $(seq 600); do
    [ "$(wc -l <"$T_DIR/acked.txt")" -ge "$want" ] && break
    sleep 0.05
  done
  kill -9 $DPID; wait $DPID 2>/dev/null || true; DPID=""
  # every event acknowledged before the kill must be in the table now
  sort -u "$T_DIR/acked.txt" >"$T_DIR/acked.sorted"
  pg "SELECT event_id FROM events WHERE event_id LIKE 'K-%'" | sort -u >"$T_DIR/stored.sorted"
  missing=$(comm -23 "$T_DIR/acked.sorted" "$T_DIR/stored.sorted" | wc -l)
  lost=$((lost + missing))
  echo "# kill $round: $(wc -l <"$T_DIR/acked.sorted") acknowledged, $(wc -l <"$T_DIR/stored.sorted") stored, $missing acknowledged but missing"
  sleep 0.3
  start_daemon
done
crc=0
wait $CPID || crc=$?
check "kill: clients got every request answered in the end" 0 "$crc"
[ "$crc" = 0 ] || head -5 "$T_DIR/kill.err"
check "kill: nothing acknowledged was lost" 0 "$lost"
check "kill: each event exactly once" "$NKILL|$NKILL" \
  "$(pg "SELECT count(*), count(DISTINCT event_id) FROM events WHERE event_id LIKE 'K-%'")"
check_contains "kill: clients did resend unanswered requests" '"retried_unanswered"' "$(cat "$T_DIR/kill.json")"

# ---- 5. SQLite, HTTPS, SIGTERM ----
python3 - "$NLITE" >"$T_DIR/lite.ndjson" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"meta": {"id": "q%d" % i}, "order": {"total": i % 100}}))
PY
split -l 500 -d -a 4 "$T_DIR/lite.ndjson" "$T_DIR/lite."
for f in "$T_DIR"/lite.[0-9]*; do
  post /v1/events/lite "$TOKEN" <"$f"; [ "$CODE" = 200 ] || { not_ok "sqlite post $f: $CODE $BODY"; break; }
  post /v1/events/lite "$TOKEN" <"$f"     # sent twice
done
check "sqlite: exactly the distinct events" "$NLITE|$NLITE" \
  "$(lite "$W/wh.db" "SELECT count(*), count(DISTINCT id) FROM lite_events")"
printf '{"meta":{"id":"x1"},"order":{"total":1}}\n{"meta":{"id":"x2"},"order":{"total":"n/a"}}\n{"order":{"total":2}}\n{"meta":{"id":"x4"},"order":{"total":5000000}}\n' |
  post /v1/events/lite "$TOKEN"
check "sqlite mixed batch: 200, 1 stored, 3 dead-lettered" '200 {"accepted":1,"dead_lettered":3}' "$CODE $BODY"
printf '{"meta":{"id":"x1"},"order":{"total":1}}\n{"meta":{"id":"x2"},"order":{"total":"n/a"}}\n{"order":{"total":2}}\n{"meta":{"id":"x4"},"order":{"total":5000000}}\n' |
  post /v1/events/lite "$TOKEN"
check "sqlite mixed batch retried: the same answer" '200 {"accepted":1,"dead_lettered":3}' "$CODE $BODY"
check "sqlite dead letter table" "3" \
  "$(lite "$W/wh.db" "SELECT count(*) FROM _sluice_dead_letter WHERE pipeline = 'lite' AND replayed_at IS NULL")"
write_config 10000000
sluice replay "$W/c.yaml" --pipeline lite
check_contains "sqlite replay after the fix" "replayed 3 events: 1 loaded, 0 already stored, 2 still failing" "$OUT"

CODE=$(printf '{"event_id":"t1","x":1}' | curl -s --cacert "$W/cert.pem" -o "$T_DIR/.resp" -w '%{http_code}' \
  -X POST -H "Authorization: Bearer $TOKEN" --data-binary @- "https://127.0.0.1:$TLSPORT/v1/events/secure")
check "https: 200" 200 "$CODE"
check "https: stored" 1 "$(lite "$W/wh.db" "SELECT count(*) FROM secure_events WHERE event_id = 't1'")"
CODE=$(printf '{"event_id":"t2"}' | curl -s -o /dev/null -w '%{http_code}' -X POST \
  --data-binary @- "http://127.0.0.1:$TLSPORT/v1/events/secure" || true)
[ "$CODE" != 200 ] && ok "https: plain http is not served" || not_ok "https: plain http answered 200"

kill -TERM $DPID
for _ in $(seq 100); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
if kill -0 $DPID 2>/dev/null; then not_ok "SIGTERM: daemon stops"; else
  wait $DPID; check "SIGTERM: exit 0" 0 "$?"; fi
DPID=""
check_contains "SIGTERM: collectors stopped" "collector stopped" "$(cat "$T_DIR/daemon.log")"
finish
