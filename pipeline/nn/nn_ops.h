/* nn_ops — the kernels of the nn engine: forward and input-gradient of each op on plain NHWC
 * float32 arrays. Internal to pipeline/nn (nn.c schedules them; the unit tests check each one
 * against finite differences). No allocation: callers pass every buffer.
 *
 * Conventions: "fwd" writes its output (overwrites); "bwd" ADDS the gradient with respect to its
 * input(s) into dx (so several consumers of a tensor can accumulate), unless it takes an `add`
 * flag and is given add=0 (then it overwrites dx, which saves zeroing it first); it may read the
 * forward input/output. Threads: big loops are split across nn_ops_threads() threads (a pthread
 * pool whose idle workers sleep); so are the GEMMs, when OpenBLAS itself runs on one thread.
 * With AVX-512 the depthwise gathers and (through nn_conv_pack) the convolutions run on
 * nn_simd.h's kernels. */
#ifndef FV_NN_OPS_H
#define FV_NN_OPS_H

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

/* A Conv2D's weights prepared once for the engine's AVX-512 products (nn_simd.h), for a model whose
 * weights do not change (a graph model's): float16 when every weight is exactly a float16 (graph
 * models store them so; half the bytes to read per pass), else float. The forward's copy is made
 * here, the transposed one for input gradients at the first nn_conv_bwd_packed. nn_conv_pack_new
 * returns NULL where those kernels are not available (nn_simd_available), or for a conv the
 * training path owns (AMX products, nn_ops_set_fast_gemm): then use nn_conv_fwd/bwd. The pack
 * copies what it needs of wt; free with nn_conv_pack_free (NULL allowed). Not thread-safe: one
 * plan's steps run one at a time. */
typedef struct nn_conv_pack nn_conv_pack;
/* A hard swish of a kernel's output written as it is stored: out (laid out as the output) =
 * (c * y) * relu6(y + a), nn_hswish_fwd's values; y is written as well. */
typedef struct nn_hswish_out {
    float *out;
    float a, c;
} nn_hswish_out;
nn_conv_pack *nn_conv_pack_new(const nn_geom *g, const float *wt);
void nn_conv_pack_free(nn_conv_pack *pk);
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
 * laid out as dx; ga, gc the hard swish's constants): nn_dwconv_bwd then nn_act_bwd or
 * nn_hswish_bwd, with their values, in one pass. Only with the AVX-512 kernels
 * (nn_ops_simd_available), for multiplier 1 and at most 64 taps. */
void nn_dwconv_bwd_gated(const nn_geom *g, const float *dy, const float *wt, float *dx, int gate, const float *gx,
                         float ga, float gc);

/* In place on y[0..n): y = act(y). */
void nn_act_fwd(int act, float *y, size_t n);
/* In place on dy[0..n): dy *= act'(.), judged from the activation's output y (y > 0 for Relu,
 * 0 < y < 6 for Relu6), which equals judging from its input. */
void nn_act_bwd(int act, const float *y, float *dy, size_t n);

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
/* da += reduce_to_ash(dy * d(y)/da), db likewise; da or db may be NULL (no gradient wanted). */
void nn_binary_bwd(int op, const int ash[4], const float *a, const int bsh[4], const float *b,
                   const int ysh[4], const float *dy, float *da, float *db);

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

/* Runs fn(ctx, lo, hi) over [0, n) split into contiguous parts (at most 4 per thread of the pool,
 * nn_ops_threads) that the threads take in turn, so one thread may run several parts and a
 * descheduled thread holds up at most one; returns when all are done. Each index is in exactly
 * one call. Kernels called inside fn run on their calling thread (no nested split). For
 * data-parallel work such as minibatch chunks. */
typedef void (*nn_par_fn)(void *ctx, int lo, int hi);
void nn_ops_parallel(int n, nn_par_fn fn, void *ctx);

/* d[0..n) = s (add 0) or += s (add 1), split across the pool. */
void nn_accumulate(float *d, const float *s, size_t n, int add);

/* Sets OpenBLAS's own thread count only (nn_set_threads sets it to 1 and the pool's to n: the
 * kernels then split each GEMM across the pool themselves; with OpenBLAS on n > 1 threads they
 * leave the threading to it). Callers that run kernels on several pool threads at once
 * (nn_ops_parallel) set it to 1 so the cores are not oversubscribed. */
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

/* Thread count of the kernels' own loops (>= 1); set by nn_set_threads. */
void nn_ops_set_threads(int n);
int nn_ops_threads(void);

#endif
