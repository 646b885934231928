/* nn_eltwise — elementwise kernels (see nn_ops.h): activations and their derivatives, hard swish,
 * sigmoid, broadcasting Add/Mul forward and backward, and the gradient accumulation of tensors
 * with several consumers; split across the common pool (pool.h). */
#include "nn_kern.h"

#include "pool.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Elementwise ops over [lo, hi) of flat arrays; k->op selects which (EW_*). */
enum { EW_ACT_BWD, EW_RELU_FWD, EW_RELU_BWD, EW_SIG_FWD, EW_SIG_BWD, EW_HSW_FWD, EW_HSW_BWD };

WIDE static void ew_rows(void *vc, int lo, int hi)
{
    const kc *k = vc;
    const float *restrict x = k->x, *restrict a2 = k->a2;
    float *restrict y = k->y;
    int six = k->act == NN_ACT_RELU6;
    switch (k->op) {
    case EW_ACT_BWD: /* y: dy in place, x: activation output */
        if (six)
            for (int i = lo; i < hi; i++) y[i] = ((x[i] > 0.0f) & (x[i] < 6.0f)) ? y[i] : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? y[i] : 0.0f;
        break;
    case EW_RELU_FWD:
        if (six)
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
        else
            for (int i = lo; i < hi; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case EW_RELU_BWD: { /* x: forward input, a2: dy, y: dx */
        /* every load unconditional, & rather than &&, and the mode tests outside the loops:
         * branch-free loops, which gcc vectorizes */
        float hi6 = six ? 6.0f : INFINITY;
        if (k->add)
            for (int i = lo; i < hi; i++) {
                float v = x[i], g = a2[i];
                y[i] += ((v > 0.0f) & (v < hi6)) ? g : 0.0f;
            }
        else
            for (int i = lo; i < hi; i++) {
                float v = x[i], g = a2[i];
                y[i] = ((v > 0.0f) & (v < hi6)) ? g : 0.0f;
            }
        break;
    }
    case EW_HSW_FWD: { /* the graph's order of operations: (c*x) * relu6(x + a) */
        float a = k->fa, c = k->fc;
        for (int i = lo; i < hi; i++) {
            float t = x[i] + a;
            t = t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f;
            y[i] = (c * x[i]) * t;
        }
        break;
    }
    case EW_HSW_BWD: { /* x: forward input, a2: dy, y: dx; branch-free as for EW_RELU_BWD */
        float a = k->fa, c = k->fc;
#define HSW_D                                                                                    \
    float v = x[i], g = a2[i], t = v + a;                                                          \
    float r = t > 0.0f ? (t < 6.0f ? t : 6.0f) : 0.0f, cv = c * v;                              \
    float d = g * (c * r + (((t > 0.0f) & (t < 6.0f)) ? cv : 0.0f));
        if (k->add)
            for (int i = lo; i < hi; i++) {
                HSW_D
                y[i] += d;
            }
        else
            for (int i = lo; i < hi; i++) {
                HSW_D
                y[i] = d;
            }
#undef HSW_D
        break;
    }
    case EW_SIG_FWD:
        for (int i = lo; i < hi; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case EW_SIG_BWD: /* x: forward output, a2: dy, y: dx */
        for (int i = lo; i < hi; i++) y[i] += a2[i] * x[i] * (1.0f - x[i]);
        break;
    }
}

static void ew(int op, int act, const float *x, const float *a2, float *y, size_t n)
{
    kc k = {.op = op, .act = act, .x = x, .a2 = a2, .y = y, .add = 1};
    pool_for((int)n, op == EW_SIG_FWD ? 8 * n : n, ew_rows, &k); /* expf costs ~8 loads */
}

void nn_act_fwd(int act, float *y, size_t n)
{
    if (act != NN_ACT_NONE) ew(EW_RELU_FWD, act, y, NULL, y, n);
}

void nn_act_bwd(int act, const float *y, float *dy, size_t n)
{
    if (act != NN_ACT_NONE) ew(EW_ACT_BWD, act, y, NULL, dy, n);
}

void nn_relu_fwd(int act, const float *x, float *y, size_t n) { ew(EW_RELU_FWD, act, x, NULL, y, n); }
void nn_relu_bwd(int act, const float *x, const float *dy, float *dx, size_t n, int add)
{
    kc k = {.op = EW_RELU_BWD, .act = act, .x = x, .a2 = dy, .y = dx, .add = add};
    pool_for((int)n, n, ew_rows, &k);
}

void nn_hswish_fwd(float a, float c, const float *x, float *y, size_t n)
{
    kc k = {.op = EW_HSW_FWD, .x = x, .y = y, .fa = a, .fc = c};
    pool_for((int)n, n, ew_rows, &k);
}

void nn_hswish_bwd(float a, float c, const float *x, const float *dy, float *dx, size_t n, int add)
{
    kc k = {.op = EW_HSW_BWD, .x = x, .a2 = dy, .y = dx, .fa = a, .fc = c, .add = add};
    pool_for((int)n, n, ew_rows, &k);
}
void nn_sigmoid_fwd(const float *x, float *y, size_t n) { ew(EW_SIG_FWD, 0, x, NULL, y, n); }
void nn_sigmoid_bwd(const float *y, const float *dy, float *dx, size_t n) { ew(EW_SIG_BWD, 0, y, dy, dx, n); }

/* Element strides of a tensor of shape sh read under broadcast shape ysh: 0 where it repeats. */
static void bstrides(const int sh[4], const int ysh[4], size_t st[4])
{
    size_t s = 1;
    for (int d = 3; d >= 0; d--) {
        st[d] = (sh[d] == 1 && ysh[d] != 1) ? 0 : s;
        s *= (size_t)sh[d];
    }
}

/* Binary forward, rows n*h*w of the output; x = a, a2 = b. */
WIDE static void bin_fwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const int *ysh = k->ysh;
    const size_t *sa = k->sa, *sb = k->sb;
    int C = ysh[3], mul = k->op == NN_MUL;
    for (int r = r0; r < r1; r++) {
        int n = r / (ysh[1] * ysh[2]), h = (r / ysh[2]) % ysh[1], w = r % ysh[2];
        const float *restrict pa = k->x + n * sa[0] + h * sa[1] + w * sa[2];
        const float *restrict pb = k->a2 + n * sb[0] + h * sb[1] + w * sb[2];
        float *restrict o = k->y + (size_t)r * C;
        /* the channel-stride cases each get a loop gcc can vectorize */
        if (sa[3] && sb[3]) {
            if (mul)
                for (int c = 0; c < C; c++) o[c] = pa[c] * pb[c];
            else
                for (int c = 0; c < C; c++) o[c] = pa[c] + pb[c];
        } else if (sa[3]) {
            float v = pb[0];
            if (mul)
                for (int c = 0; c < C; c++) o[c] = pa[c] * v;
            else
                for (int c = 0; c < C; c++) o[c] = pa[c] + v;
        } else if (sb[3]) {
            float v = pa[0];
            if (mul)
                for (int c = 0; c < C; c++) o[c] = v * pb[c];
            else
                for (int c = 0; c < C; c++) o[c] = v + pb[c];
        } else {
            float v = mul ? pa[0] * pb[0] : pa[0] + pb[0];
            for (int c = 0; c < C; c++) o[c] = v;
        }
    }
}

void nn_binary_fwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], float *y)
{
    kc k = {.op = op, .x = a, .a2 = b, .y = y, .ysh = ysh};
    bstrides(ash, ysh, k.sa);
    bstrides(bsh, ysh, k.sb);
    int rows = ysh[0] * ysh[1] * ysh[2];
    pool_for(rows, (size_t)rows * ysh[3], bin_fwd_rows, &k);
}

/* d (strides sd) += dy * other (x, strides sa; NULL: 1) for output rows [r0, r1). Callers split
 * rows across threads only where no two rows write the same element of d. */
WIDE static void bin_bwd_rows(void *vc, int r0, int r1)
{
    const kc *k = vc;
    const int *ysh = k->ysh;
    const size_t *sd = k->sd, *so = k->sa;
    int C = ysh[3];
    for (int r = r0; r < r1; r++) {
        int n = r / (ysh[1] * ysh[2]), h = (r / ysh[2]) % ysh[1], w = r % ysh[2];
        float *restrict pd = k->y + n * sd[0] + h * sd[1] + w * sd[2];
        const float *restrict g = k->a2 + (size_t)r * C;
        const float *restrict po = k->x ? k->x + n * so[0] + h * so[1] + w * so[2] : NULL;
        if (sd[3] && po && so[3])
            for (int c = 0; c < C; c++) pd[c] += g[c] * po[c];
        else if (sd[3] && po) {
            float v = po[0];
            for (int c = 0; c < C; c++) pd[c] += g[c] * v;
        } else if (sd[3])
            for (int c = 0; c < C; c++) pd[c] += g[c];
        else {
            float s = 0.0f;
            if (po && so[3])
                for (int c = 0; c < C; c++) s += g[c] * po[c];
            else
                for (int c = 0; c < C; c++) s += g[c];
            pd[0] += s * (po && !so[3] ? po[0] : 1.0f);
        }
    }
}

/* Rows of one image (n) for the per-image split: d broadcast over h and w. */
static void bin_bwd_images(void *vc, int n0, int n1)
{
    const kc *k = vc;
    int hw = k->ysh[1] * k->ysh[2];
    for (int n = n0; n < n1; n++) bin_bwd_rows(vc, n * hw, (n + 1) * hw);
}

/* Reductions over h and w (a gradient broadcast over an image, a mean) split by image rows: each
 * row's sum into its own partial (rows_partial), the partials then summed in row order
 * (rows_combine). The rows are fixed by the shape, so the sums do not depend on the threads (a row
 * at a time also keeps each thread on the rows it computed in the layer before). */
typedef struct rowsum_job {
    const kc *k; /* bin_bwd_rows' context */
    float *part; /* (n * h, cw) partials */
    int cw, w;
} rowsum_job;

static void bin_bwd_rowsum(void *vj, int r0, int r1)
{
    const rowsum_job *j = vj;
    for (int r = r0; r < r1; r++) {
        kc k = *j->k;
        k.y = j->part + (size_t)r * j->cw;
        k.sd[0] = k.sd[1] = k.sd[2] = 0; /* every pixel of the row into its partial */
        memset(k.y, 0, sizeof(float) * j->cw);
        bin_bwd_rows(&k, r * j->w, (r + 1) * j->w);
    }
}

static void binary_bwd_one(const int dsh[4], float *d, const int ysh[4], const float *dy,
                           const float *other, const size_t so[4])
{
    kc k = {.y = d, .a2 = dy, .x = other, .ysh = ysh};
    bstrides(dsh, ysh, k.sd);
    memcpy(k.sa, so, sizeof k.sa);
    int rows = ysh[0] * ysh[1] * ysh[2];
    size_t work = (size_t)rows * ysh[3];
    const size_t *sd = k.sd;
    int rows_disjoint = (sd[0] || ysh[0] == 1) && (sd[1] || ysh[1] == 1) && (sd[2] || ysh[2] == 1);
    int images_disjoint = sd[0] || ysh[0] == 1;
    if (rows_disjoint)
        pool_for(rows, work, bin_bwd_rows, &k);
    else if (images_disjoint && !sd[1] && !sd[2]) { /* e.g. the squeeze-excite scale (n,1,1,c) */
        int cw = sd[3] ? ysh[3] : 1, nr = ysh[0] * ysh[1];
        rowsum_job j = {&k, xmalloc(sizeof(float) * (size_t)nr * cw), cw, ysh[2]};
        pool_for(nr, work, bin_bwd_rowsum, &j);
        for (int n = 0; n < ysh[0]; n++) {
            float *restrict pd = d + n * sd[0];
            for (int y = 0; y < ysh[1]; y++) {
                const float *restrict pp = j.part + ((size_t)n * ysh[1] + y) * cw;
                for (int c = 0; c < cw; c++) pd[c] += pp[c];
            }
        }
        free(j.part);
    } else if (images_disjoint)
        pool_for(ysh[0], work, bin_bwd_images, &k);
    else
        bin_bwd_rows(&k, 0, rows);
}

/* The squeeze-excite scale's backward, y = x * s with s (n,1,1,c): dx += dy * s and the row
 * partials of ds = sum dy * x, in one pass over dy (binary_bwd_one twice would read it twice);
 * the same values as the two passes. Rows n*h. */
typedef struct se_bwd_job {
    const float *x, *s, *dy;
    float *dx, *part;
    int h, w, c, set; /* set: dx = rather than += (nn_binary_bwd's da_set) */
} se_bwd_job;

WIDE static void se_bwd_rows(void *vj, int r0, int r1)
{
    const se_bwd_job *j = vj;
    int C = j->c;
    for (int r = r0; r < r1; r++) {
        const float *restrict sc = j->s + (size_t)(r / j->h) * C;
        float *restrict pp = j->part + (size_t)r * C;
        memset(pp, 0, sizeof(float) * C);
        for (int i = 0; i < j->w; i++) {
            size_t off = ((size_t)r * j->w + i) * C;
            const float *restrict g = j->dy + off, *restrict xv = j->x + off;
            float *restrict d = j->dx + off;
            if (j->set)
                for (int c = 0; c < C; c++) {
                    d[c] = g[c] * sc[c];
                    pp[c] += g[c] * xv[c];
                }
            else
                for (int c = 0; c < C; c++) {
                    d[c] += g[c] * sc[c];
                    pp[c] += g[c] * xv[c];
                }
        }
    }
}

void nn_binary_bwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], const float *dy, float *da, float *db, int da_set)
{
    if (op == NN_MUL && da && db && ash[0] == ysh[0] && ash[1] == ysh[1] && ash[2] == ysh[2] && ash[3] == ysh[3] &&
        bsh[0] == ysh[0] && bsh[1] == 1 && bsh[2] == 1 && bsh[3] == ysh[3] && ysh[1] * ysh[2] > 1) {
        int nr = ysh[0] * ysh[1], C = ysh[3];
        se_bwd_job j = {a, b, dy, da, xmalloc(sizeof(float) * (size_t)nr * C), ysh[1], ysh[2], C, da_set};
        pool_for(nr, (size_t)nr * ysh[2] * C, se_bwd_rows, &j);
        for (int n = 0; n < ysh[0]; n++) {
            float *restrict pd = db + (size_t)n * C;
            for (int y = 0; y < ysh[1]; y++) {
                const float *restrict pp = j.part + ((size_t)n * ysh[1] + y) * C;
                for (int c = 0; c < C; c++) pd[c] += pp[c];
            }
        }
        free(j.part);
        return;
    }
    size_t sa[4], sb[4];
    bstrides(ash, ysh, sa);
    bstrides(bsh, ysh, sb);
    if (da && da_set) memset(da, 0, sizeof(float) * (size_t)ash[0] * ash[1] * ash[2] * ash[3]);
    if (da) binary_bwd_one(ash, da, ysh, dy, op == NN_MUL ? b : NULL, sb);
    if (db) binary_bwd_one(bsh, db, ysh, dy, op == NN_MUL ? a : NULL, sa);
}

typedef struct acc_job {
    float *d;
    const float *s;
    int add;
} acc_job;

#define ACC_BLOCK 2048 /* floats per item of nn_accumulate */

static void acc_items(void *vj, int i0, int i1)
{
    const acc_job *j = vj;
    float *restrict d = j->d + (size_t)i0 * ACC_BLOCK;
    const float *restrict s = j->s + (size_t)i0 * ACC_BLOCK;
    size_t n = (size_t)(i1 - i0) * ACC_BLOCK;
    if (j->add)
        for (size_t i = 0; i < n; i++) d[i] += s[i];
    else
        memcpy(d, s, sizeof(float) * n);
}

void nn_accumulate(float *d, const float *s, size_t n, int add)
{
    acc_job j = {d, s, add};
    size_t blocks = n / ACC_BLOCK, tail = blocks * ACC_BLOCK;
    pool_for((int)blocks, n, acc_items, &j);
    if (add)
        for (size_t i = tail; i < n; i++) d[i] += s[i];
    else
        memcpy(d + tail, s + tail, sizeof(float) * (n - tail));
}
