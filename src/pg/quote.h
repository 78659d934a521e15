/* pg/quote.h: PostgreSQL identifiers, quoted once for every caller (the
 * destination, the source): docs/invariants.md #5, identifiers are always
 * quoted, and here is the one place that does it.
 *
 * PostgreSQL keeps 63 bytes of a name (NAMEDATALEN - 1) and cuts the rest
 * silently, so a longer name sluice makes would be another name the next
 * time it is compared. Names sluice stores (the warehouse's tables and
 * columns) therefore go through sl_pg_stored_ident; names read from a
 * database as they are (a source's) are quoted as given. */
#ifndef SL_PG_QUOTE_H
#define SL_PG_QUOTE_H

#include <stddef.h>

#include "base/mem.h"

#define SL_PG_NAME_MAX 63

/* The name `s` (n bytes) is stored under: itself when at most 63 bytes;
 * else, every time alike, its first bytes (whole UTF-8 characters, at most
 * 54) + '_' + 8 hex digits of the FNV-1a 32 hash of the whole name, so two
 * names sharing their first 63 bytes stay two names. Writes it to out;
 * returns its length. */
size_t sl_pg_stored_ident(const char *s, size_t n, char out[SL_PG_NAME_MAX + 1]);

/* Is `stored` (from the catalog) the way `name` is stored? */
int sl_pg_stored_as(const char *stored, const char *name);

/* `s` (n bytes) as an identifier, appended to b: "x" with '"' doubled. */
void sl_pg_quote_ident(struct sl_buf *b, const char *s, size_t n);
/* The same for a name sluice stores: the stored name (sl_pg_stored_ident)
 * quoted. */
void sl_pg_quote_stored(struct sl_buf *b, const char *s, size_t n);
/* A table name appended to b: "schema.table" -> "schema"."table", "table"
 * -> "table"; each part as sl_pg_quote_stored when `stored`, else as given. */
void sl_pg_quote_table(struct sl_buf *b, const char *name, int stored);
/* sl_pg_quote_table in a new string (sl_free it); NULL = out of memory. */
char *sl_pg_quoted_table(const char *name, int stored);

#endif
