/* pg/pgoutput.h: the logical replication protocol of PostgreSQL's pgoutput
 * plugin (protocol version 1), decoded from the bytes a replication
 * connection hands out (PQgetCopyData on START_REPLICATION ... LOGICAL).
 *
 * Two layers, both pure (no I/O, no allocation beyond what is said):
 *   - the CopyBoth frame: 'w' XLogData (start LSN, end LSN, send time, the
 *     payload: one pgoutput message) and 'k' primary keepalive (end LSN,
 *     send time, reply requested); sl_pgo_frame.
 *   - the pgoutput message in an XLogData payload: Begin, Commit, Origin,
 *     Relation, Type, Insert, Update, Delete, Truncate, Message; sl_pgo_msg.
 *
 * Decoded messages point into the buffer they were decoded from (no copy):
 * valid while that buffer is. Every length is checked against the bytes
 * there: a short or malformed message is an error naming the byte offset,
 * never a read past the end. */
#ifndef SL_PGOUTPUT_H
#define SL_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef uint64_t sl_lsn;

/* "16/B374D848" <-> LSN. sl_lsn_parse: 0 ok, -1 not an LSN (each half 1 to
 * 8 hex digits, either case, as pg_lsn reads them; nothing else around them).
 * sl_lsn_format writes upper case, as PostgreSQL prints them. */
int sl_lsn_parse(const char *s, sl_lsn *out);
void sl_lsn_format(sl_lsn l, char out[24]);

/* ---- CopyBoth frames ---- */

enum sl_pgo_frame_kind { SL_PGO_XLOGDATA = 'w', SL_PGO_KEEPALIVE = 'k' };

struct sl_pgo_frame {
    enum sl_pgo_frame_kind kind;
    sl_lsn start;           /* 'w': WAL start of this data */
    sl_lsn end;             /* 'w': current end of WAL on the server; 'k': the same */
    int64_t send_time;      /* microseconds since 2000-01-01 UTC */
    int reply;              /* 'k': 1 = the server asks for a status update now */
    const unsigned char *data;  /* 'w': the pgoutput message */
    size_t len;
};

/* Decode one frame of len bytes: 0, or -1 with err (SL_E_SOURCE) naming the
 * offset. An unknown frame kind, and a keepalive with bytes after it, are
 * errors; an XLogData payload is not looked at (sl_pgo_decode does). */
int sl_pgo_frame(const unsigned char *buf, size_t len, struct sl_pgo_frame *out,
                 struct sl_err *err);

/* The standby status update ('r') that confirms `written`, `flushed`,
 * `applied` at `now` (microseconds since 2000-01-01 UTC), 34 bytes into
 * out; reply = ask the server to answer at once. Returns 34. */
size_t sl_pgo_status_update(unsigned char out[34], sl_lsn written, sl_lsn flushed,
                            sl_lsn applied, int64_t now, int reply);

/* Microseconds since 2000-01-01 UTC (the protocol's clock) from the system's. */
int64_t sl_pgo_now(void);

/* ---- pgoutput messages ---- */

enum sl_pgo_kind {
    SL_PGO_BEGIN = 'B',
    SL_PGO_COMMIT = 'C',
    SL_PGO_ORIGIN = 'O',
    SL_PGO_RELATION = 'R',
    SL_PGO_TYPE = 'Y',
    SL_PGO_INSERT = 'I',
    SL_PGO_UPDATE = 'U',
    SL_PGO_DELETE = 'D',
    SL_PGO_TRUNCATE = 'T',
    SL_PGO_MESSAGE = 'M',
};

/* One column value of a tuple. */
enum sl_pgo_val {
    SL_PGO_NULL = 'n',
    SL_PGO_UNCHANGED = 'u',     /* an unchanged TOASTed value: not sent */
    SL_PGO_TEXT = 't',          /* text form in data/len (not NUL-terminated) */
    SL_PGO_BINARY = 'b',        /* binary form (only with the binary option) */
};

/* data/len: NULL/0 for 'n' and 'u' */
struct sl_pgo_value {
    enum sl_pgo_val kind;
    const char *data;
    size_t len;
};

/* A tuple: ncols values, in the caller's scratch (struct sl_pgo_scratch,
 * grown as needed), pointing into the decoded buffer. */
struct sl_pgo_tuple {
    uint16_t ncols;
    struct sl_pgo_value *vals;
};

struct sl_pgo_column {
    int key;                /* part of the replica identity (flag 1) */
    const char *name;       /* NUL-terminated in the buffer */
    uint32_t type_oid;
    int32_t typmod;
};

struct sl_pgo_msg {
    enum sl_pgo_kind kind;
    union {
        struct { sl_lsn final_lsn; int64_t commit_time; uint32_t xid; } begin;
        struct { uint8_t flags; sl_lsn commit_lsn; sl_lsn end_lsn; int64_t commit_time; } commit;
        struct { sl_lsn lsn; const char *name; } origin;
        struct {
            uint32_t oid;
            const char *nspname;        /* "" = pg_catalog */
            const char *relname;
            char replident;             /* 'd' default, 'n' nothing, 'f' full, 'i' index */
            uint16_t ncols;
            struct sl_pgo_column *cols; /* in the caller's scratch */
        } relation;
        struct { uint32_t oid; const char *nspname; const char *name; } type;
        struct {
            uint32_t oid;
            struct sl_pgo_tuple new_tuple;
        } insert;
        struct {
            uint32_t oid;
            char old_kind;              /* 0 none, 'K' key only, 'O' whole old row */
            struct sl_pgo_tuple old_tuple;
            struct sl_pgo_tuple new_tuple;
        } update;
        struct {
            uint32_t oid;
            char old_kind;              /* 'K' or 'O' */
            struct sl_pgo_tuple old_tuple;
        } del;
        struct {
            uint32_t nrels;
            uint8_t options;            /* 1 CASCADE, 2 RESTART IDENTITY */
            const unsigned char *oids;  /* nrels big-endian uint32s: sl_pgo_truncate_oid */
        } truncate;
        struct {
            uint8_t flags;              /* 1 = transactional (sent only with the
                                           messages option) */
            sl_lsn lsn;
            const char *prefix;
            const char *content;
            uint32_t len;
        } message;
    } u;
};

/* Scratch the decoder writes columns and values into, owned by the caller
 * (grown by sl_pgo_decode as needed; free with sl_pgo_scratch_free). */
struct sl_pgo_scratch {
    struct sl_pgo_column *cols;
    size_t ncols_cap;
    struct sl_pgo_value *vals;      /* old tuple's values, then the new one's */
    size_t nvals_cap;
};
void sl_pgo_scratch_free(struct sl_pgo_scratch *s);

/* Decode one pgoutput message (an XLogData payload). 0, or -1 with err
 * (SL_E_SOURCE, "pgoutput: ... at byte N") for malformed input (short; an
 * unknown kind, tag or replica identity; bytes left after the message),
 * SL_E_NOMEM when scratch cannot grow (scratch stays valid). Pointers in
 * *out point into buf and scratch: the next decode with the same scratch
 * overwrites its columns and values, so a caller that keeps a Relation
 * copies it. Column flags other than 1 are ignored. */
int sl_pgo_decode(const unsigned char *buf, size_t len, struct sl_pgo_scratch *scratch,
                  struct sl_pgo_msg *out, struct sl_err *err);

/* Relation i (0-based, i < nrels) of a Truncate message. */
uint32_t sl_pgo_truncate_oid(const struct sl_pgo_msg *m, uint32_t i);

#endif
