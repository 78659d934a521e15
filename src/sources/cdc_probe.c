/* sources/cdc_probe.c: what a cdc pipeline needs of its PostgreSQL source,
 * looked at there, one line a thing (struct sl_probe): wal_level; room for
 * its slot and a WAL sender; a role that may replicate, and a replication
 * connection the server lets in (IDENTIFY_SYSTEM); each table found as the
 * config names it, with USAGE on its schema and SELECT; its replica
 * identity against the config's primary key; the publication (there and
 * complete, or one sluice may make or complete itself); the slot (pgoutput,
 * this database). A missing line carries the SQL that fixes it where there
 * is one.
 *
 * `sluice check` prints the lines (sl_source_cdc.probe); the stream looks
 * the same way before it starts (cdc.c) and refuses with the missing lines'
 * words. Names in the fixes are the server's own quoting (quote_ident,
 * format('%I.%I')), so each reads back as the object it names; only
 * catalogs are read (no regclass cast, which fails outright on a schema
 * the role may not use). */
#include "sources/source.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "pg/repl.h"
#include "sources/postgres.h"

static const char ROLE_SQL[] =
    "SELECT quote_ident(current_user), r.rolsuper OR r.rolreplication, r.rolsuper,"
    "       current_setting('wal_level'), current_setting('max_replication_slots')::int,"
    "       (SELECT count(*) FROM pg_replication_slots),"
    "       current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication),"
    "       has_database_privilege(current_database(), 'CREATE'),"
    "       quote_ident(current_database()), current_setting('server_version')"
    "  FROM pg_roles r WHERE r.rolname = current_user";

static const char SLOT_SQL[] =
    "SELECT slot_type, coalesce(plugin, ''), coalesce(database::text, ''),"
    "       coalesce(database = current_database(), false), active_pid"
    "  FROM pg_replication_slots WHERE slot_name = $1";

/* The table as the source reads it: $1 is its quoted name (one part: found
 * through the search path, as an unqualified name is), $2 the config's
 * primary key as a JSON array. The key columns are the replica identity's
 * when it is an index or the primary key. The last column: a unique
 * index (valid, not partial, no expression) lies within $2's columns. */
static const char TABLE_SQL[] =
    "WITH want AS (SELECT parse_ident($1) AS p),"
    " t AS (SELECT c.oid, n.oid AS nsp, n.nspname, c.relname, c.relowner, c.relreplident"
    "         FROM want, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "        WHERE c.relkind IN ('r', 'p') AND c.relname = p[cardinality(p)]"
    "          AND CASE WHEN cardinality(p) = 2 THEN n.nspname = p[1]"
    "                   ELSE n.nspname = ANY (current_schemas(false)) END"
    "        ORDER BY array_position(current_schemas(false), n.nspname::text) LIMIT 1)"
    "SELECT format('%I.%I', nspname, relname), quote_ident(nspname), nspname, relname,"
    "       has_schema_privilege(nsp, 'USAGE'), has_table_privilege(oid, 'SELECT'),"
    "       pg_has_role(relowner, 'USAGE'), quote_ident(pg_get_userbyid(relowner)),"
    "       relreplident,"
    "       (SELECT coalesce(json_agg(a.attname ORDER BY array_position(i.indkey::int2[],"
    "                                                                  a.attnum)), '[]')"
    "          FROM pg_index i JOIN pg_attribute a"
    "            ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
    "         WHERE i.indrelid = t.oid AND i.indisprimary),"
    "       (SELECT coalesce(json_agg(a.attname ORDER BY array_position(i.indkey::int2[],"
    "                                                                  a.attnum)), '[]')"
    "          FROM pg_index i JOIN pg_attribute a"
    "            ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
    "         WHERE i.indrelid = t.oid AND i.indisreplident),"
    "       (SELECT quote_ident(c.relname) FROM pg_index i JOIN pg_class c"
    "            ON c.oid = i.indexrelid WHERE i.indrelid = t.oid AND i.indisreplident),"
    "       (SELECT coalesce(json_agg(attname ORDER BY attnum), '[]') FROM pg_attribute"
    "         WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped),"
    "       (SELECT count(*) FROM pg_attribute WHERE attrelid = t.oid AND attnum > 0"
    "           AND NOT attisdropped AND attgenerated = ''),"
    "       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND i.indisunique"
    "                  AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL"
    "                  AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) WITH ORDINALITY k(att, n)"
    "                       WHERE k.n <= i.indnkeyatts AND NOT EXISTS ("
    "                             SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid"
    "                                AND a.attnum = k.att AND a.attname IN"
    "                                    (SELECT json_array_elements_text($2::json)))))"
    "  FROM t";

enum {
    T_QNAME, T_NSP_Q, T_NSP, T_REL, T_USAGE, T_SELECT, T_OWNS, T_OWNER, T_IDENT, T_PK,
    T_IDENT_COLS, T_IDENT_INDEX, T_COLS, T_PUBLISHED_COLS, T_UNIQUE,
};

static const char PUB_SQL[] =
    "SELECT quote_ident(pubname), pg_has_role(pubowner, 'USAGE'),"
    "       quote_ident(pg_get_userbyid(pubowner)), puballtables, pubinsert, pubupdate,"
    "       pubdelete, pubtruncate"
    "  FROM pg_publication WHERE pubname = $1";

/* A table in the publication: whether a row filter or a column list keeps
 * some of it out (attnames holds every published column). */
static const char PUB_TABLE_SQL[] =
    "SELECT rowfilter IS NOT NULL, cardinality(attnames) FROM pg_publication_tables"
    " WHERE pubname = $1 AND schemaname = $2 AND tablename = $3";

/* One table of the pipeline as found. */
struct ptable {
    const struct sl_table_cfg *t;
    struct sl_rows r;       /* TABLE_SQL's row; nrows 0 = not found */
};

static const char *cell(const struct sl_rows *r, size_t col)
{
    const char *v = r->nrows ? sl_rows_get(r, 0, col) : NULL;
    return v ? v : "";
}

static int yes(const struct sl_rows *r, size_t col)
{
    return strcmp(cell(r, col), "t") == 0;
}

/* "a, b" of a JSON array of names. */
static void names_text(struct sl_buf *b, json_t *a)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        sl_buf_printf(b, "%s%s", i ? ", " : "", json_string_value(json_array_get(a, i)));
}

static int has_name(json_t *a, const char *name)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strcmp(json_string_value(json_array_get(a, i)), name) == 0)
            return 1;
    return 0;
}

static const char *key_text(const struct sl_table_cfg *t, struct sl_buf *b)
{
    sl_buf_reset(b);
    for (size_t k = 0; k < t->primary_key.n; k++)
        sl_buf_printf(b, "%s%s", k ? ", " : "", t->primary_key.items[k]);
    return b->data ? b->data : "";
}

/* ---- the server and the role ---- */

static void probe_server(const struct sl_rows *role, int slot_exists, struct sl_probe *out)
{
    char fix[160];
    const char *wal = cell(role, 3);
    if (strcmp(wal, "logical") == 0)
        sl_probe_add(out, "wal_level", NULL, SL_PROBE_OK, NULL, "wal_level is logical");
    else
        sl_probe_add(out, "wal_level", NULL, SL_PROBE_MISSING,
                     "ALTER SYSTEM SET wal_level = logical;",
                     "wal_level is %s; logical decoding needs logical (set it, then restart the"
                     " server)", wal);

    long max_slots = strtol(cell(role, 4), NULL, 10), slots = strtol(cell(role, 5), NULL, 10);
    long need = slot_exists ? 0 : 1, free_slots = max_slots - slots;
    snprintf(fix, sizeof fix, "ALTER SYSTEM SET max_replication_slots = %ld;",
             slots + need + 1 > 10 ? slots + need + 1 : 10);
    if (free_slots < need)
        sl_probe_add(out, "replication_slots", NULL, SL_PROBE_MISSING, fix,
                     "%ld of %ld replication slots (max_replication_slots) are in use: none is"
                     " free for the pipeline's slot (set it higher, then restart the server)",
                     slots, max_slots);
    else if (free_slots < need + 1)
        sl_probe_add(out, "replication_slots", NULL, SL_PROBE_WARN, fix,
                     "%ld of %ld replication slots (max_replication_slots) are free: a table's"
                     " first copy takes one more for a while, and fails without it",
                     free_slots, max_slots);
    else
        sl_probe_add(out, "replication_slots", NULL, SL_PROBE_OK, NULL,
                     "%ld of %ld replication slots (max_replication_slots) are free%s",
                     free_slots, max_slots,
                     need ? " (the pipeline needs 1, and 1 more while a table is first copied)"
                          : "");

    long max_send = strtol(cell(role, 6), NULL, 10), senders = strtol(cell(role, 7), NULL, 10);
    snprintf(fix, sizeof fix, "ALTER SYSTEM SET max_wal_senders = %ld;",
             senders + 2 > 10 ? senders + 2 : 10);
    if (max_send - senders < 1)
        sl_probe_add(out, "wal_senders", NULL, SL_PROBE_MISSING, fix,
                     "%ld of %ld WAL senders (max_wal_senders) are in use: none is free for the"
                     " pipeline's stream (set it higher, then restart the server)", senders,
                     max_send);
    else
        sl_probe_add(out, "wal_senders", NULL, SL_PROBE_OK, NULL,
                     "%ld of %ld WAL senders (max_wal_senders) are free", max_send - senders,
                     max_send);
}

static void probe_role(const struct sl_rows *role, const struct sl_connection_cfg *conn,
                       const char *timeout, struct sl_probe *out)
{
    const char *who = cell(role, 0);
    char fix[200];
    snprintf(fix, sizeof fix, "ALTER ROLE %s REPLICATION;", who);
    if (yes(role, 1))
        sl_probe_add(out, "replication_role", NULL, SL_PROBE_OK, NULL, "role %s %s", who,
                     yes(role, 2) ? "is a superuser" : "has REPLICATION");
    else
        sl_probe_add(out, "replication_role", NULL, SL_PROBE_MISSING, fix,
                     "role %s has neither REPLICATION nor superuser: it can neither make nor"
                     " read a replication slot (a superuser grants it)", who);

    /* pg_hba.conf and the role's attributes decide it at connection time:
     * try one */
    struct sl_pg r = {NULL, SL_E_SOURCE, NULL};
    struct sl_pg_system sys;
    struct sl_err e;
    char why[1024];
    sl_err_clear(&e);
    if (sl_pg_connect_repl(&r, conn->url, conn->password, "sluice", timeout, why,
                           sizeof why) < 0)
        sl_probe_add(out, "replication_connection", NULL, SL_PROBE_MISSING, NULL,
                     "a replication connection (replication=database) was refused: %s", why);
    else if (sl_pg_identify_system(&r, &sys, &e) < 0)
        sl_probe_add(out, "replication_connection", NULL, SL_PROBE_MISSING, NULL,
                     "a replication connection was let in, but %s", e.msg);
    else
        sl_probe_add(out, "replication_connection", NULL, SL_PROBE_OK, NULL,
                     "a replication connection was let in: IDENTIFY_SYSTEM answered (system"
                     " %s, timeline %d, database %s)", sys.systemid, sys.timeline,
                     sys.dbname);
    sl_pg_close(&r);
}

/* ---- each table ---- */

static void probe_identity(const struct ptable *pt, struct sl_probe *out)
{
    const struct sl_table_cfg *t = pt->t;
    const struct sl_rows *r = &pt->r;
    const char *q = cell(r, T_QNAME), *rid = cell(r, T_IDENT);
    json_t *pk = json_loads(cell(r, T_PK), 0, NULL);
    json_t *icols = json_loads(cell(r, T_IDENT_COLS), 0, NULL);
    json_t *cols = json_loads(cell(r, T_COLS), 0, NULL);
    struct sl_buf key, ident, fix;
    sl_buf_init(&key);
    sl_buf_init(&ident);
    sl_buf_init(&fix);
    key_text(t, &key);

    int unknown = 0, within_pk = json_array_size(pk) > 0, within_ident;
    for (size_t k = 0; k < t->primary_key.n; k++) {
        if (!has_name(cols, t->primary_key.items[k])) {
            unknown = 1;
            sl_probe_add(out, "primary_key", t->name, SL_PROBE_MISSING, NULL,
                         "primary_key column \"%s\" is not a column of %s",
                         t->primary_key.items[k], q);
        }
        if (!has_name(pk, t->primary_key.items[k]))
            within_pk = 0;
    }

    /* the columns an update's or delete's old key carries */
    json_t *carried = NULL;
    if (rid[0] == 'd' && json_array_size(pk)) {
        carried = pk;
        sl_buf_puts(&ident, "its primary key (");
        names_text(&ident, pk);
        sl_buf_puts(&ident, ")");
    } else if (rid[0] == 'i') {
        carried = icols;
        sl_buf_printf(&ident, "index %s (", cell(r, T_IDENT_INDEX));
        names_text(&ident, icols);
        sl_buf_puts(&ident, ")");
    }
    struct sl_buf outside;
    sl_buf_init(&outside);
    within_ident = carried != NULL;
    for (size_t k = 0; carried && k < t->primary_key.n; k++)
        if (!has_name(carried, t->primary_key.items[k])) {
            within_ident = 0;
            sl_buf_printf(&outside, "%s%s", outside.len ? ", " : "", t->primary_key.items[k]);
        }

    if (rid[0] == 'f') {
        sl_probe_add(out, "replica_identity", t->name, SL_PROBE_OK, NULL,
                     "%s has REPLICA IDENTITY FULL: updates and deletes carry the whole old row",
                     q);
    } else if (rid[0] == 'n' || !carried) {
        sl_buf_printf(&fix, "ALTER TABLE %s REPLICA IDENTITY %s;", q,
                      rid[0] == 'n' && within_pk ? "DEFAULT" : "FULL");
        sl_probe_add(out, "replica_identity", t->name, SL_PROBE_MISSING, fix.data,
                     "%s has %s: its updates and deletes carry no key, so sluice cannot apply"
                     " them (and while a publication publishes them they fail on the source)",
                     q, rid[0] == 'n' ? "REPLICA IDENTITY NOTHING"
                                      : "no primary key and REPLICA IDENTITY DEFAULT");
    } else if (!within_ident && !unknown) {
        sl_buf_printf(&fix, "ALTER TABLE %s REPLICA IDENTITY FULL;", q);
        sl_probe_add(out, "replica_identity", t->name, SL_PROBE_MISSING, fix.data,
                     "primary_key (%s) is not within the replica identity of %s, %s: a delete,"
                     " or an update that changes %s, would not find its row in the warehouse"
                     " (or make primary_key the identity's columns)", key.data, q, ident.data,
                     outside.data);
    } else if (!unknown) {
        sl_probe_add(out, "replica_identity", t->name, SL_PROBE_OK, NULL,
                     "the replica identity of %s is %s, which holds primary_key (%s)", q,
                     ident.data, key.data);
    }

    if (!unknown) {
        if (!yes(r, T_UNIQUE))
            sl_probe_add(out, "primary_key", t->name, SL_PROBE_WARN, NULL,
                         "no primary key or unique index of %s lies within primary_key (%s):"
                         " source rows sharing a value of it become one row in the warehouse",
                         q, key.data);
        else if (within_pk && json_array_size(pk) == t->primary_key.n)
            sl_probe_add(out, "primary_key", t->name, SL_PROBE_OK, NULL,
                         "primary_key (%s) is the primary key of %s", key.data, q);
        else
            sl_probe_add(out, "primary_key", t->name, SL_PROBE_OK, NULL,
                         "a unique index of %s lies within primary_key (%s)", q, key.data);
    }
    json_decref(pk);
    json_decref(icols);
    json_decref(cols);
    sl_buf_free(&key);
    sl_buf_free(&outside);
    sl_buf_free(&ident);
    sl_buf_free(&fix);
}

/* 0 = looked (the table may be missing), -1 = the query failed. */
static int probe_table(struct sl_pg *admin, const char *who, struct ptable *pt,
                       struct sl_probe *out, struct sl_err *err)
{
    const struct sl_table_cfg *t = pt->t;
    char *name = sl_pg_source_table_of(t);
    json_t *key = json_array();
    for (size_t k = 0; key && k < t->primary_key.n; k++)
        json_array_append_new(key, json_string(t->primary_key.items[k]));
    char *keytxt = key ? json_dumps(key, JSON_COMPACT) : NULL;
    json_decref(key);
    if (!name || !keytxt) {
        sl_free(name);
        free(keytxt);
        return sl_err_nomem(err);
    }
    const char *params[] = {name, keytxt};
    int rc = sl_pg_exec(admin, TABLE_SQL, 2, params, &pt->r, err, "could not look up the table");
    free(keytxt);
    if (rc < 0) {
        sl_free(name);
        return -1;
    }
    const struct sl_rows *r = &pt->r;
    const char *src = t->source_table ? t->source_table : t->name;
    char fix[600];
    if (!r->nrows) {
        sl_probe_add(out, "table", t->name, SL_PROBE_MISSING, NULL,
                     "table %s (%s) does not exist, or role %s cannot see it (it needs USAGE on"
                     " its schema)", src, name, who);
        sl_free(name);
        return 0;
    }
    sl_free(name);
    const char *q = cell(r, T_QNAME);
    int usable = 1;
    if (!yes(r, T_USAGE)) {
        usable = 0;
        snprintf(fix, sizeof fix, "GRANT USAGE ON SCHEMA %s TO %s;", cell(r, T_NSP_Q), who);
        sl_probe_add(out, "usage", t->name, SL_PROBE_MISSING, fix,
                     "role %s has no USAGE on schema %s (of table %s)", who, cell(r, T_NSP_Q), q);
    }
    if (!yes(r, T_SELECT)) {
        usable = 0;
        snprintf(fix, sizeof fix, "GRANT SELECT ON %s TO %s;", q, who);
        sl_probe_add(out, "select", t->name, SL_PROBE_MISSING, fix,
                     "role %s has no SELECT on %s: it reads the table's first copy", who, q);
    }
    if (usable)
        sl_probe_add(out, "table", t->name, SL_PROBE_OK, NULL,
                     "table %s is there, and role %s may read it (USAGE on %s, SELECT)", q, who,
                     cell(r, T_NSP_Q));
    probe_identity(pt, out);
    return 0;
}

/* ---- the publication ---- */

static int probe_publication(struct sl_pg *admin, const struct sl_pg_source_cfg *pc,
                             const struct sl_rows *role, struct ptable *tabs, size_t ntabs,
                             struct sl_probe *out, struct sl_err *err)
{
    const char *who = cell(role, 0);
    struct sl_rows pub;
    const char *pp[] = {pc->cdc.publication};
    if (sl_pg_exec(admin, PUB_SQL, 1, pp, &pub, err, "could not look up the publication") < 0)
        return -1;
    struct sl_buf fix, list;
    sl_buf_init(&fix);
    sl_buf_init(&list);
    if (!pub.nrows) {
        /* FOR TABLE needs the tables' owner; the publication, CREATE on the database */
        int owns_all = 1, any = 0;
        for (size_t i = 0; i < ntabs; i++) {
            if (!tabs[i].r.nrows)
                continue;
            sl_buf_printf(&list, "%s%s", any++ ? ", " : "", cell(&tabs[i].r, T_QNAME));
            if (!yes(&tabs[i].r, T_OWNS))
                owns_all = 0;
        }
        sl_buf_printf(&fix, "CREATE PUBLICATION %s FOR TABLE %s;", pc->cdc.publication,
                      list.data ? list.data : "");
        if (owns_all && yes(role, 8))
            sl_probe_add(out, "publication", NULL, SL_PROBE_OK, NULL,
                         "publication %s does not exist: sluice creates it (%s)",
                         pc->cdc.publication, fix.data);
        else if (owns_all && any) {
            sl_buf_reset(&fix);
            sl_buf_printf(&fix, "GRANT CREATE ON DATABASE %s TO %s;", cell(role, 9), who);
            sl_probe_add(out, "publication", NULL, SL_PROBE_MISSING, fix.data,
                         "publication %s does not exist, and role %s may not create it (it owns"
                         " the tables but has no CREATE on database %s); or have it created:"
                         " CREATE PUBLICATION %s FOR TABLE %s;", pc->cdc.publication, who,
                         cell(role, 9), pc->cdc.publication, list.data ? list.data : "");
        } else
            sl_probe_add(out, "publication", NULL, SL_PROBE_MISSING, fix.data,
                         "publication %s does not exist, and role %s may not create it FOR TABLE"
                         " tables it does not own: run the fix as a superuser (or as the"
                         " tables' owner)", pc->cdc.publication, who);
        sl_rows_free(&pub);
        sl_buf_free(&fix);
        sl_buf_free(&list);
        return 0;
    }

    const char *pubq = sl_rows_get(&pub, 0, 0), *pub_owner = sl_rows_get(&pub, 0, 2);
    int owns_pub = strcmp(sl_rows_get(&pub, 0, 1), "t") == 0;
    int all_tables = strcmp(sl_rows_get(&pub, 0, 3), "t") == 0;
    static const char *const ops[] = {"insert", "update", "delete", "truncate"};
    for (size_t k = 0; k < 4; k++)
        if (strcmp(sl_rows_get(&pub, 0, 4 + k), "t") != 0)
            sl_buf_printf(&list, "%s%s", list.len ? ", " : "", ops[k]);
    sl_probe_add(out, "publication", NULL, SL_PROBE_OK, NULL, "publication %s exists (owner %s%s)",
                 pubq, pub_owner, all_tables ? ", FOR ALL TABLES" : "");
    if (list.len) {
        sl_buf_printf(&fix, "ALTER PUBLICATION %s SET (publish = 'insert, update, delete,"
                      " truncate');", pubq);
        sl_probe_add(out, "publication_publishes", NULL, SL_PROBE_MISSING, fix.data,
                     "publication %s does not publish %s: those changes would never reach the"
                     " warehouse (its owner, %s, or a superuser may change it)", pubq, list.data,
                     pub_owner);
    }

    int rc = 0;
    for (size_t i = 0; i < ntabs && rc == 0; i++) {
        const struct sl_rows *tr = &tabs[i].r;
        const struct sl_table_cfg *t = tabs[i].t;
        if (!tr->nrows)
            continue;
        const char *q = cell(tr, T_QNAME);
        const char *tp[] = {pc->cdc.publication, cell(tr, T_NSP), cell(tr, T_REL)};
        struct sl_rows in;
        if ((rc = sl_pg_exec(admin, PUB_TABLE_SQL, 3, tp, &in, err,
                             "could not look up the publication's tables")) < 0)
            break;
        sl_buf_reset(&fix);
        if (!in.nrows) {
            sl_buf_printf(&fix, "ALTER PUBLICATION %s ADD TABLE %s;", pubq, q);
            if (owns_pub && yes(tr, T_OWNS))
                sl_probe_add(out, "publication_table", t->name, SL_PROBE_OK, NULL,
                             "%s is not in publication %s yet: sluice adds it (%s)", q, pubq,
                             fix.data);
            else
                sl_probe_add(out, "publication_table", t->name, SL_PROBE_MISSING, fix.data,
                             "%s is not in publication %s, and role %s may not add it (that"
                             " takes owning both: the publication is %s's, the table %s's):"
                             " run the fix as a superuser or their owner", q, pubq, who,
                             pub_owner, cell(tr, T_OWNER));
        } else if (strcmp(sl_rows_get(&in, 0, 0), "t") == 0 ||
                   strcmp(sl_rows_get(&in, 0, 1) ? sl_rows_get(&in, 0, 1) : "",
                          cell(tr, T_PUBLISHED_COLS)) != 0) {
            int filter = strcmp(sl_rows_get(&in, 0, 0), "t") == 0;
            sl_buf_printf(&fix, "ALTER PUBLICATION %s DROP TABLE %s; ALTER PUBLICATION %s ADD"
                          " TABLE %s;", pubq, q, pubq, q);
            sl_probe_add(out, "publication_table", t->name, SL_PROBE_MISSING, fix.data,
                         "publication %s publishes only some %s of %s (a %s): the others would"
                         " never reach the warehouse", pubq, filter ? "rows" : "columns", q,
                         filter ? "row filter" : "column list");
        } else {
            sl_probe_add(out, "publication_table", t->name, SL_PROBE_OK, NULL,
                         "%s is in publication %s", q, pubq);
        }
        sl_rows_free(&in);
    }
    sl_rows_free(&pub);
    sl_buf_free(&fix);
    sl_buf_free(&list);
    return rc;
}

/* ---- the slot ---- */

static void probe_slot(const struct sl_pg_source_cfg *pc, const struct sl_rows *role,
                       const struct sl_rows *slot, struct sl_probe *out)
{
    const char *name = pc->cdc.slot;
    char fix[160];
    snprintf(fix, sizeof fix, "SELECT pg_drop_replication_slot('%s');", name);
    if (!slot->nrows) {
        int can = yes(role, 1) && strcmp(cell(role, 3), "logical") == 0 &&
                  strtol(cell(role, 4), NULL, 10) > strtol(cell(role, 5), NULL, 10);
        if (can)
            sl_probe_add(out, "slot", NULL, SL_PROBE_OK, NULL,
                         "slot %s does not exist: sluice creates it (pgoutput)", name);
        else
            sl_probe_add(out, "slot", NULL, SL_PROBE_MISSING, NULL,
                         "slot %s does not exist, and cannot be created until the lines above"
                         " are fixed", name);
        return;
    }
    const char *type = cell(slot, 0), *plugin = cell(slot, 1), *db = cell(slot, 2);
    const char *pid = sl_rows_get(slot, 0, 4);
    if (strcmp(type, "logical") != 0 || strcmp(plugin, "pgoutput") != 0)
        sl_probe_add(out, "slot", NULL, SL_PROBE_MISSING, fix,
                     "slot %s is a %s slot%s%s, not a pgoutput one: name another slot in the"
                     " config, or drop it if nothing reads it", name, type,
                     plugin[0] ? " of plugin " : "", plugin);
    else if (!yes(slot, 3))
        sl_probe_add(out, "slot", NULL, SL_PROBE_MISSING, fix,
                     "slot %s belongs to database %s, not this one: name another slot in the"
                     " config, or drop it if nothing reads it", name, db);
    else
        sl_probe_add(out, "slot", NULL, SL_PROBE_OK, NULL, "slot %s exists (pgoutput, database"
                     " %s%s%s)", name, db, pid ? ", read now by process " : "", pid ? pid : "");
}

int sl_cdc_probe(const struct sl_config *c, const struct sl_pipeline_cfg *p, struct sl_pg *admin,
                 const char *timeout, struct sl_probe *out, struct sl_err *err)
{
    const struct sl_pg_source_cfg *pc = p->source_ctx;
    const struct sl_connection_cfg *conn = sl_config_connection(c, pc->connection);
    char why[1024];
    memset(out, 0, sizeof *out);
    if (!conn)
        return sl_err_set(err, SL_E_CONFIG, "pipeline \"%s\": no connection \"%s\"", p->name,
                          pc->connection);
    if (!admin->conn && sl_pg_connect(admin, conn->url, conn->password, "sluice", timeout,
                                      why, sizeof why) < 0)
        return sl_err_retry(err, SL_E_SOURCE, "source \"%s\": could not connect: %s",
                            pc->connection, why);

    struct sl_rows role = {0}, slot = {0};
    const char *sp[] = {pc->cdc.slot};
    if (sl_pg_exec(admin, ROLE_SQL, 0, NULL, &role, err, "could not look at the role") < 0)
        return -1;
    if (!role.nrows) {
        sl_rows_free(&role);
        return sl_err_set(err, SL_E_SOURCE, "source \"%s\": the role is not in pg_roles",
                          pc->connection);
    }
    if (sl_pg_exec(admin, SLOT_SQL, 1, sp, &slot, err, "could not look up the slot") < 0) {
        sl_rows_free(&role);
        return -1;
    }
    sl_probe_add(out, "connect", NULL, SL_PROBE_OK, NULL,
                 "connected to database %s as role %s (PostgreSQL %s)", cell(&role, 9),
                 cell(&role, 0), cell(&role, 10));
    probe_server(&role, slot.nrows > 0, out);
    probe_role(&role, conn, timeout, out);

    int rc = 0;
    struct ptable *tabs = sl_calloc(p->ntables ? p->ntables : 1, sizeof *tabs);
    if (!tabs)
        rc = sl_err_nomem(err);
    for (size_t i = 0; rc == 0 && i < p->ntables; i++) {
        tabs[i].t = &p->tables[i];
        rc = probe_table(admin, cell(&role, 0), &tabs[i], out, err);
    }
    if (rc == 0)
        rc = probe_publication(admin, pc, &role, tabs, p->ntables, out, err);
    if (rc == 0)
        probe_slot(pc, &role, &slot, out);
    for (size_t i = 0; tabs && i < p->ntables; i++)
        sl_rows_free(&tabs[i].r);
    sl_free(tabs);
    sl_rows_free(&role);
    sl_rows_free(&slot);
    if (rc == 0 && out->oom)
        rc = sl_err_nomem(err);
    if (rc < 0)
        sl_err_prefix(err, "source \"%s\"", pc->connection);
    return rc;
}
