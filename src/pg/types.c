/* pg/types.c: see types.h. */
#include "pg/types.h"

#include <string.h>

const char *sl_pg_type_name(enum sl_type t)
{
    switch (t) {
    case SL_T_BOOL: return "boolean";
    case SL_T_BIGINT: return "bigint";
    case SL_T_NUMERIC: return "numeric";
    case SL_T_DOUBLE: return "double precision";
    case SL_T_DATE: return "date";
    case SL_T_TIMESTAMPTZ: return "timestamptz";
    case SL_T_JSON: return "jsonb";
    default: return "text";
    }
}

enum sl_type sl_pg_type_from_format(const char *t)
{
    static const struct { const char *pg; enum sl_type t; } map[] = {
        {"bigint", SL_T_BIGINT}, {"integer", SL_T_BIGINT}, {"smallint", SL_T_BIGINT},
        {"numeric", SL_T_NUMERIC}, {"double precision", SL_T_DOUBLE}, {"real", SL_T_DOUBLE},
        {"boolean", SL_T_BOOL}, {"date", SL_T_DATE},
        {"timestamp with time zone", SL_T_TIMESTAMPTZ},
        {"timestamp without time zone", SL_T_TIMESTAMPTZ},
        {"jsonb", SL_T_JSON}, {"json", SL_T_JSON},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(t, map[i].pg, strlen(map[i].pg)) == 0)
            return map[i].t;
    return SL_T_TEXT;
}
