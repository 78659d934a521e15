/* main.c: command dispatch only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "obs/alert.h"
#include "obs/log.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"check", sl_cmd_check, "check CONFIG            validate the config and print the plan"},
    {"run", sl_cmd_run, "run CONFIG [PIPELINE...] run each pipeline once"},
    {"daemon", sl_cmd_daemon, "daemon CONFIG [--listen HOST:PORT] run pipelines on their schedules; serve /metrics, /api, the dashboard"},
    {"status", sl_cmd_status, "status CONFIG           one line per table"},
    {"batches", sl_cmd_batches, "batches CONFIG          the batch ledger"},
    {"rollback", sl_cmd_rollback, "rollback CONFIG BATCH   take a committed batch back out (--cascade: and later ones)"},
    {"snapshot", sl_cmd_snapshot, "snapshot CONFIG TABLE   keep a copy of the table to go back to (--list)"},
    {"snapshots", sl_cmd_snapshots, "snapshots CONFIG        the snapshots kept"},
    {"restore", sl_cmd_restore, "restore CONFIG TABLE ID put the table back as snapshot ID holds it"},
    {"approve", sl_cmd_approve, "approve CONFIG BATCH    load a quarantined batch as it is"},
    {"reject", sl_cmd_reject, "reject CONFIG BATCH     discard a quarantined batch"},
    {"replay", sl_cmd_replay, "replay CONFIG [--pipeline P] [ID...] load dead-lettered events again"},
    {"reconcile", sl_cmd_reconcile, "reconcile CONFIG [TABLE...] compare with the source and report drift (--repair: re-sync it)"},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: sluice [--log-format text|json] [--verbose] COMMAND ...\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  sluice %s\n", commands[i].help);
    fprintf(f, "\nexit status: 0 done, 1 failed, 2 usage or config error, "
               "3 done with a batch in quarantine\n");
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
