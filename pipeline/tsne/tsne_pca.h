/* tsne_pca — principal component analysis of a feature matrix, through OpenBLAS (ssyrk / sgemm
 * for the covariance or Gram matrix, LAPACK dsyevr for its top eigenvectors).
 *
 * Deterministic: each component's sign is chosen so that its largest-magnitude loading is
 * positive (as scikit-learn's svd_flip does), so reruns and thread counts give the same scores. */
#ifndef FV_TSNE_PCA_H
#define FV_TSNE_PCA_H

#include <stddef.h>

#include "util.h"

/* Projects the n x d row-major matrix x (centred internally; x is not changed) onto its top k
 * principal components: out is a caller-allocated n x k row-major matrix of scores, columns in
 * decreasing variance. Works on the d x d covariance when d <= n, else on the n x n Gram matrix.
 * Requires 1 <= k <= min(n, d). Returns 0, or -1 with e (LAPACK failure). */
int tsne_pca(const float *x, size_t n, int d, int k, float *out, err *e);

#endif
