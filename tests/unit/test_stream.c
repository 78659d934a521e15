/* tests/unit/test_stream.c: byte streams (base/stream.c): plain, gzip
 * (single and concatenated members) and zstd (several frames) from memory
 * at every chunk size and from files; truncated, corrupt and trailing
 * input; raw byte counts; sticky errors; allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "base/stream.h"

#define DISPLAY "drops/t.bin"

/* ---- helpers ---- */

static void gzip_append(struct sl_buf *out, const void *data, size_t n, int level)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    uLong bound = deflateBound(&z, (uLong)n) + 32;
    assert_int_equal(sl_buf_reserve(out, bound), 0);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out->len += bound - z.avail_out;
    deflateEnd(&z);
}

static void zstd_append(struct sl_buf *out, const void *data, size_t n, int level)
{
    size_t bound = ZSTD_compressBound(n);
    assert_int_equal(sl_buf_reserve(out, bound), 0);
    size_t k = ZSTD_compress(out->data + out->len, bound, data, n, level);
    assert_false(ZSTD_isError(k));
    out->len += k;
}

/* Some text that compresses but is not trivial. */
static char *sample_text(size_t n)
{
    char *s = sl_malloc(n);
    uint32_t x = 12345;
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (i % 61 == 60) ? '\n' : (char)('a' + (x >> 16) % 7);
    }
    return s;
}

/* Read the whole stream in reads of at most `cap`; returns 0 or -1 (err). */
static int read_all(struct sl_stream *st, size_t cap, size_t chunk, struct sl_buf *out,
                    struct sl_err *err)
{
    char *tmp = sl_malloc(cap);
    assert_non_null(tmp);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);
    for (;;) {
        ssize_t n = sl_stream_read(st, tmp, cap, err);
        if (n < 0) {
            sl_free(tmp);
            return -1;
        }
        if (n == 0)
            break;
        assert_true((size_t)n <= cap);
        if (chunk)
            assert_true((size_t)n <= chunk);
        sl_buf_append(out, tmp, (size_t)n);
    }
    sl_free(tmp);
    return 0;
}

/* Open `in` from memory with the chunk size and read it all through reads
 * of `cap`; the bytes must be `want`, the codec `codec`. */
static void expect_mem(const void *in, size_t n, size_t chunk, size_t cap, enum sl_codec codec,
                       const void *want, size_t wn)
{
    struct sl_stream *st = NULL;
    struct sl_err err;
    struct sl_buf got;

    sl_err_clear(&err);
    sl_buf_init(&got);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, n, chunk, &err), 0);
    assert_int_equal(sl_stream_codec(st), codec);
    if (read_all(st, cap, chunk, &got, &err) < 0)
        fail_msg("chunk %zu cap %zu: %s", chunk, cap, err.msg);
    assert_int_equal(got.len, wn);
    assert_memory_equal(got.data, want, wn);
    assert_int_equal(sl_stream_raw_bytes(st), n);
    /* the end stays the end */
    char c;
    assert_int_equal(sl_stream_read(st, &c, 1, &err), 0);
    sl_stream_close(st);
    sl_buf_free(&got);
}

/* Reading fails; the message must contain `what` and the display name. */
static void expect_mem_error(const void *in, size_t n, size_t chunk, const char *what)
{
    struct sl_stream *st = NULL;
    struct sl_err err;
    struct sl_buf got;

    sl_err_clear(&err);
    sl_buf_init(&got);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, in, n, chunk, &err), 0);
    if (read_all(st, 4096, chunk, &got, &err) == 0)
        fail_msg("chunk %zu, %zu bytes: read succeeded, want \"%s\"", chunk, n, what);
    if (strstr(err.msg, what) == NULL || strncmp(err.msg, DISPLAY ": ", strlen(DISPLAY) + 2))
        fail_msg("chunk %zu, %zu bytes: error \"%s\", want \"%s\"", chunk, n, err.msg, what);
    assert_int_equal(err.code, SL_E_INPUT);
    /* errors are sticky */
    struct sl_err again;
    char tmp[16];
    sl_err_clear(&again);
    assert_int_equal(sl_stream_read(st, tmp, sizeof tmp, &again), -1);
    assert_string_equal(again.msg, err.msg);
    sl_stream_close(st);
    sl_buf_free(&got);
}

static char *write_temp(const void *data, size_t n)
{
    char tmpl[] = "/tmp/sl_test_stream_XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    return sl_strdup(tmpl);
}

static void expect_file(const void *in, size_t n, size_t cap, enum sl_codec codec,
                        const void *want, size_t wn)
{
    char *path = write_temp(in, n);
    struct sl_stream *st = NULL;
    struct sl_err err;
    struct sl_buf got;

    sl_err_clear(&err);
    sl_buf_init(&got);
    assert_int_equal(sl_stream_open(&st, path, "drops/f.dat", &err), 0);
    assert_string_equal(sl_stream_name(st), "drops/f.dat");
    assert_int_equal(sl_stream_codec(st), codec);
    if (read_all(st, cap, 0, &got, &err) < 0)
        fail_msg("cap %zu: %s", cap, err.msg);
    assert_int_equal(got.len, wn);
    assert_memory_equal(got.data, want, wn);
    assert_int_equal(sl_stream_raw_bytes(st), n);
    sl_stream_close(st);
    sl_buf_free(&got);
    unlink(path);
    sl_free(path);
}

/* ---- plain ---- */

static void plain_memory_at_every_chunk_size(void **state)
{
    (void)state;
    const char in[] = "a,b\n1,2\n\xc3\xa9\n";
    size_t n = sizeof in - 1;
    for (size_t chunk = 0; chunk <= n + 1; chunk++)
        for (size_t cap = 1; cap <= n + 1; cap++)
            expect_mem(in, n, chunk, cap, SL_CODEC_NONE, in, n);
}

static void plain_short_inputs_that_look_like_magic_are_plain(void **state)
{
    (void)state;
    expect_mem("", 0, 0, 16, SL_CODEC_NONE, "", 0);
    expect_mem("\x1f", 1, 0, 16, SL_CODEC_NONE, "\x1f", 1);
    expect_mem("\x1f\x8a", 2, 1, 16, SL_CODEC_NONE, "\x1f\x8a", 2);
    expect_mem("\x28\xb5\x2f", 3, 1, 16, SL_CODEC_NONE, "\x28\xb5\x2f", 3);
    expect_mem("\x28\xb5\x2f\xfe", 4, 0, 16, SL_CODEC_NONE, "\x28\xb5\x2f\xfe", 4);
    expect_mem(NULL, 0, 3, 16, SL_CODEC_NONE, "", 0);
}

static void plain_files_small_and_large(void **state)
{
    (void)state;
    size_t n = 1500000;     /* several input buffers' worth */
    char *text = sample_text(n);
    expect_file(text, n, 1 << 20, SL_CODEC_NONE, text, n);
    expect_file(text, n, 1000, SL_CODEC_NONE, text, n);
    expect_file(text, 3, 2, SL_CODEC_NONE, text, 3);
    expect_file("", 0, 10, SL_CODEC_NONE, "", 0);
    sl_free(text);
}

static void missing_file_is_an_io_error_naming_it(void **state)
{
    (void)state;
    struct sl_stream *st = (struct sl_stream *)&st;
    struct sl_err err;
    sl_err_clear(&err);
    assert_int_equal(sl_stream_open(&st, "/nonexistent/dir/x.csv", "drops/x.csv", &err), -1);
    assert_null(st);
    assert_int_equal(err.code, SL_E_IO);
    assert_string_equal(err.msg,
                        "could not open \"drops/x.csv\": No such file or directory");
}

static void reading_a_directory_is_an_io_error(void **state)
{
    (void)state;
    struct sl_stream *st = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    /* open(2) takes a directory; its first read fails */
    assert_int_equal(sl_stream_open(&st, "/tmp", NULL, &err), -1);
    assert_int_equal(err.code, SL_E_IO);
    assert_non_null(strstr(err.msg, "could not read \"/tmp\""));
}

/* ---- gzip ---- */

static void gzip_single_member_at_every_chunk_size(void **state)
{
    (void)state;
    size_t n = 3000;
    char *text = sample_text(n);
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, text, n, 6);
    for (size_t chunk = 0; chunk <= gz.len + 1; chunk++)
        expect_mem(gz.data, gz.len, chunk, 4096, SL_CODEC_GZIP, text, n);
    for (size_t cap = 1; cap < 40; cap++)
        expect_mem(gz.data, gz.len, 0, cap, SL_CODEC_GZIP, text, n);
    sl_buf_free(&gz);
    sl_free(text);
}

static void gzip_concatenated_members_read_as_one(void **state)
{
    (void)state;
    const char *parts[] = { "id,name\n1,a\n", "", "2,b\n", "3,c\n4,d" };
    struct sl_buf gz, want;
    sl_buf_init(&gz);
    sl_buf_init(&want);
    for (size_t i = 0; i < 4; i++) {
        gzip_append(&gz, parts[i], strlen(parts[i]), (int)i + 1);
        sl_buf_puts(&want, parts[i]);
    }
    for (size_t chunk = 0; chunk <= gz.len; chunk++)
        for (size_t cap = 1; cap <= 8; cap++)
            expect_mem(gz.data, gz.len, chunk, cap, SL_CODEC_GZIP, want.data, want.len);
    expect_file(gz.data, gz.len, 7, SL_CODEC_GZIP, want.data, want.len);
    sl_buf_free(&gz);
    sl_buf_free(&want);
}

static void gzip_empty_member(void **state)
{
    (void)state;
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, "", 0, 6);
    expect_mem(gz.data, gz.len, 0, 16, SL_CODEC_GZIP, "", 0);
    expect_mem(gz.data, gz.len, 1, 16, SL_CODEC_GZIP, "", 0);
    sl_buf_free(&gz);
}

static void gzip_large_file_streams_through_fixed_buffers(void **state)
{
    (void)state;
    size_t n = 5u << 20;
    char *text = sample_text(n);
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, text, n / 2, 1);           /* two members, each > input buffer */
    gzip_append(&gz, text + n / 2, n - n / 2, 9);
    assert_true(gz.len > (600u << 10));
    expect_file(gz.data, gz.len, 1 << 20, SL_CODEC_GZIP, text, n);
    expect_file(gz.data, gz.len, 4093, SL_CODEC_GZIP, text, n);
    sl_buf_free(&gz);
    sl_free(text);
}

static void gzip_truncated_anywhere_is_an_error(void **state)
{
    (void)state;
    const char *text = "order_id,amount\n1,9.99\n2,10.00\n";
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, text, strlen(text), 6);
    gzip_append(&gz, text, strlen(text), 6);
    /* from 2 bytes on the magic number says gzip; every cut is truncated */
    for (size_t cut = 2; cut < gz.len; cut++) {
        if (cut == gz.len / 2)
            continue;       /* exactly one whole member: valid */
        expect_mem_error(gz.data, cut, 0, "truncated gzip data");
        expect_mem_error(gz.data, cut, 3, "truncated gzip data");
    }
    sl_buf_free(&gz);
}

static void gzip_truncated_message(void **state)
{
    (void)state;
    struct sl_buf gz;
    struct sl_stream *st = NULL;
    struct sl_err err;
    char buf[64];

    sl_buf_init(&gz);
    gzip_append(&gz, "hello\n", 6, 6);
    sl_err_clear(&err);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, gz.data, gz.len - 3, 0, &err), 0);
    assert_int_equal(sl_stream_read(st, buf, sizeof buf, &err), -1);
    assert_string_equal(err.msg, DISPLAY ": truncated gzip data (the input ends inside a "
                        "compressed member after 23 bytes); was the file copied completely?");
    sl_stream_close(st);
    sl_buf_free(&gz);
}

static void gzip_corrupt_bytes_are_an_error(void **state)
{
    (void)state;
    const char *text = "order_id,amount\n1,9.99\n2,10.00\n3,11.00\n";
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, text, strlen(text), 6);
    /* past the magic, any flipped byte is caught (deflate data, CRC or
     * length); a flipped header flag may also make the data look short */
    for (size_t at = 2; at < gz.len; at++) {
        if (at >= 4 && at < 10)
            continue;       /* mtime, xfl, os: not checked by anyone */
        char *bad = sl_malloc(gz.len);
        memcpy(bad, gz.data, gz.len);
        bad[at] ^= 0x55;
        struct sl_stream *st = NULL;
        struct sl_err err;
        struct sl_buf got;
        sl_err_clear(&err);
        sl_buf_init(&got);
        assert_int_equal(sl_stream_open_mem(&st, DISPLAY, bad, gz.len, 0, &err), 0);
        if (read_all(st, 4096, 0, &got, &err) == 0)
            fail_msg("flipped byte %zu accepted", at);
        assert_int_equal(err.code, SL_E_INPUT);
        assert_true(strstr(err.msg, "corrupt gzip data") || strstr(err.msg, "truncated gzip"));
        sl_stream_close(st);
        sl_buf_free(&got);
        sl_free(bad);
    }
    sl_buf_free(&gz);
}

static void gzip_corrupt_message_names_file_and_reason(void **state)
{
    (void)state;
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, "hello world\n", 12, 6);
    gz.data[gz.len - 5] ^= 1;   /* the CRC */
    expect_mem_error(gz.data, gz.len, 0, "corrupt gzip data near byte");
    expect_mem_error(gz.data, gz.len, 0, "incorrect data check");
    sl_buf_free(&gz);
}

static void gzip_trailing_garbage_is_an_error(void **state)
{
    (void)state;
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, "a\n", 2, 6);
    sl_buf_puts(&gz, "garbage");
    for (size_t chunk = 0; chunk < 6; chunk++)
        expect_mem_error(gz.data, gz.len, chunk,
                         "are not gzip data (trailing garbage)");
    /* a zero pad is garbage too */
    gz.len -= 7;
    sl_buf_append(&gz, "\0\0\0\0", 4);
    expect_mem_error(gz.data, gz.len, 0, "trailing garbage");
    /* a lone 0x1f byte could be the start of a member: it is a cut one */
    gz.len -= 4;
    sl_buf_append(&gz, "\x1f", 1);
    expect_mem_error(gz.data, gz.len, 0, "truncated gzip data");
    /* 1f 8b then a bad header */
    gz.len -= 1;
    sl_buf_append(&gz, "\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\x03", 10);
    expect_mem_error(gz.data, gz.len, 0, "corrupt gzip data");
    sl_buf_free(&gz);
}

/* ---- zstd ---- */

static void zstd_frames_at_every_chunk_size(void **state)
{
    (void)state;
    size_t n = 2000;
    char *text = sample_text(n);
    struct sl_buf zs;
    sl_buf_init(&zs);
    zstd_append(&zs, text, 700, 1);
    zstd_append(&zs, text + 700, 0, 3);             /* an empty frame */
    zstd_append(&zs, text + 700, n - 700, 19);
    for (size_t chunk = 0; chunk <= zs.len + 1; chunk++)
        expect_mem(zs.data, zs.len, chunk, 4096, SL_CODEC_ZSTD, text, n);
    for (size_t cap = 1; cap < 40; cap++)
        expect_mem(zs.data, zs.len, 0, cap, SL_CODEC_ZSTD, text, n);
    expect_file(zs.data, zs.len, 100, SL_CODEC_ZSTD, text, n);
    sl_buf_free(&zs);
    sl_free(text);
}

static void zstd_large_file(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    char *text = sample_text(n);
    struct sl_buf zs;
    sl_buf_init(&zs);
    zstd_append(&zs, text, n / 3, 1);
    zstd_append(&zs, text + n / 3, n - n / 3, 3);
    expect_file(zs.data, zs.len, 1 << 20, SL_CODEC_ZSTD, text, n);
    expect_file(zs.data, zs.len, 777, SL_CODEC_ZSTD, text, n);
    sl_buf_free(&zs);
    sl_free(text);
}

static void zstd_truncated_anywhere_is_an_error(void **state)
{
    (void)state;
    const char *text = "order_id,amount\n1,9.99\n2,10.00\n";
    struct sl_buf zs;
    sl_buf_init(&zs);
    zstd_append(&zs, text, strlen(text), 3);
    size_t one = zs.len;
    zstd_append(&zs, text, strlen(text), 3);
    for (size_t cut = 4; cut < zs.len; cut++) {
        if (cut == one)
            continue;
        expect_mem_error(zs.data, cut, 0, "truncated zstd data");
        expect_mem_error(zs.data, cut, 2, "truncated zstd data");
    }
    sl_buf_free(&zs);
}

static void zstd_corrupt_and_trailing_garbage_are_errors(void **state)
{
    (void)state;
    struct sl_buf zs;
    sl_buf_init(&zs);
    zstd_append(&zs, "hello\n", 6, 3);
    sl_buf_puts(&zs, "garbage!");
    expect_mem_error(zs.data, zs.len, 0, "corrupt zstd data");
    expect_mem_error(zs.data, zs.len, 1, "corrupt zstd data");
    sl_buf_reset(&zs);

    /* with a content checksum, any flipped payload byte is caught */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    const char *text = "order_id,amount\n1,9.99\n2,10.00\n3,11.00\n";
    sl_buf_reserve(&zs, 256);
    size_t k = ZSTD_compress2(cc, zs.data, 256, text, strlen(text));
    assert_false(ZSTD_isError(k));
    ZSTD_freeCCtx(cc);
    for (size_t at = 4; at < k; at++) {
        char bad[256];
        memcpy(bad, zs.data, k);
        bad[at] ^= 0x21;
        struct sl_stream *st = NULL;
        struct sl_err err;
        struct sl_buf got;
        sl_err_clear(&err);
        sl_buf_init(&got);
        assert_int_equal(sl_stream_open_mem(&st, DISPLAY, bad, k, 0, &err), 0);
        if (read_all(st, 4096, 0, &got, &err) == 0)
            fail_msg("flipped byte %zu accepted", at);
        assert_int_equal(err.code, SL_E_INPUT);
        assert_true(strstr(err.msg, "corrupt zstd data") || strstr(err.msg, "truncated zstd"));
        sl_stream_close(st);
        sl_buf_free(&got);
    }
    sl_buf_free(&zs);
}

/* ---- raw bytes, allocation failures ---- */

/* Found by fuzz_stream: a frame whose header declares 73 bytes and whose one
 * (last, raw) block holds none was read as an empty file when the reads
 * were small, and as corrupt when they were large. Short at any read size. */
static void zstd_frame_shorter_than_it_declares_is_an_error(void **state)
{
    (void)state;
    static const unsigned char frame[] = {0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x49, 0x01, 0x00, 0x00};
    for (size_t chunk = 0; chunk <= 16; chunk++)
        expect_mem_error(frame, sizeof frame, chunk, "corrupt zstd data");
    /* the same with a good frame before it: what the good one holds is not
     * taken for the whole file either */
    struct sl_buf two;
    sl_buf_init(&two);
    zstd_append(&two, "abc\n", 4, 3);
    sl_buf_append(&two, frame, sizeof frame);
    for (size_t chunk = 0; chunk <= 16; chunk++)
        expect_mem_error(two.data, two.len, chunk, "corrupt zstd data");
    sl_buf_free(&two);
}

/* Found by fuzz_stream: after a good frame, bytes that libzstd takes for a
 * legacy (before 1.0) frame were read as the end of the file with some read
 * sizes and as corrupt with others. Refused at every read size. */
static void zstd_legacy_frame_after_a_good_one_is_an_error(void **state)
{
    (void)state;
    static const unsigned char data[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x63, 0x00, 0x00,
                                         0x3f, 0x25, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x00, 0x00};
    for (size_t chunk = 0; chunk <= 16; chunk++)
        expect_mem_error(data, sizeof data, chunk, "corrupt zstd data");
}

/* Found by fuzz_stream: a frame header with a reserved bit set was taken
 * for an empty frame with some read sizes. */
static void zstd_frame_header_with_a_reserved_bit_is_an_error(void **state)
{
    (void)state;
    static const unsigned char data[] = {0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0x41, 0x00,
                                         0x00, 0x00, 0x59, 0x00, 0x3f, 0x25, 0xb5, 0x2f, 0xfd,
                                         0x00, 0xfd, 0x09, 0x49};
    for (size_t chunk = 0; chunk <= 16; chunk++)
        expect_mem_error(data, sizeof data, chunk, "corrupt zstd data");
}

static void raw_bytes_count_compressed_input_as_it_is_used(void **state)
{
    (void)state;
    size_t n = 100000;
    char *text = sample_text(n);
    struct sl_buf gz;
    struct sl_stream *st = NULL;
    struct sl_err err;
    char buf[1000];

    sl_buf_init(&gz);
    gzip_append(&gz, text, n, 6);
    sl_err_clear(&err);
    assert_int_equal(sl_stream_open_mem(&st, DISPLAY, gz.data, gz.len, 0, &err), 0);
    assert_int_equal(sl_stream_raw_bytes(st), 0);
    assert_int_equal(sl_stream_read(st, buf, sizeof buf, &err), (ssize_t)sizeof buf);
    uint64_t early = sl_stream_raw_bytes(st);
    assert_true(early > 0 && early <= gz.len);
    while (sl_stream_read(st, buf, sizeof buf, &err) > 0)
        assert_true(sl_stream_raw_bytes(st) >= early);
    assert_int_equal(sl_stream_raw_bytes(st), gz.len);
    sl_stream_close(st);
    sl_buf_free(&gz);
    sl_free(text);
}

static void out_of_memory_at_every_allocation(void **state)
{
    (void)state;
    struct sl_buf gz;
    sl_buf_init(&gz);
    gzip_append(&gz, "a,b\n1,2\n", 8, 6);
    char *path = write_temp(gz.data, gz.len);
    int failed_some = 0;
    for (long at = 1; at < 50; at++) {
        struct sl_stream *st = NULL;
        struct sl_err err;
        char buf[64];
        ssize_t n = 0;
        sl_err_clear(&err);
        sl_mem_fail_at(at);
        int rc = (at & 1) ? sl_stream_open(&st, path, "drops/a.csv.gz", &err)
                          : sl_stream_open_mem(&st, "drops/a.csv.gz", gz.data, gz.len, 0, &err);
        if (rc == 0) {
            n = sl_stream_read(st, buf, sizeof buf, &err);
            sl_stream_close(st);
        }
        sl_mem_fail_at(0);
        if (rc < 0 || n < 0) {
            failed_some = 1;
            assert_int_equal(err.code, SL_E_NOMEM);
        } else {
            assert_int_equal(n, 8);
        }
    }
    assert_true(failed_some);
    unlink(path);
    sl_free(path);
    sl_buf_free(&gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_memory_at_every_chunk_size),
        cmocka_unit_test(plain_short_inputs_that_look_like_magic_are_plain),
        cmocka_unit_test(plain_files_small_and_large),
        cmocka_unit_test(missing_file_is_an_io_error_naming_it),
        cmocka_unit_test(reading_a_directory_is_an_io_error),
        cmocka_unit_test(gzip_single_member_at_every_chunk_size),
        cmocka_unit_test(gzip_concatenated_members_read_as_one),
        cmocka_unit_test(gzip_empty_member),
        cmocka_unit_test(gzip_large_file_streams_through_fixed_buffers),
        cmocka_unit_test(gzip_truncated_anywhere_is_an_error),
        cmocka_unit_test(gzip_truncated_message),
        cmocka_unit_test(gzip_corrupt_bytes_are_an_error),
        cmocka_unit_test(gzip_corrupt_message_names_file_and_reason),
        cmocka_unit_test(gzip_trailing_garbage_is_an_error),
        cmocka_unit_test(zstd_frames_at_every_chunk_size),
        cmocka_unit_test(zstd_frame_shorter_than_it_declares_is_an_error),
        cmocka_unit_test(zstd_legacy_frame_after_a_good_one_is_an_error),
        cmocka_unit_test(zstd_frame_header_with_a_reserved_bit_is_an_error),
        cmocka_unit_test(zstd_large_file),
        cmocka_unit_test(zstd_truncated_anywhere_is_an_error),
        cmocka_unit_test(zstd_corrupt_and_trailing_garbage_are_errors),
        cmocka_unit_test(raw_bytes_count_compressed_input_as_it_is_used),
        cmocka_unit_test(out_of_memory_at_every_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
