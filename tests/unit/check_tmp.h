/* check_tmp — a scratch directory for each test, as a Check fixture
 * (tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown)): tmp_dir names a fresh directory under
 * /tmp while the test runs; it is removed afterwards with whatever the test left in it. */
#ifndef FV_CHECK_TMP_H
#define FV_CHECK_TMP_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char tmp_dir[32];

static inline void tmp_setup(void)
{
    strcpy(tmp_dir, "/tmp/check.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static inline void tmp_teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

#endif
