/* check_run — the shared main of every Check suite: run all, print Check's summary line, and
 * exit non-zero when anything failed. */
#ifndef FV_CHECK_RUN_H
#define FV_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
