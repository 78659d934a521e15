#!/usr/bin/env bash
# The man pages, as built (build/man/) and rendered by man(1):
#   1. sluice(1) lists every command of the README's command table, word for
#      word, and no other;
#   2. every key `sluice check --verbose --json` documents, of a config with
#      every block (each source kind, each gate: tests/data/man/every_block.yaml),
#      is in sluice.yaml(5), in the section of its block; and every block
#      the page has is in that config, so a new source or gate needs both;
#   3. both pages render without a warning from man/groff.
. "$(dirname "$0")/lib.sh"
MAN="$(dirname "$SLUICE_BIN")/man"
README="$SL_SRCDIR/README.md"

render() { LC_ALL=C.UTF-8 MANWIDTH=250 man --warnings -l "$1" 2>"$T_DIR/man.warn" | col -b; }

# ---- 1. commands ----
readme_synopses() {
  awk '/^## Commands/{on=1; next} /^## /{on=0} on && /^\| `sluice /' "$README" |
    sed -E 's/^\| `sluice ([^`]*)` \|.*/\1/' | sort
}
man_synopses() {
  render "$MAN/sluice.1" | awk '/^COMMANDS/{on=1; next} /^[A-Z]/{on=0} on' |
    sed -nE 's/^ {7}sluice (.*)$/\1/p' | sed 's/ *$//' | sort
}
check "sluice(1) lists the README's commands, word for word" "$(readme_synopses)" "$(man_synopses)"
check "... all of them (as many as the README's table has)" "$(readme_synopses | wc -l)" "$(man_synopses | wc -l)"
check "sluice(1) renders without a warning" "" "$(cat "$T_DIR/man.warn")"
page=$(render "$MAN/sluice.1")
for w in SIGHUP SIGTERM NOTIFY_SOCKET WATCHDOG_USEC --version /etc/sluice/sluice.yaml /var/lib/sluice; do
  check_contains "sluice(1) speaks of $w" "$w" "$page"
done

# ---- 2. keys ----
sluice check --offline --verbose --json "$SL_TESTDATA/man/every_block.yaml"
check "check --verbose --json of every_block.yaml: exit 0" 0 "$RC"
echo "$OUT" >"$T_DIR/plan.json"
render "$MAN/sluice.yaml.5" >"$T_DIR/yaml5.txt"
check "sluice.yaml(5) renders without a warning" "" "$(cat "$T_DIR/man.warn")"
python3 - "$T_DIR/plan.json" "$MAN/sluice.yaml.5" >"$T_DIR/keys.out" <<'PY' || true
import json, re, sys
plan = json.load(open(sys.argv[1]))
# the page's sections (.SS "title") and the keys (.TP / .B key) in each
sections, cur = {}, None
lines = open(sys.argv[2]).read().split("\n")
for i, l in enumerate(lines):
    m = re.match(r'\.SS "(.*)"$', l)
    if m:
        cur = m.group(1).replace("\\-", "-")
        sections[cur] = set()
    elif l == ".TP" and cur and i + 1 < len(lines) and lines[i + 1].startswith(".B "):
        sections[cur].add(lines[i + 1][3:].replace("\\-", "-"))
want = []   # (section, key)
def docs(title, block):
    for d in block.get("key_docs", []):
        want.append((title, d["key"]))
docs("http", plan["http"])
for a in plan["alerts"]: docs("alerts (each item)", a)
for c in plan["connections"]: docs("connections (each connection)", c)
for p in plan["pipelines"]:
    docs("pipelines (each pipeline)", p)
    docs("snapshots (in a pipeline)", p["snapshots"])
    docs("reconcile (in a pipeline)", p["reconcile"])
    kind = p["source"]["kind"]
    docs("source (kind: %s)" % kind, p["source"])
    for k, v in p["source"].items():
        if isinstance(v, dict) and "key_docs" in v:
            docs("source (kind: %s): %s" % (kind, k), v)
    for t in p["tables"]:
        docs("tables (each table of a pipeline)", t)
        for g, v in t["gate_settings"].items():
            if isinstance(v, list):
                for it in v: docs("gates: %s (each item)" % g, it)
            else:
                docs("gates: %s" % g, v)
seen = set()
for sec, key in want:
    if (sec, key) in seen: continue
    seen.add((sec, key))
    print("%s %s | %s" % ("ok" if key in sections.get(sec, ()) else "missing", sec, key))
covered = {sec for sec, _ in want}
for sec in sections:
    print("%s %s" % ("covered" if sec in covered else "uncovered", sec))
PY
missing=$(grep -c '^missing' "$T_DIR/keys.out" || true)
keys=$(grep -c '^ok\|^missing' "$T_DIR/keys.out" || true)
echo "# $keys keys that check --verbose documents, in $(grep -c '^covered\|^uncovered' "$T_DIR/keys.out" || true) sections"
check "every key check --verbose documents is in sluice.yaml(5), in its block's section" "" \
  "$(grep '^missing' "$T_DIR/keys.out" || true)"
check "the keys are many (more than 80)" yes "$([ "$keys" -gt 80 ] && echo yes || echo "no: $keys")"
check "every section of sluice.yaml(5) is covered by every_block.yaml" "" \
  "$(grep '^uncovered' "$T_DIR/keys.out" || true)"
check_contains "sluice.yaml(5) renders a key with its meaning and default" \
  "how many snapshots to keep per table." "$(cat "$T_DIR/yaml5.txt")"
finish
