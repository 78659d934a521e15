#!/usr/bin/env bash
# A warehouse whose disk fills up in the middle of a batch: the failure is
# transient (the disk, not the drop): the batch is retried, the run exits 1
# naming the cause, the drop stays in its folder (not failed/), the table
# keeps what it had; once there is room again the next run loads every row
# exactly once. SQLite: the database file on a small tmpfs. PostgreSQL: the
# table moved to a tablespace on a small tmpfs (SQLSTATE 53100 disk_full).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "ok - skipped (not root: mounting a tmpfs needs root)"
  finish
  exit 0
fi

MOUNTS=()
TBLSPC=""
teardown() {
  if [ -n "$TBLSPC" ]; then
    # the tablespace is a cluster object: the database goes first
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$T_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
    psql -qX -d postgres -c "DROP TABLESPACE IF EXISTS $TBLSPC" >/dev/null 2>&1 || true
  fi
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}
trap 'teardown; cleanup' EXIT

# small_fs DIR SIZE: a tmpfs of SIZE at DIR
small_fs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1"
  MOUNTS+=("$1")
}

# fill DIR KEEP_KB: a filler file leaving about KEEP_KB free on DIR's fs
fill() {
  local avail
  avail=$(df -k --output=avail "$1" | tail -1 | tr -d ' ')
  if [ "$avail" -gt "$2" ]; then
    dd if=/dev/zero of="$1/filler" bs=1k count=$((avail - $2)) status=none 2>/dev/null || true
  fi
}

# rows FROM TO: CSV rows id,payload (about 200 bytes each)
rows() {
  local pad
  pad=$(printf 'x%.0s' $(seq 1 190))
  echo "id,payload"
  seq "$1" "$2" | sed "s/\$/,$pad/"
}

export SLUICE_RETRIES=3 SLUICE_RETRY_BASE_MS=20

for dest in lite pg; do
  W="$T_DIR/$dest"; mkdir -p "$W/in"
  if [ $dest = pg ]; then
    new_db
    url="$T_PG_URL"
  else
    small_fs "$W/wh" 16m
    url="sqlite://wh/wh.db"
  fi
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: p
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables:
      - { name: t, kind: append, primary_key: [id] }
YAML
  rows 1 10 | drop "$W/in" a.csv
  sluice run "$W/s.yaml"
  check "$dest: first small drop loads" 0 "$RC"
  if [ $dest = pg ]; then
    # the table alone moves to a tablespace on a small tmpfs owned by the
    # cluster's own user; sluice's ledger stays where it was
    TBLSPC="sl_full_$$"
    chmod 755 "$T_DIR" "$W"   # the cluster user reaches the tablespace through them
    small_fs "$W/ts" 16m
    chown "$(stat -c %U "$(pg 'show data_directory')")" "$W/ts"
    psql -qX -v ON_ERROR_STOP=1 -d postgres -c "CREATE TABLESPACE $TBLSPC LOCATION '$W/ts'" >/dev/null
    pg "ALTER TABLE t SET TABLESPACE $TBLSPC"
    fs="$W/ts"
    count() { pg "select count(*), count(distinct id) from t"; }
  else
    fs="$W/wh"
    count() { lite "$W/wh/wh.db" "select count(*), count(distinct id) from t"; }
  fi
  before=$(count)
  fill "$fs" 200
  # about 1 MB of rows: far more than the room left, far less than the disk
  rows 11 5000 | drop "$W/in" b.csv
  sluice run "$W/s.yaml"
  check "$dest: disk full exits 1" 1 "$RC"
  if [ $dest = pg ]; then
    check_contains "$dest: the error names the full disk" "No space left on device" "$ERR"
  else
    check_contains "$dest: the error names the full disk" "database or disk is full" "$ERR"
  fi
  check_contains "$dest: the batch was retried" "transient failure, retrying" "$ERR"
  check_contains "$dest: the drop is left for the next run" "left for the next run" "$ERR"
  check "$dest: the drop stays in the drop folder" yes "$([ -f "$W/in/b.csv" ] && echo yes || echo no)"
  check "$dest: nothing went to failed/" "" "$(ls "$W/in/failed" 2>/dev/null || true)"
  check "$dest: the table is unchanged" "$before" "$(count)"

  rm -f "$fs/filler"
  sluice run "$W/s.yaml"
  check "$dest: with room again the drop loads" 0 "$RC" || true
  [ "$RC" = 0 ] || echo "$ERR" | sed "s/^/#   /"
  check "$dest: every row exactly once" "5000|5000" "$(count)"
  check "$dest: the drop went to done/" yes "$([ -f "$W/in/done/b.csv" ] && echo yes || echo no)"
done
finish
