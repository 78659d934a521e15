/* cli/status.c: `sluice status CONFIG [--json]`: one line per table: state,
 * last batch, rows, lag since the newest committed batch, last error; the
 * states and the JSON are obs/status.c's, as the daemon serves them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "base/mem.h"
#include "obs/status.h"

int sl_cmd_status(int argc, char **argv)
{
    struct sl_cli_opts o;
    if (sl_cli_parse(argc, argv, "sluice status CONFIG [--json]", "json", &o) < 0)
        return 2;
    sl_free(o.args);
    struct sl_config *c = sl_cli_load_config(o.config);
    if (!c)
        return 2;

    /* the same document as GET /api/status (obs/status.c), without the
     * daemon's live figures; a cdc pipeline's slot as the source has it now */
    struct sl_dbpool *pool = sl_dbpool_new(c);
    struct sl_status_opts so = {0, 0, SL_STATUS_SLOTS_ASK};
    int unreachable = 0, rc = 0;
    json_t *doc = pool ? sl_status_build(c, pool, &so, &unreachable) : NULL;
    if (!doc) {
        fprintf(stderr, "sluice: out of memory\n");
        rc = 1;
    } else if (o.json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        sl_status_print(stdout, doc);
    }
    if (unreachable) {
        fprintf(stderr, "sluice: a destination could not be read (see LAST ERROR)\n");
        rc = 1;
    }
    json_decref(doc);
    sl_dbpool_free(pool);
    sl_config_free(c);
    return rc;
}
