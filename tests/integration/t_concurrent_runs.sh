#!/usr/bin/env bash
# Two `sluice run` on one config at one moment: each table is worked by one
# run at a time (a lease per table: a PostgreSQL advisory lock, or a lock on
# the SQLite warehouse's lock file). The second run waits for the first,
# then rescans the drop folder: what the first loaded and moved is gone, not
# an error, so every row lands once, neither run prints an error, and the
# two summaries add up to the drops (no false duplicates). Several rounds,
# into PostgreSQL and SQLite. Then a run that cannot get the lease within
# `lock_wait` skips the table, says why, and counts it as locked (exit 0).
. "$(dirname "$0")/lib.sh"
new_db

N=20
ROUNDS=5

# sum_field OUT1 OUT2 WORD: the numbers before WORD in both summaries, added
sum_field() {
  local a b
  a=$(grep -o "[0-9]* $3" <<<"$1" | head -1 | cut -d' ' -f1)
  b=$(grep -o "[0-9]* $3" <<<"$2" | head -1 | cut -d' ' -f1)
  echo $(( ${a:-0} + ${b:-0} ))
}

for dest in pg lite; do
  W="$T_DIR/$dest"
  mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/sluice.yaml" <<YAML
connections:
  wh: { url: "$url" }
pipelines:
  - name: events
    source: { kind: files, path: drops, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_events, kind: append }
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  E=${dest}_events

  total=0
  waited=0
  for r in $(seq 1 $ROUNDS); do
    for i in $(seq 1 $N); do
      printf 'id,round,n\n%d,%d,%d\n%d,%d,%d\n' $((r * 1000 + i * 2)) "$r" "$i" \
        $((r * 1000 + i * 2 + 1)) "$r" "$i" | drop "$W/drops" "r${r}_$i.csv"
    done
    total=$((total + 2 * N))
    set +e
    "$SLUICE_BIN" run "$W/sluice.yaml" >"$W/a.out" 2>"$W/a.err" &
    pa=$!
    "$SLUICE_BIN" run "$W/sluice.yaml" >"$W/b.out" 2>"$W/b.err" &
    pb=$!
    wait $pa; rca=$?
    wait $pb; rcb=$?
    set -e
    outa=$(cat "$W/a.out"); outb=$(cat "$W/b.out")
    errs=$(cat "$W/a.err" "$W/b.err")
    if grep -q "another run holds table \"$E\"; waiting" <<<"$errs"; then waited=$((waited + 1)); fi
    check "$dest round $r: both runs exit 0" "0 0" "$rca $rcb"
    if grep -q "could not move" <<<"$errs"; then
      not_ok "$dest round $r: no run prints \"could not move\""
      grep "could not move" <<<"$errs" | head -3 | sed 's/^/#   /'
    else
      ok "$dest round $r: no run prints \"could not move\""
    fi
    if grep -Eq '^([^ ]+ (error|warning)[ :]|sluice:)' <<<"$errs"; then
      not_ok "$dest round $r: no run logs an error or warning"
      grep -E '^([^ ]+ (error|warning)[ :]|sluice:)' <<<"$errs" | head -3 | sed 's/^/#   /'
    else
      ok "$dest round $r: no run logs an error or warning"
    fi
    check "$dest round $r: the two runs committed $N batches between them" "$N" \
      "$(sum_field "$outa" "$outb" committed)"
    check "$dest round $r: no false duplicate counts" "0" "$(sum_field "$outa" "$outb" duplicate)"
    check "$dest round $r: every row exactly once" "$total $total" \
      "$(q "select count(*) || ' ' || count(distinct id) from $E")"
    check "$dest round $r: every drop moved to done/" "0 $((r * N))" \
      "$(find "$W/drops" -maxdepth 1 -name '*.csv' | wc -l) $(find "$W/drops/done" -name '*.csv' | wc -l)"
  done
  # the runs did overlap: one waited for the other's lease in some round
  if [ "$waited" -gt 0 ]; then ok "$dest: a run waited for the other in $waited of $ROUNDS rounds"
  else not_ok "$dest: a run waited for the other in some round"; fi
  check "$dest: nothing went to failed/" "0" "$(find "$W/drops" -path '*failed*' -type f | wc -l)"
done

# ---- a run that cannot get the lease within lock_wait skips the table ----
# The lease is held from outside, as another run would hold it: on
# PostgreSQL the session advisory lock keyed by the hash the destination
# computes; on SQLite the table's byte of "<db>.lock". The key is FNV-1a 64
# of "sluice:" + the qualified table name (destination.h, sl_lease_key).
key_of() {
  python3 -c '
import sys
h = 1469598103934665603
for c in ("sluice:" + sys.argv[1]).encode():
    h = ((h ^ c) * 1099511628211) % (1 << 64)
print(h - (1 << 64) if h >= (1 << 63) else h, h & ((1 << 62) - 1))' "$1"
}
for dest in pg lite; do
  W="$T_DIR/$dest"
  sed -i 's/destination: wh/destination: wh\n    lock_wait: 1s/' "$W/sluice.yaml"
  E=${dest}_events
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  printf 'id,round,n\n1,0,0\n' | drop "$W/drops" late.csv
  if [ $dest = pg ]; then
    read -r key _ <<<"$(key_of "public.$E")"
    psql -qXAt -d "$T_DB" -c "select pg_advisory_lock($key)" -c "select pg_sleep(6)" >/dev/null &
  else
    read -r _ off <<<"$(key_of "$E")"
    python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, int(sys.argv[2]))
time.sleep(6)' "$W/wh.db.lock" "$off" &
  fi
  holder=$!
  sleep 1.5
  start=$(date +%s.%N)
  sluice run "$W/sluice.yaml"
  took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
  check "$dest: a run that cannot get the lease exits 0" "0" "$RC"
  check_contains "$dest: the summary counts the table as locked" "1 skipped (locked by another run)" "$OUT"
  check_contains "$dest: the log says why" "another run holds table \"$E\"" "$ERR"
  if python3 -c "import sys; sys.exit(0 if 0.9 < float(sys.argv[1]) < 4 else 1)" "$took"; then
    ok "$dest: it waited about lock_wait (${took}s)"
  else
    not_ok "$dest: it waited about lock_wait (${took}s)"
  fi
  check "$dest: the drop is left for the next run" "1" "$(find "$W/drops" -maxdepth 1 -name late.csv | wc -l)"
  wait $holder
  sluice run "$W/sluice.yaml"
  check "$dest: once the lease is free the next run loads it (rc)" "0" "$RC"
  check "$dest: the late row is in" "1" "$(q "select count(*) from $E where id = 1")"
done

finish
