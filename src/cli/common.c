/* cli/common.c: command-line parsing and helpers shared by the commands. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/value.h"

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

int sl_cli_parse(int argc, char **argv, const char *usage, const char *allowed,
                 struct sl_cli_opts *o)
{
    memset(o, 0, sizeof *o);
    o->args = sl_calloc((size_t)argc + 1, sizeof *o->args);
    if (!o->args)
        return -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *name = a + 2;
            if (!allowed_opt(allowed, name)) {
                fprintf(stderr, "sluice: unknown option \"%s\"\nusage: %s\n", a, usage);
                goto bad;
            }
            if (strcmp(name, "json") == 0 || strcmp(name, "cascade") == 0 ||
                strcmp(name, "list") == 0 || strcmp(name, "verbose") == 0) {
                *(name[0] == 'j' ? &o->json : name[0] == 'c' ? &o->cascade :
                  name[0] == 'l' ? &o->list : &o->verbose) = 1;
                continue;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "sluice: option \"%s\" needs a value\nusage: %s\n", a, usage);
                goto bad;
            }
            const char *v = argv[++i];
            if (strcmp(name, "table") == 0)
                o->table = v;
            else if (strcmp(name, "state") == 0)
                o->state = v;
            else if (strcmp(name, "note") == 0)
                o->note = v;
            else if (strcmp(name, "limit") == 0) {
                char *end;
                o->limit = strtol(v, &end, 10);
                if (*end || o->limit <= 0) {
                    fprintf(stderr, "sluice: --limit takes a positive number\n");
                    goto bad;
                }
            }
        } else if (!o->config) {
            o->config = a;
        } else {
            o->args[o->nargs++] = argv[i];
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
    struct sl_config *c = sl_cli_load_config(path);
    struct sl_err err;
    sl_err_clear(&err);
    if (c && sl_config_can_alert(c, &err) < 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        sl_config_free(c);
        return NULL;
    }
    return c;
}

struct sl_config *sl_cli_load_config(const char *path)
{
    struct sl_config *c = NULL;
    struct sl_err err;
    sl_err_clear(&err);
    if (sl_config_load(path, &c, &err) < 0) {
        fprintf(stderr, "sluice: %s\n", err.msg);
        return NULL;
    }
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
