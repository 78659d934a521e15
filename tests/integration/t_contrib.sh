#!/usr/bin/env bash
# contrib/: what operators plug into the monitoring they already run.
#   1. contrib/prometheus/rules.yml passes `promtool check rules`;
#   2. every metric name in its expressions, and in every PromQL query of
#      contrib/grafana/sluice.json, is one a running `sluice daemon` exports:
#      each is a family (# TYPE, or a histogram's _bucket/_sum/_count) of its
#      live /metrics, with samples, on a files pipeline into SQLite and a cdc
#      pipeline on the harness PostgreSQL (so the slot gauges are there too);
#   3. the dashboard is Grafana schema 39 with a Prometheus datasource
#      variable that every panel and query uses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cdc_lib.sh"
cdc_dbs
SLOT="sl_contrib_$$"; PUB="sl_contrib_$$"
CDC_SLOTS="'$SLOT'"
DPID=""
cdc_on_exit() { [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null; return 0; }
RULES="$SL_SRCDIR/contrib/prometheus/rules.yml"
DASH="$SL_SRCDIR/contrib/grafana/sluice.json"
W="$T_DIR/w"; mkdir -p "$W/in"

# 1. promtool
if promtool check rules "$RULES" >"$T_DIR/promtool.out" 2>&1; then
  ok "promtool check rules: $(grep -o '[0-9]* rules found' "$T_DIR/promtool.out")"
else
  not_ok "promtool check rules"; cat "$T_DIR/promtool.out"
fi

# 2. a live daemon: a files pipeline into SQLite, a cdc pipeline into PostgreSQL
src "CREATE TABLE items (id int PRIMARY KEY, name text)"
src "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g"
cat >"$W/c.yaml" <<YAML
connections:
  src: { url: "$SL_PG_URL/$SRC_DB" }
  wh: { url: "$SL_PG_URL/$DST_DB" }
  lite: { url: "sqlite:///$W/wh.db" }
pipelines:
  - name: drops
    source: { kind: files, path: in, format: csv, settle: 0s }
    destination: lite
    tables:
      - name: orders
        kind: append
        gates: { rules: [ { column: amount, reject_match: "^x" } ] }   # so the gate counter has a series
  - name: changes
    source: { kind: postgres, connection: src, cdc: { slot: $SLOT, publication: $PUB } }
    destination: wh
    tables:
      - { name: items, kind: cdc, primary_key: [id] }
YAML
printf 'id,amount\n1,1.50\n2,2.50\n' >"$T_DIR/o.csv"; touch -d '-10 seconds' "$T_DIR/o.csv"; mv "$T_DIR/o.csv" "$W/in/"

SLUICE_POLL_MS=200 "$SLUICE_BIN" daemon "$W/c.yaml" --listen 127.0.0.1:0 \
  >"$T_DIR/daemon.out" 2>"$T_DIR/daemon.log" &
DPID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$T_DIR/daemon.log" 2>/dev/null | grep -o '[0-9]*$' || true)
  [ -n "$PORT" ] && break; sleep 0.1
done
[ -n "$PORT" ] && ok "daemon listens (port $PORT)" || { not_ok "daemon listens"; cat "$T_DIR/daemon.log"; finish; exit 1; }
U="http://127.0.0.1:$PORT"

# wait until both pipelines loaded and the slot gauges have samples
for _ in $(seq 300); do
  curl -fsS "$U/metrics" >"$T_DIR/metrics.txt" 2>/dev/null || true
  grep -q '^sluice_rows_loaded_total{pipeline="drops",table="orders"} 2$' "$T_DIR/metrics.txt" &&
    grep -q '^sluice_rows_loaded_total{pipeline="changes",table="items"} 20$' "$T_DIR/metrics.txt" &&
    grep -q '^sluice_cdc_slot_active{' "$T_DIR/metrics.txt" && break
  sleep 0.2
done
check_contains "both pipelines loaded (files into SQLite)" 'sluice_rows_loaded_total{pipeline="drops",table="orders"} 2' "$(cat "$T_DIR/metrics.txt")"
check_contains "both pipelines loaded (cdc into PostgreSQL)" 'sluice_rows_loaded_total{pipeline="changes",table="items"} 20' "$(cat "$T_DIR/metrics.txt")"

# names: the metric names of a list of PromQL expressions (one a line):
# identifiers followed by { [ ( or space/end that are not functions, keywords,
# aggregation operators, label names of by/without, or template text
NAMES_PY=$(cat <<'PY'
import re, sys
words = set("""sum min max avg count stddev stdvar topk bottomk quantile count_values group
by without on ignoring group_left group_right bool and or unless offset
rate irate increase delta idelta deriv predict_linear histogram_quantile time
abs ceil floor round clamp clamp_min clamp_max changes resets label_replace label_join
vector scalar sort sort_desc absent absent_over_time sum_over_time avg_over_time
max_over_time min_over_time count_over_time last_over_time timestamp day_of_week hour
inf nan le""".split())
out = set()
for expr in sys.stdin.read().splitlines():
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # no string contents
    e = re.sub(r'\{[^}]*\}', '{}', e)                      # no label matchers
    e = re.sub(r'\b(by|without|on|ignoring)\s*\([^)]*\)', '', e)  # no grouping labels
    e = re.sub(r'\[[^\]]*\]', '[]', e)                     # no ranges
    for m in re.finditer(r'[A-Za-z_:][A-Za-z0-9_:]*', e):
        if m.group(0) not in words and not re.fullmatch(r'\d.*', m.group(0)):
            out.add(m.group(0))
print("\n".join(sorted(out)))
PY
)
names() { python3 -c "$NAMES_PY"; }
rule_exprs=$(python3 - "$RULES" <<'PY'
import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        print(r["expr"].replace("\n", " "))
PY
)
dash_exprs=$(python3 - "$DASH" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["panels"]:
    for t in p.get("targets", []):
        print(t["expr"].replace("\n", " "))
for v in d["templating"]["list"]:
    if v["type"] == "query":
        print(v["definition"].replace("label_values(", "").split(",")[0])
PY
)
check "rules.yml: one expression per rule" "$(grep -c '^ *- alert:' "$RULES")" "$(echo "$rule_exprs" | grep -c .)"
check "sluice.json: every panel has a query" 0 \
  "$(python3 -c 'import json,sys; print(sum(1 for p in json.load(open(sys.argv[1]))["panels"] if not p.get("targets")))' "$DASH")"

# the live families and the names that have samples
families=$(python3 - "$T_DIR/metrics.txt" <<'PY'
import sys
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 4 and f[0] == "#" and f[1] == "TYPE":
        print(f[2])
        if f[3] == "histogram":
            for s in ("_bucket", "_sum", "_count"):
                print(f[2] + s)
PY
)
sampled=$(grep -v '^#' "$T_DIR/metrics.txt" | sed 's/[{ ].*//' | sort -u)
for what in rules dashboard; do
  if [ $what = rules ]; then used=$(echo "$rule_exprs" | names); else used=$(echo "$dash_exprs" | names); fi
  n=$(echo "$used" | grep -c .)
  [ "$n" -ge 5 ] && ok "$what: $n metric names read from its expressions" || not_ok "$what: only $n names read: $used"
  missing=""; unsampled=""
  for name in $used; do
    grep -qx "$name" <<<"$families" || missing="$missing $name"
    grep -qx "$name" <<<"$sampled" || unsampled="$unsampled $name"
  done
  check "$what: every metric name is a family of the live /metrics" "" "$missing"
  check "$what: every metric name has samples in the live /metrics" "" "$unsampled"
done
# the check can fail: a name sluice does not export is found and not a family
bogus=$(echo 'sum by (table) (rate(sluice_no_such_total{state="x"}[5m])) > on (table) sluice_rows_loaded_total' | names | tr '\n' ' ')
check "the name reader finds names (and not labels or functions)" "sluice_no_such_total sluice_rows_loaded_total " "$bogus"
grep -qx sluice_no_such_total <<<"$families" && not_ok "a made-up name is not a family" || ok "a made-up name is not a family"
# the names the spec asks for are covered
for name in sluice_batches_total sluice_table_stale sluice_dead_letters_total \
            sluice_cdc_slot_lag_seconds sluice_cdc_slot_retained_bytes; do
  check_contains "rules.yml alerts on $name" "$name" "$rule_exprs"
done
check_contains "rules.yml: an alert on quarantined batches" 'state="quarantined"' "$rule_exprs"
check_contains "rules.yml: an alert on failing batches" 'failed' "$rule_exprs"

# 3. the dashboard's shape
shape=$(python3 - "$DASH" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
vs = {v["name"]: v for v in d["templating"]["list"]}
ds = vs.get("datasource", {})
uses = all(p["datasource"]["uid"] == "${datasource}" and
           all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"]) for p in d["panels"])
print(d["schemaVersion"], ds.get("type"), ds.get("query"), "uses" if uses else "not-all")
PY
)
check "sluice.json: schema 39, a Prometheus datasource variable every query uses" \
  "39 datasource prometheus uses" "$shape"

kill "$DPID"; wait "$DPID" 2>/dev/null; rc=$?; DPID=""
check "SIGTERM stops the daemon cleanly" 0 "$rc"
finish
