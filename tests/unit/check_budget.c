/* check_budget — the thread budget file a build gives a running tool: the counts it takes (with
 * or without the newline), what it refuses (nothing changes then), and budget_poll's rules (a
 * change only, no variable no change, at most one read per BUDGET_PERIOD). */
#include <check.h>
#include "check_run.h"
#include "check_tmp.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "budget.h"
#include "util.h"

/* Writes text to tmp_dir/name; returns the path (caller frees). */
static char *put(const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", tmp_dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void sleep_period(void) { usleep((useconds_t)(BUDGET_PERIOD * 1e6) + 20000); }

START_TEST(read_counts)
{
    const char *good[][2] = {{"3\n", "3"}, {"1", "1"}, {"1024\n", "1024"}};
    for (int i = 0; i < 3; i++) {
        char *p = put("t", good[i][0]);
        ck_assert_int_eq(budget_read(p), atoi(good[i][1]));
        free(p);
    }
    const char *bad[] = {"", "\n", "0\n", "-2\n", "1025\n", "2 \n", " 2\n", "2\n\n", "two\n", "2x"};
    for (int i = 0; i < 10; i++) {
        char *p = put("t", bad[i]);
        ck_assert_msg(budget_read(p) == 0, "'%s' read as a count", bad[i]);
        free(p);
    }
    char *missing = xasprintf("%s/none", tmp_dir);
    ck_assert_int_eq(budget_read(missing), 0);
    free(missing);
}
END_TEST

START_TEST(poll_rules)
{
    unsetenv("FV_THREADS_FILE");
    ck_assert_int_eq(budget_poll(1), 0); /* no file named: nothing changes */
    char *p = put("t", "2\n");
    setenv("FV_THREADS_FILE", p, 1);
    sleep_period();
    ck_assert_int_eq(budget_poll(1), 2); /* a change */
    free(put("t", "3\n"));
    ck_assert_int_eq(budget_poll(2), 0); /* read less than BUDGET_PERIOD ago */
    sleep_period();
    ck_assert_int_eq(budget_poll(3), 0); /* the count in use: no change */
    sleep_period();
    ck_assert_int_eq(budget_poll(2), 3);
    free(put("t", "many\n"));
    sleep_period();
    ck_assert_int_eq(budget_poll(3), 0); /* garbled: nothing changes */
    unsetenv("FV_THREADS_FILE");
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("budget");
    TCase *t = tcase_create("file");
    tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
    tcase_add_test(t, read_counts);
    tcase_add_test(t, poll_rules);
    suite_add_tcase(s, t);
    return check_run(s);
}
