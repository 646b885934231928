/* check_run — the shared main of every Check suite: run all, print Check's summary line, and
 * exit non-zero when anything failed; and CHECK_SKIP, the skip status Check lacks.
 *
 * A test that cannot run here (the CPU lacks AMX, AVX-512, SHA) calls CHECK_SKIP("why"): it prints
 * "skip <suite>: <test>: why" and returns. Check still counts it among its passed checks, so
 * check_run prints "N skipped" after Check's summary and tests/run.sh moves those N from passed to
 * skipped. The count lives in a shared anonymous mapping made before the run: Check runs each test
 * in a forked child (CK_FORK=no under valgrind runs them in this process), and a child's writes
 * to ordinary memory never reach the parent. */
#ifndef FV_CHECK_RUN_H
#define FV_CHECK_RUN_H

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const char *check_run_suite = "?";    /* the suite's name, for the skip lines */
static volatile int *check_run_skips = NULL; /* shared with the test children */

/* Records that the calling test, function fn, is skipped for the reason why (one line on stdout). */
static inline void check_run_skip(const char *fn, const char *why)
{
    /* START_TEST(name) defines name_fn: print the test's own name */
    size_t n = strlen(fn);
    if (n > 3 && strcmp(fn + n - 3, "_fn") == 0) n -= 3;
    printf("skip %s: %.*s: %s\n", check_run_suite, (int)n, fn, why);
    fflush(stdout); /* a forked child may end without flushing stdio */
    if (check_run_skips) __atomic_add_fetch(check_run_skips, 1, __ATOMIC_SEQ_CST);
}

/* In a START_TEST body: skip the rest of this test, saying why (a string literal or char *). */
#define CHECK_SKIP(why)                    \
    do {                                   \
        check_run_skip(__func__, (why));   \
        return;                            \
    } while (0)

/* Runs every test of s and prints Check's summary, then "N skipped" when some were. Returns
 * EXIT_FAILURE when a test failed, else EXIT_SUCCESS. */
static inline int check_run(Suite *s)
{
    /* Check cannot tell a suite's name; each suite is the program check_<name> */
    check_run_suite = program_invocation_short_name;
    if (strncmp(check_run_suite, "check_", 6) == 0) check_run_suite += 6;
    void *m = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("check_run: mmap");
        return EXIT_FAILURE;
    }
    check_run_skips = m;
    *check_run_skips = 0;
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    int skipped = *check_run_skips;
    check_run_skips = NULL;
    munmap(m, sizeof(int));
    if (skipped) printf("%d skipped\n", skipped);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
