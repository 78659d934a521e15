/* base/cfgmap.h: keys declared as data. A plugin (a source, a gate) or a
 * config block lists its keys (type, default, offsetof into its context
 * struct, one line of meaning); sl_cfg_fill fills the struct from a YAML
 * mapping, rejects unknown keys naming file:line:col, applies defaults, and
 * `sluice check` prints the docs from the same table. */
#ifndef SL_CFGMAP_H
#define SL_CFGMAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/strlist.h"

enum sl_cfg_type {
    SL_CFG_STR,         /* char * */
    SL_CFG_INT,         /* long */
    SL_CFG_DOUBLE,      /* double */
    SL_CFG_BOOL,        /* int */
    SL_CFG_DURATION,    /* double seconds; "10m", "1h", "30s" */
    SL_CFG_STRLIST,     /* struct sl_strlist; a scalar is a one-item list */
    SL_CFG_CHAR,        /* char; one character, "\t" accepted */
    SL_CFG_ENUM,        /* int index into `choices` */
    SL_CFG_SIZE,        /* int64_t bytes; "1GB", "512MB" (base/value.h, sl_size_parse) */
};

struct sl_cfg_key {
    const char *key;
    enum sl_cfg_type type;
    size_t offset;              /* into the plugin's context struct */
    const char *def;            /* default as YAML text, NULL = none */
    int required;
    const char *const *choices; /* SL_CFG_ENUM: NULL-terminated names */
    const char *doc;            /* one line, printed by `sluice check` */
};

struct sl_yaml_node;    /* opaque: a parsed YAML node with its position */

/* Fill `ctx` from a YAML mapping node using `keys` (NULL-terminated by
 * key == NULL). Unknown keys are errors naming file:line:col. */
int sl_cfg_fill(const struct sl_cfg_key *keys, void *ctx,
                const struct sl_yaml_node *map, const char *file, struct sl_err *err);
/* sl_cfg_fill naming the block in its errors, and accepting further keys
 * `also` (NULL-terminated, may be NULL) that the caller reads itself.
 * `owner` and `what` may be NULL: with owner "pipeline \"x\"" and what
 * "source" a missing key reads "f.yaml:3:13: pipeline \"x\": source: missing
 * required key \"path\"" (at the mapping), an unknown one "f.yaml:3:40:
 * unknown key \"patern\" in source (expected one of: ...); did you mean
 * \"pattern\"?" (at the key). `ctx` starts zeroed; on error it may hold some
 * values already, so sl_cfg_free it either way. A plain null value counts
 * as not given (the default applies). */
int sl_cfg_fill_ex(const struct sl_cfg_key *keys, void *ctx, const struct sl_yaml_node *map,
                   const char *file, const char *owner, const char *what,
                   const char *const *also, struct sl_err *err);
void sl_cfg_free(const struct sl_cfg_key *keys, void *ctx);
/* The value of key k in ctx as text, as a config would write it: "10m",
 * "[updated_at, id]", "\\t"; "" for an unset string or an empty list. Not
 * redacted: the caller decides what is secret. ctx NULL: k's default ("" when
 * it has none). */
void sl_cfg_value_text(const struct sl_cfg_key *k, const void *ctx, char *out, size_t cap);
/* 1 when key k holds its default in ctx (the default's value, or for a key
 * without one, unset: NULL, 0, an empty list), else 0 (always for a required
 * key). */
int sl_cfg_is_default(const struct sl_cfg_key *k, const void *ctx);

#endif
