/* nn — TF.js graph model loading, pruning, scheduling, forward and input-gradient passes.
 * The kernels are in nn_ops.c; this file turns a graph into a list of steps over tensors
 * whose buffers are allocated once per plan. */
#include "nn.h"

#include <cblas.h>
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn_ops.h"
#include "nn_simd.h"
#include "sha256.h"

/* ---------------------------------------------------------------------------------------------
 * The model */

enum kind {
    K_OTHER, K_CONST, K_PLACEHOLDER, K_CONV, K_DWCONV, K_ADD, K_MUL, K_RELU, K_RELU6, K_MEAN,
    K_SIGMOID, K_CONCAT, K_RESIZE, K_MAXPOOL, K_IDENTITY, K_MATMUL, K_RESHAPE,
    K_HSWISH, /* a plan step only: four graph nodes fused (see find_hswish) */
    K_FUSED   /* a plan step only: an Add run by the convolution before it (fuse_residuals) */
};

static const struct { const char *op; int kind; } op_table[] = {
    {"Const", K_CONST},
    {"Placeholder", K_PLACEHOLDER},
    {"Conv2D", K_CONV},
    {"_FusedConv2D", K_CONV},
    {"DepthwiseConv2dNative", K_DWCONV},
    {"FusedDepthwiseConv2dNative", K_DWCONV},
    {"Add", K_ADD},
    {"AddV2", K_ADD},
    {"Mul", K_MUL},
    {"Relu", K_RELU},
    {"Relu6", K_RELU6},
    {"Mean", K_MEAN},
    {"Sigmoid", K_SIGMOID},
    {"ConcatV2", K_CONCAT},
    {"ResizeBilinear", K_RESIZE},
    {"MaxPool", K_MAXPOOL},
    {"Identity", K_IDENTITY},
    {"MatMul", K_MATMUL},
    {"_FusedMatMul", K_MATMUL},
    {"Reshape", K_RESHAPE},
};

enum dtype { DT_NONE = 0, DT_FLOAT, DT_INT32 };

typedef struct node {
    char *name, *op;
    int kind;
    int n_in;
    int *in;      /* node index of each data input ("^ctrl" inputs dropped) */
    int *in_port; /* k of "name:k" (0 when absent) */
    char *bad;    /* why this node cannot run (unsupported attribute), or NULL */
    /* attributes of the ops we run */
    int stride[2], dil[2], ksize[2], same, act, has_bias, keep_dims, align_corners, half_pixel;
    int ph_shape[4], ph_rank;
    /* Const value (from the weight file) */
    int dtype, rank, shape[8];
    size_t count;
    const float *f;
    const int32_t *i32;
    int computable; /* -1 unknown, 0, 1 */
} node;

typedef struct name_ix {
    const char *name;
    int idx;
} name_ix;

struct nn_model {
    char *json_path;
    const char *json_base; /* file name part of json_path, for messages */
    int n;
    node *nodes;
    name_ix *index; /* sorted by name */
    float *fdata;
    int32_t *idata;
    char sha[65];
    int placeholder;
};

static int g_threads_set;

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int cmp_name_ix(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

int nn_model_find(const nn_model *m, const char *node_name)
{
    name_ix key = {node_name, 0};
    const name_ix *r = bsearch(&key, m->index, (size_t)m->n, sizeof *m->index, cmp_name_ix);
    return r ? r->idx : -1;
}

int nn_model_n_nodes(const nn_model *m) { return m->n; }
const char *nn_model_node_name(const nn_model *m, int i) { return m->nodes[i].name; }
const char *nn_model_node_op(const nn_model *m, int i) { return m->nodes[i].op; }
const char *nn_model_sha256(const nn_model *m) { return m->sha; }

const char *nn_model_input_name(const nn_model *m)
{
    return m->placeholder >= 0 ? m->nodes[m->placeholder].name : NULL;
}

int nn_model_input_shape(const nn_model *m, int shape[4])
{
    if (m->placeholder < 0 || m->nodes[m->placeholder].ph_rank != 4) return -1;
    memcpy(shape, m->nodes[m->placeholder].ph_shape, sizeof(int) * 4);
    return 0;
}

/* A Reshape this engine runs: to a constant int32 shape of rank 2 or 4 that keeps the batch
 * dimension (-1 first), so that it moves no data. Others (the detector head's gathers) are
 * reported as unsupported instead of failing at plan time. */
static int reshape_supported(const nn_model *m, const node *nd)
{
    if (nd->n_in < 2) return 0;
    const node *c = &m->nodes[nd->in[1]];
    if (c->kind != K_CONST || c->dtype != DT_INT32 || (c->count != 2 && c->count != 4) || c->i32[0] != -1) return 0;
    int unknown = 0;
    for (size_t k = 1; k < c->count; k++) {
        if (c->i32[k] == -1) unknown++;
        else if (c->i32[k] < 1) return 0;
    }
    return unknown <= 1;
}

static int computable(nn_model *m, int i, int depth)
{
    node *nd = &m->nodes[i];
    if (nd->computable >= 0) return nd->computable;
    if (depth > 100000) return 0;
    nd->computable = 0; /* also breaks cycles */
    if (nd->kind == K_OTHER || nd->bad) return 0;
    if (nd->kind == K_RESHAPE && !reshape_supported(m, nd)) return 0;
    for (int k = 0; k < nd->n_in; k++)
        if (nd->in_port[k] != 0 || !computable(m, nd->in[k], depth + 1)) return 0;
    return nd->computable = 1;
}

int nn_model_node_computable(const nn_model *m, int i)
{
    return computable((nn_model *)m, i, 0);
}

void nn_model_free(nn_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->nodes[i].name);
        free(m->nodes[i].op);
        free(m->nodes[i].in);
        free(m->nodes[i].in_port);
        free(m->nodes[i].bad);
    }
    free(m->nodes);
    free(m->index);
    free(m->fdata);
    free(m->idata);
    free(m->json_path);
    free(m);
}

/* --- JSON helpers ---------------------------------------------------------------------------- */

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decodes base64 text (attr strings of a GraphDef in JSON) into a new NUL-terminated string. */
static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(n + 1);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0) continue; /* padding '=' and whitespace */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = 0;
    return out;
}

static json_t *attr_get(json_t *jn, const char *k)
{
    json_t *a = json_object_get(jn, "attr");
    return a ? json_object_get(a, k) : NULL;
}

/* An integer given as a JSON number or a decimal string (int64 fields of protobuf JSON). */
static int json_int(json_t *v, long *out)
{
    if (json_is_integer(v)) {
        *out = (long)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        *out = strtol(s, &end, 10);
        return (*s && !*end) ? 0 : -1;
    }
    return -1;
}

/* attr[k].list.i into out (at most max); returns the count, or -1 if absent/malformed. */
static int attr_ilist(json_t *jn, const char *k, int *out, int max)
{
    json_t *l = json_object_get(json_object_get(attr_get(jn, k), "list"), "i");
    if (!json_is_array(l) || (int)json_array_size(l) > max) return -1;
    for (size_t i = 0; i < json_array_size(l); i++) {
        long v;
        if (json_int(json_array_get(l, i), &v) != 0) return -1;
        out[i] = (int)v;
    }
    return (int)json_array_size(l);
}

/* attr[k].s decoded, or NULL if absent. */
static char *attr_str(json_t *jn, const char *k)
{
    json_t *s = json_object_get(attr_get(jn, k), "s");
    return json_is_string(s) ? b64_decode(json_string_value(s)) : NULL;
}

static int attr_bool(json_t *jn, const char *k, int dflt)
{
    json_t *b = json_object_get(attr_get(jn, k), "b");
    return json_is_boolean(b) ? json_is_true(b) : dflt;
}

/* Parses a tensorShape object {dim: [{size: "3"}, ...]} into shape; returns the rank or -1. */
static int parse_shape(json_t *ts, int *shape, int max)
{
    if (!json_is_object(ts)) return -1;
    json_t *dims = json_object_get(ts, "dim");
    if (!dims) return 0;
    if (!json_is_array(dims) || (int)json_array_size(dims) > max) return -1;
    for (size_t i = 0; i < json_array_size(dims); i++) {
        long v;
        json_t *sz = json_object_get(json_array_get(dims, i), "size");
        if (!sz) v = -1;
        else if (json_int(sz, &v) != 0) return -1;
        shape[i] = (int)v;
    }
    return (int)json_array_size(dims);
}

static void parse_fused_ops(node *nd, json_t *jn);

/* Reads the attributes of the ops we run; anything we cannot honour goes to nd->bad. */
static void parse_attrs(node *nd, json_t *jn)
{
    int l[8];
    nd->stride[0] = nd->stride[1] = nd->dil[0] = nd->dil[1] = 1;
    nd->keep_dims = attr_bool(jn, "keep_dims", 0);
    nd->align_corners = attr_bool(jn, "align_corners", 0);
    nd->half_pixel = attr_bool(jn, "half_pixel_centers", 0);
    if (nd->kind == K_PLACEHOLDER) {
        json_t *sh = json_object_get(attr_get(jn, "shape"), "shape");
        nd->ph_rank = parse_shape(sh, nd->ph_shape, 4);
    }
    if (nd->kind == K_MATMUL) {
        if (attr_bool(jn, "transpose_a", 0) || attr_bool(jn, "transpose_b", 0)) {
            nd->bad = xstrdup("attr transpose_a/transpose_b true (expected false)");
            return;
        }
        parse_fused_ops(nd, jn);
        return;
    }
    if (nd->kind != K_CONV && nd->kind != K_DWCONV && nd->kind != K_MAXPOOL) return;
    char *fmt = attr_str(jn, "data_format");
    if (fmt && strcmp(fmt, "NHWC") != 0) nd->bad = xasprintf("data_format '%s' (expected NHWC)", fmt);
    free(fmt);
    if (nd->bad) return;
    int n = attr_ilist(jn, "strides", l, 8);
    if (n == 4 && l[0] == 1 && l[3] == 1 && l[1] > 0 && l[2] > 0) {
        nd->stride[0] = l[1];
        nd->stride[1] = l[2];
    } else {
        nd->bad = xstrdup("attr strides (expected [1,sh,sw,1])");
        return;
    }
    n = attr_ilist(jn, "dilations", l, 8);
    if (n == 4 && l[0] == 1 && l[3] == 1 && l[1] > 0 && l[2] > 0) {
        nd->dil[0] = l[1];
        nd->dil[1] = l[2];
    } else if (n >= 0 && n != 0) {
        nd->bad = xstrdup("attr dilations (expected [1,dh,dw,1])");
        return;
    }
    if (nd->kind == K_MAXPOOL) {
        n = attr_ilist(jn, "ksize", l, 8);
        if (n != 4 || l[0] != 1 || l[3] != 1 || l[1] < 1 || l[2] < 1) {
            nd->bad = xstrdup("attr ksize (expected [1,kh,kw,1])");
            return;
        }
        nd->ksize[0] = l[1];
        nd->ksize[1] = l[2];
    }
    char *pad = attr_str(jn, "padding");
    if (pad && strcmp(pad, "SAME") == 0) nd->same = 1;
    else if (pad && strcmp(pad, "VALID") == 0) nd->same = 0;
    else nd->bad = xasprintf("attr padding '%s' (expected SAME or VALID)", pad ? pad : "");
    free(pad);
    if (nd->bad) return;
    parse_fused_ops(nd, jn);
}

/* fused_ops of _FusedConv2D / _FusedMatMul: BiasAdd, then optionally one activation. */
static void parse_fused_ops(node *nd, json_t *jn)
{
    json_t *fl = json_object_get(json_object_get(attr_get(jn, "fused_ops"), "list"), "s");
    for (size_t i = 0; json_is_array(fl) && i < json_array_size(fl); i++) {
        json_t *v = json_array_get(fl, i);
        char *f = json_is_string(v) ? b64_decode(json_string_value(v)) : xstrdup("?");
        if (i == 0 && strcmp(f, "BiasAdd") == 0) nd->has_bias = 1;
        else if (i == 1 && nd->has_bias && strcmp(f, "Relu") == 0) nd->act = NN_ACT_RELU;
        else if (i == 1 && nd->has_bias && strcmp(f, "Relu6") == 0) nd->act = NN_ACT_RELU6;
        else nd->bad = xasprintf("fused op '%s' (expected BiasAdd, then Relu or Relu6)", f);
        free(f);
        if (nd->bad) return;
    }
}

/* IEEE 754 binary16 -> float32, subnormals, infinities and NaN included. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void fmt_shape(char *out, size_t cap, const int *shape, int rank)
{
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < rank && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", shape[i]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

/* Reads the manifest's shard files (relative to the JSON's directory) into one block. */
static int read_shards(const char *json_path, json_t *manifest, char **data, size_t *len, char **name, err *e)
{
    buf all = {0};
    char *dir = xstrdup(json_path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    for (size_t g = 0; g < json_array_size(manifest); g++) {
        json_t *paths = json_object_get(json_array_get(manifest, g), "paths");
        for (size_t i = 0; i < json_array_size(paths); i++) {
            const char *p = json_string_value(json_array_get(paths, i));
            if (!p) {
                err_set(e, "%s: weightsManifest[%zu].paths[%zu]: not a string", base_name(json_path), g, i);
                goto fail;
            }
            char *full = xasprintf("%s%s", dir, p), *d;
            size_t n;
            int rc = read_file(full, &d, &n, e);
            free(full);
            if (rc != 0) goto fail;
            buf_put(&all, d, n);
            free(d);
            /* messages name the file when there is one shard, else the shards together */
            char *nm = *name ? xasprintf("%s (weight shards)", base_name(json_path)) : xstrdup(p);
            free(*name);
            *name = nm;
        }
    }
    free(dir);
    *len = all.len;
    *data = all.data ? buf_detach(&all) : xcalloc(1, 1);
    return 0;
fail:
    free(dir);
    buf_free(&all);
    return -1;
}

/* The Const node's own shape claim (attr.value.tensor.tensorShape), or -1 if it has none. */
static int const_node_shape(json_t *jn, int *shape)
{
    json_t *ts = json_object_get(json_object_get(attr_get(jn, "value"), "tensor"), "tensorShape");
    return ts ? parse_shape(ts, shape, 8) : -1;
}

static int load_weights(nn_model *m, json_t *nodes_js, json_t *manifest, const char *bin_name,
                        const unsigned char *bin, size_t bin_len, err *e)
{
    const char *jb = m->json_base;
    size_t nf = 0, ni = 0, off = 0;
    /* pass 1: validate and size; pass 2: decode */
    for (int pass = 0; pass < 2; pass++) {
        size_t fo = 0, io = 0;
        off = 0;
        for (size_t g = 0; g < json_array_size(manifest); g++) {
            json_t *ws = json_object_get(json_array_get(manifest, g), "weights");
            if (!json_is_array(ws))
                return err_set(e, "%s: weightsManifest[%zu].weights: missing or not an array", jb, g);
            for (size_t k = 0; k < json_array_size(ws); k++) {
                json_t *w = json_array_get(ws, k);
                const char *name = json_string_value(json_object_get(w, "name"));
                const char *dt = json_string_value(json_object_get(w, "dtype"));
                json_t *q = json_object_get(w, "quantization");
                json_t *shp = json_object_get(w, "shape");
                if (!name || !dt || !json_is_array(shp))
                    return err_set(e, "%s: weightsManifest[%zu].weights[%zu]: needs name, dtype and shape",
                                   jb, g, k);
                int shape[8], rank = (int)json_array_size(shp);
                size_t count = 1;
                if (rank > 8) return err_set(e, "%s: weight '%s': rank %d (expected at most 8)", jb, name, rank);
                for (int d = 0; d < rank; d++) {
                    long v;
                    if (json_int(json_array_get(shp, (size_t)d), &v) != 0 || v < 0 || v > (1L << 30))
                        return err_set(e, "%s: weight '%s': shape[%d] is not a non-negative integer", jb, name, d);
                    shape[d] = (int)v;
                    count *= (size_t)v;
                    /* Each factor is <= 2^30, so this check comes before any wrap: unchecked,
                     * [2^30, 2^30, 4] wrapped the byte count to 0 and the decoder ran far past
                     * the buffers (tests/fuzz/regressions/nn_json). */
                    if (count > ((size_t)1 << 31))
                        return err_set(e, "%s: weight '%s': more than 2^31 elements (expected a weight that fits a "
                                       "model file)", jb, name);
                }
                int dtype, esz, f16 = 0;
                const char *qd = q ? json_string_value(json_object_get(q, "dtype")) : NULL;
                if (strcmp(dt, "float32") == 0 && !q) {
                    dtype = DT_FLOAT, esz = 4;
                } else if (strcmp(dt, "float32") == 0 && qd && strcmp(qd, "float16") == 0) {
                    dtype = DT_FLOAT, esz = 2, f16 = 1;
                } else if (strcmp(dt, "int32") == 0 && !q) {
                    dtype = DT_INT32, esz = 4;
                } else {
                    return err_set(e, "%s: weight '%s': dtype %s%s%s is not supported (expected float32, "
                                   "float32 quantized to float16, or int32)", jb, name, dt, qd ? " quantized to " : "",
                                   qd ? qd : "");
                }
                size_t bytes = count * (size_t)esz;
                int ni_node = nn_model_find(m, name);
                node *nd = ni_node >= 0 ? &m->nodes[ni_node] : NULL;
                if (pass == 0) {
                    if (off + bytes > bin_len)
                        return err_set(e, "%s: truncated: weight '%s' needs bytes %zu..%zu but the file has %zu "
                                       "bytes", bin_name, name, off, off + bytes, bin_len);
                    if (nd && nd->kind == K_CONST) {
                        int ns[8];
                        int nr = const_node_shape(json_array_get(nodes_js, (size_t)ni_node), ns);
                        int same = nr == rank;
                        for (int d = 0; same && d < rank; d++) same = ns[d] == shape[d];
                        if (nr >= 0 && !same) {
                            char a[128], b[128];
                            fmt_shape(a, sizeof a, shape, rank);
                            fmt_shape(b, sizeof b, ns, nr);
                            return err_set(e, "%s: weightsManifest weight '%s': shape %s (%zu bytes) does not match "
                                           "its Const node's tensorShape %s", jb, name, a, bytes, b);
                        }
                    }
                    if (dtype == DT_FLOAT) nf += count;
                    else ni += count;
                } else if (nd && nd->kind == K_CONST) {
                    nd->dtype = dtype;
                    nd->rank = rank;
                    memcpy(nd->shape, shape, sizeof(int) * (size_t)rank);
                    nd->count = count;
                    const unsigned char *p = bin + off;
                    if (dtype == DT_FLOAT) {
                        float *f = m->fdata + fo;
                        for (size_t i = 0; i < count; i++) {
                            if (f16) {
                                f[i] = half_to_float((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
                            } else {
                                uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                                             (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
                                memcpy(&f[i], &u, 4);
                            }
                        }
                        nd->f = f;
                    } else {
                        int32_t *iv = m->idata + io;
                        for (size_t i = 0; i < count; i++) {
                            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
                                         (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
                            iv[i] = (int32_t)u;
                        }
                        nd->i32 = iv;
                    }
                }
                if (dtype == DT_FLOAT) fo += count;
                else io += count;
                off += bytes;
            }
        }
        if (pass == 0) {
            if (off != bin_len)
                return err_set(e, "%s: %zu bytes, but weightsManifest in %s describes %zu bytes (wrong weight file "
                               "for this model?)", bin_name, bin_len, jb, off);
            m->fdata = xmalloc(sizeof(float) * (nf ? nf : 1));
            m->idata = xmalloc(sizeof(int32_t) * (ni ? ni : 1));
        }
    }
    return 0;
}

static int kind_of(const char *op)
{
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op, op_table[i].op) == 0) return op_table[i].kind;
    return K_OTHER;
}

int nn_model_load_tfjs(const char *json_path, const char *bin_path, nn_model **out, err *e)
{
    char *jtext = NULL, *bin = NULL, *shard_name = NULL;
    size_t jlen, blen = 0;
    json_t *root = NULL;
    nn_model *m = xcalloc(1, sizeof *m);
    m->json_path = xstrdup(json_path);
    m->json_base = base_name(m->json_path);
    m->placeholder = -1;
    const char *jb = m->json_base;
    if (read_file(json_path, &jtext, &jlen, e) != 0) goto fail;
    json_error_t je;
    root = json_loadb(jtext, jlen, 0, &je);
    if (!root) {
        err_set(e, "%s:%d: invalid JSON: %s", jb, je.line, je.text);
        goto fail;
    }
    json_t *topo = json_object_get(root, "modelTopology");
    json_t *nodes = json_object_get(topo, "node");
    json_t *manifest = json_object_get(root, "weightsManifest");
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!json_is_array(nodes) || (fmt && strcmp(fmt, "graph-model") != 0)) {
        err_set(e, "%s: modelTopology.node: not a TF.js graph model (expected format \"graph-model\" with "
                "modelTopology.node[])", jb);
        goto fail;
    }
    if (!json_is_array(manifest)) {
        err_set(e, "%s: weightsManifest: missing or not an array", jb);
        goto fail;
    }
    m->n = (int)json_array_size(nodes);
    m->nodes = xcalloc((size_t)m->n + 1, sizeof *m->nodes);
    m->index = xcalloc((size_t)m->n + 1, sizeof *m->index);
    for (int i = 0; i < m->n; i++) {
        json_t *jn = json_array_get(nodes, (size_t)i);
        const char *name = json_string_value(json_object_get(jn, "name"));
        const char *op = json_string_value(json_object_get(jn, "op"));
        if (!name || !op) {
            err_set(e, "%s: modelTopology.node[%d]: needs string fields name and op", jb, i);
            goto fail;
        }
        node *nd = &m->nodes[i];
        nd->name = xstrdup(name);
        nd->op = xstrdup(op);
        nd->kind = kind_of(op);
        nd->computable = -1;
        m->index[i].name = nd->name;
        m->index[i].idx = i;
        if (nd->kind == K_PLACEHOLDER && m->placeholder < 0) m->placeholder = i;
    }
    qsort(m->index, (size_t)m->n, sizeof *m->index, cmp_name_ix);
    for (int i = 1; i < m->n; i++)
        if (strcmp(m->index[i - 1].name, m->index[i].name) == 0) {
            err_set(e, "%s: modelTopology.node: two nodes named '%s'", jb, m->index[i].name);
            goto fail;
        }
    for (int i = 0; i < m->n; i++) {
        json_t *jn = json_array_get(nodes, (size_t)i);
        node *nd = &m->nodes[i];
        json_t *ins = json_object_get(jn, "input");
        size_t k_n = json_is_array(ins) ? json_array_size(ins) : 0;
        nd->in = xcalloc(k_n + 1, sizeof(int));
        nd->in_port = xcalloc(k_n + 1, sizeof(int));
        for (size_t k = 0; k < k_n; k++) {
            const char *s = json_string_value(json_array_get(ins, k));
            if (!s) {
                err_set(e, "%s: node '%s': input[%zu] is not a string", jb, nd->name, k);
                goto fail;
            }
            if (s[0] == '^') continue; /* control dependency: no data */
            char *nm = xstrdup(s);
            int port = 0;
            char *colon = strrchr(nm, ':');
            if (colon && colon[1]) {
                char *p = colon + 1;
                while (isdigit((unsigned char)*p)) p++;
                if (!*p) {
                    port = atoi(colon + 1);
                    *colon = 0;
                }
            }
            int idx = nn_model_find(m, nm);
            free(nm);
            if (idx < 0) {
                err_set(e, "%s: node '%s': input '%s' is not a node of the graph", jb, nd->name, s);
                goto fail;
            }
            nd->in[nd->n_in] = idx;
            nd->in_port[nd->n_in++] = port;
        }
        parse_attrs(nd, jn);
    }
    /* the weights */
    const char *bin_name;
    if (bin_path) {
        if (read_file(bin_path, &bin, &blen, e) != 0) goto fail;
        bin_name = base_name(bin_path);
    } else {
        if (read_shards(json_path, manifest, &bin, &blen, &shard_name, e) != 0) goto fail;
        bin_name = shard_name ? shard_name : "weights";
    }
    if (load_weights(m, nodes, manifest, bin_name, (const unsigned char *)bin, blen, e) != 0) goto fail;
    sha256_ctx sc;
    unsigned char dg[32];
    sha256_init(&sc);
    sha256_update(&sc, jtext, jlen);
    sha256_update(&sc, bin, blen);
    sha256_final(&sc, dg);
    sha256_to_hex(dg, m->sha);
    free(jtext);
    free(bin);
    free(shard_name);
    json_decref(root);
    *out = m;
    return 0;
fail:
    free(jtext);
    free(bin);
    free(shard_name);
    json_decref(root);
    nn_model_free(m);
    return -1;
}

int nn_model_load_dir(const char *dir, nn_model **out, err *e)
{
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open model directory", dir);
    char *json = NULL;
    int n_json = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
            n_json++;
            free(json);
            json = xasprintf("%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    if (n_json != 1) {
        free(json);
        return err_set(e, "%s: %d *.json files (expected exactly one TF.js model.json)", dir, n_json);
    }
    int rc = nn_model_load_tfjs(json, NULL, out, e);
    free(json);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Plans */

typedef struct tensor {
    int shape[4];
    size_t size;
    float *val;  /* activation arena, or the model's weights for a constant */
    float *grad; /* gradient arena (NULL until the first backward, or when no gradient flows) */
    int is_const, needs_grad;
    int zero_step; /* backward zeroes grad just before this step (its last consumer); -1: at start */
    size_t off;    /* offset in the arenas */
} tensor;

typedef struct step {
    int kind, node;
    const char *opname; /* for listing: the node's op, or "Relu"/"Relu6" for a split activation */
    int out, n_in;
    int *in; /* tensor indices */
    int act;
    nn_geom g;
    const float *w, *b;
    nn_conv_pack *pk; /* K_CONV: the weights prepared for the AVX-512 products, or NULL */
    int res;          /* K_CONV with pk: in[1], a residual added to the output (fuse_residuals), or -1 */
    /* fuse_gates: a K_DWCONV whose backward applies its input's activation derivative (gate, one of
     * nn_simd.h's NN_GATE_*, at the values of tensor gate_t, into the gradient of gate_t); the
     * producer of that activation then skips it (act_done) or its whole backward (bwd_skip) */
    int gate, gate_t, act_done, bwd_skip;
    float ga, gc; /* NN_GATE_HSWISH: the hard swish's constants */
    /* fuse_hswish: a conv or depthwise conv that also writes the hard swish of its output into tensor
     * hs_t (constants ha, hc), whose own K_HSWISH step then skips its forward (fwd_skip) */
    int hs_t, fwd_skip;
    int oh, ow;     /* ResizeBilinear */
    float ha, hc;   /* hard swish (c*x) * relu6(x + a) */
} step;

struct nn_plan {
    nn_model *m;
    int n_t, n_s;
    tensor *t;
    step *s;
    int in_t;
    int n_out;
    int *out_t;
    float **out_grad;
    float *arena, *garena;
    size_t arena_n;
    float *col;
    int forwarded;
    double macs;
};

/* Builder state of nn_plan_new. */
typedef struct builder {
    nn_model *m;
    int input; /* placeholder node */
    int *order, n_order;
    char *mark;   /* 0 new, 1 visiting, 2 done */
    char *split;  /* fused activation emitted as a step of its own (":preact" requested) */
    int (*sh)[4]; /* per-node shape for the current size */
    int (*native)[4];
} builder;

static int visit(builder *b, int i, err *e)
{
    nn_model *m = b->m;
    node *nd = &m->nodes[i];
    if (b->mark[i] == 2) return 0;
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
    for (int k = 0; k < nd->n_in; k++) {
        if (nd->in_port[k] != 0)
            return err_set(e, "%s: node '%s': input %d reads output %d of '%s' (only output 0 is supported)",
                           m->json_base, nd->name, k, nd->in_port[k], m->nodes[nd->in[k]].name);
        if (visit(b, nd->in[k], e) != 0) return -1;
    }
    b->mark[i] = 2;
    b->order[b->n_order++] = i;
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
        if (nd->has_bias) {
            const node *bias = const_in(b, nd, 2, DT_FLOAT, "bias", e);
            if (!bias) return -1;
            if ((int)bias->count != g->cout)
                return err_set(e, "%s: node '%s': bias '%s' has %zu values (expected %d)", jb, nd->name, bias->name,
                               bias->count, g->cout);
        }
    } else {
        if (need_inputs(b, nd, nd->has_bias ? 3 : 2, e) != 0) return -1;
        const node *w = const_in(b, nd, 1, DT_FLOAT, "filter", e);
        if (!w) return -1;
        if (w->rank != 4)
            return err_set(e, "%s: node '%s': filter '%s' has rank %d (expected 4)", jb, nd->name, w->name, w->rank);
        if (w->shape[2] != g->cin)
            return err_set(e, "%s: node '%s': filter '%s' expects %d input channels but the input has %d", jb,
                           nd->name, w->name, w->shape[2], g->cin);
        g->kh = w->shape[0], g->kw = w->shape[1];
        g->cout = nd->kind == K_CONV ? w->shape[3] : w->shape[2] * w->shape[3];
        if (nd->has_bias) {
            const node *bias = const_in(b, nd, 2, DT_FLOAT, "bias", e);
            if (!bias) return -1;
            if ((int)bias->count != g->cout)
                return err_set(e, "%s: node '%s': bias '%s' has %zu values (expected %d)", jb, nd->name, bias->name,
                               bias->count, g->cout);
        }
    }
    if (nn_geom_pad(g, nd->same) != 0)
        return err_set(e, "%s: node '%s': a %dx%d input is too small for its %dx%d window", jb, nd->name, g->h,
                       g->w, g->kh, g->kw);
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
            if (need_inputs(b, nd, 1, e) != 0) return -1;
            if (m->nodes[nd->in[0]].kind == K_CONST)
                return err_set(e, "%s: node '%s': a constant input is not supported", jb, nd->name);
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
            if (need_inputs(b, nd, 1, e) != 0) return -1;
            if (m->nodes[nd->in[0]].kind == K_CONST)
                return err_set(e, "%s: node '%s': a constant input is not supported", jb, nd->name);
            memcpy(s, b->sh[nd->in[0]], sizeof(int) * 4);
            break;
        case K_RESHAPE: {
            /* NHWC is row-major, so a reshape that keeps the batch dimension moves no data; ranks
             * 2 ([batch, features] -> (n,1,1,features)) and 4 are supported */
            if (need_inputs(b, nd, 2, e) != 0) return -1;
            if (m->nodes[nd->in[0]].kind == K_CONST)
                return err_set(e, "%s: node '%s': a constant input is not supported", jb, nd->name);
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
                else known *= v;
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
            if (need_inputs(b, nd, 2, e) != 0) return -1;
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
            s[3] = 0;
            for (int k = 0; k < nd->n_in - 1; k++) {
                const int *x = b->sh[nd->in[k]];
                if (m->nodes[nd->in[k]].kind == K_CONST)
                    return err_set(e, "%s: node '%s': a constant input is not supported", jb, nd->name);
                if (x[0] != s[0] || x[1] != s[1] || x[2] != s[2])
                    return err_set(e, "%s: node '%s': input '%s' is %dx%d but input '%s' is %dx%d (for this model "
                                   "the input size must be a multiple of 32)", jb, nd->name,
                                   m->nodes[nd->in[k]].name, x[1], x[2], m->nodes[nd->in[0]].name, s[1], s[2]);
                s[3] += x[3];
            }
            break;
        }
        case K_RESIZE: {
            if (need_inputs(b, nd, 2, e) != 0) return -1;
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
                s[1] = (int)lround((double)sz->i32[0] * b->sh[nd->in[0]][1] / ni[1]);
                s[2] = (int)lround((double)sz->i32[1] * b->sh[nd->in[0]][2] / ni[2]);
                if (s[1] < 1) s[1] = 1;
                if (s[2] < 1) s[2] = 1;
            }
            break;
        }
        default:
            return err_set(e, "%s: node '%s': op '%s' is not supported by the nn engine", jb, nd->name, nd->op);
        }
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

/* Residual connections: an Add of a packed convolution's output (no activation, no other
 * consumer, not a requested output) and a tensor of the same shape computed before it runs in the
 * convolution's epilogue (nn_conv_fwd_packed's res), and the Add step is left out (K_FUSED): a
 * pass over the tensor less forward, and in the backward the convolution reads the Add's output
 * gradient as its own (they are equal) and passes it on to the residual. The same values as the
 * two ops. Recomputes the backward's zeroing points (zero_step) for the new inputs. */
static void fuse_residuals(nn_plan *p)
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
static void fuse_gates(nn_plan *p)
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
static void fuse_hswish(nn_plan *p)
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

/* n floats, zeroed, on a 64-byte boundary: the tensors' offsets are multiples of 16 floats, so
 * each starts a cache line, and a pixel of 16k channels is whole lines (a 512-bit load that
 * straddles two lines costs two). Aborts when out of memory, as xmalloc does. */
static float *arena_alloc(size_t n)
{
    size_t bytes = (sizeof(float) * n + 63) / 64 * 64;
    float *a = aligned_alloc(64, bytes);
    if (!a)
        xmalloc((size_t)-1); /* out of memory: reported and aborted as xmalloc does */
    else
        memset(a, 0, bytes);
    return a;
}

static int add_tensor(nn_plan *p, const int shape[4], int is_const, const float *val)
{
    tensor *t = &p->t[p->n_t];
    memcpy(t->shape, shape, sizeof(int) * 4);
    t->size = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
    t->is_const = is_const;
    t->val = (float *)val;
    if (!is_const) {
        t->off = p->arena_n;
        p->arena_n += (t->size + 15) & ~(size_t)15; /* 64-byte aligned tensors */
    }
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
static int nn_set_threads_default(void)
{
    if (!g_threads_set) {
        int n = nn_threads_from_env();
        nn_set_threads(n > 0 ? n : 1);
    }
    return 0;
}

int nn_plan_new(nn_model *m, const char *input_name, int batch, int h, int w,
                const char *const *outputs, int n_outputs, nn_plan **out, err *e)
{
    const char *jb = m->json_base;
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
    for (int oi = 0; oi < b.n_order; oi++) {
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
            if (skind == K_CONV) {
                size_t cn = nn_conv_col_size(&st->g);
                if (cn > col_n) col_n = cn;
                p->macs += (double)st->g.n * st->g.oh * st->g.ow * st->g.kh * st->g.kw * st->g.cin * st->g.cout;
            } else {
                p->macs += (double)st->g.n * st->g.oh * st->g.ow * st->g.kh * st->g.kw * st->g.cout;
            }
            continue;
        }
        int o = add_tensor(p, s, 0, NULL);
        step *st = add_step(p, skind, i, nd->op, o, n_data);
        for (int k = 0; k < n_data; k++) st->in[k] = tensor_of[nd->in[k]];
        st->act = nd->kind == K_RELU ? NN_ACT_RELU : nd->kind == K_RELU6 ? NN_ACT_RELU6 : nd->act;
        if (nd->kind == K_CONV || nd->kind == K_DWCONV || nd->kind == K_MAXPOOL || nd->kind == K_MATMUL) {
            node_geom(&b, nd, b.sh[nd->in[0]], &st->g, e);
            if (nd->kind != K_MAXPOOL) {
                st->w = m->nodes[nd->in[1]].f;
                st->b = nd->has_bias ? m->nodes[nd->in[2]].f : NULL;
            }
            if (skind == K_CONV) {
                size_t cn = nn_conv_col_size(&st->g);
                if (cn > col_n) col_n = cn;
                p->macs += (double)st->g.n * st->g.oh * st->g.ow * st->g.kh * st->g.kw * st->g.cin * st->g.cout;
            } else if (nd->kind == K_DWCONV) {
                p->macs += (double)st->g.n * st->g.oh * st->g.ow * st->g.kh * st->g.kw * st->g.cout;
            }
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
    p->arena = arena_alloc(p->arena_n + 16);
    for (int k = 0; k < p->n_t; k++)
        if (!p->t[k].is_const) p->t[k].val = p->arena + p->t[k].off;
    p->col = arena_alloc(col_n + 1);
    p->n_out = n_outputs;
    p->out_t = xcalloc((size_t)n_outputs, sizeof(int));
    p->out_grad = xcalloc((size_t)n_outputs, sizeof(float *));
    for (int k = 0; k < n_outputs; k++) {
        p->out_t[k] = out_kind[k] ? pre_of[out_node[k]] : tensor_of[out_node[k]];
        p->out_grad[k] = xcalloc(p->t[p->out_t[k]].size, sizeof(float));
        p->t[p->out_t[k]].zero_step = -1;
    }
    free(tensor_of);
    free(pre_of);
    free(uses);
    free(hsw_x);
    free(hsw_ac);
    free(out_node);
    free(out_kind);
    free(b.order);
    free(b.mark);
    free(b.split);
    free(b.sh);
    free(b.native);
    for (int k = 0; k < p->n_s; k++)
        if (p->s[k].kind == K_CONV) p->s[k].pk = nn_conv_pack_new(&p->s[k].g, p->s[k].w);
    fuse_residuals(p);
    fuse_gates(p);
    fuse_hswish(p);
    *out = p;
    return 0;
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
    free(b.split);
    free(b.sh);
    free(b.native);
    nn_plan_free(p);
    return -1;
}

void nn_plan_free(nn_plan *p)
{
    if (!p) return;
    for (int k = 0; k < p->n_s; k++) free(p->s[k].in), nn_conv_pack_free(p->s[k].pk);
    for (int k = 0; k < p->n_out; k++) free(p->out_grad[k]);
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
int nn_plan_n_steps(const nn_plan *p) { return p->n_s; }

void nn_plan_step_info(const nn_plan *p, int i, const char **name, const char **op, int shape[4])
{
    const step *s = &p->s[i];
    if (name) *name = p->m->nodes[s->node].name;
    if (op) *op = s->opname;
    if (shape) memcpy(shape, p->t[s->out].shape, sizeof(int) * 4);
}

int nn_plan_forward(nn_plan *p, err *e)
{
    (void)e;
    for (int k = 0; k < p->n_s; k++) {
        const step *s = &p->s[k];
        tensor *o = &p->t[s->out];
        const tensor *x = &p->t[s->in[0]];
        switch (s->kind) {
        case K_CONV:
            if (s->pk) {
                nn_hswish_out hs = {s->hs_t >= 0 ? p->t[s->hs_t].val : NULL, s->ha, s->hc};
                nn_conv_fwd_packed(&s->g, s->pk, x->val, s->b, s->act, s->res >= 0 ? p->t[s->res].val : NULL, o->val,
                                   p->col, s->hs_t >= 0 ? &hs : NULL);
            }
            else
                nn_conv_fwd(&s->g, x->val, s->w, s->b, s->act, o->val, p->col);
            break;
        case K_DWCONV:
            if (s->hs_t >= 0) {
                nn_hswish_out hs = {p->t[s->hs_t].val, s->ha, s->hc};
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
        case K_CONCAT: {
            const float *xs[64];
            int cs[64];
            for (int j = 0; j < s->n_in && j < 64; j++) {
                xs[j] = p->t[s->in[j]].val;
                cs[j] = p->t[s->in[j]].shape[3];
            }
            nn_concat_fwd(s->n_in, xs, cs, (size_t)o->shape[0] * o->shape[1] * o->shape[2], o->val);
            break;
        }
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
    }
    p->forwarded = 1;
    return 0;
}

int nn_plan_backward(nn_plan *p, err *e)
{
    if (!p->forwarded) return err_set(e, "nn_plan_backward: no forward pass has been run on this plan");
    if (!p->garena) {
        p->garena = arena_alloc(p->arena_n + 16);
        for (int k = 0; k < p->n_t; k++)
            if (!p->t[k].is_const && p->t[k].needs_grad) p->t[k].grad = p->garena + p->t[k].off;
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
        const step *s = &p->s[k];
        tensor *o = &p->t[s->out];
        if (!o->needs_grad || s->bwd_skip) continue; /* bwd_skip: done by the step that fused it */
        /* the first writer of an input's gradient (this step is the input's last consumer) has
         * the kernel overwrite instead of add where it can, and the zeroing is skipped */
        int can = s->kind == K_CONV || s->kind == K_DWCONV || s->kind == K_HSWISH || s->kind == K_RELU ||
                  s->kind == K_RELU6 || s->kind == K_IDENTITY;
        int overwrite = can && p->t[s->in[0]].zero_step == k;
        /* an Add's operand of the output's shape takes dy by a copy (Add(x, x) excepted) */
        int copy[2] = {0, 0};
        if (s->kind == K_CONV && s->res >= 0) copy[1] = p->t[s->res].grad && p->t[s->res].zero_step == k;
        if (s->kind == K_ADD && s->in[0] != s->in[1])
            for (int j = 0; j < 2; j++) {
                const tensor *t = &p->t[s->in[j]];
                copy[j] = t->grad && t->zero_step == k && t->size == o->size;
            }
        for (int j = overwrite; j < s->n_in; j++) {
            tensor *t = &p->t[s->in[j]];
            if (t->grad && t->zero_step == k && !(j < 2 && copy[j])) memset(t->grad, 0, sizeof(float) * t->size);
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
                nn_dwconv_bwd_gated(&s->g, o->grad, s->w, gt->grad, s->gate, gt->val, s->ga, s->gc);
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
                              o->grad, dx, db);
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
        case K_CONCAT: {
            float *dxs[64];
            int cs[64];
            for (int j = 0; j < s->n_in && j < 64; j++) {
                dxs[j] = p->t[s->in[j]].grad;
                cs[j] = p->t[s->in[j]].shape[3];
            }
            nn_concat_bwd(s->n_in, dxs, cs, (size_t)o->shape[0] * o->shape[1] * o->shape[2], o->grad);
            break;
        }
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
    nn_ops_set_threads(n);
}

int nn_threads_from_env(void) { return threads_from_env(); }

void nn_resize_u8_to_float(const uint8_t *src, int sw, int sh, int ch, float *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * (float)sh / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float ty = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * (float)sw / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float tx = fx - (float)x0;
            for (int c = 0; c < ch; c++) {
                float a = src[((size_t)y0 * sw + x0) * ch + c], b2 = src[((size_t)y0 * sw + x1) * ch + c];
                float c2 = src[((size_t)y1 * sw + x0) * ch + c], d = src[((size_t)y1 * sw + x1) * ch + c];
                float top = a + (b2 - a) * tx, bot = c2 + (d - c2) * tx;
                dst[((size_t)y * dw + x) * ch + c] = top + (bot - top) * ty;
            }
        }
    }
}

static const char *const coco80[80] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush"};

const char *nn_coco80_name(int i) { return i >= 0 && i < 80 ? coco80[i] : NULL; }
