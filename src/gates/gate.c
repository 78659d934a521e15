/* gates/gate.c: the registry of gates. Adding a gate is adding its file and
 * one line here. */
#include "gates/gate.h"

#include <string.h>

#include "core/mem.h"

/* gate.h names the interface, not the gates: each file defines its own */
extern const struct sl_gate_ops sl_gate_size, sl_gate_unique_key, sl_gate_timestamps,
    sl_gate_rules, sl_gate_schema;

static const struct sl_gate_ops *const gates[] = {
    &sl_gate_size,
    &sl_gate_unique_key,
    &sl_gate_timestamps,
    &sl_gate_rules,
    &sl_gate_schema,
    NULL,   /* end of the list; gates register above this line */
};

const struct sl_gate_ops *sl_gate_at(size_t i)
{
    for (size_t k = 0; gates[k]; k++)
        if (k == i)
            return gates[k];
    return NULL;
}

const struct sl_gate_ops *sl_gate_find(const char *name, struct sl_err *err)
{
    struct sl_buf names;

    for (size_t i = 0; gates[i]; i++)
        if (strcmp(gates[i]->name, name) == 0)
            return gates[i];
    sl_buf_init(&names);
    for (size_t i = 0; gates[i]; i++)
        sl_buf_printf(&names, "%s%s", i ? ", " : "", gates[i]->name);
    sl_err_set(err, SL_E_CONFIG, "unknown gate \"%s\" (there are: %s)", name,
               names.len ? names.data : "none");
    sl_buf_free(&names);
    return NULL;
}
