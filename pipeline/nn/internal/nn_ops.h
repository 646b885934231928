/* nn_ops — the kernels of the nn engine: forward and input-gradient of each op on plain NHWC
 * float32 arrays. Internal to pipeline/nn (nn_plan.c and nn_exec.c schedule them; the unit
 * tests check each one against finite differences). No allocation: callers pass every buffer.
 *
 * Conventions: "fwd" writes its output (overwrites); "bwd" ADDS the gradient with respect to its
 * input(s) into dx (so several consumers of a tensor can accumulate), unless it takes an `add`
 * flag and is given add=0 (then it overwrites dx, which saves zeroing it first); it may read the
 * forward input/output. Threads: big loops are split across the common pool (pool.h, whose idle
 * workers sleep); so are the GEMMs, when OpenBLAS itself runs on one thread.
 * With AVX-512 the depthwise gathers and (through nn_conv_pack) the convolutions run on
 * nn_simd.h's kernels. */
#ifndef FV_NN_OPS_H
#define FV_NN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn_train.h"

/* A Conv2D's weights prepared once for the engine's AVX-512 products (nn_simd.h), for a model whose
 * weights do not change (a graph model's): float16 when every weight is exactly a float16 (graph
 * models store them so; half the bytes to read per pass), else float. The forward's copy is made
 * here, the transposed one for input gradients at the first nn_conv_bwd_packed. nn_conv_pack_new
 * returns NULL where those kernels are not available (nn_simd_available), or for a conv the
 * training path owns (AMX products, nn_ops_set_fast_gemm): then use nn_conv_fwd/bwd. The pack
 * copies what it needs of wt; free with nn_conv_pack_free (NULL allowed). Not thread-safe: one
 * plan's steps run one at a time. */
typedef struct nn_conv_pack nn_conv_pack;
/* What a kernel writes beside its output y as it stores it. out (NULL: nothing; laid out as y):
 * the hard swish of y, (c * y) * relu6(y + a), nn_hswish_fwd's values. mask (NULL: nothing;
 * nn_conv_fwd_packed only, the depthwise forward ignores it): the sign of y for a Relu's
 * backward, bit c % 16 of mask[p * mask_w + c / 16] set where channel c of pixel p is > 0
 * (mask_relu6: and < 6), mask_w = (channels + 15) / 16 words a pixel: the one thing a Relu's
 * derivative reads, a thirty-second of y's bytes. */
typedef struct nn_hswish_out {
    float *out;
    float a, c;
    uint16_t *mask;
    int mask_w, mask_relu6;
} nn_hswish_out;
nn_conv_pack *nn_conv_pack_new(const nn_geom *g, const float *wt);
void nn_conv_pack_free(nn_conv_pack *pk);
/* 1 if pk's weights are all exactly float16 values (whether they are stored as float16 or, for a
 * product of many rows, as float: NN_SIMD_HALF_ROWS), 0 if not. */
int nn_conv_pack_half(const nn_conv_pack *pk);
/* Where the dense products run now: enum nn_gemm (nn_ops_set_gemm / nn_ops_set_fast_gemm). */
int nn_ops_gemm(void);
/* As nn_conv_fwd and nn_conv_bwd, with the weights pk was made from. Values differ from
 * nn_conv_fwd's in the last bits (FMA sums in k order; see nn_simd.h), never with the threads.
 * res (NULL: none), the shape of y, is added to the result after act: a residual Add fused into
 * the convolution (y = conv(x) + res, rounded as the two ops are). hs (NULL: none): see
 * nn_hswish_out. */
void nn_conv_fwd_packed(const nn_geom *g, const nn_conv_pack *pk, const float *x, const float *bias, int act,
                        const float *res, float *y, float *col, const nn_hswish_out *hs);
void nn_conv_bwd_packed(const nn_geom *g, nn_conv_pack *pk, const float *dy, float *dx, float *col, int add);

/* Switches the AVX-512 kernels (nn_simd.h) off (0) or back on (1, where the CPU has them), for
 * tests that compare them with the portable loops. Set it while no kernel runs; packs made while
 * they were on must not be used while they are off. */
void nn_ops_set_simd(int on);
/* 1 if the AVX-512 kernels run (the CPU has them and nn_ops_set_simd did not switch them off). */
int nn_ops_simd_available(void);

/* DepthwiseConv2dNative: x (n,h,w,cin), wt (kh,kw,cin,mult), cout = cin*mult (output channel
 * c*mult+m), bias (cout) or NULL, act in place, y (n,oh,ow,cout). */
void nn_dwconv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                   float *y);
/* dx (n,h,w,cin) += depthwise^T(dy (n,oh,ow,cout)) (add=1), or = (add=0). */
void nn_dwconv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, int add);

/* nn_dwconv_fwd that also writes the hard swish of its output (nn_hswish_out; hs not NULL). Only
 * with the AVX-512 kernels, for multiplier 1. */
void nn_dwconv_fwd_hs(const nn_geom *g, const float *x, const float *wt, const float *bias, int act, float *y,
                      const nn_hswish_out *hs);

/* nn_dwconv_bwd into dx (overwritten), each value then through the derivative of the activation
 * that made the conv's input (gate: nn_simd.h's NN_GATE_*, gx its values as NN_GATE_* reads them,
 * laid out as dx; or for a Relu, gmask not NULL: its nn_hswish_out mask, read instead of gx; ga,
 * gc the hard swish's constants): nn_dwconv_bwd then nn_act_bwd or nn_hswish_bwd, with their
 * values, in one pass. Only with the AVX-512 kernels
 * (nn_ops_simd_available), for multiplier 1 and at most 64 taps. */
void nn_dwconv_bwd_gated(const nn_geom *g, const float *dy, const float *wt, float *dx, int gate, const float *gx,
                         const uint16_t *gmask, float ga, float gc);

/* In place on y[0..n): y = act(y). */
void nn_act_fwd(int act, float *y, size_t n);

/* Relu/Relu6 as an op: y = act(x) over n elements; dx += dy * act'(x) (add=1), or dx = that
 * (add=0: saves zeroing dx first). */
void nn_relu_fwd(int act, const float *x, float *y, size_t n);
void nn_relu_bwd(int act, const float *x, const float *dy, float *dx, size_t n, int add);

/* Hard swish as MobileNetV3 graphs spell it, Mul(Mul(c, x), Relu6(Add(x, a))) with scalars c
 * (1/6) and a (3): y = (c*x) * relu6(x + a) over n elements, in that order of operations, so it
 * equals the four ops bit for bit. Backward: dx += dy * (c*relu6(x+a) + c*x*[0 < x+a < 6])
 * (add=1), or dx = that (add=0). */
void nn_hswish_fwd(float a, float c, const float *x, float *y, size_t n);
void nn_hswish_bwd(float a, float c, const float *x, const float *dy, float *dx, size_t n, int add);

/* Sigmoid: y = 1/(1+exp(-x)); dx += dy * y * (1-y). */
void nn_sigmoid_fwd(const float *x, float *y, size_t n);
void nn_sigmoid_bwd(const float *y, const float *dy, float *dx, size_t n);

/* Elementwise binary op with numpy/TF broadcasting of 4-D shapes (a dimension of 1 broadcasts):
 * a (ash), b (bsh), y (ysh, the broadcast shape). op: 0 Add, 1 Mul. */
enum nn_binop { NN_ADD = 0, NN_MUL = 1 };
void nn_binary_fwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], float *y);
/* da += reduce_to_ash(dy * d(y)/da), db likewise; da or db may be NULL (no gradient wanted).
 * da_set: da is overwritten instead (what it held is never read: the executor then skips zeroing
 * it), in the same pass where a is dy's shape. */
void nn_binary_bwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], const float *dy, float *da, float *db, int da_set);

/* Mean over H and W with keep_dims: x (n,h,w,c) -> y (n,1,1,c); dx += dy / (h*w). */
void nn_mean_hw_fwd(int n, int h, int w, int c, const float *x, float *y);
void nn_mean_hw_bwd(int n, int h, int w, int c, const float *dy, float *dx);

/* ConcatV2 on the channel axis: k inputs xs[i] (rows, cs[i]) -> y (rows, sum cs) where rows =
 * n*h*w; backward: dxs[i] (NULL: skip) += the matching channel slice of dy. */
void nn_concat_fwd(int k, const float *const *xs, const int *cs, size_t rows, float *y);
void nn_concat_bwd(int k, float *const *dxs, const int *cs, size_t rows, const float *dy);

/* ResizeBilinear x (n,h,w,c) -> y (n,oh,ow,c) with TF's coordinate rules: align_corners
 * (scale (in-1)/(out-1)), half_pixel_centers ((o+0.5)*scale-0.5), or the legacy default
 * (o*scale, scale = in/out). Backward scatters dy into dx with the same weights. */
void nn_resize_fwd(int n, int h, int w, int c, const float *x, int oh, int ow, int align_corners,
                   int half_pixel, float *y);
void nn_resize_bwd(int n, int h, int w, int c, float *dx, int oh, int ow, int align_corners,
                   int half_pixel, const float *dy);

/* d[0..n) = s (add 0) or += s (add 1), split across the pool. */
void nn_accumulate(float *d, const float *s, size_t n, int add);


#endif
