/* tsne_pca — PCA by an eigendecomposition of the covariance (or Gram) matrix. */
#include "tsne_pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
        enum { NACC = 4 };
        const size_t B = 2048, nblk = (n + B - 1) / B;
        float *acc = xcalloc(NACC * D * D, sizeof(float));
#pragma omp parallel for schedule(static, 1) if (n * D * D >= 50000000)
        for (int q = 0; q < NACC; q++) {
            float *blk = xmalloc(sizeof(float) * B * D);
            for (size_t bi = (size_t)q; bi < nblk; bi += NACC) {
                size_t i0 = bi * B, nb = n - i0 < B ? n - i0 : B;
                for (size_t i = 0; i < nb; i++)
                    for (size_t j = 0; j < D; j++) blk[i * D + j] = x[(i0 + i) * D + j] - meanf[j];
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)nb, 1.0f, blk, d, 1.0f, acc + (size_t)q * D * D,
                            d);
            }
            free(blk);
        }
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
            const size_t SB = 4096;
#pragma omp parallel for schedule(static) if (n * D * K >= 50000000)
            for (size_t i0 = 0; i0 < n; i0 += SB) {
                size_t nb = n - i0 < SB ? n - i0 : SB;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, k, d, 1.0f, x + i0 * D, d, v, k, 0.0f,
                            out + i0 * K, k);
            }
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
