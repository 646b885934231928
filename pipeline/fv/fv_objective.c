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

double fv_obj_diversity(const float *act, int n, int h, int w, int c, double weight, float *grad)
{
    if (n < 2) return 0;
    int hw = h * w;
    size_t cc = (size_t)c * c;
    float *g = xmalloc(sizeof(float) * cc * n);  /* normalized Gram matrices, (N, C, C) */
    float *dg = xmalloc(sizeof(float) * cc);
    double *norm = xmalloc(sizeof(double) * n);
    for (int b = 0; b < n; b++) {
        /* G = F^T F, F: (hw, C) row-major */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, c, hw, 1.0f, act + (size_t)b * hw * c, c,
                    act + (size_t)b * hw * c, c, 0.0f, g + b * cc, c);
        double s = 0;
        for (size_t i = 0; i < cc; i++) s += (double)g[b * cc + i] * g[b * cc + i];
        norm[b] = sqrt(s) > 1e-10 ? sqrt(s) : 1e-10;
        for (size_t i = 0; i < cc; i++) g[b * cc + i] = (float)(g[b * cc + i] / norm[b]);
    }
    double sim = 0, pairs = (double)n * (n - 1);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j) continue;
            double d = 0;
            for (size_t k = 0; k < cc; k++) d += (double)g[i * cc + k] * g[j * cc + k];
            sim += d;
        }
    sim /= pairs;
    for (int i = 0; i < n; i++) {
        /* dS/dGhat_i = 2/(N(N-1)) sum_{j != i} Ghat_j; through the normalization:
         * dS/dG_i = (dGhat - Ghat <Ghat, dGhat>) / |G_i|; dS/dF_i = 2 F_i dS/dG_i (symmetric). */
        memset(dg, 0, sizeof(float) * cc);
        for (int j = 0; j < n; j++)
            if (j != i)
                for (size_t k = 0; k < cc; k++) dg[k] += g[j * cc + k];
        double dot = 0;
        for (size_t k = 0; k < cc; k++) dot += (double)dg[k] * g[i * cc + k];
        /* ascend on -S: scale by -weight */
        double f = -weight * 2.0 / pairs / norm[i];
        for (size_t k = 0; k < cc; k++) dg[k] = (float)(f * (dg[k] - dot * g[i * cc + k]));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hw, c, c, 2.0f, act + (size_t)i * hw * c, c, dg,
                    c, 1.0f, grad + (size_t)i * hw * c, c);
    }
    free(g);
    free(dg);
    free(norm);
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
