#!/usr/bin/env bash
# `sluice check`: a valid config prints the plan; every error exits 2 and
# names file:line:column.
. "$(dirname "$0")/lib.sh"
cd "$T_DIR"
cat > good.yaml <<'YAML'
connections:
  wh: { url: "sqlite://wh.db" }
pipelines:
  - name: orders
    source: { kind: files, path: drops, format: csv }
    destination: wh
    tables:
      - { name: orders, kind: versioned, primary_key: [id], version_key: v, columns: { id: bigint } }
YAML
sluice check good.yaml
check "valid config exits 0" 0 "$RC"
check_contains "plan names the table and kind" "table orders: versioned, primary key (id), version key v" "$OUT"
sluice check good.yaml --json
check "plan as JSON" "orders versioned" "$(python3 -c 'import json,sys; p=json.load(sys.stdin)["pipelines"][0]; print(p["name"], p["tables"][0]["kind"])' <<<"$OUT")"

# only what sends alerts needs their secrets
{ echo 'alerts:'; echo '  - { url: "https://events.pagerduty.com/v2/enqueue", format: pagerduty, routing_key: "${SL_PD_KEY_UNSET}" }'; cat good.yaml; } > alerting.yaml
unset SL_PD_KEY_UNSET
for cmd in status batches snapshots; do
  sluice "$cmd" alerting.yaml
  check "read-only $cmd runs without the alert's secret (exit 0)" 0 "$RC"
done
for cmd in run check; do
  sluice "$cmd" alerting.yaml
  check "$cmd (it sends alerts, or checks for the commands that do) needs the secret (exit 2)" 2 "$RC"
  check_contains "$cmd names the unset variable where it is" \
    "alerting.yaml:2:88: environment variable SL_PD_KEY_UNSET is not set (alert #1: the commands that send alerts need it)" "$ERR"
done

sed 's/format: csv/format: csv, patern: "*.csv"/' good.yaml > unknown.yaml
sluice check unknown.yaml
check "unknown key exits 2" 2 "$RC"
check_contains "unknown key named with position" "unknown.yaml:5:" "$ERR"
check_contains "unknown key suggestion" 'did you mean "pattern"' "$ERR"

sed 's/kind: versioned/kind: versoned/' good.yaml > kind.yaml
sluice check kind.yaml
check "bad enum exits 2" 2 "$RC"
check_contains "bad enum named with position" "kind.yaml:8:" "$ERR"

sed 's/destination: wh/destination: warehouse/' good.yaml > dest.yaml
sluice check dest.yaml
check "unknown connection exits 2" 2 "$RC"
check_contains "unknown connection named with position" "dest.yaml:6:" "$ERR"

printf 'pipelines:\n  - name: x\n    source: { kind: files, path: [unclosed\n' > syntax.yaml
sluice check syntax.yaml
check "YAML syntax error exits 2" 2 "$RC"
check_contains "YAML syntax error names the file" "syntax.yaml:" "$ERR"

sed 's#sqlite://wh.db#${NO_SUCH_VAR_FOR_SLUICE}#' good.yaml > env.yaml
sluice check env.yaml
check "unset variable exits 2" 2 "$RC"
check_contains "unset variable named" "NO_SUCH_VAR_FOR_SLUICE" "$ERR"
SL_TEST_URL="sqlite://from-env.db" "$SLUICE_BIN" check <(sed 's#sqlite://wh.db#${SL_TEST_URL}#' good.yaml) >/dev/null 2>&1 && rc=0 || rc=$?
sed 's#sqlite://wh.db#${SL_TEST_URL}#' good.yaml > env2.yaml
SL_TEST_URL="sqlite://from-env.db" "$SLUICE_BIN" check env2.yaml > env2.out 2>&1 && rc=0 || rc=$?
check "variable from the environment" 0 "$rc"
check_contains "variable expanded" "sqlite://from-env.db" "$(cat env2.out)"

sed 's/version_key: v, //' good.yaml > nover.yaml
sluice check nover.yaml
check "versioned without version_key exits 2" 2 "$RC"
check_contains "versioned without version_key says so" "version_key" "$ERR"

sluice check missing.yaml
check "missing file exits 2" 2 "$RC"
sluice bogus good.yaml
check "unknown command exits 2" 2 "$RC"
sluice run good.yaml no_such_pipeline
check "unknown pipeline exits 2" 2 "$RC"
finish
