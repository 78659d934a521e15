/* base/yaml.h: a YAML file as a tree of nodes that remember where they are.
 *
 * The config loader (config.c), the key filler (cfgmap.c) and plugins that
 * parse their own forms (a gate's `parse`) read configs through this tree,
 * never through libyaml. The loader owns the whole tree (sl_yaml_doc);
 * nodes are shared, not copied, where an alias (*name) or a merge key
 * (<<: *name) refers to an anchor. Scalar values are already ${VAR}-expanded.
 * Mapping keys are unique and always scalars. Lines and columns are 1-based;
 * columns count characters, like libyaml's marks. */
#ifndef SL_YAML_H
#define SL_YAML_H

#include <stddef.h>

#include "base/err.h"

enum sl_yaml_type {
    SL_YAML_SCALAR = 0,
    SL_YAML_MAP,
    SL_YAML_SEQ,
};

enum sl_yaml_style {
    SL_YAML_PLAIN = 0,      /* unquoted: may be null, a number, a boolean */
    SL_YAML_QUOTED,         /* '...', "...", | or >: always a string */
};

struct sl_yaml_node;

struct sl_yaml_entry {
    char *key;
    int line, col;          /* where the key is */
    struct sl_yaml_node *value;
};

struct sl_yaml_node {
    enum sl_yaml_type type;
    enum sl_yaml_style style;       /* scalars */
    int line, col;                  /* where the node starts */
    char *value;                    /* scalars: NUL-terminated, never NULL */
    size_t len;
    int is_null;                    /* plain "", "~", "null": no value given */
    char *unset;                    /* the value names an unset ${VAR} (expanded to
                                     * nothing): the error, "file:line:col: ...";
                                     * the config decides where that may wait */
    struct sl_yaml_entry *entries;  /* SL_YAML_MAP, in document order */
    size_t nentries;
    struct sl_yaml_node **items;    /* SL_YAML_SEQ */
    size_t nitems;
    struct sl_yaml_node *next_owned;    /* the doc's list of every node */
};

struct sl_yaml_doc {
    char *file;                     /* as given, for messages */
    struct sl_yaml_node *root;      /* NULL when the file holds no document */
    struct sl_yaml_node *owned;
};

/* Parse `path`. Errors (SL_E_CONFIG) read "<path>:<line>:<col>: what", e.g.
 * "orders.yaml:12:7: duplicate key \"tables\" (first at 9:7)". */
int sl_yaml_load_file(const char *path, struct sl_yaml_doc **out, struct sl_err *err);
/* Parse `n` bytes of memory (not kept); `display` names it in messages. */
int sl_yaml_load_mem(const char *display, const char *data, size_t n,
                     struct sl_yaml_doc **out, struct sl_err *err);
void sl_yaml_free(struct sl_yaml_doc *d);

/* Lookups: NULL when `map` is not a mapping or has no such key. */
const struct sl_yaml_node *sl_yaml_get(const struct sl_yaml_node *map, const char *key);
const struct sl_yaml_entry *sl_yaml_entry_of(const struct sl_yaml_node *map, const char *key);
/* The text of a non-null scalar, else NULL. */
const char *sl_yaml_str(const struct sl_yaml_node *n);

/* What a node is, for "expected ..., found X" messages: the quoted scalar
 * ("\"ten\"", shortened and escaped), "null", "a mapping" or "a sequence". */
void sl_yaml_describe(const struct sl_yaml_node *n, char *buf, size_t len);

/* Set an SL_E_CONFIG error at a position: "<file>:<line>:<col>: <fmt...>".
 * Returns -1. */
int sl_yaml_err(struct sl_err *err, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Out of memory while reading config `file` (SL_E_NOMEM): "<file>: out of
 * memory while reading the config". Returns -1. */
int sl_yaml_nomem(struct sl_err *err, const char *file);

/* Index of the name in `names` (n of them) closest to `word` by edit
 * distance (a transposition counts one), if at most 2 edits away and closer
 * than the word's own length; else -1. For "did you mean" hints. */
long sl_yaml_closest(const char *word, const char *const *names, size_t n);

#endif
