# tests/integration/fault_lib.sh: what the fault tests share (sourced after
# lib.sh): the cutting proxy (faultproxy.py), a PostgreSQL cluster of the
# test's own (to restart or stop without disturbing the other tests), and
# comparing tables by md5 of their sorted rows.
FAULT_PROXY="$SL_SRCDIR/tests/integration/faultproxy.py"
FAULT_PIDS=()
PRIV_PG=""

fault_cleanup() {
  local p
  for p in "${FAULT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PRIV_PG" ]; then
    bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" stop "$PRIV_PG" >/dev/null 2>&1 || true
  fi
  cleanup
}
trap fault_cleanup EXIT

# proxy_start NAME TARGET_PORT: a proxy to 127.0.0.1:TARGET_PORT; sets
# NAME_PORT (connect there) and NAME_CTL (its control port)
proxy_start() {
  local state="$T_DIR/$1.proxy" i
  python3 "$FAULT_PROXY" serve --target "127.0.0.1:$2" --state "$state" 2>>"$T_DIR/$1.proxy.log" &
  FAULT_PIDS+=($!)
  for i in $(seq 100); do [ -f "$state" ] && break; sleep 0.1; done
  [ -f "$state" ] || { echo "# proxy $1 did not start: $(cat "$T_DIR/$1.proxy.log")"; exit 1; }
  local port ctl
  read -r port ctl <"$state"
  printf -v "${1}_PORT" %s "$port"
  printf -v "${1}_CTL" %s "$ctl"
}

# proxy CTL_PORT COMMAND...: one command; prints the JSON answer (bash's
# /dev/tcp: a python3 start costs more than a trial's run on a busy machine)
proxy() {
  local ans
  exec {PROXY_FD}<>"/dev/tcp/127.0.0.1/$1"
  echo "${*:2}" >&"$PROXY_FD"
  read -r ans <&"$PROXY_FD"
  exec {PROXY_FD}<&-
  echo "$ans"
  [[ "$ans" != *'"error"'* ]]
}
# proxy_stat CTL_PORT KEY: one figure of `stats` (cuts, c2s, s2c, fired, or
# a statement's first word: COPY, COMMIT ...; 0 when absent)
proxy_stat() {
  local ans
  ans=$(proxy "$1" stats)
  if [[ "$ans" =~ \"$2\":\ ([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; else echo 0; fi
}

# priv_pg_start: a cluster of this test's own; sets PRIV_PG (state dir),
# P2PORT, P2DIR; p2 DB "SQL" runs SQL there
priv_pg_start() {
  PRIV_PG="$T_DIR/pg2"
  bash "$SL_SRCDIR/tests/integration/pg_cluster.sh" start "$PRIV_PG" >/dev/null
  P2PORT=$(. "$PRIV_PG/env.sh"; echo "$PGPORT")
  P2DIR=$(. "$PRIV_PG/env.sh"; echo "$SL_PGDIR")
}
p2() { psql -qXAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$P2PORT" -U postgres -d "$1" -c "$2"; }
# pg_ctl2 ARGS...: pg_ctl on the private cluster, as its owner
pg_ctl2() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$SL_PG_OWNER" -- "$SL_PGBIN/pg_ctl" -D "$P2DIR/data" "$@"
  else
    "$SL_PGBIN/pg_ctl" -D "$P2DIR/data" "$@"
  fi
}

# digest: "COUNT MD5" of the rows on stdin, sorted (bytewise)
digest() { LC_ALL=C sort | tee "$T_DIR/.digest" | md5sum | { read -r m _; echo "$(wc -l <"$T_DIR/.digest") $m"; }; }
