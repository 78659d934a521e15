/* model/config.c: lookups in a loaded config (see config.h). */
#include "model/config.h"

#include <string.h>

#include "base/mem.h"

const char *const sl_table_kinds[] = {"snapshot", "versioned", "append", "incremental", "cdc", NULL};

const struct sl_pipeline_cfg *sl_config_pipeline(const struct sl_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->npipelines; i++)
        if (strcmp(c->pipelines[i].name, name) == 0)
            return &c->pipelines[i];
    return NULL;
}

const struct sl_connection_cfg *sl_config_connection(const struct sl_config *c, const char *name)
{
    for (size_t i = 0; c && name && i < c->nconnections; i++)
        if (strcmp(c->connections[i].name, name) == 0)
            return &c->connections[i];
    return NULL;
}

char *sl_config_path(const struct sl_config *c, const char *p)
{
    struct sl_buf b;

    if (!p)
        return NULL;
    if (p[0] == '/' || !c || !c->dir || !c->dir[0] || strcmp(c->dir, ".") == 0)
        return sl_strdup(p);
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    if (!p[0] || strcmp(p, ".") == 0)
        return sl_strdup(c->dir);
    sl_buf_init(&b);
    sl_buf_puts(&b, c->dir);
    if (b.len && b.data[b.len - 1] != '/')
        sl_buf_putc(&b, '/');
    sl_buf_puts(&b, p);
    if (b.oom) {
        sl_buf_free(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

const char *sl_table_kind_name(enum sl_table_kind k)
{
    return (unsigned)k < sizeof sl_table_kinds / sizeof sl_table_kinds[0] - 1 ? sl_table_kinds[k] : "unknown";
}

