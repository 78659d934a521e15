/* pg/repl.h: a logical replication connection (replication=database):
 * slots, the stream of one slot, and the status updates that confirm what
 * the warehouse holds. The messages themselves are pg/pgoutput.h's. */
#ifndef SL_PG_REPL_H
#define SL_PG_REPL_H

#include "pg/pg.h"
#include "pg/pgoutput.h"

/* sl_pg_connect with replication=database. */
int sl_pg_connect_repl(struct sl_pg *pg, const char *url, const char *password, const char *app,
                       const char *connect_timeout, char *why, size_t cap);

/* IDENTIFY_SYSTEM: what the server says of itself on a replication
 * connection (the database it is for: "" on a physical one). */
struct sl_pg_system {
    char systemid[32];
    int timeline;
    sl_lsn xlogpos;
    char dbname[64];
};
int sl_pg_identify_system(struct sl_pg *pg, struct sl_pg_system *out, struct sl_err *err);

/* CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput, exporting a
 * snapshot when `export` (valid while this connection stays idle): the LSN
 * the slot's stream starts after, and the snapshot's name. */
struct sl_pg_slot {
    sl_lsn consistent;
    char snapshot[64];      /* "" when not exported */
};
int sl_pg_create_slot(struct sl_pg *pg, const char *name, int temporary, int export,
                      struct sl_pg_slot *out, struct sl_err *err);

/* START_REPLICATION SLOT name LOGICAL from (proto_version '1',
 * publication_names 'publication'). */
int sl_pg_start_stream(struct sl_pg *pg, const char *slot, sl_lsn from, const char *publication,
                       struct sl_err *err);

/* The next CopyBoth frame, waiting at most timeout_ms: 1 = *buf (PQfreemem
 * it) holds len bytes, 0 = nothing within the time, -1 = error (the stream
 * ended or the connection broke: SL_RETRY). */
int sl_pg_stream_read(struct sl_pg *pg, int timeout_ms, char **buf, int *len,
                      struct sl_err *err);

/* Tell the server everything up to `flushed` is safe (written, flushed and
 * applied alike): the slot may let that WAL go (0, or a position below the
 * slot's, moves nothing). `reply`: ask it to answer at once with a
 * keepalive saying where its stream stands. */
int sl_pg_stream_confirm(struct sl_pg *pg, sl_lsn flushed, int reply, struct sl_err *err);

/* 1 when `name` is a valid slot (and here publication) name: lower-case
 * letters, digits and underscores, 1 to 63 of them. */
int sl_pg_slot_name_ok(const char *name);

#endif
