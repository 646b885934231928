/* nn_plan — the planner: from requested outputs to a plan (nn_steps.h). Keeps the nodes the
 * outputs depend on, in an order that computes each after its inputs; infers every shape for
 * the input size and checks the weights against it; turns nodes into steps over tensors whose
 * buffers are allocated once; then fuses neighbouring steps (nn_fuse.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nn_steps.h"

/* Builder state of nn_plan_new. */
typedef struct builder {
    nn_model *m;
    int input; /* placeholder node */
    int *order, n_order;
    int *stk, *next; /* visit's stack: nodes, and the next input of each to look at */
    char *mark;   /* 0 new, 1 visiting, 2 done */
    char *split;  /* fused activation emitted as a step of its own (":preact" requested) */
    int (*sh)[4]; /* per-node shape for the current size */
    int (*native)[4];
} builder;

/* Marks node i visiting, after the checks that it can run at all. */
static int enter(builder *b, int i, err *e)
{
    nn_model *m = b->m;
    node *nd = &m->nodes[i];
    if (b->mark[i] == 1) return err_set(e, "%s: node '%s': the graph has a cycle", m->json_base, nd->name);
    b->mark[i] = 1;
    if (nd->kind == K_PLACEHOLDER && i != b->input)
        return err_set(e, "%s: node '%s': another Placeholder than the plan's input '%s' is needed",
                       m->json_base, nd->name, m->nodes[b->input].name);
    if (nd->kind == K_OTHER)
        return err_set(e, "%s: node '%s': op '%s' is not supported by the nn engine", m->json_base, nd->name,
                       nd->op);
    if (nd->bad)
        return err_set(e, "%s: node '%s' (%s): unsupported %s", m->json_base, nd->name, nd->op, nd->bad);
    return 0;
}

/* Appends node i and its ancestors not yet there to b->order, inputs before the nodes reading
 * them (depth first, inputs in order). The walk keeps its own stack, b->stk (a chain of 400000
 * nodes overflowed the C stack when it recursed): a node is on it at most once (mark 1). */
static int visit(builder *b, int i, err *e)
{
    nn_model *m = b->m;
    if (b->mark[i] == 2) return 0;
    if (enter(b, i, e) != 0) return -1;
    int top = 0;
    b->stk[top] = i, b->next[top] = 0, top++;
    while (top > 0) {
        int j = b->stk[top - 1], k = b->next[top - 1]++;
        const node *nd = &m->nodes[j];
        if (k == nd->n_in) {
            b->mark[j] = 2;
            b->order[b->n_order++] = j;
            top--;
            continue;
        }
        if (nd->in_port[k] != 0)
            return err_set(e, "%s: node '%s': input %d reads output %d of '%s' (only output 0 is supported)",
                           m->json_base, nd->name, k, nd->in_port[k], m->nodes[nd->in[k]].name);
        int c = nd->in[k];
        if (b->mark[c] == 2) continue;
        if (enter(b, c, e) != 0) return -1;
        b->stk[top] = c, b->next[top] = 0, top++;
    }
    return 0;
}

/* The Const node feeding input k of nd, with the dtype wanted; NULL + e otherwise. */
static const node *const_in(builder *b, const node *nd, int k, int dtype, const char *what, err *e)
{
    if (k >= nd->n_in) {
        err_set(e, "%s: node '%s': missing input %d (%s)", b->m->json_base, nd->name, k, what);
        return NULL;
    }
    const node *c = &b->m->nodes[nd->in[k]];
    if (c->kind != K_CONST || c->dtype != dtype) {
        err_set(e, "%s: node '%s': input %d '%s' (%s) must be a %s constant with a value in the weights",
                b->m->json_base, nd->name, k, c->name, what, dtype == DT_FLOAT ? "float" : "int32");
        return NULL;
    }
    return c;
}

static int need_inputs(builder *b, const node *nd, int n, err *e)
{
    if (nd->n_in < n)
        return err_set(e, "%s: node '%s' (%s): %d inputs (expected %d)", b->m->json_base, nd->name, nd->op,
                       nd->n_in, n);
    return 0;
}

/* At least n inputs, the first an activation (not a constant). */
static int need_data_input(builder *b, const node *nd, int n, err *e)
{
    if (need_inputs(b, nd, n, e) != 0) return -1;
    if (b->m->nodes[nd->in[0]].kind == K_CONST)
        return err_set(e, "%s: node '%s': a constant input is not supported", b->m->json_base, nd->name);
    return 0;
}

/* Shape of a data input: an activation, or a float constant right-aligned to 4-D. */
static int data_shape(builder *b, const node *nd, int k, int out[4], err *e)
{
    const node *c = &b->m->nodes[nd->in[k]];
    if (c->kind != K_CONST) {
        memcpy(out, b->sh[nd->in[k]], sizeof(int) * 4);
        return 0;
    }
    if (c->dtype != DT_FLOAT || c->rank > 4)
        return err_set(e, "%s: node '%s': constant input '%s' must be float with rank <= 4", b->m->json_base,
                       nd->name, c->name);
    for (int d = 0; d < 4; d++) out[d] = 1;
    for (int d = 0; d < c->rank; d++) out[4 - c->rank + d] = c->shape[d];
    return 0;
}

/* Geometry of conv-like node nd from its input shape; weight shape checked against it. */
static int node_geom(builder *b, const node *nd, const int ish[4], nn_geom *g, err *e)
{
    const char *jb = b->m->json_base;
    memset(g, 0, sizeof *g);
    g->n = ish[0], g->h = ish[1], g->w = ish[2], g->cin = ish[3];
    g->sh = nd->stride[0], g->sw = nd->stride[1], g->dh = nd->dil[0], g->dw = nd->dil[1];
    if (nd->kind == K_MAXPOOL) {
        g->kh = nd->ksize[0], g->kw = nd->ksize[1], g->cout = g->cin;
    } else if (nd->kind == K_MATMUL) {
        /* a dense layer: a 1x1 conv on (n,1,1,in) with the (in, out) matrix as its HWIO filter */
        if (need_inputs(b, nd, nd->has_bias ? 3 : 2, e) != 0) return -1;
        if (ish[1] != 1 || ish[2] != 1)
            return err_set(e, "%s: node '%s': MatMul input is %dx%dx%d per batch element (expected a 2-D "
                           "[batch, features] tensor: flatten it with Reshape first)", jb, nd->name, ish[1], ish[2],
                           ish[3]);
        const node *w = const_in(b, nd, 1, DT_FLOAT, "matrix", e);
        if (!w) return -1;
        if (w->rank != 2)
            return err_set(e, "%s: node '%s': matrix '%s' has rank %d (expected 2)", jb, nd->name, w->name, w->rank);
        if (w->shape[0] != g->cin)
            return err_set(e, "%s: node '%s': matrix '%s' expects %d inputs but the input has %d", jb, nd->name,
                           w->name, w->shape[0], g->cin);
        g->kh = g->kw = 1, g->cout = w->shape[1];
    } else {
        if (need_inputs(b, nd, nd->has_bias ? 3 : 2, e) != 0) return -1;
        const node *w = const_in(b, nd, 1, DT_FLOAT, "filter", e);
        if (!w) return -1;
        if (w->rank != 4)
            return err_set(e, "%s: node '%s': filter '%s' has rank %d (expected 4)", jb, nd->name, w->name, w->rank);
        if (w->shape[2] != g->cin)
            return err_set(e, "%s: node '%s': filter '%s' expects %d input channels but the input has %d", jb,
                           nd->name, w->name, w->shape[2], g->cin);
        long long cout = nd->kind == K_CONV ? w->shape[3] : (long long)w->shape[2] * w->shape[3];
        if (cout > NN_MAX_TENSOR_ELEMENTS)
            return err_set(e, "%s: node '%s': filter '%s' makes %lld output channels (expected at most %lld)", jb,
                           nd->name, w->name, cout, NN_MAX_TENSOR_ELEMENTS);
        g->kh = w->shape[0], g->kw = w->shape[1], g->cout = (int)cout;
    }
    if (nd->kind != K_MAXPOOL && nd->has_bias) {
        const node *bias = const_in(b, nd, 2, DT_FLOAT, "bias", e);
        if (!bias) return -1;
        if ((int)bias->count != g->cout)
            return err_set(e, "%s: node '%s': bias '%s' has %zu values (expected %d)", jb, nd->name, bias->name,
                           bias->count, g->cout);
    }
    /* nn_geom_pad computes in int: sizes bounded here so that it cannot overflow (the input's
     * sides are at most NN_MAX_TENSOR_ELEMENTS) */
    long long ekh = (long long)(g->kh - 1) * g->dh + 1, ekw = (long long)(g->kw - 1) * g->dw + 1;
    if (g->kh < 1 || g->kw < 1 || g->cout < 1)
        return err_set(e, "%s: node '%s': a %dx%d window with %d output channels (expected at least 1x1 and 1)", jb,
                       nd->name, g->kh, g->kw, g->cout);
    if (ekh > NN_MAX_WINDOW || ekw > NN_MAX_WINDOW || g->sh > NN_MAX_WINDOW || g->sw > NN_MAX_WINDOW)
        return err_set(e, "%s: node '%s': window %lldx%lld (with its dilation), strides %dx%d (expected each at "
                       "most %d)", jb, nd->name, ekh, ekw, g->sh, g->sw, NN_MAX_WINDOW);
    if (nn_geom_pad(g, nd->same) != 0)
        return err_set(e, "%s: node '%s': a %dx%d input is too small for its %dx%d window", jb, nd->name, g->h,
                       g->w, g->kh, g->kw);
    return 0;
}

/* The shape inferred for node nd: every dimension at least 1, and at most NN_MAX_TENSOR_ELEMENTS
 * values in all (counted in 64 bits: a 100000x100000 input is 3e10). */
static int check_size(const builder *b, const node *nd, const int s[4], err *e)
{
    long long n = 1;
    for (int d = 0; d < 4; d++) {
        if (s[d] < 1)
            return err_set(e, "%s: node '%s': shape [%d,%d,%d,%d] is empty (expected every dimension >= 1)",
                           b->m->json_base, nd->name, s[0], s[1], s[2], s[3]);
        n *= s[d]; /* < 2^28 * 2^31 */
        if (n > NN_MAX_TENSOR_ELEMENTS) break;
    }
    if (n > NN_MAX_TENSOR_ELEMENTS) {
        long double all = (long double)s[0] * s[1] * s[2] * s[3];
        return err_set(e, "%s: node '%s': shape [%d,%d,%d,%d] is %.0Lf values (expected at most %lld in one tensor)",
                       b->m->json_base, nd->name, s[0], s[1], s[2], s[3], all, NN_MAX_TENSOR_ELEMENTS);
    }
    return 0;
}

/* Shapes of every node of b->order for input (batch, h, w); ResizeBilinear sizes are taken as
 * they are when b->native is NULL, else scaled by (actual input size / native input size). */
static int infer_shapes(builder *b, int batch, int h, int w, err *e)
{
    nn_model *m = b->m;
    const char *jb = m->json_base;
    for (int oi = 0; oi < b->n_order; oi++) {
        int i = b->order[oi];
        node *nd = &m->nodes[i];
        int *s = b->sh[i], a[4], c[4];
        nn_geom g;
        switch (nd->kind) {
        case K_PLACEHOLDER:
            if (nd->ph_rank != 4 || nd->ph_shape[3] <= 0)
                return err_set(e, "%s: node '%s': Placeholder shape must be 4-D NHWC with known channels", jb,
                               nd->name);
            s[0] = batch, s[1] = h, s[2] = w, s[3] = nd->ph_shape[3];
            break;
        case K_CONST:
            s[0] = s[1] = s[2] = s[3] = 1;
            break;
        case K_CONV:
        case K_DWCONV:
        case K_MAXPOOL:
        case K_MATMUL:
            if (need_data_input(b, nd, 1, e) != 0) return -1;
            if (node_geom(b, nd, b->sh[nd->in[0]], &g, e) != 0) return -1;
            s[0] = g.n, s[1] = g.oh, s[2] = g.ow, s[3] = g.cout;
            break;
        case K_ADD:
        case K_MUL:
            if (need_inputs(b, nd, 2, e) != 0) return -1;
            if (data_shape(b, nd, 0, a, e) != 0 || data_shape(b, nd, 1, c, e) != 0) return -1;
            for (int d = 0; d < 4; d++) {
                if (a[d] != c[d] && a[d] != 1 && c[d] != 1)
                    return err_set(e, "%s: node '%s': shapes [%d,%d,%d,%d] and [%d,%d,%d,%d] do not broadcast", jb,
                                   nd->name, a[0], a[1], a[2], a[3], c[0], c[1], c[2], c[3]);
                s[d] = a[d] > c[d] ? a[d] : c[d];
            }
            if (m->nodes[nd->in[0]].kind == K_CONST && m->nodes[nd->in[1]].kind == K_CONST)
                return err_set(e, "%s: node '%s': both inputs constant (not supported)", jb, nd->name);
            break;
        case K_RELU:
        case K_RELU6:
        case K_SIGMOID:
        case K_IDENTITY:
            if (need_data_input(b, nd, 1, e) != 0) return -1;
            memcpy(s, b->sh[nd->in[0]], sizeof(int) * 4);
            break;
        case K_RESHAPE: {
            /* NHWC is row-major, so a reshape that keeps the batch dimension moves no data; ranks
             * 2 ([batch, features] -> (n,1,1,features)) and 4 are supported */
            if (need_data_input(b, nd, 2, e) != 0) return -1;
            const node *shp = const_in(b, nd, 1, DT_INT32, "shape", e);
            if (!shp) return -1;
            const int *x = b->sh[nd->in[0]];
            long per = (long)x[1] * x[2] * x[3], known = 1;
            int rank = (int)shp->count, unknown = -1, t[4] = {1, 1, 1, 1};
            if (rank != 2 && rank != 4)
                return err_set(e, "%s: node '%s': Reshape to rank %d (expected 2 or 4)", jb, nd->name, rank);
            for (int d = 1; d < rank; d++) {
                int v = shp->i32[d];
                if (v == -1 && unknown < 0) unknown = d;
                else if (v < 1)
                    return err_set(e, "%s: node '%s': shape[%d] = %d (expected a positive size, or -1 once)", jb,
                                   nd->name, d, v);
                else if ((known *= v) > per)
                    break; /* cannot match, and further products could overflow */
                t[rank == 2 ? 3 : d] = v;
            }
            if (shp->i32[0] != -1 && shp->i32[0] != x[0])
                return err_set(e, "%s: node '%s': shape[0] = %d (expected -1 or the batch size %d: the batch "
                               "dimension must stay)", jb, nd->name, shp->i32[0], x[0]);
            if (unknown >= 0 && per % known == 0) t[rank == 2 ? 3 : unknown] = (int)(per / known), known = per;
            if (known != per)
                return err_set(e, "%s: node '%s': cannot reshape %d values per batch element to the shape given",
                               jb, nd->name, (int)per);
            s[0] = x[0], s[1] = t[1], s[2] = t[2], s[3] = t[3];
            if (rank == 2) s[1] = s[2] = 1;
            break;
        }
        case K_MEAN: {
            if (need_data_input(b, nd, 2, e) != 0) return -1;
            const node *ax = const_in(b, nd, 1, DT_INT32, "reduction_indices", e);
            if (!ax) return -1;
            int hw = 0;
            for (size_t k = 0; k < ax->count; k++) {
                int v = ax->i32[k] < 0 ? ax->i32[k] + 4 : ax->i32[k];
                hw |= v == 1 ? 1 : v == 2 ? 2 : 4;
            }
            if (hw != 3 || ax->count != 2 || !nd->keep_dims)
                return err_set(e, "%s: node '%s': Mean supports only axes [1,2] with keep_dims true", jb, nd->name);
            memcpy(s, b->sh[nd->in[0]], sizeof(int) * 4);
            s[1] = s[2] = 1;
            break;
        }
        case K_CONCAT: {
            if (need_inputs(b, nd, 2, e) != 0) return -1;
            const node *ax = const_in(b, nd, nd->n_in - 1, DT_INT32, "axis", e);
            if (!ax) return -1;
            if (ax->count != 1 || (ax->i32[0] != 3 && ax->i32[0] != -1))
                return err_set(e, "%s: node '%s': ConcatV2 supports only the channel axis (3 or -1)", jb, nd->name);
            memcpy(s, b->sh[nd->in[0]], sizeof(int) * 4);
            long long channels = 0;
            for (int k = 0; k < nd->n_in - 1; k++) {
                const int *x = b->sh[nd->in[k]];
                if (m->nodes[nd->in[k]].kind == K_CONST)
                    return err_set(e, "%s: node '%s': a constant input is not supported", jb, nd->name);
                if (x[0] != s[0] || x[1] != s[1] || x[2] != s[2])
                    return err_set(e, "%s: node '%s': input '%s' is %dx%d but input '%s' is %dx%d (for this model "
                                   "the input size must be a multiple of 32)", jb, nd->name,
                                   m->nodes[nd->in[k]].name, x[1], x[2], m->nodes[nd->in[0]].name, s[1], s[2]);
                channels += x[3];
                if (channels > NN_MAX_TENSOR_ELEMENTS)
                    return err_set(e, "%s: node '%s': more than %lld channels from its first %d inputs (expected at "
                                   "most %lld values in one tensor)", jb, nd->name, NN_MAX_TENSOR_ELEMENTS, k + 1,
                                   NN_MAX_TENSOR_ELEMENTS);
            }
            s[3] = (int)channels;
            break;
        }
        case K_RESIZE: {
            if (need_data_input(b, nd, 2, e) != 0) return -1;
            const node *sz = const_in(b, nd, 1, DT_INT32, "size", e);
            if (!sz) return -1;
            if (sz->count != 2 || sz->i32[0] < 1 || sz->i32[1] < 1)
                return err_set(e, "%s: node '%s': size '%s' must be two positive integers", jb, nd->name, sz->name);
            memcpy(s, b->sh[nd->in[0]], sizeof(int) * 4);
            if (!b->native) {
                s[1] = sz->i32[0], s[2] = sz->i32[1];
            } else {
                /* the size was baked for the native input: keep the same up-sampling factor */
                const int *ni = b->native[nd->in[0]];
                double rh = round((double)sz->i32[0] * b->sh[nd->in[0]][1] / ni[1]);
                double rw = round((double)sz->i32[1] * b->sh[nd->in[0]][2] / ni[2]);
                if (rh > NN_MAX_TENSOR_ELEMENTS || rw > NN_MAX_TENSOR_ELEMENTS)
                    return err_set(e, "%s: node '%s': size %.0fx%.0f at this input size (expected at most %lld values in "
                                   "one tensor)", jb, nd->name, rh, rw, NN_MAX_TENSOR_ELEMENTS);
                s[1] = (int)rh, s[2] = (int)rw;
                if (s[1] < 1) s[1] = 1;
                if (s[2] < 1) s[2] = 1;
            }
            break;
        }
        default:
            return err_set(e, "%s: node '%s': op '%s' is not supported by the nn engine", jb, nd->name, nd->op);
        }
        if (check_size(b, nd, s, e) != 0) return -1;
    }
    return 0;
}

/* The float value of node i if it is a scalar float constant (any rank, one element). */
static int scalar_const(const nn_model *m, int i, float *v)
{
    const node *nd = &m->nodes[i];
    if (nd->kind != K_CONST || nd->dtype != DT_FLOAT || nd->count != 1 || !nd->f) return 0;
    *v = nd->f[0];
    return 1;
}

/* The operand of a two-input node other than operand k. */
static int other_in(const node *nd, int k) { return nd->in[1 - k]; }

/* Hard swish as MobileNetV3 graphs spell it: i = Mul(Mul(c, x), Relu6(Add(x, a))) (operands of
 * each Mul/Add in either order) with scalar constants c and a. The three inner nodes must have
 * no other use (uses[j] counts the plan's consumers of node j and the requested outputs), so
 * that they need no tensor of their own. Returns x, or -1; *inner gets the three inner nodes. */
static int find_hswish(const builder *b, const int *uses, int i, float *a, float *c, int inner[3])
{
    const nn_model *m = b->m;
    const node *nd = &m->nodes[i];
    if (nd->kind != K_MUL || nd->bad || nd->n_in != 2) return -1;
    for (int k = 0; k < 2; k++) {
        int r = nd->in[k], mu = other_in(nd, k);
        const node *rn = &m->nodes[r], *mn = &m->nodes[mu];
        if (rn->kind != K_RELU6 || rn->bad || rn->n_in != 1 || mn->kind != K_MUL || mn->bad || mn->n_in != 2) continue;
        const node *an = &m->nodes[rn->in[0]];
        if (an->kind != K_ADD || an->bad || an->n_in != 2) continue;
        for (int ka = 0; ka < 2; ka++) {
            int x = an->in[ka];
            if (!scalar_const(m, other_in(an, ka), a)) continue;
            for (int kc = 0; kc < 2; kc++) {
                if (mn->in[kc] != x || !scalar_const(m, other_in(mn, kc), c)) continue;
                if (uses[r] != 1 || uses[mu] != 1 || uses[rn->in[0]] != 1) return -1;
                if (memcmp(b->sh[x], b->sh[i], sizeof b->sh[i]) != 0) return -1;
                inner[0] = mu, inner[1] = rn->in[0], inner[2] = r;
                return x;
            }
        }
    }
    return -1;
}

/* See nn_steps.h. An arena of a few MB and more (a batch of 8 at 128 px: two of about 100 MB)
 * is placed on 2 MB boundaries and offered to the kernel for huge pages: zeroing it page by
 * page took 50,000 page faults, 0.4 s of a batch render's set-up on one thread (a VM's faults
 * are dear). Where the kernel gives none (transparent huge pages off), it is ordinary memory. */
float *nn_arena_alloc(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    size_t bytes = (sizeof(float) * n + 63) / 64 * 64;
    int big = bytes >= 2 * huge;
    if (big) bytes = (bytes + huge - 1) / huge * huge;
    void *a = NULL;
    if (posix_memalign(&a, big ? huge : 64, bytes) != 0) a = NULL;
    if (!a) { /* reported and aborted as xmalloc does */
        fprintf(stderr, "fatal: out of memory (asked for %zu bytes)\n", bytes);
        abort();
    }
#ifdef MADV_HUGEPAGE
    if (big) (void)madvise(a, bytes, MADV_HUGEPAGE); /* advice only: refused, nothing changes */
#endif
    memset(a, 0, bytes);
    return a;
}

size_t nn_plan_max_bytes = NN_MAX_PLAN_BYTES;
double nn_plan_max_work = (double)NN_MAX_PLAN_WORK;

/* A convolution step's multiply-adds into p->macs and *work, a pooling step's taps into *work,
 * and a convolution's im2col scratch into *col_n (the largest of the plan's). */
static void count_conv(nn_plan *p, step *st, int kind, size_t *col_n, double *work)
{
    const nn_geom *g = &st->g;
    double taps = (double)g->n * g->oh * g->ow * g->kh * g->kw * g->cout;
    if (kind == K_CONV) {
        size_t cn = nn_conv_col_size(g);
        if (cn > *col_n) *col_n = cn;
        st->macs = taps * g->cin;
        p->macs += taps * g->cin;
        *work += taps * g->cin;
    } else if (kind == K_DWCONV) {
        st->macs = taps;
        p->macs += taps;
        *work += taps;
    } else if (kind == K_MAXPOOL) {
        *work += taps;
    }
}

static size_t tensor_size(const int s[4]) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

/* Bytes of the plan's activations and gradients (as big, allocated at the first backward) and
 * of col_n floats of convolution scratch. Each tensor is within NN_MAX_TENSOR_ELEMENTS, so this
 * cannot wrap for any graph that fits in memory. */
static size_t plan_bytes(const nn_plan *p, size_t col_n)
{
    return sizeof(float) * (2 * (p->arena_n + 16) + col_n + 1);
}

static int add_tensor(nn_plan *p, const int shape[4], int is_const, const float *val)
{
    tensor *t = &p->t[p->n_t];
    memcpy(t->shape, shape, sizeof(int) * 4);
    t->size = tensor_size(shape);
    t->is_const = is_const;
    t->val = (float *)val;
    if (!is_const) p->arena_n += (t->size + 15) & ~(size_t)15; /* 64-byte aligned tensors */
    return p->n_t++;
}

static step *add_step(nn_plan *p, int kind, int node_i, const char *opname, int out, int n_in)
{
    step *s = &p->s[p->n_s++];
    memset(s, 0, sizeof *s);
    s->kind = kind, s->node = node_i, s->opname = opname, s->out = out, s->n_in = n_in, s->res = -1, s->gate_t = -1,
    s->hs_t = -1;
    s->in = xcalloc((size_t)n_in + 1, sizeof(int));
    return s;
}

/* First use without nn_set_threads: take the thread count from the environment. */
int nn_plan_new(nn_model *m, const char *input_name, int batch, int h, int w,
                const char *const *outputs, int n_outputs, nn_plan **out, err *e)
{
    const char *jb = m->json_base;
    int rc = -1;
    builder b = {0};
    nn_plan *p = xcalloc(1, sizeof *p);
    int *out_node = xcalloc((size_t)n_outputs + 1, sizeof(int));
    int *out_kind = xcalloc((size_t)n_outputs + 1, sizeof(int)); /* 0 value, 1 split preact */
    int *tensor_of = NULL, *pre_of = NULL, *uses = NULL, *hsw_x = NULL;
    float *hsw_ac = NULL;
    nn_set_threads_default();
    p->m = m;
    b.m = m;
    if (batch < 1 || h < 1 || w < 1 || n_outputs < 1) {
        err_set(e, "nn_plan_new: batch %d, size %dx%d, %d outputs (expected positive values)", batch, h, w,
                n_outputs);
        goto fail;
    }
    b.input = input_name ? nn_model_find(m, input_name) : m->placeholder;
    if (b.input < 0 || m->nodes[b.input].kind != K_PLACEHOLDER) {
        err_set(e, "%s: input '%s' is not a Placeholder node of the model", jb, input_name ? input_name : "(none)");
        goto fail;
    }
    b.order = xcalloc((size_t)m->n, sizeof(int));
    b.mark = xcalloc((size_t)m->n, 1);
    b.stk = xcalloc((size_t)m->n, sizeof(int));
    b.next = xcalloc((size_t)m->n, sizeof(int));
    b.split = xcalloc((size_t)m->n, 1);
    b.sh = xcalloc((size_t)m->n, sizeof *b.sh);
    b.native = NULL;
    /* which nodes; ":preact" resolved here */
    for (int k = 0; k < n_outputs; k++) {
        char *nm = xstrdup(outputs[k]);
        size_t l = strlen(nm);
        int pre = l > 7 && strcmp(nm + l - 7, ":preact") == 0;
        if (pre) nm[l - 7] = 0;
        int i = nn_model_find(m, nm);
        if (i < 0) {
            err_set(e, "%s: output node '%s' not found in the model", jb, nm);
            free(nm);
            goto fail;
        }
        free(nm);
        node *nd = &m->nodes[i];
        if (pre && (nd->kind == K_CONV || nd->kind == K_DWCONV || nd->kind == K_MATMUL) && nd->act && !nd->bad) {
            b.split[i] = 1;
            out_kind[k] = 1;
        } else if (pre && (nd->kind == K_RELU || nd->kind == K_RELU6 || nd->kind == K_SIGMOID) && nd->n_in >= 1) {
            i = nd->in[0];
        }
        if (m->nodes[i].kind == K_CONST) {
            err_set(e, "%s: output node '%s' is a constant (expected an activation)", jb, m->nodes[i].name);
            goto fail;
        }
        out_node[k] = i;
        if (visit(&b, i, e) != 0) goto fail;
    }
    /* shapes: native size first (for ResizeBilinear's baked sizes), then the actual one */
    {
        int ns[4];
        int have_native = nn_model_input_shape(m, ns) == 0 && ns[1] > 0 && ns[2] > 0 &&
                          b.input == m->placeholder;
        if (have_native) {
            if (infer_shapes(&b, 1, ns[1], ns[2], e) != 0) goto fail;
            b.native = b.sh;
            b.sh = xcalloc((size_t)m->n, sizeof *b.sh);
        }
        if (infer_shapes(&b, batch, h, w, e) != 0) goto fail;
    }
    /* fusions: hard swish chains become one step; their inner nodes (hsw_x -2) get no tensor */
    uses = xcalloc((size_t)m->n, sizeof(int));
    hsw_x = xmalloc(sizeof(int) * (size_t)m->n);
    hsw_ac = xmalloc(sizeof(float) * 2 * (size_t)m->n);
    for (int oi = 0; oi < b.n_order; oi++)
        for (int k = 0; k < m->nodes[b.order[oi]].n_in; k++) uses[m->nodes[b.order[oi]].in[k]]++;
    for (int k = 0; k < n_outputs; k++) uses[out_node[k]]++;
    for (int i = 0; i < m->n; i++) hsw_x[i] = -1;
    for (int oi = 0; oi < b.n_order; oi++) {
        int i = b.order[oi], inner[3];
        int x = find_hswish(&b, uses, i, &hsw_ac[2 * i], &hsw_ac[2 * i + 1], inner);
        if (x < 0) continue;
        hsw_x[i] = x;
        for (int j = 0; j < 3; j++) hsw_x[inner[j]] = -2;
    }
    /* tensors and steps */
    p->t = xcalloc((size_t)b.n_order * 2 + 1, sizeof *p->t);
    p->s = xcalloc((size_t)b.n_order * 2 + 1, sizeof *p->s);
    tensor_of = xmalloc(sizeof(int) * (size_t)m->n);
    pre_of = xmalloc(sizeof(int) * (size_t)m->n);
    for (int i = 0; i < m->n; i++) tensor_of[i] = pre_of[i] = -1;
    size_t col_n = 0;
    double work = 0;
    for (int oi = 0; oi <= b.n_order; oi++) {
        /* the memory so far, before it is allocated: a limit instead of an abort */
        size_t bytes = plan_bytes(p, col_n);
        if (oi == b.n_order)
            for (int k = 0; k < n_outputs; k++) bytes += sizeof(float) * (size_t)tensor_size(b.sh[out_node[k]]);
        if (bytes > nn_plan_max_bytes) {
            err_set(e, "%s: node '%s': the plan needs %zu bytes up to this node (expected at most %zu: a smaller "
                    "input or batch)", jb, m->nodes[b.order[oi > 0 ? oi - 1 : 0]].name, bytes, nn_plan_max_bytes);
            goto fail;
        }
        if (work > nn_plan_max_work) {
            err_set(e, "%s: node '%s': a forward pass needs %.3g multiply-adds and pooling taps up to this node "
                    "(expected at most %.3g: a smaller window, input or batch)", jb,
                    m->nodes[b.order[oi > 0 ? oi - 1 : 0]].name, work, nn_plan_max_work);
            goto fail;
        }
        if (oi == b.n_order) break;
        int i = b.order[oi];
        node *nd = &m->nodes[i];
        int *s = b.sh[i];
        if (nd->kind == K_CONST) {
            if (nd->dtype == DT_FLOAT && nd->rank <= 4) {
                int cs[4] = {1, 1, 1, 1};
                for (int d = 0; d < nd->rank; d++) cs[4 - nd->rank + d] = nd->shape[d];
                tensor_of[i] = add_tensor(p, cs, 1, nd->f);
            }
            continue;
        }
        if (nd->kind == K_PLACEHOLDER) {
            tensor_of[i] = p->in_t = add_tensor(p, s, 0, NULL);
            continue;
        }
        if (hsw_x[i] == -2) continue;
        if (hsw_x[i] >= 0) {
            int o = add_tensor(p, s, 0, NULL);
            step *st = add_step(p, K_HSWISH, i, "HardSwish", o, 1);
            st->in[0] = tensor_of[hsw_x[i]];
            st->ha = hsw_ac[2 * i], st->hc = hsw_ac[2 * i + 1];
            tensor_of[i] = o;
            continue;
        }
        int n_data = nd->kind == K_CONCAT ? nd->n_in - 1
                   : (nd->kind == K_ADD || nd->kind == K_MUL) ? 2 : 1;
        /* a MatMul runs as the 1x1 conv it is, a Reshape as a copy */
        int skind = nd->kind == K_MATMUL ? K_CONV : nd->kind == K_RESHAPE ? K_IDENTITY : nd->kind;
        if (b.split[i]) {
            int pre = add_tensor(p, s, 0, NULL);
            pre_of[i] = pre;
            step *st = add_step(p, skind, i, nd->op, pre, 1);
            st->in[0] = tensor_of[nd->in[0]];
            node_geom(&b, nd, b.sh[nd->in[0]], &st->g, e);
            st->w = m->nodes[nd->in[1]].f;
            st->b = nd->has_bias ? m->nodes[nd->in[2]].f : NULL;
            st->act = NN_ACT_NONE;
            int o = add_tensor(p, s, 0, NULL);
            step *sa = add_step(p, nd->act == NN_ACT_RELU ? K_RELU : K_RELU6, i,
                                nd->act == NN_ACT_RELU ? "Relu" : "Relu6", o, 1);
            sa->in[0] = pre;
            sa->act = nd->act;
            tensor_of[i] = o;
            count_conv(p, st, skind, &col_n, &work);
            continue;
        }
        int o = add_tensor(p, s, 0, NULL);
        step *st = add_step(p, skind, i, nd->op, o, n_data);
        for (int k = 0; k < n_data; k++) st->in[k] = tensor_of[nd->in[k]];
        if (nd->kind == K_CONCAT) {
            st->cs = xcalloc((size_t)n_data, sizeof *st->cs);
            st->xs = xcalloc((size_t)n_data, sizeof *st->xs);
            st->dxs = xcalloc((size_t)n_data, sizeof *st->dxs);
            for (int k = 0; k < n_data; k++) st->cs[k] = p->t[st->in[k]].shape[3];
        }
        st->act = nd->kind == K_RELU ? NN_ACT_RELU : nd->kind == K_RELU6 ? NN_ACT_RELU6 : nd->act;
        if (nd->kind == K_CONV || nd->kind == K_DWCONV || nd->kind == K_MAXPOOL || nd->kind == K_MATMUL) {
            node_geom(&b, nd, b.sh[nd->in[0]], &st->g, e);
            if (nd->kind != K_MAXPOOL) {
                st->w = m->nodes[nd->in[1]].f;
                st->b = nd->has_bias ? m->nodes[nd->in[2]].f : NULL;
            }
            count_conv(p, st, skind, &col_n, &work);
        }
        if (nd->kind == K_RESIZE) {
            st->oh = s[1], st->ow = s[2];
        }
        tensor_of[i] = o;
    }
    /* needs_grad: the tensors that depend on the input */
    p->t[p->in_t].needs_grad = 1;
    for (int k = 0; k < p->n_s; k++) {
        step *st = &p->s[k];
        for (int j = 0; j < st->n_in; j++)
            if (p->t[st->in[j]].needs_grad) p->t[st->out].needs_grad = 1;
    }
    /* gradients are zeroed just before their first writer in the backward pass (the last consumer
     * in the schedule) rather than all at once: the memory is then in cache when it is used */
    for (int k = 0; k < p->n_t; k++) p->t[k].zero_step = -1;
    for (int k = 0; k < p->n_s; k++)
        for (int j = 0; j < p->s[k].n_in; j++) p->t[p->s[k].in[j]].zero_step = k;
    p->col = nn_arena_alloc(col_n + 1);
    p->n_out = n_outputs;
    p->out_t = xcalloc((size_t)n_outputs, sizeof(int));
    p->out_grad = xcalloc((size_t)n_outputs, sizeof(float *));
    for (int k = 0; k < n_outputs; k++) {
        p->out_t[k] = out_kind[k] ? pre_of[out_node[k]] : tensor_of[out_node[k]];
        p->out_grad[k] = xcalloc(p->t[p->out_t[k]].size, sizeof(float));
        p->t[p->out_t[k]].zero_step = -1;
    }
    for (int k = 0; k < p->n_s; k++)
        if (p->s[k].kind == K_CONV) p->s[k].pk = nn_conv_pack_new(&p->s[k].g, p->s[k].w);
    nn_fuse_residuals(p);
    nn_fuse_gates(p);
    nn_fuse_hswish(p);
    /* the values' memory, once the fusions have said which steps read what (nn_layout.c) */
    size_t *off = xmalloc(sizeof *off * (size_t)(p->n_t ? p->n_t : 1));
    p->arena = nn_arena_alloc(nn_val_layout(p, off) + 16);
    for (int k = 0; k < p->n_t; k++)
        if (!p->t[k].is_const) p->t[k].val = p->arena + off[k];
    free(off);
    *out = p;
    p = NULL;
    rc = 0;
fail:
    free(tensor_of);
    free(pre_of);
    free(uses);
    free(hsw_x);
    free(hsw_ac);
    free(out_node);
    free(out_kind);
    free(b.order);
    free(b.mark);
    free(b.stk);
    free(b.next);
    free(b.split);
    free(b.sh);
    free(b.native);
    nn_plan_free(p);
    return rc;
}

void nn_plan_free(nn_plan *p)
{
    if (!p) return;
    for (int k = 0; k < p->n_s; k++) {
        free(p->s[k].in), nn_conv_pack_free(p->s[k].pk);
        free(p->s[k].cs), free(p->s[k].xs), free(p->s[k].dxs);
    }
    for (int k = 0; k < p->n_out; k++) free(p->out_grad[k]);
    for (int k = 0; k < p->n_t; k++) free(p->t[k].mask);
    free(p->out_grad);
    free(p->out_t);
    free(p->s);
    free(p->t);
    free(p->arena);
    free(p->garena);
    free(p->col);
    free(p);
}

float *nn_plan_input(nn_plan *p) { return p->t[p->in_t].val; }

size_t nn_plan_input_shape(const nn_plan *p, int shape[4])
{
    memcpy(shape, p->t[p->in_t].shape, sizeof(int) * 4);
    return p->t[p->in_t].size;
}

const float *nn_plan_output(const nn_plan *p, int i, int shape[4])
{
    const tensor *t = &p->t[p->out_t[i]];
    if (shape) memcpy(shape, t->shape, sizeof(int) * 4);
    return t->val;
}

size_t nn_plan_output_size(const nn_plan *p, int i) { return p->t[p->out_t[i]].size; }
float *nn_plan_output_grad(nn_plan *p, int i) { return p->out_grad[i]; }

void nn_plan_zero_grad(nn_plan *p)
{
    for (int k = 0; k < p->n_out; k++) memset(p->out_grad[k], 0, sizeof(float) * p->t[p->out_t[k]].size);
}

const float *nn_plan_input_grad(const nn_plan *p) { return p->t[p->in_t].grad; }
double nn_plan_macs(const nn_plan *p) { return p->macs; }

const char *nn_plan_kernels(const nn_plan *p)
{
    int convs = 0, half = 0, full = 0, simd = nn_ops_simd_available();
    for (int k = 0; k < p->n_s; k++) {
        if (p->s[k].kind != K_CONV) continue;
        convs++;
        if (p->s[k].pk) nn_conv_pack_half(p->s[k].pk) ? half++ : full++;
    }
    int g = nn_ops_gemm(); /* the trainer's products, when a plan runs beside them */
    if (g == NN_GEMM_AMX) return simd ? "amx-bf16x3+avx512" : "amx-bf16x3+portable";
    if (g == NN_GEMM_BF16) return "avx512-bf16x3+avx512";
    if (!convs) return simd ? "avx512" : "portable";
    if (!half && !full) return simd ? "avx512+sgemm" : "portable+sgemm"; /* packed for all convs or none */
    return !full ? "avx512-f16" : !half ? "avx512-f32" : "avx512-f16+f32";
}
int nn_plan_n_steps(const nn_plan *p) { return p->n_s; }

void nn_plan_set_timing(nn_plan *p, int on)
{
    p->timing = on != 0;
    for (int k = 0; on && k < p->n_s; k++) p->s[k].t_fwd = p->s[k].t_bwd = 0;
}

void nn_plan_step_times(const nn_plan *p, int i, double *fwd_s, double *bwd_s, double *macs)
{
    const step *s = &p->s[i];
    if (fwd_s) *fwd_s = s->t_fwd;
    if (bwd_s) *bwd_s = s->t_bwd;
    if (macs) *macs = s->macs;
}

void nn_plan_step_info(const nn_plan *p, int i, const char **name, const char **op, int shape[4])
{
    const step *s = &p->s[i];
    if (name) *name = p->m->nodes[s->node].name;
    if (op) *op = s->opname;
    if (shape) memcpy(shape, p->t[s->out].shape, sizeof(int) * 4);
}

