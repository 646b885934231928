/* fv_transform — random geometric transforms applied to the image at every optimization step
 * (transformation robustness), each with its backward pass (the transpose of its sampling).
 *
 * Images are float (N,H,W,3) NHWC. A chain is a list of ops applied in order; every step draws one
 * random instance of each op for the whole batch (as Lucid does on a batch tensor):
 *   pad p      : H,W grow by 2p; the border is the constant 0.5 (mid-grey, Lucid's choice) or a
 *                reflection of the image. Constant is the default: a reflection repeats the image's
 *                own features at the border, which the optimizer can then exploit twice, whereas grey
 *                is neutral content the image must stay recognisable against.
 *   jitter d   : a random crop of (H-d, W-d) at offsets drawn in 0..d (inclusive).
 *   scale {s}  : zoom by a factor drawn from a list, about the centre, bilinear, keeping the size
 *                (unlike Lucid, which resizes the tensor: a fixed size keeps one network plan for the
 *                whole run, and the feature scale the network sees changes the same way). Samples
 *                falling outside the image read the constant 0.5.
 *   rotate a..b: rotation about the centre by an angle in degrees drawn uniformly in [a, b],
 *                bilinear, same size, outside samples 0.5.
 *   canvas HxW : centres the image on a grey canvas of at least its size (not random; the renderer
 *                adds it when the network needs an input size the chain does not produce, such
 *                as a multiple of 32 for the detector head).
 * The output size of a chain is fixed: fv_transform_out_size. */
#ifndef FV_TRANSFORM_H
#define FV_TRANSFORM_H

#include "rng.h"
#include "util.h"

typedef enum fv_op_kind { FV_OP_PAD, FV_OP_JITTER, FV_OP_SCALE, FV_OP_ROTATE, FV_OP_CANVAS } fv_op_kind;

/* Most scale factors one op may list. */
#define FV_OP_MAX_SCALES 32

typedef struct fv_op {
    fv_op_kind kind;
    int amount;                       /* pad: pixels per side; jitter: d */
    int reflect;                      /* pad: 1 reflect, 0 constant 0.5 */
    int n_scales;                     /* scale: number of factors */
    double scales[FV_OP_MAX_SCALES];  /* scale: the factors (> 0) */
    double deg_min, deg_max;          /* rotate: range in degrees */
    int canvas_h, canvas_w;           /* canvas: its size (>= the image's) */
} fv_op;

typedef struct fv_transform fv_transform;

/* Builds a chain of n_ops ops (copied) for images of n x h x w x 3. *out is owned by the caller.
 * Returns 0, or -1 with e if an op is invalid or the image would shrink to nothing. */
int fv_transform_new(const fv_op *ops, int n_ops, int n, int h, int w, fv_transform **out, err *e);

/* Output size of the chain. */
void fv_transform_out_size(const fv_transform *t, int *h, int *w);

/* Draws this step's random instance of every op from rng (in op order). */
void fv_transform_sample(fv_transform *t, rng_state *rng);

/* Sets this step's instance by hand (for tests): per op, jitter offsets (oy, ox), the scale factor
 * or the angle in degrees; values of ops of other kinds are ignored. Arrays have n_ops entries. */
void fv_transform_set(fv_transform *t, const int *oy, const int *ox, const double *scale, const double *deg);

/* Applies the current instance: in (N,h,w,3) -> out (N,H',W',3), caller-allocated. Keeps the
 * intermediate images it needs for nothing (all ops are linear), so in may be freed afterwards. */
void fv_transform_forward(fv_transform *t, const float *in, float *out);

/* Transpose of the current instance: dout (N,H',W',3) -> din (N,h,w,3), overwritten. The constant
 * border and outside samples receive no gradient. */
void fv_transform_backward(fv_transform *t, const float *dout, float *din);

/* 1: the sampling takes its portable loops even where the CPU has AVX-512 (the tests compare the
 * two: the same bytes forward, the backward's sums to rounding, in another order); 0: back to the
 * default (AVX-512 where the CPU has it). Process-wide; set it while no transform runs. */
void fv_transform_set_portable(int on);

/* Frees t (NULL is fine). */
void fv_transform_free(fv_transform *t);

#endif
