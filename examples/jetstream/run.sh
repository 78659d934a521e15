#!/usr/bin/env bash
# JetStream: a local nats-server with JetStream; sluice daemon runs the HTTP
# collector, which publishes each event to the stream, and a loader, which
# takes them from it into the warehouse.
. "$(dirname "$0")/../lib.sh"
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
export NATS_PORT; NATS_PORT=$(ex_port)
export EVENTS_PORT; EVENTS_PORT=$(ex_port)
export EVENTS_TOKEN="example-$RANDOM$RANDOM"
mkdir -p js
"$NATS" -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$EX_DIR/js" >nats.log 2>&1 &
EX_PIDS+=($!)
ex_wait_for nats.log "Server is ready"
cp "$EX_SRC/jetstream/sluice.yaml" .
sluice daemon sluice.yaml --listen "127.0.0.1:$(ex_port)" >daemon.log 2>&1 &
EX_PIDS+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$EVENTS_PORT/" && break
  sleep 0.1
done
printf '%s\n' '{"event_id":"j1","user_id":1,"order":{"total":3.5}}' \
  '{"event_id":"j2","user_id":2,"order":{"total":7}}' '{"event_id":"j3","user_id":1}' |
  curl -sS -X POST -H "Authorization: Bearer $EVENTS_TOKEN" --data-binary @- \
    "http://127.0.0.1:$EVENTS_PORT/v1/events/collector"
echo
for _ in $(seq 150); do
  [ "$(sqlite3 warehouse.db 'SELECT count(*) FROM js_events' 2>/dev/null || echo 0)" = 3 ] && break
  sleep 0.1
done
echo "events loaded from the stream:"
sqlite3 -header -column warehouse.db 'SELECT event_id, user_id, amount FROM js_events ORDER BY event_id'
echo "jetstream: $(sqlite3 warehouse.db 'SELECT count(*) FROM js_events') events loaded"
