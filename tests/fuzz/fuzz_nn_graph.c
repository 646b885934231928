/* fuzz_nn_graph — the nn engine beyond its loader: the fuzz input is read as a description of a
 * small TF.js graph (how many nodes; each node's op, inputs, attributes and Const weights), which
 * is written out as a model.json and its .bin, then loaded, planned at a tiny input size, run
 * forward and backward (pipeline/nn: nn_load, nn_plan, nn_fuse, nn_exec).
 *
 * The description makes graphs the JSON mutator rarely reaches: ops wired to each other in any
 * order (cycles, a node reading itself, ports ":1", control inputs), Concat of up to 80 inputs,
 * Const weights of the shapes the ops need (or nearly), and sizes, strides, windows and Reshape
 * or Resize targets that are either small or extreme (0, -1, 2^31 - 1, 100000...). Checked beyond
 * "no crash, no leak, no UB": every failure is one line naming m.json or m.bin. Plans are held to
 * 64 MB and 10^8 multiply-adds (nn_plan_max_bytes, nn_plan_max_work) so that what the engine
 * accepts fits the fuzzer's memory and time limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nn.h"
#include "nn_steps.h"

/* The fuzz input, read a byte at a time; 0 once it is used up. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
} rd;

static unsigned next(rd *r)
{
    if (!r->n) return 0;
    r->n--;
    return *r->p++;
}

static const char *const ops[] = {
    "Relu", "Relu6", "Sigmoid", "Identity", "Add", "AddV2", "Mul", "ConcatV2", "Mean", "MaxPool", "Conv2D",
    "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "MatMul", "_FusedMatMul", "Reshape",
    "ResizeBilinear", "Const", "Placeholder", "FancyPool",
};
enum { N_OPS = sizeof ops / sizeof ops[0] };

/* A size-like integer: mostly small, sometimes extreme. */
static long long pick_int(rd *r)
{
    static const long long extreme[] = {0, -1, -2, 2147483647LL, -2147483647LL - 1, 100000, 268435457, 65536,
                                        4294967296LL};
    unsigned b = next(r);
    if (b < 224) return (long long)(b % 9) - 1; /* -1 .. 7 */
    return extreme[b % (sizeof extreme / sizeof extreme[0])];
}

/* Writes one Const node "name" and its manifest entry and bytes: float32 (maybe stored as
 * float16) or int32, of the given rank and dims (each 1..4 unless the input asks otherwise). */
static void add_const(rd *r, buf *nodes, buf *man, buf *bin, const char *name, int want_int, int rank)
{
    int dims[4], count = 1;
    for (int d = 0; d < rank; d++) {
        dims[d] = 1 + (int)(next(r) % 4);
        count *= dims[d];
    }
    int f16 = !want_int && next(r) % 4 == 0;
    buf_printf(nodes, ",{\"name\":\"%s\",\"op\":\"Const\",\"attr\":{\"value\":{\"tensor\":{\"tensorShape\":{\"dim\":[",
               name);
    buf_printf(man, "%s{\"name\":\"%s\",\"shape\":[", man->len ? "," : "", name);
    for (int d = 0; d < rank; d++) {
        buf_printf(nodes, "%s{\"size\":\"%d\"}", d ? "," : "", dims[d]);
        buf_printf(man, "%s%d", d ? "," : "", dims[d]);
    }
    buf_puts(nodes, "]}}}}}");
    buf_printf(man, "],\"dtype\":\"%s\"%s}", want_int ? "int32" : "float32",
               f16 ? ",\"quantization\":{\"dtype\":\"float16\"}" : "");
    unsigned seed = next(r);
    for (int i = 0; i < count; i++) {
        if (want_int) {
            int32_t v = (int32_t)pick_int(r);
            buf_put(bin, (const char *)&v, 4);
        } else if (f16) {
            uint16_t h = (uint16_t)(0x3000 + ((seed * 31u + (unsigned)i * 97u) % 0x1000)); /* 0.125 .. 0.5 */
            if (seed == 255 && i == 0) h = 0x7c00; /* +Inf: refused at load */
            buf_put(bin, (const char *)&h, 2);
        } else {
            float v = (float)((int)((seed + (unsigned)i * 37u) % 17) - 8) / 8.0f;
            buf_put(bin, (const char *)&v, 4);
        }
    }
}

/* The "attr" object of a node of op op. */
static void add_attrs(rd *r, buf *nodes, const char *op)
{
    unsigned b = next(r);
    buf_puts(nodes, ",\"attr\":{");
    if (!strcmp(op, "Placeholder")) {
        buf_puts(nodes, "\"shape\":{\"shape\":{\"dim\":[");
        int rank = b % 8 == 0 ? 3 : 4;
        for (int d = 0; d < rank; d++) buf_printf(nodes, "%s{\"size\":\"%lld\"}", d ? "," : "", pick_int(r));
        buf_puts(nodes, "]}}");
    } else if (strstr(op, "Conv") || !strcmp(op, "MaxPool")) {
        const char *pad = b % 16 == 0 ? "EXPLICIT" : b % 2 ? "SAME" : "VALID";
        long long s1 = 1 + (long long)(b / 2 % 3), s2 = s1;
        if (b >= 240) s1 = pick_int(r), s2 = pick_int(r);
        buf_printf(nodes, "\"strides\":{\"list\":{\"i\":[\"1\",\"%lld\",\"%lld\",\"1\"]}},\"padding\":{\"s\":\"%s\"}",
                   s1, s2, !strcmp(pad, "SAME") ? "U0FNRQ==" : !strcmp(pad, "VALID") ? "VkFMSUQ=" : "RVhQTElDSVQ=");
        unsigned d = next(r);
        if (d >= 192)
            buf_printf(nodes, ",\"dilations\":{\"list\":{\"i\":[\"1\",\"%lld\",\"%lld\",\"1\"]}}", pick_int(r),
                       pick_int(r));
        if (!strcmp(op, "MaxPool"))
            buf_printf(nodes, ",\"ksize\":{\"list\":{\"i\":[\"1\",\"%lld\",\"%lld\",\"1\"]}}",
                       d % 4 ? (long long)(1 + d % 3) : pick_int(r), (long long)(1 + d / 4 % 3));
    } else if (!strcmp(op, "Mean")) {
        buf_printf(nodes, "\"keep_dims\":{\"b\":%s}", b % 4 ? "true" : "false");
    } else if (!strcmp(op, "ResizeBilinear")) {
        buf_printf(nodes, "\"align_corners\":{\"b\":%s},\"half_pixel_centers\":{\"b\":%s}", b & 1 ? "true" : "false",
                   b & 2 ? "true" : "false");
    } else if (strstr(op, "MatMul")) {
        buf_printf(nodes, "\"transpose_b\":{\"b\":%s}", b % 32 ? "false" : "true");
    }
    if (!strncmp(op, "_Fused", 6) || !strncmp(op, "Fused", 5)) {
        /* BiasAdd, BiasAdd + Relu / Relu6, or an activation alone (refused) */
        static const char *const fo[] = {"\"Qmlhc0FkZA==\"", "\"Qmlhc0FkZA==\",\"UmVsdQ==\"",
                                         "\"Qmlhc0FkZA==\",\"UmVsdTY=\"", "\"UmVsdQ==\""};
        buf_printf(nodes, "%s\"fused_ops\":{\"list\":{\"s\":[%s]}}", nodes->data[nodes->len - 1] == '{' ? "" : ",",
                   fo[(b >> 4) % 4]);
    }
    buf_puts(nodes, "}");
}

/* The inputs of node i (op op): data inputs reading earlier nodes (or, rarely, itself, a later
 * node, a port ":1" or a control input), and Const nodes made for the weights the op takes. */
static void add_inputs(rd *r, buf *nodes, buf *consts, buf *man, buf *bin, int i, int n, const char *op)
{
    int n_data = 1, n_const = 0, want_int = 0, const_rank = 4;
    if (!strcmp(op, "Add") || !strcmp(op, "AddV2") || !strcmp(op, "Mul")) n_data = 2;
    if (!strcmp(op, "ConcatV2")) n_data = 1 + (int)(next(r) % 80), n_const = 1, want_int = 1, const_rank = 0;
    if (strstr(op, "Conv")) n_const = !strncmp(op, "_Fused", 6) || !strncmp(op, "Fused", 5) ? 2 : 1;
    if (strstr(op, "MatMul")) n_const = !strncmp(op, "_Fused", 6) ? 2 : 1, const_rank = 2;
    if (!strcmp(op, "Mean")) n_const = 1, want_int = 1, const_rank = 1;
    if (!strcmp(op, "Reshape")) n_const = 1, want_int = 1, const_rank = 1;
    if (!strcmp(op, "ResizeBilinear")) n_const = 1, want_int = 1, const_rank = 1;
    if (!strcmp(op, "Const") || !strcmp(op, "Placeholder")) n_data = 0;
    buf_puts(nodes, ",\"input\":[");
    for (int k = 0; k < n_data; k++) {
        unsigned b = next(r);
        int j = (int)(b % (unsigned)(i + 1)) - 1; /* -1: the placeholder */
        if (b >= 250) j = (int)(b % (unsigned)n); /* itself or a later node: a cycle */
        const char *pre = b == 249 ? "^" : "", *port = b == 248 ? ":1" : "";
        if (j < 0) buf_printf(nodes, "%s\"%sinput%s\"", k ? "," : "", pre, port);
        else buf_printf(nodes, "%s\"%sn%d%s\"", k ? "," : "", pre, j, port);
    }
    for (int k = 0; k < n_const; k++) {
        char name[32];
        snprintf(name, sizeof name, "c%d_%d", i, k);
        /* a bias (the second constant of a fused op) is a vector */
        add_const(r, consts, man, bin, name, want_int, k == 1 ? 1 : const_rank);
        buf_printf(nodes, "%s\"%s\"", n_data + k ? "," : "", name);
    }
    buf_puts(nodes, "]");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    nn_set_threads(1);
    nn_plan_max_bytes = 64u << 20;
    nn_plan_max_work = 1e8; /* a fraction of a second under the sanitizers */
    return 0;
}

static void check_failure(const err *e)
{
    if (!e->msg[0] || strchr(e->msg, '\n') || (!strstr(e->msg, "m.json") && !strstr(e->msg, "m.bin"))) {
        fprintf(stderr, "fuzz_nn_graph: bad failure: '%s'\n", e->msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd r = {data, size};
    int n = 1 + (int)(next(&r) % 24), batch = 1 + (int)(next(&r) % 2), h = 1 + (int)(next(&r) % 8),
        w = 1 + (int)(next(&r) % 8);
    buf nodes = {0}, consts = {0}, man = {0}, bin = {0};
    buf_puts(&nodes, "{\"name\":\"input\",\"op\":\"Placeholder\"");
    add_attrs(&r, &nodes, "Placeholder");
    buf_puts(&nodes, "}");
    for (int i = 0; i < n; i++) {
        const char *op = ops[next(&r) % N_OPS];
        buf_printf(&nodes, ",{\"name\":\"n%d\",\"op\":\"%s\"", i, op);
        add_inputs(&r, &nodes, &consts, &man, &bin, i, n, op);
        add_attrs(&r, &nodes, op);
        buf_puts(&nodes, "}");
    }
    buf js = {0};
    buf_printf(&js, "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[%s%s]},\"weightsManifest\":[{\"paths\":"
                    "[\"m.bin\"],\"weights\":[%s]}]}", nodes.data, consts.data ? consts.data : "",
               man.data ? man.data : "");
    char jp[1024], bp[1024];
    snprintf(jp, sizeof jp, "%s", fuzz_path("m.json"));
    snprintf(bp, sizeof bp, "%s", fuzz_path("m.bin"));
    fuzz_write(jp, js.data, js.len);
    fuzz_write(bp, bin.data ? bin.data : "", bin.len);
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "%s\n", js.data);
    buf_free(&nodes), buf_free(&consts), buf_free(&man), buf_free(&bin), buf_free(&js);

    nn_model *m = NULL;
    err e = {{0}};
    if (nn_model_load_tfjs(jp, bp, &m, &e) != 0) {
        check_failure(&e);
        return 0;
    }
    /* the last computable nodes (up to three), some asked for before their activation */
    const char *outs[3];
    char names[3][40];
    int k = 0;
    unsigned pre = next(&r);
    for (int i = nn_model_n_nodes(m) - 1; i >= 0 && k < 3; i--) {
        const char *nm = nn_model_node_name(m, i), *op = nn_model_node_op(m, i);
        if (!nn_model_node_computable(m, i) || !strcmp(op, "Const") || !strcmp(op, "Placeholder")) continue;
        snprintf(names[k], sizeof names[k], "%s%s", nm, pre >> k & 1 ? ":preact" : "");
        outs[k] = names[k];
        k++;
    }
    nn_plan *p = NULL;
    if (k && nn_plan_new(m, NULL, batch, h, w, outs, k, &p, &e) != 0) check_failure(&e);
    if (p) {
        int s[4];
        size_t sz = nn_plan_input_shape(p, s);
        float *x = nn_plan_input(p);
        for (size_t i = 0; i < sz; i++) x[i] = (float)((int)(i % 7) - 3) / 3.0f;
        if (nn_plan_forward(p, &e) != 0) abort();
        for (int o = 0; o < k; o++) {
            float *g = nn_plan_output_grad(p, o);
            for (size_t i = 0; i < nn_plan_output_size(p, o); i++) g[i] = (float)(i % 3) - 1.0f;
        }
        if (nn_plan_backward(p, &e) != 0) abort();
        nn_plan_free(p);
    }
    nn_model_free(m);
    return 0;
}
