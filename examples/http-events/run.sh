#!/usr/bin/env bash
# HTTP events: sluice daemon serves the collector; three events are POSTed
# as JSON lines (one of them twice), and the table holds each once.
. "$(dirname "$0")/../lib.sh"
export EVENTS_PORT; EVENTS_PORT=$(ex_port)
export EVENTS_TOKEN="example-$RANDOM$RANDOM"
cp "$EX_SRC/http-events/sluice.yaml" .
sluice daemon sluice.yaml --listen "127.0.0.1:$(ex_port)" >daemon.log 2>&1 &
EX_PIDS+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$EVENTS_PORT/" && break
  sleep 0.1
done
post() {
  curl -sS -X POST -H "Authorization: Bearer $EVENTS_TOKEN" -H 'Content-Type: application/x-ndjson' \
    --data-binary @- "http://127.0.0.1:$EVENTS_PORT/v1/events/app"
  echo
}
printf '%s\n' '{"event_id":"e1","type":"signup","user_id":1}' \
  '{"event_id":"e2","type":"order","user_id":1,"order":{"total":19.90}}' | post
printf '%s\n' '{"event_id":"e2","type":"order","user_id":1,"order":{"total":19.90}}' \
  '{"event_id":"e3","type":"order","user_id":2,"order":{"total":5}}' | post
for _ in $(seq 150); do
  [ "$(sqlite3 warehouse.db 'SELECT count(*) FROM events' 2>/dev/null || echo 0)" = 3 ] && break
  sleep 0.1
done
echo "events in the warehouse:"
sqlite3 -header -column warehouse.db 'SELECT event_id, type, user_id, amount FROM events ORDER BY event_id'
echo "http-events: $(sqlite3 warehouse.db 'SELECT count(*) FROM events') events loaded"
