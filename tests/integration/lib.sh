# tests/integration/lib.sh: shared by the integration tests (sourced).
# Each test gets a scratch folder and, where it needs one, a PostgreSQL
# database of its own in the harness cluster; both are removed at exit.
set -euo pipefail

: "${SLUICE_BIN:?run through ctest (SLUICE_BIN is not set)}"
: "${SL_PGENV:?run through ctest (SL_PGENV is not set)}"
# shellcheck disable=SC1090
. "$SL_PGENV"

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/sluice-$T_NAME.XXXXXX")
T_DB=""
T_FAILS=0
T_PASSES=0
export SLUICE_RETRY_BASE_MS=${SLUICE_RETRY_BASE_MS:-50}

cleanup() {
  local rc=$?
  if [ -n "$T_DB" ]; then
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$T_DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ "$rc" -eq 0 ] && [ "$T_FAILS" -eq 0 ]; then
    rm -rf "$T_DIR"
  else
    echo "# scratch left in $T_DIR"
  fi
}
trap cleanup EXIT

# new_db: a fresh database; sets T_DB and T_PG_URL
new_db() {
  T_DB="t_${T_NAME}_$$"
  psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$T_DB\" WITH (FORCE)" >/dev/null
  psql -qX -d postgres -c "CREATE DATABASE \"$T_DB\"" >/dev/null
  T_PG_URL="$SL_PG_URL/$T_DB"
}

# pg "SQL": run in the test database, unaligned, no header
pg() { psql -qXAt -v ON_ERROR_STOP=1 -d "$T_DB" -c "$1"; }
# lite DB "SQL"
lite() { sqlite3 -batch -noheader "$1" "$2"; }

ok() { T_PASSES=$((T_PASSES + 1)); echo "ok - $*"; }
not_ok() { T_FAILS=$((T_FAILS + 1)); echo "not ok - $*"; }

# check NAME EXPECTED ACTUAL
check() {
  if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   expected: $2"; echo "#   actual:   $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK
check_contains() {
  if [[ "$3" == *"$2"* ]]; then ok "$1"; else not_ok "$1"; echo "#   wanted:  $2"; echo "#   in:      $3"; fi
}

# sluice ARGS...: run the binary; sets RC, OUT, ERR (never exits the test)
sluice() {
  set +e
  "$SLUICE_BIN" "$@" >"$T_DIR/.out" 2>"$T_DIR/.err"
  RC=$?
  set -e
  OUT=$(cat "$T_DIR/.out")
  ERR=$(cat "$T_DIR/.err")
}

# drop DIR NAME: write stdin to DIR/NAME atomically, with an mtime in the past
# so the files source takes it at once
drop() {
  mkdir -p "$1"
  cat >"$1/.$2.tmp"
  touch -d '-10 seconds' "$1/.$2.tmp"
  mv "$1/.$2.tmp" "$1/$2"
}

# free_port: a loopback port nothing listens on (free_port.py says why)
free_port() { python3 "$SL_SRCDIR/tests/integration/free_port.py"; }

finish() {
  echo "$T_PASSES passed, $T_FAILS failed"
  [ "$T_FAILS" -eq 0 ]
}
