/* tests/unit/test_pgerr.c: which libpq failures are worth a retry
 * (pg/pg.c): the server's resources and the connection are transient,
 * the batch's own faults are not, and a failure without a SQLSTATE (made by
 * libpq itself) is taken as a broken connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg/pg.h"

static void sqlstates_of_the_server_and_connection_are_transient(void **state)
{
    (void)state;
    const char *transient[] = {
        "08006", "08001", "08P01",  /* connection failure, unable to connect, protocol */
        "40001", "40P01",           /* serialization failure, deadlock */
        "57P01", "57P02", "57P03",  /* admin shutdown, crash shutdown, cannot connect now */
        "53100", "53200", "53300",  /* disk full, out of memory, too many connections */
        "58030", "58000",           /* I/O error, system error */
        "55P03",                    /* lock not available (lock_timeout) */
    };
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        if (!sl_pg_transient(transient[i]))
            fail_msg("SQLSTATE %s should be transient", transient[i]);
}

static void sqlstates_of_the_batch_are_not(void **state)
{
    (void)state;
    const char *fatal[] = {
        "22P02",    /* invalid text representation: the data */
        "23505",    /* unique violation */
        "42P01",    /* undefined table */
        "42501",    /* insufficient privilege */
        "42703",    /* undefined column */
        "57014",    /* query canceled (statement_timeout): not a 57P0x shutdown */
        "",
    };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (sl_pg_transient(fatal[i]))
            fail_msg("SQLSTATE \"%s\" should not be transient", fatal[i]);
    assert_false(sl_pg_transient(NULL));
}

static void a_failure_libpq_made_itself_is_transient(void **state)
{
    (void)state;
    /* no connection at all */
    assert_true(sl_pg_failure_transient(NULL, NULL));
    /* a result libpq made (no SQLSTATE), as when the server closed the
     * connection under a COPY */
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
    assert_non_null(res);
    assert_null(PQresultErrorField(res, PG_DIAG_SQLSTATE));
    assert_true(sl_pg_failure_transient(NULL, res));
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sqlstates_of_the_server_and_connection_are_transient),
        cmocka_unit_test(sqlstates_of_the_batch_are_not),
        cmocka_unit_test(a_failure_libpq_made_itself_is_transient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
