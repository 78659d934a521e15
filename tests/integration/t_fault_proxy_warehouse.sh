#!/usr/bin/env bash
# Connections to the PostgreSQL warehouse cut, SL_PROXY_CUTS times (default
# 20), by a proxy between sluice and the server (faultproxy.py). Each trial
# loads from nothing: drops (append and versioned tables) and a postgres
# source (incremental insert_only without a key, incremental updater), with
# one cut at a random place of one kind, in turn:
#   copy           mid-COPY: after N bytes of a COPY .. FROM STDIN's data
#   commit_before  a COMMIT never reaches the server (it rolls back)
#   commit_reply   a COMMIT reaches the server and commits; its answer is
#                  lost with the connection (the client cannot know)
#   bytes          after N bytes of the whole run, wherever that falls
# Every other trial runs with SLUICE_RETRIES=1, so the cut fails the run
# (exit 1) and a second run finishes. After each trial the warehouse equals
# the expected rows exactly (count and md5 of the sorted rows), every row's
# batch is a committed batch, no content is committed twice in the ledger,
# every drop is in done/ and none in failed/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault_lib.sh"
new_db
SRC_DB=$T_DB
WH_DB="${T_DB}_wh"
psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$WH_DB\" WITH (FORCE)" -c "CREATE DATABASE \"$WH_DB\"" >/dev/null
wh_cleanup() {
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$WH_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fault_cleanup
}
trap wh_cleanup EXIT
CUTS=${SL_PROXY_CUTS:-20}
[ "${SL_SANITIZED:-OFF}" = ON ] && CUTS=${SL_PROXY_CUTS_ASAN:-8}
ROWS=${SL_PROXY_ROWS:-4000}
src() { psql -qXAt -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "$1"; }
wh() { psql -qXAt -v ON_ERROR_STOP=1 -d "$WH_DB" -c "$1"; }

proxy_start WHP "$PGPORT"
W="$T_DIR/w"; mkdir -p "$W"
python3 - "$T_DIR/gen" "$ROWS" <<'PY'
import os, random, sys
out, rows = sys.argv[1], int(sys.argv[2])
random.seed(11)
os.makedirs(out + "/ev", exist_ok=True); os.makedirs(out + "/ver", exist_ok=True)
ev = []
for f in range(4):
    with open(f"{out}/ev/ev{f}.csv", "w") as fh:
        fh.write("id,kind,amount,note\n")
        for i in range(rows):
            r = (f * rows + i, random.choice("abc"), f"{random.randint(0, 99999)}.{random.randint(0, 99):02d}", f"n {f}/{i}")
            ev.append(r)
            fh.write("%d,%s,%s,%s\n" % r)
best = {}
# versions never tie: a drop deferred by a cut may load after a later one,
# and on a tie the row stored first stays (README: table kinds)
versions = iter(random.sample(range(1, 100 * rows), 3 * rows))
for f in range(3):
    with open(f"{out}/ver/ver{f}.csv", "w") as fh:
        fh.write("id,v,val\n")
        for i in range(rows):
            k, v = random.randint(0, rows), next(versions)
            fh.write(f"{k},{v},f{f}-{i}\n")
            if k not in best or v > best[k][0]:
                best[k] = (v, f"f{f}-{i}")
with open(out + "/ev.expected", "w") as fh:
    fh.writelines("%d|%s|%s|%s\n" % r for r in ev)
with open(out + "/ver.expected", "w") as fh:
    fh.writelines(f"{k}|{v}|{val}\n" for k, (v, val) in best.items())
PY
src "CREATE TABLE items (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text, amount numeric(12,2))"
src "INSERT INTO items SELECT i, '2024-01-01'::timestamptz + (i / 7) * interval '1 s', 'v' || i, i * 1.25
       FROM generate_series(1, $ROWS) i"
cat >"$W/s.yaml" <<YAML
connections:
  wh: { url: "postgresql://postgres@127.0.0.1:$WHP_PORT/$WH_DB" }
  crm: { url: "$SL_PG_URL/$SRC_DB" }
pipelines:
  - name: ev
    source: { kind: files, path: in/ev, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: f_ev, kind: append, columns: { amount: numeric } } ]
  - name: ver
    source: { kind: files, path: in/ver, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: f_ver, kind: versioned, primary_key: [id], version_key: v } ]
  - name: inc
    source: { kind: postgres, connection: crm }
    destination: wh
    tables:
      - { name: f_ins, source_table: items, kind: incremental, mode: insert_only,
          cursor: [at, id], boundary: 1s, batch_limit: 700 }
      - { name: f_upd, source_table: items, kind: incremental, mode: updater, primary_key: [id],
          cursor: [at, id], boundary: 1s, batch_limit: 700 }
YAML
want_ev=$(digest <"$T_DIR/gen/ev.expected")
want_ver=$(digest <"$T_DIR/gen/ver.expected")
want_items=$(src "SELECT id, at, v, amount FROM items" | digest)

reset() {
  rm -rf "$W/in"; mkdir -p "$W/in"
  cp -r "$T_DIR/gen/ev" "$T_DIR/gen/ver" "$W/in/"
  touch -d '-10 seconds' "$W"/in/*/*.csv
  wh "SET client_min_messages = warning; DROP TABLE IF EXISTS f_ev, f_ver, f_ins, f_upd; DROP SCHEMA IF EXISTS _sluice CASCADE"
}
# verify LABEL: the warehouse holds exactly the expected rows, once
verify() {
  local bad=0 got
  for t in "f_ev:id, kind, amount, note:$want_ev" "f_ver:id, v, val:$want_ver" \
           "f_ins:id, at, v, amount:$want_items" "f_upd:id, at, v, amount:$want_items"; do
    IFS=: read -r tab cols want <<<"$t"
    got=$(wh "SELECT $cols FROM $tab" | digest)
    [ "$got" = "$want" ] || { echo "# $1: $tab holds $got, expected $want"; bad=1; }
    got=$(wh "SELECT count(*) FROM $tab WHERE _sluice_batch NOT IN (SELECT id FROM _sluice.batches WHERE state = 'committed')")
    [ "$got" = 0 ] || { echo "# $1: $tab: $got rows of batches not committed"; bad=1; }
  done
  got=$(wh "SELECT count(*) FROM (SELECT table_name, content_hash FROM _sluice.batches WHERE state = 'committed'
            AND content_hash IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d")
  [ "$got" = 0 ] || { echo "# $1: $got contents committed twice in the ledger"; bad=1; }
  got=$(wh "SELECT count(*) FROM _sluice.batches WHERE state = 'committed' AND content_hash IS NOT NULL")
  [ "$got" = 7 ] || { echo "# $1: $got drops committed in the ledger, expected 7"; bad=1; }
  got="$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l) $(find "$W/in" -path '*failed*' -type f | wc -l)"
  [ "$got" = "0 0" ] || { echo "# $1: drops left in place / in failed/: $got"; bad=1; }
  return $bad
}

# calibrate: how many COPY and COMMIT statements, how many bytes, in a run
reset
proxy "$WHP_CTL" reset >/dev/null
sluice run "$W/s.yaml"
check "a run without faults succeeds" 0 "$RC"
verify "no faults" && ok "a run without faults loads the expected rows" || not_ok "a run without faults loads the expected rows"
NCOPY=$(proxy_stat "$WHP_CTL" COPY)
NCOMMIT=$(proxy_stat "$WHP_CTL" COMMIT)
NBYTES=$(( $(proxy_stat "$WHP_CTL" c2s) + $(proxy_stat "$WHP_CTL" s2c) ))
echo "# a run: $NCOPY COPY, $NCOMMIT COMMIT, $NBYTES bytes through the proxy"

kinds=(copy commit_before commit_reply bytes)
bad=0; uncut=0; exit1=0
for trial in $(seq 1 "$CUTS"); do
  reset
  proxy "$WHP_CTL" reset >/dev/null
  kind=${kinds[$(( (trial - 1) % ${#kinds[@]} ))]}
  case $kind in
    copy) arm="query COPY $((1 + RANDOM % NCOPY)) c2s $((RANDOM % 16000))" ;;
    commit_before) arm="query COMMIT $((1 + RANDOM % NCOMMIT)) before" ;;
    commit_reply) arm="query COMMIT $((1 + RANDOM % NCOMMIT)) reply" ;;
    bytes) arm="bytes $(( (RANDOM * 32768 + RANDOM) % NBYTES ))" ;;
  esac
  proxy "$WHP_CTL" $arm >/dev/null
  retries=6; [ $((trial % 2)) = 0 ] && retries=1
  SLUICE_RETRIES=$retries sluice run "$W/s.yaml"
  cuts=$(proxy_stat "$WHP_CTL" cuts)
  [ "$cuts" -ge 1 ] || uncut=$((uncut + 1))
  what="trial $trial ($kind: $arm, retries $retries)"
  if [ "$RC" = 1 ]; then
    exit1=$((exit1 + 1))
    case "$ERR" in
      *"server closed the connection"*|*"connection"*|*"terminat"*) ;;
      *) echo "# $what: exit 1 without naming a lost connection: $(tail -2 <<<"$ERR")"; bad=$((bad + 1)) ;;
    esac
    sluice run "$W/s.yaml"
  fi
  if [ "$RC" != 0 ]; then
    echo "# $what: exit $RC: $(tail -3 <<<"$ERR")"; bad=$((bad + 1)); continue
  fi
  verify "$what" || bad=$((bad + 1))
done
check "$CUTS trials, each cut a connection (none without a cut)" 0 "$uncut"
check "after each cut the run finished, or exited 1 and a re-run finished; the warehouse equals the expected rows exactly" \
  "0 bad of $CUTS" "$bad bad of $CUTS"
check "some cuts outlasted SLUICE_RETRIES=1 (exit 1, then a re-run)" t "$([ "$exit1" -ge 1 ] && echo t || echo "f ($exit1)")"

# the same, deterministic: the second batch of the insert_only table (no key
# to refuse a second copy) commits and its answer is lost; the retry must see
# in the ledger that it took, and not append its rows again
# (a first sync reads the table in one batch, whatever batch_limit says: so
# the first takes the first 100 rows, through a view, and the run cut is a
# later one, in batches of 700)
reset
src "CREATE OR REPLACE VIEW items_head AS SELECT * FROM items WHERE id <= 100"
sed 's/{ name: f_ins, source_table: items,/{ name: f_ins, source_table: items_head,/' "$W/s.yaml" >"$W/head.yaml"
sluice run "$W/head.yaml" inc
check "lost COMMIT answer: the first sync takes the first 100 rows in one batch" "0 100" \
  "$RC $(wh "SELECT string_agg(rows_in::text, ' ') FROM _sluice.batches WHERE table_name = 'f_ins'")"
proxy "$WHP_CTL" reset >/dev/null
proxy "$WHP_CTL" query COMMIT 2 reply >/dev/null
sluice run "$W/s.yaml" inc
check "lost COMMIT answer of an incremental batch: the run succeeds" 0 "$RC"
check_contains "lost COMMIT answer: the retry finds the batch committed" "did commit before its connection was lost; not loading it again" "$ERR"
check "lost COMMIT answer: insert_only rows are there once" "$want_items" "$(wh "SELECT id, at, v, amount FROM f_ins" | digest)"
check "lost COMMIT answer: one committed batch per range (the first, then $(( (ROWS - 100 + 699) / 700 )))" $(( 1 + (ROWS - 100 + 699) / 700 )) \
  "$(wh "SELECT count(*) FROM _sluice.batches WHERE table_name = 'f_ins' AND state = 'committed'")"
finish
