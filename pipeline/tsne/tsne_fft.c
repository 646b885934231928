/* tsne_fft — FIt-SNE-style interpolation + FFT repulsion in 2-D (FFTW, double precision). */
#include "tsne_fft.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Parallel loops only from this many points on (see PAR_POINTS in tsne.c). */
#define PAR_POINTS 4096
#define NCHARGE 3
#define MAXP 8

struct tsne_fft {
    int p, min_intervals;
    double interval_size;
    int intervals;     /* per dimension, last call */
    int len;           /* FFT size per dimension: 2 * p * intervals */
    double kernel_h;   /* node spacing the kernel spectrum was computed for (0: none) */
    double *grid[NCHARGE];          /* (len, len) real: charges in, potentials out */
    fftw_complex *spec[NCHARGE];    /* (len, len/2+1) */
    double *kernel;                 /* (len, len) */
    fftw_complex *kspec;            /* (len, len/2+1) */
    fftw_plan fwd, inv;
    /* per point: first node index in each dimension and the Lagrange weights */
    size_t cap;
    int *node;                      /* (n, 2) */
    double *wts;                    /* (n, 2, p) */
    double *phi;                    /* (n, NCHARGE) */
};

tsne_fft *tsne_fft_new(int interp_points, int min_intervals, double interval_size)
{
    tsne_fft *f = xcalloc(1, sizeof *f);
    f->p = interp_points < 2 ? 2 : interp_points > MAXP ? MAXP : interp_points;
    f->min_intervals = min_intervals < 1 ? 1 : min_intervals;
    f->interval_size = interval_size > 0 ? interval_size : 1.0;
    return f;
}

static void free_grids(tsne_fft *f)
{
    for (int c = 0; c < NCHARGE; c++) {
        fftw_free(f->grid[c]);
        fftw_free(f->spec[c]);
        f->grid[c] = NULL;
        f->spec[c] = NULL;
    }
    fftw_free(f->kernel);
    fftw_free(f->kspec);
    f->kernel = NULL;
    f->kspec = NULL;
    if (f->fwd) fftw_destroy_plan(f->fwd);
    if (f->inv) fftw_destroy_plan(f->inv);
    f->fwd = f->inv = NULL;
    f->len = 0;
    f->kernel_h = 0;
}

void tsne_fft_free(tsne_fft *f)
{
    if (!f) return;
    free_grids(f);
    free(f->node);
    free(f->wts);
    free(f->phi);
    free(f);
}

int tsne_fft_intervals(const tsne_fft *f) { return f->intervals; }

/* Smallest m >= n whose only prime factors are 2, 3, 5, 7 (FFTW is fastest on those). */
static int smooth_size(int n)
{
    for (int m = n;; m++) {
        int r = m;
        while (r % 2 == 0) r /= 2;
        while (r % 3 == 0) r /= 3;
        while (r % 5 == 0) r /= 5;
        while (r % 7 == 0) r /= 7;
        if (r == 1) return m;
    }
}

static void ensure_grids(tsne_fft *f, int len)
{
    if (f->len == len) return;
    free_grids(f);
    size_t real = (size_t)len * (size_t)len, cplx = (size_t)len * (size_t)(len / 2 + 1);
    for (int c = 0; c < NCHARGE; c++) {
        f->grid[c] = fftw_malloc(sizeof(double) * real);
        f->spec[c] = fftw_malloc(sizeof(fftw_complex) * cplx);
        if (!f->grid[c] || !f->spec[c]) xmalloc((size_t)-1); /* out of memory: abort as xmalloc does */
    }
    f->kernel = fftw_malloc(sizeof(double) * real);
    f->kspec = fftw_malloc(sizeof(fftw_complex) * cplx);
    if (!f->kernel || !f->kspec) xmalloc((size_t)-1);
    /* FFTW_ESTIMATE: planning is instant and, unlike FFTW_MEASURE, the same on every run. All
     * grids come from fftw_malloc, so one plan serves them all through the new-array API. */
    f->fwd = fftw_plan_dft_r2c_2d(len, len, f->kernel, f->kspec, FFTW_ESTIMATE);
    f->inv = fftw_plan_dft_c2r_2d(len, len, f->spec[0], f->grid[0], FFTW_ESTIMATE);
    f->len = len;
}

double tsne_fft_repulsion(tsne_fft *f, const double *y, size_t n, double *rep)
{
    const int p = f->p;
    double lo = y[0], hi = y[0];
    for (size_t t = 0; t < 2 * n; t++) {
        if (y[t] < lo) lo = y[t];
        if (y[t] > hi) hi = y[t];
    }
    /* A square box over both dimensions (one kernel for both); the centre is subtracted from the
     * charges so that |y|^2 stays small and the final cancellation loses few digits. */
    double centre = 0.5 * (lo + hi), span = hi - lo;
    if (span < 1e-6) span = 1e-6;
    /* Intervals are interval_size wide, or narrower on a ladder of widths interval_size *
     * 2^(-k/8) while the embedding is small: the node spacing then changes only now and then, and
     * the kernel's spectrum is reused meanwhile (its FFT would cost as much as a charge's). */
    double box = f->interval_size;
    int nb;
    if (span >= f->min_intervals * box) {
        nb = (int)ceil(span / box);
    } else {
        while (box * 0.917004043204671 >= span / f->min_intervals) box *= 0.917004043204671; /* 2^(-1/8) */
        nb = f->min_intervals;
    }
    /* The FFT length 2 * p * nb must factor into small primes: grow nb until it does. */
    while (smooth_size(2 * p * nb) != 2 * p * nb) nb++;
    int len = 2 * p * nb;
    ensure_grids(f, len);
    f->intervals = nb;
    const int g = p * nb;                 /* nodes per dimension */
    const double h = box / p, start = centre - 0.5 * nb * box;

    if (f->cap < n) {
        f->node = xrealloc(f->node, sizeof(int) * 2 * n);
        f->wts = xrealloc(f->wts, sizeof(double) * 2 * (size_t)p * n);
        f->phi = xrealloc(f->phi, sizeof(double) * NCHARGE * n);
        f->cap = n;
    }
    /* Lagrange weights of each point on the p nodes of its interval, nodes at (k + 0.5) / p. */
    double denom[MAXP];
    for (int k = 0; k < p; k++) {
        double dd = 1;
        for (int m = 0; m < p; m++)
            if (m != k) dd *= (double)(k - m) / p;
        denom[k] = dd;
    }
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
    for (size_t i = 0; i < n; i++)
        for (int dim = 0; dim < 2; dim++) {
            double u = (y[2 * i + (size_t)dim] - start) / box;
            int b = (int)u;
            if (b >= nb) b = nb - 1;
            if (b < 0) b = 0;
            double t = u - b;
            f->node[2 * i + (size_t)dim] = b * p;
            double *w = f->wts + (2 * i + (size_t)dim) * (size_t)p;
            for (int k = 0; k < p; k++) {
                double num = 1;
                for (int m = 0; m < p; m++)
                    if (m != k) num *= t - (m + 0.5) / p;
                w[k] = num / denom[k];
            }
        }

    if (f->kernel_h != h) {
        /* Kernel w^2 on node offsets, wrapped for a circular convolution of size len: (len, len). */
        for (int a = 0; a < len; a++) {
            int da = a < g ? a : a - len;
            for (int b = 0; b < len; b++) {
                int db = b < g ? b : b - len;
                double r2 = h * h * ((double)da * da + (double)db * db);
                double w = 1.0 / (1.0 + r2);
                f->kernel[(size_t)a * (size_t)len + (size_t)b] = (a == g || b == g) ? 0 : w * w;
            }
        }
        fftw_execute_dft_r2c(f->fwd, f->kernel, f->kspec);
        f->kernel_h = h;
    }
    const size_t L = (size_t)len, H = (size_t)(len / 2 + 1);
    const double scale = 1.0 / ((double)len * (double)len);
    /* One thread per charge: spread, transform, multiply, transform back. The grids are
     * separate, so the sums are in the same order for any number of threads. */
#pragma omp parallel for schedule(static, 1) if (n >= PAR_POINTS)
    for (int c = 0; c < NCHARGE; c++) {
        double *gr = f->grid[c];
        memset(gr, 0, sizeof(double) * L * L);
        for (size_t i = 0; i < n; i++) {
            double yx = y[2 * i] - centre, yy = y[2 * i + 1] - centre;
            double q = c == 0 ? 1.0 : c == 1 ? yx : yy;
            const double *wx = f->wts + 2 * i * (size_t)p, *wy = wx + p;
            size_t ax = (size_t)f->node[2 * i], ay = (size_t)f->node[2 * i + 1];
            for (int a = 0; a < p; a++) {
                double qa = q * wx[a];
                double *row = gr + (ax + (size_t)a) * L + ay;
                for (int b = 0; b < p; b++) row[b] += qa * wy[b];
            }
        }
        fftw_execute_dft_r2c(f->fwd, gr, f->spec[c]);
        fftw_complex *s = f->spec[c];
        for (size_t t = 0; t < L * H; t++) {
            double re = s[t][0] * f->kspec[t][0] - s[t][1] * f->kspec[t][1];
            double im = s[t][0] * f->kspec[t][1] + s[t][1] * f->kspec[t][0];
            s[t][0] = re * scale;
            s[t][1] = im * scale;
        }
        fftw_execute_dft_c2r(f->inv, s, gr);
    }

    /* Read the potentials back at the points; combine into forces and per-point sums of w. */
    double *sumw = xmalloc(sizeof(double) * n);
#pragma omp parallel for schedule(static) if (n >= PAR_POINTS)
    for (size_t i = 0; i < n; i++) {
        const double *wx = f->wts + 2 * i * (size_t)p, *wy = wx + p;
        size_t ax = (size_t)f->node[2 * i], ay = (size_t)f->node[2 * i + 1];
        double phi[NCHARGE] = {0, 0, 0};
        for (int a = 0; a < p; a++)
            for (int b = 0; b < p; b++) {
                double w = wx[a] * wy[b];
                size_t at = (ax + (size_t)a) * L + ay + (size_t)b;
                for (int c = 0; c < NCHARGE; c++) phi[c] += w * f->grid[c][at];
            }
        double yx = y[2 * i] - centre, yy = y[2 * i + 1] - centre;
        /* Z = sum_ij w^2 (1 + |y_i|^2 - 2 y_i.y_j + |y_j|^2), and the |y_j|^2 part equals
         * sum_i |y_i|^2 phi0_i by the symmetry of the kernel (and of spreading/reading back), so
         * three charges suffice: this point's share is (1 + 2|y_i|^2) phi0 - 2 y_i.(phi1, phi2). */
        sumw[i] = (1.0 + 2.0 * (yx * yx + yy * yy)) * phi[0] - 2.0 * (yx * phi[1] + yy * phi[2]);
        rep[2 * i] = yx * phi[0] - phi[1];
        rep[2 * i + 1] = yy * phi[0] - phi[2];
    }
    double z = 0;
    for (size_t i = 0; i < n; i++) z += sumw[i];
    free(sumw);
    return z - (double)n; /* minus the self terms w_ii = 1 */
}
