/* cli/replay.c: `sluice replay CONFIG [--pipeline P] [ID...] [--json]`.
 *
 * Runs dead-lettered events (engine/deadletter.h) through the engine again
 * with the config as it is now, after the cause was fixed: a column type, a
 * rule, a path. Events that load are marked replayed (replayed_at,
 * replayed_by) in the same transaction as their rows; those that fail again
 * stay, with the new error. Without IDs every event not replayed yet of each
 * event pipeline (or of P) goes; with IDs exactly those, replayed or not.
 * An event keeps its id, so replaying it twice stores it once.
 *
 * A log drop's unparsed records (a files source with a log format) replay
 * the same way: each is read again with the source's format as the config
 * has it now (a fixed layout or regex), those that parse load into their
 * table in a batch of their own and are marked, the rest keep their row. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/deadletter.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/pipeline.h"
#include "base/log.h"
#include "sources/events.h"

static const char USAGE[] = "sluice replay CONFIG [--pipeline P] [ID...] [--json]";

#define CHUNK 5000L

struct counts {
    int64_t events;         /* replayed */
    int64_t loaded;         /* written now */
    int64_t present;        /* stored already (an earlier replay or a retry) */
    int64_t failing;        /* back in the dead letter table */
    int64_t batches;
    int64_t found_ids;      /* of the IDs asked for, how many this pipeline had */
    int held;               /* a gate held a batch */
};

static int is_event_source(const struct sl_pipeline_cfg *p)
{
    return p->source_ops->event != NULL && p->source_ops->replay == NULL;
}

/* A source whose records are set aside by the engine (a log drop's). */
static int sets_records_aside(const struct sl_pipeline_cfg *p)
{
    return p->source_ops->replay != NULL;
}

/* One table of a log pipeline: its dead-lettered records read again. */
static int replay_records(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                          const struct sl_table_cfg *t, const int64_t *ids, size_t nids,
                          struct counts *k, struct sl_err *err)
{
    struct sl_source *src = NULL;
    struct sl_feed *feed = NULL;
    struct sl_cli_dest rd = {0};
    int64_t after = 0;
    int rc = -1;

    if (p->source_ops->open(&src, c, p, t, err) < 0)
        return -1;
    if (sl_feed_open(c, p, t, src, &feed, err) < 0 || sl_cli_open_dest(c, p->dest_conn, &rd, err) < 0)
        goto done;
    for (size_t from = 0;;) {
        struct sl_rows rows;
        const int64_t *chunk = ids ? ids + from : NULL;
        size_t nchunk = ids ? (nids - from < 1000 ? nids - from : 1000) : 0;
        if (ids && nchunk == 0)
            break;
        if (sl_deadletter_list(rd.ops, rd.d, p->name, chunk, nchunk, ids ? 0 : after,
                               ids ? (long)nchunk : CHUNK, &rows, err) < 0)
            goto done;
        from += nchunk;
        if (rows.nrows == 0) {
            sl_rows_free(&rows);
            if (ids)
                continue;
            break;
        }
        for (size_t i = 0; i < rows.nrows; i++) {
            int64_t id = strtoll(sl_rows_get(&rows, i, 0), NULL, 10);
            const char *tn = sl_rows_get(&rows, i, 1);
            if (id > after)
                after = id;
            if (ids && tn && strcmp(tn, t->name) == 0)
                k->found_ids++;
        }
        char ref[300];
        snprintf(ref, sizeof ref, "replay:%s#%" PRId64, p->name, k->batches + 1);
        struct sl_batch_input *b = NULL;
        int got = p->source_ops->replay(src, &rows, ref, &b, err);
        sl_rows_free(&rows);
        if (got < 0)
            goto done;
        if (got == 0)
            continue;
        struct sl_run_stats st = {0};
        sl_feed_batch(feed, b, &st);    /* acked there: b is the source's again */
        k->batches++;
        if (st.quarantined) {
            k->held = 1;
            break;
        }
        if (!st.committed) {
            sl_err_set(err, st.first_error.code ? st.first_error.code : SL_E_DEST,
                       "replay batch not loaded: %s", st.first_error.msg);
            goto done;
        }
        k->events += st.rows + st.dead_lettered;
        k->loaded += st.rows_written;
        k->present += st.rows - st.rows_written;
        k->failing += st.dead_lettered;
    }
    rc = 0;
done:
    sl_cli_close_dest(&rd);
    sl_feed_close(feed);
    p->source_ops->close(src);
    return rc;
}

static int replay_pipeline(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                           const int64_t *ids, size_t nids, struct counts *k,
                           struct sl_err *err)
{
    const struct sl_table_cfg *t = &p->tables[0];
    struct sl_source *src = NULL;
    struct sl_feed *feed = NULL;
    struct sl_cli_dest rd = {0};
    struct sl_event_batch *eb = NULL;
    int64_t after = 0;
    int rc = -1;

    if (p->source_ops->open(&src, c, p, t, err) < 0)
        return -1;
    if (sl_feed_open(c, p, t, src, &feed, err) < 0)
        goto done;
    /* a connection of its own to read the dead letter table */
    if (sl_cli_open_dest(c, p->dest_conn, &rd, err) < 0)
        goto done;
    const struct sl_event_map *map = sl_event_source_map(src);
    for (size_t from = 0;;) {
        struct sl_rows rows;
        const int64_t *chunk = ids ? ids + from : NULL;
        size_t nchunk = ids ? (nids - from < 1000 ? nids - from : 1000) : 0;
        if (ids && nchunk == 0)
            break;
        if (sl_deadletter_list(rd.ops, rd.d, p->name, chunk, nchunk, ids ? 0 : after,
                               ids ? (long)nchunk : CHUNK, &rows, err) < 0)
            goto done;
        from += nchunk;
        if (rows.nrows == 0) {
            sl_rows_free(&rows);
            if (ids)
                continue;
            break;
        }
        char ref[300];
        snprintf(ref, sizeof ref, "replay:%s#%" PRId64, p->name, k->batches + 1);
        if (!eb ? !(eb = sl_event_batch_new(ref, NULL)) : sl_event_batch_reset(eb, ref) < 0) {
            sl_rows_free(&rows);
            sl_err_set(err, SL_E_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < rows.nrows; i++) {
            int64_t id = strtoll(sl_rows_get(&rows, i, 0), NULL, 10);
            const char *pl = sl_rows_get(&rows, i, 2);
            size_t n = pl ? strlen(pl) : 0;
            struct sl_event_slice *ev = NULL;
            size_t nev = 0;
            char why[600], msg[700];
            int r;
            /* one event as it was sent; a message that was no event at all
             * (jetstream) stays what it was */
            if (sl_events_split(pl ? pl : "", n, &ev, &nev, why, sizeof why) == 0 && nev == 1) {
                r = sl_event_batch_add(eb, map, pl, n, id);
            } else {
                snprintf(msg, sizeof msg, "the message is not events: %s",
                         nev ? "it holds several" : why);
                r = sl_event_batch_add_bad(eb, pl ? pl : "", n, msg, id);
            }
            sl_free(ev);
            if (r < 0) {
                sl_rows_free(&rows);
                sl_err_set(err, SL_E_NOMEM, "out of memory");
                goto done;
            }
            if (id > after)
                after = id;
        }
        eb->in.timezone = sl_event_source_cfg(src)->timezone;
        k->found_ids += ids ? (int64_t)rows.nrows : 0;
        sl_rows_free(&rows);

        struct sl_run_stats st = {0};
        sl_feed_batch(feed, &eb->in, &st);
        k->batches++;
        if (!eb->acked || (eb->outcome != SL_OUT_COMMITTED && eb->outcome != SL_OUT_QUARANTINED)) {
            sl_err_set(err, st.first_error.code ? st.first_error.code : SL_E_DEST,
                       "replay batch not loaded: %s",
                       eb->why[0] ? eb->why : st.first_error.msg);
            goto done;
        }
        if (eb->outcome == SL_OUT_QUARANTINED) {
            k->held = 1;
            k->events += (int64_t)eb->n;
            break;      /* the table waits for a decision */
        }
        k->events += (int64_t)eb->n;
        k->loaded += st.rows_written;
        k->present += st.rows - st.rows_written;
        k->failing += st.dead_lettered;
    }
    rc = 0;
done:
    sl_event_batch_free(eb);
    sl_cli_close_dest(&rd);
    sl_feed_close(feed);
    p->source_ops->close(src);
    return rc;
}

int sl_cmd_replay(int argc, char **argv)
{
    struct sl_cli_opts o;
    int prc = sl_cli_parse(argc, argv, USAGE, "json,pipeline", &o);
    if (prc < 0)
        return 2;
    const char *only = o.pipeline;
    int64_t *ids = o.nargs ? sl_calloc((size_t)o.nargs, sizeof *ids) : NULL;
    for (int i = 0; i < o.nargs; i++) {
        char *end;
        long long v = strtoll(o.args[i], &end, 10);
        if (*end || v <= 0) {
            fprintf(stderr, "sluice: \"%s\" is not a dead letter id (a positive number)\n"
                    "usage: %s\n", o.args[i], USAGE);
            sl_free(ids);
            sl_free(o.args);
            return 2;
        }
        ids[i] = v;
    }
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c) {
        sl_free(ids);
        sl_free(o.args);
        return 2;
    }
    int rc = 0, any = 0;
    if (only) {
        const struct sl_pipeline_cfg *p = sl_config_pipeline(c, only);
        if (!p || !(is_event_source(p) || sets_records_aside(p))) {
            fprintf(stderr, "sluice: %s \"%s\" %s\n", p ? "pipeline" : "no pipeline", only,
                    p ? "has no event source (http, jetstream) nor log drops: nothing to"
                        " replay"
                      : "in the config");
            rc = 2;
            goto out;
        }
    }
    json_t *doc = json_array();
    int64_t found = 0;
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        int records = sets_records_aside(p);
        if (!(is_event_source(p) || records) || (only && strcmp(p->name, only) != 0))
            continue;
        struct counts k = {0};
        struct sl_err err;
        sl_err_clear(&err);
        int r = 0;
        if (records) {
            /* a files pipeline that is no log drop has nothing set aside: said
             * only when asked for by name */
            struct sl_source *probe = NULL;
            int sets = p->source_ops->open(&probe, c, p, &p->tables[0], &err) == 0 &&
                       p->source_ops->replay(probe, NULL, NULL, NULL, &err) == 1;
            if (probe)
                p->source_ops->close(probe);
            if (!sets) {
                if (only) {
                    fprintf(stderr, "sluice: pipeline \"%s\": %s\n", p->name,
                            err.msg[0] ? err.msg : "it sets no records aside: nothing to replay");
                    rc = 2;
                }
                continue;
            }
            for (size_t j = 0; j < p->ntables && r == 0; j++)
                r = replay_records(c, p, &p->tables[j], ids, (size_t)o.nargs, &k, &err);
        } else {
            r = replay_pipeline(c, p, ids, (size_t)o.nargs, &k, &err);
        }
        any = 1;
        found += k.found_ids;
        if (r < 0) {
            fprintf(stderr, "sluice: pipeline \"%s\": %s\n", p->name, err.msg);
            rc = sl_err_exit_code(&err);
        } else if (k.failing && rc == 0) {
            rc = 1;
        } else if (k.held && rc == 0) {
            rc = 3;
        }
        if (o.json) {
            json_array_append_new(doc, json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:s?}", "pipeline",
                                                 p->name, "replayed", (json_int_t)k.events,
                                                 "loaded", (json_int_t)k.loaded, "already_stored",
                                                 (json_int_t)k.present, "still_failing",
                                                 (json_int_t)k.failing, "held", k.held, "error",
                                                 r < 0 ? err.msg : NULL));
        } else if (r == 0) {
            const char *what = records ? "record" : "event";
            printf("pipeline %s: replayed %" PRId64 " %s%s: %" PRId64 " loaded, %" PRId64
                   " already stored, %" PRId64 " still failing%s%s\n", p->name, k.events,
                   what, k.events == 1 ? "" : "s", k.loaded, k.present, k.failing,
                   k.failing ? " (kept in the dead letter table with the new error)" : "",
                   k.held ? "; a gate held a batch: see sluice batches --state quarantined" : "");
        }
    }
    if (o.json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
    }
    json_decref(doc);
    if (!any && rc == 0) {
        fprintf(stderr, "sluice: no pipeline of %s has an event source (http, jetstream) or"
                " log drops\n", c->path);
        rc = 2;
    } else if (o.nargs && found < o.nargs) {
        fprintf(stderr, "sluice: %" PRId64 " of the %d ids asked for are not in the dead letter"
                " table%s\n", (int64_t)o.nargs - found, o.nargs, only ? " of that pipeline" : "");
        if (rc == 0)
            rc = 1;
    }
out:
    sl_free(ids);
    sl_free(o.args);
    sl_config_free(c);
    return rc;
}
