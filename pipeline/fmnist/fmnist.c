/* fmnist — data, network, training and TF.js export of the Fashion-MNIST classifier (see
 * fmnist.h). The kernels are the nn engine's (nn_ops.h): convolutions and dense layers are
 * im2col + OpenBLAS sgemm, their weight gradients one more sgemm each. */
#include "fmnist.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "idx.h"
#include "nn_train.h"
#include "pool.h"

static const char *const class_names[FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *fmnist_class_name(int i) { return i >= 0 && i < FMNIST_CLASSES ? class_names[i] : NULL; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------------------------------
 * Data */

int fmnist_load(const char *dir, int train, int limit, fmnist_set *out, err *e)
{
    const char *pre = train ? "train" : "t10k";
    char *ip = xasprintf("%s/%s-images-idx3-ubyte.gz", dir, pre);
    char *lp = xasprintf("%s/%s-labels-idx1-ubyte.gz", dir, pre);
    idx_array *im = NULL, *lb = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (idx_read_images(ip, &im, e) != 0 || idx_read_labels(lp, FMNIST_CLASSES - 1, &lb, e) != 0) goto done;
    if (idx_dim(im, 1) != FMNIST_SIDE || idx_dim(im, 2) != FMNIST_SIDE) {
        err_set(e, "%s: images are %ux%u (expected 28x28)", ip, idx_dim(im, 1), idx_dim(im, 2));
        goto done;
    }
    if (idx_dim(im, 0) != idx_dim(lb, 0)) {
        err_set(e, "%s: %u labels for %u images in %s (expected equal counts)", lp, idx_dim(lb, 0), idx_dim(im, 0),
                ip);
        goto done;
    }
    size_t n = idx_dim(im, 0);
    if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
    out->n = (int)n;
    out->images = xmalloc(n * FMNIST_PIXELS + 1);
    out->labels = xmalloc(n + 1);
    memcpy(out->images, idx_data(im), n * FMNIST_PIXELS);
    memcpy(out->labels, idx_data(lb), n);
    rc = 0;
done:
    idx_free(im);
    idx_free(lb);
    free(ip);
    free(lp);
    return rc;
}

void fmnist_set_free(fmnist_set *s)
{
    if (!s) return;
    free(s->images);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded through splitmix64 (never rand(): same numbers everywhere) */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in (0, 1): 53 random bits, never 0 (for the logarithm below). */
static double rng_unit(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

/* Standard normal (Box-Muller, one value per call). */
static double rng_normal(rng *r)
{
    double u = rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Uniform integer in [0, n) without modulo bias worth mentioning (n < 2^32). */
static uint32_t rng_below(rng *r, uint32_t n) { return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }

/* ---------------------------------------------------------------------------------------------
 * The network */

enum { T_W1, T_B1, T_W2, T_B2, T_W3, T_B3, T_W4, T_B4, T_WF1, T_BF1, T_WF2, T_BF2, N_T };

static const char *const tensor_names[N_T] = {
    "conv1/weights", "conv1/bias", "conv2/weights", "conv2/bias", "conv3/weights", "conv3/bias",
    "conv4/weights", "conv4/bias", "fc1/weights",   "fc1/bias",   "logits/weights", "logits/bias"};

struct fmnist_net {
    fmnist_arch a;
    size_t off[N_T + 1]; /* tensor i is params[off[i] .. off[i+1]) */
    float *params;
};

fmnist_arch fmnist_arch_default(void) { return (fmnist_arch){32, 32, 64, 64, 256}; }

int fmnist_arch_parse(const char *s, fmnist_arch *a, err *e)
{
    int v[5], n = 0;
    const char *p = s;
    while (n < 5) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 1024) break;
        v[n++] = (int)x;
        p = end;
        if (*p != ',') break;
        p++;
    }
    if (n != 5 || *p)
        return err_set(e, "--arch '%s': expected five channel counts c1,c2,c3,c4,fc, each 1..1024 (e.g. "
                       "32,32,64,64,256)", s);
    *a = (fmnist_arch){v[0], v[1], v[2], v[3], v[4]};
    return 0;
}

/* Element counts of the twelve tensors. */
static void tensor_counts(const fmnist_arch *a, size_t c[N_T])
{
    c[T_W1] = 9 * (size_t)a->c1, c[T_B1] = a->c1;
    c[T_W2] = 9 * (size_t)a->c1 * a->c2, c[T_B2] = a->c2;
    c[T_W3] = 9 * (size_t)a->c2 * a->c3, c[T_B3] = a->c3;
    c[T_W4] = 9 * (size_t)a->c3 * a->c4, c[T_B4] = a->c4;
    c[T_WF1] = 49 * (size_t)a->c4 * a->fc, c[T_BF1] = a->fc;
    c[T_WF2] = (size_t)a->fc * FMNIST_CLASSES, c[T_BF2] = FMNIST_CLASSES;
}

fmnist_net *fmnist_net_new(const fmnist_arch *a, uint64_t seed)
{
    fmnist_net *net = xcalloc(1, sizeof *net);
    net->a = *a;
    size_t c[N_T];
    tensor_counts(a, c);
    for (int i = 0; i < N_T; i++) net->off[i + 1] = net->off[i] + c[i];
    net->params = xcalloc(net->off[N_T], sizeof(float));
    /* He-normal: std sqrt(2 / fan_in), fan_in = the rows of the (K, out) weight matrix */
    const int fan_in[N_T] = {9, 0, 9 * a->c1, 0, 9 * a->c2, 0, 9 * a->c3, 0, 49 * a->c4, 0, a->fc, 0};
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < N_T; i += 2) {
        double sd = sqrt(2.0 / fan_in[i]);
        for (size_t k = net->off[i]; k < net->off[i + 1]; k++) net->params[k] = (float)(sd * rng_normal(&r));
    }
    return net;
}

void fmnist_net_free(fmnist_net *net)
{
    if (!net) return;
    free(net->params);
    free(net);
}

fmnist_arch fmnist_net_arch(const fmnist_net *net) { return net->a; }

float *fmnist_net_params(fmnist_net *net, size_t *n)
{
    if (n) *n = net->off[N_T];
    return net->params;
}

int fmnist_net_n_tensors(const fmnist_net *net)
{
    (void)net;
    return N_T;
}

void fmnist_net_tensor(const fmnist_net *net, int i, const char **name, size_t *off, size_t *count)
{
    if (name) *name = tensor_names[i];
    if (off) *off = net->off[i];
    if (count) *count = net->off[i + 1] - net->off[i];
}

double fmnist_net_macs(const fmnist_net *net)
{
    const fmnist_arch *a = &net->a;
    return 784.0 * 9 * (a->c1 + (double)a->c1 * a->c2) + 196.0 * 9 * ((double)a->c2 * a->c3 + (double)a->c3 * a->c4) +
           49.0 * a->c4 * a->fc + (double)a->fc * FMNIST_CLASSES;
}

/* --- a workspace: every buffer of a forward + backward pass for up to `cap` images ----------- */

enum { G_C1, G_C2, G_P1, G_C3, G_C4, G_P2, G_F1, G_F2, N_G };

typedef struct ws {
    int cap;
    nn_geom g[N_G];
    /* activations: x input, y1 y2 conv, p1 pool, y3 y4 conv, p2 pool, f1 dense, z logits */
    float *x, *y1, *y2, *p1, *y3, *y4, *p2, *f1, *z;
    float *d1, *d2, *dp1, *d3, *d4, *dp2, *df1, *dz; /* their gradients */
    float *col[4];                                  /* im2col of conv1..conv4 (kept for dW) */
    int *lab;
    int borrowed; /* p2, dp2 and lab point into a whole minibatch's head workspace (ws_chunk) */
} ws;

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

static float *fbuf(size_t n) { return xmalloc(sizeof(float) * (n + 16)); }

/* A workspace for up to cap images; head: only the dense layers' buffers (p2 on), for a whole
 * minibatch whose convolutions run in chunk workspaces (ws_chunk). */
static ws *ws_alloc(const fmnist_arch *a, int cap, int head)
{
    ws *w = xcalloc(1, sizeof *w);
    w->cap = cap;
    size_t n = (size_t)cap;
    w->p2 = fbuf(n * 49 * a->c4), w->dp2 = fbuf(n * 49 * a->c4);
    w->f1 = fbuf(n * a->fc), w->df1 = fbuf(n * a->fc);
    w->z = fbuf(n * FMNIST_CLASSES), w->dz = fbuf(n * FMNIST_CLASSES);
    w->lab = xmalloc(sizeof(int) * n);
    if (head) return w;
    w->x = fbuf(n * 784);
    w->y1 = fbuf(n * 784 * a->c1), w->d1 = fbuf(n * 784 * a->c1);
    w->y2 = fbuf(n * 784 * a->c2), w->d2 = fbuf(n * 784 * a->c2);
    w->p1 = fbuf(n * 196 * a->c2), w->dp1 = fbuf(n * 196 * a->c2);
    w->y3 = fbuf(n * 196 * a->c3), w->d3 = fbuf(n * 196 * a->c3);
    w->y4 = fbuf(n * 196 * a->c4), w->d4 = fbuf(n * 196 * a->c4);
    nn_geom g[N_G];
    ws_geoms(g, a, cap);
    const int ci[4] = {G_C1, G_C2, G_C3, G_C4};
    for (int i = 0; i < 4; i++) w->col[i] = fbuf(nn_conv_col_size(&g[ci[i]]));
    return w;
}

static ws *ws_new(const fmnist_arch *a, int cap) { return ws_alloc(a, cap, 0); }

/* A workspace for the chunk of cap images from image row0 of head's minibatch: its p2, dp2 and
 * labels are head's rows (the dense layers run once on the whole minibatch), the rest its own. */
static ws *ws_chunk(const fmnist_arch *a, int cap, ws *head, int row0)
{
    ws *w = ws_new(a, cap);
    free(w->p2), free(w->dp2), free(w->lab);
    w->p2 = head->p2 + (size_t)row0 * 49 * a->c4;
    w->dp2 = head->dp2 + (size_t)row0 * 49 * a->c4;
    w->lab = head->lab + row0;
    w->borrowed = 1;
    return w;
}

static void ws_free(ws *w)
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
static void forward_convs(const fmnist_net *net, ws *w, int n)
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
static void forward_head(const fmnist_net *net, ws *w, int n)
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
static void forward(const fmnist_net *net, ws *w, int n)
{
    forward_convs(net, w, n);
    forward_head(net, w, n);
}

/* Loss of the n images in w (after forward_head, labels in w->lab) and the gradient of the
 * dense layers' parameters (into grad, overwritten) and of p2 (w->dp2); the loss is scaled by
 * `scale` (1/minibatch size) before differentiation. Returns the unscaled summed loss. */
static double backward_head(const fmnist_net *net, ws *w, int n, float scale, float *grad)
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
 * (after forward_convs and backward_head). */
static void backward_convs(const fmnist_net *net, ws *w, int n, float *grad)
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

/* Loss and gradient of n images in w (after forward, labels in w->lab), as backward_head. */
static double backward(const fmnist_net *net, ws *w, int n, float scale, float *grad)
{
    double loss = backward_head(net, w, n, scale, grad);
    backward_convs(net, w, n, grad);
    return loss;
}

double fmnist_net_loss(fmnist_net *net, const float *x, const int *y, int n, float *grad)
{
    ws *w = ws_new(&net->a, n);
    memcpy(w->x, x, sizeof(float) * (size_t)n * 784);
    memcpy(w->lab, y, sizeof(int) * (size_t)n);
    forward(net, w, n);
    double loss;
    if (grad) {
        loss = backward(net, w, n, 1.0f / (float)n, grad);
    } else {
        loss = nn_softmax_xent(n, FMNIST_CLASSES, w->z, w->lab, 1.0f, NULL);
    }
    ws_free(w);
    return loss / n;
}

void fmnist_net_forward(fmnist_net *net, const float *x, int n, float *logits)
{
    ws *w = ws_new(&net->a, n);
    memcpy(w->x, x, sizeof(float) * (size_t)n * 784);
    forward(net, w, n);
    memcpy(logits, w->z, sizeof(float) * (size_t)n * FMNIST_CLASSES);
    ws_free(w);
}

/* Puts images idx[0..n) of s into w->x as pixel/255 and their labels into w->lab. */
static void load_chunk(ws *w, const fmnist_set *s, const int *idx, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *src = s->images + (size_t)idx[i] * FMNIST_PIXELS;
        float *dst = w->x + (size_t)i * FMNIST_PIXELS;
        for (int k = 0; k < FMNIST_PIXELS; k++) dst[k] = (float)src[k] * (1.0f / 255.0f);
        w->lab[i] = s->labels[idx[i]];
    }
}

/* --- parallel jobs ---------------------------------------------------------------------------
 * Work is spread over "slots" (one per thread): slot k of S takes chunks [nch*k/S, nch*(k+1)/S).
 * Which thread runs a slot does not change any number. A training step runs the convolutions
 * chunk by chunk, each chunk in its own workspace (kept until its backward), and the dense
 * layers once on the whole minibatch (their products split across the pool by nn_ops): per
 * chunk, the dense layers would be products of 16 rows that pack their 800 K weights each. */

typedef struct job {
    fmnist_net *net;
    const fmnist_set *set;
    ws **slots;     /* per slot: prediction */
    ws **cws, *head; /* training: per chunk (its p2, dp2, labels in head), and the minibatch's */
    int n_slots, chunk;
    /* training step */
    const int *idx; /* the minibatch's image indices */
    int n;          /* minibatch size */
    float **cgrad;  /* per-chunk gradients of the convolutions; the dense layers' in cgrad[0] */
    size_t n_conv;  /* parameters [0, n_conv) are the convolutions' */
    /* prediction */
    int *pred, correct_slot[64];
    /* reduction / Adam over parameter ranges */
    float *g, *m, *v;
    size_t n_par;
    int n_ch;
    float lr_t, b1, b2, eps_t;
} job;

static ws *slot_ws(job *j, int k)
{
    if (!j->slots[k]) j->slots[k] = ws_new(&j->net->a, j->chunk);
    return j->slots[k];
}

static ws *chunk_ws(job *j, int c)
{
    if (!j->cws[c]) j->cws[c] = ws_chunk(&j->net->a, j->chunk, j->head, c * j->chunk);
    return j->cws[c];
}

/* The convolutions of the minibatch's chunks, forward (backward 0) or backward (1). */
static void conv_slots(job *j, int lo, int hi, int backward)
{
    int nch = (j->n + j->chunk - 1) / j->chunk;
    for (int k = lo; k < hi; k++)
        for (int c = nch * k / j->n_slots; c < nch * (k + 1) / j->n_slots; c++) {
            int a = c * j->chunk, m = j->n - a < j->chunk ? j->n - a : j->chunk;
            ws *w = chunk_ws(j, c);
            if (backward) {
                backward_convs(j->net, w, m, j->cgrad[c]);
            } else {
                load_chunk(w, j->set, j->idx + a, m);
                forward_convs(j->net, w, m);
            }
        }
}

static void conv_fwd_slots(void *ctx, int lo, int hi) { conv_slots(ctx, lo, hi, 0); }
static void conv_bwd_slots(void *ctx, int lo, int hi) { conv_slots(ctx, lo, hi, 1); }

/* One minibatch's gradient (into cgrad) and summed loss. */
static double train_step(job *j)
{
    pool_for_chunks(j->n_slots, POOL_JOBS, conv_fwd_slots, j);
    forward_head(j->net, j->head, j->n);
    double loss = backward_head(j->net, j->head, j->n, 1.0f / (float)j->n, j->cgrad[0]);
    pool_for_chunks(j->n_slots, POOL_JOBS, conv_bwd_slots, j);
    return loss;
}

/* Sum of the chunk gradients in chunk order (into chunk 0's, which the next step overwrites),
 * then Adam, over parameter parts [lo, hi) of 256. Loop by loop so that gcc vectorizes them
 * (element by element, no reassociation: the same numbers; sqrtf needs -fno-math-errno, in
 * module.mk). */
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"))) static void adam_parts(void *ctx, int lo,
                                                                                             int hi)
{
    job *j = ctx;
    size_t a = (size_t)lo * j->n_par / 256, b = (size_t)hi * j->n_par / 256;
    float *restrict P = j->net->params, *restrict g = j->cgrad[0], *restrict M = j->m, *restrict V = j->v;
    size_t bc = b < j->n_conv ? b : j->n_conv; /* chunk sums: the convolutions' parameters */
    for (int c = 1; c < j->n_ch; c++) {
        const float *restrict gc = j->cgrad[c];
        for (size_t i = a; i < bc; i++) g[i] += gc[i];
    }
    const float b1 = j->b1, b2 = j->b2, lr = j->lr_t, eps = j->eps_t;
    for (size_t i = a; i < b; i++) {
        float m = M[i] = b1 * M[i] + (1.0f - b1) * g[i];
        float v = V[i] = b2 * V[i] + (1.0f - b2) * g[i] * g[i];
        P[i] -= lr * m / (sqrtf(v) + eps);
    }
}

static void predict_slots(void *ctx, int lo, int hi)
{
    job *j = ctx;
    int nch = (j->set->n + j->chunk - 1) / j->chunk;
    int *idx = xmalloc(sizeof(int) * (size_t)j->chunk);
    for (int k = lo; k < hi; k++) {
        ws *w = slot_ws(j, k);
        int correct = 0;
        for (int c = nch * k / j->n_slots; c < nch * (k + 1) / j->n_slots; c++) {
            int a = c * j->chunk, m = j->set->n - a < j->chunk ? j->set->n - a : j->chunk;
            for (int i = 0; i < m; i++) idx[i] = a + i;
            load_chunk(w, j->set, idx, m);
            forward(j->net, w, m);
            for (int i = 0; i < m; i++) {
                const float *z = w->z + (size_t)i * FMNIST_CLASSES;
                int best = 0;
                for (int q = 1; q < FMNIST_CLASSES; q++)
                    if (z[q] > z[best]) best = q;
                if (j->pred) j->pred[a + i] = best;
                correct += best == w->lab[i];
            }
        }
        j->correct_slot[k] = correct;
    }
    free(idx);
}

static int slots_for_threads(void)
{
    int t = pool_threads();
    return t < 1 ? 1 : t > 64 ? 64 : t;
}

static int predict_with(fmnist_net *net, const fmnist_set *s, int *pred, ws **slots, int n_slots, int chunk)
{
    job j = {.net = net, .set = s, .slots = slots, .n_slots = n_slots, .chunk = chunk, .pred = pred};
    pool_for_chunks(n_slots, POOL_JOBS, predict_slots, &j);
    int correct = 0;
    for (int k = 0; k < n_slots; k++) correct += j.correct_slot[k];
    return correct;
}

int fmnist_net_predict(fmnist_net *net, const fmnist_set *s, int *pred)
{
    int n_slots = slots_for_threads(), chunk = 50;
    ws **slots = xcalloc((size_t)n_slots, sizeof *slots);
    nn_ops_set_blas_threads(1);
    int correct = predict_with(net, s, pred, slots, n_slots, chunk);
    nn_ops_set_blas_threads(pool_threads());
    for (int k = 0; k < n_slots; k++) ws_free(slots[k]);
    free(slots);
    return correct;
}

int fmnist_train(fmnist_net *net, const fmnist_set *train, const fmnist_set *test, const fmnist_train_opts *o,
                 fmnist_train_report *rep, err *e)
{
    if (o->epochs < 1 || o->batch < 1 || o->chunk < 1 || !(o->lr > 0) || train->n < 1)
        return err_set(e, "fmnist_train: epochs %d, batch %d, chunk %d, lr %g, %d images (expected positive values)",
                       o->epochs, o->batch, o->chunk, (double)o->lr, train->n);
    memset(rep, 0, sizeof *rep);
    rep->test_accuracy = -1;
    int n = train->n, batch = o->batch < n ? o->batch : n;
    int chunk = o->chunk < batch ? o->chunk : batch, max_ch = (batch + chunk - 1) / chunk;
    int n_slots = slots_for_threads();
    size_t np;
    float *P = fmnist_net_params(net, &np);
    (void)P;
    job j = {.net = net, .set = train, .n_slots = n_slots, .chunk = chunk, .n_par = np,
             .n_conv = net->off[T_WF1], .b1 = 0.9f, .b2 = 0.999f};
    j.slots = xcalloc((size_t)n_slots, sizeof *j.slots);
    j.cws = xcalloc((size_t)max_ch, sizeof *j.cws);
    j.head = ws_alloc(&net->a, batch, 1);
    j.cgrad = xcalloc((size_t)max_ch, sizeof *j.cgrad);
    for (int c = 0; c < max_ch; c++) j.cgrad[c] = fbuf(c ? j.n_conv : np);
    j.m = xcalloc(np, sizeof(float));
    j.v = xcalloc(np, sizeof(float));
    int *perm = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) perm[i] = i;
    rng r;
    rng_seed(&r, o->seed ^ 0x5eed5eed5eedull);
    /* the chunks of a minibatch run one per thread, each with single-threaded sgemm */
    nn_ops_set_blas_threads(1);
    nn_ops_set_fast_gemm(o->fast_gemm);
    int steps_per_epoch = (n + batch - 1) / batch;
    long step = 0;
    double t_train = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        double t0 = now(), loss_sum = 0;
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int k = (int)rng_below(&r, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[k], perm[k] = t;
        }
        for (int b = 0; b < steps_per_epoch; b++) {
            j.idx = perm + (size_t)b * batch;
            j.n = n - b * batch < batch ? n - b * batch : batch;
            j.n_ch = (j.n + chunk - 1) / chunk;
            loss_sum += train_step(&j);
            step++;
            /* PyTorch's Adam: p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) */
            double bc1 = 1.0 - pow(0.9, (double)step), bc2 = 1.0 - pow(0.999, (double)step);
            j.lr_t = (float)(o->lr / bc1 * sqrt(bc2));
            j.eps_t = (float)(1e-8 * sqrt(bc2));
            pool_for_chunks(256, POOL_JOBS, adam_parts, &j);
            if (o->log && o->log_every > 0 && (b + 1) % o->log_every == 0 && b + 1 < steps_per_epoch) {
                double el = now() - t0, left = el / (b + 1) * (steps_per_epoch - b - 1) +
                                                (t_train + el) / (ep + (b + 1.0) / steps_per_epoch) *
                                                    (o->epochs - ep - 1);
                fprintf(o->log, "fv-train: epoch %d/%d  batch %d/%d  loss %.4f  %.0fs left\n", ep + 1, o->epochs,
                        b + 1, steps_per_epoch, loss_sum / ((double)(b + 1) * batch > n ? n : (b + 1.0) * batch),
                        left);
                fflush(o->log);
            }
        }
        double secs = now() - t0;
        t_train += secs;
        double loss = loss_sum / n, acc = -1;
        if (test && test->n > 0) acc = (double)predict_with(net, test, NULL, j.slots, n_slots, chunk) / test->n;
        if (ep < 64) {
            rep->epoch_seconds[ep] = secs;
            rep->epoch_loss[ep] = loss;
            rep->epoch_accuracy[ep] = acc;
        }
        rep->final_loss = loss;
        rep->test_accuracy = acc;
        if (o->log) {
            if (acc >= 0)
                fprintf(o->log, "fv-train: epoch %d/%d  loss %.4f  test accuracy %.4f  %.1fs\n", ep + 1, o->epochs,
                        loss, acc, secs);
            else
                fprintf(o->log, "fv-train: epoch %d/%d  loss %.4f  %.1fs\n", ep + 1, o->epochs, loss, secs);
            fflush(o->log);
        }
    }
    rep->seconds = t_train;
    nn_ops_set_fast_gemm(0);
    nn_ops_set_blas_threads(pool_threads());
    for (int k = 0; k < n_slots; k++) ws_free(j.slots[k]);
    free(j.slots);
    for (int c = 0; c < max_ch; c++) ws_free(j.cws[c]);
    free(j.cws);
    ws_free(j.head);
    for (int c = 0; c < max_ch; c++) free(j.cgrad[c]);
    free(j.cgrad);
    free(j.m);
    free(j.v);
    free(perm);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * TF.js export */

static char *b64(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    char *out = xmalloc(4 * (n / 3 + 1) + 1);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static json_t *attr_s(const char *s)
{
    char *e = b64(s);
    json_t *j = json_pack("{s:s}", "s", e);
    free(e);
    return j;
}

/* {"list": {"i": ["a","b","c","d"]}}: int64 lists are decimal strings in protobuf JSON. */
static json_t *attr_ints(int a, int b, int c, int d)
{
    const int v[4] = {a, b, c, d};
    json_t *l = json_array();
    for (int i = 0; i < 4; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d", v[i]);
        json_array_append_new(l, json_string(s));
    }
    return json_pack("{s:{s:o}}", "list", "i", l);
}

static json_t *dims_json(const int *shape, int rank)
{
    json_t *d = json_array();
    for (int i = 0; i < rank; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d", shape[i]);
        json_array_append_new(d, json_pack("{s:s}", "size", s));
    }
    return json_pack("{s:o}", "dim", d);
}

/* A Const node and its manifest entry; the values go to the weight buffer. */
static void add_const(json_t *nodes, json_t *manifest, buf *bin, const char *name, const int *shape, int rank,
                      const float *f, const int32_t *iv)
{
    const char *dt = f ? "DT_FLOAT" : "DT_INT32";
    json_array_append_new(nodes, json_pack("{s:s,s:s,s:{s:{s:{s:s,s:o}},s:{s:s}}}", "name", name, "op", "Const",
                                           "attr", "value", "tensor", "dtype", dt, "tensorShape",
                                           dims_json(shape, rank), "dtype", "type", dt));
    json_t *sh = json_array();
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        json_array_append_new(sh, json_integer(shape[i]));
        count *= (size_t)shape[i];
    }
    json_array_append_new(manifest, json_pack("{s:s,s:o,s:s}", "name", name, "shape", sh, "dtype",
                                              f ? "float32" : "int32"));
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        if (f) memcpy(&u, &f[i], 4);
        else u = (uint32_t)iv[i];
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        buf_put(bin, (const char *)b, 4);
    }
}

/* A _FusedConv2D (conv=1) or _FusedMatMul node with BiasAdd and optionally Relu. */
static void add_fused(json_t *nodes, const char *name, const char *input, const char *w, const char *b, int conv,
                      int relu)
{
    json_t *attr = json_object();
    json_object_set_new(attr, "T", json_pack("{s:s}", "type", "DT_FLOAT"));
    json_object_set_new(attr, "num_args", json_pack("{s:s}", "i", "1"));
    json_object_set_new(attr, "epsilon", json_pack("{s:i}", "f", 0));
    json_t *fl = json_array();
    char *s1 = b64("BiasAdd"), *s2 = b64("Relu");
    json_array_append_new(fl, json_string(s1));
    if (relu) json_array_append_new(fl, json_string(s2));
    free(s1), free(s2);
    json_object_set_new(attr, "fused_ops", json_pack("{s:{s:o}}", "list", "s", fl));
    if (conv) {
        json_object_set_new(attr, "strides", attr_ints(1, 1, 1, 1));
        json_object_set_new(attr, "dilations", attr_ints(1, 1, 1, 1));
        json_object_set_new(attr, "padding", attr_s("SAME"));
        json_object_set_new(attr, "data_format", attr_s("NHWC"));
    } else {
        json_object_set_new(attr, "transpose_a", json_pack("{s:b}", "b", 0));
        json_object_set_new(attr, "transpose_b", json_pack("{s:b}", "b", 0));
    }
    json_array_append_new(nodes, json_pack("{s:s,s:s,s:[s,s,s],s:o}", "name", name, "op",
                                           conv ? "_FusedConv2D" : "_FusedMatMul", "input", input, w, b, "attr",
                                           attr));
}

static void add_pool(json_t *nodes, const char *name, const char *input)
{
    json_t *attr = json_object();
    json_object_set_new(attr, "T", json_pack("{s:s}", "type", "DT_FLOAT"));
    json_object_set_new(attr, "ksize", attr_ints(1, 2, 2, 1));
    json_object_set_new(attr, "strides", attr_ints(1, 2, 2, 1));
    json_object_set_new(attr, "padding", attr_s("VALID"));
    json_object_set_new(attr, "data_format", attr_s("NHWC"));
    json_array_append_new(nodes, json_pack("{s:s,s:s,s:[s],s:o}", "name", name, "op", "MaxPool", "input", input,
                                           "attr", attr));
}

int fmnist_net_save_tfjs(const fmnist_net *net, const char *json_path, const char *bin_path, const char *bin_file,
                         const char *meta_json, err *e)
{
    const fmnist_arch *a = &net->a;
    const float *P = net->params;
    const size_t *o = net->off;
    json_t *meta = NULL;
    if (meta_json) {
        json_error_t je;
        meta = json_loads(meta_json, 0, &je);
        if (!meta) return err_set(e, "fmnist_net_save_tfjs: metadata is not JSON: %s", je.text);
    }
    json_t *nodes = json_array(), *mw = json_array();
    buf bin = {0};
    int in_shape[4] = {-1, 28, 28, 3};
    json_array_append_new(nodes, json_pack("{s:s,s:s,s:{s:{s:o},s:{s:s}}}", "name", "input", "op", "Placeholder",
                                           "attr", "shape", "shape", dims_json(in_shape, 4), "dtype", "type",
                                           "DT_FLOAT"));
    /* conv1 takes RGB 0..255: each grey weight spread over R, G, B and divided by 3*255 */
    float *w1 = xmalloc(sizeof(float) * 27 * (size_t)a->c1);
    for (int k = 0; k < 9; k++)
        for (int ch = 0; ch < 3; ch++)
            for (int c = 0; c < a->c1; c++)
                w1[((size_t)k * 3 + ch) * a->c1 + c] = P[o[T_W1] + (size_t)k * a->c1 + c] / 765.0f;
    int s4[4], s1[1], s2[2];
    s4[0] = 3, s4[1] = 3, s4[2] = 3, s4[3] = a->c1;
    add_const(nodes, mw, &bin, "conv1/weights", s4, 4, w1, NULL);
    free(w1);
    const int cin[4] = {3, a->c1, a->c2, a->c3}, cout[4] = {a->c1, a->c2, a->c3, a->c4};
    const char *cname[4] = {"conv1", "conv2", "conv3", "conv4"};
    const char *cin_name[4] = {"input", "conv1", "pool1", "conv3"};
    for (int i = 0; i < 4; i++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "%s/weights", cname[i]);
        snprintf(bn, sizeof bn, "%s/bias", cname[i]);
        if (i > 0) {
            s4[0] = 3, s4[1] = 3, s4[2] = cin[i], s4[3] = cout[i];
            add_const(nodes, mw, &bin, wn, s4, 4, P + o[T_W1 + 2 * i], NULL);
        }
        s1[0] = cout[i];
        add_const(nodes, mw, &bin, bn, s1, 1, P + o[T_B1 + 2 * i], NULL);
        add_fused(nodes, cname[i], cin_name[i], wn, bn, 1, 1);
        if (i == 1) add_pool(nodes, "pool1", "conv2");
        if (i == 3) add_pool(nodes, "pool2", "conv4");
    }
    int32_t flat[2] = {-1, 49 * a->c4};
    s1[0] = 2;
    add_const(nodes, mw, &bin, "flatten/shape", s1, 1, NULL, flat);
    json_array_append_new(nodes, json_pack("{s:s,s:s,s:[s,s],s:{s:{s:s},s:{s:s}}}", "name", "flatten", "op",
                                           "Reshape", "input", "pool2", "flatten/shape", "attr", "T", "type",
                                           "DT_FLOAT", "Tshape", "type", "DT_INT32"));
    s2[0] = 49 * a->c4, s2[1] = a->fc;
    add_const(nodes, mw, &bin, "fc1/weights", s2, 2, P + o[T_WF1], NULL);
    s1[0] = a->fc;
    add_const(nodes, mw, &bin, "fc1/bias", s1, 1, P + o[T_BF1], NULL);
    add_fused(nodes, "fc1", "flatten", "fc1/weights", "fc1/bias", 0, 1);
    s2[0] = a->fc, s2[1] = FMNIST_CLASSES;
    add_const(nodes, mw, &bin, "logits/weights", s2, 2, P + o[T_WF2], NULL);
    s1[0] = FMNIST_CLASSES;
    add_const(nodes, mw, &bin, "logits/bias", s1, 1, P + o[T_BF2], NULL);
    add_fused(nodes, "logits", "fc1", "logits/weights", "logits/bias", 0, 0);

    json_t *classes = json_array();
    for (int i = 0; i < FMNIST_CLASSES; i++) json_array_append_new(classes, json_string(class_names[i]));
    json_t *md = json_pack("{s:{s:s,s:s,s:s,s:s,s:o}}", "fmnist", "input",
                           "RGB 0..255, 28x28; grey images as R=G=B (the network averages the channels)",
                           "output", "logits", "hidden", "fc1", "arch",
                           "conv-conv-pool-conv-conv-pool-fc-fc", "classes", classes);
    json_t *fm = json_object_get(md, "fmnist");
    json_object_set_new(fm, "channels", json_pack("[i,i,i,i,i]", a->c1, a->c2, a->c3, a->c4, a->fc));
    if (meta) json_object_set(fm, "training", meta);
    json_t *root = json_pack("{s:s,s:s,s:n,s:{s:o,s:{},s:{s:i}},s:[{s:[s],s:o}],s:o}", "format", "graph-model",
                             "generatedBy", "fv-train", "convertedBy", "modelTopology", "node", nodes, "library",
                             "versions", "producer", 1, "weightsManifest", "paths", bin_file, "weights", mw,
                             "userDefinedMetadata", md);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    int rc = -1;
    if (!text) {
        err_set(e, "%s: cannot serialize the model JSON", json_path);
    } else {
        size_t tl = strlen(text);
        text = xrealloc(text, tl + 2);
        text[tl] = '\n', text[tl + 1] = 0;
        if (write_file_atomic(bin_path, bin.data ? bin.data : "", bin.len, e) == 0 &&
            write_file_atomic(json_path, text, tl + 1, e) == 0)
            rc = 0;
    }
    free(text);
    json_decref(root);
    json_decref(meta);
    buf_free(&bin);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Output directories */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int fmnist_dir_begin(const char *out_dir, char **tmp, err *e)
{
    char *parent = xstrdup(out_dir);
    char *slash = strrchr(parent, '/');
    int rc = 0;
    if (slash && slash != parent) {
        *slash = 0;
        rc = mkdir_p(parent, e);
    }
    free(parent);
    if (rc != 0) return -1;
    char *t = xasprintf("%s.tmp.%d", out_dir, (int)getpid());
    rm_tree(t);
    if (mkdir(t, 0755) != 0) {
        err_set(e, "%s: cannot create: %s", t, strerror(errno));
        free(t);
        return -1;
    }
    *tmp = t;
    return 0;
}

int fmnist_dir_publish(const char *tmp, const char *out_dir, err *e)
{
    if (rename(tmp, out_dir) == 0) return 0;
    char *old = xasprintf("%s.old.%d", out_dir, (int)getpid());
    int rc = 0;
    if (rename(out_dir, old) != 0 || rename(tmp, out_dir) != 0)
        rc = err_set(e, "%s: cannot publish %s: %s", out_dir, tmp, strerror(errno));
    else
        rm_tree(old);
    free(old);
    if (rc != 0) rm_tree(tmp);
    return rc;
}

void fmnist_dir_abort(const char *tmp)
{
    if (tmp) rm_tree(tmp);
}
