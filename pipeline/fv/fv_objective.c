/* fv_objective — forward values and gradients of the visualization objectives. */
#include "fv_objective.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void fv_obj_neuron(const float *act, int n, int h, int w, int c, int y, int x, int ch, const float *wts,
                   double *vals, float *grad)
{
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        size_t i = (((size_t)b * h + y) * w + x) * c + ch;
        vals[b] = act[i];
        grad[i] += wts[b];
    }
}

void fv_obj_channel(const float *act, int n, int h, int w, int c, int ch, const float *wts, double *vals,
                    float *grad)
{
    size_t hw = (size_t)h * w;
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = act + (size_t)b * hw * c + ch;
        float *g = grad + (size_t)b * hw * c + ch;
        double s = 0;
        float d = (float)(wts[b] / (double)hw);
        for (size_t i = 0; i < hw; i++) {
            s += a[i * c];
            g[i * c] += d;
        }
        vals[b] = s / (double)hw;
    }
}

void fv_obj_layer(const float *act, int n, int h, int w, int c, const float *wts, double *vals, float *grad)
{
    size_t m = (size_t)h * w * c;
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = act + (size_t)b * m;
        float *g = grad + (size_t)b * m;
        double s = 0;
        float d = (float)(2.0 * wts[b] / (double)m);
        for (size_t i = 0; i < m; i++) {
            s += (double)a[i] * a[i];
            g[i] += d * a[i];
        }
        vals[b] = s / (double)m;
    }
}

void fv_obj_direction(const float *act, int n, int h, int w, int c, const float *dir, const float *wts,
                      double *vals, float *grad)
{
    size_t hw = (size_t)h * w;
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = act + (size_t)b * hw * c;
        float *g = grad + (size_t)b * hw * c;
        double s = 0;
        float d = (float)(wts[b] / (double)hw);
        for (size_t i = 0; i < hw; i++)
            for (int k = 0; k < c; k++) {
                s += (double)a[i * c + k] * dir[k];
                g[i * c + k] += d * dir[k];
            }
        vals[b] = s / (double)hw;
    }
}

/* The passes of fv_obj_diversity over N Gram matrices of C*C values (on a late layer 8 x 518,400
 * floats a step): in 8 double lanes each, so that they vectorize (the lanes fix the order of the
 * sums; a plain double sum could not be reordered). */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static double sum_sq(const float *a, size_t n)
{
    double l[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) l[k] += (double)a[i + k] * a[i + k];
    for (; i < n; i++) l[0] += (double)a[i] * a[i];
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* <a, s> and <a, a> in one pass. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void dot_and_sq(const float *a, const float *s, size_t n, double *as, double *aa)
{
    double l[8] = {0}, q[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            l[k] += (double)a[i + k] * s[i + k];
            q[k] += (double)a[i + k] * a[i + k];
        }
    for (; i < n; i++) l[0] += (double)a[i] * s[i], q[0] += (double)a[i] * a[i];
    *as = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    *aa = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
}

/* g *= r, s += g (the normalized Gram, and the sum of all of them). */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void scale_acc(float *g, float r, float *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g[i] *= r;
        s[i] += g[i];
    }
}

/* dg = f * ((s - g) - dot * g): the gradient of the batch's similarity with respect to one Gram. */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void sim_grad(const float *s, const float *g, float f, float dot, float *dg, size_t n)
{
    for (size_t i = 0; i < n; i++) dg[i] = f * ((s[i] - g[i]) - dot * g[i]);
}

/* Block (i, j) of an (N hw) x (N hw) matrix, summed squares. */
static double block_sq(const float *k, int m, int hw, int i, int j)
{
    double s = 0;
    for (int r = 0; r < hw; r++) s += sum_sq(k + (size_t)(i * hw + r) * m + j * hw, hw);
    return s;
}

/* The diversity term through the batch's kernel matrix K = A A^T, A = (N hw, C) the activations,
 * for when the batch has fewer positions than channels (a late layer: 8 x 25 against 720): with
 * F_i the rows of image i, <G_i, G_j> = |F_i F_j^T|^2 = |K_ij|^2 and F_i G_j = K_ij F_j, so the
 * Grams are never formed. Two products of 2 (N hw)^2 C multiply-adds instead of 2 N C^2 hw. */
static double diversity_kernel(const float *act, int n, int hw, int c, double weight, float *grad)
{
    int m = n * hw;
    float *k = xmalloc(sizeof(float) * m * m);
    double *q = xmalloc(sizeof(double) * n * n), *norm = xmalloc(sizeof(double) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, c, 1.0f, act, c, act, c, 0.0f, k, m);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) q[i * n + j] = block_sq(k, m, hw, i, j);
    for (int i = 0; i < n; i++) norm[i] = sqrt(q[i * n + i]) > 1e-10 ? sqrt(q[i * n + i]) : 1e-10;
    double sim = 0, pairs = (double)n * (n - 1);
    for (int i = 0; i < n; i++) {
        double dot = 0; /* <Ghat_i, sum of the others> */
        for (int j = 0; j < n; j++)
            if (j != i) dot += q[i * n + j] / (norm[i] * norm[j]);
        sim += dot;
        /* grad_i += 2 f (sum_{j != i} K_ij F_j / |G_j| - dot K_ii F_i / |G_i|): K's rows of image i
         * scaled in place into the matrix that multiplies A. */
        double f = -weight * 2.0 / pairs / norm[i];
        for (int j = 0; j < n; j++) {
            float s = (float)(2 * f * (j != i ? 1 / norm[j] : -dot / norm[i]));
            for (int r = 0; r < hw; r++) {
                float *row = k + (size_t)(i * hw + r) * m + j * hw;
                for (int x = 0; x < hw; x++) row[x] *= s;
            }
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, c, m, 1.0f, k, m, act, c, 1.0f, grad, c);
    free(k);
    free(q);
    free(norm);
    return -sim / pairs;
}

/* Minus the mean cosine similarity of the batch's Gram matrices over its N(N-1) ordered pairs.
 * With Ghat_i the normalized Grams and S their sum, the pairs sum to sum_i <Ghat_i, S - Ghat_i>
 * and dS/dGhat_i = 2/(N(N-1)) (S - Ghat_i): N passes over the Grams, not N^2 (which was 57 % of
 * a late-layer render at batch 8). */
double fv_obj_diversity(const float *act, int n, int h, int w, int c, double weight, float *grad)
{
    if (n < 2) return 0;
    int hw = h * w;
    if ((size_t)n * hw < (size_t)c) return diversity_kernel(act, n, hw, c, weight, grad);
    size_t cc = (size_t)c * c;
    float *g = xmalloc(sizeof(float) * cc * n); /* normalized Gram matrices, (N, C, C) */
    float *s = xcalloc(cc, sizeof(float));      /* their sum */
    float *dg = xmalloc(sizeof(float) * cc);
    double *norm = xmalloc(sizeof(double) * n), *dot = xmalloc(sizeof(double) * n);
    for (int b = 0; b < n; b++) {
        /* G = F^T F, F: (hw, C) row-major */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, hw, 1.0f, act + (size_t)b * hw * c, c,
                    act + (size_t)b * hw * c, c, 0.0f, g + b * cc, c);
        double q = sqrt(sum_sq(g + b * cc, cc));
        norm[b] = q > 1e-10 ? q : 1e-10;
        scale_acc(g + b * cc, (float)(1.0 / norm[b]), s, cc);
    }
    double sim = 0, pairs = (double)n * (n - 1);
    for (int i = 0; i < n; i++) {
        double gs, gg;
        dot_and_sq(g + i * cc, s, cc, &gs, &gg);
        dot[i] = gs - gg; /* <Ghat_i, sum of the others> */
        sim += dot[i];
    }
    sim /= pairs;
    for (int i = 0; i < n; i++) {
        /* dS/dG_i = (dGhat - Ghat <Ghat, dGhat>) / |G_i|; dS/dF_i = 2 F_i dS/dG_i (symmetric).
         * Ascend on -S: scaled by -weight. */
        double f = -weight * 2.0 / pairs / norm[i];
        sim_grad(s, g + i * cc, (float)f, (float)dot[i], dg, cc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hw, c, c, 2.0f, act + (size_t)i * hw * c, c, dg,
                    c, 1.0f, grad + (size_t)i * hw * c, c);
    }
    free(g);
    free(s);
    free(dg);
    free(norm);
    free(dot);
    return -sim;
}

void fv_obj_l1(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad)
{
    size_t m = (size_t)h * w * 3;
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = img + (size_t)b * m;
        float *g = grad + (size_t)b * m;
        double s = 0;
        float d = (float)(wts[b] / (double)m);
        for (size_t i = 0; i < m; i++) {
            float v = a[i] - 0.5f;
            s += fabsf(v);
            g[i] -= v > 0 ? d : v < 0 ? -d : 0;
        }
        vals[b] = -s / (double)m;
    }
}

void fv_obj_tv(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad)
{
    size_t m = (size_t)h * w * 3;
    double nx = (double)h * (w - 1) * 3, ny = (double)(h - 1) * w * 3;
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = img + (size_t)b * m;
        float *g = grad + (size_t)b * m;
        double sx = 0, sy = 0;
        float dx = nx > 0 ? (float)(wts[b] / nx) : 0, dy = ny > 0 ? (float)(wts[b] / ny) : 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++) {
                    size_t i = ((size_t)y * w + x) * 3 + ch;
                    if (x + 1 < w) {
                        float d = a[i + 3] - a[i];
                        float sg = d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f;
                        sx += fabsf(d);
                        g[i + 3] -= dx * sg;
                        g[i] += dx * sg;
                    }
                    if (y + 1 < h) {
                        float d = a[i + (size_t)w * 3] - a[i];
                        float sg = d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f;
                        sy += fabsf(d);
                        g[i + (size_t)w * 3] -= dy * sg;
                        g[i] += dy * sg;
                    }
                }
        vals[b] = -((nx > 0 ? sx / nx : 0) + (ny > 0 ? sy / ny : 0));
    }
}

/* out = B in for one (h, w, 3) image: 3x3 binomial weights, divided by the weight inside the image. */
static void blur3(const float *in, int h, int w, float *out)
{
    static const float k[3] = {1, 2, 1};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float acc[3] = {0, 0, 0}, ws = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    float kw = k[dy + 1] * k[dx + 1];
                    ws += kw;
                    for (int ch = 0; ch < 3; ch++) acc[ch] += kw * in[((size_t)yy * w + xx) * 3 + ch];
                }
            for (int ch = 0; ch < 3; ch++) out[((size_t)y * w + x) * 3 + ch] = acc[ch] / ws;
        }
}

/* out += B^T in (the transpose of blur3: each output pixel's normalized weights scattered back). */
static void blur3_t(const float *in, int h, int w, float scale, float *out)
{
    static const float k[3] = {1, 2, 1};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float ws = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) ws += k[dy + 1] * k[dx + 1];
                }
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    float kw = scale * k[dy + 1] * k[dx + 1] / ws;
                    for (int ch = 0; ch < 3; ch++)
                        out[((size_t)yy * w + xx) * 3 + ch] += kw * in[((size_t)y * w + x) * 3 + ch];
                }
        }
}

void fv_obj_blur(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad)
{
    size_t m = (size_t)h * w * 3;
    float *r = xmalloc(sizeof(float) * m);
    for (int b = 0; b < n; b++) {
        vals[b] = 0;
        if (wts[b] == 0) continue;
        const float *a = img + (size_t)b * m;
        float *g = grad + (size_t)b * m;
        blur3(a, h, w, r);
        double s = 0;
        for (size_t i = 0; i < m; i++) {
            r[i] = a[i] - r[i];
            s += (double)r[i] * r[i];
        }
        vals[b] = -0.5 * s / (double)m;
        /* d/dimg of -0.5 mean r^2 = -(I - B)^T r / m */
        float d = (float)(wts[b] / (double)m);
        for (size_t i = 0; i < m; i++) g[i] -= d * r[i];
        blur3_t(r, h, w, d, g);
    }
    free(r);
}
