/* pg/dialect.h: PostgreSQL's SQL dialect (model/dialect.h), the one the
 * PostgreSQL source and the PostgreSQL destination both give reconcile. */
#ifndef SL_PG_DIALECT_H
#define SL_PG_DIALECT_H

#include "model/dialect.h"

extern const struct sl_dialect sl_pg_dialect;

#endif
