/* gates/gate.c: the registry of gates. Adding a gate is adding its file and
 * one line here. */
#include "gates/gate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/yaml.h"
#include "base/mem.h"

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

int sl_gate_report(struct json_t *o, struct sl_gate_result *res, struct sl_err *err)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    res->report_json = text ? sl_strdup(text) : NULL;
    free(text);
    if (!res->report_json)
        return sl_err_nomem(err);
    return 0;
}

char *sl_gate_clip(const char *s, size_t n, size_t max)
{
    size_t k = n;
    if (k > max) {
        k = max;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    }
    char *out = sl_malloc(k + 4);
    if (!out)
        return NULL;
    memcpy(out, s, k);
    memcpy(out + k, k < n ? "..." : "", k < n ? 4 : 1);
    return out;
}

struct json_t *sl_gate_json_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *a = sl_malloc(n + 1);
    if (!a)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        a[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_string(a);
    sl_free(a);
    return j;
}

int sl_gate_parse_choice(const struct sl_yaml_node *node, const char *const *names,
                         const char *file, const char *expected, int *out,
                         struct sl_err *err)
{
    char found[96], hint[128] = "";
    size_t n = 0;

    while (names[n])
        n++;
    if (node->type == SL_YAML_SCALAR && !node->is_null) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(node->value, names[i]) == 0) {
                *out = (int)i;
                return 0;
            }
        long best = sl_yaml_closest(node->value, names, n);
        if (best >= 0)
            snprintf(hint, sizeof hint, "; did you mean \"%s\"?", names[best]);
    }
    sl_yaml_describe(node, found, sizeof found);
    return sl_yaml_err(err, file, node->line, node->col, "%s, found %s%s", expected, found, hint);
}
