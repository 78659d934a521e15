#!/usr/bin/env bash
# Every command line README.md shows runs as the README says it does
# (issue 10: "say what it does, do what it says"):
#   readme_command_lines_run  each line of a ```sh / ```bash / ```console
#       block starting with `sluice `, `./build/sluice ` or `make `, and each
#       backticked `sluice ...` in prose and tables, runs in a scratch folder
#       against the README's own example configs, once with an SQLite
#       warehouse and once with a PostgreSQL one (the test cluster); a line is
#       not ok when it is refused as usage (exit 2 with "usage:" or "unknown
#       option"), crashes, exits otherwise than the README says, or prints no
#       JSON for --json. One `ok - README line N: <command>` per command run.
# README.md is read when the test runs (at $SL_SRCDIR/README.md), so it covers
# what the README holds then. readme_commands.py does the work; its top
# holds the one mapping from README words to real things:
#   - config names (quarantine.yaml, crm.yaml, app.yaml, quickstart.yaml,
#     build/quickstart/quickstart.yaml, and CONFIG by command) -> configs made
#     from the README's ```yaml examples (the files pipeline with the gates
#     example on its table; the postgres source, reading a database of the
#     test cluster holding the tables it names; the http collector; and
#     examples/quickstart.yaml with its drops), each in a folder and a
#     warehouse of its own, with the admin address on a free port;
#   - placeholders and the example numbers in their places -> real values
#     made just before the command: BATCH a quarantined batch (approve,
#     reject) or a freshly committed one (rollback), SNAPSHOT a snapshot just
#     taken, ID a dead letter that replays (an event that broke the collector
#     example's rule, the rule then removed: the fix);
#   - a synopsis with [optional] parts runs twice: without them and with all
#     of them; a bare mention (`sluice approve`) gets its synopsis' arguments.
# A line it cannot instantiate (a new config name, a new placeholder) is not
# ok, naming the README line and where to add the mapping.
# Not run: `make` lines are only checked with `make -n` (the target exists):
# run, test, bench, fuzz, soak, install, deb are run elsewhere (make test
# runs this test; bench, fuzz and soak take minutes; install and deb need
# root), and any other target would build or remove the tree under test.
# The daemon is started, asked /healthz on its admin address, and stopped
# with SIGTERM (exit 0).
. "$(dirname "$0")/lib.sh"

export T_DIR SL_SRCDIR
export RC_DB_PREFIX="t_readme_commands_$$"

drop_dbs() {
  local db
  # the cdc example's slots first: a database with a slot cannot be dropped
  psql -qX -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE database LIKE '${RC_DB_PREFIX}%'" >/dev/null 2>&1 || true
  for db in $(psql -qXAt -d postgres -c \
      "SELECT datname FROM pg_database WHERE datname LIKE '${RC_DB_PREFIX}%'"); do
    psql -qX -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

rc=0
python3 "$(dirname "$0")/readme_commands.py" || rc=$?
drop_dbs
# shellcheck disable=SC2034  # lib.sh keeps the scratch folder of a failed run
[ "$rc" -eq 0 ] || T_FAILS=1
exit "$rc"
