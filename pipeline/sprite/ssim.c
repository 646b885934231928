/* ssim — see ssim.h. Separable Gaussian filtering of the five moments (a, b, a^2, b^2, ab), row
 * by row: each input row is filtered horizontally once into a ring of 11 rows, and each output row
 * combines the ring vertically, so memory is 11 rows and not five whole images (a 4096^2 sheet
 * would otherwise need 1.3 GB). The output is cut into fixed tiles of BAND rows x TILE_W columns
 * that go to the common pool's threads (sheets are often 128 pixels tall: bands alone would
 * leave one thread busy); each tile re-reads the 10 rows and columns of overlap. Pixel values are
 * centred (minus 128) before the squares so that float keeps the variances exact enough; the
 * means are shifted back for the luminance term.
 *
 * Speed: rows keep their channels interleaved, so every loop is contiguous; each filter is one
 * pass over its output with all 11 taps in the expression (the sum stays in a register instead
 * of being stored and reloaded per tap), and the window is symmetric, so each pair of taps at
 * the same distance is added before it is weighted (6 multiplies instead of 11); the SSIM map of
 * a row is computed into a buffer (a loop that vectorizes, divisions included) and then summed
 * in double. The tile kernel is compiled
 * for AVX-512 and AVX2 besides the baseline (gcc's target_clones picks one at load time), with
 * the dynamic vectorizer cost model (the build's -O2 leaves loops of unknown trip count scalar).
 * No -ffast-math: the sums keep the order written here. */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#include "ssim.h"

#include "pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R 5           /* window radius: int(3.5 * 1.5 + 0.5), as scipy/skimage truncate */
#define WIN (2 * R + 1)
#define BAND 128      /* output rows per tile */
#define TILE_W 512    /* output columns per tile */
#define NQ 5          /* moments: a, b, aa, bb, ab */

typedef struct job {
    const uint8_t *a, *b;
    int w, h, ch;
    int y0, y1;         /* output rows [y0, y1), in image coordinates */
    int x0, x1;         /* output columns [x0, x1) */
    const float *g;     /* WIN weights */
    double sum;         /* sum over channels and pixels of the SSIM map */
} job;

/* Row y, pixels [x0, x0 + n), all channels interleaved, as floats, centred: RGB of RGBA images
 * composited over white, alpha as it is. */
static inline void load_row(const uint8_t *img, int w, int ch, int y, int x0, int n, float *restrict out)
{
    const uint8_t *p = img + ((size_t)y * w + x0) * ch;
    if (ch == 4) {
        for (int x = 0; x < n; x++) {
            float al = p[4 * x + 3] * (1.0f / 255.0f), white = 255.0f * (1.0f - al) - 128.0f;
            for (int c = 0; c < 3; c++) out[4 * x + c] = p[4 * x + c] * al + white;
            out[4 * x + 3] = (float)p[4 * x + 3] - 128.0f;
        }
    } else {
        for (int i = 0; i < n * ch; i++) out[i] = (float)p[i] - 128.0f;
    }
}

/* dst[i] = sum_k g[k] src[i + k*ch], i < n, on interleaved channels, with g symmetric: g[R]
 * src[i+R*ch] + sum_{k<R} g[k] (src[i+k*ch] + src[i+(2R-k)*ch]), all taps in one pass so that
 * the sum stays in a register. */
static inline void hfilter(float *restrict dst, const float *restrict src, const float *restrict g, int n, int ch)
{
    const float *s0 = src, *s1 = src + ch, *s2 = src + 2 * ch, *s3 = src + 3 * ch, *s4 = src + 4 * ch,
                *s5 = src + 5 * ch, *s6 = src + 6 * ch, *s7 = src + 7 * ch, *s8 = src + 8 * ch,
                *s9 = src + 9 * ch, *s10 = src + 10 * ch;
    float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5];
    for (int i = 0; i < n; i++)
        dst[i] = g5 * s5[i] + g0 * (s0[i] + s10[i]) + g1 * (s1[i] + s9[i]) + g2 * (s2[i] + s8[i]) +
                 g3 * (s3[i] + s7[i]) + g4 * (s4[i] + s6[i]);
}

/* y[i] = the same filter down the ring's rows r[0..WIN), in the same order of terms. */
static inline void vfilter(float *restrict y, const float *const *r, const float *restrict g, size_t n)
{
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4], *r5 = r[5], *r6 = r[6],
                *r7 = r[7], *r8 = r[8], *r9 = r[9], *r10 = r[10];
    float g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5];
    for (size_t i = 0; i < n; i++)
        y[i] = g5 * r5[i] + g0 * (r0[i] + r10[i]) + g1 * (r1[i] + r9[i]) + g2 * (r2[i] + r8[i]) +
               g3 * (r3[i] + r7[i]) + g4 * (r4[i] + r6[i]);
}

/* Sum of the SSIM map over one row; m: (NQ, n) filtered moments of centred values; t: n floats
 * of scratch. */
static inline double ssim_row(const float *restrict m, int n, float C1, float C2, float *restrict t)
{
    const float *ma = m, *mb = m + n, *aa = mb + n, *bb = aa + n, *ab = bb + n;
    for (int x = 0; x < n; x++) {
        float va = aa[x] - ma[x] * ma[x], vb = bb[x] - mb[x] * mb[x], cov = ab[x] - ma[x] * mb[x];
        float a = ma[x] + 128.0f, b = mb[x] + 128.0f;
        t[x] = ((2 * a * b + C1) * (2 * cov + C2)) / ((a * a + b * b + C1) * (va + vb + C2));
    }
    /* eight partial sums (a vector of doubles), not one chain of dependent adds */
    double part[8] = {0}, sum = 0;
    int x = 0;
    for (; x + 8 <= n; x += 8)
        for (int k = 0; k < 8; k++) part[k] += t[x + k];
    for (int k = 0; k < 8; k++) sum += part[k];
    for (; x < n; x++) sum += t[x];
    return sum;
}

/* One tile. Rows are kept with their channels interleaved (as the image stores them): every
 * loop is then contiguous, and a tap is ch floats further on. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void run_tile(job *j)
{
    int w = j->w, ch = j->ch, tw = j->x1 - j->x0, iw = tw + 2 * R, ix0 = j->x0 - R;
    size_t tn = (size_t)tw * ch, in = (size_t)iw * ch; /* floats in an output / input row */
    const float *g = j->g;
    const float C1 = (0.01f * 255) * (0.01f * 255), C2 = (0.03f * 255) * (0.03f * 255);
    /* ring: (WIN, NQ, tw * ch) horizontally filtered moments */
    float *ring = xmalloc(sizeof(float) * WIN * NQ * tn);
    float *ra = xmalloc(sizeof(float) * in * 5), *rb = ra + in, *raa = rb + in, *rbb = raa + in, *rab = rbb + in;
    float *acc = xmalloc(sizeof(float) * (NQ + 1) * tn); /* (NQ, tw * ch) vertical sums, scratch */
    double sum = 0;
    for (int y = j->y0 - R; y < j->y1 + R; y++) {
        float *slot = ring + (size_t)(y % WIN) * NQ * tn;
        load_row(j->a, w, ch, y, ix0, iw, ra);
        load_row(j->b, w, ch, y, ix0, iw, rb);
        for (size_t i = 0; i < in; i++) {
            raa[i] = ra[i] * ra[i];
            rbb[i] = rb[i] * rb[i];
            rab[i] = ra[i] * rb[i];
        }
        const float *src[NQ] = {ra, rb, raa, rbb, rab};
        for (int q = 0; q < NQ; q++) hfilter(slot + (size_t)q * tn, src[q], g, (int)tn, ch);
        int oy = y - R; /* the output row whose window ends at y */
        if (oy < j->y0) continue;
        const float *rows[WIN];
        for (int k = 0; k < WIN; k++) rows[k] = ring + (size_t)((oy - R + k) % WIN) * NQ * tn;
        vfilter(acc, rows, g, NQ * tn);
        sum += ssim_row(acc, (int)tn, C1, C2, acc + NQ * tn);
    }
    free(ring);
    free(ra);
    free(acc);
    j->sum = sum;
}

/* pool body: tiles [k0, k1). */
static void run_tiles(void *ctx, int k0, int k1)
{
    job *jobs = ctx;
    for (int k = k0; k < k1; k++) run_tile(&jobs[k]);
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
    int rows = height - 2 * R, cols = width - 2 * R;
    /* Fixed tiles, summed in tile order, so that the result does not depend on the thread
     * count. */
    int nby = (rows + BAND - 1) / BAND, nbx = (cols + TILE_W - 1) / TILE_W, nb = nby * nbx;
    job *jobs = xcalloc((size_t)nb, sizeof *jobs);
    for (int k = 0; k < nb; k++) {
        int by = k / nbx, bx = k % nbx;
        int y1 = R + (by + 1) * BAND, x1 = R + (bx + 1) * TILE_W;
        jobs[k] = (job){a, b, width, height, channels, R + by * BAND, y1 < R + rows ? y1 : R + rows,
                        R + bx * TILE_W, x1 < R + cols ? x1 : R + cols, g, 0};
    }
    /* each tile a chunk of its own, so that a thread that finishes early takes the next */
    if (threads == 1) run_tiles(jobs, 0, nb);
    else pool_for_chunks(nb, nb, run_tiles, jobs);
    double sum = 0;
    for (int k = 0; k < nb; k++) sum += jobs[k].sum;
    *out = sum / ((double)cols * rows * channels);
    free(jobs);
    return 0;
}
