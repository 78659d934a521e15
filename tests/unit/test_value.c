/* tests/unit/test_value.c: column types, canonical values, inference, time
 * zones and durations (base/value.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/value.h"

static struct sl_buf out;

static const struct sl_valctx utc = {NULL, SL_DST_FAIL, SL_EPOCH_NONE};
static const struct sl_valctx ny = {"America/New_York", SL_DST_FAIL, SL_EPOCH_NONE};
static const struct sl_valctx ny_earlier = {"America/New_York", SL_DST_EARLIER, SL_EPOCH_NONE};
static const struct sl_valctx ny_later = {"America/New_York", SL_DST_LATER, SL_EPOCH_NONE};

/* The canonical text, "NULL", or "ERR: <reason>". */
static const char *canon_n(enum sl_type t, const char *s, size_t n, enum sl_lex lex,
                           const struct sl_valctx *ctx)
{
    static char res[4096];
    char why[256] = "";
    sl_buf_reset(&out);
    sl_buf_puts(&out, "");          /* make sure out.data exists */
    int rc = sl_value_canon(t, s, n, lex, ctx, &out, why, sizeof why);
    if (rc == 1)
        snprintf(res, sizeof res, "NULL");
    else if (rc < 0)
        snprintf(res, sizeof res, "ERR: %s", why);
    else
        snprintf(res, sizeof res, "%s", out.data);
    if (rc != 0)
        assert_int_equal(out.len, 0);   /* nothing half-written */
    return res;
}

static const char *canon_ctx(enum sl_type t, const char *s, const struct sl_valctx *ctx)
{
    return canon_n(t, s, strlen(s), SL_LEX_RAW, ctx);
}

static const char *canon(enum sl_type t, const char *s)
{
    return canon_n(t, s, strlen(s), SL_LEX_RAW, &utc);
}

static const char *canon_lex(enum sl_type t, const char *s, enum sl_lex lex)
{
    return canon_n(t, s, strlen(s), lex, &utc);
}

static const char *ts(const char *s, const struct sl_valctx *ctx)
{
    return canon_ctx(SL_T_TIMESTAMPTZ, s, ctx);
}

static int teardown(void **state)
{
    (void)state;
    sl_buf_free(&out);
    return 0;
}

/* ---- names ---- */

static void type_names_round_trip_and_aliases_resolve(void **state)
{
    (void)state;
    enum sl_type t;
    for (int i = SL_T_BOOL; i < SL_T__COUNT; i++) {
        assert_int_equal(sl_type_from_name(sl_type_name((enum sl_type)i), &t), 0);
        assert_int_equal(t, i);
    }
    static const struct { const char *name; enum sl_type t; } cases[] = {
        {"boolean", SL_T_BOOL}, {"INT", SL_T_BIGINT}, {"integer", SL_T_BIGINT},
        {"int4", SL_T_BIGINT}, {"Int8", SL_T_BIGINT}, {"smallint", SL_T_BIGINT},
        {"long", SL_T_BIGINT}, {"decimal", SL_T_NUMERIC}, {"float", SL_T_DOUBLE},
        {"float8", SL_T_DOUBLE}, {"real", SL_T_DOUBLE}, {"Double Precision", SL_T_DOUBLE},
        {"timestamp", SL_T_TIMESTAMPTZ}, {"datetime", SL_T_TIMESTAMPTZ},
        {"timestamp with time zone", SL_T_TIMESTAMPTZ}, {"JSONB", SL_T_JSON},
        {"string", SL_T_TEXT}, {"varchar", SL_T_TEXT}, {"character varying", SL_T_TEXT},
        {"char", SL_T_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(sl_type_from_name(cases[i].name, &t), 0);
        assert_int_equal(t, cases[i].t);
    }
    assert_string_equal(sl_type_name(SL_T_TIMESTAMPTZ), "timestamptz");
    assert_string_equal(sl_type_name(SL_T_DOUBLE), "double");
}

static void unknown_type_name_is_rejected(void **state)
{
    (void)state;
    enum sl_type t = SL_T_NONE;
    assert_int_equal(sl_type_from_name("blob", &t), -1);
    assert_int_equal(sl_type_from_name("", &t), -1);
    assert_int_equal(sl_type_from_name("int ", &t), -1);
    assert_int_equal(sl_type_from_name("double  precision", &t), -1);
    assert_int_equal(sl_type_from_name("in", &t), -1);
    assert_int_equal(sl_type_from_name(NULL, &t), -1);
    assert_int_equal(t, SL_T_NONE);
}

/* ---- NULL ---- */

static void empty_raw_value_is_null_for_every_type_but_text(void **state)
{
    (void)state;
    for (int t = SL_T_BOOL; t < SL_T__COUNT; t++) {
        if (t == SL_T_TEXT)
            assert_string_equal(canon((enum sl_type)t, ""), "");
        else
            assert_string_equal(canon((enum sl_type)t, ""), "NULL");
    }
}

static void non_empty_or_json_string_values_are_never_null(void **state)
{
    (void)state;
    assert_string_equal(canon_lex(SL_T_BIGINT, "", SL_LEX_STRING), "ERR: not an integer");
    assert_string_equal(canon_lex(SL_T_TEXT, "", SL_LEX_STRING), "");
    assert_string_equal(canon_lex(SL_T_JSON, "", SL_LEX_STRING), "\"\"");
    assert_string_equal(canon(SL_T_BIGINT, " "), "ERR: not an integer");
    assert_string_equal(canon(SL_T_DATE, "NULL"), "ERR: not a date");
}

/* ---- bool ---- */

static void bool_accepts_common_spellings_case_insensitively(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "True", "t", "T", "yes", "Y", "on", "ON", "1"};
    const char *no[] = {"false", "FALSE", "f", "F", "no", "N", "off", "Off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_string_equal(canon(SL_T_BOOL, yes[i]), "true");
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_string_equal(canon(SL_T_BOOL, no[i]), "false");
    assert_string_equal(canon_lex(SL_T_BOOL, "true", SL_LEX_BOOL), "true");
    assert_string_equal(canon_lex(SL_T_BOOL, "0", SL_LEX_NUMBER), "false");
}

static void bool_rejects_other_words(void **state)
{
    (void)state;
    const char *bad[] = {"2", "tru", "truee", "yess", " true", "true ", "-1", "nope", "o"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(canon(SL_T_BOOL, bad[i]), "ERR: not a boolean");
    assert_string_equal(canon_lex(SL_T_BOOL, "{}", SL_LEX_JSON), "ERR: a json object is not a bool");
}

/* ---- bigint ---- */

static void bigint_drops_plus_and_leading_zeros(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_BIGINT, "42"), "42");
    assert_string_equal(canon(SL_T_BIGINT, "-42"), "-42");
    assert_string_equal(canon(SL_T_BIGINT, "+42"), "42");
    assert_string_equal(canon(SL_T_BIGINT, "007"), "7");
    assert_string_equal(canon(SL_T_BIGINT, "-007"), "-7");
    assert_string_equal(canon(SL_T_BIGINT, "0"), "0");
    assert_string_equal(canon(SL_T_BIGINT, "-0"), "0");
    assert_string_equal(canon(SL_T_BIGINT, "000"), "0");
    assert_string_equal(canon_lex(SL_T_BIGINT, "17", SL_LEX_NUMBER), "17");
    assert_string_equal(canon_lex(SL_T_BIGINT, "17", SL_LEX_STRING), "17");
}

static void bigint_rejects_whitespace_decimals_and_exponents(void **state)
{
    (void)state;
    const char *bad[] = {" 1", "1 ", "1.0", "1.", ".1", "1e3", "1E3", "0x10", "+", "-",
                         "--1", "1-", "１", "12a", "true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(canon(SL_T_BIGINT, bad[i]), "ERR: not an integer");
    assert_string_equal(canon_lex(SL_T_BIGINT, "1.0", SL_LEX_NUMBER), "ERR: not an integer");
    assert_string_equal(canon_lex(SL_T_BIGINT, "1e3", SL_LEX_NUMBER), "ERR: not an integer");
    assert_string_equal(canon_lex(SL_T_BIGINT, "true", SL_LEX_BOOL), "ERR: not an integer");
}

static void bigint_range_is_exactly_int64(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_BIGINT, "9223372036854775807"), "9223372036854775807");
    assert_string_equal(canon(SL_T_BIGINT, "-9223372036854775808"), "-9223372036854775808");
    assert_string_equal(canon(SL_T_BIGINT, "0009223372036854775807"), "9223372036854775807");
    assert_string_equal(canon(SL_T_BIGINT, "9223372036854775808"),
                        "ERR: integer out of range for bigint");
    assert_string_equal(canon(SL_T_BIGINT, "-9223372036854775809"),
                        "ERR: integer out of range for bigint");
    assert_string_equal(canon(SL_T_BIGINT, "99999999999999999999999"),
                        "ERR: integer out of range for bigint");
}

/* ---- numeric ---- */

static void numeric_keeps_digits_exactly(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_NUMERIC, "12.30"), "12.30");
    assert_string_equal(canon(SL_T_NUMERIC, "-12.30"), "-12.30");
    assert_string_equal(canon(SL_T_NUMERIC, "+12.30"), "12.30");
    assert_string_equal(canon(SL_T_NUMERIC, "0.1"), "0.1");
    assert_string_equal(canon(SL_T_NUMERIC, ".5"), "0.5");
    assert_string_equal(canon(SL_T_NUMERIC, "-.5"), "-0.5");
    assert_string_equal(canon(SL_T_NUMERIC, "5."), "5");
    assert_string_equal(canon(SL_T_NUMERIC, "007.50"), "7.50");
    assert_string_equal(canon(SL_T_NUMERIC, "-0.00"), "0.00");
    assert_string_equal(canon(SL_T_NUMERIC, "123456789012345678901234567890.123456789012345678901"),
                        "123456789012345678901234567890.123456789012345678901");
    assert_string_equal(canon_lex(SL_T_NUMERIC, "3.14", SL_LEX_NUMBER), "3.14");
}

static void numeric_expands_exponents_exactly(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_NUMERIC, "1.5e3"), "1500");
    assert_string_equal(canon(SL_T_NUMERIC, "1e-3"), "0.001");
    assert_string_equal(canon(SL_T_NUMERIC, "1E3"), "1000");
    assert_string_equal(canon(SL_T_NUMERIC, "1.50e1"), "15.0");
    assert_string_equal(canon(SL_T_NUMERIC, "12.30e-1"), "1.230");
    assert_string_equal(canon(SL_T_NUMERIC, "123e-1"), "12.3");
    assert_string_equal(canon(SL_T_NUMERIC, "123e-3"), "0.123");
    assert_string_equal(canon(SL_T_NUMERIC, "123e-5"), "0.00123");
    assert_string_equal(canon(SL_T_NUMERIC, "0.001e3"), "1");
    assert_string_equal(canon(SL_T_NUMERIC, "0.00120e2"), "0.120");
    assert_string_equal(canon(SL_T_NUMERIC, "0e5"), "0");
    assert_string_equal(canon(SL_T_NUMERIC, "-0e5"), "0");
    assert_string_equal(canon(SL_T_NUMERIC, "-2.5e+2"), "-250");
    assert_string_equal(canon(SL_T_NUMERIC, ".5e1"), "5");
    assert_string_equal(canon(SL_T_NUMERIC, "1e0"), "1");
    assert_string_equal(canon_lex(SL_T_NUMERIC, "2.5E-2", SL_LEX_NUMBER), "0.025");
    const char *big = canon(SL_T_NUMERIC, "1e1000");
    assert_int_equal(strlen(big), 1001);
    assert_int_equal(big[0], '1');
    assert_int_equal(strspn(big + 1, "0"), 1000);
    const char *small = canon(SL_T_NUMERIC, "1e-1000");
    assert_int_equal(strlen(small), 1002);
    assert_memory_equal(small, "0.000", 5);
    assert_int_equal(small[1001], '1');
}

static void numeric_rejects_huge_exponents_and_junk(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_NUMERIC, "1e1001"), "ERR: numeric exponent out of range");
    assert_string_equal(canon(SL_T_NUMERIC, "1e-1001"), "ERR: numeric exponent out of range");
    assert_string_equal(canon(SL_T_NUMERIC, "1e99999999999999999999"),
                        "ERR: numeric exponent out of range");
    const char *bad[] = {".", "-", "+", "e5", "1e", "1e+", "1.2.3", "NaN", "Infinity", " 1",
                         "1 ", "1,5", "0x1p3", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(canon(SL_T_NUMERIC, bad[i]), "ERR: not a number");
}

/* ---- double ---- */

static void double_keeps_number_as_written_and_names_specials(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_DOUBLE, "3.14"), "3.14");
    assert_string_equal(canon(SL_T_DOUBLE, "-2.50"), "-2.50");
    assert_string_equal(canon(SL_T_DOUBLE, "1e5"), "1e5");
    assert_string_equal(canon(SL_T_DOUBLE, "1.5E+05"), "1.5e5");
    assert_string_equal(canon(SL_T_DOUBLE, "6.02e-023"), "6.02e-23");
    assert_string_equal(canon(SL_T_DOUBLE, "+1"), "1");
    assert_string_equal(canon(SL_T_DOUBLE, ".5"), "0.5");
    assert_string_equal(canon(SL_T_DOUBLE, "5."), "5");
    assert_string_equal(canon(SL_T_DOUBLE, "-0"), "-0");
    assert_string_equal(canon(SL_T_DOUBLE, "1e0"), "1e0");
    assert_string_equal(canon(SL_T_DOUBLE, "4.9e-324"), "4.9e-324");     /* denormal */
    assert_string_equal(canon(SL_T_DOUBLE, "1.7976931348623157e308"), "1.7976931348623157e308");
    assert_string_equal(canon(SL_T_DOUBLE, "NaN"), "NaN");
    assert_string_equal(canon(SL_T_DOUBLE, "nan"), "NaN");
    assert_string_equal(canon(SL_T_DOUBLE, "Infinity"), "Infinity");
    assert_string_equal(canon(SL_T_DOUBLE, "inf"), "Infinity");
    assert_string_equal(canon(SL_T_DOUBLE, "+INF"), "Infinity");
    assert_string_equal(canon(SL_T_DOUBLE, "-infinity"), "-Infinity");
    assert_string_equal(canon(SL_T_DOUBLE, "-Inf"), "-Infinity");
    assert_string_equal(canon_lex(SL_T_DOUBLE, "1e300", SL_LEX_NUMBER), "1e300");
}

static void double_rejects_out_of_range_and_non_decimal_forms(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_DOUBLE, "1e309"), "ERR: double out of range");
    assert_string_equal(canon(SL_T_DOUBLE, "-1e400"), "ERR: double out of range");
    assert_string_equal(canon(SL_T_DOUBLE, "1e-400"), "ERR: double out of range");
    assert_string_equal(canon(SL_T_DOUBLE, "0e-400"), "0e-400");
    const char *bad[] = {"0x1p3", "0x10", "1,5", "infinit", "nan(1)", "-nan", " 1", "1 ",
                         "e3", "1e", ".", "1d", "1f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(canon(SL_T_DOUBLE, bad[i]), "ERR: not a number");
}

/* ---- date ---- */

static void date_accepts_valid_calendar_days_only(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_DATE, "2024-02-29"), "2024-02-29");
    assert_string_equal(canon(SL_T_DATE, "2000-02-29"), "2000-02-29");
    assert_string_equal(canon(SL_T_DATE, "0001-01-01"), "0001-01-01");
    assert_string_equal(canon(SL_T_DATE, "9999-12-31"), "9999-12-31");
    assert_string_equal(canon_lex(SL_T_DATE, "2024-06-30", SL_LEX_STRING), "2024-06-30");
    assert_string_equal(canon(SL_T_DATE, "2023-02-29"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "1900-02-29"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "2024-04-31"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "2024-13-01"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "2024-00-10"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "2024-01-00"), "ERR: invalid date");
    assert_string_equal(canon(SL_T_DATE, "0000-01-01"), "ERR: invalid date");
    const char *bad[] = {"2024-1-01", "2024/01/01", "20240101", "2024-01-01T00:00:00",
                         "2024-01-01 ", "24-01-01", "abcd-ef-gh", "12345-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(canon(SL_T_DATE, bad[i]), "ERR: not a date");
}

/* ---- timestamps ---- */

static void timestamptz_utc_forms_are_canonical(void **state)
{
    (void)state;
    const char *want = "2024-05-06T07:08:09.000000Z";
    const char *forms[] = {"2024-05-06T07:08:09Z", "2024-05-06 07:08:09Z", "2024-05-06t07:08:09z",
                           "2024-05-06 07:08:09 UTC", "2024-05-06 07:08:09 GMT",
                           "2024-05-06T07:08:09+00", "2024-05-06T07:08:09+00:00",
                           "2024-05-06T07:08:09-0000", "2024-05-06 07:08:09",
                           "2024-05-06T07:08:09.000Z"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        assert_string_equal(ts(forms[i], &utc), want);
    assert_string_equal(ts("2024-05-06 07:08", &utc), "2024-05-06T07:08:00.000000Z");
    assert_string_equal(ts("2024-05-06", &utc), "2024-05-06T00:00:00.000000Z");
    assert_string_equal(ts("2024-05-06T07:08Z", &utc), "2024-05-06T07:08:00.000000Z");
    const struct sl_valctx etc_utc = {"Etc/UTC", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-05-06 07:08:09", &etc_utc), want);
    assert_string_equal(canon_lex(SL_T_TIMESTAMPTZ, "2024-05-06T07:08:09Z", SL_LEX_STRING), want);
}

static void timestamptz_explicit_offsets_convert_to_utc(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-01-01T00:00:00+05:30", &ny), "2023-12-31T18:30:00.000000Z");
    assert_string_equal(ts("2024-01-01T00:00:00+0530", &ny), "2023-12-31T18:30:00.000000Z");
    assert_string_equal(ts("2024-01-01 00:00-08", &ny), "2024-01-01T08:00:00.000000Z");
    assert_string_equal(ts("2024-12-31 23:30:00 -01:00", &ny), "2025-01-01T00:30:00.000000Z");
    assert_string_equal(ts("2024-03-10 02:30:00-05", &ny), "2024-03-10T07:30:00.000000Z");
    assert_string_equal(ts("2024-01-01T00:00:00+14:00", &utc), "2023-12-31T10:00:00.000000Z");
    assert_string_equal(ts("2024-01-01T00:00:00+19:00", &utc), "ERR: time zone offset out of range");
    assert_string_equal(ts("2024-01-01T00:00:00+05:60", &utc), "ERR: time zone offset out of range");
    const char *bad[] = {"2024-01-01T00:00:00+5", "2024-01-01T00:00:00+053", "2024-01-01T00:00:00+05:3",
                         "2024-01-01T00:00:00+05:30:00", "2024-01-01T00:00:00 ", "2024-01-01T00:00:00ZZ",
                         "2024-01-01T00:00:00 EST", "2024-01-01T00:00:00UTC+1", "2024-01-01Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(ts(bad[i], &utc), "ERR: not a timestamp");
}

static void timestamptz_fraction_truncated_to_microseconds(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-01-01T00:00:00.5Z", &utc), "2024-01-01T00:00:00.500000Z");
    assert_string_equal(ts("2024-01-01T00:00:00,25Z", &utc), "2024-01-01T00:00:00.250000Z");
    assert_string_equal(ts("2024-01-01T00:00:00.123456Z", &utc), "2024-01-01T00:00:00.123456Z");
    assert_string_equal(ts("2024-01-01T00:00:00.1234569Z", &utc), "2024-01-01T00:00:00.123456Z");
    assert_string_equal(ts("2024-01-01T00:00:00.999999999", &utc), "2024-01-01T00:00:00.999999Z");
    assert_string_equal(ts("2024-01-01T00:00:00.0000001Z", &utc), "2024-01-01T00:00:00.000000Z");
    assert_string_equal(ts("2024-01-01T00:00:00.1234567891Z", &utc), "ERR: more than 9 fraction digits");
    assert_string_equal(ts("2024-01-01T00:00:00.Z", &utc), "ERR: not a timestamp");
    assert_string_equal(ts("2024-01-01T00:00.5Z", &utc), "ERR: not a timestamp");
}

static void timestamptz_rejects_invalid_fields(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-13-01 00:00:00", &utc), "ERR: invalid date");
    assert_string_equal(ts("2024-02-30 00:00:00", &utc), "ERR: invalid date");
    assert_string_equal(ts("2023-02-29 00:00:00", &utc), "ERR: invalid date");
    assert_string_equal(ts("0000-06-01 00:00:00", &utc), "ERR: invalid date");
    assert_string_equal(ts("2024-01-01 24:00:00", &utc), "ERR: hour out of range");
    assert_string_equal(ts("2024-01-01 12:60:00", &utc), "ERR: minute out of range");
    assert_string_equal(ts("2024-01-01 12:00:61", &utc), "ERR: second out of range");
    assert_string_equal(ts("2016-12-31 23:59:60Z", &utc), "ERR: leap second not supported");
    const char *bad[] = {"2024-01-01 1:00", "2024-01-01T", "2024-01-01 12", "2024-01-01X12:00",
                         "2024-01-01 12:00:", "2024-01-01 12:00:0", "1700000000", "yesterday",
                         "2024-01-01T12:00:00 garbage", " 2024-01-01", "2024-01-01 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(ts(bad[i], &utc), "ERR: not a timestamp");
}

static void timestamptz_before_1970_and_at_the_range_edges(void **state)
{
    (void)state;
    assert_string_equal(ts("1969-12-31T23:59:59.999999Z", &utc), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(ts("1900-01-01 00:00:00.5Z", &utc), "1900-01-01T00:00:00.500000Z");
    assert_string_equal(ts("1600-02-29T12:00:00Z", &utc), "1600-02-29T12:00:00.000000Z");
    assert_string_equal(ts("0001-01-01T00:00:00Z", &utc), "0001-01-01T00:00:00.000000Z");
    assert_string_equal(ts("9999-12-31T23:59:59.999999Z", &utc), "9999-12-31T23:59:59.999999Z");
    assert_string_equal(ts("0001-01-01T00:00:00+01:00", &utc), "ERR: timestamp out of range");
    assert_string_equal(ts("9999-12-31T23:00:00-05:00", &utc), "ERR: timestamp out of range");
    assert_string_equal(ts("2024-02-29 23:59:59", &utc), "2024-02-29T23:59:59.000000Z");

    char buf[32];
    sl_time_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    sl_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    sl_time_format(-86400 * INT64_C(1000000), buf);
    assert_string_equal(buf, "1969-12-31T00:00:00.000000Z");
    sl_time_format(INT64_MIN, buf);     /* out of the supported range: no crash */
    sl_time_format(INT64_MAX, buf);
}

static void time_format_orders_as_text(void **state)
{
    (void)state;
    /* fixed width: text order is time order, across 1970 and fractions */
    sl_usec v[] = {INT64_C(-62135596800000000), -86400000001, -1000000, -1, 0, 1, 999999,
                   1000000, INT64_C(1700000000123456), INT64_C(253402300799999999)};
    char prev[32] = "", cur[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sl_time_format(v[i], cur);
        assert_int_equal(strlen(cur), 27);
        sl_usec back;
        assert_int_equal(sl_time_parse(cur, strlen(cur), NULL, &back, NULL, 0), 0);
        assert_true(back == v[i]);
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof cur);
    }
}

static void new_york_spring_gap_fails(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-03-10 02:30", &ny),
                        "ERR: no such local time 2024-03-10 02:30:00 in America/New_York (DST gap)");
    assert_string_equal(ts("2024-03-10 02:00:00", &ny_earlier),
                        "ERR: no such local time 2024-03-10 02:00:00 in America/New_York (DST gap)");
    assert_string_equal(ts("2024-03-10 02:59:59.999", &ny_later),
                        "ERR: no such local time 2024-03-10 02:59:59 in America/New_York (DST gap)");
    assert_string_equal(ts("2024-03-10 01:59:59", &ny), "2024-03-10T06:59:59.000000Z");
    assert_string_equal(ts("2024-03-10 03:00:00", &ny), "2024-03-10T07:00:00.000000Z");
}

static void new_york_autumn_overlap_follows_the_policy(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-11-03 01:30", &ny_earlier), "2024-11-03T05:30:00.000000Z");
    assert_string_equal(ts("2024-11-03 01:30", &ny_later), "2024-11-03T06:30:00.000000Z");
    assert_string_equal(ts("2024-11-03 01:30", &ny),
                        "ERR: ambiguous local time 2024-11-03 01:30:00 in America/New_York "
                        "(DST overlap): set the timestamps policy");
    assert_string_equal(ts("2024-11-03 00:59:59", &ny), "2024-11-03T04:59:59.000000Z");
    assert_string_equal(ts("2024-11-03 02:00:00", &ny), "2024-11-03T07:00:00.000000Z");
    assert_string_equal(ts("2024-11-03 01:00:00", &ny_later), "2024-11-03T06:00:00.000000Z");
    assert_string_equal(ts("2024-11-03 01:59:59.25", &ny_earlier), "2024-11-03T05:59:59.250000Z");
    /* an explicit offset is never ambiguous */
    assert_string_equal(ts("2024-11-03 01:30-05:00", &ny), "2024-11-03T06:30:00.000000Z");
}

static void new_york_summer_and_winter_and_far_years(void **state)
{
    (void)state;
    assert_string_equal(ts("2024-07-01 12:00", &ny), "2024-07-01T16:00:00.000000Z");
    assert_string_equal(ts("2024-01-15 12:00", &ny), "2024-01-15T17:00:00.000000Z");
    assert_string_equal(ts("2024-07-01", &ny), "2024-07-01T04:00:00.000000Z");
    assert_string_equal(ts("1969-07-20 20:17:40", &ny), "1969-07-21T00:17:40.000000Z");
    /* 2006 and before: first Sunday of April */
    assert_string_equal(ts("2006-04-02 02:30", &ny),
                        "ERR: no such local time 2006-04-02 02:30:00 in America/New_York (DST gap)");
    /* past the file's table: the POSIX rule at its end */
    assert_string_equal(ts("2100-07-01 12:00", &ny), "2100-07-01T16:00:00.000000Z");
    assert_string_equal(ts("2100-03-14 02:30", &ny),
                        "ERR: no such local time 2100-03-14 02:30:00 in America/New_York (DST gap)");
    assert_string_equal(ts("2100-11-07 01:30", &ny_later), "2100-11-07T06:30:00.000000Z");
    assert_string_equal(ts("9999-12-31 12:00", &ny), "9999-12-31T17:00:00.000000Z");
    /* before standard time: local mean time, -4:56:02 */
    assert_string_equal(ts("1800-01-01 00:00", &ny), "1800-01-01T04:56:02.000000Z");
}

static void berlin_gap_and_overlap(void **state)
{
    (void)state;
    struct sl_valctx b = {"Europe/Berlin", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-01-01 12:00", &b), "2024-01-01T11:00:00.000000Z");
    assert_string_equal(ts("2024-07-01 12:00", &b), "2024-07-01T10:00:00.000000Z");
    assert_string_equal(ts("2024-03-31 02:30", &b),
                        "ERR: no such local time 2024-03-31 02:30:00 in Europe/Berlin (DST gap)");
    assert_string_equal(ts("2024-10-27 02:30", &b),
                        "ERR: ambiguous local time 2024-10-27 02:30:00 in Europe/Berlin "
                        "(DST overlap): set the timestamps policy");
    b.overlap = SL_DST_EARLIER;
    assert_string_equal(ts("2024-10-27 02:30", &b), "2024-10-27T00:30:00.000000Z");
    b.overlap = SL_DST_LATER;
    assert_string_equal(ts("2024-10-27 02:30", &b), "2024-10-27T01:30:00.000000Z");
}

static void sydney_southern_hemisphere(void **state)
{
    (void)state;
    struct sl_valctx s = {"Australia/Sydney", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-01-15 12:00", &s), "2024-01-15T01:00:00.000000Z");     /* AEDT */
    assert_string_equal(ts("2024-07-15 12:00", &s), "2024-07-15T02:00:00.000000Z");     /* AEST */
    assert_string_equal(ts("2024-10-06 02:30", &s),
                        "ERR: no such local time 2024-10-06 02:30:00 in Australia/Sydney (DST gap)");
    assert_string_equal(ts("2024-04-07 02:30", &s),
                        "ERR: ambiguous local time 2024-04-07 02:30:00 in Australia/Sydney "
                        "(DST overlap): set the timestamps policy");
    s.overlap = SL_DST_EARLIER;
    assert_string_equal(ts("2024-04-07 02:30", &s), "2024-04-06T15:30:00.000000Z");
    s.overlap = SL_DST_LATER;
    assert_string_equal(ts("2024-04-07 02:30", &s), "2024-04-06T16:30:00.000000Z");
    /* new year in summer time */
    assert_string_equal(ts("2025-01-01 00:00", &s), "2024-12-31T13:00:00.000000Z");
}

static void fractional_offset_and_zones_without_dst(void **state)
{
    (void)state;
    struct sl_valctx k = {"Asia/Kolkata", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-01-01 00:00", &k), "2023-12-31T18:30:00.000000Z");
    assert_string_equal(ts("2024-07-01 12:34:56.789", &k), "2024-07-01T07:04:56.789000Z");
    struct sl_valctx np = {"Asia/Kathmandu", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-01-01 00:00", &np), "2023-12-31T18:15:00.000000Z");
    struct sl_valctx tk = {"Asia/Tokyo", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-03-10 02:30", &tk), "2024-03-09T17:30:00.000000Z");
    assert_string_equal(ts("2024-11-03 01:30", &tk), "2024-11-02T16:30:00.000000Z");
    struct sl_valctx ph = {"America/Phoenix", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-03-10 02:30", &ph), "2024-03-10T09:30:00.000000Z");
}

static void unknown_or_unsafe_zone_names_fail(void **state)
{
    (void)state;
    struct sl_valctx bad = {"Mars/Olympus_Mons", SL_DST_FAIL, SL_EPOCH_NONE};
    assert_string_equal(ts("2024-01-01 00:00", &bad), "ERR: unknown time zone \"Mars/Olympus_Mons\"");
    /* a zone does not matter when the value says its offset */
    assert_string_equal(ts("2024-01-01 00:00Z", &bad), "2024-01-01T00:00:00.000000Z");
    assert_true(sl_tz_valid("UTC"));
    assert_true(sl_tz_valid("Etc/UTC"));
    assert_true(sl_tz_valid("America/New_York"));
    assert_true(sl_tz_valid("Asia/Kolkata"));
    assert_false(sl_tz_valid("Mars/Olympus_Mons"));
    assert_false(sl_tz_valid("../../etc/passwd"));
    assert_false(sl_tz_valid("America/../../../etc/passwd"));
    assert_false(sl_tz_valid("/usr/share/zoneinfo/UTC"));
    assert_false(sl_tz_valid(""));
    assert_false(sl_tz_valid("America"));       /* a directory */
    assert_false(sl_tz_valid("zone.tab"));      /* a file, but not TZif */
    assert_false(sl_tz_valid(NULL));
}

static void local_to_utc_reports_gap_and_overlap_directly(void **state)
{
    (void)state;
    char why[200];
    int64_t t = 0;
    assert_int_equal(sl_tz_local_to_utc("America/New_York", 2024, 11, 3, 1, 30, 0, SL_DST_EARLIER,
                                        &t, why, sizeof why), 0);
    assert_true(t == INT64_C(1730611800));
    assert_int_equal(sl_tz_local_to_utc("America/New_York", 2024, 11, 3, 1, 30, 0, SL_DST_LATER,
                                        &t, why, sizeof why), 0);
    assert_true(t == INT64_C(1730615400));
    assert_int_equal(sl_tz_local_to_utc("America/New_York", 2024, 3, 10, 2, 30, 0, SL_DST_LATER,
                                        &t, why, sizeof why), -1);
    assert_string_equal(why, "no such local time 2024-03-10 02:30:00 in America/New_York (DST gap)");
    assert_int_equal(sl_tz_local_to_utc(NULL, 1970, 1, 1, 0, 0, 1, SL_DST_FAIL, &t, why, sizeof why), 0);
    assert_true(t == 1);
    assert_int_equal(sl_tz_local_to_utc("UTC", 2023, 2, 29, 0, 0, 0, SL_DST_FAIL, &t, why, sizeof why), -1);
    assert_int_equal(sl_tz_local_to_utc("Nowhere", 2024, 1, 1, 0, 0, 0, SL_DST_FAIL, &t, NULL, 0), -1);
}

struct zone_job {
    const char *zone, *local, *want;
    int ok;
};

static void *zone_worker(void *arg)
{
    struct zone_job *j = arg;
    struct sl_valctx c = {j->zone, SL_DST_EARLIER, SL_EPOCH_NONE};
    j->ok = 1;
    for (int i = 0; i < 2000; i++) {
        sl_usec t;
        char buf[32];
        if (sl_time_parse(j->local, strlen(j->local), &c, &t, NULL, 0) < 0) {
            j->ok = 0;
            break;
        }
        sl_time_format(t, buf);
        if (strcmp(buf, j->want) != 0) {
            j->ok = 0;
            break;
        }
    }
    return NULL;
}

static void zones_resolve_concurrently_from_many_threads(void **state)
{
    (void)state;
    struct zone_job jobs[] = {
        {"America/New_York", "2024-11-03 01:30", "2024-11-03T05:30:00.000000Z", 0},
        {"Europe/Berlin", "2024-10-27 02:30", "2024-10-27T00:30:00.000000Z", 0},
        {"Australia/Sydney", "2024-04-07 02:30", "2024-04-06T15:30:00.000000Z", 0},
        {"Asia/Kolkata", "2024-01-01 00:00", "2023-12-31T18:30:00.000000Z", 0},
        {"America/Los_Angeles", "2024-07-01 12:00", "2024-07-01T19:00:00.000000Z", 0},
        {"Europe/London", "2024-07-01 12:00", "2024-07-01T11:00:00.000000Z", 0},
    };
    enum { N = sizeof jobs / sizeof jobs[0] };
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&th[i], NULL, zone_worker, &jobs[i]), 0);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].ok);
    }
}

/* ---- epoch numbers ---- */

static const char *epoch(const char *s, enum sl_epoch_unit u)
{
    struct sl_valctx c = {"America/New_York", SL_DST_FAIL, u};
    return canon_ctx(SL_T_TIMESTAMPTZ, s, &c);
}

static void epoch_numbers_follow_the_configured_unit(void **state)
{
    (void)state;
    assert_string_equal(epoch("1700000000", SL_EPOCH_S), "2023-11-14T22:13:20.000000Z");
    assert_string_equal(epoch("1700000000.5", SL_EPOCH_S), "2023-11-14T22:13:20.500000Z");
    assert_string_equal(epoch("1700000000.1234567", SL_EPOCH_S), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(epoch("1700000000123", SL_EPOCH_MS), "2023-11-14T22:13:20.123000Z");
    assert_string_equal(epoch("1700000000123.5", SL_EPOCH_MS), "2023-11-14T22:13:20.123500Z");
    assert_string_equal(epoch("1700000000123456", SL_EPOCH_US), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(epoch("1700000000123456789", SL_EPOCH_NS), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(epoch("0", SL_EPOCH_S), "1970-01-01T00:00:00.000000Z");
    assert_string_equal(epoch("-1", SL_EPOCH_S), "1969-12-31T23:59:59.000000Z");
    assert_string_equal(epoch("-1.5", SL_EPOCH_S), "1969-12-31T23:59:58.500000Z");
    assert_string_equal(epoch("-1", SL_EPOCH_NS), "1969-12-31T23:59:59.999999Z");
    assert_string_equal(epoch("1700000000", SL_EPOCH_MS), "1970-01-20T16:13:20.000000Z");
    /* calendar text still parses when epochs are on */
    assert_string_equal(epoch("2024-07-01 12:00", SL_EPOCH_S), "2024-07-01T16:00:00.000000Z");
    assert_string_equal(canon_n(SL_T_TIMESTAMPTZ, "1700000000", 10, SL_LEX_NUMBER,
                                &(struct sl_valctx){NULL, SL_DST_FAIL, SL_EPOCH_S}),
                        "2023-11-14T22:13:20.000000Z");
}

static void epoch_auto_decides_the_unit_per_value(void **state)
{
    (void)state;
    assert_string_equal(epoch("1700000000", SL_EPOCH_AUTO), "2023-11-14T22:13:20.000000Z");
    assert_string_equal(epoch("1700000000.25", SL_EPOCH_AUTO), "2023-11-14T22:13:20.250000Z");
    assert_string_equal(epoch("1700000000123", SL_EPOCH_AUTO), "2023-11-14T22:13:20.123000Z");
    assert_string_equal(epoch("1700000000123456", SL_EPOCH_AUTO), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(epoch("1700000000123456789", SL_EPOCH_AUTO), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(epoch("99999999999", SL_EPOCH_AUTO), "5138-11-16T09:46:39.000000Z");
    assert_string_equal(epoch("100000000000", SL_EPOCH_AUTO), "1973-03-03T09:46:40.000000Z");
    assert_string_equal(epoch("-1700000000123", SL_EPOCH_AUTO), "1916-02-18T01:46:39.877000Z");
}

static void epoch_numbers_are_rejected_when_off_or_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(epoch("1700000000", SL_EPOCH_NONE), "ERR: not a timestamp");
    assert_string_equal(epoch("253402300800", SL_EPOCH_S), "ERR: timestamp out of range");
    assert_string_equal(epoch("-62135596801", SL_EPOCH_S), "ERR: timestamp out of range");
    assert_string_equal(epoch("99999999999999999999", SL_EPOCH_NS), "ERR: timestamp out of range");
    assert_string_equal(epoch("9223372036854775807", SL_EPOCH_S), "ERR: timestamp out of range");
    assert_string_equal(epoch("1.7e9", SL_EPOCH_S), "ERR: not a timestamp");
    assert_string_equal(epoch("+1700000000", SL_EPOCH_S), "ERR: not a timestamp");
    assert_string_equal(epoch("1700000000.", SL_EPOCH_S), "ERR: not a timestamp");
    assert_string_equal(epoch("-", SL_EPOCH_S), "ERR: not a timestamp");
}

/* ---- json ---- */

static void json_columns_take_valid_json_text(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_JSON, "{\"a\":[1,2.50,null]}"), "{\"a\":[1,2.50,null]}");
    assert_string_equal(canon(SL_T_JSON, "42"), "42");
    assert_string_equal(canon(SL_T_JSON, "\"x\""), "\"x\"");
    assert_string_equal(canon_lex(SL_T_JSON, "[1,{}]", SL_LEX_JSON), "[1,{}]");
    assert_string_equal(canon_lex(SL_T_JSON, "1e5", SL_LEX_NUMBER), "1e5");
    assert_string_equal(canon_lex(SL_T_JSON, "false", SL_LEX_BOOL), "false");
    assert_true(strncmp(canon(SL_T_JSON, "{a:1}"), "ERR: invalid json", 17) == 0);
    assert_true(strncmp(canon(SL_T_JSON, "{\"a\":1,}"), "ERR: invalid json", 17) == 0);
    assert_true(strncmp(canon(SL_T_JSON, "NaN"), "ERR: invalid json", 17) == 0);
    assert_true(strncmp(canon(SL_T_JSON, "hello"), "ERR: invalid json", 17) == 0);
    assert_string_equal(canon(SL_T_JSON, "[\"a\\u0000b\"]"),
                        "ERR: json contains \\u0000, which the warehouse cannot store");
    assert_string_equal(canon(SL_T_JSON, "[\"a\\\\u0000b\"]"), "[\"a\\\\u0000b\"]");
}

static void json_column_quotes_plain_strings(void **state)
{
    (void)state;
    assert_string_equal(canon_lex(SL_T_JSON, "hello", SL_LEX_STRING), "\"hello\"");
    assert_string_equal(canon_lex(SL_T_JSON, "say \"hi\"\\", SL_LEX_STRING), "\"say \\\"hi\\\"\\\\\"");
    assert_string_equal(canon_lex(SL_T_JSON, "a\nb\tc\rd\be\ff\x01", SL_LEX_STRING),
                        "\"a\\nb\\tc\\rd\\be\\ff\\u0001\"");
    assert_string_equal(canon_lex(SL_T_JSON, "caf\xc3\xa9 \xe2\x82\xac", SL_LEX_STRING),
                        "\"caf\xc3\xa9 \xe2\x82\xac\"");
    assert_string_equal(canon_lex(SL_T_JSON, "\x1f", SL_LEX_STRING), "\"\\u001f\"");
    assert_string_equal(canon_lex(SL_T_JSON, "bad \xff", SL_LEX_STRING), "ERR: invalid UTF-8");
    assert_string_equal(canon_n(SL_T_JSON, "a\0b", 3, SL_LEX_STRING, &utc), "ERR: contains a NUL byte");
}

/* ---- text ---- */

static void text_must_be_utf8_without_nul(void **state)
{
    (void)state;
    assert_string_equal(canon(SL_T_TEXT, "plain"), "plain");
    assert_string_equal(canon(SL_T_TEXT, " spaced "), " spaced ");
    assert_string_equal(canon(SL_T_TEXT, "\xf0\x9f\x8c\x8a sluice"), "\xf0\x9f\x8c\x8a sluice");
    assert_string_equal(canon_lex(SL_T_TEXT, "{\"a\": 1}", SL_LEX_JSON), "{\"a\": 1}");
    assert_string_equal(canon_lex(SL_T_TEXT, "12.5", SL_LEX_NUMBER), "12.5");
    assert_string_equal(canon(SL_T_TEXT, "caf\xe9"), "ERR: invalid UTF-8");
    assert_string_equal(canon_n(SL_T_TEXT, "nul\0here", 8, SL_LEX_RAW, &utc), "ERR: contains a NUL byte");
}

static void utf8_validation_rejects_every_malformed_form(void **state)
{
    (void)state;
#define OK(s) assert_true(sl_utf8_valid(s, sizeof(s) - 1))
#define BAD(s) assert_false(sl_utf8_valid(s, sizeof(s) - 1))
    OK("");
    OK("ascii only, long enough for the word-at-a-time path");
    OK("\xc2\x80");                 /* U+0080 */
    OK("\xdf\xbf");                 /* U+07FF */
    OK("\xe0\xa0\x80");             /* U+0800 */
    OK("\xed\x9f\xbf");             /* U+D7FF */
    OK("\xee\x80\x80");             /* U+E000 */
    OK("\xef\xbf\xbf");             /* U+FFFF */
    OK("\xf0\x90\x80\x80");         /* U+10000 */
    OK("\xf4\x8f\xbf\xbf");         /* U+10FFFF */
    OK("12345678\xc3\xa9" "12345678\xf0\x9f\x98\x80");
    BAD("\x80");                    /* lone continuation */
    BAD("\xbf");
    BAD("\xc0\x80");                /* overlong NUL */
    BAD("\xc1\xbf");                /* overlong */
    BAD("\xe0\x80\x80");            /* overlong */
    BAD("\xe0\x9f\xbf");            /* overlong */
    BAD("\xf0\x80\x80\x80");        /* overlong */
    BAD("\xf0\x8f\xbf\xbf");        /* overlong */
    BAD("\xed\xa0\x80");            /* U+D800 surrogate */
    BAD("\xed\xbf\xbf");            /* U+DFFF surrogate */
    BAD("\xf4\x90\x80\x80");        /* U+110000 */
    BAD("\xf5\x80\x80\x80");
    BAD("\xff");
    BAD("\xfe");
    BAD("\xc3");                    /* truncated */
    BAD("\xe2\x82");
    BAD("\xf0\x9f\x98");
    BAD("\xe2\x28\xa1");            /* bad continuation */
    BAD("\xf0\x9f\x28\x80");
    BAD("abc\xc3(");
#undef OK
#undef BAD
    /* a NUL anywhere, inside or outside the 8-byte fast path */
    char buf[40];
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = '\0';
        assert_false(sl_utf8_valid(buf, sizeof buf));
        memset(buf, 'a', sizeof buf);
        buf[pos] = '\x80';
        assert_false(sl_utf8_valid(buf, sizeof buf));
    }
    memset(buf, 'a', sizeof buf);
    assert_true(sl_utf8_valid(buf, sizeof buf));
}

/* ---- inference ---- */

/* Infer a column from values (NULL entry = a NULL), then check that every
 * value canonicalizes under the inferred type. */
static enum sl_type infer_col(enum sl_lex lex, const char *const *v, size_t n)
{
    struct sl_infer inf;
    sl_infer_init(&inf);
    for (size_t i = 0; i < n; i++)
        sl_infer_add(&inf, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0, lex, v[i] == NULL);
    enum sl_type t = sl_infer_result(&inf);
    for (size_t i = 0; i < n; i++) {
        if (!v[i])
            continue;
        const char *r = canon_n(t, v[i], strlen(v[i]), lex, &utc);
        if (strncmp(r, "ERR", 3) == 0)
            fail_msg("value \"%s\" inferred as %s does not canonicalize: %s", v[i], sl_type_name(t), r);
    }
    return t;
}

#define INFER(lex, ...) \
    infer_col(lex, (const char *const[]){__VA_ARGS__}, \
              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static void inference_keeps_zip_codes_and_phone_numbers_as_text(void **state)
{
    (void)state;
    assert_int_equal(INFER(SL_LEX_RAW, "02134", "10001", "94105"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "10001", "007"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "+15551234567", "+15557654321"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "00.5"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "1", "two"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, " 1", "2"), SL_T_TEXT);
}

static void inference_of_numbers(void **state)
{
    (void)state;
    assert_int_equal(INFER(SL_LEX_RAW, "0", "1", "1", "0"), SL_T_BIGINT);
    assert_int_equal(INFER(SL_LEX_RAW, "-5", "9223372036854775807", "-9223372036854775808"), SL_T_BIGINT);
    assert_int_equal(INFER(SL_LEX_RAW, "1", "9223372036854775808"), SL_T_NUMERIC);
    assert_int_equal(INFER(SL_LEX_RAW, "1.50", "2", "-3.25", "0.001"), SL_T_NUMERIC);
    assert_int_equal(INFER(SL_LEX_RAW, "1e5", "2.5"), SL_T_DOUBLE);
    assert_int_equal(INFER(SL_LEX_RAW, "1.5", "NaN", "Infinity", "-Infinity"), SL_T_DOUBLE);
    assert_int_equal(INFER(SL_LEX_RAW, "1E-7"), SL_T_DOUBLE);
    assert_int_equal(INFER(SL_LEX_RAW, "1e999"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, ".5"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "5."), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "inf"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "-0", "1"), SL_T_DOUBLE);
    assert_int_equal(INFER(SL_LEX_NUMBER, "1", "2"), SL_T_BIGINT);
    assert_int_equal(INFER(SL_LEX_NUMBER, "1", "2.5"), SL_T_NUMERIC);
    assert_int_equal(INFER(SL_LEX_NUMBER, "1", "1e3"), SL_T_DOUBLE);
}

static void inference_of_booleans(void **state)
{
    (void)state;
    assert_int_equal(INFER(SL_LEX_RAW, "true", "FALSE", "True"), SL_T_BOOL);
    assert_int_equal(INFER(SL_LEX_RAW, "t", "f"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "yes", "no"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "true", "1"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_BOOL, "true", "false"), SL_T_BOOL);
    assert_int_equal(INFER(SL_LEX_STRING, "true", "false"), SL_T_TEXT);
}

static void inference_of_dates_and_timestamps(void **state)
{
    (void)state;
    assert_int_equal(INFER(SL_LEX_RAW, "2024-01-01", "2024-02-29"), SL_T_DATE);
    assert_int_equal(INFER(SL_LEX_RAW, "2024-01-01", "2024-01-01T10:00:00Z"), SL_T_TIMESTAMPTZ);
    assert_int_equal(INFER(SL_LEX_RAW, "2024-01-01 10:00", "2024-01-01 10:00:00.5+02:00"),
                     SL_T_TIMESTAMPTZ);
    assert_int_equal(INFER(SL_LEX_RAW, "2024-02-30"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "2024-01-01", "soon"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "2024-01-01T25:00:00"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_STRING, "2024-01-01", "2024-12-31"), SL_T_DATE);
    assert_int_equal(INFER(SL_LEX_STRING, "2024-01-01T00:00:00Z"), SL_T_TIMESTAMPTZ);
    assert_int_equal(INFER(SL_LEX_STRING, "2024-01-01", "x"), SL_T_TEXT);
}

static void inference_of_json_lex_kinds(void **state)
{
    (void)state;
    assert_int_equal(INFER(SL_LEX_JSON, "{\"a\":1}", "[1,2]"), SL_T_JSON);
    assert_int_equal(INFER(SL_LEX_STRING, "42", "43"), SL_T_TEXT);
    assert_int_equal(INFER(SL_LEX_RAW, "{\"a\":1}"), SL_T_TEXT);

    struct sl_infer inf;
    sl_infer_init(&inf);
    sl_infer_add(&inf, "{}", 2, SL_LEX_JSON, 0);
    sl_infer_add(&inf, "x", 1, SL_LEX_STRING, 0);
    assert_int_equal(sl_infer_result(&inf), SL_T_TEXT);
    sl_infer_init(&inf);
    sl_infer_add(&inf, "[]", 2, SL_LEX_JSON, 0);
    sl_infer_add(&inf, "7", 1, SL_LEX_NUMBER, 0);
    assert_int_equal(sl_infer_result(&inf), SL_T_TEXT);
    sl_infer_init(&inf);
    sl_infer_add(&inf, "true", 4, SL_LEX_BOOL, 0);
    sl_infer_add(&inf, "7", 1, SL_LEX_NUMBER, 0);
    assert_int_equal(sl_infer_result(&inf), SL_T_TEXT);
}

static void inference_ignores_nulls_and_defaults_to_text(void **state)
{
    (void)state;
    struct sl_infer inf;
    sl_infer_init(&inf);
    assert_int_equal(sl_infer_result(&inf), SL_T_TEXT);
    sl_infer_add(&inf, NULL, 0, SL_LEX_RAW, 1);
    sl_infer_add(&inf, "", 0, SL_LEX_RAW, 0);
    assert_int_equal(sl_infer_result(&inf), SL_T_TEXT);
    assert_true(inf.nonnull == 0);
    assert_int_equal(INFER(SL_LEX_RAW, NULL, "5", NULL, "", "6"), SL_T_BIGINT);
    assert_int_equal(INFER(SL_LEX_RAW, NULL, "2024-01-01", NULL), SL_T_DATE);
    assert_int_equal(INFER(SL_LEX_STRING, "", "2024-01-01"), SL_T_TEXT);
}

/* ---- durations ---- */

static void durations_parse_units_and_bare_seconds(void **state)
{
    (void)state;
    static const struct { const char *s; double secs; } ok[] = {
        {"10m", 600}, {"1h", 3600}, {"2s", 2}, {"1d", 86400}, {"500ms", 0.5}, {"1h30m", 5400},
        {"90", 90}, {"0", 0}, {"1d2h3m4s5ms", 93784.005}, {"1.5h", 5400}, {"0s", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double d = -1;
        assert_int_equal(sl_duration_parse(ok[i].s, &d), 0);
        assert_true(d > ok[i].secs - 1e-9 && d < ok[i].secs + 1e-9);
    }
}

static void durations_reject_negatives_and_junk(void **state)
{
    (void)state;
    const char *bad[] = {"", "-1", "-1m", "m", "1x", "10 m", " 10m", "10m ", "1m1h", "1h1h",
                         "1h30", "abc", "1..5s", "1.s", ".", "1M", "1e3", "ms", "5mss"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double d = 0;
        if (sl_duration_parse(bad[i], &d) != -1)
            fail_msg("duration \"%s\" was accepted", bad[i]);
    }
    double d;
    assert_int_equal(sl_duration_parse(NULL, &d), -1);
}

/* ---- sizes ---- */

static void sizes_parse_postgresql_units(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t bytes; } ok[] = {
        {"0", 0}, {"4096", 4096}, {"4096B", 4096}, {"64kB", 65536}, {"64KB", 65536},
        {"1KiB", 1024}, {"512MB", 536870912}, {"1GB", 1073741824}, {"1 GB", 1073741824},
        {"1.5GB", 1610612736}, {"2TB", 2199023255552LL}, {"1GiB", 1073741824},
        {"0.5kB", 512}, {"1.3kB", 1331}, {"8MB", 8388608},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t b = -1;
        if (sl_size_parse(ok[i].s, &b) != 0 || b != ok[i].bytes)
            fail_msg("size \"%s\": got %lld, want %lld", ok[i].s, (long long)b,
                     (long long)ok[i].bytes);
    }
}

static void sizes_reject_negatives_fractions_of_bytes_and_junk(void **state)
{
    (void)state;
    const char *bad[] = {"", "-1", "-1GB", "GB", "1gb", "1 ", " 1GB", "1GB ", "1  GB", "1.5",
                         "1.5B", "1.GB", ".5GB", "1e3", "1XB", "1PB", "10000000TB", "abc",
                         "1GBB", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t b = 0;
        if (sl_size_parse(bad[i], &b) != -1)
            fail_msg("size \"%s\" was accepted (%lld)", bad[i], (long long)b);
    }
    int64_t b;
    assert_int_equal(sl_size_parse(NULL, &b), -1);
}

static void sizes_print_back_and_for_people(void **state)
{
    (void)state;
    static const struct { int64_t bytes; const char *text, *pretty; } cases[] = {
        {0, "0", "0 bytes"},
        {1000, "1000B", "1000 bytes"},
        {1024, "1kB", "1.0 kB"},
        {65536, "64kB", "64 kB"},
        {(int64_t)1536 << 20, "1536MB", "1.5 GB"},
        {(int64_t)1 << 30, "1GB", "1.0 GB"},
        {25165824, "24MB", "24 MB"},
        {(int64_t)3 << 40, "3TB", "3.0 TB"},
        {1331, "1331B", "1.3 kB"},
    };
    char text[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t back = -1;
        sl_size_text(cases[i].bytes, text, sizeof text);
        assert_string_equal(text, cases[i].text);
        assert_int_equal(sl_size_parse(text, &back), 0);
        assert_true(back == cases[i].bytes);
        sl_size_pretty(cases[i].bytes, text, sizeof text);
        assert_string_equal(text, cases[i].pretty);
    }
    sl_size_pretty(-1, text, sizeof text);
    assert_string_equal(text, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(type_names_round_trip_and_aliases_resolve),
        cmocka_unit_test(unknown_type_name_is_rejected),
        cmocka_unit_test(empty_raw_value_is_null_for_every_type_but_text),
        cmocka_unit_test(non_empty_or_json_string_values_are_never_null),
        cmocka_unit_test(bool_accepts_common_spellings_case_insensitively),
        cmocka_unit_test(bool_rejects_other_words),
        cmocka_unit_test(bigint_drops_plus_and_leading_zeros),
        cmocka_unit_test(bigint_rejects_whitespace_decimals_and_exponents),
        cmocka_unit_test(bigint_range_is_exactly_int64),
        cmocka_unit_test(numeric_keeps_digits_exactly),
        cmocka_unit_test(numeric_expands_exponents_exactly),
        cmocka_unit_test(numeric_rejects_huge_exponents_and_junk),
        cmocka_unit_test(double_keeps_number_as_written_and_names_specials),
        cmocka_unit_test(double_rejects_out_of_range_and_non_decimal_forms),
        cmocka_unit_test(date_accepts_valid_calendar_days_only),
        cmocka_unit_test(timestamptz_utc_forms_are_canonical),
        cmocka_unit_test(timestamptz_explicit_offsets_convert_to_utc),
        cmocka_unit_test(timestamptz_fraction_truncated_to_microseconds),
        cmocka_unit_test(timestamptz_rejects_invalid_fields),
        cmocka_unit_test(timestamptz_before_1970_and_at_the_range_edges),
        cmocka_unit_test(time_format_orders_as_text),
        cmocka_unit_test(new_york_spring_gap_fails),
        cmocka_unit_test(new_york_autumn_overlap_follows_the_policy),
        cmocka_unit_test(new_york_summer_and_winter_and_far_years),
        cmocka_unit_test(berlin_gap_and_overlap),
        cmocka_unit_test(sydney_southern_hemisphere),
        cmocka_unit_test(fractional_offset_and_zones_without_dst),
        cmocka_unit_test(unknown_or_unsafe_zone_names_fail),
        cmocka_unit_test(local_to_utc_reports_gap_and_overlap_directly),
        cmocka_unit_test(zones_resolve_concurrently_from_many_threads),
        cmocka_unit_test(epoch_numbers_follow_the_configured_unit),
        cmocka_unit_test(epoch_auto_decides_the_unit_per_value),
        cmocka_unit_test(epoch_numbers_are_rejected_when_off_or_out_of_range),
        cmocka_unit_test(json_columns_take_valid_json_text),
        cmocka_unit_test(json_column_quotes_plain_strings),
        cmocka_unit_test(text_must_be_utf8_without_nul),
        cmocka_unit_test(utf8_validation_rejects_every_malformed_form),
        cmocka_unit_test(inference_keeps_zip_codes_and_phone_numbers_as_text),
        cmocka_unit_test(inference_of_numbers),
        cmocka_unit_test(inference_of_booleans),
        cmocka_unit_test(inference_of_dates_and_timestamps),
        cmocka_unit_test(inference_of_json_lex_kinds),
        cmocka_unit_test(inference_ignores_nulls_and_defaults_to_text),
        cmocka_unit_test(durations_parse_units_and_bare_seconds),
        cmocka_unit_test(durations_reject_negatives_and_junk),
        cmocka_unit_test(sizes_parse_postgresql_units),
        cmocka_unit_test(sizes_reject_negatives_fractions_of_bytes_and_junk),
        cmocka_unit_test(sizes_print_back_and_for_people),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
