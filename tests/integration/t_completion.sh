#!/usr/bin/env bash
# bash completion (contrib/bash-completion/sluice), in a real bash that
# sources it as bash-completion would, the binary on PATH as `sluice`:
#   `complete -p sluice` names its function; `sluice r<TAB>` gives run
#   reconcile reject replay restore rollback; `sluice <TAB>` every command of
#   `sluice --help`; `sluice run CONFIG <TAB>` that config's pipelines;
#   `sluice snapshot CONFIG <TAB>` and `--table <TAB>` its tables (a name
#   with a space as one word); options of the command; `cdc <TAB>` its
#   subcommands; a config that does not load completes nothing.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T_DIR/bin" "$T_DIR/w"
ln -s "$SLUICE_BIN" "$T_DIR/bin/sluice"
cat >"$T_DIR/w/c.yaml" <<'YAML'
connections:
  wh: { url: "sqlite://wh.db" }
pipelines:
  - name: orders_drops
    source: { kind: files, path: in/a, format: csv }
    destination: wh
    tables:
      - { name: orders, kind: append, pattern: "o*" }
      - { name: "my table", kind: versioned, primary_key: [id], version_key: v, pattern: "m*" }
  - name: events
    source: { kind: files, path: in/b, format: csv }
    destination: wh
    tables:
      - { name: ev, kind: append }
YAML
echo "pipelines: [" >"$T_DIR/w/bad.yaml"
cd "$T_DIR/w"

# complete WORD...: what <TAB> offers after these words (the last is the one
# being completed), one a line, sorted
complete_words() {
  PATH="$T_DIR/bin:$PATH" bash --norc --noprofile -c '
    . "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    fn=$(complete -p sluice | sed -n "s/.*-F \([^ ]*\) sluice$/\1/p")
    "$fn" sluice "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$SL_SRCDIR/contrib/bash-completion/sluice" "$@" | sort | sed '/^$/d'
}
words() { complete_words "$@" | xargs; }

check "complete -p sluice" "complete -F _sluice sluice" \
  "$(bash --norc -c ". '$SL_SRCDIR/contrib/bash-completion/sluice'; complete -p sluice")"
check "sluice r<TAB>" "reconcile reject replay restore rollback run" "$(words sluice r)"
check "sluice <TAB>: every command of sluice --help" \
  "$("$SLUICE_BIN" --help | sed -nE 's/^  sluice ([a-z]+).*/\1/p' | sort -u | xargs)" "$(words sluice "")"
check "sluice --log-format j<TAB>" "json" "$(words sluice --log-format j)"
check "sluice --log-format json r<TAB> (after a global option)" \
  "reconcile reject replay restore rollback run" "$(words sluice --log-format json r)"
check "sluice --v<TAB>" "--verbose --version" "$(words sluice --v)"
check "sluice run c.yaml <TAB>: the config's pipelines" "events orders_drops" "$(words sluice run c.yaml "")"
check "sluice run c.yaml events <TAB>: pipelines again (PIPELINE...)" "events orders_drops" \
  "$(words sluice run c.yaml events "")"
check "sluice run c.y<TAB>: the config file" "c.yaml" "$(words sluice run c.y)"
check "sluice snapshot c.yaml <TAB>: the config's tables" "ev my\\ table orders" \
  "$(complete_words sluice snapshot c.yaml "" | xargs -d '\n')"
check "sluice restore c.yaml or<TAB>" "orders" "$(words sluice restore c.yaml or)"
check "sluice restore c.yaml orders <TAB>: a snapshot id, nothing offered" "" \
  "$(words sluice restore c.yaml orders "")"
check "sluice batches c.yaml --table <TAB>: tables" "ev my\\ table orders" \
  "$(complete_words sluice batches c.yaml --table "" | xargs -d '\n')"
check "sluice batches c.yaml --state q<TAB>" "quarantined" "$(words sluice batches c.yaml --state q)"
check "sluice batches c.yaml --<TAB>: its options" "--json --limit --state --table" \
  "$(words sluice batches c.yaml --)"
check "sluice replay c.yaml --pipeline e<TAB>" "events" "$(words sluice replay c.yaml --pipeline e)"
check "sluice cdc <TAB>: its subcommands" "drop status" "$(words sluice cdc "")"
check "sluice cdc drop c.yaml <TAB>: pipelines" "events orders_drops" "$(words sluice cdc drop c.yaml "")"
check "sluice approve c.yaml <TAB>: a batch id, nothing offered" "" "$(words sluice approve c.yaml "")"
check "sluice run bad.yaml <TAB>: a config that does not load offers nothing" "" \
  "$(words sluice run bad.yaml "")"
finish
