#!/usr/bin/env bash
# `sluice run` shows progress per table on a terminal (rows, MB, rate, and
# percent and ETA, the drop's size being known) redrawn in place, and never
# when stderr is not a terminal. The terminal is util-linux's `script`.
. "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { not_ok "script (util-linux) is installed"; finish; exit 1; }

for mode in tty pipe; do
  W="$T_DIR/$mode"; mkdir -p "$W/in"
  cat >"$W/p.yaml" <<'YAML'
connections: { wh: { url: "sqlite://wh.db" } }
pipelines:
  - name: big
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: wh
    tables: [ { name: big, kind: append, columns: { id: bigint, name: text, amount: numeric } } ]
YAML
  # enough rows for a few redraws (one every 100 ms at most)
  seq 1 600000 | awk 'BEGIN{print "id,name,amount"}{printf "%d,name %d,%d.25\n",$1,$1,$1%977}' \
    | gzip -1 | drop "$W/in" big.csv.gz
done

script -qfec "$SLUICE_BIN run $T_DIR/tty/p.yaml" "$T_DIR/typescript" >/dev/null
tty_out=$(tr '\r' '\n' <"$T_DIR/typescript")
check "tty: the run loads every row" 600000 "$(lite "$T_DIR/tty/wh.db" "select count(*) from big")"
check_contains "tty: progress names the table and the drop" "big/big loading in/big.csv.gz:" "$tty_out"
check_contains "tty: progress shows the rate" "rows/s" "$tty_out"
if echo "$tty_out" | grep -Eq ' of [0-9.]+ MB \([0-9]+%\), .*, ETA [0-9]+s'; then
  ok "tty: progress shows percent of the drop's size and an ETA"
else not_ok "tty: progress shows percent of the drop's size and an ETA"; echo "$tty_out" | head -3; fi
check_contains "tty: redrawn in place (carriage return, erase line)" $'\r\e[K' "$(cat "$T_DIR/typescript")"
sluice run "$T_DIR/pipe/p.yaml"
check "pipe: the run loads every row" 600000 "$(lite "$T_DIR/pipe/wh.db" "select count(*) from big")"
if [[ "$ERR" == *"rows/s"* || "$ERR" == *$'\r'* ]]; then not_ok "pipe: no progress when stderr is not a terminal"; echo "$ERR" | head -3
else ok "pipe: no progress when stderr is not a terminal"; fi
finish
