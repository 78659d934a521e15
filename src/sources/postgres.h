/* sources/postgres.h: what the postgres source (postgres.c) shares with its
 * change data capture variant (cdc.c): the `source:` block's keys, and a
 * table's handle used for the first copy (in the slot's exported snapshot),
 * reconcile and repair. Only the sources layer includes this. */
#ifndef SL_SOURCES_POSTGRES_H
#define SL_SOURCES_POSTGRES_H

#include <stdint.h>

#include "base/cfgmap.h"
#include "pg/pg.h"
#include "sources/source.h"

struct sl_pg_cdc_cfg {
    char *slot;
    char *publication;
    int64_t max_retained;   /* bytes of WAL the slot may keep before an alert; 0 = none */
    double max_lag;         /* seconds the oldest unconfirmed change may wait; 0 = none */
};

struct sl_pg_source_cfg {
    char *connection;
    char *timezone;
    long parallel;
    struct sl_pg_cdc_cfg cdc;
    int cdc_given;
};

extern const struct sl_cfg_key sl_pg_source_keys[];
extern const struct sl_source_block sl_pg_source_blocks[];

/* The source table of t as the source reads it, quoted ("sales"."orders"
 * for source_table sales.orders, "customers" for a table without one,
 * found through the search path); sl_free it, NULL = out of memory. */
char *sl_pg_source_table_of(const struct sl_table_cfg *t);

/* The next whole-table batch of handle s (opened by sl_source_postgres)
 * reads in `snapshot` (a name CREATE_REPLICATION_SLOT exported); -1 when
 * the name is not one or memory ran out. */
int sl_pg_source_use_snapshot(struct sl_source *s, const char *snapshot);
/* The source table, quoted; the handle's connection (connected by
 * sl_pg_source_ready). */
const char *sl_pg_source_table(const struct sl_source *s);
struct sl_pg *sl_pg_source_conn(struct sl_source *s);
int sl_pg_source_ready(struct sl_source *s, struct sl_err *err);

/* What cdc pipeline p needs of its source (sources/cdc_probe.c), looked at
 * through `admin`, a connection to it (made here when not connected,
 * waiting `timeout` seconds, as is the replication connection it tries):
 * for `sluice check` (sl_source_cdc.probe) and before the stream starts. */
int sl_cdc_probe(const struct sl_config *c, const struct sl_pipeline_cfg *p, struct sl_pg *admin,
                 const char *timeout, struct sl_probe *out, struct sl_err *err);
/* The cdc source's slot_state and slot_drop (source.h), in cdc_slot.c. */
int sl_cdc_slot_state(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                      int publication, int timeout_s, struct sl_slot_state *out,
                      struct sl_err *err);
int sl_cdc_slot_drop(const struct sl_config *c, const struct sl_pipeline_cfg *p,
                     struct sl_slot_drop *out, struct sl_err *err);

#endif
