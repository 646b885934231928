/* nn_layout — where each tensor lives in the plan's two arenas. A tensor's value is needed from
 * the step that writes it to the last step that reads it, forward, or until the backward when a
 * backward step reads it (nn_exec.c); its gradient from its last consumer's backward step, which
 * writes it, to its producer's, which reads it. Tensors whose lives do not overlap share memory.
 * With a slot each, a batch of 4 at 136 px had 50 MB of gradients and as much of values, each
 * written once into memory the caches had long lost (a write first reads the line from DRAM);
 * shared, a pass writes over memory it used a moment before. */
#include <stdlib.h>

#include "nn_steps.h"
#include "util.h"

int nn_share_memory = 1;

typedef struct life {
    int t;
    size_t size;  /* floats, a multiple of 16 (each tensor starts a cache line); 0: no slot */
    int lo, hi;   /* the steps (times) between which it is needed, both included */
    size_t off;
} life;

/* Orders lives by when they start (then by tensor), or by when they end. */
static int by_lo(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : x->t - y->t;
}
static int by_hi(const void *a, const void *b)
{
    const life *x = *(const life *const *)a, *y = *(const life *const *)b;
    return x->hi != y->hi ? (x->hi < y->hi ? -1 : 1) : x->t - y->t;
}

/* The free blocks of an arena, by offset, neighbours merged. */
typedef struct freelist {
    size_t *off, *len;
    int n, cap;
} freelist;

/* Returns [at, at + len) to the list, merged with the blocks it touches. */
static void fl_free(freelist *f, size_t at, size_t len)
{
    int i = 0;
    while (i < f->n && f->off[i] < at) i++;
    if (i > 0 && f->off[i - 1] + f->len[i - 1] == at) { /* joins the block before */
        f->len[i - 1] += len;
        if (i < f->n && at + len == f->off[i]) { /* and the one after */
            f->len[i - 1] += f->len[i];
            for (int k = i; k + 1 < f->n; k++) f->off[k] = f->off[k + 1], f->len[k] = f->len[k + 1];
            f->n--;
        }
        return;
    }
    if (i < f->n && at + len == f->off[i]) { /* joins the block after */
        f->off[i] = at, f->len[i] += len;
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->off = xrealloc(f->off, sizeof *f->off * (size_t)f->cap);
        f->len = xrealloc(f->len, sizeof *f->len * (size_t)f->cap);
    }
    for (int k = f->n; k > i; k--) f->off[k] = f->off[k - 1], f->len[k] = f->len[k - 1];
    f->off[i] = at, f->len[i] = len, f->n++;
}

/* The lowest free block of len floats (the arena grows at *end when none is big enough). */
static size_t fl_take(freelist *f, size_t len, size_t *end)
{
    for (int i = 0; i < f->n; i++) {
        if (f->len[i] < len) continue;
        size_t at = f->off[i];
        if (f->len[i] == len) {
            for (int k = i; k + 1 < f->n; k++) f->off[k] = f->off[k + 1], f->len[k] = f->len[k + 1];
            f->n--;
        } else {
            f->off[i] += len, f->len[i] -= len;
        }
        return at;
    }
    size_t at = *end;
    if (f->n && f->off[f->n - 1] + f->len[f->n - 1] == *end) { /* the last block grows */
        at = f->off[f->n - 1];
        f->n--;
    }
    *end = at + len;
    return at;
}

/* Widens t's life to time k. */
static void extend(life *l, int t, int k)
{
    if (!l[t].size) return;
    if (k < l[t].lo) l[t].lo = k;
    if (k > l[t].hi) l[t].hi = k;
}

/* n lives, sizes set and lives empty (lo > hi), for the tensors that have a slot in this arena. */
static life *lives(const nn_plan *p, int grads)
{
    life *l = xcalloc((size_t)p->n_t, sizeof *l);
    for (int t = 0; t < p->n_t; t++) {
        const tensor *x = &p->t[t];
        l[t].t = t, l[t].lo = p->n_s + 2, l[t].hi = -2;
        if (!x->is_const && (!grads || x->needs_grad)) l[t].size = (x->size + 15) & ~(size_t)15;
    }
    return l;
}

/* Offsets into off[0 .. n) (a slot each without nn_share_memory, as the tests' reference);
 * returns the arena's length in floats. A sweep over time: at each step the lives that ended
 * before it give their blocks back, then those that start at it take the lowest free block that
 * fits (first fit), so that a tensor reuses memory a step has just let go of, still in cache. The
 * free list is short (MobileNet has a few dozen tensors live at once), so placing is a sort, n log
 * n: a chain of 400,000 steps (check_nn's deep_chain) takes a moment. */
static size_t place(life *l, int n, size_t *off)
{
    size_t len = 0;
    if (!nn_share_memory) {
        for (int t = 0; t < n; t++) off[t] = len, len += l[t].size;
        free(l);
        return len;
    }
    life **start = xmalloc(sizeof *start * (size_t)(n ? n : 1)), **stop = xmalloc(sizeof *stop * (size_t)(n ? n : 1));
    int m = 0;
    for (int t = 0; t < n; t++)
        if (l[t].size) start[m] = stop[m] = &l[t], m++;
    qsort(start, (size_t)m, sizeof *start, by_lo);
    qsort(stop, (size_t)m, sizeof *stop, by_hi);
    freelist f = {0};
    for (int i = 0, j = 0; i < m; i++) {
        for (; j < m && stop[j]->hi < start[i]->lo; j++) fl_free(&f, stop[j]->off, stop[j]->size);
        start[i]->off = fl_take(&f, start[i]->size, &len);
    }
    for (int t = 0; t < n; t++) off[t] = l[t].off;
    free(f.off), free(f.len);
    free(start), free(stop);
    free(l);
    return len;
}

/* Marks in kept the tensors whose values some backward step reads (nn_plan_backward: a step runs
 * its backward when its output needs a gradient and no other step did it for it). */
static void backward_reads(const nn_plan *p, unsigned char *kept)
{
    for (int k = 0; k < p->n_s; k++) {
        const step *s = &p->s[k];
        if (!p->t[s->out].needs_grad || s->bwd_skip) continue;
        switch (s->kind) {
        case K_CONV: /* the input gradient needs the weights only; the activation, the output */
            if (!s->act_done && s->act != NN_ACT_NONE) kept[s->out] = 1;
            break;
        case K_DWCONV:
            if (!s->act_done && s->act != NN_ACT_NONE) kept[s->out] = 1;
            if (s->gate && !p->t[s->gate_t].mask) kept[s->gate_t] = 1; /* a Relu gate reads the mask */
            break;
        case K_SIGMOID: kept[s->out] = 1; break;
        case K_ADD: case K_MEAN: case K_CONCAT: case K_RESIZE: case K_IDENTITY: case K_FUSED:
            break; /* shapes only */
        default: /* Mul, Relu, Relu6, HardSwish, MaxPool, and anything else: its operands */
            for (int j = 0; j < s->n_in; j++) kept[s->in[j]] = 1;
            kept[s->out] = 1;
            break;
        }
    }
}

size_t nn_val_layout(const nn_plan *p, size_t *off)
{
    int n = p->n_t, before = -1, after = p->n_s; /* the caller's times around the forward */
    life *l = lives(p, 0);
    unsigned char *kept = xcalloc((size_t)(n ? n : 1), 1);
    backward_reads(p, kept);
    /* Every step reads its inputs and writes its output (a fused hard swish writes hs_t too); a
     * step whose forward is skipped counts all the same, which can only lengthen a life. */
    for (int k = 0; k < p->n_s; k++) {
        const step *s = &p->s[k];
        extend(l, s->out, k);
        for (int j = 0; j < s->n_in; j++) extend(l, s->in[j], k);
        if (s->hs_t >= 0) extend(l, s->hs_t, k);
    }
    /* the input is the caller's (written before, and a forward may run again on it), the outputs
     * are read after, and what the backward reads lives on to it */
    extend(l, p->in_t, before), extend(l, p->in_t, after);
    for (int k = 0; k < p->n_out; k++) extend(l, p->out_t[k], after);
    for (int t = 0; t < n; t++)
        if (kept[t] || l[t].lo > l[t].hi) extend(l, t, after);
    free(kept);
    return place(l, n, off);
}

size_t nn_grad_layout(const nn_plan *p, size_t *goff)
{
    int n = p->n_t, start = p->n_s, end = -1; /* the backward runs from step n_s - 1 down to 0 */
    life *l = lives(p, 1);
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
    for (int t = 0; t < n; t++) { /* the sweep in the backward's order: time reversed */
        int lo = l[t].lo;
        l[t].lo = -l[t].hi, l[t].hi = -lo;
    }
    return place(l, n, goff);
}
