/* pg/conn.c: connecting, running SQL and reading results (see pg.h). */
#include "pg/pg.h"
#include "pg/repl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static int connect_as(struct sl_pg *pg, const char *url, const char *password, const char *app,
                      const char *connect_timeout, const char *replication, char *why,
                      size_t cap)
{
    const char *keys[7] = {"dbname", "application_name"};
    const char *vals[7] = {url, app};
    int nk = 2;
    if (replication) {
        /* values decoded from the WAL print in the walsender's settings:
         * UTC and ISO, so they read as the COPY of a table does */
        keys[nk] = "replication";
        vals[nk++] = replication;
        keys[nk] = "options";
        vals[nk++] = "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3";
    }
    if (password) {
        keys[nk] = "password";
        vals[nk++] = password;
    }
    if (connect_timeout) {
        keys[nk] = "connect_timeout";
        vals[nk++] = connect_timeout;
    }
    keys[nk] = vals[nk] = NULL;
    sl_pg_close(pg);
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        snprintf(why, cap, "%s", pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        for (size_t n = strlen(why); n && why[n - 1] == '\n'; n--)
            why[n - 1] = '\0';
        sl_pg_close(pg);
        return -1;
    }
    PQsetNoticeProcessor(pg->conn, NULL, NULL);
    return 0;
}

int sl_pg_connect(struct sl_pg *pg, const char *url, const char *password, const char *app,
                  const char *connect_timeout, char *why, size_t cap)
{
    return connect_as(pg, url, password, app, connect_timeout, NULL, why, cap);
}

int sl_pg_connect_repl(struct sl_pg *pg, const char *url, const char *password, const char *app,
                       const char *connect_timeout, char *why, size_t cap)
{
    return connect_as(pg, url, password, app, connect_timeout, "database", why, cap);
}

void sl_pg_close(struct sl_pg *pg)
{
    PQfinish(pg->conn);
    pg->conn = NULL;
}

int sl_pg_fail(const struct sl_pg *pg, const PGresult *res, struct sl_err *err,
               const char *what)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    int (*set)(struct sl_err *, enum sl_errcode, const char *, ...) =
        sl_pg_failure_transient(pg->conn, res) ? sl_err_retry : sl_err_set;
    char clean[1024];

    sl_pg_message(pg->conn, res, clean, sizeof clean);
    if (pg->where)
        set(err, pg->code, "%s: %s: %s", pg->where, what, clean);
    else
        set(err, pg->code, "%s: %s", what, clean);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", st ? st : "");
    return -1;
}

static int ran(const PGresult *res)
{
    ExecStatusType s = PQresultStatus(res);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

int sl_pg_run(struct sl_pg *pg, const char *sql, struct sl_err *err, const char *what)
{
    int64_t rows;
    return sl_pg_run_count(pg, sql, &rows, err, what);
}

int sl_pg_run_count(struct sl_pg *pg, const char *sql, int64_t *rows, struct sl_err *err,
                    const char *what)
{
    PGresult *res = PQexec(pg->conn, sql);
    int rc = ran(res) ? 0 : sl_pg_fail(pg, res, err, what);
    if (rc == 0)
        *rows = sl_pg_cmd_tuples(res);
    PQclear(res);
    return rc;
}

int sl_pg_query(struct sl_pg *pg, const char *sql, int n, const char *const *params,
                PGresult **out, struct sl_err *err, const char *what)
{
    PGresult *res = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (!ran(res)) {
        sl_pg_fail(pg, res, err, what);
        PQclear(res);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

int sl_pg_exec(struct sl_pg *pg, const char *sql, int n, const char *const *params,
               struct sl_rows *out, struct sl_err *err, const char *what)
{
    PGresult *res;
    if (sl_pg_query(pg, sql, n, params, &res, err, what) < 0)
        return -1;
    int rc = out && sl_pg_rows(res, out) < 0 ? sl_err_set(err, SL_E_NOMEM, "out of memory") : 0;
    PQclear(res);
    return rc;
}

int sl_pg_value(struct sl_pg *pg, const char *sql, const char *param, char **out,
                struct sl_err *err)
{
    struct sl_rows r;
    const char *p[] = {param};
    *out = NULL;
    if (sl_pg_exec(pg, sql, param ? 1 : 0, param ? p : NULL, &r, err, "query failed") < 0)
        return -1;
    if (r.nrows > 0 && r.ncols > 0 && sl_rows_get(&r, 0, 0)) {
        *out = sl_strdup(sl_rows_get(&r, 0, 0));
        if (!*out) {
            sl_rows_free(&r);
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    sl_rows_free(&r);
    return 0;
}

int sl_pg_rows(const PGresult *res, struct sl_rows *out)
{
    size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
    memset(out, 0, sizeof *out);
    out->names = sl_calloc(nc ? nc : 1, sizeof(char *));
    out->cells = sl_calloc((nr * nc) > 0 ? nr * nc : 1, sizeof(char *));
    if (!out->names || !out->cells) {
        sl_rows_free(out);
        return -1;
    }
    out->ncols = nc;
    out->nrows = nr;
    for (size_t j = 0; j < nc; j++)
        if (!(out->names[j] = sl_strdup(PQfname(res, (int)j)))) {
            sl_rows_free(out);
            return -1;
        }
    for (size_t i = 0; i < nr; i++)
        for (size_t j = 0; j < nc; j++)
            if (!PQgetisnull(res, (int)i, (int)j) &&
                !(out->cells[i * nc + j] = sl_strdup(PQgetvalue(res, (int)i, (int)j)))) {
                sl_rows_free(out);
                return -1;
            }
    return 0;
}

int64_t sl_pg_cmd_tuples(const PGresult *res)
{
    const char *t = PQcmdTuples((PGresult *)res);
    return (t && *t) ? strtoll(t, NULL, 10) : 0;
}
