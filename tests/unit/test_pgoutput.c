/* tests/unit/test_pgoutput.c: the logical replication decoder
 * (pg/pgoutput.c): CopyBoth frames, the status update, LSNs, and every
 * pgoutput message kind, built by hand and captured from a real server
 * (the .hex files in tests/data/pgoutput, made by capture.sh there).
 * Every message a test decodes is also decoded from an exact-size heap copy
 * at every shorter length and with a byte too many, which must each fail
 * without a read past the end (ASan); unknown kinds, tags and identities
 * fail; scratch grows (1600 columns, an update's two tuples) and survives
 * running out of memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/mem.h"
#include "base/value.h"
#include "pg/pgoutput.h"

static struct sl_pgo_scratch S;

static int teardown(void **state)
{
    (void)state;
    sl_mem_fail_at(0);
    sl_pgo_scratch_free(&S);
    return 0;
}

/* ---- a byte builder ---- */

static void put8(struct sl_buf *b, unsigned v)
{
    assert_int_equal(sl_buf_putc(b, (char)(unsigned char)v), 0);
}

static void put_be(struct sl_buf *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        put8(b, (unsigned)(v >> (8 * i)) & 0xFF);
}

static void put16(struct sl_buf *b, unsigned v) { put_be(b, v, 2); }
static void put32(struct sl_buf *b, uint32_t v) { put_be(b, v, 4); }
static void put64(struct sl_buf *b, uint64_t v) { put_be(b, v, 8); }

static void putstr(struct sl_buf *b, const char *s)
{
    assert_int_equal(sl_buf_append(b, s, strlen(s) + 1), 0);
}

/* tuple values */
static void tv(struct sl_buf *b, const char *s)
{
    put8(b, 't');
    put32(b, (uint32_t)strlen(s));
    assert_int_equal(sl_buf_append(b, s, strlen(s)), 0);
}

static void bv(struct sl_buf *b, const void *p, size_t n)
{
    put8(b, 'b');
    put32(b, (uint32_t)n);
    assert_int_equal(sl_buf_append(b, p, n), 0);
}

static const unsigned char *U(const struct sl_buf *b) { return (const unsigned char *)b->data; }

/* ---- decoding with every check that applies to any message ---- */

static unsigned char *exact_copy(const void *p, size_t n, size_t size)
{
    /* exactly `size` bytes on the heap (malloc(0) included), so ASan sees
     * any read past them */
    unsigned char *c = malloc(size);
    assert_true(c != NULL || size == 0);
    memcpy(c, p, n < size ? n : size);
    return c;
}

static void assert_source_error(const struct sl_err *err)
{
    assert_int_equal(err->code, SL_E_SOURCE);
    assert_memory_equal(err->msg, "pgoutput: ", 10);
    assert_non_null(strstr(err->msg, " at byte "));
}

/* Decode b into *m (pointing into b): a valid message. Before that: every
 * shorter exact-size copy fails, the exact copy decodes, and one with a
 * byte more fails. */
static void ok(const struct sl_buf *b, struct sl_pgo_msg *m)
{
    struct sl_err err;
    for (size_t k = 0; k < b->len; k++) {
        unsigned char *c = exact_copy(b->data, b->len, k);
        sl_err_clear(&err);
        if (sl_pgo_decode(c, k, &S, m, &err) != -1)
            fail_msg("a %zu byte prefix of a %zu byte message decoded", k, b->len);
        assert_source_error(&err);
        free(c);
    }
    unsigned char *c = exact_copy(b->data, b->len, b->len + 1);
    c[b->len] = 0;
    sl_err_clear(&err);
    assert_int_equal(sl_pgo_decode(c, b->len + 1, &S, m, &err), -1);
    assert_source_error(&err);
    assert_non_null(strstr(err.msg, "trailing data after the "));
    sl_err_clear(&err);
    if (sl_pgo_decode(c, b->len, &S, m, &err) != 0)
        fail_msg("%s", err.msg);
    free(c);
    if (sl_pgo_decode(U(b), b->len, &S, m, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Decode b, which must fail; the message, for the test to check. */
static const char *bad(const struct sl_buf *b, struct sl_err *err)
{
    struct sl_pgo_msg m;
    unsigned char *c = exact_copy(b->data, b->len, b->len);
    sl_err_clear(err);
    assert_int_equal(sl_pgo_decode(c, b->len, &S, &m, err), -1);
    free(c);
    return err->msg;
}

static void assert_val(const struct sl_pgo_value *v, enum sl_pgo_val kind, const char *text)
{
    assert_int_equal(v->kind, kind);
    if (kind == SL_PGO_TEXT || kind == SL_PGO_BINARY) {
        assert_int_equal(v->len, strlen(text));
        assert_memory_equal(v->data, text, v->len);
    }
}

/* ---- LSNs ---- */

static void lsn_format_is_postgres_upper_hex(void **state)
{
    char s[24];
    (void)state;
    sl_lsn_format(0, s);
    assert_string_equal(s, "0/0");
    sl_lsn_format(0x16B374D848ULL, s);
    assert_string_equal(s, "16/B374D848");
    sl_lsn_format(UINT64_MAX, s);
    assert_string_equal(s, "FFFFFFFF/FFFFFFFF");
    sl_lsn_format((sl_lsn)1 << 32, s);
    assert_string_equal(s, "1/0");
}

static void lsn_parse_and_format_round_trip(void **state)
{
    const sl_lsn vals[] = { 0, 1, 0xFFFFFFFFULL, (sl_lsn)1 << 32, 0x16B374D848ULL,
                            0xABCDEF0123456789ULL, UINT64_MAX };
    (void)state;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char s[24];
        sl_lsn back = 42;
        sl_lsn_format(vals[i], s);
        assert_int_equal(sl_lsn_parse(s, &back), 0);
        assert_true(back == vals[i]);
    }
    sl_lsn l;
    assert_int_equal(sl_lsn_parse("16/b374d848", &l), 0);
    assert_true(l == 0x16B374D848ULL);
    assert_int_equal(sl_lsn_parse("00000016/0000000A", &l), 0);
    assert_true(l == 0x160000000AULL);
}

static void lsn_parse_rejects_what_is_not_an_lsn(void **state)
{
    const char *no[] = {
        "", "1/", "/1", "/", "1", "G/1", "1/G", "1/2/3", "1//2",
        "123456789/0", "0/123456789",                   /* 9 digits: past 32 bits */
        "00000000000000001/0", "0/00000000000000001",   /* 17 digits */
        " 1/2", "1/2 ", "1 /2", "1/ 2", "1/2\n", "+1/2", "-1/2", "1/-2",
        "0x1/2", "1/0x2", "1.5/2", "１/2",
    };
    (void)state;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        sl_lsn l = 7;
        if (sl_lsn_parse(no[i], &l) != -1)
            fail_msg("\"%s\" parsed", no[i]);
        assert_true(l == 7);
    }
}

/* ---- frames, the status update, the clock ---- */

static void xlogdata_frame_decodes_header_and_payload(void **state)
{
    struct sl_buf b;
    struct sl_pgo_frame f;
    struct sl_err err;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'w');
    put64(&b, 0x0000000100000010ULL);
    put64(&b, 0x0000000100000020ULL);
    put64(&b, 0xFFFFFFFFFFFFFFFEULL);   /* -2: send times are signed */
    assert_int_equal(sl_buf_append(&b, "Bxyz", 4), 0);
    assert_int_equal(sl_pgo_frame(U(&b), b.len, &f, &err), 0);
    assert_int_equal(f.kind, SL_PGO_XLOGDATA);
    assert_true(f.start == 0x0000000100000010ULL);
    assert_true(f.end == 0x0000000100000020ULL);
    assert_true(f.send_time == -2);
    assert_ptr_equal(f.data, U(&b) + 25);
    assert_int_equal(f.len, 4);
    assert_int_equal(f.reply, 0);

    /* an empty payload is a frame; the decoder refuses the message */
    assert_int_equal(sl_pgo_frame(U(&b), 25, &f, &err), 0);
    assert_int_equal(f.len, 0);
    for (size_t k = 0; k < 25; k++) {
        unsigned char *c = exact_copy(b.data, b.len, k);
        sl_err_clear(&err);
        assert_int_equal(sl_pgo_frame(c, k, &f, &err), -1);
        assert_source_error(&err);
        free(c);
    }
    sl_buf_free(&b);
}

static void keepalive_frame_decodes_end_time_and_reply(void **state)
{
    struct sl_buf b;
    struct sl_pgo_frame f;
    struct sl_err err;
    (void)state;
    for (unsigned reply = 0; reply < 3; reply++) {
        sl_buf_init(&b);
        put8(&b, 'k');
        put64(&b, 0x16B374D848ULL);
        put64(&b, 757479845000000ULL);
        put8(&b, reply);
        unsigned char *c = exact_copy(b.data, b.len, b.len);
        assert_int_equal(sl_pgo_frame(c, b.len, &f, &err), 0);
        assert_int_equal(f.kind, SL_PGO_KEEPALIVE);
        assert_true(f.end == 0x16B374D848ULL);
        assert_true(f.send_time == 757479845000000LL);
        assert_int_equal(f.reply, reply != 0);
        assert_null(f.data);
        assert_int_equal(f.len, 0);
        free(c);
        for (size_t k = 0; k < b.len; k++) {
            c = exact_copy(b.data, b.len, k);
            sl_err_clear(&err);
            assert_int_equal(sl_pgo_frame(c, k, &f, &err), -1);
            assert_source_error(&err);
            free(c);
        }
        put8(&b, 0);
        sl_err_clear(&err);
        assert_int_equal(sl_pgo_frame(U(&b), b.len, &f, &err), -1);
        assert_string_equal(err.msg, "pgoutput: trailing data after the keepalive frame"
                            " at byte 18 (1 of 19 bytes unused)");
        sl_buf_free(&b);
    }
}

static void unknown_and_empty_frames_are_errors(void **state)
{
    unsigned char buf[40] = { 0 };
    struct sl_pgo_frame f;
    struct sl_err err;
    (void)state;
    for (int k = 0; k < 256; k++) {
        if (k == 'w' || k == 'k')
            continue;
        buf[0] = (unsigned char)k;
        sl_err_clear(&err);
        assert_int_equal(sl_pgo_frame(buf, sizeof buf, &f, &err), -1);
        assert_non_null(strstr(err.msg, "unknown frame kind"));
        assert_source_error(&err);
    }
    unsigned char *c = exact_copy(buf, 0, 0);
    sl_err_clear(&err);
    assert_int_equal(sl_pgo_frame(c, 0, &f, &err), -1);
    assert_source_error(&err);
    free(c);
}

static void status_update_is_34_bytes_big_endian(void **state)
{
    unsigned char out[34];
    const unsigned char want[34] = {
        'r',
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,     /* now = -1 */
        1,
    };
    (void)state;
    memset(out, 0xAA, sizeof out);
    assert_int_equal(sl_pgo_status_update(out, 0x0102030405060708ULL, 0x1112131415161718ULL,
                                          0x2122232425262728ULL, -1, 1), 34);
    assert_memory_equal(out, want, 34);
    assert_int_equal(sl_pgo_status_update(out, 0, 0, 0, 0, 7), 34);
    assert_int_equal(out[0], 'r');
    assert_int_equal(out[33], 1);
    assert_int_equal(sl_pgo_status_update(out, 0, 0, 0, 0, 0), 34);
    assert_int_equal(out[33], 0);
}

static void now_counts_microseconds_from_2000(void **state)
{
    (void)state;
    time_t before = time(NULL);
    int64_t now = sl_pgo_now();
    time_t after = time(NULL);
    int64_t secs = now / 1000000;
    assert_true(secs >= (int64_t)before - 946684800 - 1);
    assert_true(secs <= (int64_t)after - 946684800 + 1);
}

/* ---- messages built by hand ---- */

static void begin_decodes_every_field(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    struct sl_err err;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'B');
    put64(&b, 0x16B374D848ULL);
    put64(&b, (uint64_t)-5);
    put32(&b, 0xFFFFFFF0u);
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_BEGIN);
    assert_true(m.u.begin.final_lsn == 0x16B374D848ULL);
    assert_true(m.u.begin.commit_time == -5);
    assert_true(m.u.begin.xid == 0xFFFFFFF0u);

    /* the message says which field is short, where, and by how much */
    b.len = 5;
    assert_string_equal(bad(&b, &err), "pgoutput: Begin message cut short at byte 1"
                        " (8 bytes needed, 4 left)");
    sl_buf_free(&b);
}

static void commit_decodes_every_field(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'C');
    put8(&b, 0);
    put64(&b, 0x100ULL);
    put64(&b, 0x130ULL);
    put64(&b, 757479845000000ULL);
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_COMMIT);
    assert_int_equal(m.u.commit.flags, 0);
    assert_true(m.u.commit.commit_lsn == 0x100);
    assert_true(m.u.commit.end_lsn == 0x130);
    assert_true(m.u.commit.commit_time == 757479845000000LL);
    sl_buf_free(&b);
}

static void origin_decodes_lsn_and_name(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'O');
    put64(&b, 0xABCDEF);
    putstr(&b, "upstream");
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_ORIGIN);
    assert_true(m.u.origin.lsn == 0xABCDEF);
    assert_string_equal(m.u.origin.name, "upstream");
    assert_ptr_equal(m.u.origin.name, b.data + 9);
    sl_buf_free(&b);
}

static void relation(struct sl_buf *b, const char *nsp, const char *rel, char ident,
                     unsigned ncols)
{
    sl_buf_init(b);
    put8(b, 'R');
    put32(b, 16385);
    putstr(b, nsp);
    putstr(b, rel);
    put8(b, (unsigned char)ident);
    put16(b, ncols);
}

static void relation_decodes_names_identity_and_columns(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    relation(&b, "public", "orders", 'd', 3);
    put8(&b, 1); putstr(&b, "id"); put32(&b, 23); put32(&b, 0xFFFFFFFFu);
    put8(&b, 0); putstr(&b, "price"); put32(&b, 1700); put32(&b, 655366);
    put8(&b, 3); putstr(&b, ""); put32(&b, 25); put32(&b, 0);  /* a flag we do not know */
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_RELATION);
    assert_int_equal(m.u.relation.oid, 16385);
    assert_string_equal(m.u.relation.nspname, "public");
    assert_string_equal(m.u.relation.relname, "orders");
    assert_int_equal(m.u.relation.replident, 'd');
    assert_int_equal(m.u.relation.ncols, 3);
    assert_ptr_equal(m.u.relation.cols, S.cols);
    const struct sl_pgo_column *c = m.u.relation.cols;
    assert_int_equal(c[0].key, 1);
    assert_string_equal(c[0].name, "id");
    assert_int_equal(c[0].type_oid, 23);
    assert_int_equal(c[0].typmod, -1);
    assert_int_equal(c[1].key, 0);
    assert_string_equal(c[1].name, "price");
    assert_int_equal(c[1].type_oid, 1700);
    assert_int_equal(c[1].typmod, 655366);
    assert_int_equal(c[2].key, 1);
    assert_string_equal(c[2].name, "");
    sl_buf_free(&b);

    /* pg_catalog is "", and every identity there is */
    const char *idents = "dnfi";
    for (int i = 0; idents[i]; i++) {
        relation(&b, "", "t", idents[i], 0);
        ok(&b, &m);
        assert_string_equal(m.u.relation.nspname, "");
        assert_int_equal(m.u.relation.replident, idents[i]);
        sl_buf_free(&b);
    }
}

static void relation_with_no_columns(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    relation(&b, "s", "empty", 'n', 0);
    ok(&b, &m);
    assert_int_equal(m.u.relation.ncols, 0);
    assert_string_equal(m.u.relation.relname, "empty");
    sl_buf_free(&b);
}

static void relation_errors_name_the_byte(void **state)
{
    struct sl_buf b;
    struct sl_err err;
    (void)state;
    relation(&b, "s", "t", 'x', 0);
    assert_string_equal(bad(&b, &err), "pgoutput: Relation message has unknown replica"
                        " identity 0x78 at byte 9");
    sl_buf_free(&b);
    relation(&b, "s", "t", 0, 0);
    assert_non_null(strstr(bad(&b, &err), "unknown replica identity 0x00"));
    sl_buf_free(&b);

    /* a name that runs to the end */
    sl_buf_init(&b);
    put8(&b, 'R');
    put32(&b, 1);
    assert_int_equal(sl_buf_append(&b, "public", 6), 0);
    assert_string_equal(bad(&b, &err), "pgoutput: Relation message has a string with no"
                        " end at byte 5");
    sl_buf_free(&b);

    /* 65535 columns in a few bytes: refused before scratch grows for them */
    relation(&b, "s", "t", 'd', 65535);
    put8(&b, 0); putstr(&b, "a"); put32(&b, 23); put32(&b, 0);
    assert_non_null(strstr(bad(&b, &err), "says 65535 columns at byte 10"));
    assert_null(S.cols);
    assert_int_equal(S.ncols_cap, 0);
    sl_buf_free(&b);
}

static void type_decodes_oid_and_names(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'Y');
    put32(&b, 16390);
    putstr(&b, "pgo");
    putstr(&b, "mood");
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_TYPE);
    assert_int_equal(m.u.type.oid, 16390);
    assert_string_equal(m.u.type.nspname, "pgo");
    assert_string_equal(m.u.type.name, "mood");
    sl_buf_free(&b);
}

static void insert_decodes_every_value_kind(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    const unsigned char bin[] = { 0, 1, 0, 0xFF };
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 16385);
    put8(&b, 'N');
    put16(&b, 6);
    tv(&b, "widget");
    put8(&b, 'n');
    put8(&b, 'u');
    tv(&b, "");
    bv(&b, bin, sizeof bin);
    tv(&b, "a\nb\0c");  /* strlen: "a\nb" */
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_INSERT);
    assert_int_equal(m.u.insert.oid, 16385);
    const struct sl_pgo_tuple *t = &m.u.insert.new_tuple;
    assert_int_equal(t->ncols, 6);
    assert_ptr_equal(t->vals, S.vals);
    assert_val(&t->vals[0], SL_PGO_TEXT, "widget");
    assert_ptr_equal(t->vals[0].data, b.data + 13);     /* no copy */
    assert_val(&t->vals[1], SL_PGO_NULL, NULL);
    assert_val(&t->vals[2], SL_PGO_UNCHANGED, NULL);
    assert_val(&t->vals[3], SL_PGO_TEXT, "");
    assert_int_equal(t->vals[4].kind, SL_PGO_BINARY);
    assert_int_equal(t->vals[4].len, sizeof bin);
    assert_memory_equal(t->vals[4].data, bin, sizeof bin);
    assert_val(&t->vals[5], SL_PGO_TEXT, "a\nb");
    sl_buf_free(&b);

    /* no columns at all */
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 1);
    put8(&b, 'N');
    put16(&b, 0);
    ok(&b, &m);
    assert_int_equal(m.u.insert.new_tuple.ncols, 0);
    sl_buf_free(&b);
}

static void insert_with_1600_columns_grows_scratch(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    char s[16];
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 9);
    put8(&b, 'N');
    put16(&b, 1600);
    for (int i = 0; i < 1600; i++) {
        if (i % 7 == 3) {
            put8(&b, 'n');
            continue;
        }
        snprintf(s, sizeof s, "v%d", i);
        tv(&b, s);
    }
    ok(&b, &m);
    assert_int_equal(m.u.insert.new_tuple.ncols, 1600);
    assert_true(S.nvals_cap >= 1600);
    for (int i = 0; i < 1600; i++) {
        snprintf(s, sizeof s, "v%d", i);
        assert_val(&m.u.insert.new_tuple.vals[i], i % 7 == 3 ? SL_PGO_NULL : SL_PGO_TEXT, s);
    }
    sl_buf_free(&b);
}

static void insert_errors(void **state)
{
    struct sl_buf b;
    struct sl_err err;
    (void)state;
    /* a tag other than 'N' */
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 1);
    put8(&b, 'K');
    put16(&b, 0);
    assert_string_equal(bad(&b, &err), "pgoutput: Insert message has tuple tag 0x4b where"
                        " one of \"N\" belongs at byte 5");
    sl_buf_free(&b);

    /* a value kind the protocol does not have */
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 1);
    put8(&b, 'N');
    put16(&b, 2);
    put8(&b, 'n');
    put8(&b, 'x');
    assert_string_equal(bad(&b, &err), "pgoutput: Insert message has unknown value kind"
                        " 0x78 (column 2) at byte 9");
    sl_buf_free(&b);

    /* a value longer than what is left, up to 4 GB */
    const uint32_t lens[] = { 4, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu };
    for (size_t i = 0; i < 4; i++) {
        sl_buf_init(&b);
        put8(&b, 'I');
        put32(&b, 1);
        put8(&b, 'N');
        put16(&b, 1);
        put8(&b, 't');
        put32(&b, lens[i]);
        assert_int_equal(sl_buf_append(&b, "abc", 3), 0);
        assert_non_null(strstr(bad(&b, &err), "cut short at byte 13"));
        sl_buf_free(&b);
    }

    /* more columns than bytes: refused before scratch grows for them */
    sl_pgo_scratch_free(&S);
    sl_buf_init(&b);
    put8(&b, 'I');
    put32(&b, 1);
    put8(&b, 'N');
    put16(&b, 65535);
    put8(&b, 'n');
    assert_non_null(strstr(bad(&b, &err), "says 65535 columns at byte 6"));
    assert_null(S.vals);
    sl_buf_free(&b);
}

static void update_without_old_tuple(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'U');
    put32(&b, 77);
    put8(&b, 'N');
    put16(&b, 2);
    tv(&b, "1");
    put8(&b, 'u');
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_UPDATE);
    assert_int_equal(m.u.update.oid, 77);
    assert_int_equal(m.u.update.old_kind, 0);
    assert_int_equal(m.u.update.old_tuple.ncols, 0);
    assert_int_equal(m.u.update.new_tuple.ncols, 2);
    assert_val(&m.u.update.new_tuple.vals[0], SL_PGO_TEXT, "1");
    assert_val(&m.u.update.new_tuple.vals[1], SL_PGO_UNCHANGED, NULL);
    sl_buf_free(&b);
}

/* An update with an old tuple of nold values and a new one of nnew: old
 * values "o<i>", new ones "n<i>". */
static void update_with_old(struct sl_buf *b, char tag, unsigned nold, unsigned nnew)
{
    char s[16];
    sl_buf_init(b);
    put8(b, 'U');
    put32(b, 78);
    put8(b, (unsigned char)tag);
    put16(b, nold);
    for (unsigned i = 0; i < nold; i++) {
        snprintf(s, sizeof s, "o%u", i);
        tv(b, s);
    }
    put8(b, 'N');
    put16(b, nnew);
    for (unsigned i = 0; i < nnew; i++) {
        snprintf(s, sizeof s, "n%u", i);
        tv(b, s);
    }
}

static void check_update(const struct sl_pgo_msg *m, char tag, unsigned nold, unsigned nnew)
{
    char s[16];
    assert_int_equal(m->kind, SL_PGO_UPDATE);
    assert_int_equal(m->u.update.old_kind, tag);
    assert_int_equal(m->u.update.old_tuple.ncols, nold);
    assert_int_equal(m->u.update.new_tuple.ncols, nnew);
    /* old values first in scratch, the new ones after them */
    assert_ptr_equal(m->u.update.old_tuple.vals, S.vals);
    assert_ptr_equal(m->u.update.new_tuple.vals, S.vals + nold);
    for (unsigned i = 0; i < nold; i++) {
        snprintf(s, sizeof s, "o%u", i);
        assert_val(&m->u.update.old_tuple.vals[i], SL_PGO_TEXT, s);
    }
    for (unsigned i = 0; i < nnew; i++) {
        snprintf(s, sizeof s, "n%u", i);
        assert_val(&m->u.update.new_tuple.vals[i], SL_PGO_TEXT, s);
    }
}

static void update_with_key_old_tuple(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    update_with_old(&b, 'K', 1, 3);
    ok(&b, &m);
    check_update(&m, 'K', 1, 3);
    sl_buf_free(&b);
}

static void update_with_whole_old_row(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    update_with_old(&b, 'O', 3, 3);
    ok(&b, &m);
    check_update(&m, 'O', 3, 3);
    sl_buf_free(&b);
}

static void update_tuples_set_after_scratch_grows_for_the_new_one(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    struct sl_err err;
    (void)state;
    /* a fresh scratch each time: the old tuple fits the first allocation,
     * the new one moves it */
    update_with_old(&b, 'O', 10, 1000);
    sl_pgo_scratch_free(&S);
    assert_int_equal(sl_pgo_decode(U(&b), b.len, &S, &m, &err), 0);
    check_update(&m, 'O', 10, 1000);
    ok(&b, &m);
    check_update(&m, 'O', 10, 1000);
    sl_buf_free(&b);
}

static void update_errors(void **state)
{
    struct sl_buf b;
    struct sl_err err;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'U');
    put32(&b, 1);
    put8(&b, 'X');
    put16(&b, 0);
    assert_non_null(strstr(bad(&b, &err), "tuple tag 0x58 where one of \"KON\" belongs"
                           " at byte 5"));
    sl_buf_free(&b);

    /* old tuple then not 'N' */
    update_with_old(&b, 'K', 1, 1);
    b.data[5 + 1 + 2 + 1 + 4 + 2] = 'K';
    assert_non_null(strstr(bad(&b, &err), "tuple tag 0x4b where one of \"N\" belongs"
                           " at byte 15"));
    sl_buf_free(&b);
}

static void delete_with_key_and_with_old_row(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    struct sl_err err;
    (void)state;
    const char tags[] = { 'K', 'O' };
    for (int i = 0; i < 2; i++) {
        sl_buf_init(&b);
        put8(&b, 'D');
        put32(&b, 79);
        put8(&b, (unsigned char)tags[i]);
        put16(&b, 3);
        tv(&b, "2");
        put8(&b, 'n');
        tv(&b, "x");
        ok(&b, &m);
        assert_int_equal(m.kind, SL_PGO_DELETE);
        assert_int_equal(m.u.del.oid, 79);
        assert_int_equal(m.u.del.old_kind, tags[i]);
        assert_int_equal(m.u.del.old_tuple.ncols, 3);
        assert_val(&m.u.del.old_tuple.vals[0], SL_PGO_TEXT, "2");
        assert_val(&m.u.del.old_tuple.vals[1], SL_PGO_NULL, NULL);
        assert_val(&m.u.del.old_tuple.vals[2], SL_PGO_TEXT, "x");
        sl_buf_free(&b);
    }
    /* a delete carries no new tuple */
    sl_buf_init(&b);
    put8(&b, 'D');
    put32(&b, 79);
    put8(&b, 'N');
    put16(&b, 0);
    assert_non_null(strstr(bad(&b, &err), "Delete message has tuple tag 0x4e where one of"
                           " \"KO\" belongs at byte 5"));
    sl_buf_free(&b);
}

static void truncate_decodes_options_and_oids(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    struct sl_err err;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'T');
    put32(&b, 3);
    put8(&b, 3);
    put32(&b, 16385);
    put32(&b, 0xFFFFFFFFu);
    put32(&b, 1);
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_TRUNCATE);
    assert_int_equal(m.u.truncate.nrels, 3);
    assert_int_equal(m.u.truncate.options, 3);
    assert_int_equal(sl_pgo_truncate_oid(&m, 0), 16385);
    assert_true(sl_pgo_truncate_oid(&m, 1) == 0xFFFFFFFFu);
    assert_int_equal(sl_pgo_truncate_oid(&m, 2), 1);
    sl_buf_free(&b);

    sl_buf_init(&b);
    put8(&b, 'T');
    put32(&b, 0);
    put8(&b, 0);
    ok(&b, &m);
    assert_int_equal(m.u.truncate.nrels, 0);
    sl_buf_free(&b);

    /* nrels * 4 past the end, however large */
    sl_buf_init(&b);
    put8(&b, 'T');
    put32(&b, 0xFFFFFFFFu);
    put8(&b, 0);
    put32(&b, 1);
    assert_non_null(strstr(bad(&b, &err), "says 4294967295 relations at byte 1"));
    sl_buf_free(&b);
}

static void message_decodes_flags_prefix_and_content(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    (void)state;
    sl_buf_init(&b);
    put8(&b, 'M');
    put8(&b, 1);
    put64(&b, 0x1565318ULL);
    putstr(&b, "sluice");
    put32(&b, 5);
    assert_int_equal(sl_buf_append(&b, "a\0b\0c", 5), 0);
    ok(&b, &m);
    assert_int_equal(m.kind, SL_PGO_MESSAGE);
    assert_int_equal(m.u.message.flags, 1);
    assert_true(m.u.message.lsn == 0x1565318ULL);
    assert_string_equal(m.u.message.prefix, "sluice");
    assert_int_equal(m.u.message.len, 5);
    assert_memory_equal(m.u.message.content, "a\0b\0c", 5);
    sl_buf_free(&b);

    sl_buf_init(&b);
    put8(&b, 'M');
    put8(&b, 0);
    put64(&b, 1);
    putstr(&b, "");
    put32(&b, 0);
    ok(&b, &m);
    assert_int_equal(m.u.message.len, 0);
    assert_string_equal(m.u.message.prefix, "");
    sl_buf_free(&b);
}

static void unknown_message_kinds_are_errors(void **state)
{
    const char *known = "BCORYIUDTM";
    unsigned char buf[64] = { 0 };
    struct sl_pgo_msg m;
    struct sl_err err;
    char want[64];
    (void)state;
    for (int k = 0; k < 256; k++) {
        if (k && strchr(known, k))
            continue;
        buf[0] = (unsigned char)k;
        for (size_t n = 1; n <= sizeof buf; n += 63) {
            unsigned char *c = exact_copy(buf, n, n);
            sl_err_clear(&err);
            assert_int_equal(sl_pgo_decode(c, n, &S, &m, &err), -1);
            assert_source_error(&err);
            snprintf(want, sizeof want, "unknown message kind 0x%02x at byte 0", k);
            assert_non_null(strstr(err.msg, want));
            free(c);
        }
    }
    /* and nothing at all */
    unsigned char *c = exact_copy(buf, 0, 0);
    sl_err_clear(&err);
    assert_int_equal(sl_pgo_decode(c, 0, &S, &m, &err), -1);
    assert_source_error(&err);
    free(c);
}

static void out_of_memory_growing_scratch_is_nomem(void **state)
{
    struct sl_buf b;
    struct sl_pgo_msg m;
    struct sl_err err;
    (void)state;
    /* the relation's columns */
    relation(&b, "s", "t", 'd', 1);
    put8(&b, 1); putstr(&b, "id"); put32(&b, 23); put32(&b, 0);
    sl_mem_fail_at(1);
    sl_err_clear(&err);
    assert_int_equal(sl_pgo_decode(U(&b), b.len, &S, &m, &err), -1);
    assert_int_equal(err.code, SL_E_NOMEM);
    assert_string_equal(err.msg, "out of memory");
    assert_null(S.cols);
    sl_mem_fail_at(0);
    assert_int_equal(sl_pgo_decode(U(&b), b.len, &S, &m, &err), 0);
    sl_buf_free(&b);

    /* an update whose new tuple outgrows what the old one got: the second
     * allocation fails, the first stays the scratch's */
    update_with_old(&b, 'O', 2, 40);
    sl_mem_fail_at(2);
    sl_err_clear(&err);
    assert_int_equal(sl_pgo_decode(U(&b), b.len, &S, &m, &err), -1);
    assert_int_equal(err.code, SL_E_NOMEM);
    assert_non_null(S.vals);
    assert_true(S.nvals_cap >= 2 && S.nvals_cap < 42);
    sl_mem_fail_at(0);
    assert_int_equal(sl_pgo_decode(U(&b), b.len, &S, &m, &err), 0);
    check_update(&m, 'O', 2, 40);
    sl_buf_free(&b);
}

/* ---- messages a real server sent (tests/data/pgoutput) ---- */

#define FIX_MAX 64

struct fixture {
    size_t n;
    struct sl_buf line[FIX_MAX];
    struct sl_pgo_msg m[FIX_MAX];
    char kinds[FIX_MAX + 1];
};

/* each line's own scratch, so a later line's decode leaves an earlier
 * line's columns and values alone */
static struct sl_pgo_scratch fix_scratch[FIX_MAX];

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++) {
        sl_buf_free(&f->line[i]);
        sl_pgo_scratch_free(&fix_scratch[i]);
    }
}

/* name.hex: one hex message a line, '#' comments */
static void fixture_load(const char *name, struct fixture *f)
{
    char path[512], text[65536];
    snprintf(path, sizeof path, "%s/pgoutput/%s.hex", SL_TESTDATA, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("could not open \"%s\"", path);
    memset(f, 0, sizeof *f);
    while (fgets(text, sizeof text, fp)) {
        size_t n = strcspn(text, "\r\n");
        if (text[0] == '#' || n == 0)
            continue;
        assert_true(f->n < FIX_MAX);
        assert_int_equal(n % 2, 0);
        struct sl_buf *b = &f->line[f->n];
        sl_buf_init(b);
        for (size_t i = 0; i < n; i += 2) {
            int hi = sl_hex_digit(text[i]), lo = sl_hex_digit(text[i + 1]);
            assert_true(hi >= 0 && lo >= 0);
            put8(b, (unsigned)(hi << 4 | lo));
        }
        f->n++;
    }
    fclose(fp);
}

/* every line through ok() (so every truncation too), then into its own scratch */
static void fixture_decode(struct fixture *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct sl_err err;
        ok(&f->line[i], &f->m[i]);
        assert_int_equal(sl_pgo_decode(U(&f->line[i]), f->line[i].len, &fix_scratch[i],
                                       &f->m[i], &err), 0);
        f->kinds[i] = (char)f->m[i].kind;
    }
    f->kinds[f->n] = '\0';
}

static const struct sl_pgo_value *newv(const struct sl_pgo_msg *m, int i)
{
    return m->kind == SL_PGO_INSERT ? &m->u.insert.new_tuple.vals[i]
                                    : &m->u.update.new_tuple.vals[i];
}

/* every transaction's Begin names the LSN and time its Commit has */
static void check_transactions(const struct fixture *f)
{
    const struct sl_pgo_msg *begin = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct sl_pgo_msg *m = &f->m[i];
        if (m->kind == SL_PGO_BEGIN) {
            assert_null(begin);
            begin = m;
        } else if (m->kind == SL_PGO_COMMIT) {
            assert_non_null(begin);
            assert_int_equal(m->u.commit.flags, 0);
            assert_true(m->u.commit.commit_lsn == begin->u.begin.final_lsn);
            assert_true(m->u.commit.end_lsn > m->u.commit.commit_lsn);
            assert_true(m->u.commit.commit_time == begin->u.begin.commit_time);
            begin = NULL;
        }
    }
    assert_null(begin);
}

static void fixture_basic_orders(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    (void)state;
    fixture_load("basic", f);
    fixture_decode(f);
    assert_string_equal(f->kinds, "BRICBUCBUCBDCBRTC");
    check_transactions(f);

    const struct sl_pgo_msg *r = &f->m[1];
    uint32_t oid = r->u.relation.oid;
    assert_string_equal(r->u.relation.nspname, "pgo");
    assert_string_equal(r->u.relation.relname, "orders");
    assert_int_equal(r->u.relation.replident, 'd');
    assert_int_equal(r->u.relation.ncols, 4);
    const char *names[] = { "id", "name", "qty", "note" };
    const uint32_t types[] = { 23, 25, 23, 25 };
    for (int i = 0; i < 4; i++) {
        assert_string_equal(r->u.relation.cols[i].name, names[i]);
        assert_int_equal(r->u.relation.cols[i].type_oid, types[i]);
        assert_int_equal(r->u.relation.cols[i].typmod, -1);
        assert_int_equal(r->u.relation.cols[i].key, i == 0);  /* the primary key */
    }

    /* INSERT (1, 'widget', 3, NULL) */
    const struct sl_pgo_msg *m = &f->m[2];
    assert_int_equal(m->u.insert.oid, oid);
    assert_int_equal(m->u.insert.new_tuple.ncols, 4);
    assert_val(newv(m, 0), SL_PGO_TEXT, "1");
    assert_val(newv(m, 1), SL_PGO_TEXT, "widget");
    assert_val(newv(m, 2), SL_PGO_TEXT, "3");
    assert_val(newv(m, 3), SL_PGO_NULL, NULL);

    /* SET qty = 4: a non-key column under REPLICA IDENTITY DEFAULT, no old tuple */
    m = &f->m[5];
    assert_int_equal(m->u.update.oid, oid);
    assert_int_equal(m->u.update.old_kind, 0);
    assert_int_equal(m->u.update.old_tuple.ncols, 0);
    assert_val(newv(m, 2), SL_PGO_TEXT, "4");

    /* SET id = 2: the key changed, the old key comes as 'K' (others null) */
    m = &f->m[8];
    assert_int_equal(m->u.update.old_kind, 'K');
    assert_int_equal(m->u.update.old_tuple.ncols, 4);
    assert_val(&m->u.update.old_tuple.vals[0], SL_PGO_TEXT, "1");
    for (int i = 1; i < 4; i++)
        assert_val(&m->u.update.old_tuple.vals[i], SL_PGO_NULL, NULL);
    assert_val(newv(m, 0), SL_PGO_TEXT, "2");
    assert_val(newv(m, 1), SL_PGO_TEXT, "widget");

    /* DELETE: the key */
    m = &f->m[11];
    assert_int_equal(m->u.del.oid, oid);
    assert_int_equal(m->u.del.old_kind, 'K');
    assert_val(&m->u.del.old_tuple.vals[0], SL_PGO_TEXT, "2");
    assert_val(&m->u.del.old_tuple.vals[3], SL_PGO_NULL, NULL);

    /* TRUNCATE: the relation again first, then its oid, no options */
    m = &f->m[15];
    assert_int_equal(m->u.truncate.nrels, 1);
    assert_int_equal(m->u.truncate.options, 0);
    assert_int_equal(sl_pgo_truncate_oid(m, 0), oid);
    fixture_free(f);
    free(f);
}

static void fixture_full_identity_sends_whole_old_rows(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    (void)state;
    fixture_load("full", f);
    fixture_decode(f);
    assert_string_equal(f->kinds, "BRICBUCBDC");
    check_transactions(f);

    const struct sl_pgo_msg *r = &f->m[1];
    assert_string_equal(r->u.relation.relname, "items");
    assert_int_equal(r->u.relation.replident, 'f');
    assert_int_equal(r->u.relation.ncols, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r->u.relation.cols[i].key, 1);  /* FULL: every column */
    assert_string_equal(r->u.relation.cols[2].name, "price");
    assert_int_equal(r->u.relation.cols[2].type_oid, 1700);
    assert_int_equal(r->u.relation.cols[2].typmod, (10 << 16 | 2) + 4);  /* numeric(10,2) */

    const struct sl_pgo_msg *m = &f->m[5];
    assert_int_equal(m->u.update.old_kind, 'O');
    assert_int_equal(m->u.update.old_tuple.ncols, 3);
    assert_val(&m->u.update.old_tuple.vals[0], SL_PGO_TEXT, "1");
    assert_val(&m->u.update.old_tuple.vals[1], SL_PGO_TEXT, "a");
    assert_val(&m->u.update.old_tuple.vals[2], SL_PGO_TEXT, "9.99");
    assert_val(newv(m, 1), SL_PGO_TEXT, "b");
    assert_val(newv(m, 2), SL_PGO_TEXT, "9.99");

    m = &f->m[8];
    assert_int_equal(m->u.del.old_kind, 'O');
    assert_val(&m->u.del.old_tuple.vals[1], SL_PGO_TEXT, "b");
    assert_val(&m->u.del.old_tuple.vals[2], SL_PGO_TEXT, "9.99");
    fixture_free(f);
    free(f);
}

static void fixture_toast_unchanged_value_is_not_sent(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    (void)state;
    fixture_load("toast", f);
    fixture_decode(f);
    assert_string_equal(f->kinds, "BRICBUC");
    check_transactions(f);

    const struct sl_pgo_value *body = newv(&f->m[2], 1);
    assert_int_equal(body->kind, SL_PGO_TEXT);
    assert_int_equal(body->len, 10000);
    for (size_t i = 0; i < body->len; i++)
        assert_int_equal(body->data[i], 'x');

    /* SET rev = 2: the TOASTed body did not change, and is not sent */
    const struct sl_pgo_msg *m = &f->m[5];
    assert_int_equal(m->u.update.old_kind, 0);
    assert_int_equal(m->u.update.new_tuple.ncols, 3);
    assert_val(newv(m, 0), SL_PGO_TEXT, "1");
    assert_val(newv(m, 1), SL_PGO_UNCHANGED, NULL);
    assert_val(newv(m, 2), SL_PGO_TEXT, "2");
    fixture_free(f);
    free(f);
}

static void fixture_misc_types_messages_origin_truncate(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    (void)state;
    fixture_load("misc", f);
    fixture_decode(f);
    /* the non-transactional message comes outside any transaction */
    assert_string_equal(f->kinds, "BYRICBMCMBOICBYRRTC");
    check_transactions(f);

    const struct sl_pgo_msg *y = &f->m[1], *r = &f->m[2];
    assert_string_equal(y->u.type.nspname, "pgo");
    assert_string_equal(y->u.type.name, "mood");
    assert_string_equal(r->u.relation.relname, "a");
    assert_int_equal(r->u.relation.cols[1].type_oid, y->u.type.oid);
    assert_string_equal(r->u.relation.cols[2].name, "v");
    assert_int_equal(r->u.relation.cols[2].type_oid, 1043);
    assert_int_equal(r->u.relation.cols[2].typmod, 12 + 4);      /* varchar(12) */
    assert_val(newv(&f->m[3], 1), SL_PGO_TEXT, "happy");

    const struct sl_pgo_msg *m = &f->m[6];
    assert_int_equal(m->u.message.flags, 1);
    assert_string_equal(m->u.message.prefix, "sluice");
    assert_int_equal(m->u.message.len, 16);
    assert_memory_equal(m->u.message.content, "in a transaction", 16);
    m = &f->m[8];
    assert_int_equal(m->u.message.flags, 0);
    assert_memory_equal(m->u.message.content, "outside", 7);

    /* pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-02 03:04:05+00') */
    assert_true(f->m[9].u.begin.commit_time == (1704164645LL - 946684800LL) * 1000000);
    m = &f->m[10];
    assert_true(m->u.origin.lsn == 0xABCDEF);
    assert_string_equal(m->u.origin.name, "upstream");
    assert_val(newv(&f->m[11], 1), SL_PGO_NULL, NULL);
    assert_val(newv(&f->m[11], 2), SL_PGO_TEXT, "eight");

    /* TRUNCATE a, b RESTART IDENTITY CASCADE */
    m = &f->m[17];
    assert_int_equal(m->u.truncate.nrels, 2);
    assert_int_equal(m->u.truncate.options, 3);
    assert_int_equal(sl_pgo_truncate_oid(m, 0), f->m[15].u.relation.oid);
    assert_int_equal(sl_pgo_truncate_oid(m, 1), f->m[16].u.relation.oid);
    assert_string_equal(f->m[16].u.relation.relname, "b");
    fixture_free(f);
    free(f);
}

static void fixture_frames_from_a_walsender(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char kinds[FIX_MAX + 1], pkinds[FIX_MAX + 1];
    size_t np = 0;
    (void)state;
    fixture_load("frames", f);
    for (size_t i = 0; i < f->n; i++) {
        struct sl_pgo_frame fr;
        struct sl_err err;
        const struct sl_buf *b = &f->line[i];
        assert_int_equal(sl_pgo_frame(U(b), b->len, &fr, &err), 0);
        kinds[i] = (char)fr.kind;
        assert_true(fr.send_time > 0);
        if (fr.kind == SL_PGO_KEEPALIVE) {
            assert_int_equal(fr.reply, 0);
            assert_true(fr.end > 0);
            continue;
        }
        /* Relation messages have no WAL position: start and end are 0 */
        struct sl_buf payload;
        sl_buf_init(&payload);
        assert_int_equal(sl_buf_append(&payload, fr.data, fr.len), 0);
        ok(&payload, &f->m[np]);
        pkinds[np] = (char)f->m[np].kind;
        assert_true((fr.start == 0) == (f->m[np].kind == SL_PGO_RELATION));
        if (f->m[np].kind == SL_PGO_RELATION) {
            assert_string_equal(f->m[np].u.relation.relname, "fr");
            assert_string_equal(f->m[np].u.relation.cols[1].name, "v");
        }
        if (f->m[np].kind == SL_PGO_INSERT) {
            assert_val(newv(&f->m[np], 0), SL_PGO_TEXT, "1");
            assert_val(newv(&f->m[np], 1), SL_PGO_TEXT, "one");
        }
        np++;
        sl_buf_free(&payload);
    }
    kinds[f->n] = pkinds[np] = '\0';
    assert_string_equal(kinds, "kwwwwk");
    assert_string_equal(pkinds, "BRIC");
    fixture_free(f);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(lsn_format_is_postgres_upper_hex, teardown),
        cmocka_unit_test_teardown(lsn_parse_and_format_round_trip, teardown),
        cmocka_unit_test_teardown(lsn_parse_rejects_what_is_not_an_lsn, teardown),
        cmocka_unit_test_teardown(xlogdata_frame_decodes_header_and_payload, teardown),
        cmocka_unit_test_teardown(keepalive_frame_decodes_end_time_and_reply, teardown),
        cmocka_unit_test_teardown(unknown_and_empty_frames_are_errors, teardown),
        cmocka_unit_test_teardown(status_update_is_34_bytes_big_endian, teardown),
        cmocka_unit_test_teardown(now_counts_microseconds_from_2000, teardown),
        cmocka_unit_test_teardown(begin_decodes_every_field, teardown),
        cmocka_unit_test_teardown(commit_decodes_every_field, teardown),
        cmocka_unit_test_teardown(origin_decodes_lsn_and_name, teardown),
        cmocka_unit_test_teardown(relation_decodes_names_identity_and_columns, teardown),
        cmocka_unit_test_teardown(relation_with_no_columns, teardown),
        cmocka_unit_test_teardown(relation_errors_name_the_byte, teardown),
        cmocka_unit_test_teardown(type_decodes_oid_and_names, teardown),
        cmocka_unit_test_teardown(insert_decodes_every_value_kind, teardown),
        cmocka_unit_test_teardown(insert_with_1600_columns_grows_scratch, teardown),
        cmocka_unit_test_teardown(insert_errors, teardown),
        cmocka_unit_test_teardown(update_without_old_tuple, teardown),
        cmocka_unit_test_teardown(update_with_key_old_tuple, teardown),
        cmocka_unit_test_teardown(update_with_whole_old_row, teardown),
        cmocka_unit_test_teardown(update_tuples_set_after_scratch_grows_for_the_new_one,
                                  teardown),
        cmocka_unit_test_teardown(update_errors, teardown),
        cmocka_unit_test_teardown(delete_with_key_and_with_old_row, teardown),
        cmocka_unit_test_teardown(truncate_decodes_options_and_oids, teardown),
        cmocka_unit_test_teardown(message_decodes_flags_prefix_and_content, teardown),
        cmocka_unit_test_teardown(unknown_message_kinds_are_errors, teardown),
        cmocka_unit_test_teardown(out_of_memory_growing_scratch_is_nomem, teardown),
        cmocka_unit_test_teardown(fixture_basic_orders, teardown),
        cmocka_unit_test_teardown(fixture_full_identity_sends_whole_old_rows, teardown),
        cmocka_unit_test_teardown(fixture_toast_unchanged_value_is_not_sent, teardown),
        cmocka_unit_test_teardown(fixture_misc_types_messages_origin_truncate, teardown),
        cmocka_unit_test_teardown(fixture_frames_from_a_walsender, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
