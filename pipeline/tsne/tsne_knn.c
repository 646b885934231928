/* tsne_knn — exact kNN by blocked sgemm and per-query candidate buffers.
 *
 * For a block of points against another, sgemm gives the dot products. The distance matrix is
 * symmetric, so each pair of blocks is multiplied once: the block's rows are scanned for the
 * first block's queries and its columns for the second's (knn_rounds). Each query's distances are
 * tested 16 at a time against its threshold (the k-th best distance found so far), a test that
 * almost every pair fails once a few blocks are done. The few pairs that pass are appended to the
 * query's buffer; a full buffer is cut back to its k best by quickselect, which lowers the
 * threshold. Pairs are ordered by (distance, index), a total order, so the k nearest are the
 * same whatever order they arrive in. When all the buffers would pass SYM_BYTES (a very large
 * k), query blocks go against all references instead (knn_query_blocks), with buffers per
 * worker. Threads: the common pool's (pool.h), a team of workers taking tasks in turn (team). */
#include "tsne_knn.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"

/* Query rows and reference rows per block: the (QB, RB) distance block (1 MB) stays in cache. */
#define QB 128
#define RB 2048
#define CHUNK 16
/* Rows per block of the symmetric search: a (SB, SB) block of products (1 MB) stays in L2. */
#define SB 512
/* The symmetric search's buffers at most (bytes). */
#define SYM_BYTES (256.0 * 1024 * 1024)
/* Parallel loops only from this many points on (see PAR_POINTS in tsne.c). */
#define PAR_POINTS 4096

/* A candidate as one 64-bit key: the squared distance's bits (a non-negative float orders as
 * its bits do) above the index, so keys order by (distance, index), a total order in which ties
 * go to the lower index, and comparing two is one integer compare. */
typedef uint64_t cand;

static inline cand make_cand(float d, int32_t i)
{
    uint32_t b;
    memcpy(&b, &d, sizeof b);
    return (uint64_t)b << 32 | (uint32_t)i;
}

static inline float cand_dist(cand c)
{
    uint32_t b = (uint32_t)(c >> 32);
    float d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Moves the k smallest of c[0..m) (k < m) to c[0..k), the k-th smallest at c[k - 1]. */
static void select_k(cand *c, int m, int k)
{
    int lo = 0, hi = m - 1, want = k - 1;
    while (lo < hi) {
        /* Median of three as pivot: deterministic, and fine on partly ordered input. */
        int mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], e = c[hi], piv;
        if (a < b) piv = b < e ? b : (a < e ? e : a);
        else piv = a < e ? a : (b < e ? e : b);
        int i = lo, j = hi;
        while (i <= j) {
            while (c[i] < piv) i++;
            while (piv < c[j]) j--;
            if (i <= j) {
                cand t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else break;
    }
}

/* select_k on AVX-512, for a buffer of at most cap keys: each pass splits the range around a
 * median-of-three pivot with compress stores, 8 keys a step and no branch per key (the scalar
 * partition mispredicts about every other compare), the smaller keys to the front of scratch t
 * and the larger to its back, then copies the range back. Keys are distinct (one per reference),
 * so the pivot's place is known exactly. Same result as select_k: the k smallest in c[0..k). */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void select_k_v4(cand *c, int m, int k, cand *t)
{
    int lo = 0, hi = m, want = k - 1;
    while (hi - lo > 16) {
        int mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], e = c[hi - 1], piv;
        if (a < b) piv = b < e ? b : (a < e ? e : a);
        else piv = a < e ? a : (b < e ? e : b);
        const __m512i vp = _mm512_set1_epi64((long long)piv);
        int f = lo, r = hi; /* next free place at the front; first used place at the back */
        int i = lo;
        for (; i + 8 <= hi; i += 8) {
            __m512i v = _mm512_loadu_si512(c + i);
            __mmask8 lt = _mm512_cmplt_epu64_mask(v, vp), gt = _mm512_cmpgt_epu64_mask(v, vp);
            _mm512_mask_compressstoreu_epi64(t + f, lt, v);
            f += __builtin_popcount(lt);
            r -= __builtin_popcount(gt);
            _mm512_mask_compressstoreu_epi64(t + r, gt, v);
        }
        for (; i < hi; i++) {
            if (c[i] < piv) t[f++] = c[i];
            else if (c[i] > piv) t[--r] = c[i];
        }
        t[f] = piv; /* f == r - 1: the pivot alone is neither smaller nor larger */
        memcpy(c + lo, t + lo, sizeof(cand) * (size_t)(hi - lo));
        if (want < f) hi = f;
        else if (want > f) lo = f + 1;
        else return;
    }
    /* a short range: insertion sort */
    for (int i = lo + 1; i < hi; i++) {
        cand v = c[i];
        int j = i;
        for (; j > lo && c[j - 1] > v; j--) c[j] = c[j - 1];
        c[j] = v;
    }
}

static int cmp_cand(const void *a, const void *b)
{
    cand x = *(const cand *)a, y = *(const cand *)b;
    return x < y ? -1 : x > y;
}

/* Cuts a query's buffer of m candidates to its k best; returns the new count and sets *thr to
 * the k-th best distance (or keeps it while fewer than k are known). scratch: room for m keys
 * for select_k_v4, or NULL for the scalar select_k. */
static int shrink(cand *c, int m, int k, float *thr, cand *scratch)
{
    if (m < k) return m;
    if (m > k) {
        if (scratch) select_k_v4(c, m, k, scratch);
        else select_k(c, m, k);
    }
    cand worst = c[0];
    for (int t = 1; t < k; t++)
        if (c[t] > worst) worst = c[t];
    *thr = cand_dist(worst);
    return k;
}

/* Appends the references of one (query, reference-block) row whose distance is at most *thr:
 * distance qn + |r|^2 - 2 q.r, clamped at 0, the query itself left out. The buffer holds cap
 * candidates; it is cut back to k whenever fewer than CHUNK places are left. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static int
scan_row(const float *ga, const float *rn, int nr, float qn, int32_t r0, int32_t self, int k, int cap, cand *c, int m,
         float *thr, cand *scratch)
{
    (void)scratch; /* the portable path cuts with the scalar select_k */
    int b0 = 0;
    for (; b0 + CHUNK <= nr; b0 += CHUNK) {
        float dd[CHUNK];
        int hit = 0;
        const float t = *thr;
        for (int q = 0; q < CHUNK; q++) {
            dd[q] = qn + rn[b0 + q] - 2.0f * ga[b0 + q];
            hit |= dd[q] <= t;
        }
        if (!hit) continue;
        for (int q = 0; q < CHUNK; q++) {
            int32_t j = r0 + b0 + q;
            if (dd[q] <= t && j != self) c[m++] = make_cand(dd[q] > 0 ? dd[q] : 0, j);
        }
        if (m > cap - CHUNK) m = shrink(c, m, k, thr, NULL);
    }
    for (; b0 < nr; b0++) {
        float dd = qn + rn[b0] - 2.0f * ga[b0];
        int32_t j = r0 + b0;
        if (dd <= *thr && j != self) {
            c[m++] = make_cand(dd > 0 ? dd : 0, j);
            if (m > cap - CHUNK) m = shrink(c, m, k, thr, NULL);
        }
    }
    return m;
}

/* scan_row on AVX-512: the passing distances of 16 references are compressed into the buffer
 * with their keys built in registers, without a branch per reference. The same distances (the
 * same operations in the same order, no fused multiply-add) and the same cuts as scan_row. */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static int scan_row_v4(const float *ga, const float *rn, int nr,
                                                                        float qn, int32_t r0, int32_t self, int k,
                                                                        int cap, cand *c, int m, float *thr,
                                                                        cand *scratch)
{
    const __m512 vq = _mm512_set1_ps(qn), two = _mm512_set1_ps(2.0f), zero = _mm512_setzero_ps();
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i vself = _mm512_set1_epi32(self);
    int b0 = 0;
    for (; b0 < nr; b0 += CHUNK) {
        const int left = nr - b0 < CHUNK ? nr - b0 : CHUNK;
        const __mmask16 in = (__mmask16)((1u << left) - 1);
        const __m512 dd = _mm512_sub_ps(_mm512_add_ps(vq, _mm512_maskz_loadu_ps(in, rn + b0)),
                                        _mm512_mul_ps(two, _mm512_maskz_loadu_ps(in, ga + b0)));
        const __m512i j = _mm512_add_epi32(_mm512_set1_epi32(r0 + b0), lane);
        __mmask16 hit = _mm512_mask_cmp_ps_mask(in, dd, _mm512_set1_ps(*thr), _CMP_LE_OQ);
        if (!hit) continue;
        hit &= _mm512_cmpneq_epi32_mask(j, vself);
        /* max(dd, 0) gives +0 for -0 too: the key of a zero distance is 0 */
        const __m512i bits = _mm512_castps_si512(_mm512_max_ps(dd, zero));
        const __m512i klo = _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(bits)), 32),
                                            _mm512_cvtepu32_epi64(_mm512_castsi512_si256(j)));
        const __m512i khi =
            _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(bits, 1)), 32),
                            _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(j, 1)));
        _mm512_mask_compressstoreu_epi64(c + m, (__mmask8)hit, klo);
        m += __builtin_popcount(hit & 0xFF);
        _mm512_mask_compressstoreu_epi64(c + m, (__mmask8)(hit >> 8), khi);
        m += __builtin_popcount(hit >> 8);
        if (m > cap - CHUNK) m = shrink(c, m, k, thr, scratch);
    }
    return m;
}

/* The column scan of a block of dot products g (nrows x ncols, row stride ldg) whose rows are
 * references r0.. (norms rnorm) and whose columns are queries q0.. (norms qnorm, buffers c,
 * counts cnt and thresholds thr, indexed from q0): for each query its column against its
 * threshold, the same test and the same distances (qn + rn - 2 g) as scan_row on the transposed
 * block, without transposing it. A passing pair is appended to its query's buffer, which is cut
 * back when full. No query is its own reference here (the diagonal blocks take scan_row only). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void
scan_cols(const float *g, size_t ldg, int nrows, const float *rnorm, int32_t r0, int ncols, const float *qnorm, int k,
          int cap, cand *c, int *cnt, float *thr)
{
    for (int i = 0; i < nrows; i++) {
        const float *gi = g + (size_t)i * ldg, rn = rnorm[i];
        for (int j0 = 0; j0 < ncols; j0 += CHUNK) {
            const int w = ncols - j0 < CHUNK ? ncols - j0 : CHUNK;
            int hit = 0;
            float dd[CHUNK];
            for (int q = 0; q < w; q++) {
                dd[q] = qnorm[j0 + q] + rn - 2.0f * gi[j0 + q];
                hit |= dd[q] <= thr[j0 + q];
            }
            if (!hit) continue;
            for (int q = 0; q < w; q++) {
                const int j = j0 + q;
                if (!(dd[q] <= thr[j])) continue;
                cand *cj = c + (size_t)j * (size_t)cap;
                cj[cnt[j]++] = make_cand(dd[q] > 0 ? dd[q] : 0, r0 + i);
                if (cnt[j] > cap - CHUNK) cnt[j] = shrink(cj, cnt[j], k, &thr[j], NULL);
            }
        }
    }
}

/* scan_cols on AVX-512: row by row (the block is read in order), 16 queries' thresholds a
 * compare. */
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void scan_cols_v4(const float *g, size_t ldg, int nrows,
                                                                          const float *rnorm, int32_t r0, int ncols,
                                                                          const float *qnorm, int k, int cap, cand *c,
                                                                          int *cnt, float *thr, cand *scratch)
{
    const __m512 two = _mm512_set1_ps(2.0f), zero = _mm512_setzero_ps();
    for (int i = 0; i < nrows; i++) {
        const float *gi = g + (size_t)i * ldg;
        const __m512 vr = _mm512_set1_ps(rnorm[i]);
        for (int j0 = 0; j0 < ncols; j0 += CHUNK) {
            const int w = ncols - j0 < CHUNK ? ncols - j0 : CHUNK;
            const __mmask16 in = (__mmask16)((1u << w) - 1);
            const __m512 dd = _mm512_sub_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(in, qnorm + j0), vr),
                                            _mm512_mul_ps(two, _mm512_maskz_loadu_ps(in, gi + j0)));
            unsigned hit = _mm512_mask_cmp_ps_mask(in, dd, _mm512_maskz_loadu_ps(in, thr + j0), _CMP_LE_OQ);
            if (!hit) continue;
            float dv[CHUNK];
            _mm512_storeu_ps(dv, _mm512_max_ps(dd, zero));
            for (; hit; hit &= hit - 1) {
                const int j = j0 + __builtin_ctz(hit);
                cand *cj = c + (size_t)j * (size_t)cap;
                cj[cnt[j]++] = make_cand(dv[j - j0], r0 + i);
                if (cnt[j] > cap - CHUNK) cnt[j] = shrink(cj, cnt[j], k, &thr[j], scratch);
            }
        }
    }
}

static int g_portable; /* tsne_knn_set_portable */
static int g_method;   /* tsne_knn_set_method */

void tsne_knn_set_portable(int on) { g_portable = on != 0; }

void tsne_knn_set_method(int method) { g_method = method; }

/* The inputs and the per-query state of one search. */
typedef struct {
    const float *x, *norm;
    size_t n;
    int d, k, cap, v4;
    cand *cbuf; /* (n, cap): the symmetric search's buffers (query blocks keep theirs per thread) */
    int *cnt;
    float *thr;
} knn_job;

/* Cuts query q's buffer c (count m) to its k best, sorts them and writes its output row. */
static void finish_query(const knn_job *J, size_t q, cand *c, int m, float thr, cand *scratch, int32_t *idx,
                         float *dist2)
{
    const size_t K = (size_t)J->k;
    m = shrink(c, m, J->k, &thr, scratch);
    qsort(c, (size_t)m, sizeof(cand), cmp_cand);
    for (size_t t = 0; t < K; t++) {
        dist2[q * K + t] = cand_dist(c[t]);
        idx[q * K + t] = (int32_t)(uint32_t)c[t];
    }
}

/* The threads of a search: nw workers, each with its own buffers (slot w of g, cbuf, thr, cnt and
 * scratch), taking the tasks [0, ntasks) of one step in turn through an atomic counter (the next
 * task to whoever is free). Steps run one after the other: a step starts once the last is done. */
enum { STEP_QUERIES, STEP_DIAGONAL, STEP_ROUND, STEP_FINISH };
#define FQ 256 /* queries per task of STEP_FINISH */

typedef struct team {
    const knn_job *J;
    int32_t *idx;
    float *dist2;
    int nw, step, round, ntasks;
    atomic_int next;
    float **g;         /* per worker: the block of products */
    cand **cbuf;       /* per worker (STEP_QUERIES): QB query buffers */
    cand **scratch;    /* per worker: cap keys of scratch (AVX-512 only, else NULL) */
} team;

static void query_block(const team *T, int w, int qb);
static void pair_task(const knn_job *J, int a, int b, float *g, cand *scratch);

/* Task t of the current step on worker w's buffers. */
static void team_task(team *T, int w, int t)
{
    const knn_job *J = T->J;
    const int nblk = (int)((J->n + SB - 1) / SB), nbp = nblk + (nblk & 1);
    switch (T->step) {
    case STEP_QUERIES:
        query_block(T, w, t);
        break;
    case STEP_DIAGONAL:
        pair_task(J, t, t, T->g[w], T->scratch[w]);
        break;
    case STEP_ROUND: {
        /* round r of the circle method: block nbp - 1 fixed, the others rotating */
        int r = T->round, a = t == 0 ? nbp - 1 : (r + t) % (nbp - 1), b = (r - t + nbp - 1) % (nbp - 1);
        if (a < nblk && b < nblk) pair_task(J, a < b ? a : b, a < b ? b : a, T->g[w], T->scratch[w]);
        break;
    }
    default: /* STEP_FINISH */
        for (size_t q = (size_t)t * FQ; q < J->n && q < (size_t)(t + 1) * FQ; q++)
            finish_query(J, q, J->cbuf + q * (size_t)J->cap, J->cnt[q], J->thr[q], T->scratch[w], T->idx, T->dist2);
    }
}

/* pool body: workers [w0, w1), the first's buffers (one thread runs a chunk) taking tasks until
 * none is left. */
static void team_workers(void *ctx, int w0, int w1)
{
    team *T = ctx;
    (void)w1;
    for (int t; (t = atomic_fetch_add_explicit(&T->next, 1, memory_order_relaxed)) < T->ntasks;) team_task(T, w0, t);
}

/* Runs step `step` (round `round`) of ntasks tasks on the team, on the common pool. */
static void team_step(team *T, int step, int round, int ntasks)
{
    T->step = step, T->round = round, T->ntasks = ntasks;
    atomic_store_explicit(&T->next, 0, memory_order_relaxed);
    if (T->nw > 1) pool_for_chunks(T->nw, 1, team_workers, T);
    else team_workers(T, 0, 1);
}

/* A team of nw workers for J (one below PAR_POINTS points), each with a (rows, cols) block of
 * products, scratch, and with qbuf query buffers of QB (query blocks only). */
static void team_init(team *T, const knn_job *J, int32_t *idx, float *dist2, size_t rows, size_t cols, int qbuf)
{
    memset(T, 0, sizeof *T);
    T->J = J, T->idx = idx, T->dist2 = dist2;
    T->nw = J->n >= PAR_POINTS ? pool_threads() : 1;
    T->g = xcalloc((size_t)T->nw, sizeof *T->g);
    T->cbuf = xcalloc((size_t)T->nw, sizeof *T->cbuf);
    T->scratch = xcalloc((size_t)T->nw, sizeof *T->scratch);
    for (int w = 0; w < T->nw; w++) {
        T->g[w] = xmalloc(sizeof(float) * rows * cols);
        if (qbuf) T->cbuf[w] = xmalloc(sizeof(cand) * QB * (size_t)J->cap);
        if (J->v4) T->scratch[w] = xmalloc(sizeof(cand) * (size_t)J->cap);
    }
}

static void team_free(team *T)
{
    for (int w = 0; w < T->nw; w++) {
        free(T->g[w]);
        free(T->cbuf[w]);
        free(T->scratch[w]);
    }
    free(T->g);
    free(T->cbuf);
    free(T->scratch);
}

/* Query blocks (QB) against every reference block (RB), each worker with its own buffers: for a
 * k too large for the symmetric search's buffers. Workers take whole query blocks and call a
 * single-threaded sgemm per block pair: the blocks are the same for any thread count, and so are
 * the distances (a multi-threaded sgemm may split its sums differently with more threads). */
static void query_block(const team *T, int w, int qb)
{
    const knn_job *J = T->J;
    const size_t n = J->n, D = (size_t)J->d;
    const int k = J->k, cap = J->cap, d = J->d, v4 = J->v4;
    float *g = T->g[w], thr[QB];
    cand *cbuf = T->cbuf[w], *scratch = T->scratch[w];
    int cnt[QB];
    size_t q0 = (size_t)qb * QB;
    int nq = (int)(n - q0 < QB ? n - q0 : QB);
    for (int a = 0; a < nq; a++) {
        thr[a] = 3.0e38f;
        cnt[a] = 0;
    }
    for (size_t r0 = 0; r0 < n; r0 += RB) {
        int nr = (int)(n - r0 < RB ? n - r0 : RB);
        /* g = Xq Xr^T: (nq, nr) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nr, d, 1.0f, J->x + q0 * D, d, J->x + r0 * D, d, 0.0f,
                    g, nr);
        for (int a = 0; a < nq; a++)
            cnt[a] = (v4 ? scan_row_v4 : scan_row)(g + (size_t)a * (size_t)nr, J->norm + r0, nr, J->norm[q0 + (size_t)a],
                                                   (int32_t)r0, (int32_t)(q0 + (size_t)a), k, cap,
                                                   cbuf + (size_t)a * (size_t)cap, cnt[a], &thr[a], scratch);
    }
    for (int a = 0; a < nq; a++)
        finish_query(J, q0 + (size_t)a, cbuf + (size_t)a * (size_t)cap, cnt[a], thr[a], scratch, T->idx, T->dist2);
}

static void knn_query_blocks(const knn_job *J, int32_t *idx, float *dist2)
{
    team T;
    team_init(&T, J, idx, dist2, QB, RB, 1);
    team_step(&T, STEP_QUERIES, 0, (int)((J->n + QB - 1) / QB));
    team_free(&T);
}

/* Blocks a < b of the symmetric search: g = X_a X_b^T (one single-threaded sgemm), its rows
 * scanned for a's queries and its columns for b's, so every distance is computed once and serves
 * both of its points (d_ij and d_ji are the same float). a == b: the rows only. */
static void pair_task(const knn_job *J, int a, int b, float *g, cand *scratch)
{
    const size_t n = J->n, D = (size_t)J->d, a0 = (size_t)a * SB, b0 = (size_t)b * SB;
    const int na = (int)(n - a0 < SB ? n - a0 : SB), nb = (int)(n - b0 < SB ? n - b0 : SB);
    const int k = J->k, cap = J->cap;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, na, nb, J->d, 1.0f, J->x + a0 * D, J->d, J->x + b0 * D, J->d,
                0.0f, g, nb);
    for (int i = 0; i < na; i++) {
        const size_t q = a0 + (size_t)i;
        J->cnt[q] = (J->v4 ? scan_row_v4 : scan_row)(g + (size_t)i * (size_t)nb, J->norm + b0, nb, J->norm[q],
                                                     (int32_t)b0, (int32_t)q, k, cap, J->cbuf + q * (size_t)cap,
                                                     J->cnt[q], &J->thr[q], scratch);
    }
    if (a == b) return;
    if (J->v4)
        scan_cols_v4(g, (size_t)nb, na, J->norm + a0, (int32_t)a0, nb, J->norm + b0, k, cap, J->cbuf + b0 * (size_t)cap,
                     J->cnt + b0, J->thr + b0, scratch);
    else
        scan_cols(g, (size_t)nb, na, J->norm + a0, (int32_t)a0, nb, J->norm + b0, k, cap, J->cbuf + b0 * (size_t)cap,
                  J->cnt + b0, J->thr + b0);
}

/* The symmetric search: each pair of blocks once, half the products of knn_query_blocks. The
 * pairs are played in rounds of a round-robin tournament (circle method: block nbp - 1 fixed, the
 * others rotating; team_task), so that within a round no two tasks touch the same block's
 * queries and the threads need no locks; a round starts once the last one is done. The diagonal
 * blocks are a round of their own. Each query sees its references in the same order for any
 * thread count. */
static void knn_rounds(const knn_job *J, int32_t *idx, float *dist2)
{
    const size_t n = J->n;
    const int nblk = (int)((n + SB - 1) / SB), nbp = nblk + (nblk & 1);
    team T;
    team_init(&T, J, idx, dist2, SB, SB, 0);
    team_step(&T, STEP_DIAGONAL, 0, nblk);
    for (int r = 0; r < nbp - 1; r++) team_step(&T, STEP_ROUND, r, nbp / 2);
    team_step(&T, STEP_FINISH, 0, (int)((n + FQ - 1) / FQ));
    team_free(&T);
}

void tsne_knn(const float *x, size_t n, int d, int k, int32_t *idx, float *dist2)
{
    const size_t D = (size_t)d;
    /* A buffer per query: k kept plus room for k arrivals between cuts, and for the CHUNK a scan
     * step may add before it cuts (more room saves cuts but not time: 2k to 6k measured alike). */
    const int cap = 2 * k + CHUNK;
    float *norm = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < D; j++) s += (double)x[i * D + j] * x[i * D + j];
        norm[i] = (float)s;
    }
    knn_job J = {.x = x, .norm = norm, .n = n, .d = d, .k = k, .cap = cap};
    J.v4 = !g_portable && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
    /* The symmetric search keeps every query's buffer at once: n * cap keys (16 MB for 10,000
     * points at perplexity 30, 110 MB for 70,000); beyond SYM_BYTES, query blocks. */
    int sym = g_method ? g_method == 1 : (double)n * cap * sizeof(cand) <= SYM_BYTES;
    if (sym) {
        J.cbuf = xmalloc(sizeof(cand) * n * (size_t)cap);
        J.cnt = xcalloc(n, sizeof(int));
        J.thr = xmalloc(sizeof(float) * n);
        for (size_t q = 0; q < n; q++) J.thr[q] = 3.0e38f;
        knn_rounds(&J, idx, dist2);
        free(J.cbuf);
        free(J.cnt);
        free(J.thr);
    } else {
        knn_query_blocks(&J, idx, dist2);
    }
    free(norm);
}
