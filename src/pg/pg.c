/* pg/pg.c: what a libpq failure means (see pg.h). */
#include "pg/pg.h"

#include <stdio.h>
#include <string.h>

#include "base/redact.h"

int sl_pg_transient(const char *st)
{
    if (!st)
        return 0;
    /* class 53 (disk full, out of memory, too many connections) and class 58
     * (I/O error) are the server's resources, not the batch: the same batch
     * loads once space or memory is back */
    return strncmp(st, "08", 2) == 0 || strcmp(st, "40001") == 0 ||
           strcmp(st, "40P01") == 0 || strncmp(st, "57P0", 4) == 0 ||
           strncmp(st, "53", 2) == 0 || strncmp(st, "58", 2) == 0 ||
           strcmp(st, "55P03") == 0;
}

int sl_pg_failure_transient(const PGconn *conn, const PGresult *res)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (sl_pg_transient(st) || !conn || PQstatus(conn) != CONNECTION_OK)
        return 1;
    return !st || !*st;
}

void sl_pg_message(const PGconn *conn, const PGresult *res, char *out, size_t cap)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = conn ? PQerrorMessage(conn) : "not connected";
    /* libpq echoes parts of the conninfo (a malformed URI whole) */
    sl_redact(msg && *msg ? msg : "unknown error", out, cap);
    for (size_t n = strlen(out); n && (out[n - 1] == '\n' || out[n - 1] == ' '); n--)
        out[n - 1] = '\0';
}

int sl_pg_conninfo_check(const char *conninfo, char *why, size_t cap)
{
    char *errmsg = NULL;
    const char *sep = strstr(conninfo, "://");
    if (sep && (strncmp(conninfo, "postgresql://", 13) == 0 ||
                strncmp(conninfo, "postgres://", 11) == 0)) {
        /* libpq ends the user info at the first '@': a second one means an
         * '@' in the user name or password, and the rest of the password
         * would be read as the host, and echoed */
        size_t span = strcspn(sep + 3, "?#");
        const char *first = memchr(sep + 3, '@', span);
        if (first && memchr(first + 1, '@', span - (size_t)(first + 1 - (sep + 3)))) {
            snprintf(why, cap, "there is an '@' in the user name or password:"
                     " percent-encode it (%%40)");
            return -1;
        }
    }
    PQconninfoOption *opts = PQconninfoParse(conninfo, &errmsg);
    if (opts) {
        /* libpq reads the port only when it connects, and echoes it then:
         * "u:pa/ss@h" parses as host u, port "pa" (the password's start) */
        int bad_port = 0;
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (strcmp(o->keyword, "port") == 0 && o->val)
                bad_port = o->val[strspn(o->val, "0123456789, ")] != '\0';
        PQconninfoFree(opts);
        if (!bad_port)
            return 0;
        snprintf(why, cap, "the port is not a number (is there a '/', '@' or ':' in the user "
                 "name or password? percent-encode it: %%2F, %%40, %%3A)");
        return -1;
    }
    sl_redact(errmsg ? errmsg : "out of memory", why, cap);
    PQfreemem(errmsg);
    for (size_t n = strlen(why); n && (why[n - 1] == '\n' || why[n - 1] == ' '); n--)
        why[n - 1] = '\0';
    return -1;
}
