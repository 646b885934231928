/* fmnist_export — writes a network as a TF.js graph model (see fmnist.h and FORMAT.md): the JSON
 * topology, built with jansson, and the little-endian weight file. */
#include "fmnist_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
    for (int i = 0; i < FMNIST_CLASSES; i++) json_array_append_new(classes, json_string(fmnist_class_name(i)));
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
