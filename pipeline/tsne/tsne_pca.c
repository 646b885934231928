/* tsne_pca — PCA by an eigendecomposition of the covariance (or Gram) matrix. */
#include "tsne_pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* LAPACK's symmetric eigensolver from OpenBLAS (Debian ships no lapacke.h for it). The three
 * trailing size_t are the hidden lengths of the character arguments gfortran expects. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, size_t, size_t, size_t);

/* Top k eigenpairs of the symmetric m x m matrix a (row-major upper triangle filled; destroyed).
 * vecs: m x k column-major (column c = eigenvector of the c-th largest eigenvalue), vals: k. */
static int top_eigen(double *a, int m, int k, double *vecs, double *vals, err *e)
{
    int il = m - k + 1, iu = m, found = 0, info = 0, lwork = -1, liwork = -1, iwq;
    double vl = 0, vu = 0, abstol = 0, wq;
    double *w = xmalloc(sizeof(double) * (size_t)m), *z = xmalloc(sizeof(double) * (size_t)m * (size_t)k);
    int *isuppz = xmalloc(sizeof(int) * 2 * (size_t)m);
    double *work = NULL;
    int *iwork = NULL;
    /* Row-major upper = column-major lower. */
    dsyevr_("V", "I", "L", &m, a, &m, &vl, &vu, &il, &iu, &abstol, &found, w, z, &m, isuppz, &wq, &lwork, &iwq,
            &liwork, &info, 1, 1, 1);
    if (info != 0) goto fail;
    lwork = (int)wq;
    liwork = iwq;
    work = xmalloc(sizeof(double) * (size_t)lwork);
    iwork = xmalloc(sizeof(int) * (size_t)liwork);
    dsyevr_("V", "I", "L", &m, a, &m, &vl, &vu, &il, &iu, &abstol, &found, w, z, &m, isuppz, work, &lwork, iwork,
            &liwork, &info, 1, 1, 1);
    if (info != 0 || found != k) goto fail;
    /* dsyevr returns ascending eigenvalues: reverse to decreasing variance. */
    for (int c = 0; c < k; c++) {
        vals[c] = w[k - 1 - c];
        memcpy(vecs + (size_t)c * (size_t)m, z + (size_t)(k - 1 - c) * (size_t)m, sizeof(double) * (size_t)m);
    }
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return 0;
fail:
    free(w);
    free(z);
    free(isuppz);
    free(work);
    free(iwork);
    return err_set(e, "pca: LAPACK dsyevr failed (info %d, %d of %d eigenvalues)", info, found, k);
}

/* Flips v (length m) so that its largest-magnitude entry is positive; returns the sign used. */
static double sign_of_largest(const double *v, size_t m)
{
    double best = 0;
    for (size_t j = 0; j < m; j++)
        if (fabs(v[j]) > fabs(best)) best = v[j];
    return best < 0 ? -1.0 : 1.0;
}

/* Loops on the common pool (pool.h) only from this much work (multiply-adds) on. */
#define PAR_WORK 50000000
/* The covariance's accumulators (fixed, so the sums do not depend on the threads), and the rows
 * of a block of centred rows. */
#define NACC 4
#define COV_ROWS 2048
/* Rows per block of the scores' products. */
#define SCORE_ROWS 4096

typedef struct cov_job {
    const float *x, *meanf;
    size_t n;
    int d;
    size_t B, nblk;
    float *acc; /* (NACC, d, d) */
} cov_job;

/* pool body: accumulators [q0, q1), accumulator q += the blocks q, q + NACC, ... of centred rows
 * (each block one single-threaded ssyrk). */
static void cov_accumulators(void *ctx, int q0, int q1)
{
    const cov_job *j = ctx;
    const size_t D = (size_t)j->d, B = j->B, n = j->n;
    float *blk = xmalloc(sizeof(float) * B * D);
    for (int q = q0; q < q1; q++)
        for (size_t bi = (size_t)q; bi < j->nblk; bi += NACC) {
            size_t i0 = bi * B, nb = n - i0 < B ? n - i0 : B;
            for (size_t i = 0; i < nb; i++)
                for (size_t c = 0; c < D; c++) blk[i * D + c] = j->x[(i0 + i) * D + c] - j->meanf[c];
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, j->d, (int)nb, 1.0f, blk, j->d, 1.0f,
                        j->acc + (size_t)q * D * D, j->d);
        }
    free(blk);
}

typedef struct score_job {
    const float *x, *v;
    float *out;
    size_t n;
    int d, k;
} score_job;

/* pool body: blocks [b0, b1) of SCORE_ROWS rows, out = x v (one single-threaded sgemm each). */
static void score_blocks(void *ctx, int b0, int b1)
{
    const score_job *j = ctx;
    const size_t D = (size_t)j->d, K = (size_t)j->k;
    for (size_t i0 = (size_t)b0 * SCORE_ROWS; i0 < j->n && i0 < (size_t)b1 * SCORE_ROWS; i0 += SCORE_ROWS) {
        size_t nb = j->n - i0 < SCORE_ROWS ? j->n - i0 : SCORE_ROWS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, j->k, j->d, 1.0f, j->x + i0 * D, j->d, j->v,
                    j->k, 0.0f, j->out + i0 * K, j->k);
    }
}

int tsne_pca(const float *x, size_t n, int d, int k, float *out, err *e)
{
    const size_t D = (size_t)d, K = (size_t)k;
    double *mean = xcalloc(D, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) mean[j] += x[i * D + j];
    for (size_t j = 0; j < D; j++) mean[j] /= (double)n;
    float *meanf = xmalloc(sizeof(float) * D);
    for (size_t j = 0; j < D; j++) meanf[j] = (float)mean[j];
    int rc = -1;

    if (D <= n) {
        /* Covariance (up to 1/n) C = Xc^T Xc, accumulated over blocks of centred rows: (d, d).
         * Block b goes to accumulator b % NACC, the accumulators run in parallel and are summed
         * in order: the same sums for any thread count (OpenBLAS itself runs single-threaded). */
        const size_t B = COV_ROWS, nblk = (n + B - 1) / B;
        float *acc = xcalloc(NACC * D * D, sizeof(float));
        cov_job cj = {x, meanf, n, d, B, nblk, acc};
        if (n * D * D >= PAR_WORK) pool_for_chunks(NACC, NACC, cov_accumulators, &cj);
        else cov_accumulators(&cj, 0, NACC);
        double *c = xcalloc(D * D, sizeof(double));
        for (int q = 0; q < NACC; q++)
            for (size_t t = 0; t < D * D; t++) c[t] += acc[(size_t)q * D * D + t];
        free(acc);
        double *a = xmalloc(sizeof(double) * D * D), *vecs = xmalloc(sizeof(double) * D * K), vals[K];
        for (size_t t = 0; t < D * D; t++) a[t] = c[t];
        free(c);
        if (top_eigen(a, d, k, vecs, vals, e) == 0) {
            /* v: (d, k) row-major loadings, sign-fixed. */
            float *v = xmalloc(sizeof(float) * D * K);
            double shift[K];
            for (size_t cc = 0; cc < K; cc++) {
                double s = sign_of_largest(vecs + cc * D, D);
                shift[cc] = 0;
                for (size_t j = 0; j < D; j++) {
                    v[j * K + cc] = (float)(s * vecs[cc * D + j]);
                    shift[cc] += mean[j] * s * vecs[cc * D + j];
                }
            }
            /* scores = X V - mean V: (n, k), by fixed blocks of rows in parallel */
            score_job sj = {x, v, out, n, d, k};
            int nsb = (int)((n + SCORE_ROWS - 1) / SCORE_ROWS);
            if (n * D * K >= PAR_WORK) pool_for_chunks(nsb, POOL_JOBS, score_blocks, &sj);
            else score_blocks(&sj, 0, nsb);
            for (size_t i = 0; i < n; i++)
                for (size_t cc = 0; cc < K; cc++) out[i * K + cc] -= (float)shift[cc];
            free(v);
            rc = 0;
        }
        free(a);
        free(vecs);
    } else {
        /* Fewer points than features: G = Xc Xc^T (n, n); scores are eigenvectors * sqrt(lambda). */
        float *xc = xmalloc(sizeof(float) * n * D), *g = xcalloc(n * n, sizeof(float));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < D; j++) xc[i * D + j] = x[i * D + j] - meanf[j];
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, d, 1.0f, xc, d, 0.0f, g, (int)n);
        double *a = xmalloc(sizeof(double) * n * n), *vecs = xmalloc(sizeof(double) * n * K), vals[K];
        for (size_t t = 0; t < n * n; t++) a[t] = g[t];
        free(g);
        if (top_eigen(a, (int)n, k, vecs, vals, e) == 0) {
            double *load = xmalloc(sizeof(double) * D);
            for (size_t cc = 0; cc < K; cc++) {
                /* The loading direction Xc^T u decides the sign, as in the covariance path. */
                memset(load, 0, sizeof(double) * D);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < D; j++) load[j] += vecs[cc * n + i] * xc[i * D + j];
                double s = sign_of_largest(load, D) * sqrt(vals[cc] > 0 ? vals[cc] : 0);
                for (size_t i = 0; i < n; i++) out[i * K + cc] = (float)(s * vecs[cc * n + i]);
            }
            free(load);
            rc = 0;
        }
        free(a);
        free(vecs);
        free(xc);
    }
    free(mean);
    free(meanf);
    return rc;
}
