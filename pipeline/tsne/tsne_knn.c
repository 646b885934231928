/* tsne_knn — exact kNN by blocked sgemm and per-query bounded heaps. */
#include "tsne_knn.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Query rows and reference rows per block: the (QB, RB) distance block (4 MB) stays in cache. */
#define QB 512
#define RB 2048
/* Parallel loops only from this many points on (see PAR_POINTS in tsne.c). */
#define PAR_POINTS 4096

/* (d, i) orders before (d2, i2): closer first, then lower index, so ties are deterministic. */
static int before(float d, int32_t i, float d2, int32_t i2) { return d < d2 || (d == d2 && i < i2); }

/* Max-heap of k (distance, index) pairs: the root is the worst kept neighbour. */
static void heap_replace_root(float *hd, int32_t *hi, int k, float d, int32_t i)
{
    int p = 0;
    for (;;) {
        int c = 2 * p + 1;
        if (c >= k) break;
        if (c + 1 < k && before(hd[c], hi[c], hd[c + 1], hi[c + 1])) c++;
        if (!before(d, i, hd[c], hi[c])) break;
        hd[p] = hd[c];
        hi[p] = hi[c];
        p = c;
    }
    hd[p] = d;
    hi[p] = i;
}

static void heap_sort_ascending(float *hd, int32_t *hi, int k)
{
    for (int m = k - 1; m > 0; m--) {
        float d = hd[m];
        int32_t i = hi[m];
        hd[m] = hd[0];
        hi[m] = hi[0];
        heap_replace_root(hd, hi, m, d, i);
    }
}

void tsne_knn(const float *x, size_t n, int d, int k, int32_t *idx, float *dist2)
{
    const size_t D = (size_t)d, K = (size_t)k;
    float *norm = xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < D; j++) s += (double)x[i * D + j] * x[i * D + j];
        norm[i] = (float)s;
    }
    /* Every heap starts full of sentinels worse than any real pair. */
    for (size_t t = 0; t < n * K; t++) {
        dist2[t] = 3.0e38f;
        idx[t] = INT32_MAX;
    }
    float *g = xmalloc(sizeof(float) * QB * RB);
    for (size_t q0 = 0; q0 < n; q0 += QB) {
        int nq = (int)(n - q0 < QB ? n - q0 : QB);
        for (size_t r0 = 0; r0 < n; r0 += RB) {
            int nr = (int)(n - r0 < RB ? n - r0 : RB);
            /* g = Xq Xr^T: (nq, nr) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nr, d, 1.0f, x + q0 * D, d, x + r0 * D, d, 0.0f,
                        g, nr);
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
            for (int a = 0; a < nq; a++) {
                size_t qi = q0 + (size_t)a;
                float *hd = dist2 + qi * K;
                int32_t *hi = idx + qi * K;
                const float *ga = g + (size_t)a * (size_t)nr;
                float qn = norm[qi];
                for (int b = 0; b < nr; b++) {
                    float dd = qn + norm[r0 + (size_t)b] - 2.0f * ga[b];
                    if (dd < 0) dd = 0;
                    int32_t j = (int32_t)(r0 + (size_t)b);
                    if (before(dd, j, hd[0], hi[0]) && (size_t)j != qi) heap_replace_root(hd, hi, k, dd, j);
                }
            }
        }
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
        for (int a = 0; a < nq; a++) heap_sort_ascending(dist2 + (q0 + (size_t)a) * K, idx + (q0 + (size_t)a) * K, k);
    }
    free(g);
    free(norm);
}
