/* pool — see pool.h.
 *
 * Not OpenMP: libgomp's idle workers spin for a long time, and beside OpenBLAS's own threads on
 * a loaded machine that made 2 threads 30x slower than 1. Workers here spin briefly (SPIN polls,
 * a fraction of a millisecond: longer than most gaps between the parallel loops of one render
 * step, where sleeping and being woken cost a 128-px render 20 % of its time), then sleep on a
 * condition variable.
 *
 * A loop is split into chunks, and every thread (the caller included) takes the next chunk until
 * none is left. On a shared machine a worker is often descheduled: the others then do its chunks
 * instead of waiting for it. Which chunk covers which indices depends only on the sizes, so
 * results do not depend on who runs what. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static int g_threads = 1;
/* Set on pool workers, and on the calling thread while it runs chunks: a loop started inside a
 * chunk then runs inline instead of re-entering the pool, which serves one loop at a time. */
static _Thread_local int tl_in_pool;
/* Held by the thread whose loop the pool serves: a second thread outside the pool that starts a
 * loop meanwhile runs it inline (pool.h). */
static atomic_flag g_busy = ATOMIC_FLAG_INIT;
static struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    int started; /* worker threads running */
    /* One cache line for a loop: the loop, its dispenser and its count, so that publishing and
     * joining a loop move that one line between the cores (a loop of a render step lasts a few
     * microseconds; each line the threads pass back and forth costs about 0.15). */
    _Alignas(64) pool_fn fn;
    void *ctx;
    int n, chunks;
    /* the current loop's chunk dispenser: gen (low 24 bits) << 40 | chunks << 20 | next chunk;
     * one word, so that a worker waking late can never take a chunk of a later loop for its own */
    _Atomic uint64_t ctr;
    atomic_uint gen;      /* bumped for each loop */
    atomic_int finished;  /* chunks of the current loop done */
    atomic_int sleepers;  /* workers blocked (or about to block) on go */
    atomic_int caller_sleeps; /* the caller blocks (or is about to) on done */
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

#define SPIN 200000
/* The dispenser's fields are 20 bits wide. */
#define MAX_CHUNKS 0xFFFFF

/* Takes the next chunk of loop gen (low 24 bits), or returns -1 if it has none left or is over. */
static int take_chunk(struct pool *P, unsigned gen)
{
    uint64_t v = atomic_load(&P->ctr);
    for (;;) {
        unsigned next = (unsigned)(v & 0xFFFFF), chunks = (unsigned)((v >> 20) & 0xFFFFF);
        if ((unsigned)(v >> 40) != (gen & 0xFFFFFF) || next >= chunks) return -1;
        if (atomic_compare_exchange_weak(&P->ctr, &v, v + 1)) return (int)next;
    }
}

/* Runs chunk c of the current loop, and signals the caller if it was the last and the caller
 * sleeps (a Dekker pair with pool_for_chunks: the caller sets caller_sleeps and then checks
 * finished, this adds to finished and then checks caller_sleeps, both sequentially
 * consistent). */
static void run_chunk(struct pool *P, int c)
{
    int chunks = P->chunks;
    int lo = (int)((long)P->n * c / chunks), hi = (int)((long)P->n * (c + 1) / chunks);
    if (lo < hi) P->fn(P->ctx, lo, hi);
    if (atomic_fetch_add(&P->finished, 1) + 1 == chunks && atomic_load(&P->caller_sleeps)) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_signal(&P->done);
        pthread_mutex_unlock(&P->mu);
    }
}

/* Runs chunks of loop gen until none is left. The loop's fields are read only while holding a
 * chunk: until that chunk is finished the caller cannot start another loop. */
static void run_chunks(struct pool *P, unsigned gen)
{
    int c;
    while ((c = take_chunk(P, gen)) >= 0) run_chunk(P, c);
}

static void *worker(void *arg)
{
    (void)arg;
    struct pool *P = &g_pool;
    unsigned seen = 0;
    tl_in_pool = 1;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&P->gen, memory_order_acquire) == seen && spins < SPIN) spins++;
        if (atomic_load(&P->gen) == seen) {
            /* counted asleep before the last check: the caller, which publishes and then reads
             * sleepers, wakes us or we see its loop */
            pthread_mutex_lock(&P->mu);
            atomic_fetch_add(&P->sleepers, 1);
            while (atomic_load(&P->gen) == seen) pthread_cond_wait(&P->go, &P->mu);
            atomic_fetch_sub(&P->sleepers, 1);
            pthread_mutex_unlock(&P->mu);
        }
        seen = atomic_load(&P->gen);
        run_chunks(P, seen);
    }
    return NULL;
}

void pool_set_threads(int n) { g_threads = n < 1 ? 1 : n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n; }
int pool_threads(void) { return g_threads; }
int pool_in_loop(void) { return tl_in_pool; }

void pool_for_chunks(int n, int per_thread, pool_fn fn, void *ctx)
{
    struct pool *P = &g_pool;
    if (g_threads <= 1 || n <= 1 || tl_in_pool || atomic_flag_test_and_set_explicit(&g_busy, memory_order_acquire)) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    if (P->started < g_threads - 1) { /* workers start at the first loop that needs them */
        pthread_mutex_lock(&P->mu);
        while (P->started < g_threads - 1) {
            pthread_t t;
            if (pthread_create(&t, NULL, worker, NULL) != 0) break;
            pthread_detach(t);
            P->started++;
        }
        pthread_mutex_unlock(&P->mu);
    }
    /* workers started for a larger count stay idle: a loop uses g_threads */
    int threads = P->started + 1 < g_threads ? P->started + 1 : g_threads;
    long want = (long)threads * (per_thread < 1 ? 1 : per_thread);
    int chunks = (int)(want < n ? want : n);
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    P->fn = fn, P->ctx = ctx, P->n = n, P->chunks = chunks;
    atomic_store_explicit(&P->finished, 0, memory_order_relaxed);
    unsigned gen = atomic_load_explicit(&P->gen, memory_order_relaxed) + 1;
    /* chunk 0 is the caller's from the start: one update of the line less */
    atomic_store_explicit(&P->ctr, (uint64_t)(gen & 0xFFFFFF) << 40 | (uint64_t)chunks << 20 | 1, memory_order_relaxed);
    atomic_store(&P->gen, gen); /* publishes the fields above */
    if (atomic_load(&P->sleepers) > 0) {
        pthread_mutex_lock(&P->mu);
        pthread_cond_broadcast(&P->go);
        pthread_mutex_unlock(&P->mu);
    }
    tl_in_pool = 1;
    run_chunk(P, 0);
    run_chunks(P, gen);
    tl_in_pool = 0;
    int spins = 0;
    while (atomic_load_explicit(&P->finished, memory_order_acquire) < chunks && spins < SPIN) spins++;
    if (atomic_load(&P->finished) < chunks) {
        pthread_mutex_lock(&P->mu);
        atomic_store(&P->caller_sleeps, 1);
        while (atomic_load(&P->finished) < chunks) pthread_cond_wait(&P->done, &P->mu);
        atomic_store(&P->caller_sleeps, 0);
        pthread_mutex_unlock(&P->mu);
    }
    atomic_flag_clear_explicit(&g_busy, memory_order_release);
}

void pool_for(int n, size_t work, pool_fn fn, void *ctx)
{
    if (work < POOL_MIN_WORK) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    pool_for_chunks(n, 1, fn, ctx);
}
