/* nn_train — the engine's kernels a trainer builds a network of by hand (pipeline/fmnist): plain
 * NHWC float32 arrays, no graph, no allocation (callers pass every buffer). Public: the part of the
 * kernels (nn_ops.h, internal to pipeline/nn) that other modules may call; the rest of the engine
 * is reached through nn.h. Loops run on the common pool (pool.h; nn_set_threads sets its count).
 *
 * Conventions: "fwd" writes its output (overwrites); "bwd" ADDS the gradient with respect to its
 * input into dx, unless it takes an `add` flag and is given add=0 (then it overwrites dx, which
 * saves zeroing it first). */
#ifndef FV_NN_TRAIN_H
#define FV_NN_TRAIN_H

#include <stddef.h>

/* Activation applied after a convolution (TF fused_ops) or as an op of its own. */
enum nn_act { NN_ACT_NONE = 0, NN_ACT_RELU = 1, NN_ACT_RELU6 = 2 };

/* Geometry of a convolution-like op (Conv2D, DepthwiseConv2dNative, MaxPool): input (n,h,w,cin),
 * kernel kh x kw, strides sh,sw, dilations dh,dw, padding before the first row/column pt,pl
 * (TF SAME pads the extra row/column at the bottom/right), output (n,oh,ow,cout). */
typedef struct nn_geom {
    int n, h, w, cin;
    int oh, ow, cout;
    int kh, kw, sh, sw, dh, dw, pt, pl;
} nn_geom;

/* Fills the output size and padding of g from n,h,w,kh,kw,sh,sw,dh,dw as TF defines SAME (same=1:
 * out = ceil(in/s), total pad = max((out-1)*s + (k-1)*d + 1 - in, 0), top = total/2) or VALID
 * (same=0: out = ceil((in - (k-1)*d)/s), no pad). Returns 0, or -1 if the output would be empty. */
int nn_geom_pad(nn_geom *g, int same);

/* Floats of im2col scratch a conv with geometry g needs (0 for a 1x1 stride-1 unpadded conv,
 * which is a plain GEMM on the input). */
size_t nn_conv_col_size(const nn_geom *g);

/* Conv2D: x (n,h,w,cin), wt HWIO (kh,kw,cin,cout), bias (cout) or NULL, act applied in place,
 * y (n,oh,ow,cout); col: nn_conv_col_size(g) floats of scratch. */
void nn_conv_fwd(const nn_geom *g, const float *x, const float *wt, const float *bias, int act,
                 float *y, float *col);
/* dL/dx += conv^T(dy) (add=1), or dx = conv^T(dy) (add=0: saves zeroing dx first): dy
 * (n,oh,ow,cout) is the gradient after the activation has been undone (see nn_act_bwd), wt as
 * above, dx (n,h,w,cin); col: scratch as for forward. */
void nn_conv_bwd(const nn_geom *g, const float *dy, const float *wt, float *dx, float *col, int add);

/* In place on dy[0..n): dy *= act'(.), judged from the activation's output y (y > 0 for Relu,
 * 0 < y < 6 for Relu6), which equals judging from its input. */
void nn_act_bwd(int act, const float *y, float *dy, size_t n);

/* MaxPool (cout = cin; padded positions never win): y = max over the window; backward routes
 * dy to the first maximal input of each window (x needed). */
void nn_maxpool_fwd(const nn_geom *g, const float *x, float *y);
void nn_maxpool_bwd(const nn_geom *g, const float *x, const float *dy, float *dx);
/* As nn_maxpool_bwd into a zeroed dx, but dx need not be zeroed: it is overwritten (in one pass
 * when the windows tile the input, 2x2 stride 2 on even sizes; else zeroed, then added to).
 * relu = 1: then also nn_act_bwd(NN_ACT_RELU, x, dx) (x being a ReLU's output), in the same
 * pass where there is one; the same bytes as the two calls. */
void nn_maxpool_bwd_set(const nn_geom *g, const float *x, const float *dy, float *dx, int relu);

/* --- Training (weight gradients and loss) ---------------------------------------------------
 * nn_conv_fwd may leave im2col(x), the (n*oh*ow, kh*kw*cin) matrix it multiplied, in its col
 * scratch, for nn_conv_bwd_w; with products on AMX (nn_ops_set_fast_gemm) it multiplies without
 * forming it, and nn_conv_bwd_w reads x instead. A dense layer (MatMul) is a 1x1 conv on an
 * (n,1,1,in) tensor with weights (in, out). */

/* Weight and bias gradients of a Conv2D: x the forward's input and col the scratch nn_conv_fwd
 * had (unused for a 1x1 stride-1 unpadded conv: NULL will do), both as the forward left them;
 * dy (n,oh,ow,cout) the gradient after the activation has been undone (nn_act_bwd). dw
 * (kh,kw,cin,cout) = im2col(x)^T dy, db (cout) = sum of dy over n,oh,ow (db may be NULL); add=1
 * adds to dw/db, add=0 overwrites. One GEMM (threads split its output rows, never its sum over
 * n,oh,ow) and a bias sum in fixed row order, so the result does not depend on threads. */
void nn_conv_bwd_w(const nn_geom *g, const float *x, const float *col, const float *dy, float *dw, float *db,
                   int add);

/* Softmax cross-entropy of n rows of k logits against labels (n ints in 0..k-1): returns the sum
 * over rows of -log softmax(z)[label] (double). If dlogits is not NULL, writes (overwrites)
 * dlogits = scale * (softmax(z) - onehot(label)), the gradient of scale * that sum. */
double nn_softmax_xent(int n, int k, const float *logits, const int *labels, float scale, float *dlogits);

/* Sets OpenBLAS's own thread count only (nn_set_threads sets it to 1 and the pool's to n: the
 * kernels then split each GEMM across the pool themselves; with OpenBLAS on n > 1 threads they
 * leave the threading to it). Callers that run kernels on several pool threads at once
 * (pool_for_chunks) set it to 1 so the cores are not oversubscribed. */
void nn_ops_set_blas_threads(int n);

/* Where the dense products run. 0 (the default): OpenBLAS sgemm, float throughout. 1: on AMX
 * tiles in bf16x3 (nn_amx.h: about 1e-5 of the sum of |a||b|, 100 times float's rounding, more
 * precise than the TF32 GPUs train in) where the CPU has them, else OpenBLAS as before. Training
 * asks for 1; the renderer keeps float, whose finite-difference checks on the whole detector need
 * its precision, and whose small products AMX speeds up by only a few per cent. Process-wide; set
 * it while no kernel runs. Returns whether products now run on AMX. */
int nn_ops_set_fast_gemm(int on);
/* 1 if nn_ops_set_fast_gemm(1) would put the products on AMX. */
int nn_ops_fast_gemm_available(void);

/* Where the dense products run, for training: NN_GEMM_SGEMM (OpenBLAS, float), NN_GEMM_AMX (AMX
 * tiles, bf16x3) or NN_GEMM_BF16 (AVX512-BF16 vectors, the same bf16x3 products and precision:
 * nn_bf16.h; convolutions through their im2col matrix). nn_ops_set_gemm(path) selects path and
 * returns 0, or -1 if this CPU (or FV_NO_AMX / FV_NO_BF16) does not offer it, and then selects
 * NN_GEMM_SGEMM. Process-wide, as nn_ops_set_fast_gemm (which is nn_ops_set_gemm(NN_GEMM_AMX)
 * falling back to sgemm). nn_ops_gemm_available(path): 1 if it is offered (NN_GEMM_SGEMM
 * always); nn_ops_gemm_best(): AMX where offered, else AVX512-BF16, else sgemm. */
enum nn_gemm { NN_GEMM_SGEMM = 0, NN_GEMM_AMX = 1, NN_GEMM_BF16 = 2 };
int nn_ops_set_gemm(int path);
int nn_ops_gemm_available(int path);
int nn_ops_gemm_best(void);

#endif
