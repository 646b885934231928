/* fv_opt — the feature-visualization optimization loop, independent of the network.
 *
 * One step: params -> image (fv_param) -> image objectives (l1, tv, blur) -> random transforms
 * (fv_transform) -> x = 255 * transformed image (the network takes RGB 0..255) -> the network
 * callback returns its objective and dJ/dx -> back through the transforms and the
 * parameterization -> one Adam step that *increases* J. Deterministic: all randomness comes from
 * one rng_state seeded by the configuration's seed (initial values first, then the transforms). */
#ifndef FV_OPT_H
#define FV_OPT_H

#include <stdint.h>

#include "fv_param.h"
#include "fv_transform.h"
#include "util.h"

typedef enum fv_img_kind { FV_IMG_L1, FV_IMG_TV, FV_IMG_BLUR } fv_img_kind;

/* An objective on the image itself, with one weight per batch element (n floats, copied). */
typedef struct fv_img_obj {
    fv_img_kind kind;
    const float *wts;
} fv_img_obj;

typedef struct fv_opt_config {
    fv_param_config param;
    const fv_op *ops; /* transform chain (copied), n_ops may be 0 */
    int n_ops;
    const fv_img_obj *img_objs; /* copied */
    int n_img_objs;
    double lr, beta1, beta2, eps; /* Adam */
    uint64_t seed;
} fv_opt_config;

/* The network as the loop sees it: given x (N,H,W,3, RGB 0..255) it writes dJ/dx into dx
 * (same shape) and its part of the objective into *value. Returns 0, or -1 with e. */
typedef int (*fv_net_fn)(void *ctx, const float *x, int n, int h, int w, float *dx, double *value, err *e);

typedef struct fv_opt fv_opt;

/* Creates the loop state (parameters drawn from the seed). *out owned by the caller (fv_opt_free).
 * Returns 0, or -1 with e for an invalid parameterization or transform chain. */
int fv_opt_new(const fv_opt_config *c, fv_opt **out, err *e);

/* Size of the network's input after the transforms. */
void fv_opt_net_size(const fv_opt *o, int *h, int *w);

/* Runs one step with the network callback; *value is J at the parameters before the update (network
 * part plus image objectives), img_vals (may be NULL) gets the image objectives' values
 * (n_img_objs x N, row-major). Returns 0, or -1 with the callback's error. */
int fv_opt_step(fv_opt *o, fv_net_fn net, void *ctx, double *value, double *img_vals, err *e);

/* Writes the current image (N,H,W,3, 0..1, untransformed) into img (caller-allocated). */
void fv_opt_image(fv_opt *o, float *img);

/* Frees o (NULL is fine). */
void fv_opt_free(fv_opt *o);

#endif
