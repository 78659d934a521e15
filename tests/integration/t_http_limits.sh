#!/usr/bin/env bash
# The HTTP servers of `sluice daemon` (admin and event collector) against
# hostile clients, into PostgreSQL and SQLite:
#   1. Host: a name not ours is refused (421) by both servers; localhost, an
#      IP address and a name in http.hosts are served;
#   2. the admin API: /api/batches (gate examples: data values) needs the
#      token (401 without, 200 with); /api/status shows last_error (errors
#      may quote a value) only with the token; /healthz and /metrics stay open;
#   3. ambiguous framing (two Content-Lengths, Content-Length with chunked,
#      two Transfer-Encodings) is 400 and stores nothing;
#   4. bodies: 16 parallel 62 MB POSTs without a token get 401 before their
#      body is read, 16 with the token but over the pipeline's own max_body
#      get 413 (announced or chunked): the daemon's peak RSS stays < 100 MB
#      over its start;
#   5. connections: started with a soft limit of 1024 open files (raised to
#      the hard limit), 1,500 idle connections from one address to each
#      server leave /healthz and a POST from 127.0.0.2 answering at once; the
#      noisy client gets 503 + Retry-After past its share, is refused past
#      twice it; idle connections close after http.timeout, and so do
#      requests whose headers or body drip in slower than it, on the
#      collector and on the admin server;
#   6. the total cap: a second daemon with max_connections 8 answers the
#      connections past it (from other addresses each) 503 with Retry-After
#      and closes them, refuses those past twice it unanswered, serves one
#      within it, and serves a fresh client once they have closed (admin
#      /healthz and a collector POST alike).
. "$(dirname "$0")/lib.sh"
new_db
HL="python3 $SL_SRCDIR/tests/integration/http_limits.py"
W="$T_DIR/w"; mkdir -p "$W/in/pg" "$W/in/lite"
TOKEN="tok-$RANDOM-$RANDOM"; ADMIN="adm-$RANDOM-$RANDOM"
DPID=""
trap '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null || true; cleanup' EXIT
APORT=$(free_port); EPORT=$(free_port)
TIMEOUT=3

cat >"$W/c.yaml" <<YAML
http: { listen: "127.0.0.1:$APORT", token: "\${T_ADMIN}", timeout: ${TIMEOUT}s,
        max_connections_per_client: 50, hosts: [sluice.internal] }
connections:
  pgwh: { url: "$T_PG_URL" }
  litewh: { url: "sqlite://wh.db" }
pipelines:
  - name: pgbig
    source: { kind: http, listen: "127.0.0.1:$EPORT", token: "\${T_TOKEN}", event_id: event_id,
              max_body: 64MB }
    destination: pgwh
    tables:
      - name: pg_events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, email: text }
  - name: litesmall
    source: { kind: http, listen: "127.0.0.1:$EPORT", token: "\${T_TOKEN}", event_id: event_id,
              max_body: 1KB }
    destination: litewh
    tables:
      - name: lite_events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, email: text }
  - name: pgfiles
    source: { kind: files, path: in/pg, format: csv, settle: 0s }
    destination: pgwh
    tables:
      - { name: pg_orders, kind: append, gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] } }
  - name: litefiles
    source: { kind: files, path: in/lite, format: csv, settle: 0s }
    destination: litewh
    tables:
      - { name: lite_orders, kind: append, gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] } }
YAML
export T_TOKEN="$TOKEN" T_ADMIN="$ADMIN"

# a soft limit of 1024 open files, as many systems start services with
( ulimit -Sn 1024; SLUICE_POLL_MS=200 exec "$SLUICE_BIN" daemon "$W/c.yaml" ) >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
DPID=$!
for _ in $(seq 200); do
  [ "$(grep -c "collecting events on" "$T_DIR/daemon.log" 2>/dev/null || true)" -ge 2 ] && break
  sleep 0.05
done
A="http://127.0.0.1:$APORT"; E="http://127.0.0.1:$EPORT"
read -r soft hard < <(awk '/Max open files/ {print $4, $5}' "/proc/$DPID/limits")
check "the daemon raises its open files limit to the hard one" "$hard" "$soft"

# code ARGS...: curl's status code
code() { curl -s -o "$T_DIR/.body" -w '%{http_code}' "$@"; }
post() { code -X POST -H "Authorization: Bearer $TOKEN" --data-binary "$2" "$E/v1/events/$1"; }

# ---- 1. Host ----
check "admin: a foreign Host is refused" 421 "$(code -H 'Host: evil.example' "$A/healthz")"
check_contains "admin: the refusal says what to do" 'http: { hosts: [...] }' "$(cat "$T_DIR/.body")"
check "collector: a foreign Host is refused" 421 \
  "$(code -H 'Host: evil.example:80' -X POST -H "Authorization: Bearer $TOKEN" --data '{"event_id":"h0"}' "$E/v1/events/pgbig")"
check "admin: Host localhost:PORT is served" 200 "$(code -H "Host: localhost:$APORT" "$A/healthz")"
check "admin: a name in http.hosts is served" 200 "$(code -H 'Host: sluice.internal' "$A/healthz")"
check "admin: an IP address is served" 200 "$(code -H "Host: [::1]:$APORT" "$A/healthz")"
check "collector: a name in http.hosts is served" 200 \
  "$(code -H 'Host: SLUICE.internal' -X POST -H "Authorization: Bearer $TOKEN" --data '{"event_id":"h1"}' "$E/v1/events/pgbig")"

# ---- 2. the admin API and data values ----
OBS="python3 $SL_SRCDIR/tests/integration/obs_client.py"
for d in pg lite; do
  printf 'id,email\n1,ok@example.com\n2,leak-%s@test.example\n' $d | drop "$W/in/$d" q.csv
  check "$d: a drop breaking a rule is held" quarantined "$($OBS wait-state "$A" ${d}files ${d}_orders quarantined 20)"
done
check "/api/batches without the token: 401" 401 "$(code "$A/api/batches?state=quarantined")"
check "/api/batches with a wrong token: 401" 401 "$(code -H "Authorization: Bearer x$ADMIN" "$A/api/batches")"
check "/api/batches with the token: 200" 200 "$(code -H "Authorization: Bearer $ADMIN" "$A/api/batches?state=quarantined")"
for d in pg lite; do
  check_contains "$d: with the token the held batch's example is there" "leak-$d@test.example" "$(cat "$T_DIR/.body")"
done
check "/api/status without the token: 200" 200 "$(code "$A/api/status")"
check "/api/status without the token: no value of the data" "" "$(grep -o 'leak-[a-z]*@test' "$T_DIR/.body" || true)"
check "/api/status without the token: last_error is null" "null null null null" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(json.dumps(t["last_error"]) for p in d["pipelines"] for t in p["tables"]))' "$T_DIR/.body")"
code -H "Authorization: Bearer $ADMIN" "$A/api/status" >/dev/null
check_contains "/api/status with the token: last_error is there" \
  '"last_error":"in/pg/q.csv: held by gate(s) rules"' "$(cat "$T_DIR/.body")"
check_contains "/api/status with the token: last_error (sqlite) is there" \
  '"last_error":"in/lite/q.csv: held by gate(s) rules"' "$(cat "$T_DIR/.body")"
check "/healthz is open" 200 "$(code "$A/healthz")"
check "/metrics is open" 200 "$(code "$A/metrics")"
check "an action without the token: 401" 401 "$(code -X POST "$A/api/batches/1/approve")"

# ---- 3. framing ----
check "sqlite: a plain POST is stored" 200 "$(post litesmall '{"event_id":"ok0"}')"
for kind in two-lengths length-and-chunked two-chunked; do
  for p in pgbig litesmall; do
    check "$p: $kind: 400" "$kind 400" "$($HL raw "$EPORT" $kind "$TOKEN" $p)"
  done
done
check "pg: nothing of the ambiguous requests stored" 0 "$(pg "SELECT count(*) FROM pg_events WHERE event_id LIKE 'framing-%'")"
check "sqlite: nothing of the ambiguous requests stored" 0 "$(lite "$W/wh.db" "SELECT count(*) FROM lite_events WHERE event_id LIKE 'framing-%'")"

# ---- 4. bodies ----
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$DPID/status"; }
base=$(hwm)
r=$($HL bigpost "$EPORT" /v1/events/pgbig $((62 << 20)) 16 -)
check_contains "16 x 62 MB without a token: all 401" "statuses 401
" "$r
"
check_contains "... answered before 8 MB of a body was sent" "most_sent_before_answer_mb " "$r"
sent=$(echo "$r" | awk '/most_sent/ {print $2}')
[ "$sent" -lt 8 ] && ok "no-token bodies cut short ($sent MB)" || not_ok "no-token bodies cut short: $sent MB sent"
r=$($HL bigpost "$EPORT" /v1/events/litesmall $((62 << 20)) 16 "$TOKEN")
check_contains "16 x 62 MB over the pipeline's max_body (1KB): all 413" "statuses 413
" "$r
"
sent=$(echo "$r" | awk '/most_sent/ {print $2}')
[ "$sent" -lt 8 ] && ok "announced oversize bodies cut short ($sent MB)" || not_ok "announced oversize bodies cut short: $sent MB sent"
r=$($HL bigpost "$EPORT" /v1/events/litesmall $((8 << 20)) 4 "$TOKEN" chunked)
check_contains "chunked bodies over max_body: 413" "statuses 413
" "$r
"
peak=$(hwm)
[ $((peak - base)) -lt 100 ] && ok "peak RSS grew by $((peak - base)) MB (< 100; $base -> $peak MB)" \
  || not_ok "peak RSS grew by $((peak - base)) MB ($base -> $peak MB)"
check "within max_body and with the token still 200" 200 "$(post litesmall '{"event_id":"ok1"}')"

# ---- 5. connections ----
r=$($HL crowd "$APORT" "$EPORT" "$TOKEN" pgbig 1500 $TIMEOUT)
echo "$r" | sed 's/^/# /'
check_contains "from another address /healthz answers at once" "other_healthz 200 prompt" "$r"
check_contains "from another address a POST answers at once" "other_post 200 prompt" "$r"
check_contains "the noisy client past its share: 503 with Retry-After" "noisy_past_share 503 retry-after=5" "$r"
check_contains "the noisy client within its share: 200" "noisy_within_share 200" "$r"
n=$(echo "$r" | awk '/crowd_failed_or_closed/ {print $2}')
[ "$n" -ge 2800 ] && ok "past twice its share the noisy client is refused ($n of 3000)" || not_ok "noisy client refused: $n of 3000"
check_contains "idle connections closed after the timeout" "idle_open_after_timeout 0" "$r"
check "the crowd's POST is stored" 1 "$(pg "SELECT count(*) FROM pg_events WHERE event_id = 'crowd-1'")"
# drip_check NAME PORT METHOD PATH MODE TOKEN: closed by the server, not
# answered, and neither before the timeout nor long after it
drip_check() {
  local r secs
  r=$($HL drip "$2" "$3" "$4" "$5" $TIMEOUT "$6")
  secs=${r#*closed_after=}
  if [[ "$r" == *closed_after=* && "$secs" -ge $((TIMEOUT - 1)) && "$secs" -le $((TIMEOUT + 2)) ]]; then
    ok "$1: a request whose $5 drip in is closed after the timeout ($r)"
  else
    not_ok "$1: a request whose $5 drip in is closed after the timeout: $r"
  fi
}
for mode in headers body; do
  drip_check collector "$EPORT" POST /v1/events/pgbig $mode "$TOKEN"
done
drip_check admin "$APORT" GET /healthz headers "$ADMIN"
drip_check admin "$APORT" GET /api/status body "$ADMIN"
check "/healthz still fine" 200 "$(code "$A/healthz")"
check "no error logged" "" "$(grep 'Z error' "$T_DIR/daemon.log" || true)"
check_contains "the closed slow requests are logged" "whose request did not arrive within 3 s" "$(cat "$T_DIR/daemon.log")"

kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?; DPID=""
check "SIGTERM: the daemon exits 0" 0 "$rc"

# ---- 6. the total cap ----
CAP=8; APORT2=$(free_port); EPORT2=$(free_port)
cat >"$W/c2.yaml" <<YAML
http: { listen: "127.0.0.1:$APORT2", timeout: 20s, max_connections: $CAP,
        max_connections_per_client: 4 }
connections:
  litewh: { url: "sqlite://wh2.db" }
pipelines:
  - name: litecap
    source: { kind: http, listen: "127.0.0.1:$EPORT2", token: "\${T_TOKEN}", event_id: event_id }
    destination: litewh
    tables:
      - { name: cap_events, kind: append, primary_key: [event_id], columns: { event_id: text } }
YAML
SLUICE_POLL_MS=200 "$SLUICE_BIN" daemon "$W/c2.yaml" >"$T_DIR/daemon2.out" 2>"$T_DIR/daemon2.log" &
DPID=$!
for _ in $(seq 200); do
  grep -q "collecting events on" "$T_DIR/daemon2.log" 2>/dev/null && grep -q "admin HTTP listening" "$T_DIR/daemon2.log" && break
  sleep 0.05
done
for srv in admin:$APORT2:healthz collector:$EPORT2:post; do
  IFS=: read -r name port kind <<<"$srv"
  r=$($HL totalcap "$port" $CAP "$kind" "$TOKEN" litecap)
  echo "$r" | sed 's/^/# /'
  check_contains "$name: past twice max_connections: refused, no answer" "beyond_headroom_answered 0 of 3" "$r"
  check_contains "$name: past max_connections (other addresses): 503 with Retry-After" "over_total 503 retry-after=5
" "$r"
  check_contains "$name: ... each closed after its answer" "over_total_closed $CAP of $CAP" "$r"
  check_contains "$name: ... the answer says why" "too many connections to this server (at most $CAP in all); retry later" "$r"
  check_contains "$name: within max_connections: served" "within_total 200" "$r"
  check_contains "$name: once they close a fresh client is served" "fresh_after_close 200" "$r"
done
check "collector: the requests within the cap are stored" 2 \
  "$(lite "$W/wh2.db" "SELECT count(*) FROM cap_events WHERE event_id IN ('totalcap-1', 'totalcap-2')")"
check "collector: none past the cap is stored" 0 \
  "$(lite "$W/wh2.db" "SELECT count(*) FROM cap_events WHERE event_id GLOB 'totalcap-1??'")"
check_contains "the 503s past the total cap are logged" "past the $CAP allowed open in all and got 503 (http: { max_connections })" \
  "$(cat "$T_DIR/daemon2.log")"
check "total cap: no error logged" "" "$(grep 'Z error' "$T_DIR/daemon2.log" || true)"
kill -TERM "$DPID"; rc=0; wait "$DPID" || rc=$?; DPID=""
check "SIGTERM: the second daemon exits 0" 0 "$rc"
finish
