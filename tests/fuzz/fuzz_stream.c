/* tests/fuzz/fuzz_stream.c: libFuzzer target for base/stream.c.
 *
 * The first byte picks: bits 0-3 the chunk size (0 = whole), bits 4-5 what
 * to do with the rest: 0 and 3 read it as it is (plain, or gzip/zstd when the
 * fuzzer finds a magic number, usually then corrupt), 1 gzip it in up to
 * three members, 2 zstd it in up to three frames; bit 6 cuts compressed data
 * short; bit 7 reads with a small, varying buffer. Checks, beyond no crash
 * or leak: compressed data comes back exactly; cut data is an error;
 * whatever the chunk size, the outcome (bytes, or failure) is the same. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "base/mem.h"
#include "base/stream.h"

/* Read all of it; 0 with the bytes in out, -1 on a stream error. */
static int drain(const uint8_t *data, size_t n, size_t chunk, int small, struct sl_buf *out)
{
    struct sl_stream *st = NULL;
    struct sl_err err;
    char buf[4096];
    size_t cap = small ? 1 : sizeof buf;
    ssize_t got;

    sl_err_clear(&err);
    sl_buf_reset(out);
    sl_buf_append(out, "", 0);
    if (sl_stream_open_mem(&st, "fuzz.bin", data, n, chunk, &err) < 0)
        abort();
    while ((got = sl_stream_read(st, buf, cap, &err)) > 0) {
        if ((size_t)got > cap || (chunk && (size_t)got > chunk))
            abort();
        sl_buf_append(out, buf, (size_t)got);
        if (small)
            cap = cap % 13 + 1;
    }
    if (got < 0 && (err.msg[0] == '\0' || sl_stream_read(st, buf, 1, &err) != -1))
        abort();    /* an error says something, and stays */
    if (got == 0 && sl_stream_raw_bytes(st) != n)
        abort();    /* at a clean end every byte was used */
    sl_stream_close(st);
    return got < 0 ? -1 : 0;
}

static void gz_member(struct sl_buf *out, const uint8_t *p, size_t n, int level)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    uLong bound = deflateBound(&z, (uLong)n) + 32;
    if (sl_buf_reserve(out, bound) < 0)
        abort();
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        abort();
    out->len += bound - z.avail_out;
    deflateEnd(&z);
}

static void zs_frame(struct sl_buf *out, const uint8_t *p, size_t n, int level)
{
    size_t bound = ZSTD_compressBound(n);
    if (sl_buf_reserve(out, bound) < 0)
        abort();
    size_t k = ZSTD_compress(out->data + out->len, bound, p, n, level);
    if (ZSTD_isError(k))
        abort();
    out->len += k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t chunk = ctl & 0x0F;
    int mode = (ctl >> 4) & 3, cut = ctl & 0x40, small = ctl & 0x80;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    struct sl_buf packed, a, b;

    sl_buf_init(&packed);
    sl_buf_init(&a);
    sl_buf_init(&b);
    if (mode == 1 || mode == 2) {
        /* split points from the data itself, so members/frames vary */
        size_t s1 = n ? body[0] % (n + 1) : 0;
        size_t s2 = n > 1 ? s1 + body[1] % (n - s1 + 1) : n;
        size_t cuts[4] = { 0, s1, s2, n }, ends[3] = { 0, 0, 0 };
        for (int i = 0; i < 3; i++) {
            if (i > 0 && cuts[i + 1] == cuts[i])
                continue;
            if (mode == 1)
                gz_member(&packed, body + cuts[i], cuts[i + 1] - cuts[i], 1 + i * 4);
            else
                zs_frame(&packed, body + cuts[i], cuts[i + 1] - cuts[i], 1 + i * 5);
            ends[i] = packed.len;
        }
        size_t len = packed.len;
        int cut_mid = 0;
        if (cut && len > 4) {
            len -= 1 + (n ? body[n - 1] : 0) % (len - 4);
            cut_mid = len != ends[0] && len != ends[1];
        }
        int rc = drain((const uint8_t *)packed.data, len, chunk, small, &a);
        if (len == packed.len && (rc != 0 || a.len != n || memcmp(a.data, body, n) != 0))
            abort();    /* what was packed comes back */
        if (cut_mid && rc == 0)
            abort();    /* a stream cut inside a member never ends cleanly */
        if (!cut_mid && (rc != 0 || a.len > n || memcmp(a.data, body, a.len) != 0))
            abort();    /* cut where a member ends: the members before it */
    } else {
        int r1 = drain(body, n, 0, 0, &a);
        int r2 = drain(body, n, chunk, small, &b);
        if (r1 != r2 || (r1 == 0 && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)))
            abort();
    }
    sl_buf_free(&packed);
    sl_buf_free(&a);
    sl_buf_free(&b);
    return 0;
}
