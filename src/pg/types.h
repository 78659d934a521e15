/* pg/types.h: sluice's column types (base/value.h) as PostgreSQL names
 * them, both ways: the one mapping the destination's DDL, the source's
 * casts and reconcile's checksums all use. */
#ifndef SL_PG_TYPES_H
#define SL_PG_TYPES_H

#include "base/value.h"

/* The PostgreSQL type a column of type t is made as ("timestamptz",
 * "jsonb", ...; "text" for text and anything unknown). */
const char *sl_pg_type_name(enum sl_type t);

/* The sluice type of a column as format_type() prints its type
 * ("timestamp with time zone", "numeric(12,2)", ...); text when none fits. */
enum sl_type sl_pg_type_from_format(const char *format_type);

#endif
