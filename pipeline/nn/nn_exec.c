/* nn_exec — the executor: runs a plan's steps forward, and backward from the output gradients
 * to the input gradient; and the thread count its kernels use. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "nn_steps.h"
#include "pool.h"
#include "util.h"

static int g_threads_set;

int nn_plan_forward(nn_plan *p, err *e)
{
    (void)e;
    for (int k = 0; k < p->n_s; k++) {
        double t0 = p->timing ? now_seconds() : 0;
        step *s = &p->s[k];
        tensor *o = &p->t[s->out];
        const tensor *x = &p->t[s->in[0]];
        switch (s->kind) {
        case K_CONV:
            if (s->pk) {
                nn_hswish_out hs = {s->hs_t >= 0 ? p->t[s->hs_t].val : NULL, s->ha, s->hc, o->mask,
                                    (o->shape[3] + 15) / 16, s->act == NN_ACT_RELU6};
                nn_conv_fwd_packed(&s->g, s->pk, x->val, s->b, s->act, s->res >= 0 ? p->t[s->res].val : NULL, o->val,
                                   p->col, hs.out || hs.mask ? &hs : NULL);
            }
            else
                nn_conv_fwd(&s->g, x->val, s->w, s->b, s->act, o->val, p->col);
            break;
        case K_DWCONV:
            if (s->hs_t >= 0) {
                nn_hswish_out hs = {.out = p->t[s->hs_t].val, .a = s->ha, .c = s->hc};
                nn_dwconv_fwd_hs(&s->g, x->val, s->w, s->b, s->act, o->val, &hs);
            } else
                nn_dwconv_fwd(&s->g, x->val, s->w, s->b, s->act, o->val);
            break;
        case K_ADD:
        case K_MUL: {
            const tensor *y = &p->t[s->in[1]];
            nn_binary_fwd(s->kind == K_ADD ? NN_ADD : NN_MUL, x->shape, x->val, y->shape, y->val, o->shape, o->val);
            break;
        }
        case K_RELU:
        case K_RELU6:
            nn_relu_fwd(s->act, x->val, o->val, o->size);
            break;
        case K_HSWISH:
            if (!s->fwd_skip) nn_hswish_fwd(s->ha, s->hc, x->val, o->val, o->size);
            break;
        case K_SIGMOID:
            nn_sigmoid_fwd(x->val, o->val, o->size);
            break;
        case K_IDENTITY:
            memcpy(o->val, x->val, sizeof(float) * o->size);
            break;
        case K_MEAN:
            nn_mean_hw_fwd(x->shape[0], x->shape[1], x->shape[2], x->shape[3], x->val, o->val);
            break;
        case K_CONCAT:
            for (int j = 0; j < s->n_in; j++) s->xs[j] = p->t[s->in[j]].val;
            nn_concat_fwd(s->n_in, s->xs, s->cs, (size_t)o->shape[0] * o->shape[1] * o->shape[2], o->val);
            break;
        case K_RESIZE: {
            const node *nd = &p->m->nodes[s->node];
            nn_resize_fwd(x->shape[0], x->shape[1], x->shape[2], x->shape[3], x->val, s->oh, s->ow,
                          nd->align_corners, nd->half_pixel, o->val);
            break;
        }
        case K_MAXPOOL:
            nn_maxpool_fwd(&s->g, x->val, o->val);
            break;
        default:
            break;
        }
        if (p->timing) s->t_fwd += now_seconds() - t0;
    }
    p->forwarded = 1;
    return 0;
}

int nn_plan_backward(nn_plan *p, err *e)
{
    if (!p->forwarded) return err_set(e, "nn_plan_backward: no forward pass has been run on this plan");
    if (!p->garena) {
        size_t *goff = xmalloc(sizeof *goff * (size_t)p->n_t);
        p->garena = nn_arena_alloc(nn_grad_layout(p, goff) + 16);
        for (int k = 0; k < p->n_t; k++)
            if (!p->t[k].is_const && p->t[k].needs_grad) p->t[k].grad = p->garena + goff[k];
        free(goff);
    }
    for (int k = 0; k < p->n_t; k++)
        if (p->t[k].grad && p->t[k].zero_step < 0) memset(p->t[k].grad, 0, sizeof(float) * p->t[k].size);
    for (int k = 0; k < p->n_out; k++) {
        tensor *t = &p->t[p->out_t[k]];
        if (!t->needs_grad) continue;
        const float *g = p->out_grad[k];
        for (size_t i = 0; i < t->size; i++) t->grad[i] += g[i];
    }
    for (int k = p->n_s - 1; k >= 0; k--) {
        step *s = &p->s[k];
        tensor *o = &p->t[s->out];
        if (!o->needs_grad || s->bwd_skip) continue; /* bwd_skip: done by the step that fused it */
        double t0 = p->timing ? now_seconds() : 0;
        /* the first writer of an input's gradient (this step is the input's last consumer) has
         * the kernel overwrite instead of add where it can, and the zeroing is skipped */
        int can = s->kind == K_CONV || s->kind == K_DWCONV || s->kind == K_HSWISH || s->kind == K_RELU ||
                  s->kind == K_RELU6 || s->kind == K_IDENTITY;
        int overwrite = can && p->t[s->in[0]].zero_step == k;
        /* an Add's operand of the output's shape takes dy by a copy (Add(x, x) excepted) */
        int copy[2] = {0, 0};
        if (s->kind == K_CONV && s->res >= 0) copy[1] = p->t[s->res].grad && p->t[s->res].zero_step == k;
        /* a Mul's first operand of the output's shape (the squeeze-excite scale's x): its gradient
         * is set by the kernel, not zeroed then added to (a pass over memory less) */
        const tensor *x0 = &p->t[s->in[0]];
        int set0 = s->kind == K_MUL && s->in[0] != s->in[1] && x0->grad && x0->zero_step == k && x0->size == o->size;
        if (s->kind == K_ADD && s->in[0] != s->in[1])
            for (int j = 0; j < 2; j++) {
                const tensor *t = &p->t[s->in[j]];
                copy[j] = t->grad && t->zero_step == k && t->size == o->size;
            }
        for (int j = overwrite; j < s->n_in; j++) {
            tensor *t = &p->t[s->in[j]];
            if (t->grad && t->zero_step == k && !(j < 2 && copy[j]) && !(j == 0 && set0))
                memset(t->grad, 0, sizeof(float) * t->size);
        }
        tensor *x = &p->t[s->in[0]];
        float *dx = x->grad; /* NULL when no gradient flows into x */
        switch (s->kind) {
        case K_CONV:
            if (s->res >= 0 && p->t[s->res].grad) { /* the fused Add: the residual's share */
                nn_accumulate(p->t[s->res].grad, o->grad, o->size, !copy[1]);
            }
            /* o->grad is complete here (all consumers come later in the schedule), so the fused
             * activation can be undone in place (unless its consumer did: act_done) */
            if (!s->act_done) nn_act_bwd(s->act, o->val, o->grad, o->size);
            if (dx && s->pk)
                nn_conv_bwd_packed(&s->g, s->pk, o->grad, dx, p->col, !overwrite);
            else if (dx)
                nn_conv_bwd(&s->g, o->grad, s->w, dx, p->col, !overwrite);
            break;
        case K_DWCONV:
            if (!s->act_done) nn_act_bwd(s->act, o->val, o->grad, o->size);
            if (dx && s->gate) {
                const tensor *gt = &p->t[s->gate_t];
                nn_dwconv_bwd_gated(&s->g, o->grad, s->w, gt->grad, s->gate, gt->val, gt->mask, s->ga, s->gc);
            } else if (dx)
                nn_dwconv_bwd(&s->g, o->grad, s->w, dx, !overwrite);
            break;
        case K_ADD:
        case K_MUL: {
            tensor *y = &p->t[s->in[1]];
            float *db = y->grad;
            if (copy[0]) memcpy(dx, o->grad, sizeof(float) * o->size), dx = NULL;
            if (copy[1]) memcpy(db, o->grad, sizeof(float) * o->size), db = NULL;
            if (dx || db)
                nn_binary_bwd(s->kind == K_ADD ? NN_ADD : NN_MUL, x->shape, x->val, y->shape, y->val, o->shape,
                              o->grad, dx, db, set0);
            break;
        }
        case K_RELU:
        case K_RELU6:
            if (dx) nn_relu_bwd(s->act, x->val, o->grad, dx, o->size, !overwrite);
            break;
        case K_HSWISH:
            if (dx) nn_hswish_bwd(s->ha, s->hc, x->val, o->grad, dx, o->size, !overwrite);
            break;
        case K_SIGMOID:
            if (dx) nn_sigmoid_bwd(o->val, o->grad, dx, o->size);
            break;
        case K_IDENTITY:
            if (dx && overwrite)
                memcpy(dx, o->grad, sizeof(float) * o->size);
            else if (dx)
                for (size_t i = 0; i < o->size; i++) dx[i] += o->grad[i];
            break;
        case K_MEAN:
            if (dx) nn_mean_hw_bwd(x->shape[0], x->shape[1], x->shape[2], x->shape[3], o->grad, dx);
            break;
        case K_CONCAT:
            for (int j = 0; j < s->n_in; j++) s->dxs[j] = p->t[s->in[j]].grad;
            nn_concat_bwd(s->n_in, s->dxs, s->cs, (size_t)o->shape[0] * o->shape[1] * o->shape[2], o->grad);
            break;
        case K_RESIZE: {
            const node *nd = &p->m->nodes[s->node];
            if (dx)
                nn_resize_bwd(x->shape[0], x->shape[1], x->shape[2], x->shape[3], dx, s->oh, s->ow,
                              nd->align_corners, nd->half_pixel, o->grad);
            break;
        }
        case K_MAXPOOL:
            if (dx) nn_maxpool_bwd(&s->g, x->val, o->grad, dx);
            break;
        default:
            break;
        }
        if (p->timing) s->t_bwd += now_seconds() - t0;
    }
    return 0;
}

/* OpenBLAS's pthread build: stops its worker threads (it starts them again if a product is ever
 * asked to run on several). Weak: a BLAS without it has nothing to stop. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void nn_set_threads(int n)
{
    if (n < 1) n = 1;
    g_threads_set = 1;
    /* OpenBLAS single-threaded: nn_ops splits each GEMM across its own pool of n threads, so
     * that two sets of threads never compete for the cores. Its workers, started when the
     * library loaded (OPENBLAS_NUM_THREADS > 1, or unset), spin for some 80 ms before they sleep,
     * on the cores this pool is about to use: stopped here instead. */
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    pool_set_threads(n);
}

int nn_threads_from_env(void) { return threads_from_env(); }

/* See nn_steps.h. */
int nn_set_threads_default(void)
{
    if (!g_threads_set) {
        int n = nn_threads_from_env();
        nn_set_threads(n > 0 ? n : 1);
    }
    return 0;
}

