#!/usr/bin/env bash
# `sluice check` prints the whole plan: every configured value of every block
# (http, alerts, connections, pipelines with schedule, stale_after,
# snapshots, reconcile, each kind of source, table keys of every kind,
# paths, every gate with its settings, each rule), secrets as ***; with
# --verbose every key with its meaning and which hold their default; --json
# (and --json --verbose) carry the same.
#   plain_prints_every_configured_value
#   verbose_prints_meanings_and_defaults
#   json_carries_the_same
#   no_secret_in_any_form
. "$(dirname "$0")/lib.sh"
cd "$T_DIR"
export SL_ADMIN_TOK=admintok123 SL_PD_KEY=pdkey98765 SL_CRM_PW=crmpass555 SL_EV_TOKEN=evtoken777
cat > all.yaml <<'YAML'
http: { listen: "127.0.0.1:8799", token: "${SL_ADMIN_TOK}" }
alerts:
  - { url: "https://hooks.example.com/secret-hook-path", format: slack }
  - { url: "https://events.pagerduty.com/v2/enqueue", format: pagerduty, routing_key: "${SL_PD_KEY}" }
connections:
  wh: { url: "sqlite://wh.db" }
  crm: { url: "postgresql://replicator:hunter2pw@crm:5432/crm", password: "${SL_CRM_PW}" }
pipelines:
  - name: orders_drops
    source: { kind: files, path: drops/orders, format: csv, timezone: America/New_York, settle: 3s }
    destination: wh
    schedule: every 5m
    stale_after: 1h
    snapshots: { every: 1d, keep: 5 }
    tables:
      - name: orders
        kind: versioned
        primary_key: [id]
        version_key: updated_at
        pattern: "orders-*.csv"
        columns: { id: bigint, amount: numeric, updated_at: timestamptz }
        gates:
          size: { history: 10, max_ratio: 2.5, min_history: 4 }
          unique_key: keep_latest
          timestamps: { future_tolerance: 2h, epoch_unit: ms, overlap: earlier }
          rules:
            - { column: email, reject_match: "@test\\." }
            - { column: status, accepted_values: [placed, paid, shipped], on_fail: fail }
            - { column: amount, min: 0, max: 1000000 }
          schema: quarantine
      - { name: products, kind: snapshot, pattern: "products-*.tsv" }
  - name: crm_customers
    source: { kind: postgres, connection: crm, timezone: Europe/Paris, parallel: 2 }
    destination: wh
    tables:
      - name: customers
        source_table: public.customers
        kind: incremental
        mode: updater
        primary_key: [id]
        cursor: [updated_at, id]
        boundary: 15m
        batch_limit: 5000
    reconcile: { every: 1h }
  - name: app_events
    source: { kind: http, listen: "127.0.0.1:8088", token: "${SL_EV_TOKEN}", event_id: meta.id, max_body: 2MB,
              publish: { servers: [nats://n1:4222], subject: events.app, stream: EVENTS, replicas: 3 } }
    destination: wh
    tables:
      - name: events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, amount: numeric }
        paths: { amount: order.total }
  - name: loader
    source: { kind: jetstream, servers: [nats://u:natspass1@n1:4222], stream: EVENTS, subject: "events.>", durable: loaders, event_id: event_id, batch: 128 }
    destination: wh
    tables: [ { name: events2, kind: append, primary_key: [event_id] } ]
YAML

no_secret() {  # NAME TEXT
  local s
  for s in admintok123 pdkey98765 crmpass555 evtoken777 hunter2pw natspass1 secret-hook-path; do
    if [[ "$2" == *"$s"* ]]; then not_ok "$1: no secret ($s shows)"; return; fi
  done
  ok "$1: no secret shows"
}

# ---- plain_prints_every_configured_value ----
sluice check all.yaml
check "check: exit 0" 0 "$RC"
PLAIN=$OUT
while IFS= read -r want; do
  check_contains "check prints: $want" "$want" "$PLAIN"
done <<'WANT'
http: listen=127.0.0.1:8799 token=***
  alert #1: url=*** format=slack
  alert #2: url=*** format=pagerduty routing_key=***
  crm                  postgresql://replicator:***@crm:5432/crm password=***
  pipeline: destination=wh schedule="every 5m" stale_after=1h
  snapshots: every=1d keep=5
  source files: path=drops/orders format=csv pattern=* timezone=America/New_York settle=3s header=true done_dir=done failed_dir=failed
  table orders: versioned, primary key (id), version key updated_at, files orders-*.csv
    columns: id bigint, amount numeric, updated_at timestamptz; others inferred from the first drop
    gate size: rows and bytes within [median / 2.5, median x 2.5] of the last 10 committed batches; enforced once 4 batches are committed
      settings: history=10 max_ratio=2.5 min_history=4 on_fail=quarantine
    gate unique_key:
      settings: policy=keep_latest
      settings: future_tolerance=2h epoch_unit=ms overlap=earlier on_fail=quarantine
    gate rules: 3 rules: email reject_match; status accepted_values; amount range
      item 1: column=email on_fail=quarantine not_null=false reject_match=@test\.
      item 2: column=status on_fail=fail not_null=false accepted_values="[placed, paid, shipped]"
      item 3: column=amount on_fail=quarantine not_null=false min=0 max=1000000
    gate schema:
      settings: policy=quarantine
  table products: snapshot, files products-*.tsv
  reconcile: every=1h
  source postgres: connection=crm timezone=Europe/Paris parallel=2
  table customers: incremental, primary key (id)
    keys: source_table=public.customers mode=updater cursor="[updated_at, id]" boundary=15m batch_limit=5000
  source http: listen=127.0.0.1:8088 token=*** max_body=2MB max_batch=50000 event_id=meta.id event_column=_event
  source publish: servers=[nats://n1:4222] subject=events.app stream=EVENTS replicas=3
    columns: event_id text, amount numeric; others from the events, as text; each event kept whole in its event_column
    paths: amount <- order.total
  source jetstream: servers=[nats://u:***@n1:4222] stream=EVENTS subject=events.> durable=loaders batch=128 ack_wait=30s
WANT
check "check: a key left unset is not printed as a value (no stale_after=0s)" "" \
  "$(grep -o 'stale_after=0s' <<<"$PLAIN" || true)"
check "check: keys of another kind are not printed (no boundary on a versioned table)" "" \
  "$(sed -n '/table orders/,/table products/p' <<<"$PLAIN" | grep -o 'boundary' || true)"
no_secret "check" "$PLAIN $ERR"

# ---- verbose_prints_meanings_and_defaults ----
sluice check all.yaml --verbose
check "check --verbose: exit 0" 0 "$RC"
VERB=$OUT
while IFS= read -r want; do
  check_contains "check --verbose prints: $want" "$want" "$VERB"
done <<'WANT'
settle: 3s                               # a file is taken once unmodified for this long
header: true (default)                   # csv/tsv: the first row names the columns
keep: 5                                  # how many snapshots to keep per table
reconcile: (not in the config; its defaults)
routing_key: none (default)              # PagerDuty integration key (format pagerduty)
token: ***                               # bearer token the admin API asks for
boundary: 15m                            # incremental: re-read rows this recent
batch_limit: 5000                        # incremental: most rows per batch; default: no limit
min_history: 4                           # fewer committed batches than this: the gate reports but does not hold
on_fail: quarantine (default)            # quarantine | fail: what a batch out of range gets
reject_match: @test\.                    # POSIX extended regex no value may match
accepted_values: [placed, paid, shipped] # the only values allowed
policy: keep_latest                      # quarantine | fail | keep_latest
ack_wait: 30s (default)                  # a message not acked this long is redelivered
schedule: none (default)                 # "every 5m": how often `sluice daemon` runs it; default: on demand
WANT
check "check --verbose: one meaning per key of the files source (13 keys, and multiline's start)" 14 \
  "$(sed -n '/^  source files:/,/^  table /p' <<<"$VERB" | grep -c ' # ')"
no_secret "check --verbose" "$VERB $ERR"

# ---- json_carries_the_same ----
sluice check all.yaml --json
check "check --json: exit 0" 0 "$RC"
no_secret "check --json" "$OUT $ERR"
check "check --json: the configured values" "ok" "$(python3 -c '
import json, sys
d = json.load(sys.stdin)
p = {x["name"]: x for x in d["pipelines"]}
o = p["orders_drops"]; t = o["tables"][0]; g = t["gate_settings"]
want = [
  (d["http"], {"listen": "127.0.0.1:8799", "token": "***", "timeout": "30s",
               "max_connections": "1000", "max_connections_per_client": "100"}),
  (d["alerts"][1], {"url": "***", "format": "pagerduty", "routing_key": "***"}),
  (d["connections"][1]["password"], "***"),
  ((o["schedule"], o["stale_after"]), ("every 5m", "1h")),
  (o["snapshots"], {"every": "1d", "keep": "5"}),
  (o["source"]["settle"], "3s"),
  ((t["kind"], t["primary_key"], t["version_key"], t["pattern"]), ("versioned", ["id"], "updated_at", "orders-*.csv")),
  (g["size"], {"history": "10", "max_ratio": "2.5", "min_history": "4", "on_fail": "quarantine"}),
  (g["unique_key"], {"policy": "keep_latest"}),
  (g["rules"][1]["accepted_values"], ["placed", "paid", "shipped"]),
  (g["schema"], {"policy": "quarantine"}),
  (p["crm_customers"]["reconcile"], {"every": "1h"}),
  ({k: p["crm_customers"]["tables"][0][k] for k in ("source_table", "mode", "cursor", "boundary", "batch_limit")},
   {"source_table": "public.customers", "mode": "updater", "cursor": ["updated_at", "id"], "boundary": "15m", "batch_limit": "5000"}),
  (p["app_events"]["source"]["token"], "***"),
  (p["app_events"]["source"]["publish"]["replicas"], "3"),
  (p["app_events"]["tables"][0]["paths"], {"amount": "order.total"}),
  (p["loader"]["source"]["servers"], ["nats://u:***@n1:4222"]),
  ("stale_after" in p["loader"], False),
]
bad = [(a, b) for a, b in want if a != b]
print("ok" if not bad else bad)' <<<"$OUT")"

sluice check all.yaml --json --verbose
check "check --json --verbose: exit 0" 0 "$RC"
no_secret "check --json --verbose" "$OUT $ERR"
check "check --json --verbose: each key with its meaning and default" "ok" "$(python3 -c '
import json, sys
d = json.load(sys.stdin)
src = d["pipelines"][0]["source"]
docs = {k["key"]: k for k in src["key_docs"]}
want = [
  (docs["settle"]["value"], "3s"), (docs["settle"]["default"], False),
  (docs["header"]["default"], True),
  ("unmodified" in docs["settle"]["doc"], True),
  (len(docs), 13),
  ({k["key"]: k["default"] for k in d["pipelines"][1]["reconcile"]["key_docs"]}, {"every": False}),
  (d["pipelines"][0]["reconcile"], {"key_docs": [{"key": "every", "value": None, "default": True, "doc": "how often to compare source and destination"}]}),
  ([k["value"] for k in d["http"]["key_docs"]], ["127.0.0.1:8799", "***", None, "30s", "1000", "100"]),
]
bad = [(a, b) for a, b in want if a != b]
print("ok" if not bad else bad)' <<<"$OUT")"
finish
