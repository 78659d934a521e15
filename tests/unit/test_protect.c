/* tests/unit/test_protect.c: protected columns (model/protect.c) and the
 * HMAC under them (base/hmac.c): HMAC-SHA256 gives RFC 4231's test vectors;
 * a hash is that HMAC as lowercase hex under the pipeline's key; a mask
 * keeps the last 4 characters counted as UTF-8 code points, not bytes; the
 * stored schema loses dropped columns and types the others text; an alert
 * carries no gate examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/hmac.h"
#include "base/mem.h"
#include "model/protect.h"
#include "obs/alert.h"

static void hex_of(const unsigned char *m, char *out)
{
    for (size_t i = 0; i < SL_HMAC_SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", m[i]);
}

static void hmac_sha256_gives_the_rfc_4231_vectors(void **state)
{
    (void)state;
    unsigned char k1[20], k3[20], d3[50], k4[25], d4[50], k6[131], mac[SL_HMAC_SHA256_LEN];
    char hex[SL_HMAC_SHA256_HEX + 1];
    memset(k1, 0x0b, sizeof k1);
    memset(k3, 0xaa, sizeof k3);
    memset(d3, 0xdd, sizeof d3);
    for (int i = 0; i < 25; i++)
        k4[i] = (unsigned char)(i + 1);
    memset(d4, 0xcd, sizeof d4);
    memset(k6, 0xaa, sizeof k6);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    const char *t7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";

    assert_int_equal(sl_hmac_sha256_hex(k1, sizeof k1, "Hi There", 8, hex), 0);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_int_equal(sl_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex), 0);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(sl_hmac_sha256(k3, sizeof k3, d3, sizeof d3, mac), 0);
    hex_of(mac, hex);
    assert_string_equal(hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    assert_int_equal(sl_hmac_sha256_hex(k4, sizeof k4, d4, sizeof d4, hex), 0);
    assert_string_equal(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    assert_int_equal(sl_hmac_sha256_hex(k6, sizeof k6, t6, strlen(t6), hex), 0);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    assert_int_equal(sl_hmac_sha256_hex(k6, sizeof k6, t7, strlen(t7), hex), 0);
    assert_string_equal(hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static const char *mask(const char *s, size_t n, struct sl_buf *b)
{
    sl_buf_reset(b);
    assert_int_equal(sl_protect_mask(s, n, b), 0);
    sl_buf_putc(b, '\0');
    return b->data;
}

static void mask_keeps_the_last_four_characters_not_bytes(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b);
    assert_string_equal(mask("abcdefgh", 8, &b), "****efgh");
    assert_string_equal(mask("12345", 5, &b), "*2345");
    /* 4 characters or fewer: all hidden, a mask never shows a whole value */
    assert_string_equal(mask("abcd", 4, &b), "****");
    assert_string_equal(mask("ab", 2, &b), "**");
    assert_string_equal(mask("", 0, &b), "");
    /* one '*' per code point; the kept ones whole */
    const char *u = "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9" "-550199";    /* Ünïcødé-550199 */
    assert_string_equal(mask(u, strlen(u), &b), "**********0199");
    const char *jp = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
                     "\xe3\x83\x88";    /* 日本語テキスト: 7 characters, 21 bytes */
    assert_string_equal(mask(jp, strlen(jp), &b),
                        "***\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88");
    const char *emoji = "a\xf0\x9f\x98\x80" "b\xf0\x9f\x98\x80" "cd";    /* a😀b😀cd */
    assert_string_equal(mask(emoji, strlen(emoji), &b), "**b\xf0\x9f\x98\x80" "cd");
    /* a byte that starts no character counts as one */
    assert_string_equal(mask("\xff\xfe" "abcd", 6, &b), "**abcd");
    sl_buf_free(&b);
}

static void hash_is_the_hmac_under_the_pipeline_key_as_hex(void **state)
{
    (void)state;
    struct sl_pipeline_cfg p = {0};
    struct sl_buf b;
    char want[SL_HMAC_SHA256_HEX + 1];
    sl_buf_init(&b);
    /* no key: refused, never a hash under an empty key */
    assert_int_equal(sl_protect_value(&p, SL_PROTECT_HASH, "x", 1, &b), -1);
    p.hash_key = "0123456789abcdef-key";
    p.hash_key_len = strlen(p.hash_key);
    assert_int_equal(sl_protect_value(&p, SL_PROTECT_HASH, "alice@example.com", 17, &b), 0);
    assert_int_equal(sl_hmac_sha256_hex(p.hash_key, p.hash_key_len, "alice@example.com", 17,
                                        want), 0);
    assert_int_equal(b.len, 64);
    assert_memory_equal(b.data, want, 64);
    /* deterministic: the same value, the same hash (joins, keys) */
    sl_buf_reset(&b);
    assert_int_equal(sl_protect_value(&p, SL_PROTECT_HASH, "alice@example.com", 17, &b), 0);
    assert_memory_equal(b.data, want, 64);
    /* another key, another hash */
    p.hash_key = "another-key-of-16-bytes";
    p.hash_key_len = strlen(p.hash_key);
    sl_buf_reset(&b);
    assert_int_equal(sl_protect_value(&p, SL_PROTECT_HASH, "alice@example.com", 17, &b), 0);
    assert_memory_not_equal(b.data, want, 64);
    sl_buf_reset(&b);
    assert_int_equal(sl_protect_value(&p, SL_PROTECT_DROP, "x", 1, &b), 0);
    assert_int_equal(b.len, 0);
    sl_buf_free(&b);
}

static void stored_schema_drops_and_types_text(void **state)
{
    (void)state;
    struct sl_protect_col pc[] = {{"email", SL_PROTECT_HASH, {0, 0}},
                                  {"ssn", SL_PROTECT_DROP, {0, 0}},
                                  {"phone", SL_PROTECT_MASK, {0, 0}}};
    struct sl_table_cfg t = {.protect = pc, .nprotect = 3};
    struct sl_schema s = {0};
    assert_int_equal(sl_schema_add(&s, "id", SL_T_BIGINT), 0);
    assert_int_equal(sl_schema_add(&s, "email", SL_T_TEXT), 0);
    assert_int_equal(sl_schema_add(&s, "ssn", SL_T_TEXT), 0);
    assert_int_equal(sl_schema_add(&s, "phone", SL_T_BIGINT), 0);
    assert_int_equal(sl_protect_schema(&t, &s), 0);
    assert_int_equal(s.ncols, 3);
    assert_string_equal(s.cols[0].name, "id");
    assert_int_equal(s.cols[0].type, SL_T_BIGINT);
    assert_string_equal(s.cols[1].name, "email");
    assert_string_equal(s.cols[2].name, "phone");
    assert_int_equal(s.cols[2].type, SL_T_TEXT);
    assert_non_null(sl_protect_find(&t, "ssn", 3));
    assert_null(sl_protect_find(&t, "ss", 2));
    sl_schema_free(&s);
}

static void alerts_carry_no_gate_examples(void **state)
{
    (void)state;
    struct sl_alert_cfg w = {.url = "http://x", .format = "generic"};
    struct sl_alert a = {"quarantined", 0, "p", "t", 3, "held",
                         "{\"gates\":[{\"gate\":\"rules\",\"failed\":2,\"examples\":"
                         "[{\"value\":\"raw@secret.example\"}],\"ratio\":1.50}],"
                         "\"unique_key\":{\"exact_duplicate_examples\":[\"x\"],\"n\":1}}"};
    struct sl_err err;
    char *p = sl_alert_payload(&w, &a, &err);
    assert_non_null(p);
    assert_null(strstr(p, "raw@secret.example"));
    assert_null(strstr(p, "example"));
    /* the rest of the report as written, numbers keeping their digits */
    assert_non_null(strstr(p, "\"failed\":2"));
    assert_non_null(strstr(p, "\"ratio\":1.50"));
    assert_non_null(strstr(p, "\"n\":1"));
    sl_free(p);
    w.format = "slack";
    p = sl_alert_payload(&w, &a, &err);
    assert_non_null(p);
    assert_null(strstr(p, "raw@secret.example"));
    sl_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_sha256_gives_the_rfc_4231_vectors),
        cmocka_unit_test(mask_keeps_the_last_four_characters_not_bytes),
        cmocka_unit_test(hash_is_the_hmac_under_the_pipeline_key_as_hex),
        cmocka_unit_test(stored_schema_drops_and_types_text),
        cmocka_unit_test(alerts_carry_no_gate_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
