/* nn_load — reads a TF.js graph model: model.json (modelTopology: nodes, inputs, the attributes
 * of the ops the engine runs) and the weights its manifest describes (float16, float32, int32),
 * checked against each other, into an nn_model (nn_graph.h). */
#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_graph.h"
#include "nn_ops.h"
#include "sha256.h"

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


static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
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
        if (json_int(json_array_get(l, i), &v) != 0 || v < INT_MIN || v > INT_MAX) return -1;
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
        else if (json_int(sz, &v) != 0 || v < INT_MIN || v > INT_MAX) return -1;
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

/* Index of the first NaN or infinity among n little-endian float16 (f16) or float32 values at p,
 * or n if all are finite: their exponent bits all ones. */
static size_t first_not_finite(const unsigned char *p, size_t n, int f16)
{
    for (size_t i = 0; i < n; i++) {
        int all_ones = f16 ? (p[2 * i + 1] & 0x7c) == 0x7c
                           : (p[4 * i + 3] & 0x7f) == 0x7f && (p[4 * i + 2] & 0x80) == 0x80;
        if (all_ones) return i;
    }
    return n;
}

/* "NaN", "+Inf" or "-Inf" for a non-finite float16 / float32 at p (little-endian). */
static const char *half_kind(const unsigned char *p)
{
    return (p[1] & 0x03) || p[0] ? "NaN" : (p[1] & 0x80) ? "-Inf" : "+Inf";
}

static const char *float_kind(const unsigned char *p)
{
    return (p[2] & 0x7f) || p[1] || p[0] ? "NaN" : (p[3] & 0x80) ? "-Inf" : "+Inf";
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
                    if (dtype == DT_FLOAT) {
                        size_t bad = first_not_finite(bin + off, count, f16);
                        if (bad < count)
                            return err_set(e, "%s: weight '%s': element %zu is %s (expected finite numbers)", bin_name,
                                           name, bad, f16 ? half_kind(bin + off + 2 * bad) : float_kind(bin + off + 4 * bad));
                        nf += count;
                    } else {
                        ni += count;
                    }
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
    qsort(m->index, (size_t)m->n, sizeof *m->index, nn_name_ix_cmp);
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

