/* destinations/destination.h: what every destination (postgres, sqlite) provides.
 *
 * The engine drives one transaction per batch: begin, lock the table, make
 * sure it exists with the right columns, stream the rows (load_begin,
 * load_row..., load_end does the kind's merge or swap), write the ledger
 * through exec(), commit (docs/invariants.md #2: rows, ledger and cursor commit in one
 * destination transaction). Values only ever travel as COPY data or bound
 * parameters, identifiers only through the destination's quoting
 * (docs/invariants.md #5). Calls classify failures in err->cls: SL_RETRY for
 * transient ones (connection lost, serialization failure, busy database). */
#ifndef SL_DESTINATION_H
#define SL_DESTINATION_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/value.h"
#include "model/dialect.h"
#include "model/schema.h"

struct sl_dest;
struct sl_buf;

/* APPEND: insert every row. VERSIONED: per primary key the highest
 * version_key wins (ties keep the stored row). SNAPSHOT: the rows are the
 * whole table, swapped in. UPSERT: per primary key the batch's row replaces
 * the stored one (incremental `updater` replication: the source is the truth;
 * within a batch the last row of a key wins). */
enum sl_load_mode { SL_LOAD_APPEND, SL_LOAD_VERSIONED, SL_LOAD_SNAPSHOT, SL_LOAD_UPSERT, SL_LOAD_CDC };

/* CDC: changes from a database's log, in the order they were made. The
 * load's schema is the target's columns and then these two, which only the
 * load reads: the change (I insert, U update, D delete) and the columns the
 * change did not carry (a JSON array of names, or NULL: an unchanged
 * TOASTed value keeps the value stored, or the one an earlier change of
 * the batch gave the key). Per primary key the batch's last change wins:
 * an insert or update replaces the stored row (an upsert), a delete
 * removes it (hard) or, when the target has SL_DELETED_AT_COL, sets that
 * column to the delete's value there and keeps the row (soft). Every
 * stored row a change replaces or removes goes to the history table first
 * (invariant 3), as the upsert keeps it. Their names are model/schema.h's. */

struct sl_load {
    const char *table;
    enum sl_load_mode mode;
    const struct sl_schema *schema;  /* the columns of each load_row, in order */
    const struct sl_schema *target;  /* the table's full column list */
    const char *const *pk;
    size_t npk;
    const char *version_key;
    int64_t batch_id;
    int skip_existing;      /* APPEND with a primary key: a row whose key is stored
                             * already, or came earlier in the batch, is skipped (not
                             * written, not an error): event sources, where a retried
                             * event must land once */
};

struct sl_load_result {
    int64_t rows_in;         /* rows received */
    int64_t rows_written;    /* inserted or updated */
    int64_t rows_unchanged;  /* versioned: older or equal version than stored */
};

/* DDL that makes one of sluice's tables when it is missing: `steps` in
 * order, each skipped when its `unless` query's first cell is true ("t",
 * or a number other than 0); all of them skipped when the whole one's
 * `unless` is; in a transaction of their own when `transaction`. */
struct sl_ddl_step {
    const char *sql;
    const char *unless;     /* NULL = always run */
};
struct sl_ddl {
    const char *unless;
    int transaction;
    const struct sl_ddl_step *steps;    /* ends with {NULL, NULL} */
};

/* What differs between warehouses, for the engine to use without asking
 * which one it talks to (DESIGN.md: the destination's dialect). */
struct sl_dest_dialect {
    int max_writers;                /* loads at once into one warehouse (SQLite has one
                                     * write lock: 1); 0 = as many as the source asks */
    struct sl_ddl dead_letter;      /* meta table "dead_letter" (engine/deadletter.h) */
    const struct sl_dialect *sql;   /* its SQL, for reconcile (model/dialect.h) */
};

struct sl_dest_ops {
    const char *kind;       /* "postgres", "sqlite": for messages and the registry */
    const struct sl_dest_dialect *dialect;
    /* url as in the config; relative sqlite paths resolve against base_dir */
    int (*connect)(struct sl_dest **out, const char *url, const char *password,
                   const char *base_dir, struct sl_err *err);
    void (*close)(struct sl_dest *d);

    /* The name of one of sluice's own tables ("batches" -> "_sluice"."batches"
     * or "_sluice_batches"), quoted and ready to place in SQL. */
    const char *(*meta_table)(struct sl_dest *d, const char *name);
    /* Create sluice's schema and tables when missing (idempotent, own
     * transaction; call outside a batch transaction). */
    int (*ensure_meta)(struct sl_dest *d, struct sl_err *err);
    /* Run SQL with $1..$n text parameters (NULL = SQL NULL). `out` may be
     * NULL when no rows are wanted. */
    int (*exec)(struct sl_dest *d, const char *sql, int nparams,
                const char *const *params, struct sl_rows *out, struct sl_err *err);

    int (*begin)(struct sl_dest *d, struct sl_err *err);
    int (*commit)(struct sl_dest *d, struct sl_err *err);
    void (*rollback)(struct sl_dest *d);
    /* Inside a transaction: one loader per table at a time. */
    int (*lock_table)(struct sl_dest *d, const char *table, struct sl_err *err);
    /* Outside a transaction: the lease on `table` for one table run, held
     * on this connection across the run's transactions, so two runs (two
     * processes, two daemons sharing the warehouse) never work one table at
     * once. Never waits: 1 = taken, 0 = another connection holds it, -1 =
     * error. It dies with the connection. Keyed by sl_lease_key() of the
     * qualified table name. NULL = the destination has no leases. */
    int (*lease_try)(struct sl_dest *d, const char *table, struct sl_err *err);
    void (*lease_release)(struct sl_dest *d, const char *table);

    /* 1 = table exists and *out holds its columns, 0 = absent, -1 = error. */
    int (*describe)(struct sl_dest *d, const char *table, struct sl_schema *out,
                    struct sl_err *err);
    int (*create_table)(struct sl_dest *d, const char *table, const struct sl_schema *s,
                        const char *const *pk, size_t npk, struct sl_err *err);
    int (*add_column)(struct sl_dest *d, const char *table, const struct sl_column *c,
                      struct sl_err *err);
    /* The name the warehouse stores `name` under (a table name, maybe
     * schema-qualified, when is_table; else a column name), written to out:
     * 1 when it differs from `name`, 0 when stored as it is. May be NULL:
     * every name is stored as given. */
    int (*stored_name)(const char *name, int is_table, char *out, size_t cap);
    /* Inside a transaction, for a table that exists: make it fit to load.
     * A table someone else made (no _sluice_batch) is adopted: it gains
     * _sluice_batch (NULL in the rows it had: they belong to no batch, and
     * no rollback touches them) and its index, *adopted = 1. With npk > 0
     * the load merges rows on `pk`: the table's primary key or a unique
     * index must hold exactly those columns, else an error that says which
     * keys the table has and what to change. */
    int (*fit_table)(struct sl_dest *d, const char *table, const char *const *pk, size_t npk,
                     int *adopted, struct sl_err *err);

    int (*load_begin)(struct sl_dest *d, const struct sl_load *ld, struct sl_err *err);
    int (*load_row)(struct sl_dest *d, const struct sl_cell *cells, struct sl_err *err);
    int (*load_end)(struct sl_dest *d, struct sl_load_result *res, struct sl_err *err);

    /* ---- taking batches back out (engine/rollback.c, engine/snapshot.c) ----
     * Invariant 3: any committed batch can be rolled back. Append rows carry
     * their batch. A versioned load_end keeps, in the batch's transaction,
     * the row images its merge overwrites (strictly older version; every
     * column, _sluice_batch too) in the table's history table, with column
     * "_sluice_replaced_by" = the batch. A snapshot load_end keeps the table
     * it replaces as sluice's table "prev_<batch>", listed in meta table
     * "kept" (batch_id, table_name, name, kept_at); the newest
     * SL_KEEP_PREV per table are kept, older ones dropped. */

    /* Like exec, for statements whose row count matters: *changed = rows
     * inserted, updated or deleted. */
    int (*exec_count)(struct sl_dest *d, const char *sql, int nparams,
                      const char *const *params, int64_t *changed, struct sl_err *err);
    /* One identifier (a column name), quoted, appended to b. */
    void (*quote_ident)(struct sl_buf *b, const char *name);
    /* A data table's name quoted for SQL; sl_free it; NULL = out of memory. */
    char *(*table_sql)(struct sl_dest *d, const char *table);
    /* sluice's own table `name` ("snap_3" -> "_sluice"."snap_3" or
     * "_sluice_snap_3") quoted; sl_free it; NULL = out of memory. */
    char *(*own_table_sql)(struct sl_dest *d, const char *name);
    /* The history table of `table`: *quoted names it (sl_free it either
     * way); 1 = it exists, 0 = not (no versioned load replaced a row yet). */
    int (*hist_table)(struct sl_dest *d, const char *table, char **quoted, struct sl_err *err);
    /* Inside a transaction: put back the table that snapshot batch `batch`
     * replaced (the live table is dropped, the kept one renamed in its place
     * with its primary key and batch index). 1 done, 0 not kept (any more). */
    int (*restore_prev)(struct sl_dest *d, const char *table, int64_t batch,
                        struct sl_err *err);
    /* Inside a transaction: drop the table kept by snapshot batch `batch`
     * (nothing when there is none). */
    int (*drop_prev)(struct sl_dest *d, const char *table, int64_t batch, struct sl_err *err);
    /* Inside a transaction: copy every row of `table` (all columns,
     * _sluice_batch too, values exactly as stored) into a new table of
     * sluice's named `name` ("snap_3"); *rows = rows copied. */
    int (*copy_out)(struct sl_dest *d, const char *table, const char *name, int64_t *rows,
                    struct sl_err *err);
    /* Inside a transaction (`sluice reconcile --repair`): delete the rows of
     * `table` whose columns `key` hold one of `vals` (nvals x nkey canonical
     * texts, row-major, bound as parameters), keeping each deleted row in
     * the history table with "_sluice_replaced_by" = batch, so rolling the
     * batch back puts it back; *deleted = rows deleted. */
    int (*delete_keys)(struct sl_dest *d, const char *table, const char *const *key,
                       size_t nkey, const char *const *vals, size_t nvals, int64_t batch,
                       int64_t *deleted, struct sl_err *err);
};

/* For fit_table: `keys` lists the table's unique keys, one row per column
 * (key id, "t"/"1" when it is the primary key, column name), each key's
 * rows together, the primary key first. 0 when one key holds exactly the
 * columns `pk`; else -1 and err says what the table has and what to do. */
int sl_dest_key_fits(const char *table, const struct sl_rows *keys, const char *const *pk,
                     size_t npk, struct sl_err *err);

/* The lease key of a table: FNV-1a 64 of "sluice:" + its qualified name
 * ("public.orders"), stable across versions and hosts. */
static inline uint64_t sl_lease_key(const char *qualified)
{
    return sl_fnv1a64_str(sl_fnv1a64_str(SL_FNV1A64_SLUICE_INIT, "sluice:"), qualified);
}

/* Snapshot loads keep the previous table of this many newest loads per table. */
#define SL_KEEP_PREV 3

extern const struct sl_dest_ops sl_dest_postgres;
extern const struct sl_dest_ops sl_dest_sqlite;

/* How many of `wanted` loads may write to a warehouse of `ops` at once:
 * wanted, capped at its dialect's max_writers (ops NULL: wanted). */
int sl_dest_writers(const struct sl_dest_ops *ops, int wanted);

/* Pick by URL scheme (postgresql://, postgres://, sqlite://). */
const struct sl_dest_ops *sl_dest_for_url(const char *url, struct sl_err *err);
/* Connect by URL; sets *ops too. */
int sl_dest_open(const char *url, const char *password, const char *base_dir,
                 const struct sl_dest_ops **ops, struct sl_dest **out, struct sl_err *err);

#endif
