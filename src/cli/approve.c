/* cli/approve.c: `sluice approve CONFIG BATCH` and `sluice reject CONFIG BATCH`:
 * release or discard a batch a gate held in quarantine. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ledger.h"
#include "base/mem.h"
#include "engine/pipeline.h"

static int release(int argc, char **argv, int approve)
{
    const char *usage = approve ? "sluice approve CONFIG BATCH [--note TEXT]"
                                : "sluice reject CONFIG BATCH [--note TEXT]";
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, usage, "note", &o) < 0)
        return 2;
    char *end = NULL;
    long long id = o.nargs == 1 ? strtoll(o.args[0], &end, 10) : 0;
    if (o.nargs != 1 || !end || *end || id <= 0) {
        fprintf(stderr, "usage: %s\n", usage);
        sl_free(o.args);
        return 2;
    }
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    int rc = 2, found = 0;
    char who[64];
    sl_ledger_os_user(who, sizeof who);
    for (size_t i = 0; i < c->npipelines && !found; i++) {
        struct sl_run_stats st = {0};
        struct sl_err err;
        sl_err_clear(&err);
        int r = sl_pipeline_release(c, &c->pipelines[i], (int64_t)id, approve, who, o.note, &st,
                                    &err);
        if (r == 1)
            continue;
        found = 1;
        if (r < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            rc = sl_err_exit_code(&err);
        } else {
            printf("batch %lld %s\n", id,
                   approve ? (st.committed ? "approved and loaded" : "approved; its content was already loaded")
                           : "rejected");
            rc = 0;
        }
    }
    if (!found)
        fprintf(stderr, "sluice: no batch %lld in the ledger of any pipeline of %s\n", id, c->path);
    sl_free(o.args);
    sl_config_free(c);
    return rc;
}

int sl_cmd_approve(int argc, char **argv)
{
    return release(argc, argv, 1);
}

int sl_cmd_reject(int argc, char **argv)
{
    return release(argc, argv, 0);
}
