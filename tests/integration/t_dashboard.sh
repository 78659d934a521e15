#!/usr/bin/env bash
# The dashboard in headless Chromium (chromedriver's WebDriver API): the page
# served by `sluice daemon` loads, shows the pipelines of the config with
# their state (word and colour); batches only once the token is given in the
# page (kept in sessionStorage): a quarantined batch with its gate report,
# and approving it in the page loads it: the batch becomes committed. Screenshots go to
# test-output/t_dashboard/ under the directory ctest runs in (printed).
. "$(dirname "$0")/lib.sh"
new_db
OBS="python3 $SL_SRCDIR/tests/integration/obs_client.py"
OUTDIR="${SL_TEST_OUTPUT:-$PWD/test-output}/t_dashboard"
mkdir -p "$OUTDIR"
for b in chromium chromedriver; do
  command -v $b >/dev/null || { not_ok "$b is installed (scripts/setup-deps.sh installs it)"; finish; exit 1; }
done

W="$T_DIR/w"; mkdir -p "$W/in/sales" "$W/in/users" "$W/in/later"
TOKEN="dash-$RANDOM$RANDOM"
cat >"$W/d.yaml" <<YAML
http: { token: "$TOKEN" }
connections:
  pgwh: { url: "$T_PG_URL" }
  litewh: { url: "sqlite://wh.db" }
pipelines:
  - name: sales
    source: { kind: files, path: in/sales, format: csv, settle: 0s }
    destination: pgwh
    tables: [ { name: sales, kind: append } ]
  - name: users
    source: { kind: files, path: in/users, format: csv, settle: 0s }
    destination: litewh
    tables:
      - name: users
        kind: versioned
        primary_key: [id]
        version_key: v
        gates: { rules: [ { column: email, reject_match: "@test\\\\." } ] }
  - name: later
    source: { kind: files, path: in/later, format: csv, settle: 0s }
    destination: litewh
    tables: [ { name: later, kind: append } ]
YAML
printf 'id,amount\n1,10.5\n2,20.25\n3,7\n' | drop "$W/in/sales" s1.csv
printf 'id,v,email\n1,1,ana@example.com\n2,1,bob@example.com\n' | drop "$W/in/users" u1.csv

SLUICE_POLL_MS=200 "$SLUICE_BIN" daemon "$W/d.yaml" --listen 127.0.0.1:0 \
  >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
DPID=$!
trap 'kill -9 $DPID 2>/dev/null || true; cleanup' EXIT
PORT=""
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T_DIR/daemon.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break; sleep 0.1
done
[ -n "$PORT" ] || { not_ok "daemon listens"; cat "$T_DIR/daemon.log"; finish; exit 1; }
U="http://127.0.0.1:$PORT"
check "sales loads" ok "$($OBS wait-state "$U" sales sales ok 20)"
check "users loads" ok "$($OBS wait-state "$U" users users ok 20)"
# test data in production: held by the rules gate
printf 'id,v,email\n1,2,ana@example.com\n3,1,qa@test.example.com\n' | drop "$W/in/users" u2.csv
check "users is quarantined" quarantined "$($OBS wait-state "$U" users users quarantined 20)"
held=$($OBS state "$U" users users quarantined_batch)

# the browser part prints its own ok / not ok lines
set +e
SL_EXPECT_VERSION=$("$SLUICE_BIN" --version | sed 's/^sluice //') \
python3 "$SL_SRCDIR/tests/integration/dashboard_driver.py" "$U/" "$TOKEN" "$held" "$OUTDIR" \
  sales users later | tee "$T_DIR/driver.out"
set -e
T_PASSES=$((T_PASSES + $(grep -c '^ok - ' "$T_DIR/driver.out" || true)))
T_FAILS=$((T_FAILS + $(grep -c '^not ok - ' "$T_DIR/driver.out" || true)))
grep -q '^ok - dashboard: after approve' "$T_DIR/driver.out" || cat "$OUTDIR/chromedriver.log" | tail -20

# what the page did, seen from the other side
check "the ledger says committed, with the page's note" \
  "committed|approved|the admin API token" "$(lite "$W/wh.db" "select state || '|' || json_extract(decision, '\$[#-1].what') || '|' || json_extract(decision, '\$[#-1].who') from _sluice_batches where id = $held")"
check_contains "decision carries the note typed in the page" "approved in the browser test" \
  "$(lite "$W/wh.db" "select decision from _sluice_batches where id = $held")"
check "the approved rows are in the table" "1|2|ana@example.com
2|1|bob@example.com
3|1|qa@test.example.com" "$(lite "$W/wh.db" "select id, v, email from users order by id")"
check "the table is ok again" ok "$($OBS state "$U" users users)"
for f in dashboard-quarantined.png dashboard-approved.png; do
  [ -s "$OUTDIR/$f" ] && ok "screenshot $OUTDIR/$f" || not_ok "screenshot $OUTDIR/$f"
done
echo "# screenshot: $OUTDIR/dashboard-quarantined.png"
kill -TERM "$DPID"; wait "$DPID" || true
finish
