#!/usr/bin/env bash
# The README's command table, `sluice --help` and each command's own usage
# line say the same thing:
#   readme_table_is_help      every synopsis in the README's table is a line of
#       `sluice --help`, and every command --help lists is in the table
#   each_usage_is_its_synopsis  a command run without its arguments answers
#       (exit 2) with `usage: sluice <synopsis>`, the table's words
. "$(dirname "$0")/lib.sh"
README="$SL_SRCDIR/README.md"

readme_synopses() {
  # rows of the table under "## Commands": | `sluice ...` | ... |
  awk '/^## Commands/{on=1; next} /^## /{on=0} on && /^\| `sluice /' "$README" |
    sed -E 's/^\| `sluice ([^`]*)` \|.*/\1/' | sort
}
help_synopses() {
  "$SLUICE_BIN" --help | sed -nE 's/^  sluice (.*)$/\1/p' | sort
}
check "the README's command table and sluice --help list the same commands, word for word" \
  "$(readme_synopses)" "$(help_synopses)"
check "the table lists every command (16 synopses: cdc has two)" "16" "$(readme_synopses | wc -l)"

while read -r syn; do
  cmd=${syn%% *}
  sluice "$cmd"
  check "sluice $cmd without arguments: exit 2" 2 "$RC"
  check_contains "sluice $cmd: its usage line is the README's synopsis" "usage: sluice $syn" "$ERR"
done < <(readme_synopses)

sluice --help
check "--help exits 0" 0 "$RC"
check_contains "--help names --quiet" "[--quiet]" "$OUT"
finish
