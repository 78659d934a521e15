/* base/stream.c: byte streams over drop files and memory, decompressing
 * gzip and zstd on the fly (see stream.h).
 *
 * A stream owns one fixed input buffer (files only) and the codec's own
 * state; nothing grows with the size of the file (docs/invariants.md #4). Plain files
 * are read straight into the caller's buffer. Compressed input is pulled
 * through a "raw window" [ip, iend): for a file it is the input buffer, for
 * memory it is a slice of the caller's bytes at most `chunk` long, so the
 * decompressors meet every input split too.
 *
 * Errors are sticky: once a read fails, every later read returns the same
 * error, so a caller that retries cannot skip corrupt data by accident. */
#include "base/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base/mem.h"

#define IN_SIZE ((size_t)256 << 10)

struct sl_stream {
    char *name;
    enum sl_codec codec;

    /* where raw bytes come from: a file (fd >= 0) or memory */
    int fd;
    const unsigned char *mem;
    size_t mem_n;
    size_t mem_pos;             /* memory: start of the bytes not yet windowed */
    size_t chunk;               /* memory: longest read and raw window; 0 = any */
    unsigned char *inbuf;       /* file: IN_SIZE bytes */

    const unsigned char *ip;    /* raw window: bytes read but not yet used */
    const unsigned char *iend;
    int raw_eof;                /* no raw bytes beyond the window */
    uint64_t raw;               /* raw bytes used (consumed by the codec) */

    z_stream z;
    int z_ready;                /* inflateInit2 succeeded */
    int member_end;             /* gzip: the last member ended; more may follow */
    ZSTD_DCtx *zd;
    size_t zhint;               /* zstd: hint of the last call that moved; 0 = frame end */
    unsigned char zhdr[18];     /* zstd: the current frame's header as consumed (18 =
                                 * ZSTD_FRAMEHEADERSIZE_MAX) ... */
    size_t zhdr_n;
    unsigned long long zsize;   /* ... the content size it declares, or
                                 * ZSTD_CONTENTSIZE_UNKNOWN / _ERROR (not read yet) */
    unsigned long long zout;    /* bytes the current frame gave so far */

    int done;                   /* end of data reached */
    int failed;                 /* every read repeats `saved` */
    struct sl_err saved;
};

static const char *codec_name(enum sl_codec c)
{
    return c == SL_CODEC_GZIP ? "gzip" : c == SL_CODEC_ZSTD ? "zstd" : "plain";
}

static int fail(struct sl_stream *s, struct sl_err *err)
{
    s->failed = 1;
    s->saved = *err;
    return -1;
}

/* ---- raw input ---- */

/* Make the raw window non-empty if any raw bytes are left. Returns 1 with
 * bytes in the window, 0 at the end of the raw input, -1 on a read error. */
static int raw_fill(struct sl_stream *s, struct sl_err *err)
{
    if (s->ip < s->iend)
        return 1;
    if (s->raw_eof)
        return 0;
    if (s->fd < 0) {
        size_t left = s->mem_n - s->mem_pos;
        size_t n = s->chunk && s->chunk < left ? s->chunk : left;
        s->ip = s->mem + s->mem_pos;
        s->iend = s->ip + n;
        s->mem_pos += n;
        if (n == 0)
            s->raw_eof = 1;
        return n > 0;
    }
    for (;;) {
        ssize_t got = read(s->fd, s->inbuf, IN_SIZE);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return sl_err_set(err, SL_E_IO, "could not read \"%s\": %s", s->name,
                              strerror(errno));
        s->ip = s->inbuf;
        s->iend = s->inbuf + got;
        if (got == 0)
            s->raw_eof = 1;
        return got > 0;
    }
}

/* Make at least n bytes contiguous at ip, when the input has them. Returns
 * how many are (possibly fewer than n at the end), -1 on a read error. Used
 * for magic numbers, which may straddle reads. */
static ssize_t raw_peek(struct sl_stream *s, size_t n, struct sl_err *err)
{
    if (s->fd < 0) {
        /* the bytes past the window are right there in memory */
        size_t have = (size_t)(s->mem + s->mem_n - s->ip);
        if (s->ip == NULL)
            have = s->mem_n - s->mem_pos;
        return (ssize_t)(have < n ? have : n);
    }
    while ((size_t)(s->iend - s->ip) < n && !s->raw_eof) {
        size_t have = (size_t)(s->iend - s->ip);
        if (have)
            memmove(s->inbuf, s->ip, have);
        s->ip = s->inbuf;
        s->iend = s->inbuf + have;
        ssize_t got = read(s->fd, s->inbuf + have, IN_SIZE - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return sl_err_set(err, SL_E_IO, "could not read \"%s\": %s", s->name,
                              strerror(errno));
        if (got == 0)
            s->raw_eof = 1;
        s->iend += got;
    }
    size_t have = (size_t)(s->iend - s->ip);
    return (ssize_t)(have < n ? have : n);
}

/* The first bytes of the input (not consumed). */
static const unsigned char *raw_head(const struct sl_stream *s)
{
    return s->fd < 0 && s->ip == NULL ? s->mem + s->mem_pos : s->ip;
}

/* ---- open and close ---- */

static int setup_codec(struct sl_stream *s, struct sl_err *err)
{
    ssize_t n = raw_peek(s, 4, err);
    if (n < 0)
        return -1;
    const unsigned char *h = raw_head(s);

    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) {
        s->codec = SL_CODEC_GZIP;
        /* 16 + MAX_WBITS: gzip wrapper only, with its CRC and length checked */
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
            return sl_err_set(err, SL_E_NOMEM, "%s: out of memory starting gzip", s->name);
        s->z_ready = 1;
    } else if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) {
        s->codec = SL_CODEC_ZSTD;
        s->zd = ZSTD_createDCtx();
        s->zhint = 1;           /* inside a frame until one ends */
        s->zsize = ZSTD_CONTENTSIZE_ERROR;
        if (!s->zd)
            return sl_err_set(err, SL_E_NOMEM, "%s: out of memory starting zstd", s->name);
    }
    return 0;
}

/* zlib allocates through these, so the allocation-failure tests reach it */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return sl_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    sl_free(p);
}

static struct sl_stream *stream_new(const char *display, struct sl_err *err)
{
    struct sl_stream *s = sl_calloc(1, sizeof *s);
    if (!s) {
        sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the stream", display);
        return NULL;
    }
    s->fd = -1;
    s->z.zalloc = z_alloc;
    s->z.zfree = z_free;
    s->name = sl_strdup(display);
    if (!s->name) {
        sl_free(s);
        sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the stream", display);
        return NULL;
    }
    return s;
}

int sl_stream_open(struct sl_stream **out, const char *path, const char *display,
                   struct sl_err *err)
{
    int fd;

    *out = NULL;
    if (!display)
        display = path;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return sl_err_set(err, SL_E_IO, "could not open \"%s\": %s", display, strerror(errno));
    return sl_stream_open_fd(out, fd, display, err);
}

int sl_stream_open_fd(struct sl_stream **out, int fd, const char *display, struct sl_err *err)
{
    struct sl_stream *s;

    *out = NULL;
    s = stream_new(display ? display : "<fd>", err);
    if (!s) {
        close(fd);
        return -1;
    }
    s->fd = fd;
    s->inbuf = sl_malloc(IN_SIZE);
    if (!s->inbuf) {
        sl_stream_close(s);
        return sl_err_set(err, SL_E_NOMEM, "%s: out of memory opening the stream",
                          display ? display : "<fd>");
    }
    s->ip = s->iend = s->inbuf;
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    if (setup_codec(s, err) < 0) {
        sl_stream_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

int sl_stream_open_mem(struct sl_stream **out, const char *display,
                       const void *data, size_t n, size_t chunk, struct sl_err *err)
{
    struct sl_stream *s;

    *out = NULL;
    s = stream_new(display ? display : "<memory>", err);
    if (!s)
        return -1;
    s->mem = data ? data : (const void *)"";
    s->mem_n = data ? n : 0;
    s->chunk = chunk;
    /* ip stays NULL until the first window is taken */
    if (setup_codec(s, err) < 0) {
        sl_stream_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void sl_stream_close(struct sl_stream *s)
{
    if (!s)
        return;
    if (s->z_ready)
        inflateEnd(&s->z);
    if (s->zd)
        ZSTD_freeDCtx(s->zd);
    if (s->fd >= 0)
        close(s->fd);
    sl_free(s->inbuf);
    sl_free(s->name);
    sl_free(s);
}

const char *sl_stream_name(const struct sl_stream *s)
{
    return s->name;
}

enum sl_codec sl_stream_codec(const struct sl_stream *s)
{
    return s->codec;
}

uint64_t sl_stream_raw_bytes(const struct sl_stream *s)
{
    return s->raw;
}

/* ---- reading ---- */

static ssize_t read_plain(struct sl_stream *s, char *buf, size_t cap, struct sl_err *err)
{
    if (s->ip < s->iend || s->fd < 0) {
        int rc = raw_fill(s, err);
        if (rc <= 0)
            return rc;
        size_t n = (size_t)(s->iend - s->ip);
        if (n > cap)
            n = cap;
        memcpy(buf, s->ip, n);
        s->ip += n;
        s->raw += n;
        return (ssize_t)n;
    }
    /* a file with its input buffer drained: read straight into buf */
    for (;;) {
        ssize_t got = read(s->fd, buf, cap);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return sl_err_set(err, SL_E_IO, "could not read \"%s\": %s", s->name,
                              strerror(errno));
        s->raw += (uint64_t)got;
        return got;
    }
}

static int truncated(struct sl_stream *s, struct sl_err *err)
{
    return sl_err_set(err, SL_E_INPUT,
                      "%s: truncated %s data (the input ends inside a compressed %s after "
                      "%llu bytes); was the file copied completely?",
                      s->name, codec_name(s->codec),
                      s->codec == SL_CODEC_GZIP ? "member" : "frame",
                      (unsigned long long)s->raw);
}

static ssize_t read_gzip(struct sl_stream *s, char *buf, size_t cap, struct sl_err *err)
{
    s->z.next_out = (Bytef *)buf;
    s->z.avail_out = cap > UINT_MAX ? UINT_MAX : (uInt)cap;
    while (s->z.avail_out > 0) {
        if (s->member_end) {
            /* another member may follow (gzip -c a b > ab.gz, pigz, bgzip) */
            int rc = raw_fill(s, err);
            if (rc < 0)
                return -1;
            if (rc == 0) {
                s->done = 1;
                break;
            }
            ssize_t n = raw_peek(s, 2, err);
            if (n < 0)
                return -1;
            if (s->ip[0] != 0x1f || (n == 2 && s->ip[1] != 0x8b))
                return sl_err_set(err, SL_E_INPUT,
                                  "%s: corrupt gzip data: the bytes after the member ending "
                                  "at byte %llu are not gzip data (trailing garbage)",
                                  s->name, (unsigned long long)s->raw);
            if (inflateReset(&s->z) != Z_OK)
                return sl_err_set(err, SL_E_INTERNAL, "%s: could not reset gzip state",
                                  s->name);
            s->member_end = 0;
        }
        if (s->ip == s->iend) {
            int rc = raw_fill(s, err);
            if (rc < 0)
                return -1;
            if (rc == 0)
                return truncated(s, err);
        }
        size_t avail = (size_t)(s->iend - s->ip);
        s->z.next_in = (Bytef *)s->ip;
        s->z.avail_in = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
        uInt before = s->z.avail_in;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        size_t used = before - s->z.avail_in;
        s->ip += used;
        s->raw += used;
        switch (zr) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            s->member_end = 1;
            break;
        case Z_BUF_ERROR:
            /* no progress possible: only when there was no input to use */
            if (before != 0)
                return sl_err_set(err, SL_E_INTERNAL, "%s: gzip inflate made no progress",
                                  s->name);
            break;
        case Z_MEM_ERROR:
            return sl_err_set(err, SL_E_NOMEM, "%s: out of memory decompressing gzip",
                              s->name);
        default:    /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            return sl_err_set(err, SL_E_INPUT, "%s: corrupt gzip data near byte %llu: %s",
                              s->name, (unsigned long long)s->raw,
                              s->z.msg ? s->z.msg : "invalid data");
        }
    }
    return (ssize_t)((char *)s->z.next_out - buf);
}

/* The bytes `p`, `n` long, were just consumed from the current frame:
 * its first ones are its header, kept until the content size it declares
 * can be read. */
static int zstd_frame_header(struct sl_stream *s, const void *p, size_t n)
{
    if (s->zsize != ZSTD_CONTENTSIZE_ERROR || s->zhdr_n == sizeof s->zhdr || n == 0)
        return 0;
    size_t had = s->zhdr_n, take = sizeof s->zhdr - s->zhdr_n;
    if (take > n)
        take = n;
    memcpy(s->zhdr + s->zhdr_n, p, take);
    s->zhdr_n += take;
    if (had < 4 && s->zhdr_n >= 4) {
        /* a frame of today's format, or a skippable one: libzstd also
         * decodes the legacy formats of before 1.0, and does so differently
         * by read size, so those are refused */
        uint32_t magic = (uint32_t)s->zhdr[0] | (uint32_t)s->zhdr[1] << 8 |
                         (uint32_t)s->zhdr[2] << 16 | (uint32_t)s->zhdr[3] << 24;
        if (magic != ZSTD_MAGICNUMBER && (magic & 0xFFFFFFF0u) != ZSTD_MAGIC_SKIPPABLE_START)
            return -1;
    }
    s->zsize = ZSTD_getFrameContentSize(s->zhdr, s->zhdr_n);
    return 0;
}

static ssize_t read_zstd(struct sl_stream *s, char *buf, size_t cap, struct sl_err *err)
{
    ZSTD_outBuffer out = { buf, cap, 0 };

    while (out.pos < out.size) {
        if (s->ip == s->iend && raw_fill(s, err) < 0)
            return -1;
        ZSTD_inBuffer in = { s->ip, (size_t)(s->iend - s->ip), 0 };
        size_t before = out.pos;
        size_t zr = ZSTD_decompressStream(s->zd, &out, &in);
        int known = zstd_frame_header(s, s->ip, in.pos);
        s->ip += in.pos;
        s->raw += in.pos;
        s->zout += out.pos - before;
        if (known < 0)
            return sl_err_set(err, SL_E_INPUT, "%s: corrupt zstd data near byte %llu: not a"
                              " zstd frame (nor one of before zstd 1.0, which are not read)",
                              s->name, (unsigned long long)s->raw);
        if (ZSTD_isError(zr)) {
            if (ZSTD_getErrorCode(zr) == ZSTD_error_memory_allocation)
                return sl_err_set(err, SL_E_NOMEM, "%s: out of memory decompressing zstd",
                                  s->name);
            return sl_err_set(err, SL_E_INPUT, "%s: corrupt zstd data near byte %llu: %s",
                              s->name, (unsigned long long)s->raw, ZSTD_getErrorName(zr));
        }
        if (zr == 0) {
            /* a frame ended. libzstd does not always hold a frame to the
             * content size its header declares (a small output buffer let
             * a frame that says 73 bytes end after none), so that is checked
             * here: whatever the read sizes, a short frame is an error */
            unsigned long long want = s->zsize;
            if (want == ZSTD_CONTENTSIZE_ERROR)
                /* ended before its header read as one (a reserved bit set:
                 * libzstd let that pass with some read sizes) */
                return sl_err_set(err, SL_E_INPUT, "%s: corrupt zstd data near byte %llu:"
                                  " the frame header is not valid", s->name,
                                  (unsigned long long)s->raw);
            if (want != ZSTD_CONTENTSIZE_UNKNOWN && want != s->zout)
                return sl_err_set(err, SL_E_INPUT, "%s: corrupt zstd data near byte %llu:"
                                  " the frame declares %llu bytes and holds %llu", s->name,
                                  (unsigned long long)s->raw, want, s->zout);
            s->zhdr_n = 0;
            s->zsize = ZSTD_CONTENTSIZE_ERROR;
            s->zout = 0;
        }
        if (in.pos == 0 && out.pos == before) {
            if (in.size > 0)
                return sl_err_set(err, SL_E_INTERNAL, "%s: zstd made no progress", s->name);
            /* nothing more in or out: the end, cleanly at a frame boundary or
             * not (this call's own hint is about a next frame that never came) */
            if (s->zhint != 0)
                return truncated(s, err);
            s->done = 1;
            break;
        }
        s->zhint = zr;
    }
    return (ssize_t)out.pos;
}

ssize_t sl_stream_read(struct sl_stream *s, char *buf, size_t cap, struct sl_err *err)
{
    ssize_t n;

    if (s->failed) {
        *err = s->saved;
        return -1;
    }
    if (s->done || cap == 0)
        return 0;
    if (s->chunk && cap > s->chunk)
        cap = s->chunk;
    if (cap > (size_t)SSIZE_MAX)
        cap = (size_t)SSIZE_MAX;
    switch (s->codec) {
    case SL_CODEC_GZIP:
        n = read_gzip(s, buf, cap, err);
        break;
    case SL_CODEC_ZSTD:
        n = read_zstd(s, buf, cap, err);
        break;
    default:
        n = read_plain(s, buf, cap, err);
        if (n == 0)
            s->done = 1;
        break;
    }
    if (n < 0)
        return fail(s, err);
    return n;
}
