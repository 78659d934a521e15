/* tests/fuzz/fuzz_pgoutput.c: libFuzzer target for pg/pgoutput.c.
 *
 * The input is read as a CopyBoth frame (and an XLogData frame's payload
 * as a pgoutput message), as a pgoutput message itself, and as an LSN. One
 * scratch serves every decode, as on a replication connection. Checks,
 * beyond no crash or leak: every byte a decoded message points at is read
 * (ASan sees a pointer past the input) and lies inside the input or the
 * scratch; a decode that fails says "pgoutput: ... at byte N" (or out of
 * memory); a decoded message decodes the same from a copy, and one of up to
 * 128 bytes fails at every shorter length (the unit tests cut the captured
 * messages at every length); an LSN that parses formats and parses back to
 * itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pg/pgoutput.h"

static struct sl_pgo_scratch scratch;
static volatile unsigned sink;

static const uint8_t *lo, *hi;      /* the bytes being decoded */

static void touch(const void *p, size_t n)
{
    const unsigned char *c = p;
    if (n && (!p || c < lo || c + n > hi))
        abort();    /* every slice is inside the input */
    for (size_t i = 0; i < n; i++)
        sink += c[i];
}

static void touch_str(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    if (!s || c < lo || c >= hi)
        abort();
    size_t n = strnlen(s, (size_t)(hi - c));
    if (c + n >= hi)
        abort();    /* the NUL is inside the input */
    touch(s, n + 1);
}

static void touch_tuple(const struct sl_pgo_tuple *t)
{
    if (t->ncols && (t->vals < scratch.vals || t->vals + t->ncols > scratch.vals + scratch.nvals_cap))
        abort();
    for (size_t i = 0; i < t->ncols; i++) {
        const struct sl_pgo_value *v = &t->vals[i];
        switch (v->kind) {
        case SL_PGO_NULL:
        case SL_PGO_UNCHANGED:
            if (v->data || v->len)
                abort();
            break;
        case SL_PGO_TEXT:
        case SL_PGO_BINARY:
            touch(v->data, v->len);
            break;
        default:
            abort();
        }
    }
}

static void touch_msg(const struct sl_pgo_msg *m)
{
    switch (m->kind) {
    case SL_PGO_BEGIN:
    case SL_PGO_COMMIT:
        break;
    case SL_PGO_ORIGIN:
        touch_str(m->u.origin.name);
        break;
    case SL_PGO_RELATION:
        touch_str(m->u.relation.nspname);
        touch_str(m->u.relation.relname);
        if (!strchr("dnfi", m->u.relation.replident) || !m->u.relation.replident)
            abort();
        if (m->u.relation.ncols > scratch.ncols_cap)
            abort();
        for (size_t i = 0; i < m->u.relation.ncols; i++) {
            touch_str(m->u.relation.cols[i].name);
            sink += m->u.relation.cols[i].type_oid + (unsigned)m->u.relation.cols[i].key;
        }
        break;
    case SL_PGO_TYPE:
        touch_str(m->u.type.nspname);
        touch_str(m->u.type.name);
        break;
    case SL_PGO_INSERT:
        touch_tuple(&m->u.insert.new_tuple);
        break;
    case SL_PGO_UPDATE:
        if (m->u.update.old_kind && m->u.update.old_kind != 'K' && m->u.update.old_kind != 'O')
            abort();
        touch_tuple(&m->u.update.old_tuple);
        touch_tuple(&m->u.update.new_tuple);
        /* the old values first, the new ones right after them */
        if (m->u.update.new_tuple.ncols &&
            m->u.update.new_tuple.vals != scratch.vals + m->u.update.old_tuple.ncols)
            abort();
        break;
    case SL_PGO_DELETE:
        if (m->u.del.old_kind != 'K' && m->u.del.old_kind != 'O')
            abort();
        touch_tuple(&m->u.del.old_tuple);
        break;
    case SL_PGO_TRUNCATE:
        touch(m->u.truncate.oids, (size_t)m->u.truncate.nrels * 4);
        for (uint32_t i = 0; i < m->u.truncate.nrels; i++)
            sink += sl_pgo_truncate_oid(m, i);
        break;
    case SL_PGO_MESSAGE:
        touch_str(m->u.message.prefix);
        touch(m->u.message.content, m->u.message.len);
        break;
    default:
        abort();
    }
}

static void check_err(const struct sl_err *err)
{
    if (err->code == SL_E_NOMEM && strcmp(err->msg, "out of memory") == 0)
        return;
    if (err->code != SL_E_SOURCE || strncmp(err->msg, "pgoutput: ", 10) != 0 ||
        !strstr(err->msg, " at byte "))
        abort();
}

/* Decode p[0..n): on success touch it all, and check a copy decodes alike
 * and every shorter copy fails (short inputs only: that is quadratic). */
static void decode(const uint8_t *p, size_t n)
{
    struct sl_pgo_msg m;
    struct sl_err err;

    sl_err_clear(&err);
    lo = p;
    hi = p + n;
    if (sl_pgo_decode(p, n, &scratch, &m, &err) < 0) {
        check_err(&err);
        return;
    }
    touch_msg(&m);
    enum sl_pgo_kind kind = m.kind;

    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        abort();
    memcpy(c, p, n);
    lo = c;
    hi = c + n;
    if (sl_pgo_decode(c, n, &scratch, &m, &err) < 0 || m.kind != kind)
        abort();
    touch_msg(&m);
    for (size_t k = n <= 128 ? 0 : n; k < n; k++) {
        uint8_t *s = malloc(k ? k : 1);
        if (!s)
            abort();
        memcpy(s, p, k);
        sl_err_clear(&err);
        if (sl_pgo_decode(s, k, &scratch, &m, &err) != -1)
            abort();    /* a complete message has no complete prefix */
        check_err(&err);
        free(s);
    }
    free(c);
}

static void lsn(const uint8_t *data, size_t size)
{
    char s[32], back[24];
    sl_lsn l, l2;
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    if (sl_lsn_parse(s, &l) < 0)
        return;
    sl_lsn_format(l, back);
    if (sl_lsn_parse(back, &l2) < 0 || l2 != l)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_pgo_frame f;
    struct sl_err err;

    sl_err_clear(&err);
    if (sl_pgo_frame(data, size, &f, &err) == 0) {
        if (f.kind == SL_PGO_XLOGDATA) {
            if (f.data != data + 25 || f.len != size - 25)
                abort();
            decode(f.data, f.len);
        } else if (f.kind != SL_PGO_KEEPALIVE || size != 18 || (f.reply != (data[17] != 0)))
            abort();
    } else {
        check_err(&err);
    }
    decode(data, size);
    lsn(data, size);
    return 0;
}
