/* base/strlist.c: see strlist.h. */
#include "base/strlist.h"

#include "base/mem.h"

void sl_strlist_free(struct sl_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        sl_free(l->items[i]);
    sl_free(l->items);
    l->items = NULL;
    l->n = 0;
}
