/* tests/unit/test_log.c: log lines (base/log.c) as written to stderr, text
 * and JSON: a value holding a newline or another control character stays
 * inside its line (no forged lines), JSON lines parse back to the values, and
 * passwords in a message are redacted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/log.h"

static char captured[16384];

/* Run one sl_log call with stderr sent to a file; the bytes it wrote. */
#define CAPTURE(call)                                                           \
    do {                                                                        \
        FILE *tmp_ = tmpfile();                                                 \
        assert_non_null(tmp_);                                                  \
        fflush(stderr);                                                         \
        int saved_ = dup(2);                                                    \
        assert_true(saved_ >= 0);                                               \
        assert_true(dup2(fileno(tmp_), 2) >= 0);                                \
        call;                                                                   \
        fflush(stderr);                                                         \
        assert_true(dup2(saved_, 2) >= 0);                                      \
        close(saved_);                                                          \
        rewind(tmp_);                                                           \
        size_t n_ = fread(captured, 1, sizeof captured - 1, tmp_);              \
        captured[n_] = '\0';                                                    \
        fclose(tmp_);                                                           \
    } while (0)

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static const char forged_table[] = "orders\n2030-01-01T00:00:00Z error table=x: forged";

static void text_escapes_control_characters(void **state)
{
    (void)state;
    struct sl_log_ctx ctx = {"p\rq", forged_table, 7};
    sl_log_set_format(0);
    CAPTURE(sl_log(SL_LOG_WARN, &ctx, "file %s: esc\x1b[31m del\x7f tab\t nul-ish\x01 end",
                   "drops/a\nb.csv"));
    /* one line, the newline its own */
    assert_int_equal(count_char(captured, '\n'), 1);
    assert_int_equal(captured[strlen(captured) - 1], '\n');
    assert_null(strchr(captured, '\r'));
    assert_null(strchr(captured, '\x1b'));
    assert_null(strchr(captured, '\x7f'));
    assert_null(strchr(captured, '\t'));
    assert_non_null(strstr(captured, " warning pipeline=p\\rq table=orders\\n2030-01-01T00:00:00Z "
                                     "error table=x: forged batch=7: file drops/a\\nb.csv: "
                                     "esc\\x1b[31m del\\x7f tab\\t nul-ish\\x01 end\n"));
}

static void text_escapes_bad_utf8_and_line_separators(void **state)
{
    (void)state;
    sl_log_set_format(0);
    /* é kept; a stray byte, NEL (U+0085) and LINE SEPARATOR (U+2028) escaped */
    CAPTURE(sl_log(SL_LOG_INFO, NULL, "caf\xc3\xa9 bad\xff nel\xc2\x85 ls\xe2\x80\xa8 end"));
    assert_non_null(strstr(captured, ": caf\xc3\xa9 bad\\xff nel\\u0085 ls\\u2028 end\n"));
    assert_int_equal(count_char(captured, '\n'), 1);
}

static void json_lines_parse_back(void **state)
{
    (void)state;
    struct sl_log_ctx ctx = {"pipe\"line\\", forged_table, 42};
    sl_log_set_format(1);
    CAPTURE(sl_log(SL_LOG_ERROR, &ctx, "quote \" backslash \\ nl\n cr\r tab\t bell\x07 del\x7f "
                   "nel\xc2\x85 caf\xc3\xa9"));
    sl_log_set_format(0);
    assert_int_equal(count_char(captured, '\n'), 1);
    /* proper JSON escapes, DEL and C1 included */
    assert_non_null(strstr(captured, "nl\\n cr\\r tab\\t bell\\u0007 del\\u007f nel\\u0085 "));
    assert_null(strchr(captured, '\x7f'));

    json_error_t je;
    json_t *o = json_loads(captured, 0, &je);
    if (!o)
        fail_msg("not JSON: %s: %s", je.text, captured);
    assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(o, "pipeline")), "pipe\"line\\");
    assert_string_equal(json_string_value(json_object_get(o, "table")), forged_table);
    assert_int_equal(json_integer_value(json_object_get(o, "batch")), 42);
    assert_string_equal(json_string_value(json_object_get(o, "msg")),
                        "quote \" backslash \\ nl\n cr\r tab\t bell\x07 del\x7f nel\xc2\x85 "
                        "caf\xc3\xa9");
    assert_non_null(json_string_value(json_object_get(o, "ts")));
    json_decref(o);
}

static void json_line_with_bad_utf8_still_parses(void **state)
{
    (void)state;
    struct sl_log_ctx ctx = {NULL, "t\xff", 0};
    sl_log_set_format(1);
    CAPTURE(sl_log(SL_LOG_INFO, &ctx, "file b\xfe\xc3.csv"));
    sl_log_set_format(0);
    json_t *o = json_loads(captured, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "table")), "t\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(o, "msg")),
                        "file b\xef\xbf\xbd\xef\xbf\xbd.csv");
    assert_null(json_object_get(o, "batch"));
    assert_null(json_object_get(o, "pipeline"));
    json_decref(o);
}

static void messages_are_redacted(void **state)
{
    (void)state;
    sl_log_set_format(0);
    CAPTURE(sl_log(SL_LOG_ERROR, NULL, "could not connect to %s: %s",
                   "postgresql://u:Hunter2x@h/db?password=Zz9pass", "host=h password='a b'"));
    assert_null(strstr(captured, "Hunter2x"));
    assert_null(strstr(captured, "Zz9pass"));
    assert_null(strstr(captured, "a b"));
    assert_non_null(strstr(captured, "postgresql://u:***@h/db?password=*** host=h password='***'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_escapes_control_characters),
        cmocka_unit_test(text_escapes_bad_utf8_and_line_separators),
        cmocka_unit_test(json_lines_parse_back),
        cmocka_unit_test(json_line_with_bad_utf8_still_parses),
        cmocka_unit_test(messages_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
