/* tsne_fft — t-SNE's repulsive forces and normalisation Z from an equispaced grid and FFT
 * convolutions (the scheme of FIt-SNE, Linderman et al., Nature Methods 2019), in 2-D, with
 * smooth particle-mesh interpolation (Essmann et al. 1995) instead of FIt-SNE's piecewise
 * Lagrange polynomials.
 *
 * With w_ij = 1 / (1 + |y_i - y_j|^2): unit charges are spread on the grid with quintic (order 6)
 * B-spline weights, convolved (one forward and one inverse single-precision FFT) with w and the
 * Euler spline correction, and the field phi(y) = sum_j w(y - y_j) and its gradient are read back
 * with the same B-splines: Z = sum_i phi(y_i) - N and the repulsion sum_j w_ij^2 (y_i - y_j) =
 * -grad phi(y_i) / 2. On two nodes per unit the forces are within ~1.5% of the exact sums on a
 * spread layout, far better on a compact one (the piecewise interpolation: 3-4%), and they are
 * the gradient of a smooth field. Cost per call: O(N) + two FFTs of (2g)^2,
 * g ~ 2 * (span of the embedding) + 6, pruned to the rows in use. */
#ifndef FV_TSNE_FFT_H
#define FV_TSNE_FFT_H

#include <stddef.h>

/* FFT plans, grids and kernel spectra, reused across calls (rebuilt when the grid changes). */
typedef struct tsne_fft tsne_fft;

/* A new context: grid nodes interval_size / interp_points apart (interp_points 2..8; the
 * defaults 2 and 1.0 put them 1/2 apart, with order-6 B-splines; KL is sensitive to coarser
 * grids; FIt-SNE's piecewise Lagrange interpolation needs 3 per unit), at least min_intervals
 * intervals per dimension (finer nodes while the embedding is smaller than that). Free with
 * tsne_fft_free. */
tsne_fft *tsne_fft_new(int interp_points, int min_intervals, double interval_size);
void tsne_fft_free(tsne_fft *f);

/* y: (n, 2) row-major. rep: caller-allocated (n, 2), receives sum_j w_ij^2 (y_i - y_j) (not yet
 * divided by Z). Returns Z = sum_{i != j} w_ij. Uses the common pool's threads (pool.h), or a
 * team (tsne_fft_set_team); the result does not depend on their number. */
double tsne_fft_repulsion(tsne_fft *f, const double *y, size_t n, double *rep);

/* on = 0: later calls run on the calling thread only (for a caller that keeps the other threads
 * busy); on = 1 (the default): they use the common pool's threads from 4096 points on. */
void tsne_fft_set_parallel(tsne_fft *f, int on);

/* A team of threads the caller lends to the next calls: run(t, n, fn, ctx) calls fn(ctx, item,
 * worker) once for every item in [0, n), on its threads (worker in [0, workers)), and returns when
 * all are done. Each call's loops then go to the team instead of the pool; the results are the same
 * bytes. NULL: back to set_parallel's choice. */
typedef struct tsne_team tsne_team;
struct tsne_team {
    void (*run)(tsne_team *t, int n, void (*fn)(void *ctx, int item, int worker), void *ctx);
    int workers;
};
void tsne_fft_set_team(tsne_fft *f, tsne_team *t);

/* on: contexts made from now on take the portable loops even where AVX-512 ones run, so that
 * tests cover both (same results); off (the default): the fastest the CPU has. */
void tsne_fft_set_portable(int on);

/* For tests: the largest difference between the B-spline weights (and derivatives) the
 * interpolation uses, evaluated as polynomials, and the B-spline recursion, over offsets in [0, 1). */
double tsne_fft_weights_error(void);

/* Intervals per dimension of the last call (for reports). */
int tsne_fft_intervals(const tsne_fft *f);

/* Seconds spent in all calls so far: *interp in the per-point work (interpolation weights,
 * spreading charges, reading potentials back), *fft in the transforms and spectrum products
 * (kernel spectra included). */
void tsne_fft_seconds(const tsne_fft *f, double *interp, double *fft);

#endif
