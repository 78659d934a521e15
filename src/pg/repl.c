/* pg/repl.c: see repl.h. Slot and publication names are checked to be
 * plain identifiers (sl_pg_slot_name_ok) before they are written into
 * replication commands, which take no parameters; they are quoted too. */
#include "pg/repl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pg/quote.h"

int sl_pg_slot_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return 0;
    return 1;
}

int sl_pg_create_slot(struct sl_pg *pg, const char *name, int temporary, int export,
                      struct sl_pg_slot *out, struct sl_err *err)
{
    char sql[256];
    memset(out, 0, sizeof *out);
    if (!sl_pg_slot_name_ok(name))
        return sl_err_set(err, SL_E_CONFIG, "slot name \"%s\": use lower-case letters, digits"
                          " and underscores", name);
    snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT \"%s\"%s LOGICAL pgoutput (SNAPSHOT '%s')",
             name, temporary ? " TEMPORARY" : "", export ? "export" : "nothing");
    PGresult *res = PQexec(pg->conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
        sl_pg_fail(pg, res, err, "could not create the replication slot");
        PQclear(res);
        return -1;
    }
    int rc = sl_lsn_parse(PQgetvalue(res, 0, 1), &out->consistent);
    if (export && !PQgetisnull(res, 0, 2))
        snprintf(out->snapshot, sizeof out->snapshot, "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    if (rc < 0)
        return sl_err_set(err, SL_E_SOURCE, "the server's slot has no consistent point");
    return 0;
}

int sl_pg_identify_system(struct sl_pg *pg, struct sl_pg_system *out, struct sl_err *err)
{
    memset(out, 0, sizeof *out);
    PGresult *res = PQexec(pg->conn, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4) {
        sl_pg_fail(pg, res, err, "IDENTIFY_SYSTEM failed");
        PQclear(res);
        return -1;
    }
    snprintf(out->systemid, sizeof out->systemid, "%s", PQgetvalue(res, 0, 0));
    out->timeline = (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    int rc = sl_lsn_parse(PQgetvalue(res, 0, 2), &out->xlogpos);
    if (!PQgetisnull(res, 0, 3))
        snprintf(out->dbname, sizeof out->dbname, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    if (rc < 0)
        return sl_err_set(err, SL_E_SOURCE, "IDENTIFY_SYSTEM gave no WAL position");
    return 0;
}

int sl_pg_start_stream(struct sl_pg *pg, const char *slot, sl_lsn from, const char *publication,
                       struct sl_err *err)
{
    char sql[512], at[24];
    if (!sl_pg_slot_name_ok(slot) || !sl_pg_slot_name_ok(publication))
        return sl_err_set(err, SL_E_CONFIG, "slot \"%s\" / publication \"%s\": use lower-case"
                          " letters, digits and underscores", slot, publication);
    sl_lsn_format(from, at);
    snprintf(sql, sizeof sql, "START_REPLICATION SLOT \"%s\" LOGICAL %s (proto_version '1',"
             " publication_names '\"%s\"')", slot, at, publication);
    PGresult *res = PQexec(pg->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_BOTH) {
        sl_pg_fail(pg, res, err, "could not start streaming the slot");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

int sl_pg_stream_read(struct sl_pg *pg, int timeout_ms, char **buf, int *len,
                      struct sl_err *err)
{
    *buf = NULL;
    *len = 0;
    for (;;) {
        int n = PQgetCopyData(pg->conn, buf, 1);
        if (n > 0) {
            *len = n;
            return 1;
        }
        if (n == -2 || n == -1) {
            /* -1: the server ended the stream (its result says why) */
            PGresult *res = PQgetResult(pg->conn);
            sl_pg_fail(pg, res && PQresultStatus(res) == PGRES_FATAL_ERROR ? res : NULL, err,
                       "the replication stream ended");
            PQclear(res);
            err->cls = SL_RETRY;
            return -1;
        }
        if (timeout_ms <= 0)
            return 0;
        struct pollfd p = {PQsocket(pg->conn), POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno != EINTR)
            return sl_err_retry(err, SL_E_SOURCE, "replication stream: poll: %s",
                                strerror(errno));
        if (r <= 0)
            return 0;
        if (PQconsumeInput(pg->conn) != 1) {
            sl_pg_fail(pg, NULL, err, "the replication stream broke");
            err->cls = SL_RETRY;
            return -1;
        }
        timeout_ms = 0;     /* read what came; the caller waits again */
    }
}

int sl_pg_stream_confirm(struct sl_pg *pg, sl_lsn flushed, int reply, struct sl_err *err)
{
    unsigned char msg[34];
    size_t n = sl_pgo_status_update(msg, flushed, flushed, flushed, sl_pgo_now(), reply);
    if (PQputCopyData(pg->conn, (const char *)msg, (int)n) != 1 || PQflush(pg->conn) != 0) {
        sl_pg_fail(pg, NULL, err, "could not confirm the stream's position");
        err->cls = SL_RETRY;
        return -1;
    }
    return 0;
}
