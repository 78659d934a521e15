/* gates/schema.c: the schema gate: what to do when a drop's columns change.
 *
 *   schema: evolve       # new columns are added to the table (the default)
 *   schema: quarantine   # a drop that adds or retypes columns is held
 *
 * The engine compares the drop with the table before the batch starts
 * (struct sl_schema_diff); this gate only judges that difference and
 * reports it. Columns the drop lacks are never a reason to hold it: those
 * rows get NULL there, and the report warns. A batch that creates its table
 * always passes. */
#include "gates/gate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml.h"
#include "base/mem.h"

enum policy { POL_EVOLVE = 0, POL_QUARANTINE };
static const char *const policy_names[] = {"evolve", "quarantine", NULL};

struct schema_cfg {
    int policy;
};

static const struct sl_cfg_key schema_keys[] = {
    {"policy", SL_CFG_ENUM, offsetof(struct schema_cfg, policy), "evolve", 0, policy_names,
     "evolve (add new columns) | quarantine (hold a drop that adds or retypes columns)"},
    {NULL, 0, 0, NULL, 0, NULL, NULL},
};

/* The scalar form: `schema: quarantine`. */
static int schema_parse(void *ctx, const struct sl_yaml_node *node, const char *file,
                        struct sl_err *err)
{
    struct schema_cfg *c = ctx;
    return sl_gate_parse_choice(node, policy_names, file,
                                "gate \"schema\": expected evolve or quarantine", &c->policy, err);
}

struct sl_gate_run {
    const struct schema_cfg *cfg;
    const struct sl_schema_diff *diff;
};

static int schema_start(const void *ctx, const struct sl_gate_env *env, struct sl_gate_run **out,
                        struct sl_err *err)
{
    *out = NULL;
    struct sl_gate_run *g = sl_calloc(1, sizeof *g);
    if (!g)
        return sl_err_nomem(err);
    g->cfg = ctx;
    g->diff = env->diff;
    *out = g;
    return 0;
}

static json_t *list_json(const struct sl_strlist *l)
{
    json_t *a = json_array();
    for (size_t i = 0; l && i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

/* "a, b, c" into b */
static void list_text(struct sl_buf *b, const struct sl_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        sl_buf_printf(b, "%s%s", i ? ", " : "", l->items[i]);
}

static int schema_finish(struct sl_gate_run *g, const struct sl_gate_env *env,
                         struct sl_gate_result *res, struct sl_err *err)
{
    static const struct sl_schema_diff none = {1, {NULL, 0}, {NULL, 0}, {NULL, 0}};
    const struct sl_schema_diff *d = env->diff ? env->diff : g->diff ? g->diff : &none;
    struct sl_buf msg;

    res->verdict = SL_GATE_PASS;
    res->report_json = NULL;
    sl_buf_init(&msg);
    json_t *o = json_object();
    json_object_set_new(o, "checked", json_string("columns of the drop against the table"));
    json_object_set_new(o, "policy", json_string(policy_names[g->cfg->policy]));
    json_object_set_new(o, "table_existed", json_boolean(d->table_existed));
    json_object_set_new(o, "added", list_json(&d->added));
    json_object_set_new(o, "missing", list_json(&d->missing));
    json_object_set_new(o, "changed", list_json(&d->changed));

    if (!d->table_existed) {
        sl_buf_puts(&msg, "the batch creates the table");
    } else if (!d->added.n && !d->changed.n && !d->missing.n) {
        sl_buf_puts(&msg, "columns unchanged");
    } else {
        if (d->added.n) {
            sl_buf_printf(&msg, "%zu new column%s: ", d->added.n, d->added.n == 1 ? "" : "s");
            list_text(&msg, &d->added);
        }
        if (d->changed.n) {
            sl_buf_printf(&msg, "%s%zu changed column%s: ", msg.len ? "; " : "", d->changed.n,
                          d->changed.n == 1 ? "" : "s");
            list_text(&msg, &d->changed);
        }
        if (d->missing.n) {
            struct sl_buf w;
            sl_buf_init(&w);
            sl_buf_printf(&w, "the drop lacks %zu column%s, which get NULL: ", d->missing.n,
                          d->missing.n == 1 ? "" : "s");
            list_text(&w, &d->missing);
            json_t *warnings = json_array();
            json_array_append_new(warnings, json_string(w.data ? w.data : ""));
            json_object_set_new(o, "warnings", warnings);
            sl_buf_printf(&msg, "%s%s", msg.len ? "; " : "", w.data ? w.data : "");
            sl_buf_free(&w);
        }
        if (g->cfg->policy == POL_QUARANTINE && (d->added.n || d->changed.n)) {
            res->verdict = SL_GATE_QUARANTINE;
            sl_buf_puts(&msg, " (schema: quarantine holds drops that add or change columns; "
                              "approve the batch to load it)");
        } else if (d->added.n || d->changed.n) {
            sl_buf_puts(&msg, " (schema: evolve)");
        }
    }
    json_object_set_new(o, "passed", json_boolean(res->verdict == SL_GATE_PASS));
    json_object_set_new(o, "verdict",
                        json_string(res->verdict == SL_GATE_PASS ? "pass" : "quarantine"));
    json_object_set_new(o, "message", json_string(msg.data ? msg.data : ""));
    int nomem = msg.oom;
    sl_buf_free(&msg);
    if (nomem) {
        json_decref(o);
        return sl_err_nomem(err);
    }
    return sl_gate_report(o, res, err);
}

static void schema_free_run(struct sl_gate_run *g)
{
    sl_free(g);
}

const struct sl_gate_ops sl_gate_schema = {
    .name = "schema",
    .keys = schema_keys,
    .ctx_size = sizeof(struct schema_cfg),
    .parse = schema_parse,
    .start = schema_start,
    .value_ctx = NULL,
    .row = NULL,
    .finish = schema_finish,
    .free_run = schema_free_run,
    .free_ctx = NULL,
};
