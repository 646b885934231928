/* fv_param — pixel and Fourier parameterizations, shared low-resolution parts, colour
 * decorrelation (or one grey channel) and sigmoid, each with its exact transpose for the backward pass. */
#include "fv_param.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

/* FFTW's planner is not thread-safe: every plan creation and destruction goes through this lock. */
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Bilinear taps of one axis for upsampling from ln to n samples (half-pixel centres, clamped). */
typedef struct axis_taps {
    int *i0, *i1;
    float *w1; /* weight of i1; i0 gets 1 - w1 */
} axis_taps;

typedef struct shared_part {
    int factor, lh, lw;
    size_t offset; /* into the parameter vector: (lh, lw, pc) floats */
    axis_taps ty, tx;
} shared_part;

struct fv_param {
    fv_param_config c;
    int pc; /* channels before colour: 3, or 1 for grey */
    float m[3][3];
    size_t count, unique_count;
    float *values, *grad;
    float *pre;  /* (N,H,W,pc) before colour: backward needs nothing of it but forward builds it here */
    float *img;  /* (N,H,W,3) sigmoid output of the last forward, for the sigmoid's derivative */
    float *dpre; /* (N,H,W,pc) scratch for backward */
    shared_part shared[FV_PARAM_MAX_SHARED];
    /* Fourier: half spectrum (fh = H, fw = W/2+1) per element and channel, complex interleaved. */
    int fh, fw;
    float *scale;        /* (fh, fw): 1/f scaling with the irfft normalization folded in */
    fftwf_complex *spec; /* (fh, fw) per element and channel, N*pc of them: c2r input / r2c output */
    float *plane;        /* (H, W) per element and channel: c2r output / r2c input */
    /* The 2-D transforms as their two passes, each split in halves (columns [0, cmid) and
     * [cmid, fw) of the half spectrum; rows [0, rmid) and [rmid, H)), so that the 3 channels' 6
     * halves keep 2 threads busy where 3 whole transforms could not: colinv/colfwd the 1-D
     * complex transforms along y of a half's columns (in place), rowc2r/rowr2c the real ones of a
     * half's rows. Made on the first work pair, run on each with FFTW's new-array execute. */
    fftwf_plan colinv[2], rowc2r[2], rowr2c[2], colfwd[2];
    int cmid, rmid;
    size_t spec_stride, plane_stride; /* complex / float elements from one work pair to the next */
};

void fv_param_color_matrix(float m[3][3])
{
    static const double c[3][3] = {{0.26, 0.09, 0.02}, {0.27, 0.00, -0.05}, {0.27, -0.09, 0.03}};
    double maxn = 0;
    for (int j = 0; j < 3; j++) {
        double s = 0;
        for (int i = 0; i < 3; i++) s += c[i][j] * c[i][j];
        if (sqrt(s) > maxn) maxn = sqrt(s);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m[i][j] = (float)(c[i][j] / maxn);
}

static void taps_init(axis_taps *t, int n, int ln)
{
    t->i0 = xmalloc(sizeof(int) * (size_t)n);
    t->i1 = xmalloc(sizeof(int) * (size_t)n);
    t->w1 = xmalloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) {
        double s = (i + 0.5) * ln / n - 0.5;
        if (s < 0) s = 0;
        if (s > ln - 1) s = ln - 1;
        int a = (int)floor(s);
        if (a > ln - 1) a = ln - 1;
        t->i0[i] = a;
        t->i1[i] = a + 1 < ln ? a + 1 : a;
        t->w1[i] = (float)(s - a);
    }
}

static void taps_free(axis_taps *t)
{
    free(t->i0);
    free(t->i1);
    free(t->w1);
}

/* numpy.fft.fftfreq(n)[k]: signed frequency in cycles per sample. */
static double fftfreq(int k, int n) { return (k < (n + 1) / 2 ? k : k - n) / (double)n; }

int fv_param_new(const fv_param_config *c, rng_state *rng, fv_param **out, err *e)
{
    *out = NULL;
    if (c->n < 1 || c->h < 1 || c->w < 1)
        return err_set(e, "parameterization: batch and size must be >= 1 (got %d, %dx%d)", c->n, c->h, c->w);
    if (c->n_shared < 0 || c->n_shared > FV_PARAM_MAX_SHARED)
        return err_set(e, "parameterization: at most %d shared components (got %d)", FV_PARAM_MAX_SHARED,
                       c->n_shared);
    for (int i = 0; i < c->n_shared; i++)
        if (c->shared[i] < 1)
            return err_set(e, "parameterization: shared factor %d must be >= 1", c->shared[i]);
    if (c->grey && c->decorrelate) return err_set(e, "parameterization: a grey image has no colours to decorrelate");
    fv_param *p = xcalloc(1, sizeof *p);
    p->c = *c;
    p->pc = c->grey ? 1 : 3;
    size_t pc = (size_t)p->pc;
    fv_param_color_matrix(p->m);
    size_t n = (size_t)c->n, hw = (size_t)c->h * (size_t)c->w;
    if (c->kind == FV_PARAM_FOURIER) {
        p->fh = c->h;
        p->fw = c->w / 2 + 1;
        p->unique_count = n * pc * (size_t)p->fh * (size_t)p->fw * 2;
    } else {
        p->unique_count = n * hw * pc;
    }
    p->count = p->unique_count;
    for (int i = 0; i < c->n_shared; i++) {
        shared_part *s = &p->shared[i];
        s->factor = c->shared[i];
        s->lh = (c->h + s->factor - 1) / s->factor;
        s->lw = (c->w + s->factor - 1) / s->factor;
        s->offset = p->count;
        p->count += (size_t)s->lh * (size_t)s->lw * pc;
        taps_init(&s->ty, c->h, s->lh);
        taps_init(&s->tx, c->w, s->lw);
    }
    p->values = xmalloc(sizeof(float) * p->count);
    p->grad = xcalloc(p->count, sizeof(float));
    for (size_t i = 0; i < p->count; i++) p->values[i] = (float)(c->sd * rng_normal(rng));
    p->pre = xmalloc(sizeof(float) * n * hw * pc);
    p->img = xmalloc(sizeof(float) * n * hw * 3);
    p->dpre = xmalloc(sizeof(float) * n * hw * pc);
    if (c->kind == FV_PARAM_FOURIER) {
        size_t nf = (size_t)p->fh * (size_t)p->fw;
        p->scale = xmalloc(sizeof(float) * nf);
        double fmin = 1.0 / (c->h > c->w ? c->h : c->w);
        double norm = sqrt((double)hw) / (double)hw / 4.0;
        for (int ky = 0; ky < p->fh; ky++)
            for (int kx = 0; kx < p->fw; kx++) {
                double fy = fftfreq(ky, c->h), fx = kx / (double)c->w;
                double f = sqrt(fx * fx + fy * fy);
                p->scale[(size_t)ky * p->fw + kx] = (float)(norm / (f > fmin ? f : fmin));
            }
        /* one work pair per element and channel, so that the transforms run on the pool's threads
         * at once; each array starts on FFTW's alignment, as the new-array execute requires */
        size_t items = n * pc, nfp = (nf + 7) / 8 * 8, hwp = (hw + 15) / 16 * 16;
        p->spec = fftwf_malloc(sizeof(fftwf_complex) * nfp * items);
        p->plane = fftwf_malloc(sizeof(float) * hwp * items);
        p->spec_stride = nfp, p->plane_stride = hwp;
        if (!p->spec || !p->plane) abort();
        /* FFTW_ESTIMATE: deterministic plans (MEASURE may pick different algorithms per run). */
        p->cmid = p->fw / 2, p->rmid = c->h / 2;
        int ok = 1;
        pthread_mutex_lock(&plan_lock);
        for (int hf = 0; hf < 2; hf++) {
            int c0 = hf ? p->cmid : 0, cn = hf ? p->fw - p->cmid : p->cmid;
            int r0 = hf ? p->rmid : 0, rn = hf ? c->h - p->rmid : p->rmid;
            fftwf_complex *sc = p->spec + c0, *sr = p->spec + (size_t)r0 * p->fw;
            float *pr = p->plane + (size_t)r0 * c->w;
            p->colinv[hf] = cn ? fftwf_plan_many_dft(1, &p->fh, cn, sc, NULL, p->fw, 1, sc, NULL, p->fw, 1, FFTW_BACKWARD,
                                                     FFTW_ESTIMATE)
                               : NULL;
            p->colfwd[hf] = cn ? fftwf_plan_many_dft(1, &p->fh, cn, sc, NULL, p->fw, 1, sc, NULL, p->fw, 1, FFTW_FORWARD,
                                                     FFTW_ESTIMATE)
                               : NULL;
            p->rowc2r[hf] = rn ? fftwf_plan_many_dft_c2r(1, &p->c.w, rn, sr, NULL, 1, p->fw, pr, NULL, 1, c->w,
                                                         FFTW_ESTIMATE)
                               : NULL;
            p->rowr2c[hf] = rn ? fftwf_plan_many_dft_r2c(1, &p->c.w, rn, pr, NULL, 1, c->w, sr, NULL, 1, p->fw,
                                                         FFTW_ESTIMATE)
                               : NULL;
            ok &= (!cn || (p->colinv[hf] && p->colfwd[hf])) && (!rn || (p->rowc2r[hf] && p->rowr2c[hf]));
        }
        pthread_mutex_unlock(&plan_lock);
        if (!ok) {
            fv_param_free(p);
            return err_set(e, "parameterization: FFTW cannot plan a %dx%d transform", c->h, c->w);
        }
    }
    *out = p;
    return 0;
}

size_t fv_param_count(const fv_param *p) { return p->count; }
float *fv_param_values(fv_param *p) { return p->values; }
const float *fv_param_grad(const fv_param *p) { return p->grad; }

/* The columns kx = 0 (and W/2 for even W) of a real signal's half spectrum are Hermitian along y.
 * Projecting them onto Hermitian data (a symmetric linear map, its own transpose) makes the
 * inverse transform exactly "sum of c_kx * Re(X e^{i phase})" whatever FFTW does with the rest. */
static void hermitian_project(fftwf_complex *s, int fh, int fw, int w, int c0, int c1)
{
    int cols[2] = {0, w % 2 == 0 ? w / 2 : -1};
    for (int ci = 0; ci < 2; ci++) {
        int kx = cols[ci];
        if (kx < 0 || (ci == 1 && kx == 0) || kx < c0 || kx >= c1) continue;
        for (int ky = 0; ky <= fh / 2; ky++) {
            int ny = (fh - ky) % fh;
            fftwf_complex *a = &s[(size_t)ky * fw + kx], *b = &s[(size_t)ny * fw + kx];
            float re = 0.5f * ((*a)[0] + (*b)[0]), im = 0.5f * ((*a)[1] - (*b)[1]);
            (*a)[0] = re;
            (*a)[1] = im;
            (*b)[0] = re;
            (*b)[1] = -im;
        }
    }
}

/* The halves of item i = n * pc + ch (an element's channel): item 2i + hf of these loops. */

/* Pass 1 of the inverse: the half's columns of the spectrum scaled into the work pair, projected
 * where Hermitian (columns 0 and W/2), and transformed along y. */
static void fourier_forward_cols(void *ctx, int i0, int i1)
{
    fv_param *p = ctx;
    for (int it = i0; it < i1; it++) {
        int i = it / 2, hf = it % 2, c0 = hf ? p->cmid : 0, c1 = hf ? p->fw : p->cmid;
        if (c0 == c1) continue;
        const float *v = p->values + (size_t)i * p->fh * p->fw * 2;
        fftwf_complex *spec = p->spec + (size_t)i * p->spec_stride;
        for (int ky = 0; ky < p->fh; ky++)
            for (int kx = c0; kx < c1; kx++) {
                size_t k = (size_t)ky * p->fw + kx;
                spec[k][0] = v[2 * k] * p->scale[k];
                spec[k][1] = v[2 * k + 1] * p->scale[k];
            }
        hermitian_project(spec, p->fh, p->fw, p->c.w, c0, c1);
        fftwf_execute_dft(p->colinv[hf], spec + c0, spec + c0);
    }
}

/* Pass 2 of the inverse: the half's rows, complex to real, into the plane. */
static void fourier_forward_rows(void *ctx, int i0, int i1)
{
    fv_param *p = ctx;
    for (int it = i0; it < i1; it++) {
        int i = it / 2, hf = it % 2, r0 = hf ? p->rmid : 0;
        if (!p->rowc2r[hf]) continue;
        fftwf_execute_dft_c2r(p->rowc2r[hf], p->spec + (size_t)i * p->spec_stride + (size_t)r0 * p->fw,
                              p->plane + (size_t)i * p->plane_stride + (size_t)r0 * p->c.w);
    }
}

/* Pixels [lo, hi) of every element: the planes interleaved into pre. */
static void planes_to_pre(void *ctx, int lo, int hi)
{
    fv_param *p = ctx;
    size_t hw = (size_t)p->c.h * (size_t)p->c.w, pc = (size_t)p->pc;
    for (int n = 0; n < p->c.n; n++)
        for (size_t ch = 0; ch < pc; ch++) {
            const float *src = p->plane + ((size_t)n * pc + ch) * p->plane_stride;
            float *dst = p->pre + (size_t)n * hw * pc + ch;
            for (size_t i = (size_t)lo; i < (size_t)hi; i++) dst[i * pc] = src[i];
        }
}

/* unique part -> pre (N,H,W,pc); the transforms and the interleaving split across the pool */
static void unique_forward(fv_param *p)
{
    const fv_param_config *c = &p->c;
    size_t hw = (size_t)c->h * (size_t)c->w, pc = (size_t)p->pc;
    if (c->kind == FV_PARAM_PIXEL) {
        memcpy(p->pre, p->values, sizeof(float) * (size_t)c->n * hw * pc);
        return;
    }
    pool_for_chunks(2 * c->n * p->pc, POOL_JOBS, fourier_forward_cols, p);
    pool_for_chunks(2 * c->n * p->pc, POOL_JOBS, fourier_forward_rows, p);
    pool_for_chunks((int)hw, POOL_JOBS, planes_to_pre, p);
}

/* Pass 1 of the gradient: the half's rows of item i's channel of dpre, real to complex. */
static void fourier_backward_rows(void *ctx, int i0, int i1)
{
    fv_param *p = ctx;
    const fv_param_config *c = &p->c;
    size_t hw = (size_t)c->h * (size_t)c->w, pc = (size_t)p->pc;
    for (int it = i0; it < i1; it++) {
        int i = it / 2, hf = it % 2, r0 = hf ? p->rmid : 0, r1 = hf ? c->h : p->rmid;
        if (!p->rowr2c[hf]) continue;
        int n = i / p->pc, ch = i % p->pc;
        const float *src = p->dpre + (size_t)n * hw * pc + ch;
        float *plane = p->plane + (size_t)i * p->plane_stride;
        for (size_t k = (size_t)r0 * c->w; k < (size_t)r1 * c->w; k++) plane[k] = src[k * pc];
        fftwf_execute_dft_r2c(p->rowr2c[hf], plane + (size_t)r0 * c->w,
                              p->spec + (size_t)i * p->spec_stride + (size_t)r0 * p->fw);
    }
}

/* Pass 2: the half's columns transformed along y, and the gradient of their spectrum (through the
 * Hermitian projection and the 1/f scale) written to item i's part of grad. */
static void fourier_backward_cols(void *ctx, int i0, int i1)
{
    fv_param *p = ctx;
    const fv_param_config *c = &p->c;
    size_t nf = (size_t)p->fh * (size_t)p->fw;
    int nyq = c->w % 2 == 0 ? c->w / 2 : -1;
    for (int it = i0; it < i1; it++) {
        int i = it / 2, hf = it % 2, c0 = hf ? p->cmid : 0, c1 = hf ? p->fw : p->cmid;
        if (c0 == c1) continue;
        fftwf_complex *spec = p->spec + (size_t)i * p->spec_stride;
        fftwf_execute_dft(p->colfwd[hf], spec + c0, spec + c0);
        /* y = sum c_kx Re(X e^{+i phase}) and the forward FFT gives G = sum g e^{-i phase}:
         * dJ/dRe X = c_kx Re G, dJ/dIm X = c_kx Im G (c_kx = 1 on self-conjugate columns). */
        for (int ky = 0; ky < p->fh; ky++)
            for (int kx = c0; kx < c1; kx++) {
                float cf = (kx == 0 || kx == nyq) ? 1.0f : 2.0f;
                size_t k = (size_t)ky * p->fw + kx;
                spec[k][0] *= cf;
                spec[k][1] *= cf;
            }
        hermitian_project(spec, p->fh, p->fw, c->w, c0, c1);
        float *g = p->grad + (size_t)i * nf * 2;
        for (int ky = 0; ky < p->fh; ky++)
            for (int kx = c0; kx < c1; kx++) {
                size_t k = (size_t)ky * p->fw + kx;
                g[2 * k] = spec[k][0] * p->scale[k];
                g[2 * k + 1] = spec[k][1] * p->scale[k];
            }
    }
}

static void unique_backward(fv_param *p)
{
    const fv_param_config *c = &p->c;
    size_t hw = (size_t)c->h * (size_t)c->w, pc = (size_t)p->pc;
    if (c->kind == FV_PARAM_PIXEL) {
        memcpy(p->grad, p->dpre, sizeof(float) * (size_t)c->n * hw * pc);
        return;
    }
    pool_for_chunks(2 * c->n * p->pc, POOL_JOBS, fourier_backward_rows, p);
    pool_for_chunks(2 * c->n * p->pc, POOL_JOBS, fourier_backward_cols, p);
}

static void shared_forward(fv_param *p, const shared_part *s)
{
    const fv_param_config *c = &p->c;
    const float *lo = p->values + s->offset;
    size_t hw = (size_t)c->h * (size_t)c->w, pc = (size_t)p->pc;
    for (int y = 0; y < c->h; y++) {
        int y0 = s->ty.i0[y], y1 = s->ty.i1[y];
        float wy = s->ty.w1[y];
        for (int x = 0; x < c->w; x++) {
            int x0 = s->tx.i0[x], x1 = s->tx.i1[x];
            float wx = s->tx.w1[x];
            for (int ch = 0; ch < p->pc; ch++) {
                float v00 = lo[((size_t)y0 * s->lw + x0) * pc + ch], v01 = lo[((size_t)y0 * s->lw + x1) * pc + ch];
                float v10 = lo[((size_t)y1 * s->lw + x0) * pc + ch], v11 = lo[((size_t)y1 * s->lw + x1) * pc + ch];
                float v = (1 - wy) * ((1 - wx) * v00 + wx * v01) + wy * ((1 - wx) * v10 + wx * v11);
                for (int n = 0; n < c->n; n++) p->pre[(size_t)n * hw * pc + ((size_t)y * c->w + x) * pc + ch] += v;
            }
        }
    }
}

static void shared_backward(fv_param *p, const shared_part *s)
{
    const fv_param_config *c = &p->c;
    float *g = p->grad + s->offset;
    size_t hw = (size_t)c->h * (size_t)c->w, pc = (size_t)p->pc;
    memset(g, 0, sizeof(float) * (size_t)s->lh * s->lw * pc);
    for (int y = 0; y < c->h; y++) {
        int y0 = s->ty.i0[y], y1 = s->ty.i1[y];
        float wy = s->ty.w1[y];
        for (int x = 0; x < c->w; x++) {
            int x0 = s->tx.i0[x], x1 = s->tx.i1[x];
            float wx = s->tx.w1[x];
            for (int ch = 0; ch < p->pc; ch++) {
                float d = 0;
                for (int n = 0; n < c->n; n++) d += p->dpre[(size_t)n * hw * pc + ((size_t)y * c->w + x) * pc + ch];
                g[((size_t)y0 * s->lw + x0) * pc + ch] += (1 - wy) * (1 - wx) * d;
                g[((size_t)y0 * s->lw + x1) * pc + ch] += (1 - wy) * wx * d;
                g[((size_t)y1 * s->lw + x0) * pc + ch] += wy * (1 - wx) * d;
                g[((size_t)y1 * s->lw + x1) * pc + ch] += wy * wx * d;
            }
        }
    }
}

/* e^x for the sigmoid, as a loop the compiler vectorizes (libm's expf is a call per value, and the
 * forward's 3 x 49,152 of them at 128 px were three quarters of fv_param_forward): Cephes' expf,
 * x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is exact), e^r by its degree-7
 * polynomial, times 2^n built in the exponent bits (n = rint(x / ln2)). Relative error at most
 * 8e-8 over [-87, 88] (against double exp; the sigmoid's 1.5e-7). Lanes are independent and -std=c11 does not contract to FMAs, so each clone gives the same
 * bytes. Arguments are clamped to [-87, 88], where e^x is a normal float. */
static inline float exp_cephes(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float fn = rintf(x * 1.44269504088896341f);
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float z = r * r;
    float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
               1.6666665459e-1f) * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    union {
        int32_t i;
        float f;
    } two_n = {((int32_t)fn + 127) << 23};
    return y * two_n.f;
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void sigmoid_inplace(float *restrict v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = 1.0f / (1.0f + exp_cephes(-v[i]));
}

/* Pixels [lo, hi) of all elements: pre through the colour matrix and the sigmoid into img, and
 * copied to the caller's image. */
typedef struct color_fwd_job {
    fv_param *p;
    float *out; /* the caller's copy of img */
} color_fwd_job;

static void color_forward(void *ctx, int lo, int hi)
{
    const color_fwd_job *j = ctx;
    fv_param *p = j->p;
    const fv_param_config *c = &p->c;
    float *img = p->img + (size_t)lo * 3;
    if (p->pc == 1) {
        for (size_t i = (size_t)lo; i < (size_t)hi; i++) p->img[i * 3] = p->img[i * 3 + 1] = p->img[i * 3 + 2] = p->pre[i];
        sigmoid_inplace(img, (size_t)(hi - lo) * 3);
    } else {
        for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
            const float *t = p->pre + i * 3;
            for (int k = 0; k < 3; k++)
                p->img[i * 3 + k] =
                    c->decorrelate ? p->m[k][0] * t[0] + p->m[k][1] * t[1] + p->m[k][2] * t[2] : t[k];
        }
        sigmoid_inplace(img, (size_t)(hi - lo) * 3);
    }
    memcpy(j->out + (size_t)lo * 3, img, sizeof(float) * (size_t)(hi - lo) * 3);
}

void fv_param_forward(fv_param *p, float *img)
{
    const fv_param_config *c = &p->c;
    size_t npix = (size_t)c->n * c->h * c->w;
    unique_forward(p);
    for (int i = 0; i < c->n_shared; i++) shared_forward(p, &p->shared[i]);
    color_fwd_job j = {p, img};
    pool_for_chunks((int)npix, POOL_JOBS, color_forward, &j);
}

typedef struct color_bwd_job {
    fv_param *p;
    const float *dimg;
} color_bwd_job;

/* Pixels [lo, hi): dimg back through the sigmoid and the colour matrix into dpre. */
static void color_backward(void *ctx, int lo, int hi)
{
    const color_bwd_job *j = ctx;
    fv_param *p = j->p;
    const float *dimg = j->dimg;
    const fv_param_config *c = &p->c;
    if (p->pc == 1) {
        /* the value feeds R, G and B: its gradient is the sum of theirs */
        for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
            float s = p->img[i * 3];
            p->dpre[i] = (dimg[i * 3] + dimg[i * 3 + 1] + dimg[i * 3 + 2]) * s * (1 - s);
        }
    } else {
        for (size_t i = (size_t)lo; i < (size_t)hi; i++) {
            float dz[3];
            for (int k = 0; k < 3; k++) {
                float s = p->img[i * 3 + k];
                dz[k] = dimg[i * 3 + k] * s * (1 - s);
            }
            for (int k = 0; k < 3; k++)
                p->dpre[i * 3 + k] =
                    c->decorrelate ? p->m[0][k] * dz[0] + p->m[1][k] * dz[1] + p->m[2][k] * dz[2] : dz[k];
        }
    }
}

void fv_param_backward(fv_param *p, const float *dimg)
{
    const fv_param_config *c = &p->c;
    size_t npix = (size_t)c->n * c->h * c->w;
    color_bwd_job j = {p, dimg};
    pool_for_chunks((int)npix, POOL_JOBS, color_backward, &j);
    unique_backward(p);
    for (int i = 0; i < c->n_shared; i++) shared_backward(p, &p->shared[i]);
}

void fv_param_free(fv_param *p)
{
    if (!p) return;
    for (int i = 0; i < p->c.n_shared; i++) {
        taps_free(&p->shared[i].ty);
        taps_free(&p->shared[i].tx);
    }
    pthread_mutex_lock(&plan_lock);
    for (int hf = 0; hf < 2; hf++) {
        if (p->colinv[hf]) fftwf_destroy_plan(p->colinv[hf]);
        if (p->colfwd[hf]) fftwf_destroy_plan(p->colfwd[hf]);
        if (p->rowc2r[hf]) fftwf_destroy_plan(p->rowc2r[hf]);
        if (p->rowr2c[hf]) fftwf_destroy_plan(p->rowr2c[hf]);
    }
    pthread_mutex_unlock(&plan_lock);
    fftwf_free(p->spec);
    fftwf_free(p->plane);
    free(p->scale);
    free(p->values);
    free(p->grad);
    free(p->pre);
    free(p->img);
    free(p->dpre);
    free(p);
}
