#!/usr/bin/env bash
# `sluice daemon`: watching drop folders, PostgreSQL and SQLite pipelines in
# parallel, and seeing them:
#   1. /metrics parses as the Prometheus exposition format and its values move
#      exactly as batches load (rows, bytes, batches by state, histogram);
#   2. a quarantine shows in /api/status and /metrics, and alerts a webhook;
#      approving through the API needs the token (401 without), loads the
#      batch and sends the resolve;
#   3. a table with no batch within stale_after goes stale (alert) and is ok
#      again once one loads (resolve);
#   4. rollback through the API; `sluice status` says what /api/status says;
#   5. --log-format json: every line JSON, with pipeline, table and batch;
#      SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"
new_db
OBS="python3 $SL_SRCDIR/tests/integration/obs_client.py"
W="$T_DIR/w"; mkdir -p "$W/in/pg" "$W/in/lite" "$W/in/fresh"
TOKEN="tok-$RANDOM-$RANDOM"

python3 "$SL_SRCDIR/tests/integration/webhook_receiver.py" "$T_DIR/hook.port" "$T_DIR/hook.jsonl" \
  2>"$T_DIR/hook.log" &
HOOK_PID=$!
DPID=""
trap 'kill $HOOK_PID 2>/dev/null || true; [ -n "$DPID" ] && kill -9 $DPID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do [ -s "$T_DIR/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$T_DIR/hook.port")/hook"

cat >"$W/d.yaml" <<YAML
http: { token: "\${T_ADMIN_TOKEN}" }
alerts:
  - { url: "$HOOK", format: generic }
connections:
  pgwh: { url: "$T_PG_URL" }
  litewh: { url: "sqlite://wh.db" }
pipelines:
  - name: pg_orders
    source: { kind: files, path: in/pg, format: csv, settle: 0s }
    destination: pgwh
    tables:
      - name: pg_orders
        kind: append
        gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] }
  - name: lite_orders
    source: { kind: files, path: in/lite, format: csv, settle: 0s }
    destination: litewh
    tables:
      - name: lite_orders
        kind: append
        gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] }
  - name: lite_fresh
    source: { kind: files, path: in/fresh, format: csv, settle: 0s }
    destination: litewh
    stale_after: 6s
    tables:
      - { name: fresh, kind: append }
YAML

# orders FILE FIRST COUNT [BAD_EMAIL_ROWS]: a drop of COUNT rows
orders() {
  { echo "id,email,amount"
    seq "$2" $(($2 + $3 - 1)) | awk '{printf "%d,u%d@example.com,%d.50\n", $1, $1, $1}'
    for i in $(seq 1 "${4:-0}"); do echo "$((900000 + i)),qa$i@test.example.com,1.00"; done
  } >"$1"
}
dropf() { touch -d '-10 seconds' "$1"; mv "$1" "$2/"; }   # a finished, settled drop
# api_decisions PIPELINE BATCH: what|who|at|note of each of the batch's
# decisions in /api/batches, oldest first (at "ISO" when ISO 8601 UTC with Z),
# then its finished_at
api_decisions() {
  $OBS req GET "$U/api/batches?pipeline=$1&limit=1000" --token "$TOKEN" | cut -d' ' -f2- |
    python3 -c 'import json,re,sys
b=[x for x in json.load(sys.stdin) if x["id"]==int(sys.argv[1])][0]
for d in b["decisions"]:
    at="ISO" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", d["at"] or "") else d["at"]
    print("%s|%s|%s|%s" % (d["what"], d["who"], at, d["note"]))
print(b["finished_at"])' "$2"
}

# a fresh drop loads at start; with nothing after it the table goes stale
# stale_after (6 s) later, while sections 1 and 2 run. 6 s, not less: once the
# next drop loads, the table must be seen ok before it can go stale again, and
# that window is stale_after long
orders "$T_DIR/f1.csv" 1 3; dropf "$T_DIR/f1.csv" "$W/in/fresh"

export T_ADMIN_TOKEN="$TOKEN"
SLUICE_POLL_MS=200 SLUICE_ALERT_RETRY_BASE_MS=50 \
  "$SLUICE_BIN" --log-format json daemon "$W/d.yaml" --listen 127.0.0.1:0 \
  >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
DPID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T_DIR/daemon.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break; sleep 0.1
done
[ -n "$PORT" ] && ok "daemon listens (port $PORT)" || { not_ok "daemon listens"; cat "$T_DIR/daemon.log"; finish; exit 1; }
U="http://127.0.0.1:$PORT"

m() { $OBS metrics "$U/metrics" "$@"; }
sel() { echo "$1{pipeline=\"$2\",table=\"$2\"${3:-}}"; }   # sel NAME PIPELINE/TABLE [,extra]

# ---- 1. metrics before and as batches load ----
out=$(m 'sluice_rows_loaded_total{pipeline="pg_orders",table="pg_orders"}' \
        'sluice_dead_letters_total{pipeline="lite_orders",table="lite_orders"}' \
        'sluice_gate_failures_total{pipeline="pg_orders",table="pg_orders",gate="rules"}' \
        'sluice_batches_total{pipeline="lite_orders",table="lite_orders",state="committed"}' \
        'sluice_batch_duration_seconds_count{pipeline="pg_orders",table="pg_orders"}' | xargs)
check "the exposition parses; every series exists at 0 before any load" "0 0 0 0 0" "$out"

for dest in pg lite; do
  t=${dest}_orders
  orders "$T_DIR/a.csv" 1 137; bytes=$(stat -c %s "$T_DIR/a.csv"); dropf "$T_DIR/a.csv" "$W/in/$dest"
  v=$($OBS wait-metric "$U/metrics" "$(sel sluice_batches_total $t ',state="committed"')" == 1 20)
  check "$dest: a drop loads: batches{state=committed} 0 -> 1" 1 "$v"
  check "$dest: rows_loaded is exactly the rows dropped" 137 "$(m "$(sel sluice_rows_loaded_total $t)")"
  check "$dest: bytes_loaded is the drop's size" "$bytes" "$(m "$(sel sluice_bytes_loaded_total $t)")"
  check "$dest: one batch in the duration histogram" "1 1" \
    "$(m "$(sel sluice_batch_duration_seconds_count $t)" "$(sel sluice_batch_duration_seconds_bucket $t ',le="+Inf"')" | xargs)"
  check "$dest: lag is exposed once loaded" "yes" \
    "$(v=$(m "$(sel sluice_lag_seconds $t)"); [ "$v" != absent ] && echo yes || echo "$v")"
  orders "$T_DIR/b.csv" 1000 50; dropf "$T_DIR/b.csv" "$W/in/$dest"
  v=$($OBS wait-metric "$U/metrics" "$(sel sluice_batches_total $t ',state="committed"')" == 2 20)
  check "$dest: a second drop: committed 2" 2 "$v"
  check "$dest: rows_loaded 137 + 50" 187 "$(m "$(sel sluice_rows_loaded_total $t)")"
  check "$dest: status ok" ok "$($OBS state "$U" $t $t)"
done

# ---- 2. quarantine, seen and approved through the API ----
for dest in pg lite; do
  t=${dest}_orders
  orders "$T_DIR/q.csv" 2000 20 2; dropf "$T_DIR/q.csv" "$W/in/$dest"
  check "$dest: /api/status says quarantined" quarantined "$($OBS wait-state "$U" $t $t quarantined 20)"
  held=$($OBS state "$U" $t $t quarantined_batch)
  check_contains "$dest: the pipeline is quarantined too" '"quarantined"' \
    "$($OBS req GET "$U/api/status" | python3 -c "import json,sys; s,b=sys.stdin.read().split(' ',1); print(json.dumps([p['state'] for p in json.loads(b)['pipelines'] if p['name']=='$t']))")"
  check "$dest: metrics count the quarantine and the rules gate" "1 1 187" \
    "$(m "$(sel sluice_batches_total $t ',state="quarantined"')" "$(sel sluice_gate_failures_total $t ',gate="rules"')" "$(sel sluice_rows_loaded_total $t)" | xargs)"
  check_contains "$dest: /api/batches has it with its gate report" '"rules":{' \
    "$($OBS req GET "$U/api/batches?state=quarantined&pipeline=$t" --token "$TOKEN")"
  alert=$($OBS wait-alert "$T_DIR/hook.jsonl" quarantined firing $t $t 15 || true)
  check_contains "$dest: quarantine alert received" "\"batch\":$held," "$alert"

  check_contains "$dest: approve without the token: 401" "401 " "$($OBS req POST "$U/api/batches/$held/approve?pipeline=$t")"
  check_contains "$dest: approve with a wrong token: 401" "401 " \
    "$($OBS req POST "$U/api/batches/$held/approve?pipeline=$t" --token "x$TOKEN")"
  check "$dest: still quarantined after refused approvals" quarantined "$($OBS state "$U" $t $t)"
  r=$($OBS req POST "$U/api/batches/$held/approve" --token "$TOKEN" --data "{\"pipeline\":\"$t\",\"note\":\"checked by the test\"}")
  check_contains "$dest: approve with the token: 200, committed" '200 {"batch":'"$held"',"pipeline":"'$t'","action":"approve","state":"committed","rows":22}' "$r"
  check "$dest: table ok after approve" ok "$($OBS wait-state "$U" $t $t ok 10)"
  check "$dest: the approved rows count as loaded" "3 209" \
    "$(m "$(sel sluice_batches_total $t ',state="committed"')" "$(sel sluice_rows_loaded_total $t)" | xargs)"
  alert=$($OBS wait-alert "$T_DIR/hook.jsonl" quarantined resolved $t $t 15 || true)
  check_contains "$dest: resolve alert received" "\"batch\":$held," "$alert"
  check_contains "$dest: approving it again: 409" "409 " "$($OBS req POST "$U/api/batches/$held/approve?pipeline=$t" --token "$TOKEN")"
  dec=$(api_decisions $t $held)
  check "$dest: /api/batches: the API's approval, who, when and the note" \
    "approved|the admin API token|ISO|checked by the test" "$(head -n -1 <<<"$dec")"
  approved_fin=$(tail -1 <<<"$dec")
done
check_contains "approving an unknown batch: 404" "404 " "$($OBS req POST "$U/api/batches/987654/approve" --token "$TOKEN")"
check_contains "an unknown action: 404" "404 " "$($OBS req POST "$U/api/batches/1/explode" --token "$TOKEN")"

# ---- 3. stale, and back ----
alert=$($OBS wait-alert "$T_DIR/hook.jsonl" stale firing lite_fresh fresh 20 || true)
check_contains "stale alert after stale_after without a batch" '"event":"stale","status":"firing"' "$alert"
check "status says stale" stale "$($OBS state "$U" lite_fresh fresh)"
check "sluice_table_stale is 1" 1 "$(m 'sluice_table_stale{pipeline="lite_fresh",table="fresh"}')"
orders "$T_DIR/f2.csv" 10 3; dropf "$T_DIR/f2.csv" "$W/in/fresh"
check "a batch loads: status ok again" ok "$($OBS wait-state "$U" lite_fresh fresh ok 20)"
check "sluice_table_stale is 0 again" 0 \
  "$($OBS wait-metric "$U/metrics" 'sluice_table_stale{pipeline="lite_fresh",table="fresh"}' == 0 20)"
alert=$($OBS wait-alert "$T_DIR/hook.jsonl" stale resolved lite_fresh fresh 20 || true)
check_contains "a batch loads: stale resolved" '"event":"stale","status":"resolved"' "$alert"

# ---- 4. rollback through the API; the CLI agrees with the API ----
last=$(lite "$W/wh.db" "select max(id) from _sluice_batches where table_name = 'lite_orders' and state = 'committed'")
check_contains "rollback without the token: 401" "401 " "$($OBS req POST "$U/api/batches/$last/rollback?pipeline=lite_orders")"
r=$($OBS req POST "$U/api/batches/$last/rollback?pipeline=lite_orders" --token "$TOKEN")
check_contains "rollback with the token: 200" "200 " "$r"
check "rollback removed the batch's rows" 187 "$(lite "$W/wh.db" "select count(*) from lite_orders")"
check "the API's rollback of the API-approved batch: both decisions with who and when, finished_at kept" \
  "$held|approved|the admin API token|ISO|checked by the test
rolled back|the admin API token|ISO|None
$approved_fin" "$last|$(api_decisions lite_orders $last)"
check "metrics count the rollback" 1 "$(m "$(sel sluice_batches_total lite_orders ',state="rolled_back"')")"

api=$($OBS req GET "$U/api/status" | cut -d' ' -f2- | python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(t['table']+'='+t['state'].replace(' ','_') for p in d['pipelines'] for t in p['tables'] if t['table']!='fresh'))")
sluice status "$W/d.yaml" --json
cli=$(echo "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print(' '.join(t['table']+'='+t['state'].replace(' ','_') for p in d['pipelines'] for t in p['tables'] if t['table']!='fresh'))")
check "sluice status --json says what /api/status says" "$api" "$cli"
sluice status "$W/d.yaml"
check_contains "sluice status prints the same words" "lite_orders              ok" "$OUT"

# ---- 5. logs; a clean stop ----
python3 - "$T_DIR/daemon.log" >"$T_DIR/logcheck" <<'PY' || true
import json, sys
bad, committed, ctx = [], 0, 0
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        o = json.loads(line)
    except ValueError:
        bad.append(n); continue
    if str(o.get("msg", "")).startswith("committed "):
        committed += 1
        ctx += (all(isinstance(o.get(k), str) and o[k] for k in ("pipeline", "table"))
                and type(o.get("batch")) is int and o["batch"] > 0)
print("bad=%s committed=%d with_context=%d" % (bad, committed, ctx))
PY
lc=""; read -r lc <"$T_DIR/logcheck" || true
check_contains "every log line is JSON" "bad=[]" "$lc"
# the daemon committed 8 batches: a.csv, b.csv and the approved q.csv of each
# orders table, f1.csv and f2.csv; each says so once, naming where it was
check "8 'committed' lines, each naming pipeline, table and batch" "committed=8 with_context=8" \
  "$(echo "$lc" | cut -d' ' -f2-)"
kill -TERM "$DPID"
rc=0; for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
wait "$DPID" || rc=$?
DPID=""
check "SIGTERM: the daemon exits 0" 0 "$rc"
check_contains "SIGTERM: logged" '"msg":"stopped"' "$(tail -1 "$T_DIR/daemon.log")"
finish
