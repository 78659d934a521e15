/* base/strlist.h: a list of strings (column names, keys, patterns), each
 * sl_malloc'd, and the one function that frees one. */
#ifndef SL_STRLIST_H
#define SL_STRLIST_H

#include <stddef.h>

struct sl_strlist {
    char **items;
    size_t n;
};

/* Frees every item and the array; leaves the list empty (reusable). */
void sl_strlist_free(struct sl_strlist *l);

#endif
