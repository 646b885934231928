/* nn_kern — what the kernel files of the nn engine (nn_conv.c, nn_dwconv.c, nn_eltwise.c,
 * nn_pool2d.c, nn_loss.c) share: how they are compiled, the row functions' context and the
 * register-blocked vector type. Private to those files, which include it first (the pragma must
 * come before any function they compile, those of the headers included after it too).
 *
 * The build's -O2 uses gcc's "very cheap" vectorizer cost model, which leaves every kernel loop
 * whose trip count (the channel count) is not a known multiple of the vector width scalar; the
 * dynamic model vectorizes them (1.6x faster renders by itself). no-trapping-math lets gcc
 * evaluate both comparisons of a Relu6 mask unconditionally (so masked loops vectorize);
 * nothing here reads FP exception flags. No -ffast-math: no reassociation, so the values are
 * those of the scalar code. */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")
#ifndef FV_NN_KERN_H
#define FV_NN_KERN_H

#include <stddef.h>
#include <string.h>

#include "nn_ops.h"
#include "nn_simd.h"

/* Loops that gcc vectorizes on their own, cloned for AVX-512 and AVX2 besides the baseline (the
 * loader picks one, as for ssim.c's): the same bytes on each, since lanes are independent and
 * -std=c11 forbids contracting a * b + c into an FMA. Not under clang (the fuzz build links this
 * file only for its symbols). */
#if defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDE
#endif

/* Context of the row functions below: one struct for all kernels, fields used as each needs. */
typedef struct kc {
    const nn_geom *g;
    const float *x, *w, *b, *a2;
    float *y;
    int act, op, h, w_, c, oh, ow, align, half, add;
    float fa, fc; /* hard swish constants */
    size_t sa[4], sb[4], sd[4];
    const int *ysh;
    nn_simd_gate gate; /* the depthwise input gradient's fused activation derivative (x: tensor base) */
    const nn_hswish_out *hs; /* the depthwise forward's fused hard swish (out: tensor base) */
} kc;

/* The gathers (depthwise convolution, col2im) keep a block of channels in registers across all
 * taps (gcc's own vectorizer would load and store the output once per tap): v4 is 4 floats,
 * gcc's generic vector type (one SSE register on x86-64, so 8 accumulators and their operands
 * fit the 16 registers; wider generic vectors spill there), loaded and stored with memcpy
 * (unaligned, no aliasing question). A pixel's channels go in blocks of 32, then 4, then one at
 * a time. */
typedef float v4 __attribute__((vector_size(16)));
#define LD4(v, p) memcpy(&(v), (p), sizeof(v4))
#define ST4(p, v) memcpy((p), &(v), sizeof(v4))

/* Most taps a kernel may have for the register-blocked gathers (7x7 = 49); larger kernels take
 * the plain loops. */
#define DW_MAXT 64

/* The output index o whose kernel tap t reaches input index i along one axis (o * s - pad + t * d
 * == i, 0 <= o < on), or -1 if there is none: a gather's tap test. */
static inline int nn_tap_out(int i, int pad, int t, int d, int s, int on)
{
    int u = i + pad - t * d;
    if (u < 0 || u % s || u / s >= on) return -1;
    return u / s;
}

/* For an input index i in [i0, i0 + len) of a gather along one axis (col2im, a depthwise input
 * gradient), the cnt[i - i0] kernel taps t in ascending order, with their output index o, such
 * that o * s - pad + t * d == i and 0 <= o < on: pair j at tk[(i - i0) * kn + j], to[...].
 * Listed once per call instead of once per pixel (the per-pixel search divided by the stride at
 * every tap, which cost more than the sums). */
void nn_axis_taps(int i0, int len, int pad, int kn, int d, int s, int on, int *cnt, int *tk, int *to);
/* The x-axis taps of every input column of g, for a gather: three arrays in one allocation (free
 * *cnt when done). */
void nn_x_taps(const nn_geom *g, int **cnt, int **tk, int **to);

#endif
