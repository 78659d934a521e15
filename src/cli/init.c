/* cli/init.c: `sluice init --from DIR|postgresql://... [-o FILE]`: a
 * commented starter config that `sluice check` accepts.
 *
 * A folder: its files (and those of its subfolders, one level down) are
 * read with the format readers (formats/) and grouped by folder, format
 * and header shape; each group is one pipeline of one table, its column
 * types inferred as the engine infers them (base/value.c), a primary key
 * suggested from a column unique and non-NULL in the sample, versioned when
 * an update-time column exists, else append.
 * A database: each table with a primary key and an update-time column is an
 * incremental updater with cursor [that column, pk...], the others
 * snapshots. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/mem.h"
#include "base/stream.h"
#include "base/value.h"
#include "formats/format.h"
#include "model/schema.h"
#include "pg/pg.h"

#define SAMPLE 2000         /* records read of each file */
#define MAXCOLS 256

struct col {
    char *name;
    struct sl_infer inf;
    enum sl_type hint;
    char **vals;            /* the sample's values, for the key suggestion */
    size_t nvals;
    int has_null;
};

struct group {
    char *dir;              /* absolute */
    const struct sl_format_ops *fmt;
    char delimiter;
    char *shape;            /* the header's names joined, "" when none */
    char *ext;              /* the files' extension ".csv" or "" */
    char *first;            /* a file of the group, for the comment */
    char *prefix;           /* the start its files' names share */
    int nfiles;
    struct col *cols;
    size_t ncols;
};

struct groups {
    struct group *g;
    size_t n;
};

static char *xstrndup(const char *s, size_t n)
{
    char *d = sl_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int is_time_name(const char *n)
{
    static const char *const names[] = {"updated_at", "modified_at", "mtime", "last_modified",
                                        "updated", "modified", "last_modified_at", NULL};
    for (size_t i = 0; names[i]; i++)
        if (strcasecmp(n, names[i]) == 0)
            return 1;
    return 0;
}

static int is_id_name(const char *n)
{
    size_t l = strlen(n);
    return strcasecmp(n, "id") == 0 || (l > 3 && strcasecmp(n + l - 3, "_id") == 0) ||
           strcasecmp(n, "key") == 0 || strcasecmp(n, "sku") == 0;
}

/* The extension sluice reads the format by, with .gz/.zst dropped. */
static void base_ext(const char *name, char *out, size_t cap)
{
    char tmp[NAME_MAX + 1];
    snprintf(tmp, sizeof tmp, "%s", name);
    size_t l = strlen(tmp);
    if (l > 3 && strcmp(tmp + l - 3, ".gz") == 0)
        tmp[l - 3] = 0;
    else if (l > 4 && strcmp(tmp + l - 4, ".zst") == 0)
        tmp[l - 4] = 0;
    const char *dot = strrchr(tmp, '.');
    snprintf(out, cap, "%s", dot && dot != tmp ? dot : "");
}

/* Read up to SAMPLE records of `path` with `fmt`: 0 and the records' columns
 * in *cols (appended to), -1 when the first record does not read. */
static int sample_file(const char *path, const struct sl_format_ops *fmt, char **shape,
                       struct col **cols, size_t *ncols, long *nrec)
{
    struct sl_err err = {0};
    struct sl_stream *st = NULL;
    struct sl_reader *r = NULL;
    struct sl_format_opts fo = {0};
    fo.header = 1;
    struct stat sb;
    if (stat(path, &sb) == 0)
        fo.ref_time = sb.st_mtime;
    if (sl_stream_open(&st, path, path, &err) < 0)
        return -1;
    if (fmt->open(&r, st, &fo, &err) < 0) {
        sl_stream_close(st);
        return -1;
    }
    int rc = 0;
    *nrec = 0;
    struct sl_record rec;
    char sh[4096] = "";
    if (fmt->columns) {
        const struct sl_field *hf;
        size_t nh = fmt->columns(r, &hf);
        for (size_t i = 0; i < nh; i++) {
            size_t l = strlen(sh);
            snprintf(sh + l, sizeof sh - l, "%s%.*s", i ? "," : "", (int)hf[i].name_len,
                     hf[i].name);
        }
    }
    while (*nrec < SAMPLE) {
        int k = fmt->next(r, &rec, &err);
        if (k < 0) {
            if (*nrec == 0)
                rc = -1;
            break;
        }
        if (k == 0)
            break;
        (*nrec)++;
        for (size_t i = 0; i < rec.nfields; i++) {
            const struct sl_field *f = &rec.fields[i];
            size_t c = 0;
            while (c < *ncols && !(strlen((*cols)[c].name) == f->name_len &&
                                   memcmp((*cols)[c].name, f->name, f->name_len) == 0))
                c++;
            if (c == *ncols) {
                if (*ncols >= MAXCOLS)
                    continue;
                struct col *nc = sl_realloc(*cols, (*ncols + 1) * sizeof *nc);
                if (!nc) {
                    rc = -1;
                    break;
                }
                *cols = nc;
                memset(&nc[c], 0, sizeof nc[c]);
                nc[c].name = xstrndup(f->name, f->name_len);
                sl_infer_init(&nc[c].inf);
                (*ncols)++;
            }
            struct col *cl = &(*cols)[c];
            if (f->type != SL_T_NONE)
                cl->hint = f->type;
            sl_infer_add(&cl->inf, f->val, f->len, f->lex, f->is_null);
            if (f->is_null) {
                cl->has_null = 1;
            } else if (cl->nvals < SAMPLE * 4) {
                char **nv = sl_realloc(cl->vals, (cl->nvals + 1) * sizeof *nv);
                if (nv) {
                    cl->vals = nv;
                    cl->vals[cl->nvals++] = xstrndup(f->val, f->len);
                }
            }
        }
        if (rc < 0)
            break;
    }
    fmt->close(r);
    sl_stream_close(st);
    if (rc == 0 && shape)
        *shape = xstrndup(sh, strlen(sh));
    return rc;
}

static void cols_free(struct col *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < c[i].nvals; k++)
            sl_free(c[i].vals[k]);
        sl_free(c[i].vals);
        sl_free(c[i].name);
    }
    sl_free(c);
}

/* The format a file reads as: by extension, else the first log format whose
 * reader takes its first record. */
static const struct sl_format_ops *detect(const char *path)
{
    const struct sl_format_ops *f = sl_format_for_path(path);
    if (f)
        return f;
    static const struct sl_format_ops *const logs[] = {&sl_format_combined, &sl_format_clf,
                                                      &sl_format_syslog, &sl_format_jsonl};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        struct col *c = NULL;
        size_t nc = 0;
        long n = 0;
        int rc = sample_file(path, logs[i], NULL, &c, &nc, &n);
        cols_free(c, nc);
        if (rc == 0 && n > 0)
            return logs[i];
    }
    return NULL;
}

static void add_file(struct groups *gs, const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const struct sl_format_ops *fmt = detect(path);
    if (!fmt) {
        fprintf(stderr, "sluice: init: %s: not a format sluice reads; skipped\n", path);
        return;
    }
    char ext[NAME_MAX + 1];
    base_ext(name, ext, sizeof ext);
    struct col *c = NULL;
    size_t nc = 0;
    long n = 0;
    char *shape = NULL;
    if (sample_file(path, fmt, &shape, &c, &nc, &n) < 0) {
        fprintf(stderr, "sluice: init: %s: does not read as %s; skipped\n", path, fmt->name);
        cols_free(c, nc);
        return;
    }
    struct group *g = NULL;
    for (size_t i = 0; i < gs->n; i++)
        if (strcmp(gs->g[i].dir, dir) == 0 && gs->g[i].fmt == fmt &&
            strcmp(gs->g[i].ext, ext) == 0 && strcmp(gs->g[i].shape, shape) == 0)
            g = &gs->g[i];
    if (g) {
        /* the group's columns: fold this file's into them */
        for (size_t i = 0; i < nc; i++) {
            size_t k = 0;
            while (k < g->ncols && strcmp(g->cols[k].name, c[i].name) != 0)
                k++;
            if (k == g->ncols) {
                /* a column this file has and the first did not (JSON lines) */
                struct col *gc = sl_realloc(g->cols, (g->ncols + 1) * sizeof *gc);
                if (!gc)
                    continue;
                g->cols = gc;
                gc[g->ncols++] = c[i];
                memset(&c[i], 0, sizeof c[i]);
                continue;
            }
            g->cols[k].inf.cand &= c[i].inf.cand;
            g->cols[k].inf.nonnull += c[i].inf.nonnull;
            g->cols[k].has_null |= c[i].has_null;
            if (g->cols[k].nvals + c[i].nvals > SAMPLE * 16) {
                /* enough to judge the key by: the rest of the files' values
                 * are not kept */
                continue;
            }
            char **nv = sl_realloc(g->cols[k].vals,
                                   (g->cols[k].nvals + c[i].nvals + 1) * sizeof *nv);
            if (nv) {
                g->cols[k].vals = nv;
                for (size_t v = 0; v < c[i].nvals; v++) {
                    nv[g->cols[k].nvals++] = c[i].vals[v];
                    c[i].vals[v] = NULL;
                }
            }
        }
        g->nfiles++;
        size_t k = 0;
        while (g->prefix[k] && g->prefix[k] == name[k])
            k++;
        g->prefix[k] = 0;
        sl_free(shape);
        cols_free(c, nc);
        return;
    }
    struct group *ng = sl_realloc(gs->g, (gs->n + 1) * sizeof *ng);
    if (!ng)
        return;
    gs->g = ng;
    g = &ng[gs->n++];
    memset(g, 0, sizeof *g);
    g->dir = xstrndup(dir, strlen(dir));
    g->fmt = fmt;
    g->shape = shape;
    g->ext = xstrndup(ext, strlen(ext));
    g->first = xstrndup(name, strlen(name));
    g->prefix = xstrndup(name, strlen(name));
    g->nfiles = 1;
    g->cols = c;
    g->ncols = nc;
}

static int scan_dir(struct groups *gs, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "sluice: init: %s: cannot read the folder: %m\n", dir);
        return -1;
    }
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    closedir(d);
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, nm);
        struct stat sb;
        if (nm[0] != '.' && strcmp(nm, "done") != 0 && strcmp(nm, "failed") != 0 &&
            stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode) && depth == 0)
                scan_dir(gs, path, 1);
            else if (S_ISREG(sb.st_mode))
                add_file(gs, dir, nm);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int unique(struct col *c)
{
    if (c->has_null || c->nvals == 0)
        return 0;
    qsort(c->vals, c->nvals, sizeof *c->vals, cmpstr);
    for (size_t i = 1; i < c->nvals; i++)
        if (strcmp(c->vals[i - 1], c->vals[i]) == 0)
            return 0;
    return 1;
}

static void ident(char *out, size_t cap, const char *in)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        char ch = *p;
        if ((ch >= 'A' && ch <= 'Z'))
            ch = (char)(ch - 'A' + 'a');
        out[o++] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) ? ch : '_';
    }
    out[o] = 0;
    if (o == 0 || (out[0] >= '0' && out[0] <= '9')) {
        memmove(out + 2, out, o + 1 < cap - 2 ? o + 1 : cap - 2);
        out[cap - 1] = 0;
        memcpy(out, "t_", 2);
    }
}

static void yq(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void emit_group(FILE *f, const struct group *g, const struct groups *gs,
                       const char *root, char (*names)[128], size_t idx)
{
    char *tname = names[idx];
    const char *rel = g->dir + strlen(root);
    while (*rel == '/')
        rel++;
    char stem[NAME_MAX + 1];
    snprintf(stem, sizeof stem, "%s", *rel ? rel : g->prefix);
    if (!*rel) {
        /* the files' shared name, less its extension and a trailing number
         * or date ("orders_1.csv", "orders_2.csv": orders) */
        char *dot = strchr(stem, '.');
        if (dot)
            *dot = 0;
        size_t l = strlen(stem);
        while (l > 1 && strchr("0123456789_-.", stem[l - 1]))
            stem[--l] = 0;
        if (!*stem)
            snprintf(stem, sizeof stem, "%s", g->first);
    }
    ident(tname, 100, stem);
    /* a name an earlier group has: number it */
    char base[128];
    snprintf(base, sizeof base, "%s", tname);
    for (int k = 2, taken = 1; taken; k++) {
        taken = 0;
        for (size_t i = 0; i < idx; i++)
            if (strcmp(names[i], tname) == 0)
                taken = 1;
        if (taken)
            snprintf(tname, 128, "%.100s_%d", base, k);
    }
    /* another group of its folder with the same extension: the pattern
     * narrows to this group's files' common prefix */
    int shared = 0;
    for (size_t i = 0; i < gs->n; i++)
        if (&gs->g[i] != g && strcmp(gs->g[i].dir, g->dir) == 0 &&
            strcmp(gs->g[i].ext, g->ext) == 0)
            shared = 1;

    const struct col *pk = NULL, *vk = NULL;
    for (size_t i = 0; i < g->ncols && !pk; i++)
        if (is_id_name(g->cols[i].name) && unique((struct col *)&g->cols[i]))
            pk = &g->cols[i];
    for (size_t i = 0; i < g->ncols && !pk; i++) {
        enum sl_type t = sl_infer_result(&g->cols[i].inf);
        if ((t == SL_T_BIGINT || t == SL_T_TEXT) && g->cols[i].hint == SL_T_NONE &&
            unique((struct col *)&g->cols[i]))
            pk = &g->cols[i];
    }
    for (size_t i = 0; i < g->ncols && !vk; i++)
        if (is_time_name(g->cols[i].name) &&
            sl_infer_result(&g->cols[i].inf) == SL_T_TIMESTAMPTZ && !g->cols[i].has_null)
            vk = &g->cols[i];
    int logfmt = g->fmt->raw != NULL;
    if (logfmt)
        pk = NULL;

    fprintf(f, "\n  # %d file%s like %s/%s: %s%s%s\n", g->nfiles, g->nfiles == 1 ? "" : "s",
            g->dir, g->first, g->fmt->name, !*g->shape ? "" : logfmt ? ", columns " : ", header ", g->shape);
    fprintf(f, "  - name: %s\n", tname);
    fprintf(f, "    source:\n      kind: files\n      path: ");
    yq(f, g->dir);
    fprintf(f, "\n      format: %s\n", g->fmt->name);
    char pat[NAME_MAX + 4];
    size_t plen = shared ? strcspn(g->prefix, ".") : 0;
    snprintf(pat, sizeof pat, "%.*s*%s*", (int)plen, g->prefix, g->ext);
    fprintf(f, "      pattern: ");
    yq(f, *g->ext ? pat : g->first);
    fprintf(f, "               # the files of this kind\n");
    if (g->fmt == &sl_format_csv || g->fmt == &sl_format_tsv) {
        fprintf(f, "      delimiter: \"%s\"\n", g->fmt == &sl_format_tsv ? "\\t" : ",");
        fprintf(f, "      header: true\n");
    }
    fprintf(f, "      settle: 2s                # a file unchanged this long is complete\n");
    fprintf(f, "    destination: warehouse\n    tables:\n      - name: %s\n", tname);
    if (pk && vk) {
        fprintf(f, "        kind: versioned          # the newest %s of each %s wins\n", vk->name,
                pk->name);
        fprintf(f, "        primary_key: [%s]        # unique and never empty in the sample\n",
                pk->name);
        fprintf(f, "        version_key: %s\n", vk->name);
    } else if (pk) {
        fprintf(f, "        kind: append             # rows are added; a key seen again is "
                   "not loaded twice\n");
        fprintf(f, "        primary_key: [%s]        # unique and never empty in the sample\n",
                pk->name);
    } else {
        fprintf(f, "        kind: append             # rows are added as they come%s\n",
                logfmt ? " (log records)" : "; no column was unique in the sample");
    }
    if (!logfmt && g->ncols) {
        fprintf(f, "        columns:                 # as inferred from the sample\n");
        for (size_t i = 0; i < g->ncols; i++) {
            fprintf(f, "          ");
            yq(f, g->cols[i].name);
            fprintf(f, ": %s\n", sl_type_name(sl_infer_result(&g->cols[i].inf)));
        }
    }
}

static void header(FILE *f, const char *from)
{
    fprintf(f, "# A starter config written by `sluice init --from %s`.\n"
               "# Check it with `sluice check FILE`, then `sluice run FILE`.\n"
               "connections:\n"
               "  # the warehouse the tables go to: an embedded SQLite file, or\n"
               "  # postgresql://user@host/db\n"
               "  warehouse: { url: \"sqlite://warehouse.db\" }\n",
            from);
}

static int init_dir(FILE *f, const char *dir)
{
    char root[PATH_MAX];
    if (!realpath(dir, root)) {
        fprintf(stderr, "sluice: init: %s: %m\n", dir);
        return 2;
    }
    struct groups gs = {0};
    if (scan_dir(&gs, root, 0) < 0)
        return 2;
    if (gs.n == 0) {
        fprintf(stderr, "sluice: init: %s: no file sluice reads\n", root);
        return 2;
    }
    header(f, dir);
    fprintf(f, "\npipelines:");
    char (*names)[128] = sl_malloc(gs.n * sizeof *names);
    if (!names) {
        fprintf(stderr, "sluice: init: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < gs.n; i++)
        emit_group(f, &gs.g[i], &gs, root, names, i);
    fprintf(f, "\n");
    sl_free(names);
    for (size_t i = 0; i < gs.n; i++) {
        cols_free(gs.g[i].cols, gs.g[i].ncols);
        sl_free(gs.g[i].dir);
        sl_free(gs.g[i].shape);
        sl_free(gs.g[i].ext);
        sl_free(gs.g[i].first);
        sl_free(gs.g[i].prefix);
    }
    sl_free(gs.g);
    return 0;
}

/* ---- a database ---- */

/* Each ordinary or partitioned table outside the system schemas: schema,
 * name, its primary key's columns in key order (comma-joined, NULL when it
 * has none), its update-time column (NULL when none). */
static const char *const tables_sql =
    "SELECT n.nspname, c.relname,"
    " (SELECT string_agg(a.attname, ',' ORDER BY k.i)"
    "    FROM pg_index x CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY k(att, i)"
    "    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.att"
    "   WHERE x.indrelid = c.oid AND x.indisprimary),"
    " (SELECT a.attname FROM pg_attribute a"
    "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    "     AND a.atttypid IN ('timestamptz'::regtype, 'timestamp'::regtype)"
    "     AND (a.attname IN ('updated_at', 'modified_at', 'mtime', 'last_modified',"
    "                        'last_modified_at', 'updated', 'modified')"
    "          OR (a.atttypid = 'timestamptz'::regtype AND EXISTS ("
    "              SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indkey[0] = a.attnum)))"
    "   ORDER BY a.attname NOT IN ('updated_at', 'modified_at', 'mtime', 'last_modified',"
    "                              'last_modified_at', 'updated', 'modified'), a.attnum LIMIT 1)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'"
    "   AND has_table_privilege(c.oid, 'SELECT')"
    " ORDER BY 1, 2";

static void emit_list(FILE *f, const char *csv)
{
    fputc('[', f);
    for (const char *p = csv; *p; p++)
        fputs(*p == ',' ? ", " : (char[2]){*p, 0}, f);
    fputc(']', f);
}

static int init_pg(FILE *f, const char *url)
{
    struct sl_pg pg = {NULL, SL_E_SOURCE, "init"};
    char why[512];
    if (sl_pg_connect(&pg, url, NULL, "sluice init", "10", why, sizeof why) < 0) {
        fprintf(stderr, "sluice: init: cannot connect to the database: %s\n", why);
        return 2;
    }
    struct sl_rows rows = {0};
    struct sl_err err = {0};
    if (sl_pg_exec(&pg, tables_sql, 0, NULL, &rows, &err, "reading the tables") < 0) {
        fprintf(stderr, "sluice: init: %s\n", err.msg);
        sl_pg_close(&pg);
        return 2;
    }
    sl_pg_close(&pg);
    if (rows.nrows == 0) {
        fprintf(stderr, "sluice: init: the database has no table sluice can read\n");
        sl_rows_free(&rows);
        return 2;
    }
    header(f, "postgresql://...");
    fprintf(f, "  source: { url: ");
    yq(f, url);
    fprintf(f, " }   # the database read (a password: the connection's `password` key)\n"
               "\npipelines:\n  - name: source\n"
               "    source: { kind: postgres, connection: source }\n"
               "    destination: warehouse\n    tables:\n");
    for (size_t i = 0; i < rows.nrows; i++) {
        const char *sch = sl_rows_get(&rows, i, 0), *tab = sl_rows_get(&rows, i, 1);
        const char *pk = sl_rows_get(&rows, i, 2), *ts = sl_rows_get(&rows, i, 3);
        int pub = strcmp(sch, "public") == 0;
        char name[256];
        if (pub)
            snprintf(name, sizeof name, "%s", tab);
        else
            snprintf(name, sizeof name, "%s_%s", sch, tab);
        fprintf(f, "      - name: ");
        yq(f, name);
        fprintf(f, "\n");
        if (!pub) {
            fprintf(f, "        source_table: ");
            char st[520];
            snprintf(st, sizeof st, "%s.%s", sch, tab);
            yq(f, st);
            fprintf(f, "\n");
        }
        if (pk && ts) {
            fprintf(f, "        kind: incremental        # rows changed since the last run, by %s\n"
                       "        mode: updater\n        primary_key: ",
                    ts);
            emit_list(f, pk);
            char cur[1024];
            snprintf(cur, sizeof cur, "%s,%s", ts, pk);
            fprintf(f, "\n        cursor: ");
            emit_list(f, cur);
            fprintf(f, "\n");
        } else {
            fprintf(f, "        kind: snapshot           # the whole table each run (%s)\n",
                    pk ? "no update-time column" : "no primary key");
            if (pk) {
                fprintf(f, "        primary_key: ");
                emit_list(f, pk);
                fprintf(f, "\n");
            }
        }
    }
    sl_rows_free(&rows);
    return 0;
}

/* ---- the command ---- */

static const char usage[] = "sluice init --from SOURCE [-o FILE]";

int sl_cmd_init(int argc, char **argv)
{
    const char *from = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--from") == 0 || strcmp(a, "-o") == 0) && i + 1 < argc) {
            if (a[1] == 'o')
                out = argv[++i];
            else
                from = argv[++i];
        } else if (strncmp(a, "--from=", 7) == 0) {
            from = a + 7;
        } else {
            fprintf(stderr, "sluice: init: unexpected \"%s\"\nusage: %s\n", a, usage);
            return 2;
        }
    }
    if (!from) {
        fprintf(stderr, "sluice: init: --from is needed\nusage: %s\n", usage);
        return 2;
    }
    FILE *f = stdout;
    char tmp[PATH_MAX];
    if (out) {
        /* refuse to overwrite: the config is written aside and linked in */
        snprintf(tmp, sizeof tmp, "%s.init.%ld", out, (long)getpid());
        f = fopen(tmp, "wx");
        if (!f) {
            fprintf(stderr, "sluice: init: %s: %m\n", tmp);
            return 1;
        }
        if (access(out, F_OK) == 0) {
            fprintf(stderr, "sluice: init: %s exists; not overwritten\n", out);
            fclose(f);
            unlink(tmp);
            return 2;
        }
    }
    int db = strncmp(from, "postgresql://", 13) == 0 || strncmp(from, "postgres://", 11) == 0;
    int rc = db ? init_pg(f, from) : init_dir(f, from);
    if (out) {
        int bad = fflush(f) != 0 || ferror(f);
        if (fclose(f) != 0)
            bad = 1;
        if (rc == 0 && bad) {
            fprintf(stderr, "sluice: init: %s: cannot write: %m\n", tmp);
            rc = 1;
        }
        if (rc == 0 && link(tmp, out) < 0) {
            fprintf(stderr, "sluice: init: %s: %m%s\n", out,
                    access(out, F_OK) == 0 ? " (it exists; not overwritten)" : "");
            rc = 2;
        }
        unlink(tmp);
        if (rc == 0)
            fprintf(stderr, "sluice: init: wrote %s; check it with: sluice check %s\n", out, out);
    } else if (fflush(stdout) != 0) {
        fprintf(stderr, "sluice: init: cannot write the config: %m\n");
        rc = 1;
    }
    return rc;
}
