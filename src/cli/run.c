/* cli/run.c: `sluice run CONFIG [PIPELINE...]`: run each pipeline once. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "base/mem.h"
#include "engine/pipeline.h"
#include "obs/progress.h"

int sl_cmd_run(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, "sluice run CONFIG [PIPELINE...]", "", &o) < 0)
        return 2;
    struct sl_config *c = sl_cli_load_config_alerting(o.config);
    if (!c) {
        sl_free(o.args);
        return 2;
    }
    for (int i = 0; i < o.nargs; i++)
        if (!sl_config_pipeline(c, o.args[i])) {
            fprintf(stderr, "sluice: no pipeline \"%s\" in %s\n", o.args[i], c->path);
            sl_free(o.args);
            sl_config_free(c);
            return 2;
        }

    struct sl_run_stats total = {0};
    int broken = 0;
    sl_progress_enable(1);      /* only when stderr is a terminal */
    sl_pipeline_set_oneshot(1); /* drops still settling are waited for */
    for (size_t i = 0; i < c->npipelines; i++) {
        const struct sl_pipeline_cfg *p = &c->pipelines[i];
        int wanted = o.nargs == 0;
        for (int k = 0; k < o.nargs && !wanted; k++)
            wanted = strcmp(o.args[k], p->name) == 0;
        if (!wanted)
            continue;
        struct sl_run_stats st = {0};
        struct sl_err err;
        sl_err_clear(&err);
        if (sl_pipeline_run(c, p, &st, &err) < 0) {
            fprintf(stderr, "sluice: %s\n", err.msg);
            broken = 1;
        }
        char summary[1024];
        sl_run_stats_text(&st, summary, sizeof summary);
        printf("%s: %s\n", p->name, summary);
        total.committed += st.committed;
        total.failed += st.failed;
        total.deferred += st.deferred;
        total.waiting += st.waiting;
        total.quarantined += st.quarantined;
        total.not_run += st.not_run;
        total.stopped += st.stopped;
    }
    sl_free(o.args);
    sl_config_free(c);
    /* a drop still being written (or that changed while loading) is left
     * for the next run and counted: nothing failed. A transient failure that
     * outlasted its retries did. */
    if (broken || total.failed || total.deferred || total.not_run || total.stopped)
        return 1;
    return total.quarantined ? 3 : 0;
}
