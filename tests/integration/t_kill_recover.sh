#!/usr/bin/env bash
# Invariant 2 under fire: `sluice run` is killed with SIGKILL at random
# instants of a multi-file load (append and versioned tables), then run again
# to the end. Whatever the instant, the destination ends exactly equal to the
# expected rows (nothing lost, nothing twice), every drop ends in done/ and
# none in failed/, and the ledger committed each drop once. PostgreSQL and
# SQLite. SL_KILL_TRIALS random kills per destination (default 30; `make
# soak` 100), then SL_KILL_MOVE_TRIALS kills (default 10) in the window
# after a batch committed and before its drop moved to done/ (kill_at_move.so,
# preloaded, kills at the N-th move): the re-run finds that drop loaded
# already and skips it (one duplicate), never loads it twice.
. "$(dirname "$0")/lib.sh"
new_db
TRIALS=${SL_KILL_TRIALS:-30}
MOVE_TRIALS=${SL_KILL_MOVE_TRIALS:-10}
[ "${SL_SANITIZED:-OFF}" = ON ] && TRIALS=${SL_KILL_TRIALS_ASAN:-8} && MOVE_TRIALS=${SL_KILL_MOVE_TRIALS_ASAN:-3}
SHIM="$(dirname "$SLUICE_BIN")/kill_at_move.so"
[ -f "$SHIM" ] || { echo "# $SHIM is missing: build the kill_at_move target"; exit 1; }
NDROPS=10
ROWS=${SL_KILL_ROWS:-12000}

python3 - "$T_DIR/gen" "$ROWS" <<'PY'
import os, random, sys
out, rows = sys.argv[1], int(sys.argv[2])
random.seed(7)
os.makedirs(out + "/ev", exist_ok=True); os.makedirs(out + "/ver", exist_ok=True)
ev = []
for f in range(6):
    with open(f"{out}/ev/ev{f}.csv", "w") as fh:
        fh.write("id,kind,amount,note\n")
        for i in range(rows):
            rid = f * rows + i
            row = (rid, random.choice("abc"), f"{random.randint(0, 99999)}.{random.randint(0,99):02d}", f"note, \"{rid}\"")
            ev.append(row)
            fh.write(f'{row[0]},{row[1]},{row[2]},"{row[3].replace(chr(34), chr(34)*2)}"\n')
best = {}
for f in range(4):
    with open(f"{out}/ver/ver{f}.csv", "w") as fh:
        fh.write("id,v,val\n")
        for i in range(rows):
            k = random.randint(0, rows)
            v = random.randint(1, 1000)
            val = f"f{f}-{i}"
            fh.write(f"{k},{v},{val}\n")
            if k not in best or v > best[k][0]:
                best[k] = (v, val)   # ties: the first seen stays
            # within a file, ties keep the first row; across files, the stored row
with open(out + "/ev.expected", "w") as fh:
    for r in sorted(ev):
        fh.write(f"{r[0]}|{r[1]}|{r[2]}|{r[3]}\n")
with open(out + "/ver.expected", "w") as fh:
    for k in sorted(best):
        fh.write(f"{k}|{best[k][0]}|{best[k][1]}\n")
PY

for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: ev
    source: { kind: files, path: in/ev, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: k_ev, kind: append, columns: { amount: numeric } } ]
  - name: ver
    source: { kind: files, path: in/ver, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: k_ver, kind: versioned, primary_key: [id], version_key: v } ]
YAML
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  # committed batches and distinct contents among them (each drop once: 10 10)
  ledger_once() {
    local b=_sluice_batches
    [ $dest = pg ] && b=_sluice.batches
    q "select count(*) || ' ' || count(distinct table_name || ':' || content_hash) from $b where state = 'committed'"
  }
  reset() {
    rm -rf "$W/in"
    mkdir -p "$W/in"
    cp -r "$T_DIR/gen/ev" "$T_DIR/gen/ver" "$W/in/"
    touch -d '-10 seconds' "$W"/in/*/*.csv
    if [ $dest = pg ]; then
      pg "drop table if exists k_ev; drop table if exists k_ver; drop schema if exists _sluice cascade"
    else
      rm -f "$W"/wh.db*
    fi
  }
  # calibrate: how long does an uninterrupted run take?
  reset
  t0=$(date +%s%N)
  sluice run "$W/s.yaml"
  t1=$(date +%s%N)
  full_ms=$(( (t1 - t0) / 1000000 ))
  check "$dest: uninterrupted run (${full_ms} ms)" 0 "$RC"
  bad=0
  for trial in $(seq 1 "$TRIALS"); do
    reset
    delay=$(( RANDOM % (full_ms + 1) ))
    "$SLUICE_BIN" run "$W/s.yaml" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sluice run "$W/s.yaml"
    if [ "$RC" -ne 0 ]; then bad=$((bad + 1)); echo "# trial $trial (kill at ${delay} ms): rerun exited $RC: $ERR"; continue; fi
    got_ev=$(q "select id, kind, amount, note from k_ev order by id")
    got_ver=$(q "select id, v, val from k_ver order by id")
    if [ "$got_ev" != "$(cat "$T_DIR/gen/ev.expected")" ] || [ "$got_ver" != "$(cat "$T_DIR/gen/ver.expected")" ]; then
      bad=$((bad + 1))
      echo "# trial $trial (kill at ${delay} ms): destination differs from expected"
      echo "#   ev rows $(wc -l <<<"$got_ev") expected $(wc -l <"$T_DIR/gen/ev.expected"); ver rows $(wc -l <<<"$got_ver") expected $(wc -l <"$T_DIR/gen/ver.expected")"
      continue
    fi
    left=$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l)
    failed=$(find "$W/in" -path '*failed*' -type f | wc -l)
    if [ "$left" -ne 0 ] || [ "$failed" -ne 0 ]; then
      bad=$((bad + 1)); echo "# trial $trial: $left drops not moved, $failed failed"
    fi
    if [ "$(ledger_once)" != "$NDROPS $NDROPS" ]; then
      bad=$((bad + 1)); echo "# trial $trial: committed batches, distinct contents: $(ledger_once)"
    fi
  done
  check "$dest: $TRIALS SIGKILL trials end exactly equal to the expected rows" 0 "$bad"

  # killed after a commit, before the move: the re-run skips that drop
  bad=0
  for trial in $(seq 1 "$MOVE_TRIALS"); do
    reset
    rm -f "$W/mark"
    n=$((1 + RANDOM % NDROPS))
    set +e
    LD_PRELOAD="$SHIM" SL_KILL_AT_MOVE=$n SL_KILL_AT_MOVE_MARK="$W/mark" \
      ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
      "$SLUICE_BIN" run "$W/s.yaml" >/dev/null 2>&1
    krc=$?
    set -e
    if [ "$krc" != 137 ] || [ ! -f "$W/mark" ]; then
      bad=$((bad + 1)); echo "# move trial $trial (move $n): not killed at the move (exit $krc)"; continue
    fi
    sluice run "$W/s.yaml"
    dups=$(grep -o '[0-9]* duplicate' <<<"$OUT" | awk '{ s += $1 } END { print s + 0 }')
    got_ev=$(q "select id, kind, amount, note from k_ev order by id")
    got_ver=$(q "select id, v, val from k_ver order by id")
    what="move trial $trial (killed moving $(basename "$(cat "$W/mark")"), the drop of move $n)"
    if [ "$RC" -ne 0 ]; then
      bad=$((bad + 1)); echo "# $what: rerun exited $RC: $ERR"
    elif [ "$dups" != 1 ]; then
      bad=$((bad + 1)); echo "# $what: the rerun skipped $dups drops as loaded already, expected 1: $OUT"
    elif [ "$got_ev" != "$(cat "$T_DIR/gen/ev.expected")" ] || [ "$got_ver" != "$(cat "$T_DIR/gen/ver.expected")" ]; then
      bad=$((bad + 1)); echo "# $what: destination differs from expected"
    elif [ "$(ledger_once)" != "$NDROPS $NDROPS" ]; then
      bad=$((bad + 1)); echo "# $what: committed batches, distinct contents: $(ledger_once)"
    elif [ "$(find "$W/in" -maxdepth 2 -name '*.csv' | wc -l)" != 0 ]; then
      bad=$((bad + 1)); echo "# $what: drops left in the drop folder"
    fi
  done
  check "$dest: $MOVE_TRIALS kills between commit and move: the re-run skips the committed drop, nothing twice" 0 "$bad"
done
finish
