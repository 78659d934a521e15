#!/usr/bin/env bash
# A warehouse disk that answers writes with EIO (a bad sector, a lost
# network block device) is the disk's failure, not the drop's: the batch is
# retried with backoff, the run exits 1 naming the cause, the drop stays in
# its folder (never failed/), the table keeps what it had; a disk that comes
# back while the run retries lets that run load it, and every row lands
# exactly once. SQLite, with io_error.so (LD_PRELOAD) failing the database's
# writes while a flag file exists. PostgreSQL's I/O errors (SQLSTATE class
# 58) are classified transient alike (unit_test_pgerr).
. "$(dirname "$0")/lib.sh"
SHIM="$(dirname "$SLUICE_BIN")/io_error.so"
W="$T_DIR/w"; mkdir -p "$W/in"
FLAG="$T_DIR/disk-failing"
cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "sqlite://wh.db" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: t, kind: append, primary_key: [id] }
YAML
rows() { echo "id,v"; seq "$1" "$2" | sed 's/$/,x/'; }
count() { lite "$W/wh.db" "select count(*), count(distinct id) from t"; }
# shimmed ENV... -- ARGS: sluice with the failing disk shim (in the background
# with BG=1: sets SPID)
shimmed() {
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if [ "${BG:-0}" = 1 ]; then
    env LD_PRELOAD="$SHIM" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
      SL_EIO_FLAG="$FLAG" SL_EIO_MATCH="${MATCH:-/wh.db}" "${envs[@]}" \
      "$SLUICE_BIN" "$@" >"$T_DIR/.out" 2>"$T_DIR/.err" &
    SPID=$!
    return
  fi
  set +e
  env LD_PRELOAD="$SHIM" ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
    SL_EIO_FLAG="$FLAG" SL_EIO_MATCH="${MATCH:-/wh.db}" "${envs[@]}" \
    "$SLUICE_BIN" "$@" >"$T_DIR/.out" 2>"$T_DIR/.err"
  RC=$?
  set -e
  OUT=$(cat "$T_DIR/.out"); ERR=$(cat "$T_DIR/.err")
}

rows 1 10 | drop "$W/in" a.csv
sluice run "$W/s.yaml"
check "a first drop loads" 0 "$RC"
before=$(count)

# ---- the disk fails before the run, for longer than its retries ----
rows 11 2000 | drop "$W/in" b.csv
touch "$FLAG"
shimmed SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=20 -- run "$W/s.yaml"
check "the shim is loaded" "" "$(grep 'cannot be preloaded' <<<"$ERR" || true)"
check "a failing disk from the start: exit 1" 1 "$RC"
check_contains "the error names the I/O error" "disk I/O error" "$ERR"
check_contains "the connection was retried" "disk I/O error; retrying" "$ERR"
check_contains "the summary says the table was not run, and why" \
  "1 table not run: destination \"wh\" not reached after 3 attempts" "$OUT"
check "the drop stays in the drop folder" yes "$([ -f "$W/in/b.csv" ] && echo yes || echo no)"
check "nothing went to failed/" "" "$(ls "$W/in/failed" 2>/dev/null || true)"
check "the table is unchanged" "$before" "$(count)"

# ---- the write-ahead log's writes fail mid-batch, past the retries ----
MATCH=/wh.db-wal shimmed SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=20 -- run "$W/s.yaml"
check "I/O errors under a batch: exit 1" 1 "$RC"
check_contains "the error names the I/O error" "disk I/O error" "$ERR"
check_contains "the batch was retried" "transient failure, retrying (attempt 2 of 3)" "$ERR"
check_contains "the drop is left for the next run" "still failing after 3 attempts, left for the next run" "$ERR"
check_contains "the summary counts it deferred" "1 deferred" "$OUT"
check "the drop stays in the drop folder" yes "$([ -f "$W/in/b.csv" ] && echo yes || echo no)"
check "nothing went to failed/" "" "$(ls "$W/in/failed" 2>/dev/null || true)"
check "the table is unchanged" "$before" "$(count)"

# ---- the disk comes back while the run retries: that run loads it ----
MATCH=/wh.db-wal BG=1 shimmed SLUICE_RETRIES=30 SLUICE_RETRY_BASE_MS=100 -- run "$W/s.yaml"
for _ in $(seq 200); do grep -q "transient failure, retrying" "$T_DIR/.err" && break; sleep 0.05; done
retried=$(grep -c "transient failure, retrying" "$T_DIR/.err" || true)
rm -f "$FLAG"
set +e; wait "$SPID"; RC=$?; set -e
ERR=$(cat "$T_DIR/.err")
check "the disk failed under the second run too (it retried)" t "$([ "$retried" -ge 1 ] && echo t || echo "f ($retried)")"
check "once the disk is back the same run loads the drop (rc)" 0 "$RC"
[ "$RC" = 0 ] || echo "$ERR" | tail -5 | sed 's/^/#   /'
check "every row exactly once" "2000|2000" "$(count)"
check "the drop went to done/" yes "$([ -f "$W/in/done/b.csv" ] && echo yes || echo no)"
check "one committed batch per drop in the ledger" "2" \
  "$(lite "$W/wh.db" "select count(*) from _sluice_batches where state = 'committed'")"
check "the database is sound" "ok" "$(lite "$W/wh.db" "pragma integrity_check")"
finish
