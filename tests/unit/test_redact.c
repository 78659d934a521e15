/* tests/unit/test_redact.c: passwords out of printed text (base/redact.c)
 * in every shape a connection string takes, in libpq's messages, in error
 * records (base/err.c) and in libpq's parse errors (pg/pg.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "base/err.h"
#include "pg/pg.h"
#include "base/redact.h"

static void expect(const char *in, const char *want)
{
    char out[1024];
    sl_redact(in, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("sl_redact(\"%s\")\n  gave \"%s\"\n  want \"%s\"", in, out, want);
}

static int reset(void **state)
{
    (void)state;
    sl_redact_forget();
    return 0;
}

static void redact_url_user_info(void **state)
{
    (void)state;
    expect("postgresql://u:secret@h/db", "postgresql://u:***@h/db");
    expect("postgres://loader:s3cr%40t%2F@db:5432/wh?sslmode=require",
           "postgres://loader:***@db:5432/wh?sslmode=require");
    /* a '/' or an '@' libpq would misread is still the password */
    expect("postgresql://u:sec/ret@h/db", "postgresql://u:***@h/db");
    expect("postgresql://loader:hunter2@secretpart@127.0.0.1:1/crm",
           "postgresql://loader:***@127.0.0.1:1/crm");
    /* inside a message, quoted, twice */
    expect("could not parse \"postgresql://a:x1@h/d\" nor postgresql://b:y2@h/d, sorry",
           "could not parse \"postgresql://a:***@h/d\" nor postgresql://b:***@h/d, sorry");
    expect("nats://user:pw@broker:4222", "nats://user:***@broker:4222");
}

static void redact_query_password(void **state)
{
    (void)state;
    expect("postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***");
    expect("postgresql://u@h/db?sslmode=require&password=secret&application_name=x",
           "postgresql://u@h/db?sslmode=require&password=***&application_name=x");
    /* libpq decodes query keywords: a percent-encoded key is the same key */
    expect("postgresql://u@h/db?pass%77ord=secret&x=1", "postgresql://u@h/db?pass%77ord=***&x=1");
    expect("postgresql://u@h/db?%70%61%73%73%77%6f%72%64=secret",
           "postgresql://u@h/db?%70%61%73%73%77%6f%72%64=***");
    expect("postgresql://u@h/db?PASSWORD=secret", "postgresql://u@h/db?PASSWORD=***");
    expect("postgresql://u@h/db?sslpassword=keypass#frag", "postgresql://u@h/db?sslpassword=***#frag");
    expect("postgresql://u@h/db?password=a%25b%zz", "postgresql://u@h/db?password=***");
    /* a closing quote stays; a quote inside the value is the value */
    expect("in URI: \"postgresql://u@h/db?password=secret\"",
           "in URI: \"postgresql://u@h/db?password=***\"");
    expect("url \"postgresql://u@h/db?password=secret\", line 3",
           "url \"postgresql://u@h/db?password=***\", line 3");
    expect("password=ab\"cd tail", "password=*** tail");
    /* libpq's message quoting a whole URI */
    expect("invalid URI query parameter in \"postgresql://u:pw@h/db?password=secret&bogus=1\"",
           "invalid URI query parameter in \"postgresql://u:***@h/db?password=***&bogus=1\"");
}

static void redact_conninfo_key_value(void **state)
{
    (void)state;
    expect("host=h password=secret dbname=d", "host=h password=*** dbname=d");
    expect("host=h password = secret dbname=d", "host=h password = *** dbname=d");
    expect("host=h password='se cr\\'et' dbname=d", "host=h password='***' dbname=d");
    expect("password='unterminated quote", "password='***");
    expect("password=secret", "password=***");
    expect("host=h\tpassword=tab\tdbname=d", "host=h\tpassword=***\tdbname=d");
}

static void redact_leaves_other_text_alone(void **state)
{
    (void)state;
    const char *same[] = {
        "",
        "no password here",
        "password: is a config key, not a value",
        "key \"password\": expected a string, found a mapping",
        "postgresql://h:5432/db?sslmode=require",
        "postgresql://loader@db:5432/wh",
        "mail ops@example.com about http://example.com/a:b",
        "password=",
        "password=&x=1",
        "drops/orders/b.csv:4:9: unterminated quoted field (started at 4:3)",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        expect(same[i], same[i]);
}

static void redact_registered_secrets_anywhere(void **state)
{
    (void)state;
    assert_int_equal(sl_redact_add_conninfo("postgresql://u:Us%65rSecret@h/db?password=Zx%zzTok"
                                            "&sslpassword=KeyPass1"), 0);
    assert_int_equal(sl_redact_add_conninfo("host=h password='Sp ace\\'d' dbname=d"), 0);
    assert_int_equal(sl_redact_add("TokenValue42"), 0);
    /* libpq echoes a bare value: "invalid percent-encoded token" */
    expect("invalid percent-encoded token: \"Zx%zzTok\"", "invalid percent-encoded token: \"***\"");
    /* as written and as libpq decodes it */
    expect("user secret UsS%65rSecret? UseS UserSecret", "user secret UsS%65rSecret? UseS ***");
    expect("Us%65rSecret", "***");
    expect("got KeyPass1 and Sp ace'd and Sp ace\\'d", "got *** and *** and ***");
    expect("Bearer TokenValue42 rejected", "Bearer *** rejected");
    /* short secrets are only hidden where they stand as a password */
    assert_int_equal(sl_redact_add("abc"), 0);
    expect("abc password=abc", "abc password=***");
    sl_redact_forget();
    expect("TokenValue42", "TokenValue42");
}

static void redact_truncates_safely(void **state)
{
    (void)state;
    char out[12];
    memset(out, 'x', sizeof out);
    sl_redact("postgresql://u:secret@h/db", out, sizeof out);
    assert_string_equal(out, "postgresql:");
    sl_redact("password=secretsecret", out, sizeof out);
    assert_string_equal(out, "password=**");
    sl_redact(NULL, out, sizeof out);
    assert_string_equal(out, "");
}

static void error_records_are_redacted(void **state)
{
    (void)state;
    struct sl_err err;
    sl_err_clear(&err);
    sl_err_set(&err, SL_E_CONFIG, "unsupported connection url \"%s\"",
               "mysql://root:hunter2@db/x?password=hunter3");
    assert_string_equal(err.msg, "unsupported connection url \"mysql://root:***@db/x?password=***\"");
    sl_err_retry(&err, SL_E_DEST, "could not connect: %s", "host=h password=pw1 port=1");
    assert_string_equal(err.msg, "could not connect: host=h password=*** port=1");
    sl_err_prefix(&err, "connection \"%s\"", "postgresql://a:b@c/d");
    assert_string_equal(err.msg,
                        "connection \"postgresql://a:***@c/d\": could not connect: host=h password=*** port=1");
    /* a URL whose '@' falls past the record's end: redacted before the cut,
     * so no prefix of the password shows */
    char pad[2100];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    sl_err_set(&err, SL_E_DEST, "%.2000s postgresql://u:TopSecretPw%s@h/db", pad, pad);
    assert_null(strstr(err.msg, "TopSec"));
}

static void libpq_parse_errors_are_redacted(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(sl_pg_conninfo_check("postgresql://u:pw@h:5432/db?sslmode=require", why,
                                          sizeof why), 0);
    assert_int_equal(sl_pg_conninfo_check("host=h password=pw dbname=d", why, sizeof why), 0);

    /* libpq names the bad parameter */
    assert_int_equal(sl_pg_conninfo_check("postgresql://u@h/db?password=Secret99&bogus=1", why,
                                          sizeof why), -1);
    assert_non_null(strstr(why, "bogus"));
    assert_null(strstr(why, "Secret99"));

    /* libpq echoes the bad value itself: only a registered secret hides it */
    const char *bad = "postgresql://u@h/db?password=Sec%zzret99";
    assert_int_equal(sl_redact_add_conninfo(bad), 0);
    assert_int_equal(sl_pg_conninfo_check(bad, why, sizeof why), -1);
    assert_non_null(strstr(why, "percent-encoded"));
    assert_null(strstr(why, "Sec%zzret99"));
    assert_null(strchr(why, '\n'));

    /* an '@' in the password: libpq would read the rest as the host, and
     * echo it; refused without echoing it */
    assert_int_equal(sl_pg_conninfo_check("postgresql://loader:hunter2@secretpart@127.0.0.1:1/crm",
                                          why, sizeof why), -1);
    assert_non_null(strstr(why, "%40"));
    assert_null(strstr(why, "secretpart"));

    /* a '/' in the password: libpq reads its start as the port, and would
     * echo it when connecting; refused without echoing it */
    assert_int_equal(sl_pg_conninfo_check("postgresql://u:Sec/ret99@h:5432/db", why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "port is not a number"));
    assert_null(strstr(why, "Sec"));
    assert_int_equal(sl_pg_conninfo_check("postgresql://u@h1:5432,h2:5433/db", why, sizeof why), 0);
    assert_int_equal(sl_pg_conninfo_check("host=h port=x1", why, sizeof why), -1);

    /* key=value with an unterminated quote */
    assert_int_equal(sl_pg_conninfo_check("host=h password='Secret99", why, sizeof why), -1);
    assert_null(strstr(why, "Secret99"));
}

static void config_registers_its_secrets(void **state)
{
    (void)state;
    static const char yaml[] =
        "http: { listen: \"127.0.0.1:0\", token: \"AdminTok3n\" }\n"
        "connections:\n"
        "  wh: { url: \"postgresql://u:UrlPassw0rd@h/db?sslpassword=KeyPassw0rd\", "
        "password: \"ConnPassw0rd\" }\n"
        "pipelines:\n"
        "  - name: ev\n"
        "    source: { kind: http, listen: \"127.0.0.1:0\", token: \"SourceTok3n\" }\n"
        "    destination: wh\n"
        "    tables: [ { name: events, kind: append } ]\n";
    struct sl_config *c = NULL;
    struct sl_err err;
    char out[512];

    sl_err_clear(&err);
    if (sl_config_load_mem("mem.yaml", NULL, yaml, sizeof yaml - 1, &c, &err) < 0)
        fail_msg("%s", err.msg);
    sl_config_free(c);
    sl_redact("AdminTok3n UrlPassw0rd KeyPassw0rd ConnPassw0rd SourceTok3n kept", out, sizeof out);
    assert_string_equal(out, "*** *** *** *** *** kept");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(redact_url_user_info, reset),
        cmocka_unit_test_setup(redact_query_password, reset),
        cmocka_unit_test_setup(redact_conninfo_key_value, reset),
        cmocka_unit_test_setup(redact_leaves_other_text_alone, reset),
        cmocka_unit_test_setup(redact_registered_secrets_anywhere, reset),
        cmocka_unit_test_setup(redact_truncates_safely, reset),
        cmocka_unit_test_setup(error_records_are_redacted, reset),
        cmocka_unit_test_setup(libpq_parse_errors_are_redacted, reset),
        cmocka_unit_test_setup(config_registers_its_secrets, reset),
    };
    return cmocka_run_group_tests(tests, NULL, reset);
}
