#!/usr/bin/env bash
# The PostgreSQL warehouse restarted and stopped under a files load (append
# and versioned tables), on a cluster of this test's own (pg_cluster.sh), so
# the other tests running at the same time are not disturbed:
#   restart_mid_batch   SL_RESTARTS times (default 10) the server restarts
#       (pg_ctl restart, -m fast and -m immediate in turn) while a batch's
#       COPY or merge runs: the run retries and succeeds; the warehouse ends
#       exactly equal to the expected rows, each drop committed once
#   down_before_run     the server is down for longer than the retries: exit 1,
#       the error names the connection refused, every drop stays where it is
#   down_mid_batch      the server stops while a batch loads and stays down:
#       exit 1, "still failing after 3 attempts", the drops not loaded stay
#       in the drop folder (none in failed/); started again, a re-run loads
#       every drop exactly once
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fault_lib.sh"
RESTARTS=${SL_RESTARTS:-10}
[ "${SL_SANITIZED:-OFF}" = ON ] && RESTARTS=${SL_RESTARTS_ASAN:-4}
ROWS=${SL_RESTART_ROWS:-20000}
priv_pg_start
p2 postgres "CREATE DATABASE wh" >/dev/null
wh() { p2 wh "$1"; }
W="$T_DIR/w"; mkdir -p "$W"

python3 - "$T_DIR/gen" "$ROWS" <<'PY'
import os, random, sys
out, rows = sys.argv[1], int(sys.argv[2])
random.seed(5)
os.makedirs(out + "/ev", exist_ok=True); os.makedirs(out + "/ver", exist_ok=True)
ev = []
for f in range(5):
    with open(f"{out}/ev/ev{f}.csv", "w") as fh:
        fh.write("id,kind,amount,note\n")
        for i in range(rows):
            r = (f * rows + i, random.choice("abc"), f"{random.randint(0, 99999)}.{random.randint(0, 99):02d}", f"n {f}/{i}")
            ev.append(r)
            fh.write("%d,%s,%s,%s\n" % r)
best = {}
# versions never tie: a drop deferred by a failure may load after a later one
versions = iter(random.sample(range(1, 100 * rows), 2 * rows))
for f in range(2):
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
NDROPS=7
cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "postgresql://postgres@127.0.0.1:$P2PORT/wh" } }
pipelines:
  - name: ev
    source: { kind: files, path: in/ev, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: r_ev, kind: append, columns: { amount: numeric } } ]
  - name: ver
    source: { kind: files, path: in/ver, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: r_ver, kind: versioned, primary_key: [id], version_key: v } ]
YAML
want_ev=$(digest <"$T_DIR/gen/ev.expected")
want_ver=$(digest <"$T_DIR/gen/ver.expected")

reset() {
  rm -rf "$W/in"; mkdir -p "$W/in"
  cp -r "$T_DIR/gen/ev" "$T_DIR/gen/ver" "$W/in/"
  touch -d '-10 seconds' "$W"/in/*/*.csv
  wh "SET client_min_messages = warning; DROP TABLE IF EXISTS r_ev, r_ver; DROP SCHEMA IF EXISTS _sluice CASCADE"
}
# verify LABEL: exactly the expected rows; each drop committed once, in done/
verify() {
  local bad=0 got
  got=$(wh "SELECT id, kind, amount, note FROM r_ev" | digest)
  [ "$got" = "$want_ev" ] || { echo "# $1: r_ev holds $got, expected $want_ev"; bad=1; }
  got=$(wh "SELECT id, v, val FROM r_ver" | digest)
  [ "$got" = "$want_ver" ] || { echo "# $1: r_ver holds $got, expected $want_ver"; bad=1; }
  got=$(wh "SELECT count(*), count(DISTINCT (table_name, content_hash)) FROM _sluice.batches WHERE state = 'committed'")
  [ "$got" = "$NDROPS|$NDROPS" ] || { echo "# $1: committed batches, distinct contents: $got (expected $NDROPS each)"; bad=1; }
  got="$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l) $(find "$W/in" -path '*failed*' -type f | wc -l)"
  [ "$got" = "0 0" ] || { echo "# $1: drops left in place / in failed/: $got"; bad=1; }
  return $bad
}
# wait_for PATTERN: returns once sluice runs a statement LIKE PATTERN (10 s at most)
wait_for() {
  p2 wh "DO \$\$ BEGIN FOR i IN 1..1000 LOOP
           PERFORM pg_stat_clear_snapshot();
           PERFORM 1 FROM pg_stat_activity WHERE application_name = 'sluice' AND state = 'active'
                      AND query LIKE '$1';
           IF FOUND THEN RETURN; END IF;
           PERFORM pg_sleep(0.01);
         END LOOP; END \$\$" >/dev/null
}

# ---- restart_mid_batch ----
reset
sluice run "$W/s.yaml"
check "a run without faults succeeds" 0 "$RC"
verify "no faults" && ok "a run without faults loads the expected rows" || not_ok "a run without faults loads the expected rows"
bad=0; hit=0
for trial in $(seq 1 "$RESTARTS"); do
  reset
  pat='COPY%'; [ $((trial % 3)) = 0 ] && pat='INSERT INTO%'
  mode=fast; [ $((trial % 2)) = 0 ] && mode=immediate
  SLUICE_RETRIES=12 SLUICE_RETRY_BASE_MS=200 "$SLUICE_BIN" run "$W/s.yaml" >"$W/out" 2>"$W/err" &
  pid=$!
  wait_for "$pat"
  sleep "0.0$((RANDOM % 10))"
  pg_ctl2 -m "$mode" -w restart >/dev/null 2>&1
  set +e; wait "$pid"; RC=$?; set -e
  what="trial $trial (restart -m $mode during $pat)"
  grep -q "transient failure, retrying" "$W/err" && hit=$((hit + 1))
  if [ "$RC" != 0 ]; then
    cp "$W/err" "$W/err.trial$trial"
    echo "# $what: exit $RC: $(cat "$W/out"; grep -E " (error|warning) " "$W/err" | tail -5)"; bad=$((bad + 1)); continue
  fi
  verify "$what" || { cp "$W/err" "$W/err.trial$trial"; bad=$((bad + 1)); }
done
check "$RESTARTS restarts mid-batch: each run retried and succeeded; the warehouse equals the expected rows exactly" \
  "0 bad of $RESTARTS" "$bad bad of $RESTARTS"
echo "# $hit of $RESTARTS restarts caught a batch in its transaction (retried)"
check "the restarts caught batches mid-transaction (at least half retried)" t \
  "$([ $((hit * 2)) -ge "$RESTARTS" ] && echo t || echo "f ($hit)")"

# ---- down_before_run ----
reset
pg_ctl2 -m fast -w stop >/dev/null
SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=100 sluice run "$W/s.yaml"
check "down longer than the retries: exit 1" 1 "$RC"
check_contains "down: the error names the cause" "could not connect to PostgreSQL" "$ERR"
check_contains "down: ... and that it was refused" "refused" "$ERR"
check "down: every drop stays in the drop folder, none in failed/" "$NDROPS 0" \
  "$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l) $(find "$W/in" -path '*failed*' -type f | wc -l)"

# ---- down_mid_batch ----
pg_ctl2 -w start >/dev/null
reset
SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=100 "$SLUICE_BIN" run "$W/s.yaml" >"$W/out" 2>"$W/err" &
pid=$!
wait_for 'COPY%'
pg_ctl2 -m fast -w stop >/dev/null
set +e; wait "$pid"; RC=$?; set -e
check "stopped mid-batch and down longer than the retries: exit 1" 1 "$RC"
check_contains "stopped mid-batch: the batch is left for the next run" "still failing after 3 attempts, left for the next run" "$(cat "$W/err")"
left=$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l)
check "stopped mid-batch: drops not loaded stay in the drop folder (some), none in failed/" "t 0" \
  "$([ "$left" -ge 1 ] && echo t || echo "f ($left)") $(find "$W/in" -path '*failed*' -type f | wc -l)"
pg_ctl2 -w start >/dev/null
sluice run "$W/s.yaml"
check "started again: a re-run succeeds" 0 "$RC"
verify "after the server came back" && ok "started again: every drop loaded exactly once" \
  || not_ok "started again: every drop loaded exactly once"
finish
