#!/usr/bin/env bash
# Whoever can write the drop folder can change a drop between two of
# sluice's own steps; drop_swap.so (LD_PRELOAD) makes that happen at the worst
# instant, every time. In PostgreSQL and SQLite:
#   future_mtime_waits_one_window  a drop whose mtime is an hour ahead: `sluice
#                                  run` waits one settle window, not an hour,
#                                  leaves it (counted as still being written)
#                                  and loads the others
#   rows_are_the_hashed_bytes      another file opened at the drop's path after
#                                  the hash (and the drop put back before the
#                                  commit): the rows loaded are the drop's, the
#                                  other file's never reach the warehouse
#   replaced_drop_not_moved        a new file renamed over a drop after its
#                                  batch committed (or failed), before its move
#                                  to done/ (failed/): the new file stays and
#                                  loads on the next run (before quarantine/:
#                                  nothing is held, the new file stays); a
#                                  relative link (follow_symlinks) that points
#                                  elsewhere from done/ is not taken for one
#   swapped_to_link_or_fifo        a drop that becomes a symbolic link or a FIFO
#                                  between the listing and its open is skipped
#                                  with a warning; the run's other drops load
. "$(dirname "$0")/lib.sh"
new_db

SHIM="$(dirname "$SLUICE_BIN")/drop_swap.so"
[ -f "$SHIM" ] || { echo "# $SHIM is missing: build the drop_swap target"; exit 1; }
# swapped ENV... -- ARGS: sluice under the shim, with a time limit (a FIFO that
# blocks fails the test instead of hanging it)
swapped() {
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  set +e
  env LD_PRELOAD="$SHIM" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" "${envs[@]}" \
    timeout 60 "$SLUICE_BIN" "$@" >"$T_DIR/.out" 2>"$T_DIR/.err"
  RC=$?
  set -e
  OUT=$(cat "$T_DIR/.out")
  ERR=$(cat "$T_DIR/.err")
}
# run_t ARGS...: sluice with a time limit
run_t() { local bin=$SLUICE_BIN; SLUICE_BIN=timeout sluice 20 "$bin" "$@"; }
# old FILE: an mtime in the past, so the source takes it at once
old() { touch -d '-10 seconds' "$1"; }

for dest in pg lite; do
  if [ $dest = pg ]; then url="$T_PG_URL"; else url="sqlite://wh.db"; fi
  # cfg DIR TABLE SETTLE
  cfg() {
    mkdir -p "$1/in"
    cat >"$1/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: $3 }
    destination: wh
    tables:
      - { name: $2, kind: versioned, primary_key: [id], version_key: v }
YAML
  }
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }

  # ---- future_mtime_waits_one_window ----
  W="$T_DIR/$dest/future"; T=${dest}_future; cfg "$W" $T 1s
  printf 'id,v,who\n1,1,now\n' | drop "$W/in" good.csv
  printf 'id,v,who\n2,1,later\n' >"$W/in/ahead.csv"
  touch -d '+1 hour' "$W/in/ahead.csv"
  t0=$(date +%s%N)
  run_t run "$W/s.yaml"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "$dest: a run beside a drop with a future mtime exits 0" 0 "$RC"
  check "$dest: it returns within settle + a little, not an hour (took ${ms} ms)" yes "$([ "$ms" -lt 5000 ] && echo yes || echo no)"
  check_contains "$dest: it is counted as still being written" "p: 1 committed (1 rows), 0 duplicate, 0 failed, 1 deferred (still being written)" "$OUT"
  check_contains "$dest: the log says its mtime is in the future" "in/ahead.csv: modification time still" "$ERR"
  check "$dest: the other drop loaded, not the future one" "1:now" "$(q "select id || ':' || who from $T order by id")"
  check "$dest: the future drop is left in the drop folder" yes "$([ -f "$W/in/ahead.csv" ] && echo yes || echo no)"
  old "$W/in/ahead.csv"
  sluice run "$W/s.yaml"
  check "$dest: once its mtime is past it loads" "0 1:now 2:later" "$RC $(q "select id || ':' || who from $T order by id" | tr '\n' ' ' | sed 's/ $//')"

  # ---- rows_are_the_hashed_bytes ----
  W="$T_DIR/$dest/hashed"; T=${dest}_hashed; cfg "$W" $T 0s
  printf 'id,v,who\n1,1,A\n2,1,A\n' | drop "$W/in" a.csv
  printf 'id,v,who\n1,9,B\n2,9,B\n3,9,B\n' >"$W/b.src"; old "$W/b.src"
  swapped SL_SWAP_NAME=a.csv SL_SWAP_OPEN_FROM=2 SL_SWAP_OPEN_DO="during:$W/b.src" -- run "$W/s.yaml"
  check "$dest: a run with a file swapped in after the hash exits 0" 0 "$RC"
  check "$dest: only the hashed drop's rows are in the warehouse" "1:A 2:A" "$(q "select id || ':' || who from $T order by id" | tr '\n' ' ' | sed 's/ $//')"
  check "$dest: none of the swapped-in file's rows" 0 "$(q "select count(*) from $T where who = 'B'")"
  check "$dest: the drop moved to done/, the other file is back where it was" "yes yes" \
    "$([ -f "$W/in/done/a.csv" ] && echo yes || echo no) $(grep -q B "$W/b.src" && echo yes || echo no)"

  # ---- replaced_drop_not_moved ----
  # hook mkdir: the new file is there before sluice looks at the name; hook
  # rename: it arrives between that look and the move itself
  for hook in mkdir rename; do
    W="$T_DIR/$dest/replaced_$hook"; T=${dest}_replaced_$hook; cfg "$W" $T 0s
    printf 'id,v,who\n1,1,loaded\n' | drop "$W/in" a.csv
    printf 'id,v,who\n2,1,new\n' >"$W/new.src"; old "$W/new.src"
    swapped SL_SWAP_NAME=a.csv SL_SWAP_MOVE_AT=1 SL_SWAP_MOVE_HOOK=$hook SL_SWAP_MOVE_FROM="$W/new.src" -- run "$W/s.yaml"
    check "$dest: a run whose drop is replaced before its move exits 0 ($hook)" 0 "$RC"
    check_contains "$dest: the shim replaced it ($hook)" "drop_swap: replaced before its move" "$ERR"
    check_contains "$dest: the log says the loaded file was replaced and the new one left ($hook)" \
      "in/a.csv: loaded, but a new file was put at its name before it moved to done/; the new file is left for the next run" "$ERR"
    check "$dest: the loaded rows committed ($hook)" "1:loaded" "$(q "select id || ':' || who from $T order by id")"
    check "$dest: the new file is not in done/ ($hook)" "" "$(ls "$W/in/done" | tr '\n' ' ' | sed 's/ $//')"
    check "$dest: the new file stays in the drop folder ($hook)" "id,v,who 2,1,new" "$(tr '\n' ' ' <"$W/in/a.csv" | sed 's/ $//')"
    sluice run "$W/s.yaml"
    check "$dest: the next run loads the new file ($hook)" "0 1:loaded 2:new" "$RC $(q "select id || ':' || who from $T order by id" | tr '\n' ' ' | sed 's/ $//')"
    check "$dest: and moves it to done/ ($hook)" "id,v,who 2,1,new" "$(tr '\n' ' ' <"$W/in/done/a.csv" | sed 's/ $//')"

    # the same before the move to failed/
    printf 'id,v,who\n3,1,"unterminated\n' | drop "$W/in" bad.csv
    printf 'id,v,who\n4,1,fixed\n' >"$W/fixed.src"; old "$W/fixed.src"
    swapped SL_SWAP_NAME=bad.csv SL_SWAP_MOVE_AT=1 SL_SWAP_MOVE_HOOK=$hook SL_SWAP_MOVE_INTO=failed SL_SWAP_MOVE_FROM="$W/fixed.src" -- run "$W/s.yaml"
    check "$dest: a bad drop replaced before its move to failed/ fails the run ($hook)" 1 "$RC"
    check_contains "$dest: the shim replaced it before failed/ ($hook)" "drop_swap: replaced before its move" "$ERR"
    check_contains "$dest: the log says the failed file was replaced and the new one left ($hook)" \
      "in/bad.csv: failed, but a new file was put at its name before it moved to failed/; the new file is left for the next run" "$ERR"
    check "$dest: nothing of it in failed/ ($hook)" "" "$(ls "$W/in/failed" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
    check "$dest: the fixed file stays in the drop folder ($hook)" "id,v,who 4,1,fixed" "$(tr '\n' ' ' <"$W/in/bad.csv" | sed 's/ $//')"
    sluice run "$W/s.yaml"
    check "$dest: the next run loads the fixed file ($hook)" "0 4:fixed" "$RC $(q "select id || ':' || who from $T where id = 4")"
  done

  # the same before the move to quarantine/: nothing is held, the new file stays
  W="$T_DIR/$dest/replaced_hold"; T=${dest}_replaced_hold; cfg "$W" $T 0s
  sed -i 's/version_key: v }/version_key: v, gates: { unique_key: quarantine } }/' "$W/s.yaml"
  printf 'id,v,who\n1,1,twice\n1,2,twice\n' | drop "$W/in" a.csv
  printf 'id,v,who\n5,1,new\n' >"$W/new.src"; old "$W/new.src"
  swapped SL_SWAP_NAME=a.csv SL_SWAP_MOVE_AT=1 SL_SWAP_MOVE_INTO=quarantine SL_SWAP_MOVE_FROM="$W/new.src" -- run "$W/s.yaml"
  check_contains "$dest: the shim replaced it before quarantine/" "drop_swap: replaced before its move" "$ERR"
  check_contains "$dest: the log says nothing is held and the new file is left" \
    "could not hold the quarantined batch: in/a.csv: a new file was put at its name before it could be held in quarantine/; nothing is held, the new file is left for the next run" "$ERR"
  check "$dest: nothing in quarantine/" "" "$(ls "$W/in/quarantine" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
  check "$dest: the new file stays in the drop folder (quarantine)" "id,v,who 5,1,new" "$(tr '\n' ' ' <"$W/in/a.csv" | sed 's/ $//')"
  sluice run "$W/s.yaml"
  check "$dest: the next run loads the new file (quarantine)" "0 5:new" "$RC $(q "select id || ':' || who from $T order by id" | tr '\n' ' ' | sed 's/ $//')"

  # a relative link (follow_symlinks) resolves elsewhere once in done/: it is
  # still the entry that was loaded, and it moves once
  W="$T_DIR/$dest/rel_link"; T=${dest}_rel_link; cfg "$W" $T 0s
  sed -i 's/settle: 0s/settle: 0s, follow_symlinks: true/' "$W/s.yaml"
  mkdir -p "$W/in/done"; printf 'id,v,who\n8,1,earlier\n' >"$W/in/done/t.csv"
  printf 'id,v,who\n6,1,linked\n' | drop "$W/in" t.csv
  ln -s t.csv "$W/in/l.csv"
  sluice run "$W/s.yaml"
  check "$dest: a relative link and its target load once (exit 0)" "0 6:linked" "$RC $(q "select id || ':' || who from $T order by id")"
  check "$dest: the link moved to done/, not taken for a new file" "yes no" \
    "$([ -L "$W/in/done/l.csv" ] && echo yes || echo no) $([[ "$ERR" == *"a new file was put"* ]] && echo yes || echo no)"
  check "$dest: nothing is left in the drop folder" "" "$(find "$W/in" -maxdepth 1 -name '*.csv' | tr '\n' ' ')"

  # ---- swapped_to_link_or_fifo ----
  O="$T_DIR/$dest-outside"; mkdir -p "$O"
  printf 'id,v,who\n9,1,TOPSECRET\n' >"$O/secret.csv"
  for kind in link fifo; do
    W="$T_DIR/$dest/swap_$kind"; T=${dest}_swap_$kind; cfg "$W" $T 0s
    printf 'id,v,who\n1,1,a\n' | drop "$W/in" a.csv
    printf 'id,v,who\n2,1,b\n' | drop "$W/in" b.csv
    printf 'id,v,who\n3,1,c\n' | drop "$W/in" c.csv
    if [ $kind = link ]; then do="link:$O/secret.csv"; said="it is a symbolic link"; else do=fifo; said="it is a FIFO"; fi
    swapped SL_SWAP_NAME=b.csv SL_SWAP_OPEN_FROM=1 SL_SWAP_OPEN_DO="$do" -- run "$W/s.yaml"
    check "$dest: a drop that became a $kind after the listing does not fail the run" 0 "$RC"
    check_contains "$dest: the shim made it a $kind" "drop_swap: replaced by a" "$ERR"
    check_contains "$dest: the run says why it skipped it ($kind)" "could not open drop file \"in/b.csv\": $said" "$ERR"
    check_contains "$dest: and that it was skipped ($kind)" "; skipped" "$ERR"
    check "$dest: the run's other drops load ($kind)" "1:a 3:c" "$(q "select id || ':' || who from $T order by id" | tr '\n' ' ' | sed 's/ $//')"
    check "$dest: the $kind is left where it is" yes "$([ -L "$W/in/b.csv" ] || [ -p "$W/in/b.csv" ] && echo yes || echo no)"
  done
done

finish
