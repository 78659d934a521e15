/* tests/unit/test_logs.c: the log formats (formats/syslog.c, clf.c, log4j.c,
 * regex.c over formats/logread.c) and the Java date patterns of base/time.c.
 *
 * Each test reads an input through a memory stream and compares a dump of
 * what came out (the set values of each record, and each error with the
 * text the reader hands out for it) with what it must be. Streaming bugs
 * live at buffer edges, so every input is also read at every chunk size
 * from 1 to its length and must come out the same at every split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "base/stream.h"
#include "base/value.h"
#include "formats/format.h"
#include "formats/logread.h"

#define DISPLAY "drops/t.log"

/* 2024-07-01T00:00:00Z: the file's modification time unless a test says */
#define REF_JULY INT64_C(1719792000)

static char lex_letter(const struct sl_field *f)
{
    switch (f->lex) {
    case SL_LEX_STRING: return 'S';
    case SL_LEX_NUMBER: return 'N';
    case SL_LEX_BOOL:   return 'B';
    case SL_LEX_JSON:   return 'J';
    case SL_LEX_RAW:    return 'R';
    }
    return '?';
}

/* One line per record: "L<line>: name=<lex>:<value> ..." (NULL values left
 * out, lineno too: L says it), one per error: "ERR <message> | <raw text>". */
static void dump(const struct sl_format_ops *fmt, const char *in, size_t n, size_t chunk,
                 const struct sl_format_opts *opts, struct sl_buf *out)
{
    struct sl_stream *st = NULL;
    struct sl_reader *rd = NULL;
    struct sl_err err;
    struct sl_record rec;

    sl_err_clear(&err);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, n, chunk, &err), 0);
    if (fmt->open(&rd, st, opts, &err) < 0) {
        sl_buf_printf(out, "OPEN %s\n", err.msg);
        sl_stream_close(st);
        return;
    }
    for (int calls = 0; calls < 10000; calls++) {
        int rc = fmt->next(rd, &rec, &err);
        if (rc == 0)
            break;
        const char *t;
        size_t tn;
        long tl, ti;
        if (rc < 0) {
            assert_int_equal(err.code, SL_E_INPUT);
            assert_int_equal(fmt->raw(rd, &t, &tn, &tl, &ti), 1);
            sl_buf_printf(out, "ERR %s | %.*s\n", err.msg, (int)(tn > 60 ? 60 : tn), t);
            continue;
        }
        assert_int_equal(fmt->raw(rd, &t, &tn, &tl, &ti), 1);
        assert_int_equal(tl, rec.line);
        assert_int_equal(ti, rec.index);
        sl_buf_printf(out, "L%ld:", rec.line);
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            if (f->is_null || strcmp(f->name, SL_LOG_LINENO) == 0) {
                if (!f->is_null)
                    assert_int_equal(strtol(f->val, NULL, 10), rec.line);
                continue;
            }
            sl_buf_printf(out, " %s=%c:%.*s", f->name, lex_letter(f), (int)f->len, f->val);
        }
        sl_buf_putc(out, '\n');
    }
    fmt->close(rd);
    sl_stream_close(st);
}

/* `in` must read as `want` whole and at every chunk size. */
static void expect_len(const struct sl_format_ops *fmt, const struct sl_format_opts *opts,
                       const char *in, size_t n, const char *want)
{
    struct sl_buf out, split;
    sl_buf_init(&out);
    sl_buf_init(&split);
    dump(fmt, in, n, 0, opts, &out);
    if (strcmp(out.data, want) != 0) {
        fprintf(stderr, "input:\n%s\nwant:\n%s\ngot:\n%s\n", in, want, out.data);
        fail();
    }
    for (size_t c = 1; c < n; c++) {
        dump(fmt, in, n, c, opts, &split);
        if (strcmp(split.data, want) != 0) {
            fprintf(stderr, "at chunk %zu:\nwant:\n%s\ngot:\n%s\n", c, want, split.data);
            fail();
        }
    }
    sl_buf_free(&out);
    sl_buf_free(&split);
}

static void expect(const struct sl_format_ops *fmt, const struct sl_format_opts *opts,
                   const char *in, const char *want)
{
    expect_len(fmt, opts, in, strlen(in), want);
}

static struct sl_format_opts opts_zone(const char *zone, int64_t ref)
{
    struct sl_format_opts o = {0};
    o.timezone = zone;
    o.ref_time = ref;
    return o;
}

/* ---- syslog ---- */

static void syslog_rfc3164_priority_host_and_pid(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("America/New_York", REF_JULY);
    expect(&sl_format_syslog, &o,
           "<34>Jun 14 15:16:01 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8\n"
           "<13>Jun  4 09:00:00 host cron: job\n",
           "L1: ts=R:2024-06-14T19:16:01.000000Z host=R:mymachine app=R:su pid=R:230"
           " severity=S:crit facility=S:auth message=S:'su root' failed for lonvick on"
           " /dev/pts/8\n"
           "L2: ts=R:2024-06-04T13:00:00.000000Z host=R:host app=R:cron severity=S:notice"
           " facility=S:user message=S:job\n");
}

static void syslog_rfc3164_as_files_and_local_senders_write_it(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    /* rsyslog's traditional file (no priority), its high-precision file
     * (RFC 3339 time), a local sender that left out the host */
    expect(&sl_format_syslog, &o,
           "Jun 14 15:16:01 vm systemd[1]: Started Session 2.\n"
           "2024-06-14T15:16:01.123456+02:00 vm sshd[99]: Accepted key\n"
           "<13>Jun 14 15:16:02 myapp[7]: no host here\n"
           "Jun 14 15:16:03 vm just a message\n",
           "L1: ts=R:2024-06-14T15:16:01.000000Z host=R:vm app=R:systemd pid=R:1"
           " message=S:Started Session 2.\n"
           "L2: ts=R:2024-06-14T13:16:01.123456Z host=R:vm app=R:sshd pid=R:99"
           " message=S:Accepted key\n"
           "L3: ts=R:2024-06-14T15:16:02.000000Z app=R:myapp pid=R:7 severity=S:notice"
           " facility=S:user message=S:no host here\n"
           "L4: ts=R:2024-06-14T15:16:03.000000Z host=R:vm message=S:just a message\n");
}

static void syslog_rfc5424_structured_data_as_json(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    expect(&sl_format_syslog, &o,
           "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47"
           " [exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation\" eventID=\"1011\"]"
           "[ex@1 a=\"x\" a=\"y\\]\"] \xEF\xBB\xBF" "An application event\n"
           "<13>1 2026-12-08T00:08:01.278793+00:00 vm myapp 13146 - - hello 5424\n"
           "<155>1 - - - - - -\n",
           "L1: ts=R:2003-10-11T22:14:15.003000Z host=R:mymachine.example.com app=R:evntslog"
           " msgid=R:ID47 severity=S:notice facility=S:local4 message=S:An application event"
           " structured_data=J:{\"exampleSDID@32473\":{\"iut\":\"3\",\"eventSource\":"
           "\"Appli\\\"cation\",\"eventID\":\"1011\"},\"ex@1\":{\"a\":[\"x\",\"y]\"]}}\n"
           "L2: ts=R:2026-12-08T00:08:01.278793Z host=R:vm app=R:myapp pid=R:13146"
           " severity=S:notice facility=S:user message=S:hello 5424\n"
           "L3: severity=S:err facility=S:local3\n");
}

static void syslog_new_year_rolls_the_year_back(void **state)
{
    (void)state;
    /* the file was last written 2025-01-02 10:00 UTC */
    struct sl_format_opts o = opts_zone("UTC", INT64_C(1735812000));
    expect(&sl_format_syslog, &o,
           "Dec 31 23:59:59 h a: old year\n"
           "Jan  1 00:00:01 h a: new year\n"
           "Jan  2 10:30:00 h a: a little after the file time (clock skew)\n",
           "L1: ts=R:2024-12-31T23:59:59.000000Z host=R:h app=R:a message=S:old year\n"
           "L2: ts=R:2025-01-01T00:00:01.000000Z host=R:h app=R:a message=S:new year\n"
           "L3: ts=R:2025-01-02T10:30:00.000000Z host=R:h app=R:a"
           " message=S:a little after the file time (clock skew)\n");
}

static void syslog_dst_overlap_read_in_log_order(void **state)
{
    (void)state;
    /* New York falls back at 2024-11-03 02:00 EDT to 01:00 EST */
    struct sl_format_opts o = opts_zone("America/New_York", INT64_C(1730800000));
    expect(&sl_format_syslog, &o,
           "Nov  3 00:59:00 h a: before\n"
           "Nov  3 01:30:00 h a: first pass (EDT)\n"
           "Nov  3 01:29:30 h a: a record written a little out of order\n"
           "Nov  3 01:59:59 h a: end of the EDT hour\n"
           "Nov  3 01:00:00 h a: the clocks went back (EST)\n"
           "Nov  3 01:30:00 h a: second pass (EST)\n"
           "Nov  3 02:00:00 h a: after\n",
           "L1: ts=R:2024-11-03T04:59:00.000000Z host=R:h app=R:a message=S:before\n"
           "L2: ts=R:2024-11-03T05:30:00.000000Z host=R:h app=R:a message=S:first pass (EDT)\n"
           "L3: ts=R:2024-11-03T05:29:30.000000Z host=R:h app=R:a"
           " message=S:a record written a little out of order\n"
           "L4: ts=R:2024-11-03T05:59:59.000000Z host=R:h app=R:a"
           " message=S:end of the EDT hour\n"
           "L5: ts=R:2024-11-03T06:00:00.000000Z host=R:h app=R:a"
           " message=S:the clocks went back (EST)\n"
           "L6: ts=R:2024-11-03T06:30:00.000000Z host=R:h app=R:a"
           " message=S:second pass (EST)\n"
           "L7: ts=R:2024-11-03T07:00:00.000000Z host=R:h app=R:a message=S:after\n");
}

static void syslog_dst_gap_and_unordered_overlap_are_refused(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("America/New_York", INT64_C(1730800000));
    expect(&sl_format_syslog, &o,
           "Nov  3 01:30:00 h a: nothing before tells which\n"
           "Mar 10 02:30:00 h a: in the spring gap\n"
           "Mar 10 03:30:00 h a: fine\n",
           "ERR drops/t.log:1:1: ambiguous local time 2024-11-03 01:30:00 in America/New_York"
           " (DST overlap), and no record before it in the file tells which | Nov  3 01:30:00"
           " h a: nothing before tells which\n"
           "ERR drops/t.log:2:1: no such local time 2024-03-10 02:30:00 in America/New_York"
           " (DST gap) | Mar 10 02:30:00 h a: in the spring gap\n"
           "L3: ts=R:2024-03-10T07:30:00.000000Z host=R:h app=R:a message=S:fine\n");
}

static void syslog_continuation_lines_join_their_record(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    expect(&sl_format_syslog, &o,
           "  a line before any record\n"
           "Jun 14 15:16:01 h java[1]: Exception in thread \"main\"\r\n"
           "\tat Foo.bar(Foo.java:1)\r\n"
           "\r\n"
           "\tat Foo.main(Foo.java:9)\r\n"
           "<999>Jun 14 15:16:02 h a: bad priority\n"
           "Jun 14 15:16:03 h a: last\n",
           "ERR drops/t.log:1:1: not a syslog record: expected a time such as \"Jun 14"
           " 15:16:01\" or an RFC 5424 header |   a line before any record\n"
           "L2: ts=R:2024-06-14T15:16:01.000000Z host=R:h app=R:java pid=R:1"
           " message=S:Exception in thread \"main\"\n\tat Foo.bar(Foo.java:1)\n\n"
           "\tat Foo.main(Foo.java:9)\n"
           "ERR drops/t.log:6:1: syslog record: a priority is <0> to <191> | <999>Jun 14"
           " 15:16:02 h a: bad priority\n"
           "L7: ts=R:2024-06-14T15:16:03.000000Z host=R:h app=R:a message=S:last\n");
}

static void syslog_rfc5424_errors_name_the_part(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    expect(&sl_format_syslog, &o,
           "<13>1 2024-01-01T00:00:00Z h app\n"
           "<13>1 2024-01-01T00:00:00Z h app - - [x a=\"1\"][x b=\"2\"] m\n"
           "<13>1 2024-13-01T00:00:00Z h app - - - m\n",
           "ERR drops/t.log:1:33: RFC 5424 record ends before its process id | <13>1"
           " 2024-01-01T00:00:00Z h app\n"
           "ERR drops/t.log:2:48: structured data: an SD-ID given twice | <13>1"
           " 2024-01-01T00:00:00Z h app - - [x a=\"1\"][x b=\"2\"] m\n"
           "ERR drops/t.log:3:7: RFC 5424 timestamp: invalid date | <13>1"
           " 2024-13-01T00:00:00Z h app - - - m\n");
}

/* ---- clf / combined ---- */

static void combined_line_with_nulls_and_escapes(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    expect(&sl_format_combined, &o,
           "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\""
           " 200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n"
           "::1 - - [01/Jan/2024:00:00:00 +0000] \"GET /q?a=\\\"b\\x22 HTTP/1.1\" 304 -"
           " \"-\" \"ua \\xE2\\x80\"\n"
           "10.0.0.2 - - [01/Jan/2024:00:00:01 +0100] \"\\x16\\x03\\x01\" 400 157 \"-\" \"-\"\n"
           "10.0.0.3 - - [01/Jan/2024:00:00:02 +0000] \"-\" 408 0 \"-\" \"-\"\n",
           "L1: ts=R:2000-10-10T20:55:36.000000Z client=S:127.0.0.1 user=S:frank method=S:GET"
           " path=S:/apache_pb.gif protocol=S:HTTP/1.0 status=N:200 bytes=N:2326"
           " referer=S:http://www.example.com/start.html"
           " user_agent=S:Mozilla/4.08 [en] (Win98; I ;Nav)\n"
           "L2: ts=R:2024-01-01T00:00:00.000000Z client=S:::1 method=S:GET path=S:/q?a=\"b\""
           " protocol=S:HTTP/1.1 status=N:304 user_agent=S:ua \\xE2\\x80\n"
           "L3: ts=R:2023-12-31T23:00:01.000000Z client=S:10.0.0.2 path=S:\\x16\\x03\\x01"
           " status=N:400 bytes=N:157\n"
           "L4: ts=R:2024-01-01T00:00:02.000000Z client=S:10.0.0.3 status=N:408 bytes=N:0\n");
}

static void clf_and_combined_tell_each_other_apart(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    const char *common = "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5\n";
    const char *comb = "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"\n";
    expect(&sl_format_clf, &o, common,
           "L1: ts=R:2000-10-10T13:55:36.000000Z client=S:1.2.3.4 method=S:GET path=S:/"
           " protocol=S:HTTP/1.1 status=N:200 bytes=N:5\n");
    expect(&sl_format_clf, &o, comb,
           "ERR drops/t.log:1:65: unexpected text after the bytes sent (a combined log? use"
           " format: combined) | 1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 20"
           "\n");
    expect(&sl_format_combined, &o, common,
           "ERR drops/t.log:1:64: expected the quoted referer after the bytes sent (a common"
           " log line? use format: clf) | 1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET /"
           " HTTP/1.1\" 20\n");
    expect(&sl_format_combined, &o,
           "1.2.3.4 - - [10/Oct/2000:13:55:36] \"GET /\" 200 5 \"-\" \"x\"\n"
           "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET /\" 2x0 5 \"-\" \"x\"\n"
           "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / 200 5\n",
           "ERR drops/t.log:1:13: expected a time such as [10/Oct/2000:13:55:36 -0700] |"
           " 1.2.3.4 - - [10/Oct/2000:13:55:36] \"GET /\" 200 5 \"-\" \"x\"\n"
           "ERR drops/t.log:2:50: the status is not a number | 1.2.3.4 - -"
           " [10/Oct/2000:13:55:36 +0000] \"GET /\" 2x0 5 \"-\" \"\n"
           "ERR drops/t.log:3:42: unterminated request | 1.2.3.4 - - [10/Oct/2000:13:55:36"
           " +0000] \"GET / 200 5\n");
}

/* ---- log4j ---- */

static struct sl_format_opts layout(const char *l, const char *zone, int64_t ref)
{
    struct sl_format_opts o = opts_zone(zone, ref);
    o.layout = l;
    return o;
}

static void log4j_conversions_padding_and_stack_traces(void **state)
{
    (void)state;
    struct sl_format_opts o =
        layout("%d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [%t] %C{1}.%M(%F:%L) %X{user} %r - %m%n",
               "Europe/Berlin", REF_JULY);
    expect(&sl_format_log4j, &o,
           "\tat a line before any record\n"
           "2024-06-14 15:16:01,123 INFO  [main] Foo.run(Foo.java:42) alice 17 - started\n"
           "2024-06-14 15:16:02,000 ERROR [pool-1 thread 2] Bar.go(Bar.java:?) - 18 - failed\n"
           "java.lang.RuntimeException: boom\n"
           "\tat com.x.Bar.go(Bar.java:10)\n"
           "Caused by: java.io.IOException: disk\n"
           "\t... 3 more\n"
           "2024-06-14 15:16:03,5 WARN [x] A.b(A.java:1) u 19 - not SSS, so no record's head\n",
           "ERR drops/t.log:1:1: the record does not match the layout | \tat a line before"
           " any record\n"
           "L2: ts=R:2024-06-14T13:16:01.123000Z level=S:INFO thread=S:main class=S:Foo"
           " method=S:run file=S:Foo.java line=N:42 mdc_user=S:alice relative=N:17"
           " message=S:started\n"
           "L3: ts=R:2024-06-14T13:16:02.000000Z level=S:ERROR thread=S:pool-1 thread 2"
           " class=S:Bar method=S:go file=S:Bar.java mdc_user=S:- relative=N:18"
           " message=S:failed\njava.lang.RuntimeException: boom\n\tat com.x.Bar.go(Bar.java:10)"
           "\nCaused by: java.io.IOException: disk\n\t... 3 more\n"
           "2024-06-14 15:16:03,5 WARN [x] A.b(A.java:1) u 19 - not SSS, so no record's head\n");
}

static void log4j_date_patterns(void **state)
{
    (void)state;
    struct sl_format_opts o = layout("%d{yy/MM/dd HH:mm:ss} %p %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "24/06/14 15:16:01 INFO a\n",
           "L1: ts=R:2024-06-14T15:16:01.000000Z level=S:INFO message=S:a\n");
    o = layout("%d{ISO8601} %p %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o,
           "2024-06-14T15:16:01,123 INFO a\n2024-06-14 15:16:01.5 INFO b\n",
           "L1: ts=R:2024-06-14T15:16:01.123000Z level=S:INFO message=S:a\n"
           "2024-06-14 15:16:01.5 INFO b\n");
    o = layout("%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %p %m", "America/New_York", REF_JULY);
    expect(&sl_format_log4j, &o,
           "2024-06-14T15:16:01.123+02:00 INFO offset wins\n"
           "2024-06-14T15:16:01.123Z INFO z\n",
           "L1: ts=R:2024-06-14T13:16:01.123000Z level=S:INFO message=S:offset wins\n"
           "L2: ts=R:2024-06-14T15:16:01.123000Z level=S:INFO message=S:z\n");
    o = layout("%d{dd MMM yyyy HH:mm:ss,SSS}{Asia/Tokyo} %p %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "14 Jun 2024 09:00:00,000 INFO the layout's zone\n",
           "L1: ts=R:2024-06-14T00:00:00.000000Z level=S:INFO message=S:the layout's zone\n");
    o = layout("%d{dd/MMM/yyyy:HH:mm:ss Z} %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "14/Jun/2024:15:16:01 -0700 z\n",
           "L1: ts=R:2024-06-14T22:16:01.000000Z message=S:z\n");
    o = layout("%d{ABSOLUTE} %m", "UTC", REF_JULY + 7200);
    expect(&sl_format_log4j, &o, "01:00:00,250 on the file's day\n",
           "L1: ts=R:2024-07-01T01:00:00.250000Z message=S:on the file's day\n");
    o = layout("%d{UNIX_MILLIS} %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "1718378161123 e\n",
           "L1: ts=R:2024-06-14T15:16:01.123000Z message=S:e\n");
    o = layout("%d{EEE, d MMMM yyyy h:mm a} %m", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "Fri, 14 June 2024 3:16 PM afternoon\n",
           "L1: ts=R:2024-06-14T15:16:00.000000Z message=S:afternoon\n");
}

static void log4j_presets_and_time_only_dates(void **state)
{
    (void)state;
    /* logback's default has no date: the file's (2024-07-01 00:30 UTC) */
    struct sl_format_opts o = layout("logback", "UTC", REF_JULY + 1800);
    expect(&sl_format_log4j, &o,
           "23:59:59.999 [main] INFO  c.e.App - before midnight\n"
           "00:00:01.000 [main] DEBUG c.e.App - after\n",
           "L1: ts=R:2024-06-30T23:59:59.999000Z thread=S:main level=S:INFO logger=S:c.e.App"
           " message=S:before midnight\n"
           "L2: ts=R:2024-07-01T00:00:01.000000Z thread=S:main level=S:DEBUG logger=S:c.e.App"
           " message=S:after\n");
    o = layout("spring-boot", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o,
           "2024-06-14T15:16:01.123+02:00  INFO 4242 --- [           main]"
           " o.s.b.w.e.tomcat.TomcatWebServer        : Tomcat started on port 8080\n",
           "L1: ts=R:2024-06-14T13:16:01.123000Z level=S:INFO pid=N:4242 thread=S:main"
           " logger=S:o.s.b.w.e.tomcat.TomcatWebServer message=S:Tomcat started on port 8080\n");
    o = layout("log4j-ttcc", "UTC", REF_JULY);
    expect(&sl_format_log4j, &o, "176 [main] INFO  org.apache.log4j.examples.Sort  - Populating\n",
           "L1: relative=N:176 thread=S:main level=S:INFO logger=S:org.apache.log4j.examples.Sort"
           " ndc=S: message=S:Populating\n");
}

static void log4j_layout_errors_say_what(void **state)
{
    (void)state;
    struct sl_err err;
    const char *bad[][2] = {
        {"%d %q %m", "layout \"%d %q %m\": unknown conversion %q (at character 4)"},
        {"%d{yyyy-ww} %m", "layout \"%d{yyyy-ww} %m\": date pattern \"yyyy-ww\": letter 'w' is not"
                           " supported"},
        {"%c %logger %m", "layout \"%c %logger %m\": column \"logger\" comes from two"
                          " conversions; keep one"},
        {"%d{HH %m", "layout \"%d{HH %m\": unterminated { (at character 3)"},
        {"just text", "layout \"just text\" has no conversion (such as %d or %m)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_format_opts o = layout(bad[i][0], NULL, 0);
        sl_err_clear(&err);
        assert_int_equal(sl_format_log4j.check(&o, &err), -1);
        assert_int_equal(err.code, SL_E_CONFIG);
        assert_string_equal(err.msg, bad[i][1]);
    }
    struct sl_format_opts none = layout(NULL, NULL, 0);
    assert_int_equal(sl_format_log4j.check(&none, &err), -1);
    assert_non_null(strstr(err.msg, "needs `layout:`"));
}

/* ---- regex ---- */

static void regex_named_groups_are_the_columns(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    o.regex = "(?<ts>\\S+ \\S+) (?<level>[A-Z]+)(?: user=(?<user>\\w+))? (?<msg>.*)";
    expect(&sl_format_regex, &o,
           "2024-01-01 10:00:00 INFO user=bob hello there\n"
           "2024-01-01 10:00:01 WARN no user\n"
           "not matching\n"
           "2024-01-01 10:00:02 info lower case is no level\n",
           "L1: ts=R:2024-01-01 10:00:00 level=R:INFO user=R:bob msg=R:hello there\n"
           "L2: ts=R:2024-01-01 10:00:01 level=R:WARN msg=R:no user\n"
           "ERR drops/t.log:3:1: the line does not match the regex | not matching\n"
           "ERR drops/t.log:4:1: the line does not match the regex | 2024-01-01 10:00:02"
           " info lower case is no level\n");
    /* multiline.start */
    o.regex = "(?s)(?<n>\\d+): (?<body>.*)";
    o.multiline_start = "\\d+:";
    expect(&sl_format_regex, &o, "1: a\n  b\n2: c\n",
           "L1: n=R:1 body=R:a\n  b\nL3: n=R:2 body=R:c\n");
}

static void regex_errors_at_check(void **state)
{
    (void)state;
    struct sl_err err;
    struct sl_format_opts o = {0};
    o.regex = "(?<a>x";
    assert_int_equal(sl_format_regex.check(&o, &err), -1);
    assert_non_null(strstr(err.msg, "regex \"(?<a>x\": missing closing parenthesis"));
    o.regex = "(\\d+) (.*)";
    assert_int_equal(sl_format_regex.check(&o, &err), -1);
    assert_non_null(strstr(err.msg, "has no named group"));
    o.regex = "(?<lineno>\\d+) (?<m>.*)";
    assert_int_equal(sl_format_regex.check(&o, &err), -1);
    assert_string_equal(err.msg, "column \"lineno\" is the line each record starts on; name the"
                                 " regex column otherwise");
    o.regex = "(?<m>.*)";
    o.multiline_start = "[";
    assert_int_equal(sl_format_regex.check(&o, &err), -1);
    assert_non_null(strstr(err.msg, "multiline start \"[\": missing terminating ]"));
}

/* ---- what logread does for every format ---- */

static void records_over_max_record_are_refused_and_skipped(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    o.regex = "(?<m>.*)";
    o.max_record = 16;
    expect(&sl_format_regex, &o,
           "short\nthis line is much longer than sixteen bytes\nok again\n",
           "L1: m=R:short\n"
           "ERR drops/t.log:2:1: record longer than 16 bytes (max_record); split the record or"
           " raise max_record | this line is muc\n"
           "L3: m=R:ok again\n");
    /* a long multi-line syslog record: its continuation lines go with it */
    struct sl_format_opts s = opts_zone("UTC", REF_JULY);
    s.max_record = 40;
    expect(&sl_format_syslog, &s,
           "Jun 14 15:16:01 h a: one\n  and a very long continuation line here\n  more\n"
           "Jun 14 15:16:02 h a: two\n",
           "ERR drops/t.log:1:1: record longer than 40 bytes (max_record); split the record"
           " or raise max_record | Jun 14 15:16:01 h a: one\n  and a very lo\n"
           "L4: ts=R:2024-06-14T15:16:02.000000Z host=R:h app=R:a message=S:two\n");
    /* a short record before a long one: each alone is within max_record */
    expect(&sl_format_syslog, &s,
           "Jun 14 15:16:01 h a: one\nJun 14 15:16:02 h a: xxxxxxxxxxxxxxx\n",
           "L1: ts=R:2024-06-14T15:16:01.000000Z host=R:h app=R:a message=S:one\n"
           "L2: ts=R:2024-06-14T15:16:02.000000Z host=R:h app=R:a message=S:xxxxxxxxxxxxxxx\n");
}

static void over_long_records_keep_their_first_64_kib(void **state)
{
    (void)state;
    size_t big = (size_t)200 << 10;
    char *in = sl_malloc(big + 16);
    struct sl_stream *st;
    struct sl_reader *rd;
    struct sl_record rec;
    struct sl_err err;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    const char *t;
    size_t tn;
    long tl, ti;
    o.regex = "(?<m>.*)";
    o.max_record = (size_t)128 << 10;
    memset(in, 'y', big);
    memcpy(in + big, "\nnext\n", 6);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, big + 6, 0, &err), 0);
    assert_int_equal(sl_format_regex.open(&rd, st, &o, &err), 0);
    assert_int_equal(sl_format_regex.next(rd, &rec, &err), -1);
    assert_int_equal(sl_format_regex.raw(rd, &t, &tn, &tl, &ti), 1);
    assert_int_equal(tn, (size_t)64 << 10);
    assert_int_equal(sl_format_regex.next(rd, &rec, &err), 1);
    assert_int_equal(rec.line, 2);
    sl_format_regex.close(rd);
    sl_stream_close(st);
    sl_free(in);
}

static void huge_records_load_whole(void **state)
{
    (void)state;
    size_t big = (size_t)3 << 20;
    char *in = sl_malloc(big + 64);
    struct sl_stream *st;
    struct sl_reader *rd;
    struct sl_record rec;
    struct sl_err err;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    int n = snprintf(in, 64, "Jun 14 15:16:01 h a: ");
    memset(in + n, 'x', big);
    memcpy(in + n + big, "\nJun 14 15:16:02 h a: next\n", 27);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, (size_t)n + big + 27, 4096, &err), 0);
    assert_int_equal(sl_format_syslog.open(&rd, st, &o, &err), 0);
    assert_int_equal(sl_format_syslog.next(rd, &rec, &err), 1);
    assert_int_equal(rec.fields[7].len, big);
    assert_int_equal(sl_format_syslog.next(rd, &rec, &err), 1);
    assert_int_equal(rec.line, 2);
    assert_int_equal(sl_format_syslog.next(rd, &rec, &err), 0);
    sl_format_syslog.close(rd);
    sl_stream_close(st);
    sl_free(in);
}

static void invalid_utf8_bom_crlf_and_blank_lines(void **state)
{
    (void)state;
    struct sl_format_opts o = opts_zone("UTC", REF_JULY);
    o.regex = "(?<m>.+)";
    static const char in[] =
        "\xEF\xBB\xBF" "first\r\n\r\n   \nbad \xC3\x28 byte\nnul \0 byte\n\xC3\xA9" "t\xC3\xA9\n";
    expect_len(&sl_format_regex, &o, in, sizeof in - 1,
           "L1: m=R:first\n"
           "ERR drops/t.log:4:5: invalid UTF-8 | bad \xC3\x28 byte\n"
           "ERR drops/t.log:5:5: a NUL byte | nul \n"
           "L6: m=R:\xC3\xA9" "t\xC3\xA9\n");
}

static void columns_are_known_before_any_record(void **state)
{
    (void)state;
    struct sl_stream *st;
    struct sl_reader *rd;
    struct sl_err err;
    const struct sl_field *f;
    struct sl_format_opts o = {0};
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, "", 0, 0, &err), 0);
    assert_int_equal(sl_format_combined.open(&rd, st, &o, &err), 0);
    size_t n = sl_format_combined.columns(rd, &f);
    assert_int_equal(n, 12);
    assert_string_equal(f[0].name, "ts");
    assert_string_equal(f[10].name, "user_agent");
    assert_string_equal(f[11].name, "lineno");
    sl_format_combined.close(rd);
    sl_stream_close(st);
}

/* ---- Java date patterns (base/time.c) ---- */

static void datepat_match_and_civil_fill(void **state)
{
    (void)state;
    struct sl_datepat p;
    struct sl_civil c;
    char why[200];
    sl_usec t;
    char out[32];

    assert_int_equal(sl_datepat_compile("yyyyMMddHHmmssSSS", &p, why, sizeof why), 0);
    assert_int_equal(sl_datepat_match(&p, "20240614151601123 x", 19, &c), 17);
    assert_int_equal(c.year, 2024);
    assert_int_equal(c.mon, 6);
    assert_int_equal(c.usec, 123000);
    assert_int_equal(sl_datepat_compile("'at' HH 'o''clock'", &p, why, sizeof why), 0);
    assert_int_equal(sl_datepat_match(&p, "at 07 o'clock", 13, &c), 13);
    assert_int_equal(c.hour, 7);
    assert_int_equal(c.has_date, 0);
    assert_int_equal(sl_datepat_compile("yyyy 'open", &p, why, sizeof why), -1);
    assert_string_equal(why, "date pattern \"yyyy 'open\": unterminated quote");
    /* a Feb 29 line read in a non-leap year the file was written in */
    memset(&c, 0, sizeof c);
    c.mon = 2;
    c.day = 29;
    c.has_date = 1;
    assert_int_equal(sl_civil_to_utc(&c, "UTC", INT64_C(1740000000), 0, 0, &t, why, sizeof why),
                     -1);
    assert_string_equal(why, "invalid date 2025-02-29");
    assert_int_equal(sl_civil_to_utc(&c, "UTC", INT64_C(1709300000), 0, 0, &t, why, sizeof why),
                     0);
    sl_time_format(t, out);
    assert_string_equal(out, "2024-02-29T00:00:00.000000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syslog_rfc3164_priority_host_and_pid),
        cmocka_unit_test(syslog_rfc3164_as_files_and_local_senders_write_it),
        cmocka_unit_test(syslog_rfc5424_structured_data_as_json),
        cmocka_unit_test(syslog_new_year_rolls_the_year_back),
        cmocka_unit_test(syslog_dst_overlap_read_in_log_order),
        cmocka_unit_test(syslog_dst_gap_and_unordered_overlap_are_refused),
        cmocka_unit_test(syslog_continuation_lines_join_their_record),
        cmocka_unit_test(syslog_rfc5424_errors_name_the_part),
        cmocka_unit_test(combined_line_with_nulls_and_escapes),
        cmocka_unit_test(clf_and_combined_tell_each_other_apart),
        cmocka_unit_test(log4j_conversions_padding_and_stack_traces),
        cmocka_unit_test(log4j_date_patterns),
        cmocka_unit_test(log4j_presets_and_time_only_dates),
        cmocka_unit_test(log4j_layout_errors_say_what),
        cmocka_unit_test(regex_named_groups_are_the_columns),
        cmocka_unit_test(regex_errors_at_check),
        cmocka_unit_test(records_over_max_record_are_refused_and_skipped),
        cmocka_unit_test(over_long_records_keep_their_first_64_kib),
        cmocka_unit_test(huge_records_load_whole),
        cmocka_unit_test(invalid_utf8_bom_crlf_and_blank_lines),
        cmocka_unit_test(columns_are_known_before_any_record),
        cmocka_unit_test(datepat_match_and_civil_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
