/* fv_objective — the quantities feature visualization maximizes, each with its gradient.
 *
 * Activation objectives read a layer's activations act (N,H,W,C) NHWC; image objectives read the
 * image img (N,H,W,3) in 0..1. Each per-element objective computes f_n for every batch element and
 * adds wts[n] * df_n/d(input) to grad (+=; an element with wts[n] == 0 is skipped and gets value 0).
 * The optimizer maximizes sum_k sum_n wts_k[n] * f_kn, so a negative weight minimizes.
 * Penalties (l1, tv, blur, diversity) are returned as minus the penalty: a positive weight lowers it.
 * Means are used throughout (not Lucid's sums), so weights do not depend on the image size. */
#ifndef FV_OBJECTIVE_H
#define FV_OBJECTIVE_H

/* f = act[n, y, x, ch]. */
void fv_obj_neuron(const float *act, int n, int h, int w, int c, int y, int x, int ch, const float *wts,
                   double *vals, float *grad);

/* f = mean over positions of act[n, :, :, ch] (also the class objective on the heatmap logits). */
void fv_obj_channel(const float *act, int n, int h, int w, int c, int ch, const float *wts, double *vals,
                    float *grad);

/* f = mean over positions and channels of act^2 (DeepDream). */
void fv_obj_layer(const float *act, int n, int h, int w, int c, const float *wts, double *vals, float *grad);

/* f = mean over positions of <act[n, y, x, :], dir> for a direction dir (C floats). */
void fv_obj_direction(const float *act, int n, int h, int w, int c, const float *dir, const float *wts,
                      double *vals, float *grad);

/* Batch-level: returns -S, S = mean over ordered pairs i != j of the cosine similarity of the Gram
 * matrices G_n = F_n^T F_n (F_n: act[n] as (H*W, C)); adds weight * d(-S)/dact to grad.
 * Needs n >= 2 (returns 0 and adds nothing otherwise). */
double fv_obj_diversity(const float *act, int n, int h, int w, int c, double weight, float *grad);

/* f = -mean |img - 0.5|. */
void fv_obj_l1(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad);

/* f = -(mean |horizontal differences| + mean |vertical differences|) (anisotropic total variation). */
void fv_obj_tv(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad);

/* f = -0.5 * mean (img - B img)^2, B a 3x3 binomial blur ([1 2 1] x [1 2 1] / 16, renormalized at
 * the border). A true penalty with its exact gradient, (I-B)^T (I-B) img, rather than Lucid's
 * blur_input_each_step, which treats B img as a constant: same pull toward smoothness, testable. */
void fv_obj_blur(const float *img, int n, int h, int w, const float *wts, double *vals, float *grad);

#endif
