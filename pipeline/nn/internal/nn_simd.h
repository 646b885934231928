/* nn_simd — AVX-512 kernels of the nn engine: the depthwise gathers and a dense product with the
 * convolution's bias and activation fused, on weights that may be stored as float16. Internal to
 * pipeline/nn: nn_ops calls these where nn_simd_available() says yes, and its portable loops (and
 * OpenBLAS) otherwise.
 *
 * Why a product of our own beside OpenBLAS: a render multiplies small matrices (a few dozen to a
 * few thousand rows, 16 to 720 columns), where sgemm's packing, its separate bias and activation
 * passes, and for the late layers the reading of the weights themselves cost more than the
 * arithmetic. Graph models store their weights as float16 (mbv3-coco does), so holding them as
 * float16 is exact and halves the bytes read per step; they are widened in registers.
 *
 * Values. The depthwise kernels give the same bytes as nn_ops' portable ones (each channel sums
 * its taps in the same order, a multiply then an add, no FMA). The product sums each element over
 * k in ascending order with fused multiply-adds, starting from the bias (or C, or zero): its
 * result depends only on the operands, never on how the rows and columns are split across
 * threads. It differs from sgemm's in the last bits. */
#ifndef FV_NN_SIMD_H
#define FV_NN_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "nn_ops.h"

/* 1 if the CPU has AVX-512 F, VL, BW and DQ (and the OS saves their state) and the kernels are not
 * switched off (nn_simd_set_enabled(0)); decided once per process for the CPU. */
int nn_simd_available(void);

/* Switches the kernels off (0) or back on (1, where the CPU has them): the tests compare both
 * paths. Set it while no kernel runs. */
void nn_simd_set_enabled(int on);

/* As nn_ops.c's dw_pixel and dw_pair (same arguments, same values). */
void nn_simd_dw_pixel(float *out, const float *init, int C, const float *x, const float *w, const ptrdiff_t *xo,
                      const ptrdiff_t *wo, int nt);
void nn_simd_dw_pair(float *oa, float *ob, const float *ia, const float *ib, int C, const float *x, const float *w,
                     const ptrdiff_t *rows, const ptrdiff_t *wrow, int nr, int kw, ptrdiff_t step);

/* The derivative of an activation applied to a gradient as a kernel stores it (the activation's
 * own backward pass fused into its consumer's): kind NN_GATE_RELU keeps g where x > 0,
 * NN_GATE_RELU6 where 0 < x < 6 (x the activation's output), NN_GATE_HSWISH multiplies by the
 * hard swish's derivative at x (its input) with constants a, c (nn_ops.h, nn_hswish_bwd); x is
 * laid out as the kernel's output, step floats from one of its pixels to the next. The values of
 * nn_act_bwd and nn_hswish_bwd. */
enum { NN_GATE_NONE, NN_GATE_RELU, NN_GATE_RELU6, NN_GATE_HSWISH };
typedef struct nn_simd_gate {
    int kind;
    float a, c;
    const float *x;
    ptrdiff_t step;
    const uint16_t *m; /* NN_GATE_RELU(6): the Relu's mask (nn_hswish_out) read instead of x: word
                        * c / 16 of a pixel's channel c, mstep words from one pixel to the next */
    ptrdiff_t mstep;
} nn_simd_gate;

/* A hard swish of a kernel's output stored beside it: at the index of out where the kernel stores
 * value v, out holds (c * v) * relu6(v + a) (nn_hswish_fwd's values); v itself is stored as well
 * (the hard swish's backward needs it). */
typedef nn_hswish_out nn_simd_post; /* nn_ops.h */

/* A run of count pixels of a depthwise gather (multiplier 1) that share one list of taps shifted
 * by a fixed step: out[j * out_step + c] = act(init[j * init_step + c] (init NULL: 0) + the sum
 * over taps t, in list order, of x[xo[t] + j * in_step + c] * w[wo[t] + c]), c < C. The values of
 * dw_pixel on each pixel's list, then act; the interior of every row of a depthwise forward
 * (in_step = stride * C) and of its input gradient (one parity class, out_step = stride * C).
 * gt (NULL: none) is applied to each sum after act, before it is stored; pst (NULL: none, else
 * laid out as out) receives its hard swish. */
void nn_simd_dw_run(float *out, ptrdiff_t out_step, const float *init, ptrdiff_t init_step, int C, const float *x,
                    const float *w, const ptrdiff_t *xo, const ptrdiff_t *wo, int nt, ptrdiff_t in_step, int count,
                    int act, const nn_simd_gate *gt, const nn_simd_post *pst);

/* One row of col2im (without horizontal dilation): d[x0 + t] += s[ox * k + t] for output columns
 * ox < ow, x0 = start + ox * step, t < len, x0 + t inside [0, wc); the output columns in phases
 * (ox mod ceil(len / step)) so that one column's floats never overlap the previous one's (a
 * vector read just after an overlapping vector write waits for it). */
void nn_simd_add_spans(float *d, int wc, const float *s, int k, int ow, int step, int start, int len);

/* A (k, n) matrix of constant weights in the form nn_simd_gemm reads: in panels of 32 columns, each
 * k rows of 32 (zero-padded past column n), so that the product streams through a panel; float16
 * when asked for and every value is exactly a float16 (then h is set and f is NULL), else float
 * (f). exact16: every value is exactly a float16, whichever is stored. Owns its storage. */
typedef struct nn_simd_mat {
    int k, n, exact16;
    float *f;
    uint16_t *h;
} nn_simd_mat;

/* Fills m from w (k, n), row-major, transposed first if transpose (then w is (n, k)); float16 only
 * if half_ok (and every value is one). Returns 0, or -1 if memory ran out. */
int nn_simd_mat_init(nn_simd_mat *m, const float *w, int k, int n, int transpose, int half_ok);

/* Products of fewer rows than this take their weights in float16 where exact (nn_simd_mat_init's
 * half_ok): with few rows the weights' reads bound the product and half the bytes help; with
 * many, each panel is read once from memory for dozens of row tiles and the widening costs more
 * than it saves (a batch of 8 at 128 px: the late layers' 648 and 200 rows ran 5-10 % faster
 * in float on an AMD EPYC, Zen 5; batch 1's 81 and 25 rows the same either way). Either storage
 * gives the same bytes (float16 only where every weight is exact). */
#define NN_SIMD_HALF_ROWS 128
void nn_simd_mat_free(nn_simd_mat *m);

/* Rows [m0, m1) and columns [n0, n1) of C (m, b->n) = act(init + A (m, b->k) . B) + res, act
 * (nn_ops.h enum nn_act) applied before res is added; A row-major with row stride lda, C and res
 * (NULL: none; a residual connection's other operand) with ldc. init: bias[col] when bias is not
 * NULL, else C itself when beta, else 0. n0 is a multiple of 16. post (NULL: none; its out laid
 * out as C, from C's first element) receives the hard swish of each stored value. */
void nn_simd_gemm(int m0, int m1, int n0, int n1, const float *a, int lda, const nn_simd_mat *b, const float *bias,
                  int beta, int act, const float *res, const nn_simd_post *post, float *c, int ldc);

/* Output rows [r0, r1) (of n * oh) of the convolution g (dilation 1, cout <= 32) = bias (or 0) +
 * the taps summed in (ky, kx, ci) order with FMAs, then act, into y (n, oh, ow, cout): the values
 * of nn_simd_gemm on its im2col matrix. xp is the input zero-padded to (n, hp, wp, cin), the image
 * at row pt, column pl; w the HWIO weights as float. For convolutions of few input channels (the
 * first layer of an image network). */
void nn_simd_conv_direct(const nn_geom *g, int r0, int r1, const float *xp, int hp, int wp, const float *w,
                         const float *bias, int act, float *y, const nn_simd_post *post);

#endif
