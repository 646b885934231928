/* ssim — see ssim.h. Separable Gaussian filtering of the five moments (a, b, a^2, b^2, ab), row
 * by row: each input row is filtered horizontally once into a ring of 11 rows, and each output row
 * combines the ring vertically, so memory is 11 rows and not five whole images (a 4096^2 sheet
 * would otherwise need 1.3 GB). Bands of output rows go to threads; each band re-reads the 10
 * rows of overlap. Pixel values are centred (minus 128) before the squares so that float keeps the
 * variances exact enough; the means are shifted back for the luminance term. */
#include "ssim.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R 5           /* window radius: int(3.5 * 1.5 + 0.5), as scipy/skimage truncate */
#define WIN (2 * R + 1)
#define BAND 128      /* output rows per unit of work */
#define NQ 5          /* moments: a, b, aa, bb, ab */

typedef struct job {
    const uint8_t *a, *b;
    int w, h, ch;
    int y0, y1;         /* output rows [y0, y1), in image coordinates */
    const float *g;     /* WIN weights */
    double sum;         /* sum over channels and pixels of the SSIM map */
} job;

/* Channel c of row y as floats, centred: RGB of RGBA images composited over white. */
static void load_row(const uint8_t *img, int w, int ch, int y, int c, float *out)
{
    const uint8_t *p = img + (size_t)y * w * ch;
    if (ch == 4 && c < 3) {
        for (int x = 0; x < w; x++) {
            float al = p[4 * x + 3] * (1.0f / 255.0f);
            out[x] = p[4 * x + c] * al + 255.0f * (1.0f - al) - 128.0f;
        }
    } else {
        for (int x = 0; x < w; x++) out[x] = (float)p[ch * x + c] - 128.0f;
    }
}

/* dst[x] = sum_k g[k] src[x+k], x < n. Loops over k outside so that the inner loop is a plain
 * vector multiply-add. */
static void hfilter(float *restrict dst, const float *restrict src, const float *restrict g, int n)
{
    for (int x = 0; x < n; x++) dst[x] = g[0] * src[x];
    for (int k = 1; k < WIN; k++) {
        float gk = g[k];
        const float *s = src + k;
        for (int x = 0; x < n; x++) dst[x] += gk * s[x];
    }
}

static void axpy(float *restrict y, const float *restrict x, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* Sum of the SSIM map over one row; m: (NQ, n) filtered moments of centred values. */
static double ssim_row(const float *restrict m, int n, float C1, float C2)
{
    const float *ma = m, *mb = m + n, *aa = mb + n, *bb = aa + n, *ab = bb + n;
    double sum = 0;
    for (int x = 0; x < n; x++) {
        float va = aa[x] - ma[x] * ma[x], vb = bb[x] - mb[x] * mb[x], cov = ab[x] - ma[x] * mb[x];
        float a = ma[x] + 128.0f, b = mb[x] + 128.0f;
        sum += ((2 * a * b + C1) * (2 * cov + C2)) / ((a * a + b * b + C1) * (va + vb + C2));
    }
    return sum;
}

static void *run_band(void *arg)
{
    job *j = arg;
    int w = j->w, wv = w - 2 * R, ch = j->ch;
    const float *g = j->g;
    const float C1 = (0.01f * 255) * (0.01f * 255), C2 = (0.03f * 255) * (0.03f * 255);
    /* ring: (WIN, ch, NQ, wv) horizontally filtered moments */
    float *ring = xmalloc(sizeof(float) * WIN * (size_t)ch * NQ * (size_t)wv);
    float *ra = xmalloc(sizeof(float) * (size_t)w * 5), *rb = ra + w, *raa = rb + w, *rbb = raa + w, *rab = rbb + w;
    float *acc = xmalloc(sizeof(float) * NQ * (size_t)wv); /* (NQ, wv) vertical sums */
    double sum = 0;
    for (int y = j->y0 - R; y < j->y1 + R; y++) {
        float *slot = ring + (size_t)(y % WIN) * ch * NQ * wv;
        for (int c = 0; c < ch; c++) {
            load_row(j->a, w, ch, y, c, ra);
            load_row(j->b, w, ch, y, c, rb);
            for (int x = 0; x < w; x++) {
                raa[x] = ra[x] * ra[x];
                rbb[x] = rb[x] * rb[x];
                rab[x] = ra[x] * rb[x];
            }
            const float *src[NQ] = {ra, rb, raa, rbb, rab};
            for (int q = 0; q < NQ; q++) hfilter(slot + ((size_t)c * NQ + q) * wv, src[q], g, wv);
        }
        int oy = y - R; /* the output row whose window ends at y */
        if (oy < j->y0) continue;
        for (int c = 0; c < ch; c++) {
            memset(acc, 0, sizeof(float) * NQ * (size_t)wv);
            for (int k = 0; k < WIN; k++) {
                const float *sl = ring + ((size_t)((oy - R + k) % WIN) * ch + c) * NQ * wv;
                axpy(acc, sl, g[k], (size_t)NQ * wv);
            }
            sum += ssim_row(acc, wv, C1, C2);
        }
    }
    free(ring);
    free(ra);
    free(acc);
    j->sum = sum;
    return NULL;
}

/* A thread's share: bands first, first + step, ... */
typedef struct worker {
    job *jobs;
    int nb, first, step;
    pthread_t tid;
    int started;
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int k = w->first; k < w->nb; k += w->step) run_band(&w->jobs[k]);
    return NULL;
}

int ssim_threads(void)
{
    const char *s = getenv("FV_THREADS");
    int n = s ? atoi(s) : 0;
    if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

int ssim_compute(const uint8_t *a, const uint8_t *b, int width, int height, int channels, int threads,
                 double *out, err *e)
{
    if (channels < 1 || channels > 4) return err_set(e, "ssim: channels must be 1..4, not %d", channels);
    if (width < WIN || height < WIN)
        return err_set(e, "ssim: image %dx%d is smaller than the %dx%d window", width, height, WIN, WIN);
    float g[WIN], gs = 0;
    for (int k = 0; k < WIN; k++) gs += g[k] = expf(-(float)((k - R) * (k - R)) / (2 * 1.5f * 1.5f));
    for (int k = 0; k < WIN; k++) g[k] /= gs;
    int rows = height - 2 * R;
    if (threads <= 0) threads = ssim_threads();
    /* Fixed bands of BAND rows, summed in band order, so that the result does not depend on the
     * thread count; a band re-reads 10 rows of overlap, a small cost at 128 rows. */
    int nb = (rows + BAND - 1) / BAND;
    if (threads > nb) threads = nb;
    job *jobs = xcalloc((size_t)nb, sizeof *jobs);
    for (int k = 0; k < nb; k++) {
        int y1 = R + (k + 1) * BAND;
        jobs[k] = (job){a, b, width, height, channels, R + k * BAND, y1 < R + rows ? y1 : R + rows, g, 0};
    }
    worker *ws = xcalloc((size_t)threads, sizeof *ws);
    for (int t = 0; t < threads; t++) {
        ws[t] = (worker){jobs, nb, t, threads, 0, 0};
        /* a thread that cannot start runs inline instead */
        if (t > 0) ws[t].started = pthread_create(&ws[t].tid, NULL, run_worker, &ws[t]) == 0;
        if (t > 0 && !ws[t].started) run_worker(&ws[t]);
    }
    run_worker(&ws[0]);
    for (int t = 1; t < threads; t++)
        if (ws[t].started) pthread_join(ws[t].tid, NULL);
    double sum = 0;
    for (int k = 0; k < nb; k++) sum += jobs[k].sum;
    *out = sum / ((double)(width - 2 * R) * rows * channels);
    free(jobs);
    free(ws);
    return 0;
}
