#!/usr/bin/env bash
# The summary line of `sluice run` (and the daemon's debug line) adds up:
# every drop a run saw is in exactly one count, and a table the run could
# not attempt at all is counted and said, with exit 1.
#   locked_sqlite_table_not_run     a SQLite warehouse held by another
#       process (BEGIN EXCLUSIVE) through the retries: "1 table not run: ...
#       database is locked", exit 1, the 3 drops left where they are; after
#       the lock is released a run loads all 3, once; the same with the
#       warehouse already in WAL mode
#   unreachable_pg_tables_not_run   a PostgreSQL warehouse nobody listens
#       for: both tables counted as not run, exit 1
#   daemon_debug_line_says_not_run  the daemon's debug line says the same
#   source_not_opened_tables_not_run  a drop folder that is a file: the table
#       and the one after it counted as not run
#   mixed_run_counts_sum_to_drops   1 good, 1 duplicate, 1 bad, 1 held by a
#       gate: 1 + 1 + 1 + 1 = 4 drops (SQLite and PostgreSQL)
. "$(dirname "$0")/lib.sh"
cd "$T_DIR"
new_db

# short retries: the lock outlasts them
export SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=20 SLUICE_SQLITE_BUSY_TIMEOUT_MS=50

# hold DB: take an exclusive lock on SQLite file DB in another process, until
# release DB; waits until the lock is held
hold() {
  rm -f "$1.locked" "$1.release"
  python3 - "$1" <<'PY' &
import os, sqlite3, sys, time
db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(db + ".locked", "w").close()
while not os.path.exists(db + ".release"):
    time.sleep(0.05)
c.execute("COMMIT")
c.close()
PY
  HOLDER=$!
  for _ in $(seq 100); do [ -f "$1.locked" ] && return 0; sleep 0.05; done
  not_ok "the lock on $1 is held"
}
release() { touch "$1.release"; wait "$HOLDER"; }

three_drops() {  # DIR FIRST_ID
  for k in 0 1 2; do
    printf 'id,v\n%d,x%d\n' $(($2 + k)) $(($2 + k)) | drop "$1" "d$(($2 + k)).csv"
  done
}

# ---- locked_sqlite_table_not_run ----
cat > lock.yaml <<'YAML'
connections:
  wh: { url: "sqlite://lock.db" }
pipelines:
  - name: lockp
    source: { kind: files, path: lockdrops, format: csv }
    destination: wh
    tables:
      - { name: t, kind: append }
YAML
three_drops lockdrops 1
hold lock.db
sluice run lock.yaml
release lock.db
check "locked warehouse: exit 1" 1 "$RC"
check_contains "locked warehouse: the table is counted as not run, the lock named" \
  "lockp: 0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred, 0 quarantined, 1 table not run: destination \"wh\" not reached after 3 attempts:" "$OUT"
check_contains "locked warehouse: the summary says why (database is locked)" "database is locked" "$OUT"
check "locked warehouse: the 3 drops wait where they were" "3" "$(ls lockdrops/*.csv | wc -l)"
sluice run lock.yaml
check "after the lock: exit 0" 0 "$RC"
check "after the lock: all 3 loaded" "lockp: 3 committed (3 rows), 0 duplicate, 0 failed, 0 deferred, 0 quarantined" "$OUT"
check "after the lock: each row once" "3|3" "$(lite lock.db 'select count(*), count(distinct id) from t')"

# the warehouse is in WAL mode now: the lock stops BEGIN IMMEDIATE instead
three_drops lockdrops 4
hold lock.db
sluice run lock.yaml
release lock.db
check "locked WAL warehouse: exit 1" 1 "$RC"
check_contains "locked WAL warehouse: counted as not run" "0 quarantined, 1 table not run: " "$OUT"
check_contains "locked WAL warehouse: the lock named" "database is locked" "$OUT"
sluice run lock.yaml
check "locked WAL warehouse, released: the 3 drops load" \
  "lockp: 3 committed (3 rows), 0 duplicate, 0 failed, 0 deferred, 0 quarantined" "$OUT"
check "locked WAL warehouse, released: 6 rows, each once" "6|6" \
  "$(lite lock.db 'select count(*), count(distinct id) from t')"

# ---- daemon_debug_line_says_not_run ----
three_drops lockdrops 7
hold lock.db
SLUICE_POLL_MS=200 "$SLUICE_BIN" --verbose daemon lock.yaml --listen 127.0.0.1:0 \
  >daemon.out 2>daemon.log &
DAEMON=$!
for _ in $(seq 100); do grep -q "table not run" daemon.log && break; sleep 0.1; done
kill -TERM "$DAEMON"; wait "$DAEMON" || true
release lock.db
check_contains "daemon: its debug line counts the table as not run, naming the lock" \
  "0 quarantined, 1 table not run: destination \"wh\" not reached after 3 attempts:" \
  "$(grep 'table not run' daemon.log | head -1)"

# ---- unreachable_pg_tables_not_run ----
cat > down.yaml <<'YAML'
connections:
  wh: { url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2" }
pipelines:
  - name: downp
    source: { kind: files, path: downdrops, format: csv }
    destination: wh
    tables:
      - { name: a, kind: append, pattern: "a*.csv" }
      - { name: b, kind: append, pattern: "b*.csv" }
YAML
printf 'id\n1\n' | drop downdrops a1.csv
printf 'id\n1\n' | drop downdrops b1.csv
sluice run down.yaml
check "unreachable PostgreSQL: exit 1" 1 "$RC"
check_contains "unreachable PostgreSQL: both tables counted as not run" \
  "downp: 0 committed (0 rows), 0 duplicate, 0 failed, 0 deferred, 0 quarantined, 2 tables not run: destination \"wh\" not reached after 3 attempts:" "$OUT"

# ---- source_not_opened_tables_not_run ----
# the first table's source cannot be opened; with one worker the run stops
# there, and the table after it is counted too
echo "not a folder" > notadir
sed 's#path: downdrops#path: notadir#; s#postgresql://nobody@127.0.0.1:1/none?connect_timeout=2#sqlite://down.db#' \
  down.yaml > noopen.yaml
sluice run noopen.yaml
check "source cannot be opened: exit 1" 1 "$RC"
check_contains "source cannot be opened: both tables not run, the first one's reason said" \
  "0 quarantined, 2 tables not run: table a: could not open drop folder" "$OUT"

# ---- mixed_run_counts_sum_to_drops ----
mixed() {  # NAME URL
  local d="mixed_$1"
  cat > "$1.yaml" <<YAML
connections:
  wh: { url: "$2" }
pipelines:
  - name: mixed
    source: { kind: files, path: $d, format: csv }
    destination: wh
    tables:
      - name: m_$1
        kind: append
        primary_key: [id]
        gates: { rules: [ { column: v, reject_match: "^test" } ] }   # held by default
YAML
  mkdir -p "$d"
  printf 'id,v\n1,a\n2,b\n' > "$d/a_good.csv"
  cp "$d/a_good.csv" "$d/b_same.csv"                 # the same bytes: a duplicate
  printf 'id,v\n3,c,extra\n' > "$d/c_bad.csv"         # a field too many: fails
  printf 'id,v\n4,test\n' > "$d/d_held.csv"          # test data: held by the rule
  touch -d '-40 seconds' "$d/a_good.csv"; touch -d '-30 seconds' "$d/b_same.csv"
  touch -d '-20 seconds' "$d/c_bad.csv"; touch -d '-10 seconds' "$d/d_held.csv"
  sluice run "$1.yaml"
  check "$1 mixed run: 1 + 1 + 1 + 1 = the 4 drops" \
    "mixed: 1 committed (2 rows), 1 duplicate, 1 failed, 0 deferred, 1 quarantined" "$OUT"
  check "$1 mixed run: exit 1 (a batch failed)" 1 "$RC"
}
mixed sqlite "sqlite://mixed.db"
mixed pg "$T_PG_URL"
check "PostgreSQL mixed run: the good drop's rows only" "1|2" "$(pg 'select min(id), max(id) from m_pg')"
check "SQLite mixed run: the good drop's rows only" "1|2" "$(lite mixed.db 'select min(id), max(id) from m_sqlite')"
finish
