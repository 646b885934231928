/* nn_amx — single-precision matrix products on Intel AMX tiles (Sapphire Rapids and later), at
 * nearly single precision. Internal to pipeline/nn: nn_ops routes its GEMMs here when the CPU and
 * the kernel allow it, and to OpenBLAS otherwise.
 *
 * AMX multiplies bfloat16 (8-bit mantissa) into float sums. Each float x is split into two
 * bfloat16, hi = bf16(x) and lo = bf16(x - hi), so that hi + lo carries 16 bits of mantissa, and
 * a.b is computed as hi(a).hi(b) + hi(a).lo(b) + lo(a).hi(b) (the "bf16x3" product; the lo.lo term,
 * 2^-16 of the product, is left out). The relative error of a sum of products is then about 1e-5
 * of the sum of their magnitudes, against 6e-8 for float: far below what the tests and pictures
 * can tell (activations to 1e-3, gradients by finite differences), at three tile products a step.
 *
 * Results depend only on the sizes (blocking is fixed), never on the thread count or on timing.
 * Each call runs on its calling thread; nn_ops splits a product across its pool. */
#ifndef FV_NN_AMX_H
#define FV_NN_AMX_H

#include "nn_ops.h"

/* 1 if products may run here: the CPU has AMX-TILE, AMX-BF16 and AVX-512 (F, BW, VL, BF16), the
 * kernel lets this process use the tile registers (arch_prctl ARCH_REQ_XCOMP_PERM), and the
 * environment does not set FV_NO_AMX to a value other than "" or "0" (valgrind, for one, does not
 * know these instructions; `make leakcheck` sets it). Decided once per process; thread-safe. */
int nn_amx_available(void);

/* Row-major C (m, n) = op(A) (m, k) . op(B) (k, n) + beta * C, as cblas_sgemm with alpha 1 and
 * beta 0 or 1: ta = 0: A is (m, k) with row stride lda; ta = 1: A is stored transposed, (k, m);
 * likewise tb for B, (k, n) or (n, k). Only after nn_amx_available() returned 1. The scratch it
 * packs the operands into is per thread, kept for the thread's next call (at most a few MB). */
void nn_amx_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc);

/* --- Convolutions without their im2col matrix ------------------------------------------------
 * The im2col matrix of a convolution input (nn_ops.h: row = output position, column = tap and
 * input channel) is read from the input as it is packed, never stored: no im2col pass, no
 * col2im pass, and the packing reads an input that fits in cache instead of a matrix kh * kw times
 * its size. */

/* 1 if nn_amx_conv_fwd and nn_amx_conv_wgrad take g: cin a multiple of 16 (16 columns of the
 * im2col then lie in one tap), and not a 1x1 stride-1 unpadded conv (a plain product). */
int nn_amx_conv_implicit(const nn_geom *g);
/* 1 if nn_amx_conv_bwd takes g: stride and dilation 1, cout a multiple of 16, not a plain 1x1. */
int nn_amx_conv_bwd_implicit(const nn_geom *g);

/* A convolution prepared for nn_amx_conv_rows: its input converted once (to bf16, zero-padded),
 * in the calling thread's scratch until that thread's next nn_amx_conv_* call; other threads may
 * read it meanwhile (nn_amx_conv_rows on row blocks in parallel). */
typedef struct nn_amx_conv nn_amx_conv;

/* The forward of g on x. */
const nn_amx_conv *nn_amx_conv_prepare(const nn_geom *g, const float *x);
/* The input gradient of g: the convolution of dy with the flipped, transposed weights w (kh, kw,
 * cin, cout), output (n, h, w, cin). */
const nn_amx_conv *nn_amx_conv_bwd_prepare(const nn_geom *g, const float *dy, const float *w);

/* Rows [m0, m1) (output positions) of the prepared convolution, into c (row m0's first element)
 * with row stride ldc, + beta * c. For a forward: the (n * oh * ow, ncols) product im2col(x) . W,
 * W (kh * kw * cin, ncols) with row stride ldw (ncols <= cout: a block of W's columns). For an
 * input gradient w, ldw and ncols are ignored: all cin columns. bias (ncols floats; only with beta
 * 0) or NULL: the sums start from it; act (nn_ops.h enum nn_act) is applied to the result. Where
 * the A tiles can be read in place (m0 and m1 at output rows, stride 1, cin % 32 == 0) they are,
 * and the bias and activation are applied on the tiles; the numbers are the same either way. */
void nn_amx_conv_rows(const nn_amx_conv *cv, int m0, int m1, const float *w, int ldw, int ncols, float beta,
                      float *c, int ldc, const float *bias, int act);

/* dW (kh * kw * cin, cout) = im2col(x)^T dy + beta * dW. With stride and dilation 1 and an even
 * output width, the im2col is never packed: its tiles are read from the input, converted per
 * image into pairs of positions. */
void nn_amx_conv_wgrad(const nn_geom *g, const float *x, const float *dy, float beta, float *dw);

/* --- Convolutions of one input channel ---------------------------------------------------------
 * A first layer on grey images (fmnist-cnn's conv1: 3 x 3, cin 1) is too thin for tiles (its
 * depth kh * kw is 9) and for a GEMM (an im2col of 9 columns, then a product of depth 9): these
 * compute it directly on AVX-512 vectors, in float (no bf16), each output channel's sum in tap
 * order. Same conditions as nn_amx_gemm (nn_amx_available). */

/* 1 if g is such a convolution: cin 1, cout a multiple of 16, stride and dilation 1, at most 9
 * taps. */
int nn_amx_conv1_ok(const nn_geom *g);

/* y of images [n0, n1): act(bias + sum over taps of x . w), w (kh, kw, 1, cout); bias may be NULL. */
void nn_amx_conv1_fwd(const nn_geom *g, int n0, int n1, const float *x, const float *w, const float *bias, int act,
                      float *y);

/* dW (kh, kw, 1, cout) = im2col(x)^T dy + beta * dW, summed over positions in order. */
void nn_amx_conv1_wgrad(const nn_geom *g, const float *x, const float *dy, float beta, float *dw);

#endif
