/* fv_param — image parameterizations for feature visualization, with their backward passes.
 *
 * An image batch is float (N,H,W,3), RGB in 0..1, row-major NHWC. A parameterization owns a flat
 * parameter vector (what the optimizer updates) and maps it to an image:
 *   pre   = unique(n) + sum_f upsample(shared_f)    (N,H,W,3), before colour and sigmoid
 *   unique: "pixel"  - one free value per pixel and colour;
 *           "fourier"- a half spectrum per element and colour, scaled by 1/f (Lucid's fft_image:
 *                      1/max(f, 1/max(H,W)), times sqrt(HW)/(HW)/4), inverse real FFT (FFTW, float);
 *   shared_f: a (1, ceil(H/f), ceil(W/f), 3) tensor upsampled bilinearly and added to every batch
 *           element (a low-resolution part common to the batch, for interpolations);
 *   z   = M pre  when decorrelating (M: Lucid's colour matrix over its largest column norm), else pre;
 *   img = sigmoid(z).
 * Grey: every part above has one channel instead of three, and img = sigmoid(pre) copied to R, G
 * and B (for networks of grey images, which see only that value).
 * Backward maps dJ/dimg to dJ/dparams. Not thread-safe per object; separate objects may be used
 * from separate threads (FFTW planning is serialized internally). */
#ifndef FV_PARAM_H
#define FV_PARAM_H

#include <stddef.h>

#include "rng.h"
#include "util.h"

typedef enum fv_param_kind { FV_PARAM_PIXEL, FV_PARAM_FOURIER } fv_param_kind;

/* Most shared low-resolution components a parameterization may have. */
#define FV_PARAM_MAX_SHARED 8

typedef struct fv_param_config {
    fv_param_kind kind;
    int decorrelate;                     /* 1: Lucid's colour decorrelation before the sigmoid */
    int n, h, w;                         /* batch and image size (each >= 1) */
    int n_shared;                        /* number of shared low-resolution components */
    int shared[FV_PARAM_MAX_SHARED];     /* their downsampling factors (>= 1) */
    double sd;                           /* standard deviation of the initial values (Lucid: 0.01) */
    int grey;                            /* 1: one channel, copied to R, G, B (decorrelate must be 0) */
} fv_param_config;

typedef struct fv_param fv_param;

/* Creates a parameterization and draws its initial values from rng. On success *out is owned by
 * the caller (fv_param_free). Returns 0, or -1 with e for an invalid configuration. */
int fv_param_new(const fv_param_config *c, rng_state *rng, fv_param **out, err *e);

/* Number of floats in the parameter vector. */
size_t fv_param_count(const fv_param *p);

/* The parameter vector (fv_param_count floats), owned by p; the optimizer updates it in place. */
float *fv_param_values(fv_param *p);

/* The gradient dJ/dparams (fv_param_count floats) left by the last fv_param_backward; owned by p. */
const float *fv_param_grad(const fv_param *p);

/* Computes the image img (N,H,W,3, 0..1; caller-allocated) from the current parameters and
 * remembers what backward needs. */
void fv_param_forward(fv_param *p, float *img);

/* Given dimg = dJ/dimg (N,H,W,3) for the image of the last forward, overwrites the gradient. */
void fv_param_backward(fv_param *p, const float *dimg);

/* Frees p (NULL is fine). */
void fv_param_free(fv_param *p);

/* Writes Lucid's colour correlation matrix divided by its largest column norm into m
 * (rgb_i = sum_j m[i][j] * decorrelated_j). */
void fv_param_color_matrix(float m[3][3]);

#endif
