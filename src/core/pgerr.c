/* core/pgerr.c: see pgerr.h. */
#include "core/pgerr.h"

#include <stdio.h>
#include <string.h>

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

void sl_pg_message(const PGconn *conn, const PGresult *res, char *out, size_t cap)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg)
        msg = conn ? PQerrorMessage(conn) : "not connected";
    snprintf(out, cap, "%s", msg && *msg ? msg : "unknown error");
    for (size_t n = strlen(out); n && (out[n - 1] == '\n' || out[n - 1] == ' '); n--)
        out[n - 1] = '\0';
}
