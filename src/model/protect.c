/* model/protect.c: protected columns (see protect.h). */
#include "model/protect.h"

#include <string.h>

#include "base/hmac.h"
#include "base/value.h"

const char *const sl_protect_kinds[] = {"hash", "drop", "mask", NULL};

const struct sl_protect_col *sl_protect_find(const struct sl_table_cfg *t, const char *name,
                                             size_t n)
{
    for (size_t i = 0; t && i < t->nprotect; i++)
        if (strlen(t->protect[i].name) == n && memcmp(t->protect[i].name, name, n) == 0)
            return &t->protect[i];
    return NULL;
}

int sl_protect_mask(const char *v, size_t n, struct sl_buf *out)
{
    /* character boundaries: count first, then keep the last SL_MASK_KEEP */
    size_t chars = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k = (unsigned char)v[i] < 0x80 ? 1
                   : sl_utf8_decode((const unsigned char *)v + i, n - i, &cp);
        i += k ? k : 1;
        chars++;
    }
    size_t hide = chars > SL_MASK_KEEP ? chars - SL_MASK_KEEP : chars;
    size_t i = 0;
    for (size_t c = 0; c < hide; c++) {
        unsigned cp;
        size_t k = (unsigned char)v[i] < 0x80 ? 1
                   : sl_utf8_decode((const unsigned char *)v + i, n - i, &cp);
        i += k ? k : 1;
        sl_buf_putc(out, '*');
    }
    sl_buf_append(out, v + i, n - i);
    return out->oom ? -1 : 0;
}

int sl_protect_value(const struct sl_pipeline_cfg *p, enum sl_protect_kind kind, const char *v,
                     size_t n, struct sl_buf *out)
{
    char hex[SL_HMAC_SHA256_HEX + 1];
    switch (kind) {
    case SL_PROTECT_HASH:
        if (!p->hash_key ||
            sl_hmac_sha256_hex(p->hash_key, p->hash_key_len, v, n, hex) < 0)
            return -1;
        return sl_buf_append(out, hex, SL_HMAC_SHA256_HEX);
    case SL_PROTECT_MASK:
        return sl_protect_mask(v, n, out);
    case SL_PROTECT_DROP:
        return 0;
    }
    return -1;
}

int sl_protect_schema(const struct sl_table_cfg *t, struct sl_schema *s)
{
    size_t o = 0;
    for (size_t i = 0; i < s->ncols; i++) {
        const char *name = s->cols[i].name;
        const struct sl_protect_col *pc = sl_protect_find(t, name, strlen(name));
        if (pc && pc->kind == SL_PROTECT_DROP) {
            sl_free(s->cols[i].name);
            continue;
        }
        s->cols[o] = s->cols[i];
        if (pc)
            s->cols[o].type = SL_T_TEXT;
        o++;
    }
    s->ncols = o;
    return 0;
}

const char *sl_protect_doc(enum sl_protect_kind kind)
{
    switch (kind) {
    case SL_PROTECT_HASH:
        return "HMAC-SHA256 under the key, stored as 64 hex digits (joins work, the value "
               "cannot be read back)";
    case SL_PROTECT_DROP:
        return "never stored (not a column of the table)";
    case SL_PROTECT_MASK:
        return "all but the last 4 characters replaced by '*' (4 or fewer: all)";
    }
    return "";
}
