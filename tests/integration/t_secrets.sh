#!/usr/bin/env bash
# Nothing printed, logged or served shows a password, and no value forges a
# log line:
#   1. passwords in connection URLs (user:password@, ?password=, percent-
#      encoded, `password:` from the environment) never appear in `sluice
#      check` (text and --json), `sluice run` (text and json logs), `sluice
#      status`, or `sluice daemon`'s log and /api/status, while the error
#      still says what is wrong (the connection is refused);
#   2. a malformed URL is refused by check, run and daemon with exit 2 at the
#      url's file:line:col and libpq's reason, without the password;
#   3. a table name and a drop file name holding a newline stay inside their
#      log line (text and json logs; SQLite and PostgreSQL warehouses).
. "$(dirname "$0")/lib.sh"
new_db
cd "$T_DIR"
DPID=""
trap '[ -n "$DPID" ] && kill -9 $DPID 2>/dev/null || true; cleanup' EXIT

S1="Us3rInfoSecret"         # user:password@
S2="QueryPwSecret"          # ?password=
S3="Pct@Secret/9"           # written percent-encoded: Pct%40Secret%2F9
S4="EnvPwSecret"            # password: ${T_SECRET_PW}
S5="Bad%zzSecret"           # malformed: libpq echoes the bare value
S6="BogusKeySecret"         # malformed: an unknown query parameter beside it
S7="Sla/shSecret"           # malformed: an unencoded '/'
S8="hunter2@secretpart"     # malformed: an unencoded '@'
SECRETS=("$S1" "$S2" "$S3" "Pct%40Secret%2F9" "$S4" "$S5" "$S6" "$S7" "Sla" "hunter2" "secretpart")
export T_SECRET_PW="$S4"
DEAD="127.0.0.1:1"          # nothing listens there: the connection is refused

# no_secret NAME TEXT: none of the passwords (nor a piece libpq would show) in TEXT
no_secret() {
  local s
  for s in "${SECRETS[@]}"; do
    if [[ "$2" == *"$s"* ]]; then
      not_ok "$1: shows \"$s\""; echo "#   in: ${2:0:2000}"; return
    fi
  done
  ok "$1: no password"
}

# ---- 1. well-formed URLs, connections that fail ----
mkdir -p drops1 drops2 drops3 drops4
cat > good.yaml <<YAML
http: { token: "admin-tok-1234" }
connections:
  c_userinfo: { url: "postgresql://loader:$S1@$DEAD/wh?sslmode=disable" }
  c_query: "postgresql://loader@$DEAD/wh?sslmode=disable&password=$S2&connect_timeout=5"
  c_pct: { url: "postgresql://loader:Pct%40Secret%2F9@$DEAD/wh" }
  c_env: { url: "postgresql://loader@$DEAD/wh", password: "\${T_SECRET_PW}" }
pipelines:
  - { name: p1, source: { kind: files, path: drops1, format: csv, settle: 0s }, destination: c_userinfo, tables: [ { name: t1, kind: append } ] }
  - { name: p2, source: { kind: files, path: drops2, format: csv, settle: 0s }, destination: c_query, tables: [ { name: t2, kind: append } ] }
  - { name: p3, source: { kind: files, path: drops3, format: csv, settle: 0s }, destination: c_pct, tables: [ { name: t3, kind: append } ] }
  - { name: p4, source: { kind: files, path: drops4, format: csv, settle: 0s }, destination: c_env, tables: [ { name: t4, kind: append } ] }
YAML
for i in 1 2 3 4; do printf 'id,v\n1,a\n' | drop drops$i d.csv; done

sluice check good.yaml
check "check: well-formed URLs pass" 0 "$RC"
no_secret "check (text)" "$OUT $ERR"
check_contains "check shows the user-info password as ***" "postgresql://loader:***@$DEAD/wh" "$OUT"
check_contains "check shows ?password= as ***" "&password=***&connect_timeout=5" "$OUT"
sluice check good.yaml --json
check "check --json exits 0" 0 "$RC"
no_secret "check --json" "$OUT $ERR"
check "check --json: the URLs, redacted" \
  "postgresql://loader:***@$DEAD/wh?sslmode=disable postgresql://loader@$DEAD/wh?sslmode=disable&password=***&connect_timeout=5 postgresql://loader:***@$DEAD/wh postgresql://loader@$DEAD/wh" \
  "$(python3 -c 'import json,sys; print(" ".join(c["url"] for c in json.load(sys.stdin)["connections"]))' <<<"$OUT")"

for fmt in text json; do
  SLUICE_RETRIES=1 sluice --log-format $fmt run good.yaml
  check "run ($fmt log): the refused connections fail the run" 1 "$RC"
  no_secret "run ($fmt log)" "$OUT $ERR"
  check_contains "run ($fmt log): the error says what is wrong" "could not connect to PostgreSQL" "$ERR"
  check_contains "run ($fmt log): libpq's reason kept" "Connection refused" "$ERR"
done

SLUICE_RETRIES=1 sluice status good.yaml --json
no_secret "status --json" "$OUT $ERR"
check_contains "status --json: the error says what is wrong" "Connection refused" "$OUT"

SLUICE_RETRIES=1 SLUICE_POLL_MS=200 "$SLUICE_BIN" daemon good.yaml --listen 127.0.0.1:0 \
  >daemon.out 2>daemon.log &
DPID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' daemon.log 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break; sleep 0.1
done
[ -n "$PORT" ] && ok "daemon listens" || { not_ok "daemon listens"; cat daemon.log; }
body=""
for _ in $(seq 100); do
  body=$(curl -s -H "Authorization: Bearer admin-tok-1234" "http://127.0.0.1:$PORT/api/status" || true)
  [ "$(grep -o 'Connection refused' <<<"$body" | wc -l)" -ge 4 ] && break; sleep 0.2
done
check "daemon: /api/status has an error for each of the 4 tables" 4 \
  "$(python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["pipelines"] for t in p["tables"] if "Connection refused" in (t["last_error"] or "")))' <<<"$body")"
no_secret "daemon: /api/status" "$body"
for path in /api/batches /metrics /; do
  no_secret "daemon: $path" "$(curl -s -H "Authorization: Bearer admin-tok-1234" "http://127.0.0.1:$PORT$path" || true)"
done
body=$(curl -s "http://127.0.0.1:$PORT/api/status" || true)
check "daemon: /api/status without the token leaves out the errors (they may quote data)" 0 \
  "$(python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["pipelines"] for t in p["tables"] if t["last_error"]))' <<<"$body")"
kill $DPID; wait $DPID 2>/dev/null || true; DPID=""
no_secret "daemon: log" "$(cat daemon.out daemon.log)"
check_contains "daemon: the log says what is wrong" "could not connect to PostgreSQL" "$(cat daemon.log)"

# ---- 2. malformed URLs: refused everywhere, at the url, without the password ----
# name|url|what libpq says (or sluice instead of libpq's echo)
while IFS='|' read -r -u 3 name url reason; do
  cat > "$name.yaml" <<YAML
connections:
  wh:
    url: "$url"
pipelines:
  - { name: p1, source: { kind: files, path: drops1, format: csv, settle: 0s }, destination: wh, tables: [ { name: t1, kind: append } ] }
YAML
  sluice check "$name.yaml"
  check "$name: check exits 2" 2 "$RC"
  check_contains "$name: check names the url's file:line:col" "$name.yaml:3:10: connection \"wh\": key \"url\": not a valid PostgreSQL connection URL" "$ERR"
  check_contains "$name: check says what is wrong" "$reason" "$ERR"
  no_secret "$name: check" "$OUT $ERR"
  sluice check "$name.yaml" --json
  check "$name: check --json exits 2" 2 "$RC"
  no_secret "$name: check --json" "$OUT $ERR"
  sluice --log-format json run "$name.yaml"
  check "$name: run exits 2" 2 "$RC"
  check_contains "$name: run says what is wrong" "$reason" "$ERR"
  no_secret "$name: run" "$OUT $ERR"
  set +e
  timeout 20 "$SLUICE_BIN" daemon "$name.yaml" --listen 127.0.0.1:0 >daemon.out 2>daemon.log
  RC=$?
  set -e
  check "$name: daemon refuses to start (exit 2)" 2 "$RC"
  no_secret "$name: daemon" "$(cat daemon.out daemon.log)"
done 3<<EOF
pct|postgresql://loader@$DEAD/wh?password=$S5|invalid percent-encoded token: "***"
bogus|postgresql://loader:$S6@$DEAD/wh?bogus=1|invalid URI query parameter: "bogus"
slash|postgresql://loader:$S7@$DEAD/wh|the port is not a number
at|postgresql://loader:$S8@$DEAD/wh|there is an '@' in the user name or password
EOF

# ---- 3. newlines in a table name and a file name: no forged log line ----
FORGED="2030-01-01T00:00:00Z error x"
for wh in sqlite pg; do
  [ $wh = sqlite ] && url="sqlite://wh.db" || url="$T_PG_URL"
  for fmt in text json; do
    rm -rf "fdrops" wh.db; mkdir fdrops
    [ $wh = pg ] && psql -qX -d "$T_DB" -c 'DROP SCHEMA IF EXISTS _sluice CASCADE' >/dev/null 2>&1 || true
    cat > forge.yaml <<YAML
connections:
  wh: "$url"
pipelines:
  - name: p
    source: { kind: files, path: fdrops, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: "t_$fmt\n$FORGED\r\t\u001b[2K", kind: append } ]
YAML
    printf 'id,v\n1,a\n' | drop fdrops "x
$FORGED: forged by the file name.csv"
    sluice --log-format $fmt run forge.yaml
    check "$wh/$fmt: the drop loads" 0 "$RC"
    lines=$(printf '%s\n' "$ERR" | wc -l)
    check "$wh/$fmt: no log line starts with the forged text" 0 \
      "$(printf '%s\n' "$ERR" | grep -c "^$FORGED" || true)"
    if [ $fmt = text ]; then
      check "$wh/text: every line is a log line (timestamp, level)" "$lines" \
        "$(printf '%s\n' "$ERR" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z (debug|info|warning|error) ' || true)"
      check_contains "$wh/text: the table name, escaped" "table=t_text\\n$FORGED\\r\\t\\x1b[2K" "$ERR"
      check_contains "$wh/text: the file name, escaped" "x\\n$FORGED: forged by the file name.csv" "$ERR"
      [[ "$ERR" != *$'\x1b'* ]] && ok "$wh/text: no raw escape character" || not_ok "$wh/text: no raw escape character"
    else
      check "$wh/json: every line is a JSON object naming the table as it is" "$lines $lines" \
        "$(python3 -c '
import json, sys
n = ok = 0
for line in sys.stdin.read().splitlines():
    n += 1
    o = json.loads(line)
    ok += o.get("table") in (None, sys.argv[1])
print(n, ok)' "t_json"$'\n'"$FORGED"$'\r\t\x1b[2K' <<<"$ERR")"
      check_contains "$wh/json: the file name as a JSON escape" "x\\n$FORGED: forged by the file name.csv" "$ERR"
    fi
  done
done

finish
