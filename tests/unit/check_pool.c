/* Check suite for the common thread pool: every index exactly once, chunks fixed by the sizes,
 * inline runs (small loops, nested loops, a second caller), the thread count's bounds. */
#include <check.h>
#include "check_run.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* A loop that counts how often each index ran and records its chunks. */
typedef struct count_job {
    atomic_int *hits;
    atomic_int calls;
    int lo[256], hi[256]; /* the chunks, in the order their calls started (slot by call number) */
    int nested_n;         /* > 0: each chunk starts a loop of this many indices */
    atomic_int nested_inline; /* nested loops that ran as one call on their own thread */
} count_job;

static void nested_fn(void *ctx, int lo, int hi)
{
    int *calls = ctx;
    (*calls)++; /* one thread only, if the nested loop runs inline */
    (void)lo, (void)hi;
}

static void count_fn(void *ctx, int lo, int hi)
{
    count_job *j = ctx;
    int c = atomic_fetch_add(&j->calls, 1);
    if (c < 256) j->lo[c] = lo, j->hi[c] = hi;
    for (int i = lo; i < hi; i++) atomic_fetch_add(&j->hits[i], 1);
    if (j->nested_n > 0) {
        int calls = 0;
        ck_assert_int_eq(pool_in_loop(), 1);
        pool_for_chunks(j->nested_n, POOL_JOBS, nested_fn, &calls);
        if (calls == 1) atomic_fetch_add(&j->nested_inline, 1);
    }
}

static count_job *job_new(int n)
{
    count_job *j = calloc(1, sizeof *j);
    j->hits = calloc((size_t)(n > 0 ? n : 1), sizeof *j->hits);
    return j;
}

static void job_free(count_job *j)
{
    free(j->hits);
    free(j);
}

static void assert_each_once(const count_job *j, int n)
{
    for (int i = 0; i < n; i++) ck_assert_msg(j->hits[i] == 1, "index %d of %d ran %d times", i, n, (int)j->hits[i]);
}

START_TEST(each_index_once)
{
    const int threads[] = {1, 2, 3}, sizes[] = {0, 1, 2, 5, 1000, 30000};
    for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
        pool_set_threads(threads[t]);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int n = sizes[s];
            count_job *a = job_new(n), *b = job_new(n);
            pool_for(n, (size_t)1 << 20, count_fn, a);
            pool_for_chunks(n, POOL_JOBS, count_fn, b);
            assert_each_once(a, n);
            assert_each_once(b, n);
            /* one chunk per thread (POOL_JOBS for a job), at most one per index; one thread: inline */
            int ca = threads[t] == 1 ? 1 : threads[t], cb = threads[t] == 1 ? 1 : threads[t] * POOL_JOBS;
            ck_assert_int_eq(a->calls, n < ca ? n : ca);
            ck_assert_int_eq(b->calls, n < cb ? n : cb);
            job_free(a);
            job_free(b);
        }
    }
}
END_TEST

/* The chunks depend only on n and the thread count, never on which thread ran them. */
START_TEST(chunks_fixed)
{
    pool_set_threads(4);
    for (int rep = 0; rep < 20; rep++) {
        count_job *j = job_new(100);
        pool_for(100, (size_t)1 << 20, count_fn, j);
        ck_assert_int_eq(j->calls, 4);
        int seen[4] = {0};
        for (int c = 0; c < 4; c++) {
            int k = j->lo[c] / 25;
            ck_assert_int_eq(j->lo[c], 25 * k);
            ck_assert_int_eq(j->hi[c], 25 * (k + 1));
            seen[k]++;
        }
        for (int k = 0; k < 4; k++) ck_assert_int_eq(seen[k], 1);
        job_free(j);
        /* 4 chunks per thread of a job, at most one per index */
        j = job_new(1000);
        pool_for_chunks(1000, POOL_JOBS, count_fn, j);
        ck_assert_int_eq(j->calls, 4 * POOL_JOBS);
        job_free(j);
        j = job_new(6);
        pool_for_chunks(6, POOL_JOBS, count_fn, j);
        ck_assert_int_eq(j->calls, 6);
        job_free(j);
    }
}
END_TEST

START_TEST(small_loops_inline)
{
    pool_set_threads(4);
    count_job *j = job_new(1000);
    pool_for(1000, POOL_MIN_WORK - 1, count_fn, j);
    ck_assert_int_eq(j->calls, 1);
    ck_assert_int_eq(j->lo[0], 0);
    ck_assert_int_eq(j->hi[0], 1000);
    ck_assert_int_eq(pool_in_loop(), 0);
    job_free(j);
}
END_TEST

START_TEST(nested_inline)
{
    pool_set_threads(3);
    count_job *j = job_new(64);
    j->nested_n = 50;
    pool_for_chunks(64, POOL_JOBS, count_fn, j);
    assert_each_once(j, 64);
    ck_assert_int_eq(j->nested_inline, j->calls);
    ck_assert_int_eq(pool_in_loop(), 0); /* cleared on the caller after its loop */
    job_free(j);
}
END_TEST

/* Two threads outside the pool start loops at the same time: each loop still covers its own
 * indices exactly once (one of them runs inline while the other holds the pool). */
static void *caller(void *arg)
{
    int *bad = arg;
    for (int rep = 0; rep < 300; rep++) {
        count_job *j = job_new(257);
        pool_for_chunks(257, POOL_JOBS, count_fn, j);
        for (int i = 0; i < 257; i++)
            if (j->hits[i] != 1) (*bad)++;
        job_free(j);
    }
    return NULL;
}

START_TEST(concurrent_callers)
{
    pool_set_threads(3);
    pthread_t t[2];
    int bad[2] = {0, 0};
    for (int k = 0; k < 2; k++) ck_assert_int_eq(pthread_create(&t[k], NULL, caller, &bad[k]), 0);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    ck_assert_int_eq(bad[0], 0);
    ck_assert_int_eq(bad[1], 0);
}
END_TEST

START_TEST(thread_bounds)
{
    ck_assert_int_eq(pool_threads(), 1);
    pool_set_threads(0);
    ck_assert_int_eq(pool_threads(), 1);
    pool_set_threads(-5);
    ck_assert_int_eq(pool_threads(), 1);
    pool_set_threads(1000);
    ck_assert_int_eq(pool_threads(), POOL_MAX_THREADS);
    pool_set_threads(2);
    ck_assert_int_eq(pool_threads(), 2);
    /* shrinking after workers started: loops use the new count */
    count_job *j = job_new(100);
    pool_set_threads(4);
    pool_for(100, (size_t)1 << 20, count_fn, j);
    job_free(j);
    pool_set_threads(2);
    j = job_new(100);
    pool_for(100, (size_t)1 << 20, count_fn, j);
    ck_assert_int_eq(j->calls, 2);
    assert_each_once(j, 100);
    job_free(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    /* more threads than the machine's cores, under sanitizers or valgrind: slow, not stuck */
    TCase *t = tcase_create("split");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, each_index_once);
    tcase_add_test(t, chunks_fixed);
    tcase_add_test(t, small_loops_inline);
    suite_add_tcase(s, t);
    t = tcase_create("reentry");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, nested_inline);
    tcase_add_test(t, concurrent_callers);
    suite_add_tcase(s, t);
    t = tcase_create("threads");
    tcase_add_test(t, thread_bounds);
    suite_add_tcase(s, t);
    return check_run(s);
}
