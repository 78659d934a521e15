/* pg/pgoutput.c: the CopyBoth frames of a logical replication connection
 * and the pgoutput (protocol version 1) messages inside them (see
 * pgoutput.h).
 *
 * Every read goes through one cursor (struct rd) that checks the bytes are
 * there before it takes them, so no field, string or value is read past the
 * end of the buffer; a message that is short, has bytes left over, or holds
 * a kind byte the protocol does not know is an error naming the offset.
 * The decoder owns nothing: strings and values point into the caller's
 * buffer, columns and values into the caller's scratch. */
#include "pg/pgoutput.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "base/value.h"

/* 2000-01-01 00:00:00 UTC in Unix seconds: PostgreSQL's epoch */
#define PG_EPOCH_UNIX 946684800LL

/* the smallest a column (flags, "", type oid, typmod) and a tuple value
 * ('n') can be: a count that cannot fit in the bytes left is refused before
 * scratch grows for it */
#define COLUMN_MIN 10
#define VALUE_MIN 1

/* ---- LSN ---- */

/* One half of an LSN: 1 to 8 hex digits (PostgreSQL's pg_lsn_in), ending at
 * the first non-digit; *end is left there. */
static int lsn_half(const char *s, const char **end, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0, d;
    while ((d = sl_hex_digit((unsigned char)s[n])) >= 0) {
        if (++n > 8)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    if (n == 0)
        return -1;
    *end = s + n;
    *out = v;
    return 0;
}

int sl_lsn_parse(const char *s, sl_lsn *out)
{
    uint32_t hi, lo;
    const char *p;
    if (!s || lsn_half(s, &p, &hi) < 0 || *p != '/' || lsn_half(p + 1, &p, &lo) < 0 ||
        *p != '\0')
        return -1;
    *out = (sl_lsn)hi << 32 | lo;
    return 0;
}

void sl_lsn_format(sl_lsn l, char out[24])
{
    snprintf(out, 24, "%X/%X", (unsigned)(l >> 32), (unsigned)(l & 0xFFFFFFFFu));
}

/* ---- the cursor ---- */

struct rd {
    const unsigned char *p;
    size_t len;
    size_t pos;
    const char *what;       /* "Relation message", "keepalive frame": for errors */
    struct sl_err *err;
};

static int need(struct rd *r, size_t n)
{
    if (r->len - r->pos >= n)
        return 0;
    return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s cut short at byte %zu"
                      " (%zu bytes needed, %zu left)", r->what, r->pos, n,
                      r->len - r->pos);
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int get_u8(struct rd *r, uint8_t *out)
{
    if (need(r, 1) < 0)
        return -1;
    *out = r->p[r->pos++];
    return 0;
}

static int get_u16(struct rd *r, uint16_t *out)
{
    if (need(r, 2) < 0)
        return -1;
    *out = (uint16_t)be(r->p + r->pos, 2);
    r->pos += 2;
    return 0;
}

static int get_u32(struct rd *r, uint32_t *out)
{
    if (need(r, 4) < 0)
        return -1;
    *out = (uint32_t)be(r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int get_u64(struct rd *r, uint64_t *out)
{
    if (need(r, 8) < 0)
        return -1;
    *out = be(r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* Int64s the protocol means as signed (timestamps): the bits as they are */
static int get_i64(struct rd *r, int64_t *out)
{
    uint64_t u;
    if (get_u64(r, &u) < 0)
        return -1;
    memcpy(out, &u, sizeof *out);
    return 0;
}

static int get_i32(struct rd *r, int32_t *out)
{
    uint32_t u;
    if (get_u32(r, &u) < 0)
        return -1;
    memcpy(out, &u, sizeof *out);
    return 0;
}

/* A NUL-terminated string; the NUL must be inside the buffer. */
static int get_str(struct rd *r, const char **out)
{
    const unsigned char *nul = r->pos < r->len ?
        memchr(r->p + r->pos, '\0', r->len - r->pos) : NULL;
    if (!nul)
        return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s has a string with no end"
                          " at byte %zu", r->what, r->pos);
    *out = (const char *)(r->p + r->pos);
    r->pos = (size_t)(nul - r->p) + 1;
    return 0;
}

/* n more bytes, not copied */
static int get_bytes(struct rd *r, size_t n, const unsigned char **out)
{
    if (need(r, n) < 0)
        return -1;
    *out = r->p + r->pos;
    r->pos += n;
    return 0;
}

/* Fewer than n items of at least min bytes each fit in what is left: the
 * count is refused before anything grows for it. */
static int fits(struct rd *r, size_t at, size_t n, size_t min, const char *items)
{
    if ((r->len - r->pos) / min >= n)
        return 0;
    return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s says %zu %s at byte %zu"
                      " but only %zu bytes follow", r->what, n, items, at,
                      r->len - r->pos);
}

static int done(struct rd *r)
{
    if (r->pos == r->len)
        return 0;
    return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: trailing data after the %s at byte"
                      " %zu (%zu of %zu bytes unused)", r->what, r->pos, r->len - r->pos,
                      r->len);
}

/* ---- frames ---- */

int sl_pgo_frame(const unsigned char *buf, size_t len, struct sl_pgo_frame *out,
                 struct sl_err *err)
{
    struct rd r = { buf, len, 0, "frame", err };
    uint8_t kind, reply;

    memset(out, 0, sizeof *out);
    if (get_u8(&r, &kind) < 0)
        return -1;
    switch (kind) {
    case SL_PGO_XLOGDATA:
        r.what = "XLogData frame";
        if (get_u64(&r, &out->start) < 0 || get_u64(&r, &out->end) < 0 ||
            get_i64(&r, &out->send_time) < 0)
            return -1;
        out->kind = SL_PGO_XLOGDATA;
        out->data = buf + r.pos;
        out->len = len - r.pos;
        return 0;
    case SL_PGO_KEEPALIVE:
        r.what = "keepalive frame";
        if (get_u64(&r, &out->end) < 0 || get_i64(&r, &out->send_time) < 0 ||
            get_u8(&r, &reply) < 0 || done(&r) < 0)
            return -1;
        out->kind = SL_PGO_KEEPALIVE;
        out->reply = reply != 0;
        return 0;
    default:
        return sl_err_set(err, SL_E_SOURCE, "pgoutput: unknown frame kind 0x%02x at byte 0",
                          kind);
    }
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xFF);
}

size_t sl_pgo_status_update(unsigned char out[34], sl_lsn written, sl_lsn flushed,
                            sl_lsn applied, int64_t now, int reply)
{
    uint64_t t;
    memcpy(&t, &now, sizeof t);
    out[0] = 'r';
    put_be(out + 1, written, 8);
    put_be(out + 9, flushed, 8);
    put_be(out + 17, applied, 8);
    put_be(out + 25, t, 8);
    out[33] = reply ? 1 : 0;
    return 34;
}

int64_t sl_pgo_now(void)
{
    struct timespec ts;
    /* CLOCK_REALTIME cannot fail with a valid clock id and pointer */
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec - PG_EPOCH_UNIX) * 1000000 + ts.tv_nsec / 1000;
}

/* ---- scratch ---- */

/* The capacity to grow to for want entries: doubling, at least 16. */
static size_t grown(size_t cap, size_t want)
{
    size_t n = cap ? cap * 2 : 16;
    return n < want ? want : n;
}

static int grow_cols(struct sl_pgo_scratch *s, size_t want, struct sl_err *err)
{
    if (want <= s->ncols_cap)
        return 0;
    size_t n = grown(s->ncols_cap, want);
    struct sl_pgo_column *c = sl_realloc(s->cols, n * sizeof *c);
    if (!c)
        return sl_err_nomem(err);
    s->cols = c;
    s->ncols_cap = n;
    return 0;
}

static int grow_vals(struct sl_pgo_scratch *s, size_t want, struct sl_err *err)
{
    if (want <= s->nvals_cap)
        return 0;
    size_t n = grown(s->nvals_cap, want);
    struct sl_pgo_value *v = sl_realloc(s->vals, n * sizeof *v);
    if (!v)
        return sl_err_nomem(err);
    s->vals = v;
    s->nvals_cap = n;
    return 0;
}

void sl_pgo_scratch_free(struct sl_pgo_scratch *s)
{
    sl_free(s->cols);
    sl_free(s->vals);
    memset(s, 0, sizeof *s);
}

/* ---- messages ---- */

/* TupleData into s->vals[base..base+ncols). Stores no pointer to vals: the
 * caller sets the tuple's once the message's last growth is done. */
static int tuple(struct rd *r, struct sl_pgo_scratch *s, size_t base, uint16_t *ncols)
{
    size_t at = r->pos;
    uint16_t n;
    if (get_u16(r, &n) < 0 || fits(r, at, n, VALUE_MIN, "columns") < 0 ||
        grow_vals(s, base + n, r->err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct sl_pgo_value *v = &s->vals[base + i];
        uint8_t kind;
        uint32_t vlen;
        const unsigned char *data;
        at = r->pos;
        if (get_u8(r, &kind) < 0)
            return -1;
        v->data = NULL;
        v->len = 0;
        switch (kind) {
        case SL_PGO_NULL:
        case SL_PGO_UNCHANGED:
            break;
        case SL_PGO_TEXT:
        case SL_PGO_BINARY:
            if (get_u32(r, &vlen) < 0 || get_bytes(r, vlen, &data) < 0)
                return -1;
            v->data = (const char *)data;
            v->len = vlen;
            break;
        default:
            return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s has unknown value kind"
                              " 0x%02x (column %zu) at byte %zu", r->what, kind, i + 1, at);
        }
        v->kind = (enum sl_pgo_val)kind;
    }
    *ncols = n;
    return 0;
}

/* the Byte1 before a TupleData: one of `allowed` */
static int tuple_tag(struct rd *r, const char *allowed, uint8_t *out)
{
    size_t at = r->pos;
    if (get_u8(r, out) < 0)
        return -1;
    if (*out && strchr(allowed, *out))
        return 0;
    return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s has tuple tag 0x%02x where one of"
                      " \"%s\" belongs at byte %zu", r->what, *out, allowed, at);
}

static int relation_msg(struct rd *r, struct sl_pgo_scratch *s, struct sl_pgo_msg *m)
{
    uint8_t ident;
    size_t at;
    uint16_t n;

    if (get_u32(r, &m->u.relation.oid) < 0 || get_str(r, &m->u.relation.nspname) < 0 ||
        get_str(r, &m->u.relation.relname) < 0)
        return -1;
    at = r->pos;
    if (get_u8(r, &ident) < 0)
        return -1;
    if (!ident || !strchr("dnfi", ident))
        return sl_err_set(r->err, SL_E_SOURCE, "pgoutput: %s has unknown replica identity"
                          " 0x%02x at byte %zu", r->what, ident, at);
    at = r->pos;
    if (get_u16(r, &n) < 0 || fits(r, at, n, COLUMN_MIN, "columns") < 0 ||
        grow_cols(s, n, r->err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct sl_pgo_column *c = &s->cols[i];
        uint8_t flags;
        /* flags other than 1 (key) are kept for later versions: ignored */
        if (get_u8(r, &flags) < 0 || get_str(r, &c->name) < 0 ||
            get_u32(r, &c->type_oid) < 0 || get_i32(r, &c->typmod) < 0)
            return -1;
        c->key = flags & 1;
    }
    m->u.relation.replident = (char)ident;
    m->u.relation.ncols = n;
    m->u.relation.cols = s->cols;
    return 0;
}

static int insert_msg(struct rd *r, struct sl_pgo_scratch *s, struct sl_pgo_msg *m)
{
    uint8_t tag;
    if (get_u32(r, &m->u.insert.oid) < 0 || tuple_tag(r, "N", &tag) < 0 ||
        tuple(r, s, 0, &m->u.insert.new_tuple.ncols) < 0)
        return -1;
    m->u.insert.new_tuple.vals = s->vals;
    return 0;
}

static int update_msg(struct rd *r, struct sl_pgo_scratch *s, struct sl_pgo_msg *m)
{
    uint8_t tag;
    uint16_t nold = 0;
    if (get_u32(r, &m->u.update.oid) < 0 || tuple_tag(r, "KON", &tag) < 0)
        return -1;
    m->u.update.old_kind = 0;
    if (tag != 'N') {
        m->u.update.old_kind = (char)tag;
        if (tuple(r, s, 0, &nold) < 0 || tuple_tag(r, "N", &tag) < 0)
            return -1;
    }
    if (tuple(r, s, nold, &m->u.update.new_tuple.ncols) < 0)
        return -1;
    /* the new tuple may have moved vals: both pointers only now */
    m->u.update.old_tuple.ncols = nold;
    m->u.update.old_tuple.vals = s->vals;
    m->u.update.new_tuple.vals = s->vals ? s->vals + nold : NULL;
    return 0;
}

static int delete_msg(struct rd *r, struct sl_pgo_scratch *s, struct sl_pgo_msg *m)
{
    uint8_t tag;
    if (get_u32(r, &m->u.del.oid) < 0 || tuple_tag(r, "KO", &tag) < 0 ||
        tuple(r, s, 0, &m->u.del.old_tuple.ncols) < 0)
        return -1;
    m->u.del.old_kind = (char)tag;
    m->u.del.old_tuple.vals = s->vals;
    return 0;
}

static int truncate_msg(struct rd *r, struct sl_pgo_msg *m)
{
    size_t at = r->pos;
    uint32_t n;
    if (get_u32(r, &n) < 0 || get_u8(r, &m->u.truncate.options) < 0 ||
        fits(r, at, n, 4, "relations") < 0 ||
        get_bytes(r, (size_t)n * 4, &m->u.truncate.oids) < 0)
        return -1;
    m->u.truncate.nrels = n;
    return 0;
}

static int message_msg(struct rd *r, struct sl_pgo_msg *m)
{
    const unsigned char *content;
    if (get_u8(r, &m->u.message.flags) < 0 || get_u64(r, &m->u.message.lsn) < 0 ||
        get_str(r, &m->u.message.prefix) < 0 || get_u32(r, &m->u.message.len) < 0 ||
        get_bytes(r, m->u.message.len, &content) < 0)
        return -1;
    m->u.message.content = (const char *)content;
    return 0;
}

static const char *kind_name(uint8_t k)
{
    switch (k) {
    case SL_PGO_BEGIN: return "Begin message";
    case SL_PGO_COMMIT: return "Commit message";
    case SL_PGO_ORIGIN: return "Origin message";
    case SL_PGO_RELATION: return "Relation message";
    case SL_PGO_TYPE: return "Type message";
    case SL_PGO_INSERT: return "Insert message";
    case SL_PGO_UPDATE: return "Update message";
    case SL_PGO_DELETE: return "Delete message";
    case SL_PGO_TRUNCATE: return "Truncate message";
    case SL_PGO_MESSAGE: return "logical decoding message";
    default: return NULL;
    }
}

int sl_pgo_decode(const unsigned char *buf, size_t len, struct sl_pgo_scratch *scratch,
                  struct sl_pgo_msg *out, struct sl_err *err)
{
    struct rd r = { buf, len, 0, "message", err };
    uint8_t k;
    int rc;

    memset(out, 0, sizeof *out);
    if (get_u8(&r, &k) < 0)
        return -1;
    r.what = kind_name(k);
    if (!r.what)
        return sl_err_set(err, SL_E_SOURCE, "pgoutput: unknown message kind 0x%02x at byte 0"
                          " (streamed transactions and two-phase commit need protocol"
                          " version 2 and up, which this decoder does not speak)", k);
    out->kind = (enum sl_pgo_kind)k;
    switch (k) {
    case SL_PGO_BEGIN:
        rc = get_u64(&r, &out->u.begin.final_lsn) < 0 ||
             get_i64(&r, &out->u.begin.commit_time) < 0 ||
             get_u32(&r, &out->u.begin.xid) < 0 ? -1 : 0;
        break;
    case SL_PGO_COMMIT:
        rc = get_u8(&r, &out->u.commit.flags) < 0 ||
             get_u64(&r, &out->u.commit.commit_lsn) < 0 ||
             get_u64(&r, &out->u.commit.end_lsn) < 0 ||
             get_i64(&r, &out->u.commit.commit_time) < 0 ? -1 : 0;
        break;
    case SL_PGO_ORIGIN:
        rc = get_u64(&r, &out->u.origin.lsn) < 0 ||
             get_str(&r, &out->u.origin.name) < 0 ? -1 : 0;
        break;
    case SL_PGO_RELATION:
        rc = relation_msg(&r, scratch, out);
        break;
    case SL_PGO_TYPE:
        rc = get_u32(&r, &out->u.type.oid) < 0 || get_str(&r, &out->u.type.nspname) < 0 ||
             get_str(&r, &out->u.type.name) < 0 ? -1 : 0;
        break;
    case SL_PGO_INSERT:
        rc = insert_msg(&r, scratch, out);
        break;
    case SL_PGO_UPDATE:
        rc = update_msg(&r, scratch, out);
        break;
    case SL_PGO_DELETE:
        rc = delete_msg(&r, scratch, out);
        break;
    case SL_PGO_TRUNCATE:
        rc = truncate_msg(&r, out);
        break;
    default: /* SL_PGO_MESSAGE: kind_name knows no other */
        rc = message_msg(&r, out);
        break;
    }
    return rc < 0 ? -1 : done(&r);
}

uint32_t sl_pgo_truncate_oid(const struct sl_pgo_msg *m, uint32_t i)
{
    /* i < nrels is the caller's: the decoder checked nrels * 4 bytes are there */
    return (uint32_t)be(m->u.truncate.oids + (size_t)i * 4, 4);
}
