/* main.c: command dispatch only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "obs/alert.h"
#include "base/log.h"
#include "base/version.h"

/* The synopses are the README's command table, word for word (a test
 * compares the two); a command with subcommands has one a line. */
static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *synopsis[3];
    const char *help;
} commands[] = {
    {"init", sl_cmd_init, {"init --from SOURCE [-o FILE]"},
     "write a commented starter config from a folder of files or a database"},
    {"check", sl_cmd_check, {"check CONFIG [--json] [--verbose] [--offline]"},
     "validate the config, look at the sources, print the plan (--offline: the config alone)"},
    {"run", sl_cmd_run, {"run CONFIG [PIPELINE...]"}, "run each pipeline once"},
    {"daemon", sl_cmd_daemon, {"daemon CONFIG [--listen HOST:PORT]"},
     "run pipelines on their schedules; serve /metrics, /api, the dashboard"},
    {"status", sl_cmd_status, {"status CONFIG [--json]"}, "one line per table"},
    {"batches", sl_cmd_batches, {"batches CONFIG [--table T] [--state S] [--limit N] [--json]"},
     "the batch ledger"},
    {"approve", sl_cmd_approve, {"approve CONFIG BATCH [--note TEXT]"},
     "load a quarantined batch as it is"},
    {"reject", sl_cmd_reject, {"reject CONFIG BATCH [--note TEXT]"}, "discard a quarantined batch"},
    {"reconcile", sl_cmd_reconcile, {"reconcile CONFIG [TABLE...] [--repair] [--json]"},
     "compare with the source and report drift (--repair: re-sync it)"},
    {"rollback", sl_cmd_rollback, {"rollback CONFIG BATCH [--cascade] [--table T]"},
     "take a committed batch back out (--cascade: and later ones)"},
    {"snapshot", sl_cmd_snapshot, {"snapshot CONFIG TABLE [--json]"},
     "keep a copy of the table to go back to"},
    {"snapshots", sl_cmd_snapshots, {"snapshots CONFIG [TABLE] [--json]"}, "the snapshots kept"},
    {"restore", sl_cmd_restore, {"restore CONFIG TABLE SNAPSHOT"},
     "put the table back as the snapshot holds it"},
    {"replay", sl_cmd_replay, {"replay CONFIG [--pipeline P] [ID...] [--json]"},
     "load dead-lettered events again"},
    {"cdc", sl_cmd_cdc, {"cdc status CONFIG [PIPELINE] [--json]", "cdc drop CONFIG PIPELINE"},
     "a cdc pipeline's replication slot: the WAL it keeps on the source; drop it"},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: sluice [--log-format text|json] [--verbose] [--quiet] COMMAND ...\n"
               "       sluice --help\n"
               "       sluice --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        for (size_t k = 0; k < 3 && commands[i].synopsis[k]; k++)
            fprintf(f, "  sluice %s\n", commands[i].synopsis[k]);
        fprintf(f, "      %s\n", commands[i].help);
    }
    fprintf(f, "\nexit status: 0 done; 1 an action failed; 2 usage or config error, or no such"
               " thing; 3 done with a batch in quarantine\n");
    return 2;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) {
            const char *f = argv[++i];
            if (strcmp(f, "json") != 0 && strcmp(f, "text") != 0) {
                fprintf(stderr, "sluice: --log-format takes text or json\n");
                return 2;
            }
            sl_log_set_format(strcmp(f, "json") == 0);
        } else if (strcmp(argv[i], "--verbose") == 0) {
            sl_log_set_level(SL_LOG_DEBUG);
        } else if (strcmp(argv[i], "--quiet") == 0) {
            sl_log_set_level(SL_LOG_WARN);
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("sluice %s\n", sl_version);
            return 0;
        } else {
            fprintf(stderr, "sluice: unknown option \"%s\"\n", argv[i]);
            return usage(stderr);
        }
    }
    if (i >= argc)
        return usage(stderr);
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0) {
            int rc = commands[k].fn(argc - i - 1, argv + i + 1);
            sl_alert_shutdown();
            return rc;
        }
    fprintf(stderr, "sluice: unknown command \"%s\"\n", argv[i]);
    return usage(stderr);
}
