/* tsne — t-distributed stochastic neighbour embedding into 2-D.
 *
 * Two methods:
 *   exact  dense input affinities (every pair, perplexity-calibrated) and the exact O(N^2)
 *          gradient; for small N (the default below 1000 points).
 *   fft    sparse affinities over the 3*perplexity exact nearest neighbours (tsne_knn) and the
 *          repulsive forces from a grid and FFT convolutions as in FIt-SNE (Linderman et al.
 *          2019), but with smooth B-spline interpolation (particle-mesh Ewald style; tsne_fft),
 *          which ends within ~1% of scikit-learn's Barnes-Hut KL on 10,000 points where
 *          FIt-SNE's piecewise interpolation on the same grid stalled ~7% above it.
 * Optimisation follows openTSNE / FIt-SNE defaults: PCA initialisation scaled so the first
 * coordinate has standard deviation 1e-4, early exaggeration 12 for 250 iterations with momentum
 * 0.5, then momentum 0.8, learning rate max(N/12, 200), delta-bar-delta gains (min 0.01). The
 * gradient is the KL gradient without its constant factor 4 (the convention those learning
 * rates are meant for). The embedding is centred once, at the end (the gradient does not depend
 * on a translation).
 *
 * Determinism: no random numbers are used unless init is random (then from the seed); every
 * parallel loop works on fixed blocks and writes per-point results that are summed in a fixed
 * order, and OpenBLAS runs single-threaded per block, so the output is the same for any thread
 * count (on the same machine: SIMD code paths are chosen by the CPU).
 *
 * Errors: fallible functions return 0 or -1 and fill the caller's `err` with one line. */
#ifndef FV_TSNE_H
#define FV_TSNE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { TSNE_AUTO, TSNE_EXACT, TSNE_FFT } tsne_method;
typedef enum { TSNE_INIT_PCA, TSNE_INIT_RANDOM } tsne_init;

/* Every setting of a run; tsne_params_default fills the defaults named above. */
typedef struct tsne_params {
    double perplexity;      /* 30; needs N - 1 >= 3 * perplexity */
    int iters;              /* total iterations, early exaggeration included (750) */
    int exag_iters;         /* iterations with exaggeration and the early momentum (250) */
    double exaggeration;    /* 12 */
    double learning_rate;   /* <= 0: max(N / 12, 200) */
    double momentum_early;  /* 0.5 */
    double momentum_late;   /* 0.8 */
    tsne_method method;     /* TSNE_AUTO: exact below exact_below points, else fft */
    int exact_below;        /* 1000 */
    tsne_init init;         /* TSNE_INIT_PCA */
    uint64_t seed;          /* for TSNE_INIT_RANDOM (1) */
    int interp_points;      /* fft: grid nodes per interval and dimension (2) */
    int min_intervals;      /* fft: minimum intervals per dimension (50) */
    double interval_size;   /* fft: at most this wide (1.0), so the grid grows with the embedding */
    int progress;           /* 1: a line on stderr every 50 iterations (iteration, KL, time left) */
} tsne_params;

/* What a run measured. */
typedef struct tsne_stats {
    tsne_method method;     /* the method used (never TSNE_AUTO) */
    double kl;              /* final KL divergence (fft: with the interpolated normalisation) */
    double learning_rate;   /* the learning rate used */
    int k;                  /* neighbours per point (fft) or N-1 (exact) */
    /* Wall-clock seconds per phase. affinities = calibrate (perplexity search) + symmetrize;
     * optimize = every gradient iteration, split into attractive (sparse P, or the exact
     * method's whole gradient) and repulsive (fft: interpolate = weights, spreading and reading
     * back; fft = the transforms and spectrum products), plus the updates and progress KLs. */
    double seconds_knn, seconds_affinities, seconds_optimize;
    double seconds_calibrate, seconds_symmetrize;
    double seconds_attractive, seconds_repulsive, seconds_interpolate, seconds_fft;
    int fft_intervals;      /* fft: grid intervals per dimension at the last iteration */
} tsne_stats;

void tsne_params_default(tsne_params *p);

/* Checks the parameters against n points: finite positive perplexity with n - 1 >= 3*perplexity,
 * n >= 2, iterations >= exag_iters >= 0, ... Returns 0, or -1 with e ("perplexity 30 is too
 * large for 50 points (need N - 1 >= 3 * perplexity)"). */
int tsne_check(const tsne_params *p, size_t n, err *e);

/* Embeds the n x d row-major matrix x (finite values) into out (caller-allocated, n x 2
 * row-major). If init_y is non-NULL it is used as the initial embedding (n x 2) instead of
 * p->init. stats may be NULL. Uses the thread count set by tsne_set_threads.
 * Returns 0, or -1 with e (bad parameters, as tsne_check). */
int tsne_run(const float *x, size_t n, int d, const tsne_params *p, const float *init_y, float *out,
             tsne_stats *stats, err *e);

/* The gradient of KL(P || Q) (no exaggeration) at the embedding y (n x 2), as tsne_run's
 * iterations compute it for x under p's perplexity and method, into grad (n x 2). Returns 0, or
 * -1 with e. */
int tsne_gradient(const float *x, size_t n, int d, const tsne_params *p, const double *y, double *grad, err *e);

/* on: the sparse attractive forces take their portable (AVX2 or plain) loop even where the
 * AVX-512 one runs, so that tests cover both; off (the default): the fastest loop the CPU has. */
void tsne_set_portable(int on);

/* Which loops run (for the sidecar JSON and the benchmarks' INFO lines): "avx512+fftw" where the
 * CPU has AVX-512 and tsne_set_portable is off, else "portable+fftw". A static string. */
const char *tsne_kernels(void);

/* KL divergence of the embedding y (n x 2) for the input x under p's perplexity and method
 * (exact: dense P and Q; fft: kNN P, interpolated normalisation), as tsne_run reports it.
 * Returns 0 and *kl, or -1 with e. */
int tsne_kl(const float *x, size_t n, int d, const tsne_params *p, const float *y, double *kl, err *e);

/* The 2-D PCA initialisation of x (n x d) as tsne_run computes it: the first two principal
 * components, scaled so that the first has standard deviation 1e-4. out: n x 2. Returns 0 or -1. */
int tsne_pca_init(const float *x, size_t n, int d, float *out, err *e);

/* Sets the thread count of the module's loops, on the common pool (pool_set_threads; n < 1: 1);
 * OpenBLAS is set to one thread, as the module calls it per fixed block inside those loops
 * (results independent of n). */
void tsne_set_threads(int n);

/* The thread count from env FV_THREADS (a positive integer), else the number of online cores;
 * -1 if FV_THREADS is set but not a positive integer. */
int tsne_threads_from_env(void);

/* Fraction of (point, neighbour) pairs among each point's k nearest neighbours in y (n x dims,
 * exact search) that share the point's label: a measure of how well classes separate.
 * labels: n ints. */
double tsne_knn_agreement(const float *y, size_t n, int dims, const int *labels, int k);

#endif
