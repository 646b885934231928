/* nn_fuse — the plan's fusions: neighbouring steps whose work one kernel can do in a single pass
 * over a tensor (with the AVX-512 kernels), the same values as the steps apart. Run by
 * nn_plan_new on the finished schedule. */
#include <stdlib.h>

#include "nn_simd.h"
#include "nn_steps.h"

/* Residual connections: an Add of a packed convolution's output (no activation, no other
 * consumer, not a requested output) and a tensor of the same shape computed before it runs in the
 * convolution's epilogue (nn_conv_fwd_packed's res), and the Add step is left out (K_FUSED): a
 * pass over the tensor less forward, and in the backward the convolution reads the Add's output
 * gradient as its own (they are equal) and passes it on to the residual. The same values as the
 * two ops. Recomputes the backward's zeroing points (zero_step) for the new inputs. */
void nn_fuse_residuals(nn_plan *p)
{
    int *uses = xcalloc((size_t)p->n_t, sizeof(int)), *made_by = xmalloc(sizeof(int) * (size_t)p->n_t);
    for (int t = 0; t < p->n_t; t++) made_by[t] = -1;
    for (int k = 0; k < p->n_s; k++) {
        made_by[p->s[k].out] = k;
        for (int j = 0; j < p->s[k].n_in; j++) uses[p->s[k].in[j]]++;
    }
    for (int k = 0; k < p->n_out; k++) uses[p->out_t[k]]++; /* an output is used by the caller */
    for (int k = 0; k < p->n_s; k++) {
        step *a = &p->s[k];
        if (a->kind != K_ADD || a->in[0] == a->in[1]) continue;
        for (int side = 0; side < 2; side++) {
            int ct = a->in[side], rt = a->in[1 - side], c = made_by[ct];
            if (c < 0) continue;
            step *cv = &p->s[c];
            if (cv->kind != K_CONV || !cv->pk || cv->act != NN_ACT_NONE || cv->res >= 0 || uses[ct] != 1) continue;
            if (p->t[rt].size != p->t[ct].size || p->t[a->out].size != p->t[ct].size) continue;
            if (made_by[rt] >= c || rt == cv->in[0]) continue; /* the residual must exist before */
            int *in = xrealloc(cv->in, sizeof(int) * 3);
            in[1] = rt;
            cv->in = in, cv->n_in = 2, cv->res = rt, cv->out = a->out;
            made_by[a->out] = c;
            a->kind = K_FUSED, a->n_in = 0, a->opname = "Add (fused)";
            break;
        }
    }
    for (int t = 0; t < p->n_t; t++) p->t[t].zero_step = -1;
    for (int k = 0; k < p->n_s; k++)
        for (int j = 0; j < p->s[k].n_in; j++) p->t[p->s[k].in[j]].zero_step = k;
    for (int k = 0; k < p->n_out; k++) p->t[p->out_t[k]].zero_step = -1; /* as nn_plan_new sets them */
    free(uses);
    free(made_by);
}

/* Activation derivatives fused into the depthwise input gradient after them (with the AVX-512
 * kernels): where a depthwise conv (multiplier 1) is the only consumer of a Relu/Relu6 conv's
 * output, or of a hard swish whose input has no other consumer, its backward writes the gradient
 * already through that activation's derivative (nn_dwconv_bwd_gated), into the conv output's
 * gradient or the hard swish input's, and the activation's own backward pass is skipped: one pass
 * over the tensor less, the same values. */
void nn_fuse_gates(nn_plan *p)
{
    if (!nn_ops_simd_available()) return;
    int *uses = xcalloc((size_t)p->n_t, sizeof(int)), *made_by = xmalloc(sizeof(int) * (size_t)p->n_t);
    for (int t = 0; t < p->n_t; t++) made_by[t] = -1;
    for (int k = 0; k < p->n_s; k++) {
        made_by[p->s[k].out] = k;
        for (int j = 0; j < p->s[k].n_in; j++) uses[p->s[k].in[j]]++;
    }
    for (int k = 0; k < p->n_out; k++) uses[p->out_t[k]]++;
    for (int k = 0; k < p->n_s; k++) {
        step *d = &p->s[k];
        if (d->kind != K_DWCONV || d->g.cout != d->g.cin || d->g.kh * d->g.kw > 64) continue;
        int y = d->in[0], pk = made_by[y];
        if (pk < 0 || uses[y] != 1) continue;
        step *pr = &p->s[pk];
        if (pr->kind == K_CONV && (pr->act == NN_ACT_RELU || pr->act == NN_ACT_RELU6)) {
            d->gate = pr->act == NN_ACT_RELU ? NN_GATE_RELU : NN_GATE_RELU6, d->gate_t = y;
            pr->act_done = 1;
            /* a packed conv also writes the signs the gate reads: 4.7 MB of floats at a batch of
             * 4 for expanded_conv_1, long out of cache when the backward comes, against 147 KB */
            tensor *yt = &p->t[y];
            if (pr->pk && !yt->mask)
                yt->mask = xcalloc(yt->size / (size_t)yt->shape[3] * (size_t)((yt->shape[3] + 15) / 16), sizeof(uint16_t));
        } else if (pr->kind == K_HSWISH && made_by[pr->in[0]] >= 0 && uses[pr->in[0]] == 1) {
            d->gate = NN_GATE_HSWISH, d->gate_t = pr->in[0], d->ga = pr->ha, d->gc = pr->hc;
            pr->bwd_skip = 1;
        }
    }
    free(uses);
    free(made_by);
}

/* Hard swish forwards fused into the kernel before them (with the AVX-512 kernels): a packed conv
 * or a depthwise conv (multiplier 1) writes the hard swish of its output beside it, as it stores
 * it (nn_hswish_out), and the hard swish step's forward is skipped: a pass less, the same
 * values. The conv's own output stays: the hard swish's backward reads it. */
void nn_fuse_hswish(nn_plan *p)
{
    if (!nn_ops_simd_available()) return;
    int *made_by = xmalloc(sizeof(int) * (size_t)p->n_t);
    for (int t = 0; t < p->n_t; t++) made_by[t] = -1;
    for (int k = 0; k < p->n_s; k++) made_by[p->s[k].out] = k;
    for (int k = 0; k < p->n_s; k++) {
        step *h = &p->s[k];
        if (h->kind != K_HSWISH || made_by[h->in[0]] < 0) continue;
        step *pr = &p->s[made_by[h->in[0]]];
        int ok = (pr->kind == K_CONV && pr->pk) ||
                 (pr->kind == K_DWCONV && pr->g.cout == pr->g.cin && pr->g.kh * pr->g.kw <= 64);
        if (!ok || pr->hs_t >= 0) continue;
        pr->hs_t = h->out, pr->ha = h->ha, pr->hc = h->hc;
        h->fwd_skip = 1;
    }
    free(made_by);
}
