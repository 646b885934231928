/* nn_garena — where each gradient lives in the gradient arena. A tensor's gradient is needed only
 * between the first backward step that touches it (its last consumer, which writes it) and the
 * last (its producer, which reads it), so tensors whose lives do not overlap share memory. With a
 * slot each, a batch of 4 at 136 px had 50 MB of gradients, written once each into memory the
 * caches had long lost (each write first read the line from DRAM); shared, the pass writes over
 * the few MB it used a moment before. */
#include <stdlib.h>

#include "nn_steps.h"
#include "util.h"

int nn_grad_share = 1;

typedef struct life {
    int t;
    size_t size;  /* floats, a multiple of 16 */
    int lo, hi;   /* step indices; the backward runs from hi down to lo */
    size_t off;
} life;

static int by_size(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->t - y->t;
}

static int by_off(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Widens t's life to step k. */
static void extend(life *l, int t, int k)
{
    if (!l[t].size) return;
    if (k < l[t].lo) l[t].lo = k;
    if (k > l[t].hi) l[t].hi = k;
}

size_t nn_grad_layout(nn_plan *p, size_t *goff)
{
    int n = p->n_t, start = p->n_s, end = -1;
    life *l = xcalloc((size_t)n, sizeof *l);
    for (int t = 0; t < n; t++) {
        l[t].t = t, l[t].lo = start + 1, l[t].hi = end - 1; /* empty */
        if (!p->t[t].is_const && p->t[t].needs_grad) l[t].size = (p->t[t].size + 15) & ~(size_t)15;
    }
    if (!nn_grad_share) { /* a slot each (the tests' reference) */
        size_t at = 0;
        for (int t = 0; t < n; t++) goff[t] = at, at += l[t].size;
        free(l);
        return at;
    }
    /* Every step touches its output's gradient and its inputs' (a fused residual is an input)
     * and a gated depthwise conv its gate tensor's; a step the backward skips is counted all
     * the same, which can only lengthen a life. */
    for (int k = 0; k < p->n_s; k++) {
        const step *s = &p->s[k];
        extend(l, s->out, k);
        for (int j = 0; j < s->n_in; j++) extend(l, s->in[j], k);
        if (s->gate) extend(l, s->gate_t, k);
    }
    for (int t = 0; t < n; t++) {
        if (!l[t].size) continue;
        /* zeroed before the first step (the outputs, whose gradients the caller seeds), or read
         * by the caller after the last (the input's: its consumers already reach step 0 in a
         * plan of any steps, so this only matters for an input no step reads) */
        if (p->t[t].zero_step < 0 || l[t].lo > l[t].hi) extend(l, t, start);
        if (t == p->in_t) extend(l, t, end);
    }
    /* Greedy by size (as TensorFlow Lite places its activations): the largest first, each at the
     * lowest offset clear of every placed gradient whose life overlaps its own. */
    life **ord = xmalloc(sizeof *ord * (size_t)(n ? n : 1)), **near = xmalloc(sizeof *near * (size_t)(n ? n : 1));
    int m = 0;
    for (int t = 0; t < n; t++)
        if (l[t].size) ord[m++] = &l[t];
    qsort(ord, (size_t)m, sizeof *ord, by_size);
    size_t len = 0;
    for (int i = 0; i < m; i++) {
        life *a = ord[i];
        int c = 0;
        for (int j = 0; j < i; j++) /* ord[0 .. i) are placed */
            if (ord[j]->lo <= a->hi && a->lo <= ord[j]->hi) near[c++] = ord[j];
        qsort(near, (size_t)c, sizeof *near, by_off);
        size_t at = 0;
        for (int j = 0; j < c; j++) {
            if (near[j]->off >= at + a->size) break; /* the gap before it is wide enough */
            if (near[j]->off + near[j]->size > at) at = near[j]->off + near[j]->size;
        }
        a->off = at;
        if (at + a->size > len) len = at + a->size;
    }
    for (int t = 0; t < n; t++) goff[t] = l[t].off;
    free(near);
    free(ord);
    free(l);
    return len;
}
