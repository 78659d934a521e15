#!/usr/bin/env bash
# Gates and quarantine, the stories of a customer's drops gone wrong, in
# PostgreSQL and SQLite:
#   1. a drop suddenly 10x its usual size is quarantined, the table is left
#      unchanged, an alert reaches a webhook, the table waits behind it, and
#      `sluice approve` loads it (a rejected one is set aside);
#   3. test data mixed into a production drop (rule on email): quarantined;
#   4. a "primary key" that is not unique within a drop: quarantine, fail and
#      keep_latest each do what they say;
#   5. epoch timestamps in milliseconds and in seconds: both stored right;
#   6. naive times in America/New_York across the DST changes: stored in UTC,
#      the spring gap fails, the autumn overlap follows the policy.
. "$(dirname "$0")/lib.sh"
new_db

# a webhook receiver on a free loopback port
python3 "$SL_SRCDIR/tests/integration/webhook_receiver.py" "$T_DIR/hook.port" "$T_DIR/hook.jsonl" &
HOOK_PID=$!
trap 'kill $HOOK_PID 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 50); do [ -s "$T_DIR/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$T_DIR/hook.port")/hook"

for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; B=_sluice.batches; else url="sqlite://wh.db"; B=_sluice_batches; fi
  cat >"$W/s.yaml" <<YAML
alerts:
  - { url: "$HOOK", format: generic }
connections: { wh: { url: "$url" } }
pipelines:
  - name: ${dest}_daily
    source: { kind: files, path: in/daily, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_daily
        kind: append
        gates:
          size: { history: 5, max_ratio: 3.0, min_history: 3 }
  - name: ${dest}_users
    source: { kind: files, path: in/users, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_users
        kind: versioned
        primary_key: [id]
        version_key: v
        gates:
          rules: [ { column: email, reject_match: "@test\\\\." } ]
  - name: ${dest}_kq
    source: { kind: files, path: in/kq, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_kq, kind: versioned, primary_key: [id], version_key: v, gates: { unique_key: quarantine } }
  - name: ${dest}_kf
    source: { kind: files, path: in/kf, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_kf, kind: versioned, primary_key: [id], version_key: v, gates: { unique_key: fail } }
  - name: ${dest}_kl
    source: { kind: files, path: in/kl, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_kl, kind: versioned, primary_key: [id], version_key: v, gates: { unique_key: keep_latest } }
  - name: ${dest}_sq
    source: { kind: files, path: in/sq, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_sq, kind: append, gates: { schema: quarantine } }
  - name: ${dest}_sq2
    source: { kind: files, path: in/sq2, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_sq2, kind: append, gates: { schema: quarantine } }
  - name: ${dest}_se
    source: { kind: files, path: in/se, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_se, kind: append, gates: { schema: evolve } }
  - name: ${dest}_epoch
    source: { kind: files, path: in/epoch, format: csv, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_epoch
        kind: append
        columns: { id: bigint, at_ms: timestamptz, at_s: timestamptz }
        gates: { timestamps: { epoch_unit: auto, future_tolerance: 1h } }
  - name: ${dest}_dst
    source: { kind: files, path: in/dst, format: csv, settle: 0s, timezone: America/New_York }
    destination: wh
    tables:
      - name: ${dest}_dst
        kind: append
        columns: { id: bigint, at: timestamptz }
        gates: { timestamps: { overlap: earlier } }
  - name: ${dest}_dstl
    source: { kind: files, path: in/dstl, format: csv, settle: 0s, timezone: America/New_York }
    destination: wh
    tables:
      - name: ${dest}_dstl
        kind: append
        columns: { id: bigint, at: timestamptz }
        gates: { timestamps: { overlap: later } }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  # decisions BATCH: what|who|at|note of each decision in `sluice batches
  # --json`, oldest first (at "ISO" when it is ISO 8601 UTC with Z)
  decisions() {
    sluice batches "$W/s.yaml" --limit 1000 --json
    python3 -c 'import json,re,sys
b=[x for x in json.loads(sys.argv[1]) if x["id"]==int(sys.argv[2])][0]
for d in b["decisions"]:
    at="ISO" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", d["at"] or "") else d["at"]
    print("%s|%s|%s|%s" % (d["what"], d["who"], at, d["note"]))' "$OUT" "$1"
  }
  ts() { if [ $dest = pg ]; then pg "select to_char($1 at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') from $2 order by id"; else lite "$W/wh.db" "select substr($1, 1, 19) from $2 order by id"; fi; }

  # ---- 1. size ----
  day=0
  daily() {  # daily ROWS: one day's drop
    day=$((day + 1))
    { echo "id,amount"; seq 1 "$1" | awk -v d=$day '{printf "%d%05d,%d.25\n", d, $1, $1}'; } | drop "$W/in/daily" "day$day.csv"
    sluice run "$W/s.yaml" ${dest}_daily
  }
  for n in 100 110 95 105; do daily $n; done
  check "$dest: four usual days load" "410" "$(q "select count(*) from ${dest}_daily")"
  daily 1000
  check "$dest: 10x drop: exit 3 (quarantined)" 3 "$RC"
  check "$dest: 10x drop: table unchanged" "410" "$(q "select count(*) from ${dest}_daily")"
  held=$(q "select id from $B where table_name = '${dest}_daily' and state = 'quarantined'")
  check "$dest: 10x drop: one quarantined batch in the ledger" "1" "$(echo "$held" | grep -c .)"
  check_contains "$dest: the report names the size gate and the figures" '"size"' \
    "$(q "select report from $B where id = $held")"
  check "$dest: data held in quarantine/" "day5.csv" "$(ls "$W/in/daily/quarantine")"
  for _ in $(seq 50); do grep -q "\"batch\":$held," "$T_DIR/hook.jsonl" 2>/dev/null && break; sleep 0.1; done
  alert=$(grep "${dest}_daily" "$T_DIR/hook.jsonl" | grep '"quarantined"' | tail -1)
  check_contains "$dest: alert received with pipeline and batch" "\"pipeline\":\"${dest}_daily\",\"table\":\"${dest}_daily\",\"batch\":$held," "$alert"
  check_contains "$dest: alert names the failed gate" "size" "$alert"
  # the table waits behind the held batch
  daily 100
  check "$dest: a later drop waits (exit 3)" 3 "$RC"
  check_contains "$dest: run says the table is paused" "paused: batch $held is in quarantine" "$ERR"
  check "$dest: later drop not taken" "day6.csv" "$(ls "$W/in/daily" | grep csv)"
  sluice approve "$W/s.yaml" "$held" --note "checked the 10x day"
  check "$dest: approve exits 0" 0 "$RC"
  approved=$held
  check "$dest: approve loads the batch as it is" "1410" "$(q "select count(*) from ${dest}_daily")"
  check "$dest: approved rows carry the held batch id" "1000" "$(q "select count(*) from ${dest}_daily where _sluice_batch = $held")"
  check "$dest: ledger records the decision, who and when" "committed approved|$(id -un)|ISO|checked the 10x day" \
    "$(q "select state from $B where id = $held") $(decisions "$held")"
  sluice approve "$W/s.yaml" "$held"
  check "$dest: approving a committed batch is a refused action (exit 1)" 1 "$RC"
  check_contains "$dest: the refusal names the state" "is committed, not quarantined" "$ERR"
  check "$dest: a refused approve adds no decision" "approved|$(id -un)|ISO|checked the 10x day" "$(decisions "$held")"
  check_contains "$dest: the approved batch keeps its gate report" '"size"' \
    "$(q "select report from $B where id = $held")"
  check "$dest: a committed batch carries no error" "" "$(q "select error from $B where id = $held")"
  sluice batches "$W/s.yaml" --table ${dest}_daily --json
  check "$dest: batches --json gives the gate report as an object" "dict" \
    "$(python3 -c 'import json,sys; b=[x for x in json.loads(sys.argv[1]) if x["id"]==int(sys.argv[2])][0]; print(type(b["report"]).__name__)' "$OUT" "$held")"
  check "$dest: batches --json times are ISO 8601 UTC with Z" "True" \
    "$(python3 -c 'import json,sys,re; b=json.loads(sys.argv[1]); print(all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", x[k]) for x in b for k in ("started_at","finished_at") if x[k]))' "$OUT")"
  sluice batches "$W/s.yaml" --table ${dest}_daily
  check "$dest: batches text times are ISO 8601 UTC with Z" "1" \
    "$(echo "$OUT" | sed -n 2p | grep -cE ' 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ')"
  grep -q '"resolved"' "$T_DIR/hook.jsonl" && ok "$dest: resolve alert sent" || not_ok "$dest: resolve alert sent"
  sluice run "$W/s.yaml" ${dest}_daily
  check "$dest: the waiting drop loads after approve" "1510" "$(q "select count(*) from ${dest}_daily")"
  daily 5
  check "$dest: a tiny drop is quarantined too" 3 "$RC"
  held=$(q "select id from $B where table_name = '${dest}_daily' and state = 'quarantined'")
  sluice reject "$W/s.yaml" "$held"
  check "$dest: reject exits 0" 0 "$RC"
  check "$dest: rejected batch never loads" "1510" "$(q "select count(*) from ${dest}_daily")"
  check "$dest: rejected data set aside in failed/" "day7.csv day7.csv.error" "$(ls "$W/in/daily/failed" | xargs)"
  check "$dest: ledger says rejected" "rejected" "$(q "select state from $B where id = $held")"
  sluice approve "$W/s.yaml" "$held"
  check "$dest: approving a rejected batch is a refused action (exit 1)" 1 "$RC"
  sluice approve "$W/s.yaml" 999999
  check "$dest: approving a batch that does not exist is no such thing (exit 2)" 2 "$RC"
  check "$dest: a rejected batch records who rejected it and when" "rejected|$(id -un)|ISO|None" \
    "$(decisions "$held")"

  # an approved batch rolled back: both decisions stay, the report and the
  # time it committed too
  fin=$(q "select finished_at from $B where id = $approved")
  sluice rollback "$W/s.yaml" "$approved"
  check "$dest: rolling back the approved batch exits 0" 0 "$RC"
  check "$dest: its rows are gone" "510" "$(q "select count(*) from ${dest}_daily")"
  check "$dest: approve then rollback: both decisions, each with who and when" \
    "rolled_back approved|$(id -un)|ISO|checked the 10x day
rolled back|$(id -un)|ISO|None" "$(q "select state from $B where id = $approved") $(decisions "$approved")"
  check "$dest: the decisions are kept in order in the ledger itself" "approved,rolled back" \
    "$(python3 -c 'import json,sys; print(",".join(d["what"] for d in json.loads(sys.argv[1])))' \
       "$(q "select decision from $B where id = $approved")")"
  check "$dest: finished_at stays the time it committed" "$fin" "$(q "select finished_at from $B where id = $approved")"
  check_contains "$dest: the rolled back batch keeps its gate report" '"size"' \
    "$(q "select report from $B where id = $approved")"
  sluice batches "$W/s.yaml" --table ${dest}_daily --json
  check "$dest: batches --json: decision is the newest, as one line" "rolled back by $(id -un) at 20" \
    "$(python3 -c 'import json,sys; b=[x for x in json.loads(sys.argv[1]) if x["id"]==int(sys.argv[2])][0]; print(b["decision"][:len(sys.argv[3])])' "$OUT" "$approved" "rolled back by $(id -un) at 20")"
  sluice batches "$W/s.yaml" --table ${dest}_daily
  check "$dest: batches text shows every decision under the batch" "approved by $(id -un) at T: checked the 10x day
rolled back by $(id -un) at T" \
    "$(echo "$OUT" | grep -A2 "^$approved " | tail -2 | sed -E 's/^ +//; s/ at 20[0-9-]{8}T[0-9:]{8}Z/ at T/')"

  # approved, but its content was loaded by another batch meanwhile (another
  # worker): the approval stays on record, what sluice did follows
  daily 5
  check "$dest: another tiny drop is held" 3 "$RC"
  held=$(q "select id from $B where table_name = '${dest}_daily' and state = 'quarantined'")
  other=$(q "select max(id) from $B where table_name = '${dest}_daily' and state = 'committed'")
  q "insert into $(if [ $dest = pg ]; then echo _sluice.files; else echo _sluice_files; fi) (table_name, content_hash, name, bytes, batch_id)
     select table_name, content_hash, 'loaded-elsewhere.csv', bytes, $other from $B where id = $held"
  sluice approve "$W/s.yaml" "$held" --note "looks right"
  check "$dest: approving a batch loaded meanwhile exits 0 and says so" "0|batch $held approved; its content was already loaded" "$RC|$OUT"
  check "$dest: approved, then not loaded: both decisions" "rejected approved|$(id -un)|ISO|looks right
rejected|sluice|ISO|not loaded: its content was loaded by another batch meanwhile" \
    "$(q "select state from $B where id = $held") $(decisions "$held")"
  check "$dest: and nothing of it loaded" "510" "$(q "select count(*) from ${dest}_daily")"

  # ---- 3. test data in production ----
  printf 'id,v,email\n1,1,ana@example.com\n2,1,bob@example.com\n' | drop "$W/in/users" u1.csv
  sluice run "$W/s.yaml" ${dest}_users
  check "$dest: clean users load" 0 "$RC"
  printf 'id,v,email\n3,1,carl@example.com\n4,1,qa1@test.example.com\n5,1,qa2@test.internal\n1,2,ana@test.com\n' | drop "$W/in/users" u2.csv
  sluice run "$W/s.yaml" ${dest}_users
  check "$dest: test data: quarantined (exit 3)" 3 "$RC"
  check "$dest: test data: nothing of the drop visible" "1|1|ana@example.com
2|1|bob@example.com" "$(q "select id, v, email from ${dest}_users order by id")"
  rep=$(q "select report from $B where table_name = '${dest}_users' and state = 'quarantined'" | tr -d ' ')
  check_contains "$dest: rule report counts the rows" '"rows_broken":3' "$rep"
  check_contains "$dest: rule report gives an example with its line" 'qa1@test.example.com' "$rep"

  # ---- 4. keys that are not unique ----
  dupkeys='id,v,val\n1,1,a\n2,1,b\n1,2,c\n3,1,d\n'
  printf "$dupkeys" | drop "$W/in/kq" k.csv
  sluice run "$W/s.yaml" ${dest}_kq
  check "$dest: unique_key quarantine: exit 3" 3 "$RC"
  check "$dest: unique_key quarantine: nothing loaded (not even the new table)" "absent" \
    "$(q "select count(*) from ${dest}_kq" 2>/dev/null || echo absent)"
  printf "$dupkeys" | drop "$W/in/kf" k.csv
  sluice run "$W/s.yaml" ${dest}_kf
  check "$dest: unique_key fail: exit 1" 1 "$RC"
  check_contains "$dest: unique_key fail: says which key" "unique_key" "$ERR"
  check "$dest: unique_key fail: drop in failed/" "k.csv k.csv.error" "$(ls "$W/in/kf/failed" | xargs)"
  printf "$dupkeys" | drop "$W/in/kl" k.csv
  sluice run "$W/s.yaml" ${dest}_kl
  check "$dest: unique_key keep_latest: loads" 0 "$RC"
  check "$dest: unique_key keep_latest: the latest version of each key" "1|2|c
2|1|b
3|1|d" "$(q "select id, v, val from ${dest}_kl order by id")"

  # ---- schema changes ----
  for k in sq sq2 se; do
    printf 'id,amount\n1,1.50\n' | drop "$W/in/$k" a.csv
    sluice run "$W/s.yaml" ${dest}_$k
    check "$dest: schema $k: first drop loads" 0 "$RC"
  done
  printf 'id,amount,coupon\n2,2.50,SPRING\n' | drop "$W/in/sq" b.csv
  sluice run "$W/s.yaml" ${dest}_sq
  check "$dest: schema quarantine: a new column holds the batch" "3|1" \
    "$RC|$(q "select count(*) from ${dest}_sq")"
  printf 'id,amount\n2,not a number\n' | drop "$W/in/sq2" b.csv
  sluice run "$W/s.yaml" ${dest}_sq2
  check "$dest: schema quarantine: a changed type holds the batch" "3|1" \
    "$RC|$(q "select count(*) from ${dest}_sq2")"
  check_contains "$dest: schema report names the change" "amount: numeric -> text" \
    "$(q "select report from $B where table_name = '${dest}_sq2' and state = 'quarantined'")"
  printf 'id,amount,coupon\n2,2.50,SPRING\n' | drop "$W/in/se" b.csv
  sluice run "$W/s.yaml" ${dest}_se
  check "$dest: schema evolve: a new column is added and loaded" "0|2|SPRING" \
    "$RC|$(q "select count(*) from ${dest}_se")|$(q "select coupon from ${dest}_se where id = 2")"

  # ---- 5. epoch units ----
  printf 'id,at_ms,at_s\n1,1700000000123,1700000000\n2,1700000100456,1700000100\n' | drop "$W/in/epoch" e.csv
  sluice run "$W/s.yaml" ${dest}_epoch
  check "$dest: epoch ms and s load" 0 "$RC"
  check "$dest: milliseconds stored right" "2023-11-14T22:13:20
2023-11-14T22:15:00" "$(ts at_ms ${dest}_epoch)"
  check "$dest: seconds stored right" "2023-11-14T22:13:20
2023-11-14T22:15:00" "$(ts at_s ${dest}_epoch)"
  check_contains "$dest: the report says what unit it decided" '"at_ms"' \
    "$(q "select report from $B where table_name = '${dest}_epoch' and state = 'committed'")"
  printf 'id,at_ms,at_s\n3,1700000000123,1700000000\n4,1700000100456,1700000100456\n' | drop "$W/in/epoch" mixed.csv
  sluice run "$W/s.yaml" ${dest}_epoch
  check "$dest: a column mixing s and ms is quarantined" 3 "$RC"
  future=$(( $(date +%s) + 86400 ))
  q "select 1" >/dev/null

  # ---- 6. DST in America/New_York ----
  # 2026-03-08 02:30 does not exist; 2026-11-01 01:30 happens twice
  printf 'id,at\n1,2026-03-08 01:59:59\n2,2026-03-08 03:00:00\n3,2026-11-01 00:30:00\n4,2026-11-01 01:30:00\n5,2026-11-01 02:30:00\n' | drop "$W/in/dst" ok.csv
  sluice run "$W/s.yaml" ${dest}_dst
  check "$dest: DST: times load" 0 "$RC"
  check "$dest: DST: stored in UTC, overlap earlier" "2026-03-08T06:59:59
2026-03-08T07:00:00
2026-11-01T04:30:00
2026-11-01T05:30:00
2026-11-01T07:30:00" "$(ts at ${dest}_dst)"
  printf 'id,at\n1,2026-11-01 01:30:00\n' | drop "$W/in/dstl" ok.csv
  sluice run "$W/s.yaml" ${dest}_dstl
  check "$dest: DST: overlap later" "2026-11-01T06:30:00" "$(ts at ${dest}_dstl)"
  printf 'id,at\n6,2026-03-08 02:30:00\n' | drop "$W/in/dst" gap.csv
  sluice run "$W/s.yaml" ${dest}_dst
  check "$dest: DST: a time in the spring gap fails" 1 "$RC"
  check_contains "$dest: DST: the gap error says where and why" "in/dst/gap.csv:2:3:" "$ERR"
  check_contains "$dest: DST: names the gap" "gap" "$ERR"
done
finish
