/* tsne — affinities, gradient descent and KL divergence; the heavy parts are in tsne_knn
 * (neighbours), tsne_fft (repulsion) and tsne_pca (initialisation). */
#include "tsne.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tsne_fft.h"
#include "tsne_knn.h"
#include "tsne_pca.h"

/* Below these sizes loops run on one thread: a parallel region costs a barrier, and on a busy
 * machine (other jobs on the same cores) a barrier waits for a descheduled thread; measured
 * 4-5x slower than serial on 600 points with 2 threads under load. */
#define PAR_POINTS 4096
#define PAR_PAIRS 1500

void tsne_params_default(tsne_params *p)
{
    memset(p, 0, sizeof *p);
    p->perplexity = 30;
    p->iters = 750;
    p->exag_iters = 250;
    p->exaggeration = 12;
    p->learning_rate = 0;
    p->momentum_early = 0.5;
    p->momentum_late = 0.8;
    p->method = TSNE_AUTO;
    p->exact_below = 1000;
    p->init = TSNE_INIT_PCA;
    p->seed = 1;
    p->interp_points = 3;
    p->min_intervals = 50;
    p->interval_size = 1.0;
}

int tsne_check(const tsne_params *p, size_t n, err *e)
{
    if (n < 2) return err_set(e, "%zu points (expected at least 2)", n);
    if (n > INT32_MAX) return err_set(e, "%zu points (expected at most %d)", n, INT32_MAX);
    if (!(p->perplexity > 0) || !isfinite(p->perplexity))
        return err_set(e, "perplexity %g (expected a positive number)", p->perplexity);
    if ((double)(n - 1) < 3.0 * p->perplexity)
        return err_set(e, "perplexity %g is too large for %zu points (need N - 1 >= 3 * perplexity, so at most %g)",
                       p->perplexity, n, floor((double)(n - 1) / 3.0 * 1000) / 1000);
    if (p->iters < 1 || p->exag_iters < 0 || p->exag_iters > p->iters)
        return err_set(e, "iterations %d with %d exaggerated (expected 0 <= exaggerated <= total, total >= 1)",
                       p->iters, p->exag_iters);
    if (!(p->exaggeration >= 1) || !isfinite(p->exaggeration))
        return err_set(e, "exaggeration %g (expected >= 1)", p->exaggeration);
    if (!isfinite(p->learning_rate)) return err_set(e, "learning rate %g (expected finite)", p->learning_rate);
    if (!(p->momentum_early >= 0 && p->momentum_early < 1 && p->momentum_late >= 0 && p->momentum_late < 1))
        return err_set(e, "momentum %g / %g (expected 0 <= m < 1)", p->momentum_early, p->momentum_late);
    if (p->interp_points < 2 || p->interp_points > 8 || p->min_intervals < 1 || !(p->interval_size > 0))
        return err_set(e, "fft settings %d points, %d intervals, size %g (expected 2..8, >= 1, > 0)",
                       p->interp_points, p->min_intervals, p->interval_size);
    return 0;
}

void tsne_set_threads(int n)
{
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int tsne_threads_from_env(void) { return threads_from_env(); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- input affinities ---- */

/* Conditional probabilities p_{j|i} over the m distances d (squared) of one point, with the
 * Gaussian bandwidth found by bisection on beta = 1 / (2 sigma^2) so that the entropy is
 * log(perplexity). out: m values summing to 1. */
static void calibrate_row(const float *d, int m, double perplexity, double *out)
{
    double target = log(perplexity), beta = 1, lo = -INFINITY, hi = INFINITY, dmin = INFINITY;
    for (int j = 0; j < m; j++)
        if (d[j] < dmin) dmin = d[j];
    for (int it = 0; it < 200; it++) {
        double sum = 0, dsum = 0;
        /* Distances shifted by the smallest: the same normalised p, no underflow of all terms. */
        for (int j = 0; j < m; j++) {
            double v = exp(-beta * (d[j] - dmin));
            out[j] = v;
            sum += v;
            dsum += v * (d[j] - dmin);
        }
        double h = log(sum) + beta * dsum / sum;
        for (int j = 0; j < m; j++) out[j] /= sum;
        if (fabs(h - target) < 1e-5) break;
        if (h > target) {
            lo = beta;
            beta = isinf(hi) ? beta * 2 : 0.5 * (beta + hi);
        } else {
            hi = beta;
            beta = isinf(lo) ? beta / 2 : 0.5 * (beta + lo);
        }
    }
}

/* Symmetric sparse P in compressed rows: row i's entries are col[ptr[i] .. ptr[i+1]). */
typedef struct sparse_p {
    size_t n, nnz;
    size_t *ptr;
    int32_t *col;
    float *val;
} sparse_p;

static void sparse_free(sparse_p *s)
{
    free(s->ptr);
    free(s->col);
    free(s->val);
}

/* P = (P_cond + P_cond^T) / (2n) from the (n, k) neighbour lists and conditional p. */
static void symmetrize(size_t n, int k, const int32_t *nb, const double *pc, sparse_p *s)
{
    const size_t K = (size_t)k;
    size_t *cnt = xcalloc(n + 1, sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < K; t++) {
            cnt[i]++;
            cnt[nb[i * K + t]]++;
        }
    size_t *start = xmalloc(sizeof(size_t) * (n + 1));
    start[0] = 0;
    for (size_t i = 0; i < n; i++) start[i + 1] = start[i] + cnt[i];
    size_t total = start[n];
    int32_t *tc = xmalloc(sizeof(int32_t) * total);
    double *tv = xmalloc(sizeof(double) * total);
    size_t *fill = xmalloc(sizeof(size_t) * n);
    memcpy(fill, start, sizeof(size_t) * n);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < K; t++) {
            size_t j = (size_t)nb[i * K + t];
            double v = pc[i * K + t];
            tc[fill[i]] = (int32_t)j;
            tv[fill[i]++] = v;
            tc[fill[j]] = (int32_t)i;
            tv[fill[j]++] = v;
        }
    /* Sort each row by column (insertion sort: rows are short) and merge duplicates. */
    s->n = n;
    s->ptr = xmalloc(sizeof(size_t) * (n + 1));
    s->col = xmalloc(sizeof(int32_t) * total);
    s->val = xmalloc(sizeof(float) * total);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t *c = tc + start[i];
        double *v = tv + start[i];
        size_t m = start[i + 1] - start[i];
        for (size_t a = 1; a < m; a++) {
            int32_t cc = c[a];
            double vv = v[a];
            size_t b = a;
            while (b > 0 && c[b - 1] > cc) {
                c[b] = c[b - 1];
                v[b] = v[b - 1];
                b--;
            }
            c[b] = cc;
            v[b] = vv;
        }
        s->ptr[i] = out;
        for (size_t a = 0; a < m;) {
            double sum = 0;
            size_t b = a;
            while (b < m && c[b] == c[a]) sum += v[b++];
            s->col[out] = c[a];
            s->val[out++] = (float)(sum / (2.0 * (double)n));
            a = b;
        }
    }
    s->ptr[n] = out;
    s->nnz = out;
    free(cnt);
    free(start);
    free(tc);
    free(tv);
    free(fill);
}

/* Sparse P over the k = floor(3 * perplexity) exact nearest neighbours. */
static void sparse_affinities(const float *x, size_t n, int d, double perplexity, sparse_p *s, int *k_out,
                              double *t_knn, double *t_aff)
{
    int k = (int)floor(3.0 * perplexity);
    if (k > (int)n - 1) k = (int)n - 1;
    if (k < 1) k = 1;
    const size_t K = (size_t)k;
    int32_t *nb = xmalloc(sizeof(int32_t) * n * K);
    float *d2 = xmalloc(sizeof(float) * n * K);
    double t0 = now();
    tsne_knn(x, n, d, k, nb, d2);
    double t1 = now();
    double *pc = xmalloc(sizeof(double) * n * K);
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
    for (size_t i = 0; i < n; i++) calibrate_row(d2 + i * K, k, perplexity, pc + i * K);
    symmetrize(n, k, nb, pc, s);
    *t_knn = t1 - t0;
    *t_aff = now() - t1;
    *k_out = k;
    free(nb);
    free(d2);
    free(pc);
}

/* Dense symmetric P (n, n) over all pairs, for the exact method. */
static double *dense_affinities(const float *x, size_t n, int d, double perplexity)
{
    /* Squared distances from a Gram matrix: (n, n). */
    float *g = xmalloc(sizeof(float) * n * n);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, d, 1.0f, x, d, 0.0f, g, (int)n);
    double *p = xmalloc(sizeof(double) * n * n);
#pragma omp parallel if (n >= PAR_PAIRS)
    {
        float *row = xmalloc(sizeof(float) * n);
        double *pr = xmalloc(sizeof(double) * n);
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            size_t m = 0;
            for (size_t j = 0; j < n; j++) {
                if (j == i) continue;
                float gij = j > i ? g[i * n + j] : g[j * n + i];
                float v = g[i * n + i] + g[j * n + j] - 2 * gij;
                row[m++] = v > 0 ? v : 0;
            }
            calibrate_row(row, (int)m, perplexity, pr);
            m = 0;
            for (size_t j = 0; j < n; j++) p[i * n + j] = j == i ? 0 : pr[m++];
        }
        free(row);
        free(pr);
    }
    free(g);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double v = (p[i * n + j] + p[j * n + i]) / (2.0 * (double)n);
            p[i * n + j] = p[j * n + i] = v;
        }
    return p;
}

/* ---- gradients ---- */

/* grad = exag * sum_j p_ij w_ij (y_i - y_j) - rep_i / Z for the sparse P; returns Z. */
static double grad_fft(const sparse_p *s, tsne_fft *f, const double *y, double exag, double *rep, double *grad)
{
    size_t n = s->n;
    double z = tsne_fft_repulsion(f, y, n, rep);
#pragma omp parallel for schedule(dynamic, 256) if (n >= PAR_POINTS)
    for (size_t i = 0; i < n; i++) {
        double yx = y[2 * i], yy = y[2 * i + 1], ax = 0, ay = 0;
        for (size_t t = s->ptr[i]; t < s->ptr[i + 1]; t++) {
            size_t j = (size_t)s->col[t];
            double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
            double pw = (double)s->val[t] / (1.0 + dx * dx + dy * dy);
            ax += pw * dx;
            ay += pw * dy;
        }
        grad[2 * i] = exag * ax - rep[2 * i] / z;
        grad[2 * i + 1] = exag * ay - rep[2 * i + 1] / z;
    }
    return z;
}

/* Exact gradient over all pairs (dense P, (n, n)); returns Z. rowz: n scratch. */
static double grad_exact(const double *p, size_t n, const double *y, double exag, double *rowz, double *grad)
{
#pragma omp parallel for schedule(static) if (n >= PAR_PAIRS)
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            s += 1.0 / (1.0 + dx * dx + dy * dy);
        }
        rowz[i] = s;
    }
    double z = 0;
    for (size_t i = 0; i < n; i++) z += rowz[i];
#pragma omp parallel for schedule(static) if (n >= PAR_PAIRS)
    for (size_t i = 0; i < n; i++) {
        double gx = 0, gy = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            double w = 1.0 / (1.0 + dx * dx + dy * dy);
            double m = (exag * p[i * n + j] - w / z) * w;
            gx += m * dx;
            gy += m * dy;
        }
        grad[2 * i] = gx;
        grad[2 * i + 1] = gy;
    }
    return z;
}

/* KL(P || Q) for sparse P with normalisation z: sum p log p - sum p log w + log z (sum p = 1). */
static double kl_sparse(const sparse_p *s, const double *y, double z)
{
    size_t n = s->n;
    double *part = xmalloc(sizeof(double) * n), kl = 0;
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
    for (size_t i = 0; i < n; i++) {
        double a = 0;
        for (size_t t = s->ptr[i]; t < s->ptr[i + 1]; t++) {
            size_t j = (size_t)s->col[t];
            double p = s->val[t];
            if (p <= 0) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            a += p * (log(p) + log1p(dx * dx + dy * dy));
        }
        part[i] = a;
    }
    for (size_t i = 0; i < n; i++) kl += part[i];
    free(part);
    double psum = 0;
    for (size_t t = 0; t < s->nnz; t++) psum += s->val[t];
    return kl + psum * log(z);
}

static double kl_dense(const double *p, size_t n, const double *y, double z)
{
    double *part = xmalloc(sizeof(double) * n), kl = 0;
#pragma omp parallel for schedule(static) if (n >= PAR_PAIRS)
    for (size_t i = 0; i < n; i++) {
        double a = 0;
        for (size_t j = 0; j < n; j++) {
            double pij = p[i * n + j];
            if (j == i || pij <= 0) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            a += pij * (log(pij) + log1p(dx * dx + dy * dy) + log(z));
        }
        part[i] = a;
    }
    for (size_t i = 0; i < n; i++) kl += part[i];
    free(part);
    return kl;
}

static double exact_z(size_t n, const double *y, double *rowz)
{
#pragma omp parallel for schedule(static) if (n >= PAR_PAIRS)
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
            s += 1.0 / (1.0 + dx * dx + dy * dy);
        }
        rowz[i] = s;
    }
    double z = 0;
    for (size_t i = 0; i < n; i++) z += rowz[i];
    return z;
}

/* ---- initialisation ---- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
    double u = ((double)(splitmix(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double v = (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

int tsne_pca_init(const float *x, size_t n, int d, float *out, err *e)
{
    if (d >= 2 && n >= 2) {
        if (tsne_pca(x, n, d, 2, out, e) != 0) return -1;
    } else {
        /* One feature: its centred values, and a deterministic tiny second coordinate. */
        double mean = 0;
        for (size_t i = 0; i < n; i++) mean += x[i * (size_t)d];
        mean /= (double)n;
        uint64_t s = 42;
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = (float)(x[i * (size_t)d] - mean);
            out[2 * i + 1] = (float)(gauss(&s) * 1e-4);
        }
    }
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += out[2 * i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += (out[2 * i] - m) * (out[2 * i] - m);
    double sd = sqrt(v / (double)n);
    double sc = sd > 0 ? 1e-4 / sd : 1.0;
    for (size_t t = 0; t < 2 * n; t++) out[t] = (float)(out[t] * sc);
    return 0;
}

/* ---- the run ---- */

typedef struct model {
    tsne_method method;
    sparse_p sp;
    double *dense;
    tsne_fft *fft;
    double *scratch; /* (n, 2) */
} model;

static void model_free(model *m)
{
    sparse_free(&m->sp);
    free(m->dense);
    tsne_fft_free(m->fft);
    free(m->scratch);
}

static void model_build(const float *x, size_t n, int d, const tsne_params *p, model *m, tsne_stats *st)
{
    memset(m, 0, sizeof *m);
    m->method = p->method == TSNE_AUTO ? (n < (size_t)p->exact_below ? TSNE_EXACT : TSNE_FFT) : p->method;
    m->scratch = xmalloc(sizeof(double) * 2 * n);
    st->method = m->method;
    if (m->method == TSNE_EXACT) {
        double t0 = now();
        m->dense = dense_affinities(x, n, d, p->perplexity);
        st->k = (int)n - 1;
        st->seconds_knn = 0;
        st->seconds_affinities = now() - t0;
    } else {
        sparse_affinities(x, n, d, p->perplexity, &m->sp, &st->k, &st->seconds_knn, &st->seconds_affinities);
        m->fft = tsne_fft_new(p->interp_points, p->min_intervals, p->interval_size);
    }
}

/* Gradient at y with exaggeration exag; returns Z. */
static double model_grad(model *m, size_t n, const double *y, double exag, double *grad)
{
    if (m->method == TSNE_EXACT) return grad_exact(m->dense, n, y, exag, m->scratch, grad);
    return grad_fft(&m->sp, m->fft, y, exag, m->scratch, grad);
}

static double model_kl(model *m, size_t n, const double *y)
{
    if (m->method == TSNE_EXACT) return kl_dense(m->dense, n, y, exact_z(n, y, m->scratch));
    double z = tsne_fft_repulsion(m->fft, y, n, m->scratch);
    return kl_sparse(&m->sp, y, z);
}

int tsne_run(const float *x, size_t n, int d, const tsne_params *p, const float *init_y, float *out,
             tsne_stats *stats, err *e)
{
    if (tsne_check(p, n, e) != 0) return -1;
    tsne_stats st_local, *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    double *y = xmalloc(sizeof(double) * 2 * n), *upd = xcalloc(2 * n, sizeof(double));
    double *gains = xmalloc(sizeof(double) * 2 * n), *grad = xmalloc(sizeof(double) * 2 * n);
    for (size_t t = 0; t < 2 * n; t++) gains[t] = 1;
    if (init_y) {
        for (size_t t = 0; t < 2 * n; t++) y[t] = init_y[t];
    } else if (p->init == TSNE_INIT_RANDOM) {
        uint64_t s = p->seed;
        for (size_t t = 0; t < 2 * n; t++) y[t] = gauss(&s) * 1e-4;
    } else {
        float *yi = xmalloc(sizeof(float) * 2 * n);
        if (tsne_pca_init(x, n, d, yi, e) != 0) {
            free(yi);
            goto fail;
        }
        for (size_t t = 0; t < 2 * n; t++) y[t] = yi[t];
        free(yi);
    }
    model m;
    model_build(x, n, d, p, &m, st);
    double lr = p->learning_rate > 0 ? p->learning_rate : fmax((double)n / 12.0, 200.0);
    st->learning_rate = lr;
    double t0 = now();
    for (int it = 0; it < p->iters; it++) {
        int early = it < p->exag_iters;
        double exag = early ? p->exaggeration : 1.0, mom = early ? p->momentum_early : p->momentum_late;
        model_grad(&m, n, y, exag, grad);
        double mx = 0, my = 0;
        for (size_t i = 0; i < n; i++) {
            for (int c = 0; c < 2; c++) {
                size_t t = 2 * i + (size_t)c;
                /* Delta-bar-delta: grow the gain where the gradient flips against the step. */
                gains[t] = (grad[t] > 0) != (upd[t] > 0) ? gains[t] + 0.2 : gains[t] * 0.8;
                if (gains[t] < 0.01) gains[t] = 0.01;
                upd[t] = mom * upd[t] - lr * gains[t] * grad[t];
                y[t] += upd[t];
            }
            mx += y[2 * i];
            my += y[2 * i + 1];
        }
        /* Keep the embedding centred: translation changes nothing but the grid's reach. */
        mx /= (double)n;
        my /= (double)n;
        for (size_t i = 0; i < n; i++) {
            y[2 * i] -= mx;
            y[2 * i + 1] -= my;
        }
        if (p->progress && ((it + 1) % 50 == 0 || it + 1 == p->iters)) {
            double el = now() - t0, left = el / (it + 1) * (p->iters - it - 1);
            fprintf(stderr, "tsne: iteration %d/%d  KL %.4f%s  %.1fs elapsed, %.1fs left\n", it + 1, p->iters,
                    model_kl(&m, n, y), early ? " (exaggerated phase)" : "", el, left);
        }
    }
    st->seconds_optimize = now() - t0;
    st->kl = model_kl(&m, n, y);
    for (size_t t = 0; t < 2 * n; t++) out[t] = (float)y[t];
    model_free(&m);
    free(y);
    free(upd);
    free(gains);
    free(grad);
    return 0;
fail:
    free(y);
    free(upd);
    free(gains);
    free(grad);
    return -1;
}

int tsne_kl(const float *x, size_t n, int d, const tsne_params *p, const float *y, double *kl, err *e)
{
    if (tsne_check(p, n, e) != 0) return -1;
    tsne_stats st;
    model m;
    model_build(x, n, d, p, &m, &st);
    double *yd = xmalloc(sizeof(double) * 2 * n);
    for (size_t t = 0; t < 2 * n; t++) yd[t] = y[t];
    *kl = model_kl(&m, n, yd);
    free(yd);
    model_free(&m);
    return 0;
}

double tsne_knn_agreement(const float *y, size_t n, int dims, const int *labels, int k)
{
    if (n < 2 || k < 1) return 0;
    if ((size_t)k > n - 1) k = (int)n - 1;
    int32_t *nb = xmalloc(sizeof(int32_t) * n * (size_t)k);
    float *d2 = xmalloc(sizeof(float) * n * (size_t)k);
    tsne_knn(y, n, dims, k, nb, d2);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < k; t++) same += labels[nb[i * (size_t)k + (size_t)t]] == labels[i];
    free(nb);
    free(d2);
    return (double)same / ((double)n * k);
}
