/* pool — the one thread pool of the pipeline's tools: loops over [0, n) cut into contiguous
 * chunks that the calling thread and the pool's workers share out. Process-wide: a tool sets the
 * thread count once (pool_set_threads), and every module's loops (the nn kernels, t-SNE, SSIM, the
 * sprite sheets) run on the same workers, instead of each module starting threads of its own
 * beside the others' on the same cores.
 *
 * Rules:
 * - Nested loops run inline: a loop started from inside a chunk (on a worker, or on the caller
 *   while it runs chunks) runs fn(ctx, 0, n) on that thread. The outer loop owns the threads.
 * - One loop at a time: a thread that is not in the pool and starts a loop while another thread's
 *   loop runs gets its loop inline too, never a wait and never a mixed-up job.
 * - Which indices a chunk covers depends only on n and the chunk count; the chunk count depends
 *   on the thread count. A loop whose result must not depend on the threads (a sum) splits its
 *   work into fixed blocks itself: n = the number of blocks, each block's result stored apart
 *   and combined afterwards in block order.
 * - Workers start at the first loop that needs them, spin briefly after each loop (the gaps
 *   between the loops of one step are microseconds), then sleep; they are never joined. */
#ifndef FV_POOL_H
#define FV_POOL_H

#include <stddef.h>

/* The most threads the pool uses; pool_set_threads caps its argument here. */
#define POOL_MAX_THREADS 64

/* A loop's body: runs indices [lo, hi) of the loop with context ctx. Chunks of one loop must not
 * write the same memory. */
typedef void (*pool_fn)(void *ctx, int lo, int hi);

/* Sets the number of threads loops use, the caller included (n < 1: 1; n > POOL_MAX_THREADS:
 * POOL_MAX_THREADS). Call it while no loop runs; workers already started stay (idle) when n
 * shrinks. The default is 1: every loop inline. */
void pool_set_threads(int n);
/* The thread count pool_set_threads set (>= 1). */
int pool_threads(void);

/* Below this much work (about the floats a loop touches) pool_for runs inline: handing a loop to
 * the workers costs about a microsecond. */
#define POOL_MIN_WORK 8192

/* Runs fn(ctx, lo, hi) over [0, n) in one chunk per thread, the caller taking the first: each
 * thread then works on the same part of a tensor from one loop to the next, in its own cache.
 * work: about the floats the loop touches; below POOL_MIN_WORK, or n <= 1, it runs inline.
 * Returns when every index has run exactly once. n <= 0: nothing runs. */
void pool_for(int n, size_t work, pool_fn fn, void *ctx);

/* As pool_for, for data-parallel jobs of uneven items (minibatch slots, image rows of a
 * transform, whole sheets): always split (unless the rules above say inline), into per_thread
 * chunks per thread (at most n chunks), which the threads take in turn, so one thread may run
 * several and a descheduled thread holds up at most one. POOL_JOBS is the usual per_thread. */
#define POOL_JOBS 4
void pool_for_chunks(int n, int per_thread, pool_fn fn, void *ctx);

/* 1 on a thread that is running a chunk of a loop (a loop started there runs inline), else 0. */
int pool_in_loop(void);

#endif
