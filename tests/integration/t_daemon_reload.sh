#!/usr/bin/env bash
# `sluice daemon` reloads its config on SIGHUP while drops stream in, and
# tells a service manager how it stands through a real notify socket:
#   1. READY=1 comes once the admin server answers (the listener asks
#      /healthz the moment it reads READY=1); WATCHDOG=1 every half of
#      WATCHDOG_USEC (4 s here: the gap bound leaves room for a loaded machine);
#   2. two writers drop files into two pipelines all along; one pipeline is
#      loading a 400,000-row drop when SIGHUP comes with a config that
#      changes that pipeline (done_dir), removes a third and adds a fourth:
#      the batch in flight commits, then the pipeline stops and starts anew
#      with the new config (its later drops go to the new done_dir), the
#      unchanged one never stops, the removed one takes no new drop, the
#      added one loads the drops that waited for it; RELOADING=1, then
#      READY=1 once it is done;
#   3. SIGHUP with a config that does not load: the log says why, the
#      config before goes on (drops still load), RELOADING=1 then READY=1;
#   4. at the end every row of every drop is in its table once, each drop
#      one committed batch, nothing in failed/; SIGTERM: STOPPING=1, exit 0.
. "$(dirname "$0")/lib.sh"
new_db
OBS="python3 $SL_SRCDIR/tests/integration/obs_client.py"
W="$T_DIR/w"; mkdir -p "$W/in/steady" "$W/in/changing" "$W/in/removed" "$W/in/added"
PORT=$(free_port)
U="http://127.0.0.1:$PORT"
NSOCK="$T_DIR/notify.sock"; NOTES="$T_DIR/notify.jsonl"
BIG_ROWS=400000

python3 "$SL_SRCDIR/tests/integration/notify_listen.py" "$NSOCK" "$NOTES" \
  --probe "$U/healthz" --seconds 600 2>"$T_DIR/notify.log" &
LPID=$!
DPID=""; WPIDS=()
trap 'touch "$T_DIR/stop.all"; kill $LPID 2>/dev/null || true;
      [ -n "$DPID" ] && kill -9 $DPID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do [ -S "$NSOCK" ] && break; sleep 0.1; done

# config PART...: the pipelines named, into d.yaml (written whole, then moved in)
pipeline_yaml() {
  case $1 in
    steady) cat <<YAML
  - name: steady
    source: { kind: files, path: in/steady, format: csv, settle: 0s }
    destination: pgwh
    tables: [ { name: steady, kind: append } ]
YAML
    ;;
    changing) cat <<YAML
  - name: changing
    source: { kind: files, path: in/changing, format: csv, settle: 0s }
    destination: litewh
    tables: [ { name: changing, kind: append } ]
YAML
    ;;
    changing2) cat <<YAML
  - name: changing
    source: { kind: files, path: in/changing, format: csv, settle: 0s, done_dir: loaded }
    destination: litewh
    tables: [ { name: changing, kind: append } ]
YAML
    ;;
    removed|added) cat <<YAML
  - name: $1
    source: { kind: files, path: in/$1, format: csv, settle: 0s }
    destination: pgwh
    tables: [ { name: $1, kind: append } ]
YAML
    ;;
    bad) cat <<YAML
  - name: steady
    source: { kind: files, path: in/steady, format: csv, setle: 0s }
    destination: pgwh
    tables: [ { name: steady, kind: append } ]
YAML
    ;;
  esac
}
config() {
  { cat <<YAML
http: { token: "\${$HTTP_TOKEN_VAR}"$HTTP_EXTRA }
connections:
  pgwh: { url: "$T_PG_URL" }
  litewh: { url: "sqlite://wh.db" }
pipelines:
YAML
    for p in "$@"; do pipeline_yaml "$p"; done
  } >"$W/.d.yaml.tmp"
  mv "$W/.d.yaml.tmp" "$W/d.yaml"
}

# writer NAME FIRST: drops NAME-<n>.csv of 50 rows (ids n*100+1 ..) into
# in/NAME every 50 ms from n = FIRST until stop.NAME; writes the last n to NAME.last
writer() {
  local name=$1 n=$2
  while [ ! -e "$T_DIR/stop.$1" ] && [ ! -e "$T_DIR/stop.all" ]; do
    { echo "id,v"; seq $((n * 100 + 1)) $((n * 100 + 50)) | sed 's/$/,x/'; } |
      drop "$W/in/$name" "$name-$n.csv"
    echo "$n" >"$T_DIR/$1.last"
    n=$((n + 1))
    sleep 0.05
  done
}
# left DIR: drops not yet taken from DIR
left() { find "$1" -maxdepth 1 -name '*.csv' | wc -l; }
wait_empty() {   # wait_empty DIR SECONDS
  for _ in $(seq $(($2 * 10))); do [ "$(left "$1")" -eq 0 ] && return 0; sleep 0.1; done
  return 1
}
# states: the notifications other than WATCHDOG=1, first line of each, one a line
states() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l)["msg"].split("\n")[0]
    if m!="WATCHDOG=1": print(m)' "$NOTES"; }
wait_log() {   # wait_log TEXT SECONDS
  for _ in $(seq $(($2 * 10))); do grep -qF -- "$1" "$T_DIR/daemon.log" && return 0; sleep 0.1; done
  return 1
}

export T_TOK1="tok1-$RANDOM" T_TOK2="tok2-$RANDOM"
HTTP_TOKEN_VAR=T_TOK1 HTTP_EXTRA=""
config steady changing removed
NOTIFY_SOCKET="$NSOCK" WATCHDOG_USEC=4000000 SLUICE_POLL_MS=100 \
  "$SLUICE_BIN" daemon "$W/d.yaml" --listen "127.0.0.1:$PORT" >"$T_DIR/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do states | grep -q READY=1 && break; sleep 0.1; done
check "READY=1 once started" "READY=1" "$(states | head -1)"
check "at READY=1 the admin server answers" "200" \
  "$(python3 -c 'import json,sys
print([json.loads(l).get("probe") for l in open(sys.argv[1]) if "READY=1" in json.loads(l)["msg"]][0])' "$NOTES")"

check "/api/status carries the version (sluice --version)" "$("$SLUICE_BIN" --version)" \
  "sluice $(curl -s "$U/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')"

# ---- 2. a reload under load ----
writer steady 1 & WPIDS+=($!)
writer changing 1 & CW=$!
sleep 2
touch "$T_DIR/stop.changing"; wait $CW; rm -f "$T_DIR/stop.changing"
wait_empty "$W/in/changing" 30 || not_ok "the first drops of changing load"
CHANGING_FIRST=$(cat "$T_DIR/changing.last")
{ echo "id,v"; seq 90000001 $((90000000 + BIG_ROWS)) | sed 's/$/,big/'; } | drop "$W/in/changing" big.csv
running=0
for _ in $(seq 300); do
  v=$($OBS metrics "$U/metrics" 'sluice_table_running{pipeline="changing",table="changing"}' 2>/dev/null || true)
  [ "$v" = "1" ] && { running=1; break; }
  sleep 0.02
done
check "the big drop is loading when SIGHUP comes" 1 "$running"
for n in 1 2; do
  { echo "id,v"; seq $((n * 100 + 1)) $((n * 100 + 50)) | sed 's/$/,x/'; } | drop "$W/in/added" "added-$n.csv"
done
HTTP_TOKEN_VAR=T_TOK2 HTTP_EXTRA=", timeout: 20s"
config steady changing2 added
kill -HUP $DPID
writer changing 100000 & WPIDS+=($!)
wait_log "reloaded $W/d.yaml" 60 || not_ok "the reload ends (log: reloaded ...)"
line() { grep -nF -- "$1" "$T_DIR/daemon.log" | head -1 | cut -d: -f1 || true; }
l_stop=$(line "pipeline=changing: reload: its config changed; stopping it after the batch it is loading")
l_big=$(line "committed in/changing/big.csv: $BIG_ROWS rows")
l_stopped=$(line "pipeline=changing: reload: stopped")
l_started=$(line "pipeline=changing: reload: started with the new config")
order=$([ -n "$l_stop" ] && [ -n "$l_big" ] && [ -n "$l_stopped" ] && [ -n "$l_started" ] &&
        [ "$l_stop" -lt "$l_big" ] && [ "$l_big" -lt "$l_stopped" ] &&
        [ "$l_stopped" -lt "$l_started" ] && echo yes || echo "no: $l_stop $l_big $l_stopped $l_started")
check "changed pipeline: asked to stop, its batch in flight commits, it stops, it starts anew" \
  yes "$order"
check "the big drop is loaded by the old config (done/)" 1 "$(ls "$W/in/changing/done" | grep -c '^big.csv$')"
grep -qF "pipeline=steady: reload: unchanged, goes on running" "$T_DIR/daemon.log" &&
  ok "the unchanged pipeline goes on" || not_ok "the unchanged pipeline goes on"
check "the unchanged pipeline is never stopped" 0 \
  "$(grep -cF 'pipeline=steady: reload: stopped' "$T_DIR/daemon.log" || true)"
check_contains "the removed pipeline is stopped" "pipeline=removed: reload: no longer in the config" \
  "$(cat "$T_DIR/daemon.log")"
check_contains "the reload says what it did" \
  "reloaded $W/d.yaml: 1 pipeline unchanged, 2 new or changed, 1 removed" "$(cat "$T_DIR/daemon.log")"
wait_empty "$W/in/added" 30 && ok "the added pipeline loads the drops that waited for it" ||
  not_ok "the added pipeline loads the drops that waited for it"
echo "id,v" | drop "$W/in/removed" late.csv
sleep 2
for _ in $(seq 100); do [ -d "$W/in/changing/loaded" ] && [ "$(ls "$W/in/changing/loaded" | wc -l)" -gt 0 ] && break; sleep 0.1; done
check "after the reload, changing's drops go to its new done_dir" yes \
  "$([ "$(ls "$W/in/changing/loaded" 2>/dev/null | wc -l)" -gt 0 ] && echo yes || echo no)"
check "a drop for the removed pipeline stays where it is" 1 "$(left "$W/in/removed")"
m=$($OBS metrics "$U/metrics" 'sluice_batches_total{pipeline="added",table="added",state="committed"}' \
      'sluice_batches_total{pipeline="removed",table="removed",state="committed"}')
check "/metrics: the added pipeline's series, the removed one's gone" "2 absent" "$(echo $m)"
check "RELOADING=1, then READY=1" "READY=1 RELOADING=1 READY=1" "$(states | head -3 | xargs)"
check "the admin API takes the new token at once, not the old one" "200 401" \
  "$($OBS req GET "$U/api/batches?limit=1" --token "$T_TOK2" | cut -d' ' -f1) $($OBS req GET "$U/api/batches?limit=1" --token "$T_TOK1" | cut -d' ' -f1)"
check_contains "a changed admin limit is logged as taking a restart" \
  "reload: the admin server's http: settings changed; they take effect when the daemon restarts" \
  "$(cat "$T_DIR/daemon.log")"

# ---- 3. a config that does not load ----
cp "$W/d.yaml" "$T_DIR/good.yaml"
config bad changing2 added
kill -HUP $DPID
wait_log "reload refused, the config loaded before goes on" 30 &&
  ok "a bad config on SIGHUP is refused" || not_ok "a bad config on SIGHUP is refused"
check_contains "the log says why, at file:line:column" "d.yaml:7:58: unknown key \"setle\" in source" \
  "$(grep -F 'reload refused' "$T_DIR/daemon.log")"
check_contains "the log names the unknown key" 'unknown key "setle"' \
  "$(grep -F 'reload refused' "$T_DIR/daemon.log")"
for n in 3 4; do
  { echo "id,v"; seq $((n * 100 + 1)) $((n * 100 + 50)) | sed 's/$/,x/'; } | drop "$W/in/added" "added-$n.csv"
done
wait_empty "$W/in/added" 30 && ok "the config before goes on loading" ||
  not_ok "the config before goes on loading"
for _ in $(seq 50); do [ "$(states | wc -l)" -ge 5 ] && break; sleep 0.1; done
check "refused: RELOADING=1, then READY=1 with the reason" "RELOADING=1 READY=1" \
  "$(states | sed -n 4,5p | xargs)"
# an alert naming an unset variable: refused as at start
cp "$T_DIR/good.yaml" "$W/.d.yaml.tmp"
printf 'alerts:\n  - { url: "${T_NOT_SET_ANYWHERE}", format: generic }\n' >>"$W/.d.yaml.tmp"
mv "$W/.d.yaml.tmp" "$W/d.yaml"
kill -HUP $DPID
for _ in $(seq 100); do [ "$(grep -c 'reload refused' "$T_DIR/daemon.log")" -ge 2 ] && break; sleep 0.1; done
check_contains "an alert naming an unset \${VAR}: refused, the log names it" "T_NOT_SET_ANYWHERE" \
  "$(grep -F 'reload refused' "$T_DIR/daemon.log" | tail -1)"
for _ in $(seq 50); do [ "$(states | wc -l)" -ge 7 ] && break; sleep 0.1; done
check_contains "the READY=1 after a refusal says why in STATUS" 'reload refused' \
  "$(grep -F 'refused' "$NOTES" | head -1)"

# ---- 4. everything once ----
sleep 1
touch "$T_DIR/stop.all"
for p in "${WPIDS[@]}"; do wait "$p"; done
for d in steady changing added; do
  wait_empty "$W/in/$d" 60 || not_ok "in/$d empties"
done
kill -TERM $DPID
set +e; wait $DPID; DRC=$?; set -e; DPID=""
check "SIGTERM: exit 0" 0 "$DRC"
check "STOPPING=1 last" "STOPPING=1" "$(states | tail -1)"

steady_files=$(cat "$T_DIR/steady.last")
changing_files=$(( CHANGING_FIRST + $(cat "$T_DIR/changing.last") - 100000 + 1 ))
echo "# drops loaded: steady $steady_files, changing $changing_files and big.csv ($BIG_ROWS rows), added 4"
check "steady: every row once" "$((steady_files * 50)) $((steady_files * 50))" \
  "$(pg 'select count(*), count(distinct id) from steady' | tr '|' ' ')"
check "steady: each drop one committed batch" "$steady_files" \
  "$(pg "select count(*) from _sluice.batches where table_name = 'steady' and state = 'committed'")"
check "changing: every row once (the big drop too)" \
  "$((changing_files * 50 + BIG_ROWS)) $((changing_files * 50 + BIG_ROWS))" \
  "$(lite "$W/wh.db" 'select count(*), count(distinct id) from changing' | tr '|' ' ')"
check "changing: each drop one committed batch" "$((changing_files + 1))" \
  "$(lite "$W/wh.db" "select count(*) from _sluice_batches where table_name = 'changing' and state = 'committed'")"
check "added: every row once" "200 200" \
  "$(pg 'select count(*), count(distinct id) from added' | tr '|' ' ')"
check "no batch failed" "0 0" \
  "$(pg "select count(*) from _sluice.batches where state <> 'committed'") $(lite "$W/wh.db" "select count(*) from _sluice_batches where state <> 'committed'")"
check "nothing in failed/" 0 "$(find "$W/in" -path '*/failed/*' -type f | wc -l)"

# ---- the watchdog ----
gaps=$(python3 -c 'import json,sys
t=[json.loads(l)["t"] for l in open(sys.argv[1]) if json.loads(l)["msg"]=="WATCHDOG=1"]
g=sorted(b-a for a,b in zip(t,t[1:]))
print(len(t), "%.2f" % g[len(g)//2], "%.2f" % g[-1])' "$NOTES")
read -r wd_n wd_median wd_max <<<"$gaps"
echo "# watchdog: $wd_n pings, median gap $wd_median s, longest $wd_max s"
check "WATCHDOG=1 pings all along (at least 5)" yes "$([ "$wd_n" -ge 5 ] && echo yes || echo "no: $wd_n")"
check "WATCHDOG=1 at least every half of WATCHDOG_USEC (median gap at most 2.1 s)" yes \
  "$(python3 -c 'import sys; print("yes" if float(sys.argv[1]) <= 2.1 else "no: "+sys.argv[1])' "$wd_median")"
check "never a gap past WATCHDOG_USEC (4 s), even through the reloads" yes \
  "$(python3 -c 'import sys; print("yes" if float(sys.argv[1]) < 4.0 else "no: "+sys.argv[1])' "$wd_max")"
finish
