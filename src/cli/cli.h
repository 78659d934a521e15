/* cli/cli.h: one function per command; main.c only dispatches here. Each
 * returns the process exit status (0 done, 1 failed, 2 usage or config,
 * 3 done with a batch held in quarantine). */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdio.h>

#include "config/config.h"
#include "destinations/destination.h"

int sl_cmd_init(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_status(int argc, char **argv);
int sl_cmd_batches(int argc, char **argv);
int sl_cmd_rollback(int argc, char **argv);
int sl_cmd_snapshot(int argc, char **argv);
int sl_cmd_snapshots(int argc, char **argv);
int sl_cmd_restore(int argc, char **argv);
int sl_cmd_approve(int argc, char **argv);
int sl_cmd_reject(int argc, char **argv);
int sl_cmd_reconcile(int argc, char **argv);
int sl_cmd_daemon(int argc, char **argv);
int sl_cmd_replay(int argc, char **argv);
int sl_cmd_cdc(int argc, char **argv);

/* Shared by the commands. */
struct sl_cli_opts {
    const char *config;
    int json;
    const char *table;
    const char *state;
    long limit;
    const char *limit_text;
    const char *note;       /* --note TEXT */
    const char *listen;     /* --listen HOST:PORT (daemon) */
    const char *pipeline;   /* --pipeline P (replay) */
    int cascade;            /* --cascade (rollback) */
    int repair;             /* --repair (reconcile) */
    int verbose;            /* --verbose (check: each key's meaning) */
    int offline;            /* --offline (check: the config alone, no source looked at) */
    char **args;            /* positional arguments after CONFIG */
    int nargs;
};

/* Parse `CONFIG [args] [--json] [--table T] [--state S] [--limit N] ...`
 * (an option's value after it or after '='); `allowed` lists the options
 * the command takes ("json,table,state,limit").
 * Prints usage and returns -1 on a bad command line. */
int sl_cli_parse(int argc, char **argv, const char *usage, const char *allowed,
                 struct sl_cli_opts *o);
/* Load the config or print its error; returns NULL on error. */
struct sl_config *sl_cli_load_config(const char *path);
/* The same for a command that may send alerts: their secrets must be set. */
struct sl_config *sl_cli_load_config_alerting(const char *path);
/* Either, printing nothing: NULL with err filled on error (the daemon's
 * reload logs it). */
struct sl_config *sl_cli_load_config_checked(const char *path, int alerting, struct sl_err *err);

/* The distinct destination connections the config's pipelines use, connected
 * and with sluice's tables in place. */
struct sl_cli_dest {
    const struct sl_connection_cfg *conn;
    const struct sl_dest_ops *ops;
    struct sl_dest *d;
};
int sl_cli_open_dest(const struct sl_config *c, const struct sl_connection_cfg *conn,
                     struct sl_cli_dest *out, struct sl_err *err);
void sl_cli_close_dest(struct sl_cli_dest *d);

/* A time as the warehouse gives it (PostgreSQL "2026-12-01 05:44:49.1+00",
 * SQLite's text) in the one form sluice prints: ISO 8601 in UTC with Z,
 * whole seconds when asked ("2026-12-01T05:44:49Z"). */
void sl_cli_time(const char *in, char out[32], int whole_seconds);
/* Print `w` so a shell reads it back as one word (quoted when it must be):
 * for the commands sluice tells the user to run. */
void sl_cli_print_shell_word(FILE *f, const char *w);

#endif
