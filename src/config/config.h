/* config/config.h: the YAML config as C structs.
 *
 * sl_config_load() reads the file with libyaml, expands ${VAR} from the
 * environment, fills these structs and validates them. Every error names
 * file:line:column and what was expected; unknown keys are errors. Plugins
 * (sources, gates) declare their own keys as data (struct sl_cfg_key) and the
 * loader fills their context structs through offsetof, so `sluice check`
 * can print what each key means. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>

#include "base/err.h"
#include "model/config.h"

int sl_config_load(const char *path, struct sl_config **out, struct sl_err *err);
/* 0 when every alert can be sent; -1 (SL_E_CONFIG) naming the first whose
 * url or key names an unset ${VAR}. The commands that send alerts (run,
 * daemon, approve, reject, reconcile, replay, check) need them; the
 * read-only ones load the config without those secrets. */
int sl_config_can_alert(const struct sl_config *c, struct sl_err *err);
/* The same from memory (the fuzz target's way in): `display` names the
 * config in messages, `dir` is the base of relative paths (NULL = "."). */
int sl_config_load_mem(const char *display, const char *dir, const char *data, size_t n,
                       struct sl_config **out, struct sl_err *err);
void sl_config_free(struct sl_config *c);

/* The key tables of the config's own blocks, for `sluice check`: "http",
 * "alert", "connection", "pipeline", "snapshots", "reconcile", "table"
 * (filled into sl_config, sl_alert_cfg, sl_connection_cfg, sl_pipeline_cfg
 * and sl_table_cfg); NULL for another name. */
const struct sl_cfg_key *sl_config_keys(const char *block);

/* 1 when pipeline pa of config a runs exactly as pb of b would: the same
 * keys everywhere it reads (its own, its source's, its tables' and gates',
 * the connections it names, the alerts), whatever their place in the file;
 * else 0 (config/same.c). The daemon's reload keeps such a pipeline going. */
int sl_config_pipeline_same(const struct sl_config *a, const struct sl_pipeline_cfg *pa,
                            const struct sl_config *b, const struct sl_pipeline_cfg *pb);

#endif
