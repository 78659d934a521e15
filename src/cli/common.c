/* cli/common.c: command-line parsing and helpers shared by the commands. */
#include "cli/cli.h"
#include "obs/observer.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/value.h"

static int allowed_opt(const char *allowed, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allowed; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = comma ? comma + 1 : p + len;
    }
    return 0;
}

/* The options the commands take: flags, and options with a value. */
#define FLAG(name, field) {name, offsetof(struct sl_cli_opts, field), 0}
#define VALUE(name, field) {name, offsetof(struct sl_cli_opts, field), 1}
static const struct { const char *name; size_t offset; int value; } options[] = {
    FLAG("json", json),        FLAG("cascade", cascade),   FLAG("verbose", verbose),
    FLAG("repair", repair),    VALUE("table", table),      VALUE("state", state),
    VALUE("note", note),       VALUE("limit", limit_text), VALUE("listen", listen),
    VALUE("pipeline", pipeline), FLAG("offline", offline),
};

int sl_cli_parse(int argc, char **argv, const char *usage, const char *allowed,
                 struct sl_cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->args = sl_calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args)
        return -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            if (!o->config)
                o->config = a;
            else
                o->args[o->nargs++] = argv[i];
            continue;
        }
        /* --name VALUE or --name=VALUE */
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = 0;
        while (k < sizeof options / sizeof options[0] &&
               (strlen(options[k].name) != n || strncmp(options[k].name, name, n) != 0))
            k++;
        if (k == sizeof options / sizeof options[0] || !allowed_opt(allowed, options[k].name)) {
            fprintf(stderr, "sluice: unknown option \"%.*s\"\nusage: %s\n", (int)n + 2, a, usage);
            goto bad;
        }
        char *field = (char *)o + options[k].offset;
        if (!options[k].value) {
            if (eq) {
                fprintf(stderr, "sluice: option \"--%s\" takes no value\nusage: %s\n",
                        options[k].name, usage);
                goto bad;
            }
            *(int *)(void *)field = 1;
            continue;
        }
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "sluice: option \"%s\" needs a value\nusage: %s\n", a, usage);
            goto bad;
        }
        *(const char **)(void *)field = eq ? eq + 1 : argv[++i];
    }
    if (o->limit_text) {
        char *end;
        o->limit = strtol(o->limit_text, &end, 10);
        if (!*o->limit_text || *end || o->limit <= 0) {
            fprintf(stderr, "sluice: --limit takes a positive number\n");
            goto bad;
        }
    }
    if (!o->config) {
        fprintf(stderr, "usage: %s\n", usage);
        goto bad;
    }
    return 0;
bad:
    sl_free(o->args);
    o->args = NULL;
    return -1;
}

struct sl_config *sl_cli_load_config_alerting(const char *path)
{
    struct sl_err err;
    struct sl_config *c = sl_cli_load_config_checked(path, 1, &err);
    if (!c)
        fprintf(stderr, "sluice: %s\n", err.msg);
    return c;
}

struct sl_config *sl_cli_load_config(const char *path)
{
    struct sl_err err;
    struct sl_config *c = sl_cli_load_config_checked(path, 0, &err);
    if (!c)
        fprintf(stderr, "sluice: %s\n", err.msg);
    return c;
}

struct sl_config *sl_cli_load_config_checked(const char *path, int alerting, struct sl_err *err)
{
    struct sl_config *c = NULL;
    sl_err_clear(err);
    if (sl_config_load(path, &c, err) < 0)
        return NULL;
    if (alerting && sl_config_can_alert(c, err) < 0) {
        sl_config_free(c);
        return NULL;
    }
    /* every command that runs the engine loads its config here first: the
     * engine's reports go to this layer's metrics, alerts and progress */
    sl_observe(&sl_obs_observer);
    return c;
}

int sl_cli_open_dest(const struct sl_config *c, const struct sl_connection_cfg *conn,
                     struct sl_cli_dest *out, struct sl_err *err)
{
    memset(out, 0, sizeof *out);
    out->conn = conn;
    if (sl_dest_open(conn->url, conn->password, c->dir, &out->ops, &out->d, err) < 0) {
        sl_err_prefix(err, "connection \"%s\"", conn->name);
        return -1;
    }
    if (out->ops->ensure_meta(out->d, err) < 0) {
        sl_err_prefix(err, "connection \"%s\"", conn->name);
        out->ops->close(out->d);
        out->d = NULL;
        return -1;
    }
    return 0;
}

void sl_cli_close_dest(struct sl_cli_dest *d)
{
    if (d->d)
        d->ops->close(d->d);
    d->d = NULL;
}

void sl_cli_time(const char *in, char out[32], int whole_seconds)
{
    sl_usec t;
    char why[64];
    if (!in || sl_time_parse(in, strlen(in), NULL, &t, why, sizeof why) < 0) {
        snprintf(out, 32, "%s", in ? in : "");
        return;
    }
    sl_time_format(t, out);
    if (whole_seconds && strlen(out) > 19)
        snprintf(out + 19, 32 - 19, "Z");
}

void sl_cli_print_shell_word(FILE *f, const char *w)
{
    int plain = *w != '\0';
    for (const char *p = w; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                       "_-./:=@%+,", *p) != NULL;
    if (plain) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}
