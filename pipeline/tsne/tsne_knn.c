/* tsne_knn — exact kNN by blocked sgemm and per-query candidate buffers.
 *
 * For a block of queries against a block of references, sgemm gives the dot products; each
 * query row is then scanned 16 distances at a time against the query's threshold (the k-th best
 * distance found so far), a test that almost every pair fails once a few blocks are done and
 * that the compiler turns into SIMD compares. The few pairs that pass are appended to the
 * query's buffer; a full buffer is cut back to its k best by quickselect, which lowers the
 * threshold. Pairs are ordered by (distance, index), a total order, so the k nearest are the
 * same whatever order they arrive in. */
#include "tsne_knn.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Query rows and reference rows per block: the (QB, RB) distance block (1 MB) stays in cache. */
#define QB 128
#define RB 2048
#define CHUNK 16
/* Parallel loops only from this many points on (see PAR_POINTS in tsne.c). */
#define PAR_POINTS 4096

typedef struct cand {
    float d;
    int32_t i;
} cand;

/* (d, i) orders before (d2, i2): closer first, then lower index, so ties are deterministic. */
static int before(cand a, cand b) { return a.d < b.d || (a.d == b.d && a.i < b.i); }

/* Moves the k smallest of c[0..m) (k < m) to c[0..k), the k-th smallest at c[k - 1]. */
static void select_k(cand *c, int m, int k)
{
    int lo = 0, hi = m - 1, want = k - 1;
    while (lo < hi) {
        /* Median of three as pivot: deterministic, and fine on partly ordered input. */
        int mid = lo + (hi - lo) / 2;
        cand a = c[lo], b = c[mid], e = c[hi], piv;
        if (before(a, b)) piv = before(b, e) ? b : (before(a, e) ? e : a);
        else piv = before(a, e) ? a : (before(b, e) ? e : b);
        int i = lo, j = hi;
        while (i <= j) {
            while (before(c[i], piv)) i++;
            while (before(piv, c[j])) j--;
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

static int cmp_cand(const void *a, const void *b)
{
    cand x = *(const cand *)a, y = *(const cand *)b;
    return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

/* Cuts a query's buffer of m candidates to its k best; returns the new count and sets *thr to
 * the k-th best distance (or keeps it while fewer than k are known). */
static int shrink(cand *c, int m, int k, float *thr)
{
    if (m < k) return m;
    if (m > k) select_k(c, m, k);
    float worst = c[0].d;
    for (int t = 1; t < k; t++)
        if (c[t].d > worst) worst = c[t].d;
    *thr = worst;
    return k;
}

/* Appends the references of one (query, reference-block) row whose distance is at most *thr. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static int
scan_row(const float *ga, const float *rn, int nr, float qn, int32_t r0, int32_t self, int k, int cap, cand *c, int m,
         float *thr)
{
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
            if (dd[q] <= *thr && j != self) {
                c[m].d = dd[q] > 0 ? dd[q] : 0;
                c[m++].i = j;
                if (m == cap) m = shrink(c, m, k, thr);
            }
        }
    }
    for (; b0 < nr; b0++) {
        float dd = qn + rn[b0] - 2.0f * ga[b0];
        int32_t j = r0 + b0;
        if (dd <= *thr && j != self) {
            c[m].d = dd > 0 ? dd : 0;
            c[m++].i = j;
            if (m == cap) m = shrink(c, m, k, thr);
        }
    }
    return m;
}

void tsne_knn(const float *x, size_t n, int d, int k, int32_t *idx, float *dist2)
{
    const size_t D = (size_t)d, K = (size_t)k;
    /* A buffer per query: k kept plus room for 3k arrivals between cuts. */
    const int cap = 4 * k;
    float *norm = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < D; j++) s += (double)x[i * D + j] * x[i * D + j];
        norm[i] = (float)s;
    }
    /* Threads take whole query blocks and call a single-threaded sgemm per (query, reference)
     * block pair: the blocks are the same for any thread count, and so are the distances (a
     * multi-threaded sgemm may split its sums differently with more threads). */
    const int nqb = (int)((n + QB - 1) / QB);
#pragma omp parallel if (n >= PAR_POINTS)
    {
        float *g = xmalloc(sizeof(float) * QB * RB), thr[QB];
        cand *cbuf = xmalloc(sizeof(cand) * QB * (size_t)cap);
        int cnt[QB];
#pragma omp for schedule(dynamic, 1)
        for (int qb = 0; qb < nqb; qb++) {
            size_t q0 = (size_t)qb * QB;
            int nq = (int)(n - q0 < QB ? n - q0 : QB);
            for (int a = 0; a < nq; a++) {
                thr[a] = 3.0e38f;
                cnt[a] = 0;
            }
            for (size_t r0 = 0; r0 < n; r0 += RB) {
                int nr = (int)(n - r0 < RB ? n - r0 : RB);
                /* g = Xq Xr^T: (nq, nr) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nr, d, 1.0f, x + q0 * D, d, x + r0 * D, d,
                            0.0f, g, nr);
                for (int a = 0; a < nq; a++)
                    cnt[a] = scan_row(g + (size_t)a * (size_t)nr, norm + r0, nr, norm[q0 + (size_t)a], (int32_t)r0,
                                      (int32_t)(q0 + (size_t)a), k, cap, cbuf + (size_t)a * (size_t)cap, cnt[a],
                                      &thr[a]);
            }
            for (int a = 0; a < nq; a++) {
                cand *c = cbuf + (size_t)a * (size_t)cap;
                int m = shrink(c, cnt[a], k, &thr[a]);
                qsort(c, (size_t)m, sizeof(cand), cmp_cand);
                for (size_t t = 0; t < K; t++) {
                    dist2[(q0 + (size_t)a) * K + t] = c[t].d;
                    idx[(q0 + (size_t)a) * K + t] = c[t].i;
                }
            }
        }
        free(g);
        free(cbuf);
    }
    free(norm);
}
