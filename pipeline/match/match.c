/* match — correlations of two networks' units and their optimal one-to-one matching (match.h). */
#include "match.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "tsne_grid.h"

/* Column j of x (n x d) centred and divided by its norm, into z (n x d, doubles): then z_a^T z_b
 * is the correlation matrix. A constant column becomes zeros (correlation 0). Returns the count
 * of constant columns. */
static int standardize(const float *x, size_t n, int d, double *z)
{
    int constant = 0;
    for (int j = 0; j < d; j++) {
        double mean = 0, ss = 0;
        for (size_t i = 0; i < n; i++) mean += x[i * d + j];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * d + j] - mean;
            z[i * d + j] = v;
            ss += v * v;
        }
        /* relative to the values' size: float rounding of a constant leaves ~1e-7 of spread */
        double scale = 1.0 / sqrt(ss);
        if (!(ss > 1e-12 * (mean * mean + 1) * (double)n)) scale = 0, constant++;
        for (size_t i = 0; i < n; i++) z[i * d + j] *= scale;
    }
    return constant;
}

int match_correlate(const float *a, const float *b, size_t n, int da, int db, double *corr, int *constant_a,
                    int *constant_b, err *e)
{
    if (n < 2 || da < 1 || db < 1)
        return err_set(e, "match: %zu images, %d and %d units (expected at least 2 images and 1 unit each)", n, da, db);
    double *za = xmalloc(sizeof(double) * n * (size_t)da), *zb = xmalloc(sizeof(double) * n * (size_t)db);
    int ca = standardize(a, n, da, za), cb = standardize(b, n, db, zb);
    /* corr (da x db) = za^T (da x n) * zb (n x db) */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, da, db, (int)n, 1.0, za, da, zb, db, 0.0, corr, db);
    /* rounding may step a hair past +-1 */
    for (size_t i = 0; i < (size_t)da * db; i++) corr[i] = corr[i] > 1 ? 1 : corr[i] < -1 ? -1 : corr[i];
    free(za), free(zb);
    if (constant_a) *constant_a = ca;
    if (constant_b) *constant_b = cb;
    return 0;
}

int match_assign(const double *corr, int na, int nb, int *assign, double *total, err *e)
{
    if (na < 1 || na > nb) return err_set(e, "match: %d units against %d (expected 1 <= first <= second)", na, nb);
    /* LAPJV minimizes: the cost of a pair is its negated correlation */
    double *cost = xmalloc(sizeof(double) * (size_t)na * nb), t = 0;
    for (size_t i = 0; i < (size_t)na * nb; i++) cost[i] = -corr[i];
    int rc = tsne_grid_lapjv(cost, na, nb, assign, &t, e);
    free(cost);
    if (rc == 0 && total) *total = -t;
    return rc;
}

typedef struct by_r {
    const double *corr;
    const int *assign;
    int nb;
} by_r;

static int cmp_pair(const void *x, const void *y, void *ctx)
{
    const by_r *c = ctx;
    int i = *(const int *)x, j = *(const int *)y;
    double ri = c->corr[(size_t)i * c->nb + c->assign[i]], rj = c->corr[(size_t)j * c->nb + c->assign[j]];
    if (ri != rj) return ri < rj ? 1 : -1;
    return (i > j) - (i < j);
}

void match_order(const double *corr, int na, int nb, const int *assign, int *order)
{
    for (int i = 0; i < na; i++) order[i] = i;
    by_r c = {corr, assign, nb};
    qsort_r(order, (size_t)na, sizeof(int), cmp_pair, &c);
}
