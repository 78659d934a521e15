#!/usr/bin/env bash
# Log drops into both warehouses: logs written by the programs themselves
# (a real nginx's access.log, logger's RFC 3164 and 5424 datagrams, rsyslog's
# files), and hand-written edge cases: the New Year, a DST overlap in the
# source's timezone, bad lines (dead-lettered with file:line and text, the
# rest loading; on_unparsed: fail refusing the drop), Java stack traces, a
# huge line, a gate holding a log drop, and sluice check --verbose naming the
# new keys.
. "$(dirname "$0")/lib.sh"
new_db

# ---- logs written by the programs ----------------------------------------

LOGS="$T_DIR/written"
mkdir -p "$LOGS"

# nginx on a free port, as whoever runs the test; requests with curl
NGX="$T_DIR/nginx"
mkdir -p "$NGX/logs" "$NGX/html" "$NGX/tmp"
echo hello >"$NGX/html/index.html"
port=$(free_port)
cat >"$NGX/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log;
events { worker_connections 64; }
http {
  client_body_temp_path $NGX/tmp/body;
  proxy_temp_path $NGX/tmp/proxy;
  fastcgi_temp_path $NGX/tmp/fastcgi;
  uwsgi_temp_path $NGX/tmp/uwsgi;
  scgi_temp_path $NGX/tmp/scgi;
  access_log $NGX/logs/access.log combined;
  server {
    listen 127.0.0.1:$port;
    root $NGX/html;
  }
}
CONF
if [ "$(id -u)" = 0 ]; then sed -i "1i user root;" "$NGX/nginx.conf"; fi
nginx -p "$NGX" -e "$NGX/logs/error.log" -c "$NGX/nginx.conf" &
ngx_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
: >"$NGX/logs/access.log"     # the probes above are not part of the test
u="http://127.0.0.1:$port"
curl -s -o /dev/null "$u/"
curl -s -o /dev/null "$u/missing?q=%22quoted%22"
curl -s -o /dev/null -A 'Mozilla/5.0 (X11; Linux x86_64) "quoted" agent' -e "http://ref.example/page" "$u/index.html"
curl -s -o /dev/null -X POST --data 'a=1' "$u/index.html"
curl -s -o /dev/null -u alice:secret "$u/"
for i in $(seq 20); do curl -s -o /dev/null "$u/index.html?n=$i"; done
kill "$ngx_pid"; wait "$ngx_pid" 2>/dev/null || true
cp "$NGX/logs/access.log" "$LOGS/access.log"
check "nginx wrote 25 lines" 25 "$(wc -l <"$LOGS/access.log")"

# logger: the datagrams it sends, as a local syslog socket receives them
SOCK="$T_DIR/log.sock"
python3 - "$SOCK" "$LOGS/wire.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
with open(sys.argv[2], "wb") as out:
    for _ in range(3):
        out.write(s.recv(65536).rstrip(b"\n") + b"\n")
        out.flush()
PY
rx_pid=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
logger --rfc3164 -u "$SOCK" -t myapp -i -p auth.crit "3164 from logger"
logger --rfc5424 -u "$SOCK" -t myapp -i --msgid ID47 --sd-id 'ex@32473' --sd-param 'iut="3"' \
  --sd-param 'src="a \"quoted\" \]"' -p local4.notice "5424 from logger"
logger --rfc5424=notq -u "$SOCK" -t other -p local3.err "no time quality"
wait "$rx_pid"
check "logger sent 3 datagrams" 3 "$(wc -l <"$LOGS/wire.log")"

# rsyslog: its traditional (RFC 3164) and protocol-23 (RFC 5424) files
RS="$T_DIR/rsyslog"
mkdir -p "$RS/work"
cat >"$RS/rs.conf" <<CONF
global(workDirectory="$RS/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$RS/log.sock" UseSpecialParser="off" ParseHostname="on")
*.* action(type="omfile" file="$RS/trad.log" template="RSYSLOG_TraditionalFileFormat")
*.* action(type="omfile" file="$RS/proto.log" template="RSYSLOG_SyslogProtocol23Format")
CONF
rsyslogd -n -f "$RS/rs.conf" -i "$RS/rs.pid" >"$RS/out" 2>&1 &
rs_pid=$!
for _ in $(seq 100); do [ -S "$RS/log.sock" ] && break; sleep 0.05; done
for i in 1 2 3; do logger -u "$RS/log.sock" -t cron -i "job $i"; done
logger -u "$RS/log.sock" --rfc5424 --msgid M1 -t app5 -p daemon.warning "via rsyslog"
for _ in $(seq 100); do [ "$(cat "$RS/proto.log" 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 0.05; done
kill "$rs_pid"; wait "$rs_pid" 2>/dev/null || true
check "rsyslog wrote 4 lines each" "4 4" "$(wc -l <"$RS/trad.log") $(wc -l <"$RS/proto.log")"
cp "$RS/trad.log" "$LOGS/rsyslog-trad.log"
cp "$RS/proto.log" "$LOGS/rsyslog-proto.log"

# ---- into each warehouse --------------------------------------------------

for dest in pg lite; do
  W="$T_DIR/$dest"; mkdir -p "$W"
  if [ $dest = pg ]; then url="$T_PG_URL"; DL=_sluice.dead_letter; B=_sluice.batches
  else url="sqlite://wh.db"; DL=_sluice_dead_letter; B=_sluice_batches; fi
  q() { if [ $dest = pg ]; then pg "$1"; else lite "$W/wh.db" "$1"; fi; }
  cat >"$W/s.yaml" <<YAML
connections: { wh: { url: "$url" } }
pipelines:
  - name: web
    source: { kind: files, path: web, format: combined, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_access, kind: append }
  - name: sys
    source: { kind: files, path: sys, format: syslog, settle: 0s, timezone: America/New_York }
    destination: wh
    tables:
      - { name: ${dest}_syslog, kind: append }
  - name: app
    source:
      kind: files
      path: app
      format: log4j
      layout: "%d{yyyy-MM-dd HH:mm:ss,SSS} [%t] %-5p %c{1} - %X{req} %m%n"
      timezone: Europe/Berlin
      settle: 0s
    destination: wh
    tables:
      - { name: ${dest}_app, kind: append }
  - name: strict
    source: { kind: files, path: strict, format: clf, on_unparsed: fail, settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_strict, kind: append }
  - name: custom
    source:
      kind: files
      path: custom
      format: regex
      regex: '(?s)(?<ts>\S+ \S+) \[(?<level>\w+)\] (?<ms>\d+)ms (?<msg>.*)'
      multiline: { start: '\d{4}-' }
      settle: 0s
    destination: wh
    tables:
      - name: ${dest}_custom
        kind: append
        columns: { ms: bigint }
  - name: typed
    source: { kind: files, path: typed, format: regex, regex: '(?<n>\S+) (?<m>.*)', settle: 0s }
    destination: wh
    tables:
      - { name: ${dest}_typed, kind: append, columns: { n: bigint } }
  - name: guarded
    source: { kind: files, path: guarded, format: combined, settle: 0s }
    destination: wh
    tables:
      - name: ${dest}_guarded
        kind: append
        gates: { rules: [ { column: path, reject_match: "^/admin" } ] }
YAML

  # nginx's access.log
  drop "$W/web" access.log <"$LOGS/access.log"
  sluice run "$W/s.yaml" web
  check "$dest: nginx access.log loads" 0 "$RC"
  check "$dest: one row per request" 25 "$(q "select count(*) from ${dest}_access")"
  check "$dest: columns of the combined format, lineno numbering the lines" \
    "ts client ident user method path protocol status bytes referer user_agent lineno" \
    "$(if [ $dest = pg ]; then pg "select string_agg(column_name, ' ' order by ordinal_position) from information_schema.columns where table_name = '${dest}_access' and column_name <> '_sluice_batch'"; else lite "$W/wh.db" "select group_concat(name, ' ') from pragma_table_info('${dest}_access') where name <> '_sluice_batch'"; fi)"
  check "$dest: status and bytes are numbers" "200 6" \
    "$(q "select status, bytes from ${dest}_access where lineno = 1" | tr '|' ' ')"
  check "$dest: 404 with its quoted query" "GET /missing?q=%22quoted%22 HTTP/1.1 404" \
    "$(q "select method, path, protocol, status from ${dest}_access where lineno = 2" | tr '|' ' ')"
  check "$dest: referer and a user agent with quotes in it" \
    'http://ref.example/page Mozilla/5.0 (X11; Linux x86_64) "quoted" agent' \
    "$(q "select referer, user_agent from ${dest}_access where lineno = 3" | tr '|' ' ')"
  check "$dest: - is NULL (ident, referer)" "0 22" \
    "$(q "select count(ident), count(*) - count(referer) - 2 from ${dest}_access" | tr '|' ' ')"
  check "$dest: basic auth user" "alice" "$(q "select \"user\" from ${dest}_access where lineno = 5")"
  now_year=$(date -u +%Y)
  check "$dest: nginx's time, in UTC" "$now_year" \
    "$(q "select distinct substr(cast(ts as text), 1, 4) from ${dest}_access")"
  if [ $dest = pg ]; then
    check "pg: typed columns" "bigint bigint bigint timestamp with time zone" \
      "$(pg "select string_agg(data_type, ' ' order by column_name) from information_schema.columns where table_name = 'pg_access' and column_name in ('ts', 'status', 'bytes', 'lineno')" | sed 's/^\(.*\)$/\1/')"
  fi

  # logger's datagrams and rsyslog's files; the New Year and a DST overlap
  cp "$LOGS/wire.log" "$LOGS/rsyslog-trad.log" "$LOGS/rsyslog-proto.log" "$W/"
  drop "$W/sys" wire.log <"$LOGS/wire.log"
  drop "$W/sys" rsyslog-trad.log <"$LOGS/rsyslog-trad.log"
  drop "$W/sys" rsyslog-proto.log <"$LOGS/rsyslog-proto.log"
  printf 'Dec 31 23:59:58 h app[1]: last of the old year\nJan  1 00:00:02 h app[1]: first of the new\n' \
    | drop "$W/sys" newyear.log
  touch -d '2025-01-02 12:00:00 UTC' "$W/sys/newyear.log"
  cat <<'LOG' | drop "$W/sys" dst.log
Nov  3 01:30:00 h app: ambiguous, first in the file: dead-lettered
Nov  3 00:59:00 h app: before
Nov  3 01:30:00 h app: EDT
Nov  3 01:10:00 h app: EST (the clocks went back)
Mar 10 02:30:00 h app: in the spring gap: dead-lettered
LOG
  touch -d '2024-11-04 00:00:00 UTC' "$W/sys/dst.log"
  sluice run "$W/s.yaml" sys
  check "$dest: syslog drops load" 0 "$RC"
  check "$dest: logger RFC 3164" "myapp crit auth 3164 from logger" \
    "$(q "select app, severity, facility, message from ${dest}_syslog where message like '3164%'" | tr '|' ' ')"
  check "$dest: logger RFC 5424 with structured data as json" \
    "ID47 notice local4 3" \
    "$(q "select msgid, severity, facility, $( [ $dest = pg ] && echo "structured_data->'ex@32473'->>'iut'" || echo "json_extract(structured_data, '\$.\"ex@32473\".iut')") from ${dest}_syslog where message = '5424 from logger'" | tr '|' ' ')"
  check "$dest: an SD value with escaped quotes" 'a "quoted" ]' \
    "$(q "select $( [ $dest = pg ] && echo "structured_data->'ex@32473'->>'src'" || echo "json_extract(structured_data, '\$.\"ex@32473\".src')") from ${dest}_syslog where message = '5424 from logger'")"
  check "$dest: a 5424 record without pid or structured data" "err local3 1" \
    "$(q "select severity, facility, count(*) from ${dest}_syslog where app = 'other' group by severity, facility" | tr '|' ' ')"
  check "$dest: rsyslog's traditional file: 3 cron lines with pids" "3 3" \
    "$(q "select count(*), count(pid) from ${dest}_syslog where app = 'cron' and host is not null and severity is null" | tr '|' ' ')"
  check "$dest: rsyslog's RFC 5424 file" "warning daemon M1" \
    "$(q "select severity, facility, msgid from ${dest}_syslog where app = 'app5'" | tr '|' ' ')"
  check "$dest: New Year: December is last year's" \
    "2025-01-01 04:59:58|2025-01-01 05:00:02" \
    "$(q "select $( [ $dest = pg ] && echo "to_char(ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')" || echo "replace(substr(ts, 1, 19), 'T', ' ')") from ${dest}_syslog where message in ('last of the old year', 'first of the new') order by ts" | paste -sd'|')"
  check "$dest: DST overlap read in the file's order, in UTC" \
    "04:59 before|05:30 EDT|06:10 EST (the clocks went back)" \
    "$(q "select $( [ $dest = pg ] && echo "to_char(ts at time zone 'UTC', 'HH24:MI')" || echo "substr(ts, 12, 5)") || ' ' || message from ${dest}_syslog where message in ('before', 'EDT', 'EST (the clocks went back)') order by ts" | paste -sd'|')"
  check "$dest: the two dst lines dead-lettered with file:line" \
    "sys/dst.log:1|sys/dst.log:5" \
    "$(q "select event_id from $DL where pipeline = 'sys' order by event_id" | paste -sd'|')"
  check_contains "$dest: their error says why" "sys/dst.log:5:1: no such local time 2024-03-10 02:30:00 in America/New_York (DST gap)" \
    "$(q "select error from $DL where pipeline = 'sys'")"
  check "$dest: their text kept" "Mar 10 02:30:00 h app: in the spring gap: dead-lettered" \
    "$(q "select payload from $DL where event_id = 'sys/dst.log:5'")"
  check "$dest: received_at is the drop's modification time" "2024-11-04" \
    "$(q "select distinct substr(cast(received_at as text), 1, 10) from $DL where pipeline = 'sys'")"

  # log4j with stack traces; bad lines; a huge line
  {
    echo "not a record: dead-lettered, the rest loads"
    echo "2024-03-31 01:59:59,100 [main] INFO  App -  r1 starting"
    echo "2024-03-31 03:00:00,200 [worker-1] ERROR Job - req-7 r2 failed"
    echo "java.lang.IllegalStateException: boom"
    printf '\tat com.example.Job.run(Job.java:42)\n'
    printf '\tat java.base/java.lang.Thread.run(Thread.java:833)\n'
    echo "Caused by: java.io.IOException: disk full"
    printf '\t... 2 more\n'
    printf '2024-03-31 03:00:01,000 [main] WARN  App -  r3 '
    head -c 3000000 /dev/zero | tr '\0' 'x'
    echo
    echo "2024-03-31 03:00:02,000 [main] INFO  App -  last"
  } | drop "$W/app" app.log
  sluice run "$W/s.yaml" app
  check "$dest: log4j drop loads" 0 "$RC"
  check_contains "$dest: the run summary counts the dead letter" "1 to the dead letter table" "$OUT"
  check "$dest: 4 records" 4 "$(q "select count(*) from ${dest}_app")"
  check "$dest: Berlin time to UTC across the DST change" \
    "2024-03-31 00:59:59.1|2024-03-31 01:00:00.2" \
    "$(q "select $( [ $dest = pg ] && echo "to_char(ts at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')" || echo "replace(substr(ts, 1, 23), 'T', ' ')") from ${dest}_app where lineno in (2, 3) order by lineno" | sed 's/\.100$/.1/; s/\.200$/.2/; s/\.100|/.1|/' | paste -sd'|')"
  check "$dest: the stack trace is the record's message" \
    "req-7 r2 failed|java.lang.IllegalStateException: boom|	at com.example.Job.run(Job.java:42)|	at java.base/java.lang.Thread.run(Thread.java:833)|Caused by: java.io.IOException: disk full|	... 2 more" \
    "$(q "select mdc_req || ' ' || message from ${dest}_app where lineno = 3" | paste -sd'|')"
  check "$dest: level, thread, logger" "ERROR worker-1 Job" \
    "$(q "select level, thread, logger from ${dest}_app where lineno = 3" | tr '|' ' ')"
  check "$dest: a 3 MB line loads whole" 3000003 "$(q "select length(message) from ${dest}_app where lineno = 9")"
  check "$dest: the unparsed line in the dead letter table" \
    "app/app.log:1|not a record: dead-lettered, the rest loads" \
    "$(q "select event_id, payload from $DL where pipeline = 'app'")"
  check "$dest: the batch's report counts it" 1 \
    "$(q "select $( [ $dest = pg ] && echo "report::json->'unparsed'->>'dead_lettered'" || echo "json_extract(report, '\$.unparsed.dead_lettered')") from $B where table_name = '${dest}_app' and state = 'committed'")"
  sluice batches "$W/s.yaml" --table ${dest}_app
  check_contains "$dest: sluice batches shows it" "unparsed: 1 records in the dead letter table" "$OUT"

  # regex with multiline.start, a declared bigint
  printf '2024-05-01 10:00:00 [INFO] 12ms ok\n2024-05-01 10:00:01 [WARN] 7ms slow\n  detail line\n2024-05-01 10:00:02 [INFO] fast ok\n' \
    | drop "$W/custom" c.log
  sluice run "$W/s.yaml" custom
  check "$dest: regex drop loads" 0 "$RC"
  check "$dest: named groups are columns, ms a bigint" "12 7" "$(q "select ms from ${dest}_custom order by lineno" | paste -sd' ')"
  check "$dest: multiline.start joins the detail line" "slow|  detail line" \
    "$(q "select msg from ${dest}_custom where lineno = 2" | paste -sd'|')"
  check "$dest: a line the regex does not match is dead-lettered" "custom/c.log:4" \
    "$(q "select event_id from $DL where pipeline = 'custom'")"

  # the regex fixed, sluice replay loads the record it had refused
  sed -i 's/\\] (?<ms>\\d+)ms (?<msg>/\\] (?:(?<ms>\\d+)ms )?(?<msg>/' "$W/s.yaml"
  sluice replay "$W/s.yaml" --pipeline custom
  check "$dest: replay after the fix exits 0" 0 "$RC"
  check_contains "$dest: replay says what it did" "pipeline custom: replayed 1 record: 1 loaded, 0 already stored, 0 still failing" "$OUT"
  check "$dest: the record is in the table, at its line" "4 fast ok" \
    "$(q "select lineno, msg from ${dest}_custom where ms is null" | tr '|' ' ')"
  check "$dest: its dead letter row is marked replayed" 1 \
    "$(q "select count(*) from $DL where pipeline = 'custom' and replayed_at is not null")"
  sluice replay "$W/s.yaml" --pipeline custom
  check_contains "$dest: a second replay has nothing left" "replayed 0 records" "$OUT"
  sluice replay "$W/s.yaml" --pipeline sys
  check "$dest: records still refused stay, exit 1" 1 "$RC"
  check_contains "$dest: and are counted" "replayed 2 records: 0 loaded, 0 already stored, 2 still failing" "$OUT"

  # a value that does not fit its declared column is set aside like a bad line
  printf '1 one\nx two\n3 three\n' | drop "$W/typed" t.log
  sluice run "$W/s.yaml" typed
  check "$dest: a value not of its column's type: the rest loads" "0 1 3" \
    "$(echo "$RC" "$(q "select min(n) from ${dest}_typed")" "$(q "select max(n) from ${dest}_typed")")"
  check_contains "$dest: and it is dead-lettered saying why" 'typed/t.log:2:1: column "n" (bigint): not an integer' \
    "$(q "select error from $DL where pipeline = 'typed'")"

  # on_unparsed: fail
  printf '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 5\nbroken line\n' | drop "$W/strict" s.log
  sluice run "$W/s.yaml" strict
  check "$dest: on_unparsed: fail refuses the drop" 1 "$RC"
  check_contains "$dest: naming file:line:col" "strict/s.log:2:" "$ERR"
  check "$dest: nothing of it loaded, the file in failed/" "0 yes" \
    "$(echo "$(q "select count(*) from $B where table_name = '${dest}_strict' and state = 'committed'")" "$([ -f "$W/strict/failed/s.log" ] && echo yes)")"
  check_contains "$dest: its .error says where" "strict/s.log:2:" "$(cat "$W/strict/failed/s.log.error")"

  # gates apply as for any drop
  printf '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /admin/x HTTP/1.0" 200 5 "-" "-"\n' | drop "$W/guarded" g.log
  sluice run "$W/s.yaml" guarded
  check "$dest: a rules gate holds a log drop" 3 "$RC"
  check "$dest: nothing of it in the table" 0 "$(q "select count(*) from ${dest}_guarded" 2>/dev/null || echo 0)"
done

# ---- sluice check documents the keys, and refuses bad ones ----------------

W="$T_DIR/lite"
sluice check "$W/s.yaml" --verbose
check "check passes" 0 "$RC"
for key in "layout" "regex" "on_unparsed" "multiline" "start"; do
  check_contains "check --verbose documents $key" "$key" "$OUT"
done
check_contains "check --verbose names the formats" "syslog | clf | combined | log4j | regex" "$OUT"
cat >"$T_DIR/bad.yaml" <<YAML
connections: { wh: { url: "sqlite://x.db" } }
pipelines:
  - name: a
    source: { kind: files, path: a, format: log4j, layout: "%d %q %m" }
    destination: wh
    tables: [ { name: a, kind: append } ]
YAML
sluice check "$T_DIR/bad.yaml"
check "a bad layout is a config error" 2 "$RC"
check_contains "naming the conversion" 'unknown conversion %q' "$ERR"
sed -i 's/format: log4j, layout: "%d %q %m"/format: regex, regex: "(no named group)"/' "$T_DIR/bad.yaml"
sluice check "$T_DIR/bad.yaml"
check_contains "a regex without named groups is refused" "has no named group" "$ERR"
sed -i 's/format: regex, regex: "(no named group)"/format: csv, layout: "%m"/' "$T_DIR/bad.yaml"
sluice check "$T_DIR/bad.yaml"
check_contains "layout is for log4j only" "layout: is for format log4j" "$ERR"
finish
