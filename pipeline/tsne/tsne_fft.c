/* tsne_fft — t-SNE repulsion by smooth particle-mesh interpolation and FFT (FFTW, single
 * precision).
 *
 * Scheme (smooth particle-mesh Ewald, Essmann et al., J. Chem. Phys. 1995, applied to the
 * Cauchy kernel): unit charges are spread on an equispaced grid with cardinal B-spline weights
 * of order ORDER; the charges' spectrum is multiplied by the kernel's (w = 1 / (1 + r^2) sampled
 * on the grid) and by the Euler-spline factor |b(m1)|^2 |b(m2)|^2 that undoes the B-splines'
 * smoothing; the inverse transform is read back with the same weights (the field
 * phi(y) = sum_j w(y - y_j)) and with their derivatives (its gradient). Since
 * grad_i sum_j w_ij = -2 sum_j w_ij^2 (y_i - y_j), the repulsive force is -grad phi / 2 and
 * Z = sum_i phi(y_i) - N: one forward and one inverse transform per call. The forces are the
 * exact gradient of a smooth (C^2) approximate field, so points do not feel the grid's cells,
 * which is what the piecewise Lagrange interpolation of FIt-SNE makes them do (a rough
 * landscape that stalls the optimisation at a higher KL unless the grid is much finer).
 *
 * The 2-D transforms are two passes of batched 1-D FFTW transforms: the charges fill only the
 * first g rows of the zero-padded (2g x 2g) grid and only those rows of the result are read, so
 * the other row transforms are skipped; the column pass (forward, product, inverse) runs per
 * batch of columns copied into contiguous scratch (faster than FFTW's own strided column
 * transforms under FFTW_ESTIMATE) while they are in cache; on AVX-512 the copies are 8 x 8
 * transposes in registers and the product a vector loop (cols_*_v4). Every batch is a fixed
 * set of rows or columns transformed by the same plan, so the numbers do not depend on how many
 * threads share them. */
#include "tsne_fft.h"

#include <fftw3.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "util.h"

/* Parallel loops only from this many points on (see PAR_POINTS in tsne.c). */
#define PAR_POINTS 4096
#define ORDER 6 /* B-spline order: quintic, even (odd orders make b(m) singular at Nyquist). Order 6
                 * on nodes 1/2 apart (2 per interval) gives a lower KL than order 4 on nodes 1/3
                 * apart, on a grid 2/3 as wide: 0.44 of the FFT work, for 36 nodes per point
                 * instead of 16 */
#define OW 8    /* ORDER rounded up to a vector of 8 floats: weights padded with zeros */
#define RB 8 /* rows per batched row transform; columns per batched column transform (8 complex
              * floats: one 64-byte line of each row) */

struct tsne_fft {
    int p, min_intervals;
    double interval_size;
    double box;             /* interval width of the last call */
    int intervals;          /* per dimension, last call */
    int len, g;             /* FFT length per dimension (>= 2g); g nodes per dimension */
    size_t rows, ls, hs, tl; /* rows per buffer (len + RB: batches may run past len); row strides of
                              * real buffers (floats), row spectra and column scratch (complex),
                              * all multiples of 64 bytes */
    double kernel_h;        /* node spacing the kernel spectrum was computed for (0: none) */
    float *charge;          /* (rows, ls): charges spread on the nodes; only (g, g) ever non-zero */
    fftwf_complex *spec;    /* (rows, hs): row transforms; after the column pass, rows < g of the
                             * product's inverse column transforms */
    float *kspec;           /* (hs, len): kernel spectrum * |b|^2 / len^2, transposed (frequency
                             * column, then row); real, as the kernel is even */
    float *pot;             /* (rows, ls): the field on the nodes; also the kernel's scratch */
    fftwf_complex *plan_buf; /* (RB, tl): the column plans' template buffer */
    fftwf_plan row_fwd, col_fwd, col_inv, row_inv;
    size_t cap;             /* points the per-point arrays hold */
    int *node;              /* (n, 2): first node of each point's B-spline per dimension */
    float *wts;             /* (n, 2, 2, OW): per dimension the weights, then their derivatives,
                             * each padded with zeros to OW */
    double *zpart;          /* (n): phi at each point, self term included */
    int parallel;           /* tsne_fft_set_parallel */
    int v4;                 /* the column pass's moves on AVX-512 (this CPU has it, not portable) */
    tsne_team *team;        /* tsne_fft_set_team */
    fftwf_complex **colbuf; /* per worker: (RB, tl) column scratch */
    int ncolbuf;
    /* the call in progress, for the item functions */
    const double *y;
    size_t n;
    double start, h, *rep;
    float *in;              /* rows_forward's input */
    int nz, setup;          /* column_pass's non-zero rows, and whether it makes the kernel spectrum */
    int nbands;             /* bands of node rows the charges are spread in */
    double t_interp, t_fft;
};

static _Atomic int g_portable; /* tsne_fft_set_portable */

void tsne_fft_set_portable(int on) { g_portable = on != 0; }

tsne_fft *tsne_fft_new(int interp_points, int min_intervals, double interval_size)
{
    tsne_fft *f = xcalloc(1, sizeof *f);
    f->p = interp_points < 2 ? 2 : interp_points > 8 ? 8 : interp_points;
    f->min_intervals = min_intervals < 1 ? 1 : min_intervals;
    f->interval_size = interval_size > 0 ? interval_size : 1.0;
    f->parallel = 1;
    f->v4 = !g_portable && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512vl");
    return f;
}

static void free_grids(tsne_fft *f)
{
    free(f->charge);
    free(f->spec);
    free(f->kspec);
    free(f->pot);
    free(f->plan_buf);
    for (int w = 0; w < f->ncolbuf; w++) free(f->colbuf[w]);
    free(f->colbuf);
    f->colbuf = NULL;
    f->ncolbuf = 0;
    f->charge = f->pot = f->kspec = NULL;
    f->spec = f->plan_buf = NULL;
    fftwf_plan *plans[] = {&f->row_fwd, &f->col_fwd, &f->col_inv, &f->row_inv};
    for (size_t t = 0; t < sizeof plans / sizeof plans[0]; t++) {
        if (*plans[t]) fftwf_destroy_plan(*plans[t]);
        *plans[t] = NULL;
    }
    f->len = f->g = 0;
    f->kernel_h = 0;
}

void tsne_fft_free(tsne_fft *f)
{
    if (!f) return;
    free_grids(f);
    free(f->node);
    free(f->wts);
    free(f->zpart);
    free(f);
}

int tsne_fft_intervals(const tsne_fft *f) { return f->intervals; }

void tsne_fft_set_parallel(tsne_fft *f, int on) { f->parallel = on != 0; }

void tsne_fft_set_team(tsne_fft *f, tsne_team *t) { f->team = t; }

void tsne_fft_seconds(const tsne_fft *f, double *interp, double *fft)
{
    *interp = f->t_interp;
    *fft = f->t_fft;
}

/* 1 if n's only prime factors are 2, 3, 5, 7 (the sizes FFTW is fastest on). */
static int smooth(int n)
{
    static const int primes[] = {2, 3, 5, 7};
    for (int t = 0; t < 4; t++)
        while (n % primes[t] == 0) n /= primes[t];
    return n == 1;
}

static void *fft_alloc(size_t bytes)
{
    /* Zeroed once: the rows and columns past the charges stay zero for good, and batches that run
     * past the used rows read defined values. On 64-byte boundaries (fftwf_malloc gives 32 here):
     * every row then starts a cache line, and a 512-bit load of 8 complex never splits two (split
     * lines made the column pass 10 % slower, depending on where the heap put a buffer). */
    bytes = (bytes + 63) / 64 * 64;
    void *v = aligned_alloc(64, bytes);
    if (!v) {
        xmalloc((size_t)-1); /* out of memory: report and abort as xmalloc does */
        abort();
    }
    memset(v, 0, bytes);
    return v;
}

static void ensure_grids(tsne_fft *f, int g, int len)
{
    if (f->g == g && f->len == len) return;
    free_grids(f);
    f->len = len;
    f->g = g;
    f->rows = (size_t)len + RB;
    f->ls = ((size_t)len + 15) / 16 * 16;
    f->hs = ((size_t)(len / 2 + 1) + RB - 1) / RB * RB;
    f->tl = ((size_t)len + 7) / 8 * 8;
    size_t rbytes = sizeof(float) * f->rows * f->ls, cbytes = sizeof(fftwf_complex) * f->rows * f->hs;
    f->charge = fft_alloc(rbytes);
    f->pot = fft_alloc(rbytes);
    f->spec = fft_alloc(cbytes);
    f->kspec = fft_alloc(sizeof(float) * f->hs * (size_t)len);
    f->plan_buf = fft_alloc(sizeof(fftwf_complex) * RB * f->tl);
    /* FFTW_ESTIMATE: planning is instant and, unlike FFTW_MEASURE, picks the same algorithm on
     * every run, so results repeat bit for bit. All buffers start on 64-byte boundaries (fft_alloc)
     * and so does every batch, so these plans serve all of them (new-array API). */
    const int n1[1] = {len};
    const int ils = (int)f->ls, ihs = (int)f->hs, itl = (int)f->tl;
    f->row_fwd = fftwf_plan_many_dft_r2c(1, n1, RB, f->charge, NULL, 1, ils, f->spec, NULL, 1, ihs, FFTW_ESTIMATE);
    f->col_fwd = fftwf_plan_many_dft(1, n1, RB, f->plan_buf, NULL, 1, itl, f->plan_buf, NULL, 1, itl, FFTW_FORWARD,
                                     FFTW_ESTIMATE);
    f->col_inv = fftwf_plan_many_dft(1, n1, RB, f->plan_buf, NULL, 1, itl, f->plan_buf, NULL, 1, itl, FFTW_BACKWARD,
                                     FFTW_ESTIMATE);
    f->row_inv = fftwf_plan_many_dft_c2r(1, n1, RB, f->spec, NULL, 1, ihs, f->pot, NULL, 1, ils, FFTW_ESTIMATE);
    if (!f->row_fwd || !f->col_fwd || !f->col_inv || !f->row_inv) abort(); /* FFTW cannot plan a 1-D size: a bug */
}

/* fn(f, item, worker) for every item in [0, n): on the team's threads when there is one, on the
 * common pool's (pool.h) when parallel (par), else on this thread. Each item writes its own
 * outputs, computed the same way whoever runs it, so no result depends on the threads. */
typedef void (*item_fn)(void *f, int item, int worker);

typedef struct loop_job {
    tsne_fft *f;
    int n, workers;
    item_fn fn;
} loop_job;

/* pool body: workers [w0, w1), worker w running items [w n / workers, (w + 1) n / workers) (so
 * that each worker's scratch, colbuf[w], is used by one thread at a time). */
static void loop_workers(void *ctx, int w0, int w1)
{
    const loop_job *j = ctx;
    for (int w = w0; w < w1; w++) {
        int i0 = (int)((long)j->n * w / j->workers), i1 = (int)((long)j->n * (w + 1) / j->workers);
        for (int i = i0; i < i1; i++) j->fn(j->f, i, w);
    }
}

/* Workers the loops may use (per-worker scratch). */
static int workers(const tsne_fft *f) { return f->team ? f->team->workers : pool_threads(); }

static void loop(tsne_fft *f, int n, item_fn fn, int par)
{
    if (f->team) {
        f->team->run(f->team, n, fn, f);
        return;
    }
    if (!par) {
        for (int i = 0; i < n; i++) fn(f, i, 0);
        return;
    }
    loop_job j = {f, n, workers(f), fn};
    pool_for_chunks(j.workers, 1, loop_workers, &j);
}

/* Row pass of a forward 2-D transform, batch b: rows of f->in (real, stride ls) to spec. */
static void row_item(void *vf, int b, int w)
{
    tsne_fft *f = vf;
    (void)w;
    fftwf_execute_dft_r2c(f->row_fwd, f->in + (size_t)b * RB * f->ls, f->spec + (size_t)b * RB * f->hs);
}

static void rows_forward(tsne_fft *f, float *in, int nz_rows, int par)
{
    f->in = in;
    loop(f, (nz_rows + RB - 1) / RB, row_item, par);
}

/* The column batch's three data moves, portable: rows [0, nz) of spec's RB columns j0.. into
 * the scratch rows (one per column, the rest of each zeroed); the product with the kernel
 * spectrum; rows [0, g) back. */
static void cols_in(const tsne_fft *f, fftwf_complex *restrict t, size_t j0)
{
    const size_t L = (size_t)f->len, TL = f->tl, HS = f->hs, NZ = (size_t)f->nz;
    for (size_t i = 0; i < NZ; i++) {
        const fftwf_complex *src = f->spec + i * HS + j0;
        for (size_t q = 0; q < RB; q++) {
            t[q * TL + i][0] = src[q][0];
            t[q * TL + i][1] = src[q][1];
        }
    }
    for (size_t q = 0; q < RB; q++) memset(t + q * TL + NZ, 0, sizeof(fftwf_complex) * (L - NZ));
}

static void cols_mul(const tsne_fft *f, fftwf_complex *restrict t, size_t j0)
{
    const size_t L = (size_t)f->len, TL = f->tl;
    for (size_t q = 0; q < RB; q++) {
        float *v = (float *)(t + q * TL);
        const float *k = f->kspec + (j0 + q) * L;
        for (size_t m = 0; m < L; m++) {
            v[2 * m] *= k[m];
            v[2 * m + 1] *= k[m];
        }
    }
}

static void cols_out(const tsne_fft *f, const fftwf_complex *restrict t, size_t j0)
{
    const size_t TL = f->tl, HS = f->hs, G = (size_t)f->g;
    for (size_t i = 0; i < G; i++) {
        fftwf_complex *dst = f->spec + i * HS + j0;
        for (size_t q = 0; q < RB; q++) {
            dst[q][0] = t[q * TL + i][0];
            dst[q][1] = t[q * TL + i][1];
        }
    }
}

/* The same moves on AVX-512 (the same values: copies, and one product per float). A complex is
 * one 64-bit lane; RB = 8 complex columns are one 512-bit row, so 8 rows at a time are an 8 x 8
 * transpose in registers. */
#define V4 __attribute__((target("avx512f,avx512dq,avx512vl")))
V4 static inline void transpose8(__m512i r[8])
{
    /* three rounds of two-source permutes: 1, 2 then 4 lanes exchanged */
    const __m512i a0 = _mm512_set_epi64(14, 6, 12, 4, 10, 2, 8, 0), a1 = _mm512_set_epi64(15, 7, 13, 5, 11, 3, 9, 1);
    const __m512i b0 = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), b1 = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    const __m512i c0 = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0), c1 = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
    __m512i s[8], u[8];
    for (int i = 0; i < 4; i++) {
        s[2 * i] = _mm512_permutex2var_epi64(r[2 * i], a0, r[2 * i + 1]);
        s[2 * i + 1] = _mm512_permutex2var_epi64(r[2 * i], a1, r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            u[4 * i + j] = _mm512_permutex2var_epi64(s[4 * i + j], b0, s[4 * i + j + 2]);
            u[4 * i + j + 2] = _mm512_permutex2var_epi64(s[4 * i + j], b1, s[4 * i + j + 2]);
        }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_permutex2var_epi64(u[j], c0, u[j + 4]);
        r[j + 4] = _mm512_permutex2var_epi64(u[j], c1, u[j + 4]);
    }
}

V4 static void cols_in_v4(const tsne_fft *f, fftwf_complex *restrict t, size_t j0)
{
    const size_t L = (size_t)f->len, TL = f->tl, HS = f->hs, NZ = (size_t)f->nz;
    size_t i0 = 0;
    for (; i0 + 8 <= NZ; i0 += 8) {
        __m512i r[8];
        for (int i = 0; i < 8; i++) r[i] = _mm512_loadu_si512((const void *)(f->spec + (i0 + (size_t)i) * HS + j0));
        transpose8(r);
        for (size_t q = 0; q < RB; q++) _mm512_storeu_si512((void *)(t + q * TL + i0), r[q]);
    }
    /* the last rows, and the zeros from the first multiple of 8 past nz (the tail of a row is
     * zeroed whole vectors at a time) */
    const size_t z0 = (NZ + 7) / 8 * 8;
    for (size_t q = 0; q < RB; q++) {
        for (size_t i = i0; i < NZ; i++) memcpy(t + q * TL + i, f->spec + i * HS + j0 + q, sizeof(fftwf_complex));
        for (size_t i = NZ; i < z0 && i < TL; i++) memset(t + q * TL + i, 0, sizeof(fftwf_complex));
        for (size_t i = z0; i < L; i += 8) _mm512_storeu_si512((void *)(t + q * TL + i), _mm512_setzero_si512());
    }
}

V4 static void cols_mul_v4(const tsne_fft *f, fftwf_complex *restrict t, size_t j0)
{
    const size_t L = (size_t)f->len, TL = f->tl;
    const __m512i dup = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    for (size_t q = 0; q < RB; q++) {
        float *v = (float *)(t + q * TL);
        const float *k = f->kspec + (j0 + q) * L;
        for (size_t m = 0; m < L; m += 8) {
            const size_t left = L - m < 8 ? L - m : 8;
            const __mmask8 in8 = (__mmask8)((1u << left) - 1);
            const __mmask16 in16 = (__mmask16)((1u << (2 * left)) - 1);
            const __m512 kk = _mm512_permutexvar_ps(dup, _mm512_castps256_ps512(_mm256_maskz_loadu_ps(in8, k + m)));
            _mm512_mask_storeu_ps(v + 2 * m, in16, _mm512_mul_ps(_mm512_maskz_loadu_ps(in16, v + 2 * m), kk));
        }
    }
}

V4 static void cols_out_v4(const tsne_fft *f, const fftwf_complex *restrict t, size_t j0)
{
    const size_t TL = f->tl, HS = f->hs, G = (size_t)f->g;
    size_t i0 = 0;
    for (; i0 + 8 <= G; i0 += 8) {
        __m512i r[8];
        for (size_t q = 0; q < RB; q++) r[q] = _mm512_loadu_si512((const void *)(t + q * TL + i0));
        transpose8(r);
        for (int i = 0; i < 8; i++) _mm512_storeu_si512((void *)(f->spec + (i0 + (size_t)i) * HS + j0), r[i]);
    }
    for (size_t i = i0; i < G; i++)
        for (size_t q = 0; q < RB; q++) memcpy(f->spec + i * HS + j0 + q, t + q * TL + i, sizeof(fftwf_complex));
}

/* Column pass on spec, whose rows below nz hold row transforms (the rows above are zero), batch
 * b of RB frequency columns: copy them into contiguous scratch, transform forward; then either
 * (setup) keep the real parts as the kernel spectrum, or multiply by the kernel spectrum,
 * transform back and copy rows < g back into spec's columns. Every batch touches only its own
 * columns. */
static void col_item(void *vf, int b, int w)
{
    tsne_fft *f = vf;
    const size_t L = (size_t)f->len, TL = f->tl;
    fftwf_complex *t = f->colbuf[w];
    const size_t j0 = (size_t)b * RB;
    if (f->v4) cols_in_v4(f, t, j0);
    else cols_in(f, t, j0);
    fftwf_execute_dft(f->col_fwd, t, t);
    if (f->setup) {
        for (size_t q = 0; q < RB; q++)
            for (size_t m = 0; m < L; m++) f->kspec[(j0 + q) * L + m] = t[q * TL + m][0];
        return;
    }
    if (f->v4) cols_mul_v4(f, t, j0);
    else cols_mul(f, t, j0);
    fftwf_execute_dft(f->col_inv, t, t);
    if (f->v4) cols_out_v4(f, t, j0);
    else cols_out(f, t, j0);
}

static void column_pass(tsne_fft *f, int nz, int setup, int par)
{
    int nw = workers(f);
    if (f->ncolbuf < nw) {
        f->colbuf = xrealloc(f->colbuf, sizeof *f->colbuf * (size_t)nw);
        for (int w = f->ncolbuf; w < nw; w++) f->colbuf[w] = fft_alloc(sizeof(fftwf_complex) * RB * f->tl);
        f->ncolbuf = nw;
    }
    f->nz = nz, f->setup = setup;
    loop(f, (int)(f->hs / RB), col_item, par);
}

/* Row pass back, batch b, for the g rows that hold nodes. */
static void irow_item(void *vf, int b, int w)
{
    tsne_fft *f = vf;
    (void)w;
    fftwf_execute_dft_c2r(f->row_inv, f->spec + (size_t)b * RB * f->hs, f->pot + (size_t)b * RB * f->ls);
}

/* Cardinal B-spline weights of order ORDER for fractional offset t in [0, 1): w[j] = M(t + ORDER
 * - 1 - j), the weight of node floor(u) - ORDER + 1 + j; dw[j] its derivative in u. */
static void bspline(double t, double *w, double *dw)
{
    double a[ORDER] = {1};
    for (int k = 2; k <= ORDER; k++) {
        if (k == ORDER)
            for (int j = 0; j < ORDER; j++) dw[j] = (j > 0 ? a[j - 1] : 0) - (j < ORDER - 1 ? a[j] : 0);
        double b[ORDER];
        for (int j = 0; j < k; j++) {
            double x = t + k - 1 - j;
            b[j] = (x * (j > 0 ? a[j - 1] : 0) + (k - x) * (j < k - 1 ? a[j] : 0)) / (k - 1);
        }
        memcpy(a, b, sizeof(double) * (size_t)k);
    }
    memcpy(w, a, sizeof a);
}

/* The weights as polynomials in the fractional offset t: W[k][j] is the coefficient of t^k in
 * node j's weight M(t + ORDER - 1 - j), D[k][j] in its derivative; nodes padded with zeros to
 * OW. From the recursion in bspline (tsne_fft_weights_error compares the two). */
#if ORDER == 6
typedef float vw __attribute__((vector_size(OW * sizeof(float))));
static const vw WPOLY[6] = {
    {1.f / 120, 13.f / 60, 11.f / 20, 13.f / 60, 1.f / 120, 0},
    {-1.f / 24, -5.f / 12, 0, 5.f / 12, 1.f / 24, 0},
    {1.f / 12, 1.f / 6, -1.f / 2, 1.f / 6, 1.f / 12, 0},
    {-1.f / 12, 1.f / 6, 0, -1.f / 6, 1.f / 12, 0},
    {1.f / 24, -1.f / 6, 1.f / 4, -1.f / 6, 1.f / 24, 0},
    {-1.f / 120, 1.f / 24, -1.f / 12, 1.f / 12, -1.f / 24, 1.f / 120}};
static const vw DPOLY[5] = {
    {-1.f / 24, -5.f / 12, 0, 5.f / 12, 1.f / 24, 0},
    {1.f / 6, 1.f / 3, -1, 1.f / 3, 1.f / 6, 0},
    {-1.f / 4, 1.f / 2, 0, -1.f / 2, 1.f / 4, 0},
    {1.f / 6, -2.f / 3, 1, -2.f / 3, 1.f / 6, 0},
    {-1.f / 24, 5.f / 24, -5.f / 12, 5.f / 12, -5.f / 24, 1.f / 24}};
#else
#error "WPOLY / DPOLY are written for ORDER 6"
#endif

/* Weights and derivatives (OW each, zeros past ORDER) at fractional offset t by Horner's rule,
 * all nodes at once: one vector of OW floats (GCC vector extension, so that the running values
 * stay in a register through the unrolled steps; the tables above are such vectors). */
static inline void weights(float t, float *restrict w, float *restrict dw)
{
    vw a = WPOLY[5], d = DPOLY[4];
    a = a * t + WPOLY[4], d = d * t + DPOLY[3];
    a = a * t + WPOLY[3], d = d * t + DPOLY[2];
    a = a * t + WPOLY[2], d = d * t + DPOLY[1];
    a = a * t + WPOLY[1], d = d * t + DPOLY[0];
    a = a * t + WPOLY[0];
    memcpy(w, &a, sizeof a);
    memcpy(dw, &d, sizeof d);
}

double tsne_fft_weights_error(void)
{
    double worst = 0;
    for (int i = 0; i <= 100; i++) {
        double t = i / 101.0, w[ORDER], dw[ORDER];
        float pw[OW], pd[OW];
        bspline(t, w, dw);
        weights((float)t, pw, pd);
        for (int j = 0; j < OW; j++) {
            double e = fabs(pw[j] - (j < ORDER ? w[j] : 0)), d = fabs(pd[j] - (j < ORDER ? dw[j] : 0));
            worst = e > worst ? e : worst;
            worst = d > worst ? d : worst;
        }
    }
    return worst;
}

/* |b(m)|^2 of the Euler exponential spline for frequency m of a length-len grid:
 * 1 / |sum_{k=0}^{ORDER-2} M(k + 1) e^{2 pi i m k / len}|^2. */
static double euler_b2(int m, int len)
{
    double w[ORDER], dw[ORDER];
    bspline(0, w, dw); /* w[j] = M(ORDER - 1 - j): M(k + 1) = w[ORDER - 2 - k] */
    double re = 0, im = 0;
    for (int k = 0; k <= ORDER - 2; k++) {
        double ang = 2 * M_PI * (double)m * k / len;
        re += w[ORDER - 2 - k] * cos(ang);
        im += w[ORDER - 2 - k] * sin(ang);
    }
    return 1.0 / (re * re + im * im);
}

typedef struct kernel_job {
    float *kr;
    size_t ls;
    int len;
    double h;
} kernel_job;

/* pool body: rows [a0, a1) of the sampled kernel (see kernel). */
static void kernel_rows(void *ctx, int a0, int a1)
{
    const kernel_job *j = ctx;
    const int len = j->len, half = len / 2;
    const double h = j->h;
    for (int a = a0; a < a1; a++) {
        int da = a < half ? a : a - len;
        for (int b = 0; b < len; b++) {
            int db = b < half ? b : b - len;
            double v = (a == half || b == half) ? 0 : 1.0 / (1.0 + h * h * ((double)da * da + (double)db * db));
            j->kr[(size_t)a * j->ls + (size_t)b] = (float)v;
        }
    }
}

/* The kernel spectrum for node spacing h: w sampled at the node offsets, wrapped for a circular
 * convolution of length len (entry a holds offset a or a - len, whichever is below len / 2 in
 * magnitude; offset len / 2 is zero), transformed, scaled by 1 / len^2 and |b|^2. */
static void kernel(tsne_fft *f, double h, int par)
{
    const int len = f->len, half = len / 2;
    float *kr = f->pot;
    kernel_job kj = {kr, f->ls, len, h};
    if (par) pool_for_chunks(len, POOL_JOBS, kernel_rows, &kj);
    else kernel_rows(&kj, 0, len);
    rows_forward(f, kr, len, par);
    /* The kernel is real and even: its spectrum is real, so only that part is kept. */
    column_pass(f, len, 1, par);
    double *b2 = xmalloc(sizeof(double) * (size_t)len);
    for (int m = 0; m < len; m++) b2[m] = euler_b2(m, len) / len;
    for (int c = 0; c <= half; c++)
        for (int r = 0; r < len; r++) f->kspec[(size_t)c * (size_t)len + (size_t)r] *= (float)(b2[r] * b2[c]);
    free(b2);
    f->kernel_h = h;
}

/* Points per item of the per-point loops. */
#define PB 1024

/* B-spline nodes and weights of points [PB * it, PB * (it + 1)). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void weight_item(void *vf, int it, int w)
{
    tsne_fft *f = vf;
    (void)w;
    const int g = f->g;
    const double inv_h = 1.0 / f->h;
    size_t i0 = (size_t)it * PB, i1 = i0 + PB < f->n ? i0 + PB : f->n;
    for (size_t i = i0; i < i1; i++)
        for (int dim = 0; dim < 2; dim++) {
            double u = (f->y[2 * i + (size_t)dim] - f->start) * inv_h;
            int b = (int)u;
            if (b > g - 1) b = g - 1;
            if (b < ORDER - 1) b = ORDER - 1;
            f->node[2 * i + (size_t)dim] = b - (ORDER - 1);
            float *o = f->wts + (4 * i + 2 * (size_t)dim) * OW;
            weights((float)(u - b), o, o + OW);
        }
}

/* The charges of node rows in band it of f->nbands, added in point order. Each node row gets
 * OW values (the last OW - ORDER of them zeros: columns past the point's nodes, at most g + 1,
 * stay zero). */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void spread_item(void *vf, int it, int w)
{
    tsne_fft *f = vf;
    (void)w;
    const int g = f->g, r0 = (int)((long)g * it / f->nbands), r1 = (int)((long)g * (it + 1) / f->nbands);
    const size_t LS = f->ls;
    for (int r = r0; r < r1; r++) memset(f->charge + (size_t)r * LS, 0, sizeof(float) * (size_t)g);
    for (size_t i = 0; i < f->n; i++) {
        int ax = f->node[2 * i];
        if (ax + ORDER <= r0 || ax >= r1) continue;
        const float *wx = f->wts + 4 * i * OW;
        vw wy;
        memcpy(&wy, wx + 2 * OW, sizeof wy);
        size_t ay = (size_t)f->node[2 * i + 1];
        int a0 = r0 - ax > 0 ? r0 - ax : 0, a1 = r1 - ax < ORDER ? r1 - ax : ORDER;
        for (int a = a0; a < a1; a++) {
            float *row = f->charge + (size_t)(ax + a) * LS + ay;
            vw v;
            memcpy(&v, row, sizeof v);
            v += wx[a] * wy;
            memcpy(row, &v, sizeof v);
        }
    }
}

/* The sum of a vector's 8 lanes, as a tree (halves, then quarters, then the pair): a short
 * dependency chain, and the same order on every point. */
static inline float hsum(vw a)
{
    typedef float v4f __attribute__((vector_size(4 * sizeof(float))));
    v4f lo, hi;
    memcpy(&lo, &a, sizeof lo);
    memcpy(&hi, (const float *)&a + 4, sizeof hi);
    lo += hi;
    return (lo[0] + lo[2]) + (lo[1] + lo[3]);
}

/* The field and its gradient at points [PB * it, PB * (it + 1)): per point, the node rows
 * weighted down the columns first (OW-wide vectors), then across. */
__attribute__((target_clones("arch=x86-64-v3", "default"))) static void read_item(void *vf, int it, int w)
{
    tsne_fft *f = vf;
    (void)w;
    const size_t LS = f->ls;
    const double gscale = -0.5 / f->h;
    size_t i0 = (size_t)it * PB, i1 = i0 + PB < f->n ? i0 + PB : f->n;
    for (size_t i = i0; i < i1; i++) {
        const float *wx = f->wts + 4 * i * OW, *dx = wx + OW, *wy = wx + 2 * OW, *dy = wy + OW;
        size_t ax = (size_t)f->node[2 * i], ay = (size_t)f->node[2 * i + 1];
        vw v = {0}, u = {0}; /* per column: sum over rows of w_x row, of dw_x row */
        for (int a = 0; a < ORDER; a++) {
            vw row;
            memcpy(&row, f->pot + (ax + (size_t)a) * LS + ay, sizeof row);
            v += wx[a] * row, u += dx[a] * row;
        }
        vw wyv, dyv;
        memcpy(&wyv, wy, sizeof wyv);
        memcpy(&dyv, dy, sizeof dyv);
        const float phi = hsum(wyv * v), gx = hsum(wyv * u), gy = hsum(dyv * v);
        f->zpart[i] = phi;
        f->rep[2 * i] = gscale * gx;
        f->rep[2 * i + 1] = gscale * gy;
    }
}

double tsne_fft_repulsion(tsne_fft *f, const double *y, size_t n, double *rep)
{
    const int p = f->p, par = f->parallel && n >= PAR_POINTS;
    double t0 = now_seconds();
    double lo = y[0], hi = y[0];
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (size_t t = 0; t < 2 * n; t++) {
        lo = y[t] < lo ? y[t] : lo;
        hi = y[t] > hi ? y[t] : hi;
    }
    /* A square box over both dimensions (one kernel for both). */
    double centre = 0.5 * (lo + hi), span = hi - lo;
    if (span < 1e-6) span = 1e-6;
    /* Intervals (p nodes each) are interval_size wide, or narrower on a ladder of widths
     * interval_size * 2^(-k/8) while the embedding is small: the node spacing then changes only
     * now and then, and the kernel spectrum is reused meanwhile. */
    double box = f->interval_size;
    int nb;
    if (span >= f->min_intervals * box) {
        int need = (int)ceil(span / box);
        /* Keep the grid while it covers the embedding and is at most 1/8 too large; a new grid
         * is made 1/8 larger than needed. An expanding embedding (its span grows from 50 to 150
         * after the exaggerated phase) then rebuilds the kernel spectrum, plans and buffers about
         * ten times instead of a hundred (which cost 7 % of a 10,000-point run), and one whose
         * span hovers around a size does not rebuild them every time. */
        nb = f->box == box && f->intervals >= need && f->intervals <= need + need / 8 ? f->intervals : need + need / 8;
    } else {
        while (box * 0.917004043204671 >= span / f->min_intervals) box *= 0.917004043204671; /* 2^(-1/8) */
        nb = f->min_intervals;
    }
    f->box = box;
    f->intervals = nb;
    /* Nodes: p per interval, plus ORDER - 1 below the box (a B-spline reaches ORDER - 1 nodes
     * down) and one above; the FFT length is at least 2g (no wrap-around) and smooth. */
    const double h = box / p, start = centre - 0.5 * nb * box - (ORDER - 1) * h;
    const int g = p * nb + ORDER;
    int len = 2 * g;
    while (!smooth(len)) len += 2;
    ensure_grids(f, g, len);

    if (f->cap < n) {
        f->node = xrealloc(f->node, sizeof(int) * 2 * n);
        free(f->wts); /* on cache lines: a point's 4 vectors of weights never split one */
        f->wts = fft_alloc(sizeof(float) * 4 * OW * n);
        f->zpart = xrealloc(f->zpart, sizeof(double) * n);
        f->cap = n;
    }
    f->y = y, f->n = n, f->start = start, f->h = h, f->rep = rep;
    const int npb = (int)((n + PB - 1) / PB);
    loop(f, npb, weight_item, par);
    /* Spread unit charges: a band of node rows per worker (each band scans every point), each
     * adding in point order the contributions that fall in it: every node's sum has the same
     * order however the rows are banded. */
    f->nbands = f->team ? f->team->workers : par ? pool_threads() : 1;
    loop(f, f->nbands, spread_item, par);
    double t1 = now_seconds();

    if (f->kernel_h != h) kernel(f, h, par);
    rows_forward(f, f->charge, g, par);
    column_pass(f, g, 0, par);
    loop(f, (g + RB - 1) / RB, irow_item, par);
    double t2 = now_seconds();

    /* Read the field and its gradient back at the points. */
    loop(f, npb, read_item, par);
    double z = 0;
    for (size_t i = 0; i < n; i++) z += f->zpart[i];
    f->t_interp += (t1 - t0) + (now_seconds() - t2);
    f->t_fft += t2 - t1;
    return z - (double)n; /* minus the self terms w_ii = 1 */
}
