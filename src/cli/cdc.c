/* cli/cdc.c: a change data capture pipeline's replication slot.
 *   sluice cdc status CONFIG [PIPELINE] [--json]
 *       per cdc pipeline: the slot (exists, active and by which server
 *       process, plugin, confirmed_flush_lsn, restart_lsn), the source's
 *       WAL position, the WAL the slot keeps (current - restart_lsn) and the
 *       WAL not yet confirmed (current - confirmed_flush_lsn), the
 *       publication and its tables, and each table's cursor in the warehouse
 *   sluice cdc drop CONFIG PIPELINE
 *       drop the slot (refused while a process streams from it) and the
 *       publication when sluice made it; the warehouse keeps its tables
 * The source is looked at through the cdc source's slot_state / slot_drop
 * (sources/cdc_slot.c); the cursors through the ledger. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/value.h"
#include "cli/cli.h"
#include "engine/ledger.h"
#include "obs/status.h"

static const char USAGE_STATUS[] = "sluice cdc status CONFIG [PIPELINE] [--json]";
static const char USAGE_DROP[] = "sluice cdc drop CONFIG PIPELINE";

static int usage(void)
{
    fprintf(stderr, "usage: %s\nusage: %s\n", USAGE_STATUS, USAGE_DROP);
    return 2;
}

/* The pipeline named, which must stream a slot; prints why not (NULL). */
static const struct sl_pipeline_cfg *cdc_pipeline(const struct sl_config *c, const char *name)
{
    const struct sl_pipeline_cfg *p = sl_config_pipeline(c, name);
    if (!p)
        fprintf(stderr, "sluice: no pipeline \"%s\" in %s\n", name, c->path);
    else if (!p->source_ops->slot_state)
        fprintf(stderr, "sluice: pipeline \"%s\" has no replication slot (its source has no"
                        " cdc: block)\n", name);
    return p && p->source_ops->slot_state ? p : NULL;
}

/* ---- status ---- */

/* Each table's cursor as the warehouse holds it, into `tables`. */
static int add_cursors(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       json_t *tables, struct sl_err *err)
{
    struct sl_cli_dest d;
    int rc = sl_cli_open_dest(c, p->dest_conn, &d, err);
    struct sl_ledger l = {d.ops, d.d};
    for (size_t k = 0; k < p->ntables; k++) {
        const struct sl_table_cfg *t = &p->tables[k];
        char *cur = NULL;
        if (rc == 0 && (rc = sl_ledger_get_cursor(&l, p->name, t->name, &cur, err)) < 0)
            sl_err_prefix(err, "table %s", t->name);
        json_t *e = json_object();
        json_object_set_new(e, "table", json_string(t->name));
        json_object_set_new(e, "source_table",
                            json_string(t->source_table ? t->source_table : t->name));
        json_object_set_new(e, "cursor", cur ? json_string(cur) : json_null());
        json_array_append_new(tables, e);
        sl_free(cur);
    }
    sl_cli_close_dest(&d);
    return rc;
}

static json_t *pipeline_status(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                               int *failed)
{
    struct sl_slot_state st;
    struct sl_err err, derr;
    json_t *o = json_object(), *tables = json_array(), *pub = json_object();
    sl_err_clear(&err);
    sl_err_clear(&derr);
    int rc = p->source_ops->slot_state(c, p, 1, 10, &st, &err);
    json_object_set_new(o, "pipeline", json_string(p->name));
    json_object_set_new(o, "slot", rc == 0 ? sl_status_slot_json(&st) : json_null());
    json_object_set_new(pub, "name", json_string(st.publication));
    json_object_set_new(pub, "exists", rc == 0 ? json_boolean(st.pub_exists) : json_null());
    json_object_set_new(pub, "created_by_sluice",
                        rc == 0 && st.pub_exists ? json_boolean(st.pub_by_sluice) : json_null());
    json_object_set_new(pub, "all_tables",
                        rc == 0 && st.pub_exists ? json_boolean(st.pub_all_tables) : json_null());
    json_t *pt = json_array();
    for (size_t i = 0; i < st.pub_tables.n; i++)
        json_array_append_new(pt, json_string(st.pub_tables.items[i]));
    json_object_set_new(pub, "tables", pt);
    json_object_set_new(o, "publication", pub);
    int drc = add_cursors(c, p, tables, &derr);
    json_object_set_new(o, "tables", tables);
    json_object_set_new(o, "error", rc < 0 ? json_string(err.msg) : json_null());
    json_object_set_new(o, "warehouse_error", drc < 0 ? json_string(derr.msg) : json_null());
    if (rc < 0 || drc < 0)
        *failed = 1;
    sl_slot_state_free(&st);
    return o;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void print_bytes(const char *label, const json_t *slot, const char *key, const char *how,
                        const char *limit_key)
{
    const json_t *v = json_object_get(slot, key), *lim = json_object_get(slot, limit_key);
    char pretty[32], lt[32];
    if (!json_is_integer(v)) {
        printf("  %-16s -\n", label);
        return;
    }
    sl_size_pretty((int64_t)json_integer_value(v), pretty, sizeof pretty);
    printf("  %-16s %s (%lld bytes: %s)", label, pretty, (long long)json_integer_value(v), how);
    if (json_is_integer(lim)) {
        sl_size_text((int64_t)json_integer_value(lim), lt, sizeof lt);
        printf("; max_retained %s%s", lt,
               json_integer_value(v) > json_integer_value(lim) ? ": OVER" : "");
    }
    putchar('\n');
}

static void print_status(const json_t *o)
{
    const json_t *slot = json_object_get(o, "slot"), *pub = json_object_get(o, "publication");
    const json_t *t;
    size_t i;
    printf("pipeline %s\n", jstr(o, "pipeline"));
    if (!json_is_object(slot)) {
        printf("  slot             could not be looked at: %s\n", jstr(o, "error"));
    } else if (!json_is_true(json_object_get(slot, "exists"))) {
        printf("  slot             %s: does not exist (the next run makes it and copies every"
               " table)\n", jstr(slot, "name"));
    } else {
        printf("  slot             %s: exists, plugin %s, database %s\n", jstr(slot, "name"),
               jstr(slot, "plugin"), jstr(slot, "database"));
        if (json_is_true(json_object_get(slot, "active")))
            printf("  active           yes: server process %lld streams it%s%s\n",
                   (long long)json_integer_value(json_object_get(slot, "active_pid")),
                   *jstr(slot, "active_client") ? " to " : "", jstr(slot, "active_client"));
        else
            printf("  active           no: nothing streams it now\n");
        printf("  wal_status       %s\n", *jstr(slot, "wal_status") ? jstr(slot, "wal_status")
                                                                   : "-");
        printf("  confirmed_flush  %s\n", *jstr(slot, "confirmed_flush_lsn")
                                              ? jstr(slot, "confirmed_flush_lsn") : "-");
        printf("  restart_lsn      %s\n", *jstr(slot, "restart_lsn") ? jstr(slot, "restart_lsn")
                                                                    : "-");
    }
    if (json_is_object(slot)) {
        printf("  current WAL      %s\n", *jstr(slot, "current_lsn") ? jstr(slot, "current_lsn")
                                                                    : "-");
        if (json_is_true(json_object_get(slot, "exists"))) {
            print_bytes("retained WAL", slot, "retained_bytes", "current - restart_lsn",
                        "max_retained_bytes");
            print_bytes("not confirmed", slot, "unconfirmed_bytes",
                        "current - confirmed_flush_lsn", "");
        }
    }
    if (!json_is_true(json_object_get(pub, "exists"))) {
        printf("  publication      %s: %s\n", jstr(pub, "name"),
               json_is_false(json_object_get(pub, "exists")) ? "does not exist" : "-");
    } else {
        printf("  publication      %s (%s): ", jstr(pub, "name"),
               json_is_true(json_object_get(pub, "created_by_sluice"))
                   ? "created by sluice" : "not created by sluice");
        if (json_is_true(json_object_get(pub, "all_tables")))
            printf("FOR ALL TABLES");
        json_array_foreach(json_object_get(pub, "tables"), i, t)
            printf("%s%s", i ? ", " : "", json_string_value(t));
        putchar('\n');
    }
    json_array_foreach(json_object_get(o, "tables"), i, t) {
        const char *cur = json_string_value(json_object_get(t, "cursor"));
        printf("  table %-24s cursor %s\n", jstr(t, "table"),
               cur ? cur : "none (copied whole on the next run)");
    }
    if (json_is_string(json_object_get(o, "warehouse_error")))
        printf("  warehouse        could not be read: %s\n", jstr(o, "warehouse_error"));
}

static int cmd_status(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, USAGE_STATUS, "json", &o) < 0)
        return 2;
    if (o.nargs > 1) {
        fprintf(stderr, "sluice: cdc status takes one pipeline (found \"%s\" after it)\n"
                        "usage: %s\n", o.args[1], USAGE_STATUS);
        sl_free(o.args);
        return 2;
    }
    struct sl_config *c = sl_cli_load_config(o.config);
    int rc = 0, failed = 0;
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    const struct sl_pipeline_cfg *only = o.nargs ? cdc_pipeline(c, o.args[0]) : NULL;
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "pipelines", arr);
    if (o.nargs && !only)
        rc = 2;
    for (size_t i = 0; i < c->npipelines && rc == 0; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        if ((only && p != only) || !p->source_ops->slot_state)
            continue;
        json_t *e = pipeline_status(c, p, &failed);
        if (!o.json)
            print_status(e);
        json_array_append_new(arr, e);
    }
    if (rc == 0 && !json_array_size(arr)) {
        fprintf(stderr, "sluice: no pipeline of %s streams from a replication slot (a postgres"
                        " source with cdc:)\n", c->path);
        rc = 2;
    }
    if (rc == 0 && o.json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
    }
    if (rc == 0 && failed) {
        fprintf(stderr, "sluice: a source or warehouse could not be read (see above)\n");
        rc = 1;
    }
    json_decref(doc);
    sl_free(o.args);
    sl_config_free(c);
    return rc;
}

/* ---- drop ---- */

static int cmd_drop(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, USAGE_DROP, "", &o) < 0)
        return 2;
    if (o.nargs != 1) {
        if (o.nargs)
            fprintf(stderr, "sluice: cdc drop takes one pipeline (found \"%s\" after it)\n",
                    o.args[1]);
        fprintf(stderr, "usage: %s\n", USAGE_DROP);
        sl_free(o.args);
        return 2;
    }
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    const struct sl_pipeline_cfg *p = cdc_pipeline(c, o.args[0]);
    sl_free(o.args);
    if (!p) {
        sl_config_free(c);
        return 2;
    }
    struct sl_slot_drop d;
    struct sl_err err;
    sl_err_clear(&err);
    if (p->source_ops->slot_drop(c, p, &d, &err) < 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        sl_config_free(c);
        return sl_err_exit_code(&err);
    }
    if (d.slot_dropped)
        printf("dropped replication slot %s: the source keeps no WAL for it any more\n",
               d.slot);
    else
        printf("replication slot %s does not exist: nothing to drop\n", d.slot);
    if (d.pub_dropped)
        printf("dropped publication %s (created by sluice)\n", d.publication);
    else if (d.pub_existed)
        printf("kept publication %s: %s\n", d.publication, d.pub_kept);
    else
        printf("publication %s does not exist: nothing to drop\n", d.publication);
    printf("the warehouse keeps the tables of pipeline %s as they are (", p->name);
    for (size_t k = 0; k < p->ntables; k++)
        printf("%s%s", k ? ", " : "", p->tables[k].name);
    printf("); the next `sluice run` or `sluice daemon` of it makes a new slot and copies"
           " every table again, whole, so the changes made meanwhile are not lost; to retire"
           " the pipeline, take it out of %s\n", c->path);
    sl_config_free(c);
    return 0;
}

int sl_cmd_cdc(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    if (strcmp(argv[0], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (strcmp(argv[0], "drop") == 0)
        return cmd_drop(argc - 1, argv + 1);
    fprintf(stderr, "sluice: cdc takes status or drop, not \"%s\"\n", argv[0]);
    return usage();
}
