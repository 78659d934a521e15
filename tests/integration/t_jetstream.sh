#!/usr/bin/env bash
# NATS JetStream between the collector and the loaders:
#   a 3-node JetStream cluster (nats-server) on loopback; a collector daemon
#   that publishes each request's events to stream EVENTS (3 replicas) and
#   answers after JetStream's ack; two loader daemons sharing one durable pull
#   consumer into PostgreSQL. Mid-stream one nats-server node and one loader
#   are killed with SIGKILL; the clients resend what got no answer. At the
#   end the table holds each event exactly once, and both loaders had loaded
#   some of them.
. "$(dirname "$0")/lib.sh"
new_db
CLIENT="python3 $SL_SRCDIR/tests/integration/event_client.py"
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
W="$T_DIR/w"; mkdir -p "$W"
TOKEN="tok-$RANDOM-$RANDOM"
N=30000
[ "${SL_SANITIZED:-}" = "ON" ] && N=8000
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; cleanup' EXIT

declare -a CP NP NPID
# Ports are picked free, but another test may take one before nats-server
# binds it (one opens thousands of client sockets): a cluster that cannot
# bind is started again on other ports.
start_cluster() {
  for i in 1 2 3; do CP[$i]=$(free_port); NP[$i]=$(free_port); done
  ROUTES="nats-route://127.0.0.1:${CP[1]}, nats-route://127.0.0.1:${CP[2]}, nats-route://127.0.0.1:${CP[3]}"
  SERVERS="nats://127.0.0.1:${NP[1]}, nats://127.0.0.1:${NP[2]}, nats://127.0.0.1:${NP[3]}"
  for i in 1 2 3; do
    rm -rf "$W/n$i"; mkdir -p "$W/n$i"
    cat >"$W/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${NP[$i]}
jetstream { store_dir: "$W/n$i" }
cluster {
  name: sluice
  listen: 127.0.0.1:${CP[$i]}
  routes: [ $ROUTES ]
}
CONF
    "$NATS" -c "$W/n$i.conf" >"$T_DIR/nats$i.log" 2>&1 &
    NPID[$i]=$!; PIDS+=($!)
  done
  for _ in $(seq 600); do   # 60 s: three servers electing a leader on a busy machine
    grep -q "JetStream cluster new metadata leader\|is the new metadata leader\|Self is new JetStream cluster metadata leader" \
      "$T_DIR"/nats*.log 2>/dev/null && return 0
    grep -q "address already in use" "$T_DIR"/nats*.log 2>/dev/null && break
    sleep 0.1
  done
  for i in 1 2 3; do kill -9 "${NPID[$i]}" 2>/dev/null || true; wait "${NPID[$i]}" 2>/dev/null || true; done
  return 1
}
for attempt in 1 2 3 4 5; do start_cluster && break; echo "# nats cluster attempt $attempt: could not start; trying other ports"; done
grep -qi "metadata leader" "$T_DIR"/nats*.log && ok "nats cluster up" || { not_ok "nats cluster up"; tail -n 5 "$T_DIR"/nats*.log; }

PORT=$(free_port)
cat >"$W/collector.yaml" <<YAML
connections:
  pgwh: { url: "$T_PG_URL" }
pipelines:
  - name: app
    source:
      kind: http
      listen: "127.0.0.1:$PORT"
      token: "$TOKEN"
      event_id: event_id
      publish: { servers: [ $SERVERS ], subject: events.app, stream: EVENTS, replicas: 3 }
    destination: pgwh
    tables:
      - { name: js_events, kind: append, primary_key: [event_id] }
YAML
cat >"$W/loader.yaml" <<YAML
connections:
  pgwh: { url: "$T_PG_URL" }
pipelines:
  - name: app
    source: { kind: jetstream, servers: [ $SERVERS ], stream: EVENTS, subject: "events.>",
              durable: loaders, replicas: 3, ack_wait: 4s, batch: 64, event_id: event_id }
    destination: pgwh
    tables:
      - name: js_events
        kind: append
        primary_key: [event_id]
        columns: { event_id: text, user_id: bigint, amount: numeric, ts: timestamptz }
        paths: { amount: order.total }
YAML

# daemon NAME CONFIG: start one, wait for WHAT in its log
daemon() {
  "$SLUICE_BIN" daemon "$2" --listen 127.0.0.1:0 >"$T_DIR/$1.out" 2>"$T_DIR/$1.log" &
  PIDS+=($!)
  eval "${1}_PID=$!"
  for _ in $(seq 300); do grep -q "$3" "$T_DIR/$1.log" 2>/dev/null && return 0; sleep 0.1; done
  not_ok "$1 started"; tail -5 "$T_DIR/$1.log"
}
daemon loader1 "$W/loader.yaml" "consuming stream EVENTS"
daemon loader2 "$W/loader.yaml" "consuming stream EVENTS"
daemon collector "$W/collector.yaml" "collecting events on"

: >"$T_DIR/acked.txt"
$CLIENT load "http://127.0.0.1:$PORT/v1/events/app" --events $N --clients 4 --per-request 50 \
  --repeat-rate 0.05 --token "$TOKEN" --prefix J --acked "$T_DIR/acked.txt" --seed 3 \
  >"$T_DIR/client.json" 2>"$T_DIR/client.err" &
CPID=$!
acked() { wc -l <"$T_DIR/acked.txt"; }
for _ in $(seq 600); do [ "$(acked)" -ge $((N / 3)) ] && break; sleep 0.05; done
kill -9 "${NPID[2]}"
echo "# killed nats-server n2 after $(acked) events were acknowledged"
for _ in $(seq 1200); do [ "$(acked)" -ge $((N * 2 / 3)) ] && break; sleep 0.05; done
kill -9 "$loader1_PID"
echo "# killed loader 1 after $(acked) events were acknowledged"
crc=0
wait $CPID || crc=$?
check "clients: every request answered in the end" 0 "$crc"
[ "$crc" = 0 ] || head -5 "$T_DIR/client.err"
echo "# clients: $(cat "$T_DIR/client.json")"

count() { pg "SELECT count(*) FROM js_events WHERE event_id LIKE 'J-%'"; }
for _ in $(seq 600); do [ "$(count)" -ge "$N" ] && break; sleep 0.1; done
# past ack_wait: redeliveries of what loader 1 held must not add rows
sleep 5
check "each event exactly once" "$N|$N" \
  "$(pg "SELECT count(*), count(DISTINCT event_id) FROM js_events WHERE event_id LIKE 'J-%'")"
check "values mapped" "1|10|7.07" \
  "$(pg "SELECT count(*), max(user_id), max(amount) FROM js_events WHERE event_id = 'J-1007'")"
c1=$(grep -c "committed jetstream:" "$T_DIR/loader1.log" || true)
c2=$(grep -c "committed jetstream:" "$T_DIR/loader2.log" || true)
echo "# batches: loader 1 $c1, loader 2 $c2"
[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] && ok "both loaders shared the work" || not_ok "both loaders shared the work ($c1, $c2)"
check "nothing dead-lettered" 0 "$(pg "SELECT count(*) FROM _sluice.dead_letter")"
kill -TERM "$loader2_PID" "$collector_PID"
wait "$loader2_PID" && ok "loader stops on SIGTERM" || not_ok "loader stops on SIGTERM"
wait "$collector_PID" && ok "collector stops on SIGTERM" || not_ok "collector stops on SIGTERM"
finish
