/* fv_opt — parameterization + transforms + Adam around a network callback. */
#include "fv_opt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fv_objective.h"
#include "pool.h"

struct fv_opt {
    fv_opt_config c;
    fv_img_obj *img_objs;
    float *wts_store;
    rng_state rng;
    fv_param *param;
    fv_transform *tr;
    int n, h, w, th, tw;
    float *img, *dimg, *x, *dx, *dimg2;
    float *m, *v; /* Adam moments */
    long t;
};

int fv_opt_new(const fv_opt_config *c, fv_opt **out, err *e)
{
    *out = NULL;
    fv_opt *o = xcalloc(1, sizeof *o);
    o->c = *c;
    o->n = c->param.n;
    o->h = c->param.h;
    o->w = c->param.w;
    o->img_objs = xcalloc((size_t)c->n_img_objs + 1, sizeof *o->img_objs);
    o->wts_store = xcalloc((size_t)c->n_img_objs * o->n + 1, sizeof(float));
    for (int i = 0; i < c->n_img_objs; i++) {
        o->img_objs[i].kind = c->img_objs[i].kind;
        memcpy(o->wts_store + (size_t)i * o->n, c->img_objs[i].wts, sizeof(float) * o->n);
        o->img_objs[i].wts = o->wts_store + (size_t)i * o->n;
    }
    o->c.img_objs = o->img_objs;
    o->c.ops = NULL; /* not kept: the chain copies them */
    rng_seed(&o->rng, c->seed);
    if (fv_param_new(&c->param, &o->rng, &o->param, e) != 0) goto fail;
    if (fv_transform_new(c->ops, c->n_ops, o->n, o->h, o->w, &o->tr, e) != 0) goto fail;
    fv_transform_out_size(o->tr, &o->th, &o->tw);
    size_t ni = (size_t)o->n * o->h * o->w * 3, nt = (size_t)o->n * o->th * o->tw * 3;
    o->img = xmalloc(sizeof(float) * ni);
    o->dimg = xmalloc(sizeof(float) * ni);
    o->dimg2 = xmalloc(sizeof(float) * ni);
    o->x = xmalloc(sizeof(float) * nt);
    o->dx = xmalloc(sizeof(float) * nt);
    size_t np = fv_param_count(o->param);
    o->m = xcalloc(np, sizeof(float));
    o->v = xcalloc(np, sizeof(float));
    *out = o;
    return 0;
fail:
    fv_opt_free(o);
    return -1;
}

void fv_opt_net_size(const fv_opt *o, int *h, int *w)
{
    *h = o->th;
    *w = o->tw;
}

/* One Adam update of the np parameters p (ascending) from gradient g and moments m, v, on
 * restrict pointers and cloned per vector width so that it vectorizes (the Makefile builds this
 * file with the dynamic cost model and without errno for sqrtf, which never sees v < 0; scalar, it
 * was 5 % of a 128 px render step). Lanes are independent: every width gives the same bytes. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void adam(float *restrict m, float *restrict v, float *restrict p, const float *restrict g, size_t np,
                 double b1, double b2, float lr, float eps)
{
    for (size_t i = 0; i < np; i++) {
        m[i] = (float)(b1 * m[i] + (1 - b1) * g[i]);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
        p[i] += lr * m[i] / (sqrtf(v[i]) + eps);
    }
}

/* The step's passes over whole images and over the parameters, split across the engine's pool
 * (elementwise: the same values for any split). */
typedef struct par_job {
    int op; /* 0: a *= 255, 1: a += b, 2: Adam */
    float *a;
    const float *b;
    float *m, *v;
    double b1, b2;
    float lr, eps;
} par_job;

#define PAR_BLOCK 4096 /* floats per item */

static void par_items(void *ctx, int i0, int i1)
{
    const par_job *j = ctx;
    size_t lo = (size_t)i0 * PAR_BLOCK, n = (size_t)(i1 - i0) * PAR_BLOCK;
    switch (j->op) {
    case 0:
        for (size_t i = lo; i < lo + n; i++) j->a[i] *= 255.0f;
        break;
    case 1:
        for (size_t i = lo; i < lo + n; i++) j->a[i] += j->b[i];
        break;
    default: adam(j->m + lo, j->v + lo, j->a + lo, j->b + lo, n, j->b1, j->b2, j->lr, j->eps); break;
    }
}

/* j over [0, count): whole blocks on the pool, the tail here. */
static void par_run(par_job *j, size_t count)
{
    size_t blocks = count / PAR_BLOCK, tail = blocks * PAR_BLOCK;
    if (blocks) pool_for_chunks((int)blocks, POOL_JOBS, par_items, j);
    if (tail == count) return;
    par_job t = *j;
    t.a += tail;
    if (t.b) t.b += tail;
    if (t.m) t.m += tail, t.v += tail;
    size_t rest = count - tail;
    switch (t.op) {
    case 0:
        for (size_t i = 0; i < rest; i++) t.a[i] *= 255.0f;
        break;
    case 1:
        for (size_t i = 0; i < rest; i++) t.a[i] += t.b[i];
        break;
    default: adam(t.m, t.v, t.a, t.b, rest, t.b1, t.b2, t.lr, t.eps); break;
    }
}

int fv_opt_step(fv_opt *o, fv_net_fn net, void *ctx, double *value, double *img_vals, err *e)
{
    int n = o->n;
    size_t ni = (size_t)n * o->h * o->w * 3, nt = (size_t)n * o->th * o->tw * 3;
    fv_param_forward(o->param, o->img);
    memset(o->dimg, 0, sizeof(float) * ni);
    double total = 0;
    double *vals = xmalloc(sizeof(double) * (size_t)n);
    for (int k = 0; k < o->c.n_img_objs; k++) {
        const fv_img_obj *io = &o->img_objs[k];
        switch (io->kind) {
        case FV_IMG_L1: fv_obj_l1(o->img, n, o->h, o->w, io->wts, vals, o->dimg); break;
        case FV_IMG_TV: fv_obj_tv(o->img, n, o->h, o->w, io->wts, vals, o->dimg); break;
        case FV_IMG_BLUR: fv_obj_blur(o->img, n, o->h, o->w, io->wts, vals, o->dimg); break;
        }
        for (int b = 0; b < n; b++) {
            total += io->wts[b] * vals[b];
            if (img_vals) img_vals[(size_t)k * n + b] = vals[b];
        }
    }
    free(vals);
    fv_transform_sample(o->tr, &o->rng);
    fv_transform_forward(o->tr, o->img, o->x);
    par_job sx = {.op = 0, .a = o->x};
    par_run(&sx, nt);
    double nv = 0;
    if (net(ctx, o->x, n, o->th, o->tw, o->dx, &nv, e) != 0) return -1;
    total += nv;
    par_job sd = {.op = 0, .a = o->dx};
    par_run(&sd, nt);
    fv_transform_backward(o->tr, o->dx, o->dimg2);
    par_job ad = {.op = 1, .a = o->dimg, .b = o->dimg2};
    par_run(&ad, ni);
    fv_param_backward(o->param, o->dimg);
    /* Adam, ascending J */
    o->t++;
    const float *g = fv_param_grad(o->param);
    float *p = fv_param_values(o->param);
    size_t np = fv_param_count(o->param);
    double b1 = o->c.beta1, b2 = o->c.beta2;
    double c1 = 1.0 - pow(b1, (double)o->t), c2 = 1.0 - pow(b2, (double)o->t);
    float lr = (float)(o->c.lr * sqrt(c2) / c1), eps = (float)(o->c.eps * sqrt(c2));
    par_job aj = {.op = 2, .a = p, .b = g, .m = o->m, .v = o->v, .b1 = b1, .b2 = b2, .lr = lr, .eps = eps};
    par_run(&aj, np);
    *value = total;
    return 0;
}

void fv_opt_image(fv_opt *o, float *img) { fv_param_forward(o->param, img); }

void fv_opt_free(fv_opt *o)
{
    if (!o) return;
    fv_param_free(o->param);
    fv_transform_free(o->tr);
    free(o->img_objs);
    free(o->wts_store);
    free(o->img);
    free(o->dimg);
    free(o->dimg2);
    free(o->x);
    free(o->dx);
    free(o->m);
    free(o->v);
    free(o);
}
