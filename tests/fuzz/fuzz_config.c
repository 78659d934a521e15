/* tests/fuzz/fuzz_config.c: libFuzzer target for the config loader: bytes
 * through the YAML tree (base/yaml.c), the key filler (base/cfgmap.c)
 * and the config builder (config/config.c). Any input must either load or
 * fail with an SL_E_CONFIG / SL_E_NOMEM message naming "fuzz.yaml"; nothing
 * may crash or leak. A config that loads is walked so its strings are read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "base/mem.h"

static size_t walk(const struct sl_config *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nconnections; i++)
        n += strlen(c->connections[i].name) + strlen(c->connections[i].url);
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        if (sl_config_pipeline(c, p->name) != p || !p->dest_conn || !p->source_ops ||
            !p->ntables)
            abort();
        for (size_t j = 0; j < p->ntables; j++) {
            const struct sl_table_cfg *t = &p->tables[j];
            n += strlen(t->name) + strlen(sl_table_kind_name(t->kind));
            for (size_t k = 0; k < t->primary_key.n; k++)
                n += strlen(t->primary_key.items[k]);
            for (size_t k = 0; k < t->ncolumns; k++)
                n += strlen(t->columns[k].name);
        }
        char *abs = sl_config_path(c, p->name);
        if (abs)
            n += strlen(abs);
        sl_free(abs);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_config *c = NULL;
    struct sl_err err;

    /* keep ${VAR} expansion deterministic: one set, one unset */
    setenv("SL_FUZZ_VAR", "value", 0);
    sl_err_clear(&err);
    if (sl_config_load_mem("fuzz.yaml", "/fuzz", (const char *)data, size, &c, &err) == 0) {
        if (!c)
            abort();
        volatile size_t sink = walk(c);
        (void)sink;
        sl_config_free(c);
    } else {
        if (c || (err.code != SL_E_CONFIG && err.code != SL_E_NOMEM) || !err.msg[0])
            abort();
    }
    return 0;
}
