/* man/keys.c: writes sluice.yaml(5) at build time: the page's text
 * (man/sluice.yaml.5.in) with its line "@KEYS@" replaced by every key of
 * every block, from the key tables the config loader reads with and
 * `sluice check --verbose` prints (config/config.h, each source's and gate's
 * own), so the page cannot miss a key. Not installed.
 *   sluice_mankeys sluice.yaml.5.in sluice.yaml.5 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "gates/gate.h"
#include "sources/source.h"

/* roff text: a backslash doubled, a leading dot or quote guarded */
static void roff(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

static const char *type_name(const struct sl_cfg_key *k)
{
    switch (k->type) {
    case SL_CFG_STR: return "text";
    case SL_CFG_INT: return "integer";
    case SL_CFG_DOUBLE: return "number";
    case SL_CFG_BOOL: return "true or false";
    case SL_CFG_DURATION: return "duration (30s, 10m, 1h, 1d)";
    case SL_CFG_STRLIST: return "list of text (a single value is a list of one)";
    case SL_CFG_CHAR: return "one character";
    case SL_CFG_ENUM: return "one of";
    case SL_CFG_SIZE: return "size (512KB, 8MB, 1GB)";
    }
    return "value";
}

/* One block: ".SS title", then each key as a tagged paragraph. */
static void block(FILE *f, const char *title, const struct sl_cfg_key *keys)
{
    fprintf(f, ".SS \"");
    roff(f, title);
    fprintf(f, "\"\n");
    for (const struct sl_cfg_key *k = keys; k && k->key; k++) {
        fprintf(f, ".TP\n.B ");
        roff(f, k->key);
        fprintf(f, "\n");
        roff(f, k->doc ? k->doc : "");
        fprintf(f, ".\n.br\n");
        fprintf(f, "%s", type_name(k));
        if (k->type == SL_CFG_ENUM)
            for (const char *const *c = k->choices; c && *c; c++) {
                fprintf(f, "%s", c == k->choices ? " " : " | ");
                roff(f, *c);
            }
        if (k->required)
            fprintf(f, "; required");
        else if (k->def && *k->def) {
            fprintf(f, "; default ");
            roff(f, k->def);
        }
        fprintf(f, "\n");
    }
}

static void keys(FILE *f)
{
    static const struct { const char *block, *title; } own[] = {
        {"http", "http"},
        {"alert", "alerts (each item)"},
        {"connection", "connections (each connection)"},
        {"pipeline", "pipelines (each pipeline)"},
        {"snapshots", "snapshots (in a pipeline)"},
        {"reconcile", "reconcile (in a pipeline)"},
        {"table", "tables (each table of a pipeline)"},
    };
    char title[128];
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        block(f, own[i].title, sl_config_keys(own[i].block));
    const struct sl_source_ops *s;
    for (size_t i = 0; (s = sl_source_at(i)); i++) {
        snprintf(title, sizeof title, "source (kind: %s)", s->kind);
        block(f, title, s->keys);
        for (const struct sl_source_block *b = s->blocks; b && b->key; b++) {
            snprintf(title, sizeof title, "source (kind: %s): %s", s->kind, b->key);
            block(f, title, b->keys);
        }
    }
    const struct sl_gate_ops *g;
    for (size_t i = 0; (g = sl_gate_at(i)); i++) {
        if (g->item_keys) {
            snprintf(title, sizeof title, "gates: %s (each item)", g->name);
            block(f, title, g->item_keys);
        } else {
            snprintf(title, sizeof title, "gates: %s", g->name);
            block(f, title, g->keys);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sluice_mankeys IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r"), *out = in ? fopen(argv[2], "w") : NULL;
    if (!in || !out) {
        perror(in ? argv[2] : argv[1]);
        return 1;
    }
    char line[4096];
    int done = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "@KEYS@\n") == 0) {
            keys(out);
            done = 1;
        } else {
            fputs(line, out);
        }
    }
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0 || bad) {
        perror(argv[2]);
        return 1;
    }
    if (!done) {
        fprintf(stderr, "%s: no @KEYS@ line\n", argv[1]);
        return 1;
    }
    return 0;
}
