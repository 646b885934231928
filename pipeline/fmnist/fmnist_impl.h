/* fmnist_impl — what the files of the fmnist module share and no other module sees: the layout of
 * a network's parameters, and the workspace with the forward and backward passes over it
 * (fmnist_pass.c) that training and evaluation (fmnist_train.c) run chunk by chunk. The public
 * interface is fmnist.h; only pipeline/fmnist/fmnist_*.c include this file. */
#ifndef FV_FMNIST_IMPL_H
#define FV_FMNIST_IMPL_H

#include "fmnist.h"
#include "nn_train.h"
#include "pool.h"

/* The twelve parameter tensors, in the order of the flat array (fmnist_net_params). */
enum { T_W1, T_B1, T_W2, T_B2, T_W3, T_B3, T_W4, T_B4, T_WF1, T_BF1, T_WF2, T_BF2, N_T };

struct fmnist_net {
    fmnist_arch a;
    size_t off[N_T + 1]; /* tensor i is params[off[i] .. off[i+1]) */
    float *params;
};

/* The layers of a pass, indexing fmnist_ws.g. */
enum { G_C1, G_C2, G_P1, G_C3, G_C4, G_P2, G_F1, G_F2, N_G };

/* Every buffer of a forward + backward pass for up to `cap` images. */
typedef struct fmnist_ws {
    int cap;
    nn_geom g[N_G];
    /* activations: x input, y1 y2 conv, p1 pool, y3 y4 conv, p2 pool, f1 dense, z logits */
    float *x, *y1, *y2, *p1, *y3, *y4, *p2, *f1, *z;
    float *d1, *d2, *dp1, *d3, *d4, *dp2, *df1, *dz; /* their gradients */
    float *col[4];                                  /* im2col of conv1..conv4 (kept for dW) */
    int *lab;
    int borrowed; /* p2, dp2 and lab point into a whole minibatch's head workspace (fmnist_ws_chunk) */
} fmnist_ws;

/* n floats and 16 spare (as the nn engine keeps after its arenas); caller frees. */
float *fmnist_fbuf(size_t n);

/* A full workspace for up to cap images (caller frees with fmnist_ws_free). */
fmnist_ws *fmnist_ws_new(const fmnist_arch *a, int cap);
/* A workspace with only the dense layers' buffers (p2 on), for a whole minibatch of up to cap
 * images whose convolutions run in chunk workspaces. */
fmnist_ws *fmnist_ws_head(const fmnist_arch *a, int cap);
/* A workspace for the chunk of cap images from image row0 of head's minibatch: its p2, dp2 and
 * labels are head's rows (borrowed; head must outlive it), the rest its own. */
fmnist_ws *fmnist_ws_chunk(const fmnist_arch *a, int cap, fmnist_ws *head, int row0);
/* Frees w and the buffers it owns; NULL is allowed. */
void fmnist_ws_free(fmnist_ws *w);
/* Puts images idx[0..n) of s into w->x as pixel/255 and their labels into w->lab. */
void fmnist_ws_load(fmnist_ws *w, const fmnist_set *s, const int *idx, int n);

/* Forward through the convolutions of n <= cap images in w->x (n,28,28,1), up to the pooled p2. */
void fmnist_fwd_convs(const fmnist_net *net, fmnist_ws *w, int n);
/* Forward through the dense layers of n images whose p2 is in w: logits in w->z (n,10). */
void fmnist_fwd_head(const fmnist_net *net, fmnist_ws *w, int n);
/* Both of the above. */
void fmnist_fwd(const fmnist_net *net, fmnist_ws *w, int n);
/* Loss of the n images in w (after fmnist_fwd_head, labels in w->lab) scaled by `scale` before
 * differentiation; the dense layers' parameter gradient into grad (overwritten) and p2's into
 * w->dp2. Returns the unscaled summed loss. */
double fmnist_bwd_head(const fmnist_net *net, fmnist_ws *w, int n, float scale, float *grad);
/* The convolutions' parameter gradient (into grad, overwritten) of n images in w, from w->dp2
 * (after fmnist_fwd_convs and fmnist_bwd_head). */
void fmnist_bwd_convs(const fmnist_net *net, fmnist_ws *w, int n, float *grad);

#endif
