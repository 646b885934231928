/* tsne_fft — t-SNE's repulsive forces by interpolation on an equispaced grid and FFT convolution
 * (FIt-SNE's "nbody" scheme, Linderman et al., Nature Methods 2019), in 2-D.
 *
 * With w_ij = 1 / (1 + |y_i - y_j|^2), one convolution per charge with the kernel w^2 and the
 * charges (1, y_x, y_y) gives, for every point, sum_j w_ij^2 (y_i - y_j), and the sum of all
 * w_ij (FIt-SNE uses a fourth charge |y|^2 for that; the kernel's symmetry makes it redundant); the points are spread onto (and read back from) the grid by Lagrange
 * interpolation with `interp_points` nodes per interval and dimension. Cost: O(N) + an FFT of
 * (2 * interp_points * intervals)^2 per charge. */
#ifndef FV_TSNE_FFT_H
#define FV_TSNE_FFT_H

#include <stddef.h>

/* FFT plans and grids, reused across iterations (re-planned when the grid size changes). */
typedef struct tsne_fft tsne_fft;

/* A new context: interp_points nodes per interval (>= 2; FIt-SNE uses 3), at least
 * min_intervals intervals per dimension, each at most interval_size wide. Free with
 * tsne_fft_free. */
tsne_fft *tsne_fft_new(int interp_points, int min_intervals, double interval_size);
void tsne_fft_free(tsne_fft *f);

/* y: (n, 2) row-major. rep: caller-allocated (n, 2), receives sum_j w_ij^2 (y_i - y_j) (not yet
 * divided by Z). Returns Z = sum_{i != j} w_ij. Uses the OpenMP threads already set; the result
 * does not depend on their number. */
double tsne_fft_repulsion(tsne_fft *f, const double *y, size_t n, double *rep);

/* Intervals per dimension of the last call (for reports). */
int tsne_fft_intervals(const tsne_fft *f);

#endif
