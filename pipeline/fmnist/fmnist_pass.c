/* fmnist_pass — the network's forward and backward passes over a workspace that holds every
 * buffer of a pass (see fmnist_impl.h). The kernels are the nn engine's (nn_train.h): products on
 * OpenBLAS sgemm, or in bf16x3 on AMX tiles or AVX512-BF16 vectors where the CPU has them and
 * training asked for them (nn_ops_set_gemm); a pass runs on the calling thread. */
#include "fmnist_impl.h"

#include <stdlib.h>
#include <string.h>

static void geom3x3(nn_geom *g, int n, int hw, int cin, int cout)
{
    memset(g, 0, sizeof *g);
    g->n = n, g->h = g->w = hw, g->cin = cin, g->kh = g->kw = 3, g->sh = g->sw = 1, g->dh = g->dw = 1;
    nn_geom_pad(g, 1);
    g->cout = cout;
}

static void geom_pool(nn_geom *g, int n, int hw, int c)
{
    memset(g, 0, sizeof *g);
    g->n = n, g->h = g->w = hw, g->cin = c, g->kh = g->kw = 2, g->sh = g->sw = 2, g->dh = g->dw = 1;
    nn_geom_pad(g, 0);
    g->cout = c;
}

static void geom_dense(nn_geom *g, int n, int in, int out)
{
    memset(g, 0, sizeof *g);
    g->n = n, g->h = g->w = 1, g->cin = in, g->kh = g->kw = 1, g->sh = g->sw = 1, g->dh = g->dw = 1;
    nn_geom_pad(g, 0);
    g->cout = out;
}

/* Geometries for a chunk of n images. */
static void ws_geoms(nn_geom g[N_G], const fmnist_arch *a, int n)
{
    geom3x3(&g[G_C1], n, 28, 1, a->c1);
    geom3x3(&g[G_C2], n, 28, a->c1, a->c2);
    geom_pool(&g[G_P1], n, 28, a->c2);
    geom3x3(&g[G_C3], n, 14, a->c2, a->c3);
    geom3x3(&g[G_C4], n, 14, a->c3, a->c4);
    geom_pool(&g[G_P2], n, 14, a->c4);
    geom_dense(&g[G_F1], n, 49 * a->c4, a->fc);
    geom_dense(&g[G_F2], n, a->fc, FMNIST_CLASSES);
}

float *fmnist_fbuf(size_t n) { return xmalloc(sizeof(float) * (n + 16)); }

/* A workspace for up to cap images; head: only the dense layers' buffers (p2 on), for a whole
 * minibatch whose convolutions run in chunk workspaces (fmnist_ws_chunk). */
static fmnist_ws *ws_alloc(const fmnist_arch *a, int cap, int head)
{
    fmnist_ws *w = xcalloc(1, sizeof *w);
    w->cap = cap;
    size_t n = (size_t)cap;
    w->p2 = fmnist_fbuf(n * 49 * a->c4), w->dp2 = fmnist_fbuf(n * 49 * a->c4);
    w->f1 = fmnist_fbuf(n * a->fc), w->df1 = fmnist_fbuf(n * a->fc);
    w->z = fmnist_fbuf(n * FMNIST_CLASSES), w->dz = fmnist_fbuf(n * FMNIST_CLASSES);
    w->lab = xmalloc(sizeof(int) * n);
    if (head) return w;
    w->x = fmnist_fbuf(n * 784);
    w->y1 = fmnist_fbuf(n * 784 * a->c1), w->d1 = fmnist_fbuf(n * 784 * a->c1);
    w->y2 = fmnist_fbuf(n * 784 * a->c2), w->d2 = fmnist_fbuf(n * 784 * a->c2);
    w->p1 = fmnist_fbuf(n * 196 * a->c2), w->dp1 = fmnist_fbuf(n * 196 * a->c2);
    w->y3 = fmnist_fbuf(n * 196 * a->c3), w->d3 = fmnist_fbuf(n * 196 * a->c3);
    w->y4 = fmnist_fbuf(n * 196 * a->c4), w->d4 = fmnist_fbuf(n * 196 * a->c4);
    nn_geom g[N_G];
    ws_geoms(g, a, cap);
    const int ci[4] = {G_C1, G_C2, G_C3, G_C4};
    for (int i = 0; i < 4; i++) w->col[i] = fmnist_fbuf(nn_conv_col_size(&g[ci[i]]));
    return w;
}

fmnist_ws *fmnist_ws_new(const fmnist_arch *a, int cap) { return ws_alloc(a, cap, 0); }

fmnist_ws *fmnist_ws_head(const fmnist_arch *a, int cap) { return ws_alloc(a, cap, 1); }

/* A workspace for the chunk of cap images from image row0 of head's minibatch: its p2, dp2 and
 * labels are head's rows (the dense layers run once on the whole minibatch), the rest its own. */
fmnist_ws *fmnist_ws_chunk(const fmnist_arch *a, int cap, fmnist_ws *head, int row0)
{
    fmnist_ws *w = fmnist_ws_new(a, cap);
    free(w->p2), free(w->dp2), free(w->lab);
    w->p2 = head->p2 + (size_t)row0 * 49 * a->c4;
    w->dp2 = head->dp2 + (size_t)row0 * 49 * a->c4;
    w->lab = head->lab + row0;
    w->borrowed = 1;
    return w;
}

void fmnist_ws_free(fmnist_ws *w)
{
    if (!w) return;
    float *all[] = {w->x, w->y1, w->d1, w->y2, w->d2, w->p1, w->dp1, w->y3, w->d3,
                    w->y4, w->d4, w->f1, w->df1, w->z, w->dz};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    for (int i = 0; i < 4; i++) free(w->col[i]);
    if (!w->borrowed) free(w->p2), free(w->dp2), free(w->lab);
    free(w);
}

/* The convolutions of n <= cap images already in w->x (n,28,28,1), up to the pooled p2. */
void fmnist_fwd_convs(const fmnist_net *net, fmnist_ws *w, int n)
{
    nn_geom *g = w->g;
    ws_geoms(g, &net->a, n);
    const float *P = net->params;
    const size_t *o = net->off;
    nn_conv_fwd(&g[G_C1], w->x, P + o[T_W1], P + o[T_B1], NN_ACT_RELU, w->y1, w->col[0]);
    nn_conv_fwd(&g[G_C2], w->y1, P + o[T_W2], P + o[T_B2], NN_ACT_RELU, w->y2, w->col[1]);
    nn_maxpool_fwd(&g[G_P1], w->y2, w->p1);
    nn_conv_fwd(&g[G_C3], w->p1, P + o[T_W3], P + o[T_B3], NN_ACT_RELU, w->y3, w->col[2]);
    nn_conv_fwd(&g[G_C4], w->y3, P + o[T_W4], P + o[T_B4], NN_ACT_RELU, w->y4, w->col[3]);
    nn_maxpool_fwd(&g[G_P2], w->y4, w->p2);
}

/* The dense layers of n images whose p2 is in w (head or full workspace): logits in w->z. */
void fmnist_fwd_head(const fmnist_net *net, fmnist_ws *w, int n)
{
    nn_geom *g = w->g;
    ws_geoms(g, &net->a, n);
    const float *P = net->params;
    const size_t *o = net->off;
    /* flatten: (n,7,7,c4) NHWC is already the (n, 49*c4) matrix */
    nn_conv_fwd(&g[G_F1], w->p2, P + o[T_WF1], P + o[T_BF1], NN_ACT_RELU, w->f1, NULL);
    nn_conv_fwd(&g[G_F2], w->f1, P + o[T_WF2], P + o[T_BF2], NN_ACT_NONE, w->z, NULL);
}

/* Forward of n <= cap images already in w->x (n,28,28,1); logits in w->z (n,10). */
void fmnist_fwd(const fmnist_net *net, fmnist_ws *w, int n)
{
    fmnist_fwd_convs(net, w, n);
    fmnist_fwd_head(net, w, n);
}

/* Loss of the n images in w (after fmnist_fwd_head, labels in w->lab) and the gradient of the
 * dense layers' parameters (into grad, overwritten) and of p2 (w->dp2); the loss is scaled by
 * `scale` (1/minibatch size) before differentiation. Returns the unscaled summed loss. */
double fmnist_bwd_head(const fmnist_net *net, fmnist_ws *w, int n, float scale, float *grad)
{
    const nn_geom *g = w->g;
    const float *P = net->params;
    const size_t *o = net->off;
    double loss = nn_softmax_xent(n, FMNIST_CLASSES, w->z, w->lab, scale, w->dz);
    nn_conv_bwd_w(&g[G_F2], w->f1, NULL, w->dz, grad + o[T_WF2], grad + o[T_BF2], 0);
    nn_conv_bwd(&g[G_F2], w->dz, P + o[T_WF2], w->df1, NULL, 0);
    nn_act_bwd(NN_ACT_RELU, w->f1, w->df1, (size_t)n * net->a.fc);
    nn_conv_bwd_w(&g[G_F1], w->p2, NULL, w->df1, grad + o[T_WF1], grad + o[T_BF1], 0);
    nn_conv_bwd(&g[G_F1], w->df1, P + o[T_WF1], w->dp2, NULL, 0);
    return loss;
}

/* The convolutions' parameter gradient (into grad, overwritten) of n images in w, from w->dp2
 * (after fmnist_fwd_convs and fmnist_bwd_head). */
void fmnist_bwd_convs(const fmnist_net *net, fmnist_ws *w, int n, float *grad)
{
    const nn_geom *g = w->g;
    const float *P = net->params;
    const size_t *o = net->off;
    nn_maxpool_bwd_set(&g[G_P2], w->y4, w->dp2, w->d4, 1); /* and conv4's ReLU */
    /* the weight gradient reads the im2col matrix first; the input gradient then reuses it */
    nn_conv_bwd_w(&g[G_C4], w->y3, w->col[3], w->d4, grad + o[T_W4], grad + o[T_B4], 0);
    nn_conv_bwd(&g[G_C4], w->d4, P + o[T_W4], w->d3, w->col[3], 0);
    nn_act_bwd(NN_ACT_RELU, w->y3, w->d3, (size_t)n * 196 * net->a.c3);
    nn_conv_bwd_w(&g[G_C3], w->p1, w->col[2], w->d3, grad + o[T_W3], grad + o[T_B3], 0);
    nn_conv_bwd(&g[G_C3], w->d3, P + o[T_W3], w->dp1, w->col[2], 0);
    nn_maxpool_bwd_set(&g[G_P1], w->y2, w->dp1, w->d2, 1); /* and conv2's ReLU */
    nn_conv_bwd_w(&g[G_C2], w->y1, w->col[1], w->d2, grad + o[T_W2], grad + o[T_B2], 0);
    nn_conv_bwd(&g[G_C2], w->d2, P + o[T_W2], w->d1, w->col[1], 0);
    nn_act_bwd(NN_ACT_RELU, w->y1, w->d1, (size_t)n * 784 * net->a.c1);
    nn_conv_bwd_w(&g[G_C1], w->x, w->col[0], w->d1, grad + o[T_W1], grad + o[T_B1], 0);
}

/* Loss and gradient of n images in w (after fmnist_fwd, labels in w->lab), as fmnist_bwd_head. */
static double backward(const fmnist_net *net, fmnist_ws *w, int n, float scale, float *grad)
{
    double loss = fmnist_bwd_head(net, w, n, scale, grad);
    fmnist_bwd_convs(net, w, n, grad);
    return loss;
}

double fmnist_net_loss(fmnist_net *net, const float *x, const int *y, int n, float *grad)
{
    fmnist_ws *w = fmnist_ws_new(&net->a, n);
    memcpy(w->x, x, sizeof(float) * (size_t)n * 784);
    memcpy(w->lab, y, sizeof(int) * (size_t)n);
    fmnist_fwd(net, w, n);
    double loss;
    if (grad) {
        loss = backward(net, w, n, 1.0f / (float)n, grad);
    } else {
        loss = nn_softmax_xent(n, FMNIST_CLASSES, w->z, w->lab, 1.0f, NULL);
    }
    fmnist_ws_free(w);
    return loss / n;
}

void fmnist_net_forward(fmnist_net *net, const float *x, int n, float *logits)
{
    fmnist_ws *w = fmnist_ws_new(&net->a, n);
    memcpy(w->x, x, sizeof(float) * (size_t)n * 784);
    fmnist_fwd(net, w, n);
    memcpy(logits, w->z, sizeof(float) * (size_t)n * FMNIST_CLASSES);
    fmnist_ws_free(w);
}

/* Puts images idx[0..n) of s into w->x as pixel/255 and their labels into w->lab. */
void fmnist_ws_load(fmnist_ws *w, const fmnist_set *s, const int *idx, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *src = s->images + (size_t)idx[i] * FMNIST_PIXELS;
        float *dst = w->x + (size_t)i * FMNIST_PIXELS;
        for (int k = 0; k < FMNIST_PIXELS; k++) dst[k] = (float)src[k] * (1.0f / 255.0f);
        w->lab[i] = s->labels[idx[i]];
    }
}
