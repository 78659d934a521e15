/* sources/cdc.c: the postgres source with `cdc: { slot, publication }`:
 * every insert, update and delete of the pipeline's tables, read from the
 * write-ahead log through a pgoutput slot (pg/repl.h, pg/pgoutput.h).
 *
 * One stream serves the whole pipeline. Its changes are sorted by table
 * into batches (a spool file each) and, at a transaction's commit once the
 * cycle is big or old enough (SL_CDC_ROWS rows, SL_CDC_SECONDS), or the
 * stream has caught up, each table's batch is fed through the engine's sink:
 * gates, one warehouse transaction, the table's cursor committed with its
 * rows. Source transactions are never split (a TRUNCATE aside: it ends the
 * table's batch and is a batch of its own, an empty whole table). Only once
 * every table's batch of the cycle has committed is the slot told the
 * cycle's end LSN (its flush position), so the server keeps the WAL of
 * anything the warehouse does not hold yet.
 *
 * Exactly once: a table's cursor is the commit LSN its next transaction
 * must be at or past ("0/16B3748"). After a crash the stream starts again
 * at the slot's confirmed position, and each table skips the transactions
 * whose commit LSN is below its cursor: those it committed already.
 *
 * A table without a cursor is copied first, whole, in the snapshot a
 * temporary slot exports as it is created; its cursor is then that slot's
 * consistent point: the copy holds every transaction that committed before
 * it and the stream brings every one after, no gap and no overlap (the
 * main slot was created earlier, so its stream reaches back far enough).
 *
 * A batch a gate holds stops the pipeline: later changes wait in the WAL,
 * in order. Approving it re-reads its range of the stream (reopen). */
#include "sources/source.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/retry.h"
#include "base/stop.h"
#include "pg/quote.h"
#include "pg/repl.h"
#include "sources/postgres.h"

#define SL_CDC_ROWS 10000       /* a cycle commits at the first commit past this many rows */
#define SL_CDC_SECONDS 1.0      /* ... or this old */
#define DRAIN_IDLE_S 30.0       /* `sluice run`: give up waiting to catch up after this */

/* ---- one table's handle (what the engine holds) ---- */

struct sl_source {
    const struct sl_config *c;
    const struct sl_pipeline_cfg *p;
    const struct sl_table_cfg *t;
    struct sl_source *pg;           /* the postgres source's handle: copy, reconcile */
    struct sl_schema cols;          /* the table's columns as they load (postgres's) */
    struct sl_batch_input *copy;    /* the postgres batch of the first copy, in flight */
    enum sl_outcome outcome;        /* of the last batch acked */
    int acked;
    struct sl_log_ctx log;
};

/* A batch of changes: records spooled to a temporary file. */
struct cdc_batch {
    struct sl_batch_input in;
    FILE *spool;
    long rows;
    char **names;                   /* field names the records use */
    size_t nnames;
    struct sl_schema schema;        /* data columns (and _sluice_deleted_at) */
    sl_lsn from, to;                /* commit LSNs: [from, to] */
};

static int nomem(struct sl_err *err)
{
    return sl_err_set(err, SL_E_NOMEM, "out of memory");
}

static const struct sl_pg_source_cfg *cfg_of(const struct sl_pipeline_cfg *p)
{
    return p->source_ctx;
}

static void batch_free(struct cdc_batch *b)
{
    if (!b)
        return;
    if (b->spool)
        fclose(b->spool);
    for (size_t i = 0; i < b->nnames; i++)
        sl_free(b->names[i]);
    sl_free(b->names);
    sl_schema_free(&b->schema);
    sl_free(b->in.ref);
    sl_free(b->in.cursor_after);
    sl_free(b);
}

static struct cdc_batch *batch_new(sl_lsn from)
{
    struct cdc_batch *b = sl_calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->in.priv = b;
    b->in.canonical = 1;
    b->from = from;
    b->spool = tmpfile();
    if (!b->spool) {
        sl_free(b);
        return NULL;
    }
    return b;
}

/* The index of field `name` in the batch's names, added when new. */
static long batch_name(struct cdc_batch *b, const char *name)
{
    for (size_t i = 0; i < b->nnames; i++)
        if (strcmp(b->names[i], name) == 0)
            return (long)i;
    char **n = sl_realloc(b->names, (b->nnames + 1) * sizeof *n);
    if (!n)
        return -1;
    b->names = n;
    if (!(n[b->nnames] = sl_strdup(name)))
        return -1;
    return (long)b->nnames++;
}

/* "cdc:SLOT:FROM-TO" for the ledger, and the cursor after it. */
static int batch_seal(struct cdc_batch *b, const struct sl_pg_source_cfg *pc, sl_lsn next)
{
    char from[24], to[24], nx[24];
    sl_lsn_format(b->from, from);
    sl_lsn_format(b->to, to);
    sl_lsn_format(next, nx);
    struct sl_buf ref;
    sl_buf_init(&ref);
    sl_buf_printf(&ref, "cdc:%s:%s-%s", pc->cdc.slot, from, to);
    b->in.ref = sl_buf_steal(&ref);
    b->in.cursor_after = sl_strdup(nx);
    if (!b->in.ref || !b->in.cursor_after || fflush(b->spool) != 0)
        return -1;
    return 0;
}

/* ---- the spool: op, then (name index, length or -1, bytes) per field ---- */

static int put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

static int get_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* A record of n fields follows. */
static int spool_begin(struct cdc_batch *b, uint32_t n)
{
    return put_u32(b->spool, n);
}

/* One field: its name (a batch_name index; < 0 = out of memory: -2), its
 * value (NULL = SQL NULL). -1 = the spool could not be written. */
static int spool_field(struct cdc_batch *b, long name, const char *val, size_t len)
{
    if (name < 0)
        return -2;
    if (put_u32(b->spool, (uint32_t)name) < 0 ||
        put_u32(b->spool, val ? (uint32_t)len : UINT32_MAX) < 0 ||
        (val && len && fwrite(val, 1, len, b->spool) != len))
        return -1;
    return 0;
}

struct sl_reader {
    struct cdc_batch *b;
    struct sl_field *fields;
    size_t *off;            /* per field: its value's offset in data */
    size_t cap;
    struct sl_buf data;
    struct sl_buf unch;     /* the unchanged list, widened by add_unspoken */
    long index;
};

static int cut_short(struct sl_reader *r, struct sl_err *err)
{
    return sl_err_set(err, SL_E_SOURCE, "%s: spool record %ld is cut short", r->b->in.ref,
                      r->index);
}

static int is_named(const struct sl_field *f, const char *name)
{
    return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0;
}

/* Columns of the batch a change does not speak of (its relation had no such
 * column then, or has it no more) go on its unchanged list: the stored
 * value stays, as for an unchanged TOASTed value. -1 = out of memory. */
static int add_unspoken(struct sl_reader *r, uint32_t *n)
{
    const struct sl_schema *s = &r->b->schema;
    size_t want = s->ncols, have = 0;
    int unch = -1;
    if (sl_schema_find(s, SL_DELETED_AT_COL) >= 0)
        want--;
    for (uint32_t i = 0; i < *n; i++) {
        const struct sl_field *f = &r->fields[i];
        if (is_named(f, SL_CDC_UNCHANGED_COL))
            unch = (int)i;
        else if (!is_named(f, SL_CDC_OP_COL) && !is_named(f, SL_DELETED_AT_COL))
            have++;
    }
    if (have >= want || (*n && r->fields[0].len == 1 && r->fields[0].val[0] == 'D'))
        return 0;
    sl_buf_reset(&r->unch);
    if (unch >= 0 && r->fields[unch].len > 1)    /* its own list, "]" cut off */
        sl_buf_append(&r->unch, r->fields[unch].val, r->fields[unch].len - 1);
    for (size_t c = 0; c < s->ncols; c++) {
        const char *name = s->cols[c].name;
        int seen = strcmp(name, SL_DELETED_AT_COL) == 0;
        for (uint32_t i = 0; i < *n && !seen; i++)
            seen = is_named(&r->fields[i], name);
        if (seen)
            continue;
        sl_buf_puts(&r->unch, r->unch.len ? ",\"" : "[\"");
        for (const char *p = name; *p; p++) {
            if (*p == '"' || *p == '\\')
                sl_buf_putc(&r->unch, '\\');
            sl_buf_putc(&r->unch, *p);
        }
        sl_buf_putc(&r->unch, '"');
    }
    sl_buf_putc(&r->unch, ']');
    if (r->unch.oom)
        return -1;
    if (unch < 0) {
        if (*n >= r->cap) {
            struct sl_field *f = sl_realloc(r->fields, (*n + 1) * sizeof *f);
            if (!f)
                return -1;
            r->fields = f;
            size_t *o = sl_realloc(r->off, (*n + 1) * sizeof *o);
            if (!o)
                return -1;
            r->off = o;
            r->cap = *n + 1;
        }
        unch = (int)(*n)++;
        r->fields[unch] = (struct sl_field){SL_CDC_UNCHANGED_COL, strlen(SL_CDC_UNCHANGED_COL),
                                            "", 0, 0, SL_LEX_RAW, r->index, (long)unch + 1,
                                            SL_T_NONE};
    }
    r->fields[unch].val = r->unch.data;
    r->fields[unch].len = r->unch.len;
    r->fields[unch].is_null = 0;
    return 0;
}

static int rd_next(struct sl_reader *r, struct sl_record *rec, struct sl_err *err)
{
    uint32_t n;
    if (get_u32(r->b->spool, &n) < 0)
        return feof(r->b->spool) ? 0 : sl_err_set(err, SL_E_SOURCE, "%s: spool: read failed",
                                                  r->b->in.ref);
    if (n > r->cap) {
        struct sl_field *f = sl_realloc(r->fields, n * sizeof *f);
        if (f)
            r->fields = f;
        size_t *o = f ? sl_realloc(r->off, n * sizeof *o) : NULL;
        if (!o)
            return nomem(err);
        r->off = o;
        r->cap = n;
    }
    sl_buf_reset(&r->data);
    r->index++;
    /* values into one buffer; pointers set once it has stopped growing */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t name, len;
        if (get_u32(r->b->spool, &name) < 0 || get_u32(r->b->spool, &len) < 0 ||
            name >= r->b->nnames)
            return cut_short(r, err);
        struct sl_field *f = &r->fields[i];
        *f = (struct sl_field){r->b->names[name], strlen(r->b->names[name]), "", 0, 0,
                               SL_LEX_RAW, r->index, (long)i + 1, SL_T_NONE};
        if (len == UINT32_MAX) {
            f->is_null = 1;
            continue;
        }
        r->off[i] = r->data.len;
        f->len = len;
        if (sl_buf_reserve(&r->data, len + 1) < 0)
            return nomem(err);
        if (len && fread(r->data.data + r->data.len, 1, len, r->b->spool) != len)
            return cut_short(r, err);
        r->data.len += len;
    }
    for (uint32_t i = 0; i < n; i++)
        if (!r->fields[i].is_null)
            r->fields[i].val = r->data.data + r->off[i];
    if (add_unspoken(r, &n) < 0)
        return nomem(err);
    rec->fields = r->fields;
    rec->nfields = n;
    rec->line = r->index;
    rec->index = r->index;
    return 1;
}

static void rd_close(struct sl_reader *r)
{
    if (!r)
        return;
    sl_free(r->fields);
    sl_free(r->off);
    sl_buf_free(&r->data);
    sl_buf_free(&r->unch);
    sl_free(r);
}

static const struct sl_format_ops spool_format = {
    .name = "cdc-changes",
    .next = rd_next,
    .close = rd_close,
};

/* ---- the table handle's ops ---- */

static void cdc_close(struct sl_source *s)
{
    if (!s)
        return;
    sl_source_postgres.close(s->pg);
    sl_schema_free(&s->cols);
    sl_free(s);
}

static int cdc_open(struct sl_source **out, const struct sl_config *c,
                    const struct sl_pipeline_cfg *p, const struct sl_table_cfg *t,
                    struct sl_err *err)
{
    struct sl_source *s = sl_calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return nomem(err);
    s->c = c;
    s->p = p;
    s->t = t;
    s->log.pipeline = p->name;
    s->log.table = t->name;
    if (sl_source_postgres.open(&s->pg, c, p, t, err) < 0 ||
        sl_source_postgres.schema(s->pg, NULL, &s->cols, err) < 0) {
        cdc_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int cdc_next(struct sl_source *s, struct sl_batch_input **out, struct sl_err *err)
{
    (void)s;
    (void)err;
    *out = NULL;
    return 0;   /* batches come from the stream (serve, drain) */
}

static int cdc_open_rows(struct sl_source *s, struct sl_batch_input *b, struct sl_rowsrc *r,
                         struct sl_err *err)
{
    if (b == s->copy)
        return sl_source_postgres.open_rows(s->pg, b, r, err);
    struct cdc_batch *cb = b->priv;
    struct sl_reader *rd = sl_calloc(1, sizeof *rd);
    memset(r, 0, sizeof *r);
    if (!rd)
        return nomem(err);
    rd->b = cb;
    sl_buf_init(&rd->data);
    sl_buf_init(&rd->unch);
    if (fseek(cb->spool, 0, SEEK_SET) != 0) {
        rd_close(rd);
        return sl_err_set(err, SL_E_SOURCE, "%s: could not rewind its spool", b->ref);
    }
    r->fmt = &spool_format;
    r->rd = rd;
    return 0;
}

static int add_deleted_at(const struct sl_table_cfg *t, struct sl_schema *out)
{
    if (!t->soft_deletes || sl_schema_find(out, SL_DELETED_AT_COL) >= 0)
        return 0;
    return sl_schema_add(out, SL_DELETED_AT_COL, SL_T_TIMESTAMPTZ);
}

static int cdc_schema(struct sl_source *s, struct sl_batch_input *b, struct sl_schema *out,
                      struct sl_err *err)
{
    memset(out, 0, sizeof *out);
    const struct sl_schema *from = &s->cols;
    if (b != s->copy && ((struct cdc_batch *)b->priv)->schema.ncols)
        from = &((struct cdc_batch *)b->priv)->schema;
    if (sl_schema_copy(out, from) < 0 || add_deleted_at(s->t, out) < 0) {
        sl_schema_free(out);
        return nomem(err);
    }
    return 0;
}

static int cdc_ack(struct sl_source *s, struct sl_batch_input *b, enum sl_outcome o,
                   const char *why, struct sl_err *err)
{
    s->outcome = o;
    s->acked = 1;
    if (b == s->copy) {
        s->copy = NULL;
        return sl_source_postgres.ack(s->pg, b, o, why, err);
    }
    batch_free(b->priv);
    return 0;
}

static int cdc_hold(struct sl_source *s, struct sl_batch_input *b, char **held,
                    struct sl_err *err)
{
    if (b == s->copy && b->upsert) {
        /* a backfill: read whole again on release, merged by key */
        *held = sl_strdup("{\"cdc\":{\"backfill\":true}}");
        return *held ? 0 : nomem(err);
    }
    if (b == s->copy)
        return sl_source_postgres.hold(s->pg, b, held, err);
    struct cdc_batch *cb = b->priv;
    char from[24], to[24];
    sl_lsn_format(cb->from, from);
    sl_lsn_format(cb->to, to);
    json_t *o = json_pack("{s:{s:s,s:s,s:b}}", "cdc", "from", from, "to", to, "whole",
                          b->whole);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    *held = txt ? sl_strdup(txt) : NULL;
    free(txt);
    return *held ? 0 : nomem(err);
}

static int cdc_sql(struct sl_source *s, struct sl_source_sql *out, struct sl_err *err)
{
    return sl_source_postgres.sql(s->pg, out, err);
}

static int cdc_exec(struct sl_source *s, const char *sql, int nparams, const char *const *params,
                    struct sl_rows *out, struct sl_err *err)
{
    return sl_source_postgres.exec(s->pg, sql, nparams, params, out, err);
}

static int cdc_keys_batch(struct sl_source *s, const char *const *key, size_t nkey,
                          const char *const *vals, size_t nvals, struct sl_batch_input **out,
                          struct sl_err *err)
{
    if (sl_source_postgres.keys_batch(s->pg, key, nkey, vals, nvals, out, err) < 0)
        return -1;
    s->copy = *out;     /* read, loaded and acked as the postgres source's */
    return 0;
}

/* ---- the stream ---- */

/* A column of the relation as the stream has it. */
struct rel_col {
    char *name;             /* as it loads (a _sluice_ name gets _source) */
    const char *orig;       /* as the source names it (inside name) */
    enum sl_type type;
    uint32_t oid;
};

struct table_state {
    struct sl_source *src;
    struct sl_feed *feed;
    const struct sl_table_cfg *t;
    char *qualified;        /* "schema.table" as the stream names it */
    char *quoted;           /* the same, quoted for SQL */
    sl_lsn cursor;          /* transactions with a commit LSN below it are in already */
    uint32_t relid;
    struct rel_col *rel;
    size_t nrel;
    struct cdc_batch **queue;   /* this cycle's batches, in order */
    size_t nqueue;
    struct sl_schema wh;    /* the warehouse table's columns (none before its copy) */
    char *backfill;         /* a column new in the stream whose rows hold values no
                             * change carried (a default): why the table is read
                             * again before its next batch; NULL = no need */
};

struct stream {
    const struct sl_config *c;
    const struct sl_pipeline_cfg *p;
    const struct sl_pg_source_cfg *pc;
    const struct sl_connection_cfg *conn;
    const struct sl_sink *sink;
    struct sl_run_stats *stats;
    struct table_state *tabs;
    size_t ntabs;
    struct sl_pg admin;     /* SQL on the source: publication, slot, positions */
    struct sl_pg repl;      /* the stream */
    struct sl_pgo_scratch scratch;
    struct sl_buf val;      /* a value made canonical */
    struct sl_buf unch;     /* a change's unchanged columns, as JSON */
    struct sl_rows moved;   /* a moved row's unchanged values, read from the source */
    struct sl_pgo_value *movedv;    /* its tuple, those values filled in */
    size_t nmovedv;
    int in_txn;
    sl_lsn txn_lsn;         /* the open transaction's commit LSN (Begin's final LSN) */
    int64_t txn_time;
    sl_lsn cycle_end;       /* end LSN of the cycle's last commit: the flush position */
    long cycle_rows;
    struct timespec cycle_start;
    sl_lsn known;           /* the stream has been read up to here */
    sl_lsn confirmed;
    struct sl_log_ctx log;
};

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void table_state_free(struct table_state *ts)
{
    for (size_t i = 0; i < ts->nrel; i++)
        sl_free(ts->rel[i].name);
    sl_free(ts->rel);
    for (size_t i = 0; i < ts->nqueue; i++)
        batch_free(ts->queue[i]);
    sl_free(ts->queue);
    sl_free(ts->qualified);
    sl_free(ts->quoted);
    sl_schema_free(&ts->wh);
    sl_free(ts->backfill);
}

static void stream_close(struct stream *st)
{
    for (size_t i = 0; i < st->ntabs; i++) {
        struct table_state *ts = &st->tabs[i];
        if (ts->feed)
            st->sink->close(ts->feed);
        cdc_close(ts->src);
        table_state_free(ts);
    }
    sl_free(st->tabs);
    sl_pg_close(&st->admin);
    sl_pg_close(&st->repl);
    sl_pgo_scratch_free(&st->scratch);
    sl_buf_free(&st->val);
    sl_buf_free(&st->unch);
    sl_rows_free(&st->moved);
    sl_free(st->movedv);
}

static int connect_admin(struct stream *st, struct sl_err *err)
{
    char why[512];
    if (st->admin.conn && PQstatus(st->admin.conn) == CONNECTION_OK)
        return 0;
    st->admin = (struct sl_pg){NULL, SL_E_SOURCE, NULL};
    if (sl_pg_connect(&st->admin, st->conn->url, st->conn->password, "sluice", "10", why,
                      sizeof why) < 0)
        return sl_err_retry(err, SL_E_SOURCE, "source \"%s\": %s", st->pc->connection, why);
    return sl_pg_run(&st->admin, "SET TimeZone TO 'UTC'", err, "could not set up the session");
}

static int connect_repl(struct sl_pg *pg, const struct stream *st, struct sl_err *err)
{
    char why[512];
    *pg = (struct sl_pg){NULL, SL_E_SOURCE, NULL};
    if (sl_pg_connect_repl(pg, st->conn->url, st->conn->password, "sluice", "10", why,
                           sizeof why) < 0)
        return sl_err_retry(err, SL_E_SOURCE, "source \"%s\": replication connection: %s",
                            st->pc->connection, why);
    return 0;
}

static const char PUB_SQL[] =
    "SELECT puballtables FROM pg_publication WHERE pubname = $1";
/* Only $2 is cast to regclass: a cast of each row's name may run on any
 * row of pg_class first (pg_toast's too, which the role may not use). */
static const char PUB_HAS_SQL[] =
    "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1"
    " AND (schemaname, tablename) = (SELECT n.nspname, c.relname FROM pg_class c"
    "      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $2::regclass))";
static const char SLOT_SQL[] =
    "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()";
static const char QUALIFIED_SQL[] =
    "SELECT n.nspname || '.' || c.relname FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass";

/* The source has what the pipeline needs (cdc_probe.c), as `sluice check`
 * says it: else the missing lines, with their fixes, are the error. */
static int ready(struct stream *st, struct sl_err *err)
{
    struct sl_probe pr;
    if (connect_admin(st, err) < 0 || sl_cdc_probe(st->c, st->p, &st->admin, "10", &pr, err) < 0)
        return -1;
    for (size_t i = 0; i < pr.n; i++)
        if (pr.items[i].status == SL_PROBE_WARN)
            sl_log(SL_LOG_WARN, &st->log, "%s", pr.items[i].detail);
    int rc = 0;
    if (sl_probe_missing(&pr)) {
        char lead[300];
        snprintf(lead, sizeof lead, "source \"%s\" is not ready (as `sluice check` reports)",
                 st->pc->connection);
        rc = sl_probe_fail(&pr, lead, err);
    }
    sl_probe_free(&pr);
    return rc;
}

/* The slot is missing, yet a table holds a cursor: it was streamed from a
 * slot that is gone (dropped, or lost with its server), and the changes
 * made since its last batch went with that slot. Resuming at the cursor on
 * a new slot, which starts at the WAL of now, would skip them without a
 * word; instead each such table forgets its cursor and, like every table on
 * a first start, is copied whole from the new slot's snapshot, its rows
 * replaced. The cursors go before the slot is made, each in a transaction
 * of its own, so a crash anywhere from here leaves the next run the same
 * decision or a table with no cursor: never a stale cursor on a new slot. */
static int forget_stale_cursors(struct stream *st, struct sl_err *err)
{
    struct sl_buf names;
    int rc = 0;
    sl_buf_init(&names);
    for (size_t i = 0; i < st->ntabs && rc == 0; i++) {
        char *cur = NULL;
        if ((rc = st->sink->cursor(st->tabs[i].feed, &cur, err)) == 0 && cur)
            sl_buf_printf(&names, "%s%s", names.len ? ", " : "", st->tabs[i].t->name);
        sl_free(cur);
    }
    if (rc == 0 && names.oom)
        rc = nomem(err);
    int many = names.len && strchr(names.data, ',');
    if (rc == 0 && names.len)
        sl_log(SL_LOG_WARN, &st->log, "replication slot %s does not exist, but table%s %s"
               " hold%s the position of an earlier slot: the changes made since went with it,"
               " so every table is copied again, whole, from a new slot's snapshot",
               st->pc->cdc.slot, many ? "s" : "", names.data, many ? "" : "s");
    for (size_t i = 0; i < st->ntabs && rc == 0 && names.len; i++)
        rc = st->sink->forget_cursor(st->tabs[i].feed, err);
    sl_buf_free(&names);
    return rc;
}

/* What the source lacks that sluice may make (ready() said so): the
 * publication holding every table (FOR TABLE the pipeline's tables), or a
 * table it lacks; the slot. */
static int ensure_source(struct stream *st, struct sl_err *err)
{
    const char *pub = st->pc->cdc.publication, *slot = st->pc->cdc.slot;
    char *v = NULL;
    if (connect_admin(st, err) < 0 || sl_pg_value(&st->admin, PUB_SQL, pub, &v, err) < 0)
        return -1;
    struct sl_buf sql;
    sl_buf_init(&sql);
    int rc = 0;
    if (!v) {
        sl_buf_printf(&sql, "CREATE PUBLICATION \"%s\" FOR TABLE ", pub);
        for (size_t i = 0; i < st->ntabs; i++)
            sl_buf_printf(&sql, "%s%s", i ? ", " : "", sl_pg_source_table(st->tabs[i].src->pg));
        sl_buf_printf(&sql, "; COMMENT ON PUBLICATION \"%s\" IS 'created by sluice'", pub);
        rc = sql.oom ? nomem(err) : sl_pg_run(&st->admin, sql.data, err,
                                              "could not create the publication");
        if (rc == 0)
            sl_log(SL_LOG_INFO, &st->log, "created publication %s", pub);
    } else if (strcmp(v, "t") != 0) {
        for (size_t i = 0; i < st->ntabs && rc == 0; i++) {
            const char *p[] = {pub, sl_pg_source_table(st->tabs[i].src->pg)};
            struct sl_rows r;
            if ((rc = sl_pg_exec(&st->admin, PUB_HAS_SQL, 2, p, &r, err,
                                 "could not read the publication")) < 0)
                break;
            int has = r.nrows && strcmp(sl_rows_get(&r, 0, 0), "t") == 0;
            sl_rows_free(&r);
            if (has)
                continue;
            sl_buf_reset(&sql);
            sl_buf_printf(&sql, "ALTER PUBLICATION \"%s\" ADD TABLE %s", pub, p[1]);
            rc = sql.oom ? nomem(err) : sl_pg_run(&st->admin, sql.data, err,
                                                  "could not add the table to the publication");
            if (rc < 0)
                sl_err_prefix(err, "table %s is not in publication %s (as its owner: %s)", p[1],
                              pub, sql.data);
            else
                sl_log(SL_LOG_INFO, &st->log, "added %s to publication %s", p[1], pub);
        }
    }
    sl_free(v);
    sl_buf_free(&sql);
    if (rc < 0)
        return -1;
    if (sl_pg_value(&st->admin, SLOT_SQL, slot, &v, err) < 0)
        return -1;
    if (!v) {
        struct sl_pg r;
        struct sl_pg_slot made;
        rc = forget_stale_cursors(st, err);
        if (rc == 0)
            rc = connect_repl(&r, st, err);
        if (rc == 0)
            rc = sl_pg_create_slot(&r, slot, 0, 0, &made, err);
        sl_pg_close(&r);
        if (rc == 0)
            sl_log(SL_LOG_INFO, &st->log, "created replication slot %s", slot);
    }
    sl_free(v);
    return rc;
}

/* Feed one batch; 0 when it committed (or was in already), 1 when not. */
static int feed(struct stream *st, struct table_state *ts, struct sl_batch_input *b)
{
    ts->src->acked = 0;
    st->sink->batch(ts->feed, b, st->stats);
    if (!ts->src->acked)
        return 1;
    return ts->src->outcome == SL_OUT_COMMITTED || ts->src->outcome == SL_OUT_DUPLICATE ? 0 : 1;
}

/* The table as the warehouse has it now. */
static int read_wh_columns(struct stream *st, struct table_state *ts, struct sl_err *err)
{
    sl_schema_free(&ts->wh);
    return st->sink->columns(ts->feed, &ts->wh, err) < 0 ? -1 : 0;
}

/* A copy read to be merged by key: no cursor of its own (the stream goes
 * on from where it is, its changes landing on rows at least as new). */
static void backfill_batch(struct sl_batch_input *b)
{
    b->whole = 0;
    b->upsert = 1;
    b->hash[0] = '\0';
    b->canonical = 1;
    sl_free(b->cursor_after);
    b->cursor_after = NULL;
}

/* The source table's column `col` (relation oid `rel`) exists still and
 * some row holds a value in it: then rows the stream never sent a change
 * for have one (a default, a rewrite), and the table must be read again. */
static const char COLUMN_NOW_SQL[] =
    "SELECT format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE %I IS NOT NULL)',"
    " a.attrelid::regclass, a.attname) FROM pg_attribute a"
    " WHERE a.attrelid = ($1::json->>0)::oid AND a.attname = $1::json->>1"
    " AND a.attnum > 0 AND NOT a.attisdropped";

static int column_has_values(struct stream *st, uint32_t rel, const char *col, int *yes,
                             struct sl_err *err)
{
    *yes = 0;
    char num[16];
    snprintf(num, sizeof num, "%u", rel);
    json_t *a = json_pack("[s,s]", num, col);
    char *param = a ? json_dumps(a, JSON_COMPACT) : NULL, *probe = NULL, *v = NULL;
    json_decref(a);
    if (!param)
        return nomem(err);
    int rc = connect_admin(st, err);
    if (rc == 0)
        rc = sl_pg_value(&st->admin, COLUMN_NOW_SQL, param, &probe, err);
    if (rc == 0 && probe)
        rc = sl_pg_value(&st->admin, probe, NULL, &v, err);
    *yes = v && strcmp(v, "t") == 0;
    free(param);
    sl_free(probe);
    sl_free(v);
    return rc;
}

/* Read the table again and merge it by key, before its changes of this
 * cycle: the batch that brings the new column through the gates. */
static int backfill(struct stream *st, struct table_state *ts, struct sl_err *err)
{
    struct sl_batch_input *b = NULL;
    sl_log(SL_LOG_INFO, &ts->src->log, "reading the table again: %s", ts->backfill);
    /* a fresh read of the source table, with the columns it has now */
    struct sl_source *s = ts->src;
    sl_source_postgres.close(s->pg);
    s->pg = NULL;
    sl_schema_free(&s->cols);
    if (sl_source_postgres.open(&s->pg, st->c, st->p, ts->t, err) < 0 ||
        sl_source_postgres.schema(s->pg, NULL, &s->cols, err) < 0)
        return -1;
    int got = sl_source_postgres.next_batch(ts->src->pg, &b, err);
    if (got != 1)
        return got == 0 ? sl_err_set(err, SL_E_INTERNAL, "no copy of table %s", ts->t->name)
                        : -1;
    backfill_batch(b);
    ts->src->copy = b;
    if (feed(st, ts, b))
        return 1;
    sl_free(ts->backfill);
    ts->backfill = NULL;
    return read_wh_columns(st, ts, err);
}

/* A table's first copy, in the snapshot of a temporary slot made now. */
static int first_copy(struct stream *st, struct table_state *ts, struct sl_err *err)
{
    struct sl_pg r;
    struct sl_pg_slot made;
    char name[64], at[24];
    struct sl_batch_input *b = NULL;
    int rc;

    /* unique on the server: several pipelines of one daemon copy at once */
    static _Atomic unsigned long copies;
    snprintf(name, sizeof name, "sluice_copy_%ld_%lu", (long)getpid(), ++copies);
    if ((rc = connect_repl(&r, st, err)) == 0)
        rc = sl_pg_create_slot(&r, name, 1, 1, &made, err);
    if (rc == 0 && sl_pg_source_use_snapshot(ts->src->pg, made.snapshot) < 0)
        rc = sl_err_set(err, SL_E_SOURCE, "the slot exported no usable snapshot");
    if (rc == 0) {
        int got = sl_source_postgres.next_batch(ts->src->pg, &b, err);
        rc = got == 1 ? 0 : got == 0 ? sl_err_set(err, SL_E_INTERNAL, "no copy of table %s",
                                                  ts->t->name) : -1;
    }
    if (rc == 0) {
        sl_lsn_format(made.consistent, at);
        b->whole = 1;
        b->hash[0] = '\0';
        b->canonical = 1;
        sl_free(b->cursor_after);
        b->cursor_after = sl_strdup(at);
        if (!b->cursor_after)
            rc = nomem(err);
    }
    if (rc == 0) {
        sl_log(SL_LOG_INFO, &ts->src->log, "copying the table as of %s", at);
        ts->src->copy = b;
        rc = feed(st, ts, b) ? 1 : 0;
        if (rc == 0)
            ts->cursor = made.consistent;
    } else if (b) {
        sl_source_postgres.ack(ts->src->pg, b, SL_OUT_RETRY_LATER, NULL, err);
    }
    sl_pg_close(&r);    /* the temporary slot goes with it */
    return rc;
}

/* Open every table's feed; its cursor, or its first copy. 0 ready, 1 a
 * table is held or its copy did not commit (nothing to stream now). */
static int open_tables(struct stream *st, struct sl_err *err)
{
    st->tabs = sl_calloc(st->p->ntables, sizeof *st->tabs);
    if (!st->tabs)
        return nomem(err);
    for (size_t i = 0; i < st->p->ntables; i++) {
        struct table_state *ts = &st->tabs[st->ntabs];
        ts->t = &st->p->tables[i];
        if (cdc_open(&ts->src, st->c, st->p, ts->t, err) < 0)
            return -1;
        st->ntabs++;
        if (st->sink->open(st->c, st->p, ts->t, ts->src, &ts->feed, err) < 0)
            return -1;
        int64_t held = 0;
        if (st->sink->held(ts->feed, &held, err) < 0)
            return -1;
        if (held) {
            sl_log(SL_LOG_WARN, &ts->src->log, "paused: batch %" PRId64 " is in quarantine;"
                   " the stream waits until `sluice approve` or `sluice reject` %" PRId64,
                   held, held);
            st->stats->quarantined++;
            return 1;
        }
    }
    if (ensure_source(st, err) < 0)
        return -1;
    for (size_t i = 0; i < st->ntabs; i++) {
        struct table_state *ts = &st->tabs[i];
        const char *p[] = {sl_pg_source_table(ts->src->pg)};
        if (sl_pg_value(&st->admin, QUALIFIED_SQL, p[0], &ts->qualified, err) < 0)
            return -1;
        char *cur = NULL;
        if (st->sink->cursor(ts->feed, &cur, err) < 0)
            return -1;
        int bad = cur && sl_lsn_parse(cur, &ts->cursor) < 0;
        sl_free(cur);
        if (bad)
            return sl_err_set(err, SL_E_SOURCE, "table %s: its stored cursor is not an LSN",
                              ts->t->name);
        if (!cur) {
            int rc = first_copy(st, ts, err);
            if (rc != 0)
                return rc;
        }
        if (read_wh_columns(st, ts, err) < 0)
            return -1;
    }
    return 0;
}

static struct table_state *table_by_rel(struct stream *st, uint32_t relid)
{
    for (size_t i = 0; i < st->ntabs; i++)
        if (st->tabs[i].relid == relid)
            return &st->tabs[i];
    return NULL;
}

static enum sl_type oid_type(uint32_t oid)
{
    switch (oid) {
    case 16: return SL_T_BOOL;
    case 20: case 21: case 23: return SL_T_BIGINT;
    case 700: case 701: return SL_T_DOUBLE;
    case 1700: return SL_T_NUMERIC;
    case 1082: return SL_T_DATE;
    case 1114: case 1184: return SL_T_TIMESTAMPTZ;
    case 114: case 3802: return SL_T_JSON;
    default: return SL_T_TEXT;
    }
}

/* A Relation message: which table it is, and its columns as they load
 * (the type the table's copy gave a column it knew, else the type's). */
static int on_relation(struct stream *st, const struct sl_pgo_msg *m, struct sl_err *err)
{
    char q[512];
    snprintf(q, sizeof q, "%s.%s", m->u.relation.nspname[0] ? m->u.relation.nspname
                                                            : "pg_catalog",
             m->u.relation.relname);
    struct table_state *ts = NULL;
    for (size_t i = 0; i < st->ntabs && !ts; i++)
        if (st->tabs[i].qualified && strcmp(st->tabs[i].qualified, q) == 0)
            ts = &st->tabs[i];
    if (!ts)
        return 0;
    for (size_t i = 0; i < ts->nrel; i++)
        sl_free(ts->rel[i].name);
    sl_free(ts->rel);
    ts->nrel = 0;
    ts->relid = m->u.relation.oid;
    struct sl_buf qn;
    sl_buf_init(&qn);
    sl_pg_quote_ident(&qn, m->u.relation.nspname, strlen(m->u.relation.nspname));
    sl_buf_putc(&qn, '.');
    sl_pg_quote_ident(&qn, m->u.relation.relname, strlen(m->u.relation.relname));
    sl_free(ts->quoted);
    if (!(ts->quoted = sl_buf_steal(&qn)))
        return nomem(err);
    ts->rel = sl_calloc(m->u.relation.ncols ? m->u.relation.ncols : 1, sizeof *ts->rel);
    if (!ts->rel)
        return nomem(err);
    for (uint16_t i = 0; i < m->u.relation.ncols; i++) {
        const struct sl_pgo_column *c = &m->u.relation.cols[i];
        struct rel_col *rc = &ts->rel[ts->nrel++];
        struct sl_buf as;
        sl_buf_init(&as);
        int prefixed = sl_reserved_column(c->name);
        sl_buf_printf(&as, "%s%s", prefixed ? "_source" : "", c->name);
        rc->name = sl_buf_steal(&as);
        if (!rc->name)
            return nomem(err);
        rc->orig = rc->name + (prefixed ? strlen("_source") : 0);
        rc->oid = c->type_oid;
        long k = sl_schema_find(&ts->src->cols, rc->name);
        rc->type = k >= 0 ? ts->src->cols.cols[k].type : oid_type(c->type_oid);
        if (!ts->wh.ncols || ts->backfill || sl_schema_find(&ts->wh, rc->name) >= 0)
            continue;
        int values;
        if (column_has_values(st, m->u.relation.oid, c->name, &values, err) < 0)
            return -1;
        if (values) {
            struct sl_buf why;
            sl_buf_init(&why);
            sl_buf_printf(&why, "column \"%s\" is new, and rows no change was streamed for"
                          " hold values in it", c->name);
            if (!(ts->backfill = sl_buf_steal(&why)))
                return nomem(err);
        }
    }
    return 0;
}

/* Value v of column c in canonical form: into *out (may point at v). */
static int canon(struct stream *st, const struct rel_col *c, const struct sl_pgo_value *v,
                 const char **out, size_t *len, struct sl_err *err)
{
    char why[160];
    struct sl_valctx ctx = {c->oid == 1114 ? st->pc->timezone : NULL, SL_DST_EARLIER,
                            SL_EPOCH_NONE};
    *out = v->data;
    *len = v->len;
    if (c->type == SL_T_TEXT || c->type == SL_T_JSON || c->type == SL_T_BIGINT)
        return 0;   /* PostgreSQL prints these canonical already */
    sl_buf_reset(&st->val);
    int r = sl_value_canon(c->type, v->data, v->len, SL_LEX_RAW, &ctx, &st->val, why, sizeof why);
    if (r != 0)
        return sl_err_set(err, SL_E_INPUT, "source \"%s\": column \"%s\": %s: \"%.*s\"",
                          st->pc->connection, c->name, r > 0 ? "empty" : why,
                          (int)(v->len > 60 ? 60 : v->len), v->data);
    *out = st->val.data;
    *len = st->val.len;
    return 0;
}

/* The table's batch that changes go into now (a new one when the queue is
 * empty or ends with a truncate). */
static struct cdc_batch *current(struct stream *st, struct table_state *ts, struct sl_err *err)
{
    if (ts->nqueue && !ts->queue[ts->nqueue - 1]->in.whole)
        return ts->queue[ts->nqueue - 1];
    struct cdc_batch **q = sl_realloc(ts->queue, (ts->nqueue + 1) * sizeof *q);
    if (!q || !(q[ts->nqueue] = batch_new(st->txn_lsn))) {
        if (q)
            ts->queue = q;
        nomem(err);
        return NULL;
    }
    ts->queue = q;
    return ts->queue[ts->nqueue++];
}

/* The names of the columns a change left out (unchanged TOASTed values
 * its old row does not have either), as a JSON array into out; "" = none. */
static void unchanged_names(const struct table_state *ts, const struct sl_pgo_tuple *tup,
                            const struct sl_pgo_tuple *old, struct sl_buf *out)
{
    sl_buf_reset(out);
    for (uint16_t i = 0; i < tup->ncols; i++) {
        if (tup->vals[i].kind != SL_PGO_UNCHANGED ||
            (old && i < old->ncols && old->vals[i].kind != SL_PGO_UNCHANGED))
            continue;
        sl_buf_puts(out, out->len ? ",\"" : "[\"");
        for (const char *p = ts->rel[i].name; *p; p++) {
            if (*p == '"' || *p == '\\')
                sl_buf_putc(out, '\\');
            sl_buf_putc(out, *p);
        }
        sl_buf_putc(out, '"');
    }
    if (out->len)
        sl_buf_putc(out, ']');
}

/* The commit time of the open transaction (microseconds since 2000) as a
 * canonical timestamp. */
static void commit_time(const struct stream *st, char out[40])
{
    time_t secs = (time_t)(st->txn_time / 1000000) + 946684800;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, 40 - k, ".%06ldZ", (long)(st->txn_time % 1000000 + 1000000) % 1000000);
}

/* An update that moved the key and left TOASTed values out (REPLICA IDENTITY
 * DEFAULT: the old row has only the key): the stored row is under the old
 * key, so the values are read from the source's row under the new one, as
 * it is now. A row changed since gets those changes later in the stream
 * (so the values converge); one deleted since keeps NULL until its delete
 * comes. *out = tup, or st->movedv's tuple with the values filled in. */
static int fill_moved(struct stream *st, struct table_state *ts, const struct sl_pgo_tuple *tup,
                      struct sl_pgo_tuple *out, struct sl_err *err)
{
    *out = *tup;
    struct sl_buf sql;
    size_t nparam = 0;
    const char *params[32];
    sl_buf_init(&sql);
    sl_buf_puts(&sql, "SELECT ");
    int any = 0;
    for (uint16_t i = 0; i < tup->ncols; i++)
        if (tup->vals[i].kind == SL_PGO_UNCHANGED) {
            if (any++)
                sl_buf_puts(&sql, ", ");
            sl_pg_quote_ident(&sql, ts->rel[i].orig, strlen(ts->rel[i].orig));
            sl_buf_puts(&sql, "::text");
        }
    if (!any) {
        sl_buf_free(&sql);
        return 0;
    }
    sl_buf_printf(&sql, " FROM ONLY %s WHERE ", ts->quoted);
    for (size_t k = 0; k < ts->t->primary_key.n; k++)
        for (uint16_t i = 0; i < tup->ncols; i++) {
            if (strcmp(ts->rel[i].name, ts->t->primary_key.items[k]) != 0)
                continue;
            if (nparam == sizeof params / sizeof params[0] || tup->vals[i].kind != SL_PGO_TEXT) {
                sl_buf_free(&sql);
                return sl_err_set(err, SL_E_SOURCE, "table %s: a moved key without its values",
                                  ts->t->name);
            }
            /* the value as text, NUL-terminated for libpq */
            params[nparam] = sl_strndup(tup->vals[i].data, tup->vals[i].len);
            if (!params[nparam]) {
                sl_buf_free(&sql);
                return nomem(err);
            }
            if (nparam)
                sl_buf_puts(&sql, " AND ");
            sl_pg_quote_ident(&sql, ts->rel[i].orig, strlen(ts->rel[i].orig));
            sl_buf_printf(&sql, " = $%zu", ++nparam);
        }
    sl_rows_free(&st->moved);
    int rc = sql.oom ? nomem(err) : connect_admin(st, err);
    if (rc == 0)
        rc = sl_pg_exec(&st->admin, sql.data, (int)nparam, params, &st->moved, err,
                        "could not read a moved row's unchanged values");
    for (size_t k = 0; k < nparam; k++)
        sl_free((char *)params[k]);
    sl_buf_free(&sql);
    if (rc < 0)
        return -1;
    if (st->nmovedv < tup->ncols) {
        struct sl_pgo_value *v = sl_realloc(st->movedv, tup->ncols * sizeof *v);
        if (!v)
            return nomem(err);
        st->movedv = v;
        st->nmovedv = tup->ncols;
    }
    size_t col = 0;
    for (uint16_t i = 0; i < tup->ncols; i++) {
        st->movedv[i] = tup->vals[i];
        if (tup->vals[i].kind != SL_PGO_UNCHANGED)
            continue;
        const char *v = st->moved.nrows ? sl_rows_get(&st->moved, 0, col) : NULL;
        col++;
        st->movedv[i] = v ? (struct sl_pgo_value){SL_PGO_TEXT, v, strlen(v)}
                          : (struct sl_pgo_value){SL_PGO_NULL, NULL, 0};
    }
    out->vals = st->movedv;
    return 0;
}

/* A change as a record: its op, what it left out, a soft delete's time,
 * then every column's value, canonical, each written to the spool as it
 * is made. */
static int put_change(struct stream *st, struct table_state *ts, char op,
                      const struct sl_pgo_tuple *tup, const struct sl_pgo_tuple *old,
                      struct sl_err *err)
{
    struct cdc_batch *b = current(st, ts, err);
    if (!b)
        return -1;
    if (tup->ncols > ts->nrel)
        return sl_err_set(err, SL_E_SOURCE, "table %s: a change with %u columns, its relation"
                          " has %zu", ts->t->name, tup->ncols, ts->nrel);
    char opc[2] = {op, 0}, deleted[40] = "";
    int soft = op == 'D' && ts->t->soft_deletes;
    unchanged_names(ts, tup, old, &st->unch);
    if (soft)
        commit_time(st, deleted);
    if (st->unch.oom)
        return nomem(err);
    uint32_t n = 1u + tup->ncols + (soft ? 1u : 0u) + (st->unch.len ? 1u : 0u);
    int rc = spool_begin(b, n);
    rc = rc < 0 ? rc : spool_field(b, batch_name(b, SL_CDC_OP_COL), opc, 1);
    if (rc == 0 && st->unch.len)
        rc = spool_field(b, batch_name(b, SL_CDC_UNCHANGED_COL), st->unch.data, st->unch.len);
    if (rc == 0 && soft)
        rc = spool_field(b, batch_name(b, SL_DELETED_AT_COL), deleted, strlen(deleted));
    for (uint16_t i = 0; i < tup->ncols && rc == 0; i++) {
        const struct sl_pgo_value *v = &tup->vals[i];
        const struct rel_col *c = &ts->rel[i];
        if (sl_schema_find(&b->schema, c->name) < 0 &&
            sl_schema_add(&b->schema, c->name, c->type) < 0)
            return nomem(err);
        if (v->kind == SL_PGO_UNCHANGED && old && i < old->ncols)
            v = &old->vals[i];      /* REPLICA IDENTITY FULL: the old row has it */
        long name = batch_name(b, c->name);
        if (v->kind == SL_PGO_NULL || v->kind == SL_PGO_UNCHANGED) {
            /* (a delete's key-only old row has NULL in the other columns) */
            rc = spool_field(b, name, NULL, 0);
            continue;
        }
        if (v->kind != SL_PGO_TEXT)
            return sl_err_set(err, SL_E_SOURCE, "table %s, column \"%s\": a binary value in a"
                              " text stream", ts->t->name, c->name);
        const char *cv;
        size_t cl;
        if (canon(st, c, v, &cv, &cl, err) < 0) {
            sl_err_prefix(err, "table %s", ts->t->name);
            return -1;
        }
        rc = spool_field(b, name, cv, cl);
    }
    if (rc == -2)
        return nomem(err);
    if (rc < 0)
        return sl_err_set(err, SL_E_SOURCE, "table %s: could not spool a change (disk full?)",
                          ts->t->name);
    b->rows++;
    b->to = st->txn_lsn;
    st->cycle_rows++;
    return 0;
}

/* TRUNCATE: the batch so far, then an empty whole table of its own. */
static int on_truncate(struct stream *st, struct table_state *ts, struct sl_err *err)
{
    struct cdc_batch **q = sl_realloc(ts->queue, (ts->nqueue + 1) * sizeof *q);
    if (!q)
        return nomem(err);
    ts->queue = q;
    struct cdc_batch *b = batch_new(st->txn_lsn);
    if (!b)
        return nomem(err);
    b->in.whole = 1;
    b->to = st->txn_lsn;
    q[ts->nqueue++] = b;
    st->cycle_rows++;
    return 0;
}

/* An update that changes the primary key: an old key tuple ('K') comes
 * only then; a whole old row ('O', REPLICA IDENTITY FULL) comes always,
 * and then a key column differs. */
static int key_moved(const struct table_state *ts, const struct sl_pgo_msg *m)
{
    const struct sl_pgo_tuple *o = &m->u.update.old_tuple, *n = &m->u.update.new_tuple;
    if (m->u.update.old_kind != 'O')
        return m->u.update.old_kind == 'K';
    for (size_t k = 0; k < ts->t->primary_key.n; k++)
        for (uint16_t i = 0; i < ts->nrel && i < o->ncols && i < n->ncols; i++) {
            const struct sl_pgo_value *a = &o->vals[i], *b = &n->vals[i];
            if (strcmp(ts->rel[i].name, ts->t->primary_key.items[k]) == 0 &&
                (a->kind != b->kind || a->len != b->len ||
                 (a->len && memcmp(a->data, b->data, a->len) != 0)))
                return 1;
        }
    return 0;
}

static int skip(const struct stream *st, const struct table_state *ts)
{
    return st->txn_lsn < ts->cursor;
}

static int on_message(struct stream *st, const struct sl_pgo_msg *m, struct sl_err *err)
{
    struct table_state *ts;
    switch (m->kind) {
    case SL_PGO_BEGIN:
        st->in_txn = 1;
        st->txn_lsn = m->u.begin.final_lsn;
        st->txn_time = m->u.begin.commit_time;
        return 0;
    case SL_PGO_COMMIT:
        st->in_txn = 0;
        st->cycle_end = m->u.commit.end_lsn;
        if (m->u.commit.end_lsn > st->known)
            st->known = m->u.commit.end_lsn;
        return 0;
    case SL_PGO_RELATION:
        return on_relation(st, m, err);
    case SL_PGO_INSERT:
        ts = table_by_rel(st, m->u.insert.oid);
        return ts && !skip(st, ts) ? put_change(st, ts, 'I', &m->u.insert.new_tuple, NULL, err)
                                   : 0;
    case SL_PGO_UPDATE:
        ts = table_by_rel(st, m->u.update.oid);
        if (!ts || skip(st, ts))
            return 0;
        if (key_moved(ts, m)) {
            /* the old key goes, the new row comes */
            struct sl_pgo_tuple nt = m->u.update.new_tuple;
            if (put_change(st, ts, 'D', &m->u.update.old_tuple, NULL, err) < 0 ||
                (m->u.update.old_kind == 'K' && fill_moved(st, ts, &m->u.update.new_tuple,
                                                           &nt, err) < 0))
                return -1;
            return put_change(st, ts, 'U', &nt,
                              m->u.update.old_kind == 'O' ? &m->u.update.old_tuple : NULL, err);
        }
        return put_change(st, ts, 'U', &m->u.update.new_tuple,
                          m->u.update.old_kind == 'O' ? &m->u.update.old_tuple : NULL, err);
    case SL_PGO_DELETE:
        ts = table_by_rel(st, m->u.del.oid);
        return ts && !skip(st, ts) ? put_change(st, ts, 'D', &m->u.del.old_tuple, NULL, err) : 0;
    case SL_PGO_TRUNCATE:
        for (uint32_t i = 0; i < m->u.truncate.nrels; i++) {
            ts = table_by_rel(st, sl_pgo_truncate_oid(m, i));
            if (ts && !skip(st, ts) && on_truncate(st, ts, err) < 0)
                return -1;
        }
        return 0;
    default:
        return 0;   /* Type, Origin, Message: nothing to load */
    }
}

/* The slot may let go of the WAL up to `at`: the warehouse holds it. */
static int confirm(struct stream *st, sl_lsn at, struct sl_err *err)
{
    if (at <= st->confirmed)
        return 0;
    if (sl_pg_stream_confirm(&st->repl, at, 0, err) < 0)
        return -1;
    st->confirmed = at;
    return 0;
}

/* Feed every batch of the cycle, table by table, then confirm its end.
 * 0 = all in, 1 = a batch did not commit (the stream must start again from
 * the slot's confirmed position), -1 = error. */
static int flush_cycle(struct stream *st, struct sl_err *err)
{
    int stalled = 0;
    for (size_t i = 0; i < st->ntabs; i++) {
        struct table_state *ts = &st->tabs[i];
        if (!stalled && ts->backfill) {
            int r = backfill(st, ts, err);
            if (r < 0)
                return -1;
            stalled = r;
        }
        for (size_t k = 0; k < ts->nqueue; k++) {
            struct cdc_batch *b = ts->queue[k];
            ts->queue[k] = NULL;
            if (stalled) {
                batch_free(b);
                continue;
            }
            /* a batch followed by another of the same cycle (a truncate
             * between) ends inside its last transaction: read it again */
            sl_lsn next = k + 1 < ts->nqueue ? b->to : st->cycle_end > b->to ? b->to + 1 : b->to;
            if (batch_seal(b, st->pc, next) < 0) {
                batch_free(b);
                for (size_t j = k + 1; j < ts->nqueue; j++)
                    batch_free(ts->queue[j]);
                ts->nqueue = 0;
                return nomem(err);
            }
            if (feed(st, ts, &b->in))   /* acked: b is freed */
                stalled = 1;
            else
                ts->cursor = next;
        }
        ts->nqueue = 0;
    }
    st->cycle_rows = 0;
    clock_gettime(CLOCK_MONOTONIC, &st->cycle_start);
    return stalled ? 1 : confirm(st, st->cycle_end, err);
}

static int pending(const struct stream *st)
{
    for (size_t i = 0; i < st->ntabs; i++)
        if (st->tabs[i].nqueue || st->tabs[i].backfill)
            return 1;
    return 0;
}

static int on_frame(struct stream *st, const unsigned char *buf, size_t len, struct sl_err *err)
{
    struct sl_pgo_frame fr;
    struct sl_pgo_msg m;
    if (sl_pgo_frame(buf, len, &fr, err) < 0)
        return -1;
    if (fr.kind == SL_PGO_KEEPALIVE) {
        if (!st->in_txn && !pending(st) && fr.end > st->known)
            st->known = fr.end;
        if (fr.reply && sl_pg_stream_confirm(&st->repl, st->confirmed, 0, err) < 0)
            return -1;
        return 0;
    }
    if (sl_pgo_decode(fr.data, fr.len, &st->scratch, &m, err) < 0)
        return -1;
    return on_message(st, &m, err);
}

/* The slot's stream, from where it has confirmed. */
static int open_stream(struct stream *st, struct sl_err *err)
{
    if (connect_repl(&st->repl, st, err) < 0)
        return -1;
    return sl_pg_start_stream(&st->repl, st->pc->cdc.slot, 0, st->pc->cdc.publication, err);
}

/* Read the stream until the stop (serve) or until it has been read up to
 * `until` (drain, `sluice run`). 0 done, 1 a batch did not commit, -1 error. */
static int pump(struct stream *st, sl_lsn until, struct sl_err *err)
{
    struct timespec idle;
    clock_gettime(CLOCK_MONOTONIC, &st->cycle_start);
    clock_gettime(CLOCK_MONOTONIC, &idle);
    if (open_stream(st, err) < 0)
        return -1;
    for (;;) {
        char *buf = NULL;
        int len = 0;
        int r = sl_pg_stream_read(&st->repl, 200, &buf, &len, err);
        if (r < 0)
            return -1;
        if (r == 1) {
            int rc = on_frame(st, (const unsigned char *)buf, (size_t)len, err);
            PQfreemem(buf);
            if (rc < 0)
                return -1;
            clock_gettime(CLOCK_MONOTONIC, &idle);
        }
        int caught_up = until && st->known >= until && !st->in_txn;
        if (!st->in_txn && (st->cycle_rows >= SL_CDC_ROWS || caught_up || r == 0 ||
                            since(&st->cycle_start) >= SL_CDC_SECONDS)) {
            if (pending(st)) {
                int rc = flush_cycle(st, err);
                if (rc != 0)
                    return rc;
            } else if (confirm(st, st->known, err) < 0) {
                return -1;  /* nothing of ours up to here: the slot may move on */
            }
        }
        if (caught_up && !pending(st))
            return 0;
        if (r == 0 && !st->in_txn) {
            /* ask where the stream stands: the server answers with a keepalive */
            if (sl_pg_stream_confirm(&st->repl, st->confirmed, 1, err) < 0)
                return -1;
        }
        if (sl_stopping() && !st->in_txn)
            return pending(st) ? flush_cycle(st, err) : 0;
        if (until && since(&idle) > DRAIN_IDLE_S)
            return sl_err_retry(err, SL_E_SOURCE, "the stream did not reach %" PRIx64
                                " within %.0f s", (uint64_t)until, DRAIN_IDLE_S);
    }
}

static int stream_init(struct stream *st, const struct sl_config *c,
                       const struct sl_pipeline_cfg *p, const struct sl_sink *sink,
                       struct sl_run_stats *stats, struct sl_err *err)
{
    memset(st, 0, sizeof *st);
    st->c = c;
    st->p = p;
    st->pc = cfg_of(p);
    st->sink = sink;
    st->stats = stats;
    st->log.pipeline = p->name;
    sl_buf_init(&st->val);
    sl_buf_init(&st->unch);
    st->admin = st->repl = (struct sl_pg){NULL, SL_E_SOURCE, NULL};
    st->conn = sl_config_connection(c, st->pc->connection);
    if (!st->conn)
        return sl_err_set(err, SL_E_CONFIG, "pipeline \"%s\": no connection \"%s\"", p->name,
                          st->pc->connection);
    return 0;
}

/* One pass: open, copy what is new, stream. */
static int run_once(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                    const struct sl_sink *sink, struct sl_run_stats *stats, int drain,
                    struct sl_err *err)
{
    struct stream st;
    int rc = stream_init(&st, c, p, sink, stats, err);
    if (rc == 0)
        rc = ready(&st, err);
    if (rc == 0)
        rc = open_tables(&st, err);
    sl_lsn until = 0;
    if (rc == 0 && drain) {
        char *v = NULL;
        rc = sl_pg_value(&st.admin, "SELECT pg_current_wal_lsn()::text", NULL, &v, err);
        if (rc == 0 && (!v || sl_lsn_parse(v, &until) < 0))
            rc = sl_err_set(err, SL_E_SOURCE, "the source gave no WAL position");
        sl_free(v);
    }
    if (rc == 0)
        rc = pump(&st, drain ? (until ? until : 1) : 0, err);
    stream_close(&st);
    return rc;
}

static int cdc_drain(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     const struct sl_sink *sink, struct sl_run_stats *stats, struct sl_err *err)
{
    for (int a = 1;; a++) {
        sl_err_clear(err);
        int rc = run_once(c, p, sink, stats, 1, err);
        if (rc >= 0)
            return 0;   /* a batch that did not commit is in the stats */
        if (err->cls != SL_RETRY || a >= sl_retry_attempts() || sl_stopping()) {
            stats->not_run += stats->committed ? 0 : 1;
            if (!stats->not_run_why[0])
                snprintf(stats->not_run_why, sizeof stats->not_run_why, "%.500s", err->msg);
            sl_err_prefix(err, "pipeline \"%s\"", p->name);
            return -1;
        }
        sl_log(SL_LOG_WARN, NULL, "pipeline %s: %s; retrying", p->name, err->msg);
        sl_retry_sleep(a);
    }
}

static int cdc_serve(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     const struct sl_sink *sink, struct sl_err *err)
{
    struct sl_run_stats stats = {0};
    int rc = run_once(c, p, sink, &stats, 0, err);
    if (rc > 0 && !sl_stopping())
        sleep(1);   /* a held or failed batch: the daemon tries again later */
    return rc < 0 ? -1 : 0;
}

/* ---- quarantine: a held batch is a range of the stream, read again ---- */

/* The held batch's range of the stream, collected again for table s alone:
 * the transactions with a commit LSN in [from, to]. Nothing is confirmed:
 * the slot keeps its position until the pipeline streams again. */
static int collect_range(struct stream *st, sl_lsn to, struct sl_err *err)
{
    struct timespec idle;
    clock_gettime(CLOCK_MONOTONIC, &idle);
    if (open_stream(st, err) < 0)
        return -1;
    for (;;) {
        char *buf = NULL;
        int len = 0;
        int r = sl_pg_stream_read(&st->repl, 200, &buf, &len, err);
        if (r < 0)
            return -1;
        if (r == 1) {
            struct sl_pgo_frame fr;
            struct sl_pgo_msg m;
            int rc = sl_pgo_frame((const unsigned char *)buf, (size_t)len, &fr, err);
            if (rc == 0 && fr.kind == SL_PGO_XLOGDATA) {
                rc = sl_pgo_decode(fr.data, fr.len, &st->scratch, &m, err);
                if (rc == 0 && m.kind == SL_PGO_BEGIN && m.u.begin.final_lsn > to) {
                    PQfreemem(buf);
                    return 0;   /* past the range */
                }
                if (rc == 0)
                    rc = on_message(st, &m, err);
                if (rc == 0 && m.kind == SL_PGO_COMMIT && m.u.commit.commit_lsn >= to) {
                    PQfreemem(buf);
                    return 0;
                }
            } else if (rc == 0 && fr.end > to && !st->in_txn) {
                PQfreemem(buf);
                return 0;       /* a keepalive past it: nothing more of the range */
            }
            PQfreemem(buf);
            if (rc < 0)
                return -1;
            clock_gettime(CLOCK_MONOTONIC, &idle);
        } else if (!st->in_txn && sl_pg_stream_confirm(&st->repl, 0, 1, err) < 0) {
            return -1;  /* 0: asks where the stream stands, confirms nothing */
        }
        if (since(&idle) > DRAIN_IDLE_S)
            return sl_err_retry(err, SL_E_SOURCE, "the slot did not bring the held range back"
                                " within %.0f s (is a daemon streaming it?)", DRAIN_IDLE_S);
    }
}

static int cdc_reopen(struct sl_source *s, const char *held, struct sl_batch_input **out,
                      struct sl_err *err)
{
    json_t *o = json_loads(held, 0, NULL), *r = json_object_get(o, "cdc");
    if (o && !r) {
        /* a first copy the gates held: read again whole (its cursor is
         * unknown now, so the next run copies the table once more) */
        json_decref(o);
        if (sl_source_postgres.reopen(s->pg, held, out, err) < 0)
            return -1;
        (*out)->whole = 1;
        (*out)->hash[0] = '\0';
        (*out)->canonical = 1;
        s->copy = *out;
        return 0;
    }
    if (json_is_true(json_object_get(r, "backfill"))) {
        json_decref(o);
        if (sl_source_postgres.reopen(s->pg, "{\"whole\":true}", out, err) < 0)
            return -1;
        backfill_batch(*out);
        s->copy = *out;
        return 0;
    }
    sl_lsn from, to;
    const char *ft = json_string_value(json_object_get(r, "from"));
    const char *tt = json_string_value(json_object_get(r, "to"));
    int whole = json_is_true(json_object_get(r, "whole"));
    int bad = !ft || !tt || sl_lsn_parse(ft, &from) < 0 || sl_lsn_parse(tt, &to) < 0;
    json_decref(o);
    if (bad)
        return sl_err_set(err, SL_E_INPUT, "held batch \"%s\" is not a cdc batch", held);
    struct cdc_batch *b = NULL;
    const struct sl_pg_source_cfg *pc = cfg_of(s->p);
    if (whole) {
        /* a truncate: the table empty again */
        if (!(b = batch_new(from)))
            return nomem(err);
        b->in.whole = 1;
    } else {
        struct stream st;
        struct table_state *ts;
        int rc = stream_init(&st, s->c, s->p, NULL, NULL, err);
        if (rc == 0 && !(st.tabs = sl_calloc(1, sizeof *st.tabs)))
            rc = nomem(err);
        if (rc == 0) {
            ts = &st.tabs[0];
            st.ntabs = 1;
            ts->src = s;
            ts->t = s->t;
            ts->cursor = from;
            const char *q = sl_pg_source_table(s->pg);
            rc = connect_admin(&st, err);
            if (rc == 0)
                rc = sl_pg_value(&st.admin, QUALIFIED_SQL, q, &ts->qualified, err);
            if (rc == 0)
                rc = collect_range(&st, to, err);
            if (rc == 0 && ts->nqueue) {
                b = ts->queue[0];
                for (size_t k = 1; k < ts->nqueue; k++)
                    batch_free(ts->queue[k]);
                ts->nqueue = 0;
            }
            ts->src = NULL;     /* the engine's */
        }
        stream_close(&st);
        if (rc < 0)
            return -1;
        if (!b && !(b = batch_new(from)))
            return nomem(err);
    }
    b->from = from;
    b->to = to;
    if (batch_seal(b, pc, whole ? to : to + 1) < 0) {
        batch_free(b);
        return nomem(err);
    }
    *out = &b->in;
    return 0;
}

/* ---- config ---- */

static int cdc_validate(const struct sl_pipeline_cfg *p, const char *cfgfile, struct sl_err *err)
{
    const struct sl_pg_source_cfg *pc = p->source_ctx;
    if (sl_source_postgres.validate && sl_source_postgres.validate(p, cfgfile, err) < 0)
        return -1;
    if (!sl_pg_slot_name_ok(pc->cdc.slot) || !sl_pg_slot_name_ok(pc->cdc.publication))
        return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": source: cdc: slot and"
                          " publication names are lower-case letters, digits and underscores"
                          " (found \"%s\", \"%s\")", cfgfile, p->pos.line, p->pos.col, p->name,
                          pc->cdc.slot, pc->cdc.publication);
    for (size_t i = 0; i < p->ntables; i++)
        if (p->tables[i].kind != SL_KIND_CDC)
            return sl_err_set(err, SL_E_CONFIG, "%s:%d:%d: pipeline \"%s\": table \"%s\": a"
                              " source with cdc: streams every table; give it kind cdc (or move"
                              " the table to a pipeline without cdc)", cfgfile,
                              p->tables[i].pos.line, p->tables[i].pos.col, p->name,
                              p->tables[i].name);
    return 0;
}

static int cdc_workers(const struct sl_pipeline_cfg *p)
{
    (void)p;
    return 1;
}

static int cdc_probe(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     const char *timeout, struct sl_probe *out, struct sl_err *err)
{
    struct sl_pg admin = {NULL, SL_E_SOURCE, NULL};
    int rc = sl_cdc_probe(c, p, &admin, timeout, out, err);
    sl_pg_close(&admin);
    return rc;
}

static int cdc_resolve(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                       const char *cfgfile, struct sl_err *err)
{
    return sl_source_postgres.resolve(c, p, cfgfile, err);
}

const struct sl_source_ops sl_source_cdc = {
    .kind = "postgres",
    .keys = sl_pg_source_keys,
    .ctx_size = sizeof(struct sl_pg_source_cfg),
    .validate = cdc_validate,
    .open = cdc_open,
    .next_batch = cdc_next,
    .open_rows = cdc_open_rows,
    .hold = cdc_hold,
    .reopen = cdc_reopen,
    .ack = cdc_ack,
    .close = cdc_close,
    .resolve = cdc_resolve,
    .workers = cdc_workers,
    .schema = cdc_schema,
    .sql = cdc_sql,
    .exec = cdc_exec,
    .keys_batch = cdc_keys_batch,
    .serve = cdc_serve,
    .drain = cdc_drain,
    .probe = cdc_probe,
    .blocks = sl_pg_source_blocks,
    .slot_state = sl_cdc_slot_state,
    .slot_drop = sl_cdc_slot_drop,
};
