/* Check suite for the nn engine: the real model against an independent implementation's
 * activations, every kernel's backward against finite differences, an end-to-end gradient check
 * on a truncated real subnetwork, the detector on real photos, and each way a model can be bad.
 * The model directory comes from env FV_MODEL_DIR (default .cache/models/mbv3-coco); a missing
 * model FAILS the tests that need it. */
#include <check.h>
#include "check_run.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn.h"
#include "nn_ops.h"
#include "nn_steps.h"
#include "png_io.h"

static const char *model_dir(void)
{
    const char *d = getenv("FV_MODEL_DIR");
    return d && *d ? d : ".cache/models/mbv3-coco";
}

static nn_model *load_model(void)
{
    nn_model *m = NULL;
    err e = {{0}};
    int rc = nn_model_load_dir(model_dir(), &m, &e);
    ck_assert_msg(rc == 0, "model: %s (set FV_MODEL_DIR or run build.lua --fetch-model)", e.msg);
    return m;
}

/* --- deterministic random numbers (xorshift), uniform in [lo, hi) --- */
static uint64_t rng_state = 88172645463325252ull;
static float frand(float lo, float hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((rng_state >> 40) / (double)(1ull << 24));
}
static float *rand_buf(size_t n, float lo, float hi)
{
    float *b = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) b[i] = frand(lo, hi);
    return b;
}

/* ---------------------------------------------------------------------------------------------
 * (1) Reference activations */

static float ref_input(int h, int w, int c) { return (float)((h * 7 + w * 13 + c * 29 + (h * w) % 17) % 256); }

/* |got - want| <= 1e-3 * max(|want|, std/10): relative error, with the layer's spread as the
 * scale for values near zero (a post-ReLU 0 or a tiny pre-activation). */
static void expect_close(const char *what, double got, double want, double std)
{
    double scale = fabs(want) > std / 10 ? fabs(want) : std / 10;
    ck_assert_msg(fabs(got - want) <= 1e-3 * scale, "%s: got %.7g, reference %.7g (rel. err %.2e)", what, got, want,
                  fabs(got - want) / scale);
}

START_TEST(reference_activations)
{
    json_error_t je;
    json_t *ref = json_load_file("tests/fixtures/nn/mbv3-activations.json", 0, &je);
    ck_assert_msg(ref != NULL, "reference: %s", je.text);
    json_t *layers = json_object_get(ref, "layers");
    ck_assert_int_eq(json_array_size(layers), 3);
    nn_model *m = load_model();
    const char *names[4];
    for (int i = 0; i < 3; i++) names[i] = json_string_value(json_object_get(json_array_get(layers, i), "name"));
    /* also the early layer before its fused ReLU, to check ":preact" */
    char *pre = NULL;
    ck_assert_int_ne(asprintf(&pre, "%s:preact", names[0]), -1);
    names[3] = pre;
    nn_plan *p = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, "tower_0/images", 1, 128, 128, names, 4, &p, &e) == 0, "%s", e.msg);
    float *x = nn_plan_input(p);
    for (int h = 0; h < 128; h++)
        for (int w = 0; w < 128; w++)
            for (int c = 0; c < 3; c++) x[(h * 128 + w) * 3 + c] = ref_input(h, w, c);
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    for (int li = 0; li < 3; li++) {
        json_t *L = json_array_get(layers, (size_t)li);
        int sh[4];
        const float *y = nn_plan_output(p, li, sh);
        json_t *rs = json_object_get(L, "shape_nhwc");
        for (int d = 0; d < 4; d++)
            ck_assert_int_eq(sh[d], (int)json_integer_value(json_array_get(rs, (size_t)d)));
        size_t n = nn_plan_output_size(p, li);
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) sum += y[i];
        double mean = sum / n;
        for (size_t i = 0; i < n; i++) sq += (y[i] - mean) * (y[i] - mean);
        double std = sqrt(sq / n), rstd = json_real_value(json_object_get(L, "std"));
        char what[256];
        snprintf(what, sizeof what, "%s mean", names[li]);
        expect_close(what, mean, json_real_value(json_object_get(L, "mean")), rstd);
        snprintf(what, sizeof what, "%s std", names[li]);
        expect_close(what, std, rstd, rstd);
        json_t *cm = json_object_get(L, "channel_means_first8");
        for (int c = 0; c < 8; c++) {
            double s = 0;
            for (int i = 0; i < sh[1] * sh[2]; i++) s += y[(size_t)i * sh[3] + c];
            snprintf(what, sizeof what, "%s channel %d mean", names[li], c);
            expect_close(what, s / (sh[1] * sh[2]), json_real_value(json_array_get(cm, (size_t)c)), rstd);
        }
        json_t *samples = json_object_get(L, "samples");
        ck_assert_int_ge(json_array_size(samples), 8);
        for (size_t k = 0; k < json_array_size(samples); k++) {
            json_t *sm = json_array_get(samples, k), *ix = json_object_get(sm, "index_nhwc");
            int id[4];
            for (int d = 0; d < 4; d++) id[d] = (int)json_integer_value(json_array_get(ix, (size_t)d));
            size_t off = (((size_t)id[0] * sh[1] + id[1]) * sh[2] + id[2]) * sh[3] + id[3];
            snprintf(what, sizeof what, "%s [%d,%d,%d,%d]", names[li], id[0], id[1], id[2], id[3]);
            expect_close(what, y[off], json_real_value(json_object_get(sm, "value")), rstd);
        }
    }
    /* relu(preact) is the layer, and the preact has negative values the ReLU removed */
    const float *post = nn_plan_output(p, 0, NULL), *pv = nn_plan_output(p, 3, NULL);
    size_t n = nn_plan_output_size(p, 0), neg = 0;
    ck_assert_int_eq(nn_plan_output_size(p, 3), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_float_eq(post[i], pv[i] > 0 ? pv[i] : 0.0f);
        neg += pv[i] < 0;
    }
    ck_assert_uint_gt(neg, n / 10);
    free(pre);
    nn_plan_free(p);
    nn_model_free(m);
    json_decref(ref);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * (2) Finite differences of every kernel.
 * Each check: L(x) = sum(r * f(x)) with random r; the analytic dL/dx from the kernel's backward
 * (with dx pre-filled with 1 to check that backward adds) against central differences. */

typedef void (*fwd_fn)(const void *ctx, const float *x, float *y);
typedef void (*bwd_fn)(const void *ctx, const float *x, const float *y, const float *dy, float *dx);

static double loss(fwd_fn f, const void *ctx, const float *x, float *y, const float *r, size_t ny)
{
    f(ctx, x, y);
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += (double)r[i] * y[i];
    return s;
}

static void gradcheck(const char *name, fwd_fn f, bwd_fn b, const void *ctx, float *x, size_t nx, size_t ny,
                      float eps)
{
    float *y = calloc(ny, sizeof(float)), *r = rand_buf(ny, -1, 1), *dx = malloc(sizeof(float) * nx);
    for (size_t i = 0; i < nx; i++) dx[i] = 1.0f;
    f(ctx, x, y);
    b(ctx, x, y, r, dx);
    double maxg = 1e-6;
    for (size_t i = 0; i < nx; i++) maxg = fmax(maxg, fabs(dx[i] - 1.0));
    for (size_t i = 0; i < nx; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        double lp = loss(f, ctx, x, y, r, ny);
        x[i] = x0 - eps;
        double lm = loss(f, ctx, x, y, r, ny);
        x[i] = x0;
        double num = (lp - lm) / (2 * eps), ana = dx[i] - 1.0;
        ck_assert_msg(fabs(num - ana) <= 2e-3 * maxg + 1e-4, "%s: dL/dx[%zu] analytic %.6g, numeric %.6g (max %.3g)",
                      name, i, ana, num, maxg);
    }
    free(y);
    free(r);
    free(dx);
}

typedef struct conv_ctx {
    nn_geom g;
    const float *w;
    int dw;
    float *col;
} conv_ctx;

static void conv_f(const void *c, const float *x, float *y)
{
    const conv_ctx *k = c;
    if (k->dw) nn_dwconv_fwd(&k->g, x, k->w, NULL, NN_ACT_NONE, y);
    else nn_conv_fwd(&k->g, x, k->w, NULL, NN_ACT_NONE, y, k->col);
}
static void conv_b(const void *c, const float *x, const float *y, const float *dy, float *dx)
{
    (void)x, (void)y;
    const conv_ctx *k = c;
    /* add=0 must equal add=1 on a zeroed buffer; gradcheck pre-fills dx with 1 to check add=1 */
    size_t nx = (size_t)k->g.n * k->g.h * k->g.w * k->g.cin;
    float *set = malloc(sizeof(float) * nx), *acc = calloc(nx, sizeof(float));
    for (size_t i = 0; i < nx; i++) set[i] = 123.0f;
    if (k->dw) nn_dwconv_bwd(&k->g, dy, k->w, set, 0), nn_dwconv_bwd(&k->g, dy, k->w, acc, 1);
    else nn_conv_bwd(&k->g, dy, k->w, set, k->col, 0), nn_conv_bwd(&k->g, dy, k->w, acc, k->col, 1);
    for (size_t i = 0; i < nx; i++) ck_assert_float_eq_tol(set[i], acc[i], 1e-5f);
    free(set);
    free(acc);
    if (k->dw) nn_dwconv_bwd(&k->g, dy, k->w, dx, 1);
    else nn_conv_bwd(&k->g, dy, k->w, dx, k->col, 1);
}

/* A conv (dw=0) or depthwise conv (dw=1, cout = cin*mult) with random weights. */
static void check_conv(const char *name, int dw, int n, int h, int w, int cin, int cout, int k, int s, int d,
                       int same, int want_pt, int want_pl)
{
    conv_ctx c = {{0}, NULL, dw, NULL};
    nn_geom *g = &c.g;
    g->n = n, g->h = h, g->w = w, g->cin = cin, g->kh = g->kw = k, g->sh = g->sw = s, g->dh = g->dw = d;
    ck_assert_int_eq(nn_geom_pad(g, same), 0);
    g->cout = cout;
    if (want_pt >= 0) {
        ck_assert_int_eq(g->pt, want_pt);
        ck_assert_int_eq(g->pl, want_pl);
    }
    float *wt = rand_buf((size_t)k * k * cin * (dw ? cout / cin : cout), -1, 1);
    c.w = wt;
    c.col = malloc(sizeof(float) * (nn_conv_col_size(g) + 1));
    size_t nx = (size_t)n * h * w * cin, ny = (size_t)n * g->oh * g->ow * cout;
    float *x = rand_buf(nx, -1, 1);
    gradcheck(name, conv_f, conv_b, &c, x, nx, ny, 1e-2f);
    free(wt);
    free(c.col);
    free(x);
}

START_TEST(grad_conv)
{
    /* TF SAME on an even size with stride 2: 3x3 pads 0 before / 1 after, 5x5 pads 1 / 2 */
    check_conv("conv 3x3 s2 SAME", 0, 2, 6, 8, 3, 4, 3, 2, 1, 1, 0, 0);
    check_conv("conv 5x5 s2 SAME", 0, 1, 8, 6, 2, 3, 5, 2, 1, 1, 1, 1);
    check_conv("conv 3x3 s1 SAME odd", 0, 1, 5, 7, 3, 2, 3, 1, 1, 1, 1, 1);
    check_conv("conv 1x1 direct", 0, 2, 4, 5, 6, 7, 1, 1, 1, 0, 0, 0);
    check_conv("conv 1x1 s2", 0, 1, 5, 5, 3, 4, 1, 2, 1, 1, 0, 0);
    check_conv("conv 3x3 dil2 VALID", 0, 1, 7, 8, 2, 3, 3, 1, 2, 0, 0, 0);
    check_conv("conv 3x3 s2 SAME 37ch", 0, 1, 5, 4, 37, 3, 3, 2, 1, 1, -1, -1);
    check_conv("dw 3x3 s2 SAME", 1, 2, 6, 6, 5, 5, 3, 2, 1, 1, 0, 0);
    check_conv("dw 5x5 s2 SAME", 1, 1, 8, 8, 4, 4, 5, 2, 1, 1, 1, 1);
    check_conv("dw 5x5 s1 SAME", 1, 1, 7, 6, 3, 3, 5, 1, 1, 1, 2, 2);
    check_conv("dw 3x3 mult2", 1, 1, 5, 5, 3, 6, 3, 1, 1, 1, 1, 1);
    check_conv("dw 3x3 dil2 SAME", 1, 1, 7, 7, 2, 2, 3, 1, 2, 1, 2, 2);
    /* channel counts past the kernels' register blocks (32, then 4, then single channels) */
    check_conv("dw 3x3 s1 SAME 39ch", 1, 1, 4, 5, 39, 39, 3, 1, 1, 1, 1, 1);
    check_conv("dw 5x5 s2 SAME 70ch", 1, 1, 6, 5, 70, 70, 5, 2, 1, 1, -1, -1);
}
END_TEST

/* Weight and bias gradients (nn_conv_bwd_w) against central differences of
 * L(W, b) = sum(r * conv(x; W, b)), for the geometries training uses: 3x3 SAME (im2col), one
 * input channel, and a 1x1 direct conv on (n,1,1,in), which is a dense layer. add=1 must add. */
static double conv_loss(const nn_geom *g, const float *x, const float *wt, const float *bias, const float *r,
                        float *y, float *col)
{
    nn_conv_fwd(g, x, wt, bias, NN_ACT_NONE, y, col);
    double s = 0;
    for (size_t i = 0; i < (size_t)g->n * g->oh * g->ow * g->cout; i++) s += (double)r[i] * y[i];
    return s;
}

static void check_conv_w(const char *name, int n, int h, int w, int cin, int cout, int k, int s, int same)
{
    nn_geom g = {0};
    g.n = n, g.h = h, g.w = w, g.cin = cin, g.kh = g.kw = k, g.sh = g.sw = s, g.dh = g.dw = 1;
    ck_assert_int_eq(nn_geom_pad(&g, same), 0);
    g.cout = cout;
    size_t nx = (size_t)n * h * w * cin, ny = (size_t)n * g.oh * g.ow * cout, nw = (size_t)k * k * cin * cout;
    float *x = rand_buf(nx, -1, 1), *wt = rand_buf(nw, -1, 1), *bias = rand_buf(cout, -1, 1);
    float *r = rand_buf(ny, -1, 1), *y = malloc(sizeof(float) * ny);
    float *col = malloc(sizeof(float) * (nn_conv_col_size(&g) + 1));
    float *dw = malloc(sizeof(float) * nw), *db = malloc(sizeof(float) * cout);
    nn_conv_fwd(&g, x, wt, bias, NN_ACT_NONE, y, col);
    for (size_t i = 0; i < nw; i++) dw[i] = 1.0f;
    for (int i = 0; i < cout; i++) db[i] = 1.0f;
    nn_conv_bwd_w(&g, x, col, r, dw, db, 1);
    /* add=0 overwrites: the same values minus the 1 */
    float *dw0 = malloc(sizeof(float) * nw), *db0 = malloc(sizeof(float) * cout);
    for (size_t i = 0; i < nw; i++) dw0[i] = 77.0f;
    nn_conv_bwd_w(&g, x, col, r, dw0, db0, 0);
    for (size_t i = 0; i < nw; i++) ck_assert_float_eq_tol(dw0[i] + 1.0f, dw[i], 1e-4f);
    for (int i = 0; i < cout; i++) ck_assert_float_eq_tol(db0[i] + 1.0f, db[i], 1e-4f);
    double maxg = 1e-6;
    for (size_t i = 0; i < nw; i++) maxg = fmax(maxg, fabs(dw0[i]));
    float eps = 1e-2f;
    for (size_t i = 0; i < nw + (size_t)cout; i++) {
        float *p = i < nw ? &wt[i] : &bias[i - nw], p0 = *p;
        *p = p0 + eps;
        double lp = conv_loss(&g, x, wt, bias, r, y, col);
        *p = p0 - eps;
        double lm = conv_loss(&g, x, wt, bias, r, y, col);
        *p = p0;
        double num = (lp - lm) / (2 * eps), ana = i < nw ? dw0[i] : db0[i - nw];
        ck_assert_msg(fabs(num - ana) <= 2e-3 * fmax(maxg, fabs(num)) + 2e-3, "%s: d%s[%zu] analytic %.6g, numeric %.6g",
                      name, i < nw ? "W" : "b", i < nw ? i : i - nw, ana, num);
    }
    free(x), free(wt), free(bias), free(r), free(y), free(col), free(dw), free(db), free(dw0), free(db0);
}

START_TEST(grad_conv_weights)
{
    check_conv_w("conv 3x3 SAME", 2, 5, 6, 3, 4, 3, 1, 1);
    check_conv_w("conv 3x3 SAME one input channel", 3, 6, 6, 1, 5, 3, 1, 1);
    check_conv_w("conv 3x3 s2 SAME", 1, 6, 8, 2, 3, 3, 2, 1);
    check_conv_w("dense (1x1 direct on n,1,1,in)", 4, 1, 1, 12, 7, 1, 1, 0);
}
END_TEST

/* Training's products on AMX (nn_ops_set_fast_gemm): 16-channel convs go without im2col there,
 * the others through packed GEMMs. Without AMX they would be the float checks again: skipped. */
static void fast_convs(void)
{
    check_conv("fast conv 3x3 SAME 16ch", 0, 2, 5, 6, 16, 16, 3, 1, 1, 1, 1, 1);
    check_conv("fast conv 3x3 VALID 16ch", 0, 1, 6, 5, 16, 32, 3, 1, 1, 0, 0, 0);
    check_conv("fast conv 3x3 s2 SAME 16ch", 0, 1, 6, 8, 16, 16, 3, 2, 1, 1, 0, 0);
    check_conv("fast conv 3x3 SAME 3ch", 0, 2, 5, 6, 3, 4, 3, 1, 1, 1, 1, 1);
    check_conv("fast dense", 0, 40, 1, 1, 24, 20, 1, 1, 1, 0, 0, 0);
    check_conv_w("fast conv 3x3 SAME 16ch", 2, 5, 6, 16, 16, 3, 1, 1);
    check_conv_w("fast conv 3x3 s2 SAME 32ch", 1, 6, 7, 32, 8, 3, 2, 1);
    check_conv_w("fast conv 3x3 SAME one input channel", 3, 6, 6, 1, 5, 3, 1, 1);
    check_conv_w("fast dense", 40, 1, 1, 20, 7, 1, 1, 0);
}

START_TEST(grad_conv_fast)
{
    int on = nn_ops_set_fast_gemm(1);
    ck_assert_int_eq(on, nn_ops_fast_gemm_available());
    if (!on) CHECK_SKIP("no AMX here (or FV_NO_AMX is set): the products stay in float");
    fast_convs();
    nn_ops_set_fast_gemm(0);
}
END_TEST

/* The same on AVX512-BF16 (nn_bf16): forward, input and weight gradients through im2col and the
 * bf16x3 product, the one-channel conv directly. */
START_TEST(grad_conv_bf16)
{
    int ok = nn_ops_set_gemm(NN_GEMM_BF16) == 0;
    ck_assert_int_eq(ok, nn_ops_gemm_available(NN_GEMM_BF16));
    if (!ok) CHECK_SKIP("no AVX512_BF16 here (or FV_NO_BF16 is set): the products stay in float");
    fast_convs();
    nn_ops_set_gemm(NN_GEMM_SGEMM);
}
END_TEST

START_TEST(grad_softmax_xent)
{
    int n = 5, k = 7, labels[5] = {0, 6, 3, 3, 1};
    float *z = rand_buf((size_t)n * k, -3, 3), *dz = malloc(sizeof(float) * n * k);
    float scale = 0.5f;
    double l0 = nn_softmax_xent(n, k, z, labels, scale, dz);
    /* the value against a direct double-precision formula */
    double want = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(z[i * k + j]);
        want += -log(exp(z[i * k + labels[i]]) / s);
    }
    ck_assert_double_eq_tol(l0, want, 1e-9 * fabs(want) + 1e-9);
    for (int i = 0; i < n * k; i++) {
        float z0 = z[i], eps = 1e-3f;
        z[i] = z0 + eps;
        double lp = nn_softmax_xent(n, k, z, labels, 1, NULL);
        z[i] = z0 - eps;
        double lm = nn_softmax_xent(n, k, z, labels, 1, NULL);
        z[i] = z0;
        double num = scale * (lp - lm) / (2 * eps);
        ck_assert_msg(fabs(num - dz[i]) <= 1e-4, "softmax_xent: dz[%d] analytic %.6g, numeric %.6g", i, dz[i], num);
    }
    /* huge logits stay finite (the max is subtracted) */
    z[0] = 1e4f;
    ck_assert(isfinite(nn_softmax_xent(1, k, z, labels, 1, dz)));
    free(z), free(dz);
}
END_TEST

START_TEST(conv_against_direct)
{
    /* the im2col GEMM against a direct 7-loop convolution: catches a transposed weight layout,
     * which a gradient check alone would not */
    nn_geom g = {0};
    g.n = 2, g.h = 7, g.w = 6, g.cin = 3, g.kh = 3, g.kw = 3, g.sh = 2, g.sw = 2, g.dh = 1, g.dw = 1;
    ck_assert_int_eq(nn_geom_pad(&g, 1), 0);
    g.cout = 4;
    float *x = rand_buf(2 * 7 * 6 * 3, -1, 1), *wt = rand_buf(3 * 3 * 3 * 4, -1, 1), *bias = rand_buf(4, -1, 1);
    float *y = malloc(sizeof(float) * 2 * g.oh * g.ow * 4), *col = malloc(sizeof(float) * nn_conv_col_size(&g));
    nn_conv_fwd(&g, x, wt, bias, NN_ACT_RELU6, y, col);
    for (int n = 0; n < 2; n++)
        for (int oy = 0; oy < g.oh; oy++)
            for (int ox = 0; ox < g.ow; ox++)
                for (int co = 0; co < 4; co++) {
                    double s = bias[co];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * 2 - g.pt + ky, ix = ox * 2 - g.pl + kx;
                            if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                            for (int ci = 0; ci < 3; ci++)
                                s += x[((n * 7 + iy) * 6 + ix) * 3 + ci] * wt[((ky * 3 + kx) * 3 + ci) * 4 + co];
                        }
                    s = s < 0 ? 0 : s > 6 ? 6 : s;
                    ck_assert_double_eq_tol(y[((n * g.oh + oy) * g.ow + ox) * 4 + co], s, 1e-5);
                }
    free(x), free(wt), free(bias), free(y), free(col);
}
END_TEST

START_TEST(dwconv_against_direct)
{
    /* the register-blocked depthwise kernel (bias, Relu6, 37 channels: blocks of 32, 4 and 1)
     * against a direct loop, at stride 1 and 2 */
    for (int s = 1; s <= 2; s++) {
        nn_geom g = {0};
        int C = 37;
        g.n = 2, g.h = 7, g.w = 6, g.cin = C, g.kh = 3, g.kw = 3, g.sh = s, g.sw = s, g.dh = 1, g.dw = 1;
        ck_assert_int_eq(nn_geom_pad(&g, 1), 0);
        g.cout = C;
        float *x = rand_buf(2 * 7 * 6 * C, -4, 4), *wt = rand_buf(9 * C, -1, 1), *bias = rand_buf(C, -1, 1);
        float *y = malloc(sizeof(float) * 2 * g.oh * g.ow * C);
        nn_dwconv_fwd(&g, x, wt, bias, NN_ACT_RELU6, y);
        for (int n = 0; n < 2; n++)
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++)
                    for (int c = 0; c < C; c++) {
                        double v = bias[c];
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = oy * s - g.pt + ky, ix = ox * s - g.pl + kx;
                                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                                v += x[((n * 7 + iy) * 6 + ix) * C + c] * wt[(ky * 3 + kx) * C + c];
                            }
                        v = v < 0 ? 0 : v > 6 ? 6 : v;
                        ck_assert_double_eq_tol(y[((n * g.oh + oy) * g.ow + ox) * C + c], v, 1e-5);
                    }
        free(x), free(wt), free(bias), free(y);
    }
}
END_TEST

typedef struct bin_ctx {
    int op, ash[4], bsh[4], ysh[4];
    const float *other; /* the operand not being differentiated */
    int wrt_b;
} bin_ctx;

static void bin_f(const void *c, const float *x, float *y)
{
    const bin_ctx *k = c;
    if (k->wrt_b) nn_binary_fwd(k->op, k->ash, k->other, k->bsh, x, k->ysh, y);
    else nn_binary_fwd(k->op, k->ash, x, k->bsh, k->other, k->ysh, y);
}
static void bin_b(const void *c, const float *x, const float *y, const float *dy, float *dx)
{
    (void)y;
    const bin_ctx *k = c;
    if (k->wrt_b) nn_binary_bwd(k->op, k->ash, k->other, k->bsh, x, k->ysh, dy, NULL, dx, 0);
    else nn_binary_bwd(k->op, k->ash, x, k->bsh, k->other, k->ysh, dy, dx, NULL, 0);
}

static size_t prod4(const int s[4]) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

static void check_binary(const char *name, int op, const int a[4], const int b[4])
{
    bin_ctx c = {0};
    c.op = op;
    memcpy(c.ash, a, sizeof c.ash);
    memcpy(c.bsh, b, sizeof c.bsh);
    for (int d = 0; d < 4; d++) c.ysh[d] = a[d] > b[d] ? a[d] : b[d];
    for (int wrt = 0; wrt < 2; wrt++) {
        c.wrt_b = wrt;
        float *other = rand_buf(prod4(wrt ? a : b), -2, 2), *x = rand_buf(prod4(wrt ? b : a), -2, 2);
        c.other = other;
        char nm[128];
        snprintf(nm, sizeof nm, "%s d/d%s", name, wrt ? "b" : "a");
        gradcheck(nm, bin_f, bin_b, &c, x, prod4(wrt ? b : a), prod4(c.ysh), 1e-2f);
        free(other);
        free(x);
    }
}

START_TEST(grad_binary)
{
    int full[4] = {2, 3, 4, 5}, nc[4] = {2, 1, 1, 5}, sc[4] = {1, 1, 1, 1}, c[4] = {1, 1, 1, 5}, hw1[4] = {2, 3, 4, 1},
        h1[4] = {1, 3, 1, 1};
    check_binary("mul same", NN_MUL, full, full);
    check_binary("mul (n,h,w,c)*(n,1,1,c)", NN_MUL, full, nc);
    check_binary("mul (n,1,1,c)*(n,h,w,c)", NN_MUL, nc, full);
    check_binary("mul scalar", NN_MUL, sc, full);
    check_binary("mul (n,h,w,1)*(1,1,1,c)", NN_MUL, hw1, c);
    check_binary("mul (1,h,1,1)*(n,h,w,c)", NN_MUL, h1, full);
    check_binary("add (n,h,w,c)+(1,1,1,c)", NN_ADD, full, c);
    check_binary("add scalar", NN_ADD, full, sc);
    check_binary("add (n,h,w,1)+(n,1,1,c)", NN_ADD, hw1, nc);
    /* both gradients of the squeeze-excite scale at once (one pass) against one at a time */
    size_t nf = prod4(full), nb = prod4(nc);
    float *x = rand_buf(nf, -2, 2), *sv = rand_buf(nb, -2, 2), *dy = rand_buf(nf, -1, 1);
    float *da1 = calloc(nf, sizeof(float)), *db1 = calloc(nb, sizeof(float));
    float *da2 = calloc(nf, sizeof(float)), *db2 = calloc(nb, sizeof(float));
    nn_binary_bwd(NN_MUL, full, x, nc, sv, full, dy, da1, db1, 0);
    nn_binary_bwd(NN_MUL, full, x, nc, sv, full, dy, da2, NULL, 0);
    nn_binary_bwd(NN_MUL, full, x, nc, sv, full, dy, NULL, db2, 0);
    ck_assert(memcmp(da1, da2, sizeof(float) * nf) == 0);
    ck_assert(memcmp(db1, db2, sizeof(float) * nb) == 0);
    /* da_set: da overwritten, whatever it held, to the bytes of += on zeros (the one-pass squeeze-
     * excite path and a general broadcast) */
    float *da3 = malloc(sizeof(float) * nf), *db3 = calloc(nb, sizeof(float));
    for (size_t i = 0; i < nf; i++) da3[i] = 1e30f;
    nn_binary_bwd(NN_MUL, full, x, nc, sv, full, dy, da3, db3, 1);
    ck_assert(memcmp(da1, da3, sizeof(float) * nf) == 0);
    ck_assert(memcmp(db1, db3, sizeof(float) * nb) == 0);
    int cs[4] = {1, 1, 1, 5};
    for (size_t i = 0; i < nf; i++) da3[i] = 1e30f, da2[i] = 0.0f;
    nn_binary_bwd(NN_MUL, full, x, cs, sv, full, dy, da3, NULL, 1);
    nn_binary_bwd(NN_MUL, full, x, cs, sv, full, dy, da2, NULL, 0);
    ck_assert(memcmp(da2, da3, sizeof(float) * nf) == 0);
    free(da3), free(db3);
    free(x), free(sv), free(dy), free(da1), free(db1), free(da2), free(db2);
}
END_TEST

typedef struct un_ctx {
    int kind, act, n, h, w, c, oh, ow, align, half, k;
    nn_geom g;
    const int *cs;
} un_ctx;

enum { U_RELU, U_SIGMOID, U_MEAN, U_RESIZE, U_MAXPOOL, U_CONCAT, U_ACT, U_HSWISH };

static void un_f(const void *ctx, const float *x, float *y)
{
    const un_ctx *u = ctx;
    size_t n = (size_t)u->n * u->h * u->w * u->c;
    switch (u->kind) {
    case U_RELU: nn_relu_fwd(u->act, x, y, n); break;
    case U_HSWISH: nn_hswish_fwd(3.0f, 1.0f / 6.0f, x, y, n); break;
    case U_ACT: memcpy(y, x, sizeof(float) * n); nn_act_fwd(u->act, y, n); break;
    case U_SIGMOID: nn_sigmoid_fwd(x, y, n); break;
    case U_MEAN: nn_mean_hw_fwd(u->n, u->h, u->w, u->c, x, y); break;
    case U_RESIZE: nn_resize_fwd(u->n, u->h, u->w, u->c, x, u->oh, u->ow, u->align, u->half, y); break;
    case U_MAXPOOL: nn_maxpool_fwd(&u->g, x, y); break;
    case U_CONCAT: {
        /* x holds the k inputs one after another */
        const float *xs[4];
        size_t rows = (size_t)u->n * u->h * u->w, off = 0;
        for (int i = 0; i < u->k; i++) xs[i] = x + off, off += rows * u->cs[i];
        nn_concat_fwd(u->k, xs, u->cs, rows, y);
        break;
    }
    }
}
static void un_b(const void *ctx, const float *x, const float *y, const float *dy, float *dx)
{
    const un_ctx *u = ctx;
    size_t n = (size_t)u->n * u->h * u->w * u->c;
    switch (u->kind) {
    case U_RELU:
    case U_HSWISH: {
        /* add=0 must equal add=1 on a zeroed buffer */
        float *set = malloc(sizeof(float) * n), *acc = calloc(n, sizeof(float));
        for (size_t i = 0; i < n; i++) set[i] = 123.0f;
        if (u->kind == U_RELU)
            nn_relu_bwd(u->act, x, dy, set, n, 0), nn_relu_bwd(u->act, x, dy, acc, n, 1),
                nn_relu_bwd(u->act, x, dy, dx, n, 1);
        else
            nn_hswish_bwd(3.0f, 1.0f / 6.0f, x, dy, set, n, 0), nn_hswish_bwd(3.0f, 1.0f / 6.0f, x, dy, acc, n, 1),
                nn_hswish_bwd(3.0f, 1.0f / 6.0f, x, dy, dx, n, 1);
        for (size_t i = 0; i < n; i++) ck_assert_float_eq(set[i], acc[i]);
        free(set);
        free(acc);
        break;
    }
    case U_ACT: {
        /* nn_act_bwd works in place on the output gradient and does not add */
        float *g = malloc(sizeof(float) * n);
        memcpy(g, dy, sizeof(float) * n);
        nn_act_bwd(u->act, y, g, n);
        for (size_t i = 0; i < n; i++) dx[i] += g[i];
        free(g);
        break;
    }
    case U_SIGMOID: nn_sigmoid_bwd(y, dy, dx, n); break;
    case U_MEAN: nn_mean_hw_bwd(u->n, u->h, u->w, u->c, dy, dx); break;
    case U_RESIZE: nn_resize_bwd(u->n, u->h, u->w, u->c, dx, u->oh, u->ow, u->align, u->half, dy); break;
    case U_MAXPOOL: nn_maxpool_bwd(&u->g, x, dy, dx); break;
    case U_CONCAT: {
        float *dxs[4];
        size_t rows = (size_t)u->n * u->h * u->w, off = 0;
        for (int i = 0; i < u->k; i++) dxs[i] = dx + off, off += rows * u->cs[i];
        nn_concat_bwd(u->k, dxs, u->cs, rows, dy);
        break;
    }
    }
}

/* Values away from the kinks of Relu/Relu6 (0 and 6), where a central difference is exact. */
static float *away_from_kinks(size_t n)
{
    float *x = rand_buf(n, -3, 9);
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < 0.1f || fabsf(x[i] - 6) < 0.1f) x[i] += 0.3f;
    return x;
}

START_TEST(grad_unary)
{
    un_ctx u = {0};
    u.n = 2, u.h = 3, u.w = 4, u.c = 5;
    size_t n = 120;
    float *x = away_from_kinks(n);
    u.kind = U_RELU, u.act = NN_ACT_RELU;
    gradcheck("relu", un_f, un_b, &u, x, n, n, 1e-2f);
    u.act = NN_ACT_RELU6;
    gradcheck("relu6", un_f, un_b, &u, x, n, n, 1e-2f);
    u.kind = U_ACT;
    gradcheck("fused relu6", un_f, un_b, &u, x, n, n, 1e-2f);
    u.act = NN_ACT_RELU;
    gradcheck("fused relu", un_f, un_b, &u, x, n, n, 1e-2f);
    u.kind = U_SIGMOID;
    gradcheck("sigmoid", un_f, un_b, &u, x, n, n, 1e-2f);
    free(x);
    /* hard swish (c*x)*relu6(x+3): its kinks are at x = -3 and 3 */
    x = rand_buf(n, -6, 6);
    for (size_t i = 0; i < n; i++)
        if (fabsf(fabsf(x[i]) - 3) < 0.1f) x[i] += 0.3f;
    u.kind = U_HSWISH;
    gradcheck("hard swish", un_f, un_b, &u, x, n, n, 1e-2f);
    {
        /* the fused op equals the graph's Mul(Mul(c, x), Relu6(Add(x, 3))) bit for bit */
        float *y = malloc(sizeof(float) * n);
        nn_hswish_fwd(3.0f, 1.0f / 6.0f, x, y, n);
        for (size_t i = 0; i < n; i++) {
            float t = x[i] + 3.0f, m = (1.0f / 6.0f) * x[i];
            t = t < 0 ? 0 : t > 6 ? 6 : t;
            ck_assert_float_eq(y[i], m * t);
        }
        free(y);
    }
    u.kind = U_MEAN;
    gradcheck("mean over h,w", un_f, un_b, &u, x, n, (size_t)u.n * u.c, 1e-2f);
    free(x);

    /* ResizeBilinear: up by 2 (the head's case), and odd ratios, in all three coordinate modes */
    const int rs[][4] = {{3, 4, 6, 8}, {4, 5, 7, 3}, {5, 3, 2, 7}};
    for (size_t i = 0; i < 3; i++)
        for (int mode = 0; mode < 3; mode++) {
            un_ctx r = {0};
            r.kind = U_RESIZE, r.n = 2, r.c = 3, r.h = rs[i][0], r.w = rs[i][1], r.oh = rs[i][2], r.ow = rs[i][3];
            r.align = mode == 1, r.half = mode == 2;
            size_t nx = (size_t)r.n * r.h * r.w * r.c;
            float *xr = rand_buf(nx, -1, 1);
            char nm[64];
            snprintf(nm, sizeof nm, "resize %dx%d->%dx%d mode %d", r.h, r.w, r.oh, r.ow, mode);
            gradcheck(nm, un_f, un_b, &r, xr, nx, (size_t)r.n * r.oh * r.ow * r.c, 1e-2f);
            free(xr);
        }

    /* MaxPool 3x3 s1 SAME (the head's) and 2x2 s2 VALID, on 3 and on 70 channels (past the
     * kernel's channel block) */
    for (int v = 0; v < 4; v++) {
        un_ctx mp = {0};
        int two = v & 1, C = v & 2 ? 70 : 3;
        mp.kind = U_MAXPOOL, mp.n = 2, mp.h = 5, mp.w = 6, mp.c = C;
        nn_geom *g = &mp.g;
        g->n = 2, g->h = 5, g->w = 6, g->cin = C, g->kh = g->kw = two ? 2 : 3, g->sh = g->sw = two ? 2 : 1;
        g->dh = g->dw = 1;
        ck_assert_int_eq(nn_geom_pad(g, !two), 0);
        g->cout = C;
        size_t nx = (size_t)60 * C;
        /* distinct values 0.01 apart in a scrambled order (7919 is prime): with thousands of
         * random values some two in a window would lie closer than the finite-difference step */
        float *xm = malloc(sizeof(float) * nx);
        for (size_t i = 0; i < nx; i++) xm[i] = (float)((i * 7919) % nx) * 0.01f;
        char nm[64];
        snprintf(nm, sizeof nm, "maxpool %s, %d channels", two ? "2x2 s2 VALID" : "3x3 s1 SAME", C);
        gradcheck(nm, un_f, un_b, &mp, xm, nx, (size_t)2 * g->oh * g->ow * C, 1e-3f);
        /* ties: the gradient goes to the first maximal input of the window, in (ky, kx) order */
        for (size_t i = 0; i < nx; i++) xm[i] = 1.0f;
        size_t ny = (size_t)2 * g->oh * g->ow * C;
        float *dy = malloc(sizeof(float) * ny), *dx = calloc(nx, sizeof(float));
        for (size_t i = 0; i < ny; i++) dy[i] = 1.0f;
        nn_maxpool_bwd(g, xm, dy, dx);
        if (two) /* 2x2 s2 VALID: window (oy,ox) starts at (2oy, 2ox) */
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++)
                    ck_assert_float_eq(dx[((size_t)(2 * oy) * 6 + 2 * ox) * C + C - 1], 1.0f);
        else { /* 3x3 s1 SAME pads 1: pixel (0,0) is the first tap of 4 windows, (4,5) of none */
            ck_assert_float_eq(dx[0], 4.0f);
            ck_assert_float_eq(dx[(size_t)29 * C], 0.0f);
        }
        free(dy), free(dx), free(xm);
    }

    /* nn_maxpool_bwd_set overwrites: the bytes of zeroing and adding, on sizes the 2x2 windows
     * tile (one pass) and on odd ones (zero, then add), with ties and negative zeros */
    for (int v = 0; v < 4; v++) {
        int C = v & 1 ? 70 : 3, H = v & 2 ? 5 : 6, W = 8;
        nn_geom pg = {0};
        pg.n = 2, pg.h = H, pg.w = W, pg.cin = C, pg.kh = pg.kw = 2, pg.sh = pg.sw = 2, pg.dh = pg.dw = 1;
        ck_assert_int_eq(nn_geom_pad(&pg, 0), 0);
        pg.cout = C;
        size_t nx = (size_t)2 * H * W * C, ny = (size_t)2 * pg.oh * pg.ow * C;
        float *px = rand_buf(nx, -1, 1), *pdy = rand_buf(ny, -1, 1);
        for (size_t i = 0; i < nx; i += 5) px[i] = 0.25f; /* ties */
        for (size_t i = 0; i < ny; i += 7) pdy[i] = -0.0f;
        float *want = calloc(nx, sizeof(float)), *got = malloc(sizeof(float) * nx);
        for (size_t i = 0; i < nx; i++) got[i] = 99.0f;
        nn_maxpool_bwd(&pg, px, pdy, want);
        nn_maxpool_bwd_set(&pg, px, pdy, got, 0);
        ck_assert_msg(memcmp(want, got, sizeof(float) * nx) == 0, "maxpool_bwd_set %dx%d, %d channels", H, W, C);
        /* with the ReLU's backward fused: x as a ReLU's output (zeros where it was negative) */
        for (size_t i = 0; i < nx; i++) px[i] = px[i] > 0 ? px[i] : 0.0f;
        memset(want, 0, sizeof(float) * nx);
        nn_maxpool_bwd(&pg, px, pdy, want);
        nn_act_bwd(NN_ACT_RELU, px, want, nx);
        for (size_t i = 0; i < nx; i++) got[i] = 99.0f;
        nn_maxpool_bwd_set(&pg, px, pdy, got, 1);
        ck_assert_msg(memcmp(want, got, sizeof(float) * nx) == 0, "maxpool_bwd_set + relu %dx%d, %d channels", H, W, C);
        free(px), free(pdy), free(want), free(got);
    }

    /* ConcatV2 of three inputs on the channel axis */
    int cs[3] = {2, 3, 1};
    un_ctx cc = {0};
    cc.kind = U_CONCAT, cc.n = 2, cc.h = 2, cc.w = 3, cc.k = 3, cc.cs = cs;
    size_t nc = (size_t)12 * 6;
    float *xc = rand_buf(nc, -1, 1);
    gradcheck("concat", un_f, un_b, &cc, xc, nc, nc, 1e-2f);
    free(xc);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * End-to-end gradient through the real model at a small size */

static double plan_loss(nn_plan *p, const float *r)
{
    err e = {{0}};
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    int sh[4];
    const float *y = nn_plan_output(p, 0, sh);
    double s = 0;
    for (size_t i = 0; i < nn_plan_output_size(p, 0); i++) s += (double)r[i] * y[i];
    return s;
}

/* dL/dinput of a plan against central differences at n_probe random input elements. */
static void e2e_gradcheck(nn_model *m, const char *output, int batch, int size, float eps, int n_probe)
{
    nn_plan *p = NULL;
    err e = {{0}};
    const char *outs[1] = {output};
    ck_assert_msg(nn_plan_new(m, NULL, batch, size, size, outs, 1, &p, &e) == 0, "%s", e.msg);
    int ish[4];
    size_t nx = nn_plan_input_shape(p, ish), ny = nn_plan_output_size(p, 0);
    float *x = nn_plan_input(p);
    for (size_t i = 0; i < nx; i++) x[i] = frand(0, 255);
    float *r = rand_buf(ny, -1, 1);
    memcpy(nn_plan_output_grad(p, 0), r, sizeof(float) * ny);
    plan_loss(p, r);
    ck_assert_int_eq(nn_plan_backward(p, &e), 0);
    float *g = malloc(sizeof(float) * nx);
    memcpy(g, nn_plan_input_grad(p), sizeof(float) * nx);
    double maxg = 0;
    for (size_t i = 0; i < nx; i++) maxg = fmax(maxg, fabs(g[i]));
    ck_assert_msg(maxg > 0, "%s: zero input gradient", output);
    int bad = 0;
    for (int k = 0; k < n_probe; k++) {
        size_t i = (size_t)(frand(0, 1) * nx) % nx;
        float x0 = x[i];
        x[i] = x0 + eps;
        double lp = plan_loss(p, r);
        x[i] = x0 - eps;
        double lm = plan_loss(p, r);
        x[i] = x0;
        double num = (lp - lm) / (2 * eps);
        /* a ReLU kink crossed by the probe can spoil one difference; allow one in ten */
        if (fabs(num - g[i]) > 0.02 * maxg + 0.05 * fabs(g[i])) {
            bad++;
            fprintf(stderr, "%s: input[%zu]: analytic %.6g numeric %.6g (max %.3g)\n", output, i, g[i], num, maxg);
        }
    }
    ck_assert_msg(bad <= n_probe / 10, "%s: %d of %d finite differences disagree", output, bad, n_probe);
    /* a second backward gives the same gradient: nothing accumulates across calls */
    plan_loss(p, r);
    ck_assert_int_eq(nn_plan_backward(p, &e), 0);
    const float *g2 = nn_plan_input_grad(p);
    for (size_t i = 0; i < nx; i++) ck_assert_float_eq(g2[i], g[i]);
    free(g);
    free(r);
    nn_plan_free(p);
}

START_TEST(e2e_gradient)
{
    nn_model *m = load_model();
    /* backbone through three squeeze-excite blocks (Mean, broadcast Mul, hard-swish), batch 2 */
    e2e_gradcheck(m, "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact", 2, 32, 0.5f, 30);
    /* the whole network including the head (ResizeBilinear, ConcatV2, Sigmoid, Identity) */
    e2e_gradcheck(m, "tower_0/keypoints", 1, 64, 0.5f, 20);
    nn_model_free(m);
}
END_TEST

/* Op of the plan step computing node name, or NULL if no step does. */
static const char *step_op(const nn_plan *p, const char *name)
{
    for (int i = 0; i < nn_plan_n_steps(p); i++) {
        const char *nm, *op;
        nn_plan_step_info(p, i, &nm, &op, NULL);
        if (strcmp(nm, name) == 0) return op;
    }
    return NULL;
}

START_TEST(hswish_fusion)
{
    /* MobileNetV3's hard swish, Mul(Mul(1/6, x), Relu6(Add(x, 3))), runs as one fused step;
     * asking for an inner node of a chain keeps that chain as four steps. The forward values
     * agree bit for bit, the input gradients to rounding. */
    nn_model *m = load_model();
    const char *dwn = "tower_0/MobilenetV3/expanded_conv/depthwise/depthwise";
    const char *root = "tower_0/MobilenetV3/Conv/hard_swish/mul_1";
    const char *fused_outs[1] = {dwn}, *plain_outs[2] = {dwn, "tower_0/MobilenetV3/Conv/hard_swish/Relu6"};
    nn_plan *pf = NULL, *pu = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, NULL, 1, 32, 32, fused_outs, 1, &pf, &e) == 0, "%s", e.msg);
    ck_assert_msg(nn_plan_new(m, NULL, 1, 32, 32, plain_outs, 2, &pu, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(step_op(pf, root), "HardSwish");
    ck_assert_ptr_null(step_op(pf, "tower_0/MobilenetV3/Conv/hard_swish/Relu6"));
    ck_assert_str_eq(step_op(pu, root), "Mul");
    size_t nx = nn_plan_input_shape(pf, (int[4]){0});
    float *xf = nn_plan_input(pf), *xu = nn_plan_input(pu);
    for (size_t i = 0; i < nx; i++) xf[i] = xu[i] = frand(0, 255);
    ck_assert_int_eq(nn_plan_forward(pf, &e), 0);
    ck_assert_int_eq(nn_plan_forward(pu, &e), 0);
    size_t ny = nn_plan_output_size(pf, 0);
    const float *yf = nn_plan_output(pf, 0, NULL), *yu = nn_plan_output(pu, 0, NULL);
    for (size_t i = 0; i < ny; i++) ck_assert_float_eq(yf[i], yu[i]);
    float *gf = nn_plan_output_grad(pf, 0), *gu = nn_plan_output_grad(pu, 0);
    for (size_t i = 0; i < ny; i++) gf[i] = gu[i] = frand(-1, 1);
    ck_assert_int_eq(nn_plan_backward(pf, &e), 0);
    ck_assert_int_eq(nn_plan_backward(pu, &e), 0);
    const float *df = nn_plan_input_grad(pf), *du = nn_plan_input_grad(pu);
    double maxg = 0;
    for (size_t i = 0; i < nx; i++) maxg = fmax(maxg, fabs(du[i]));
    ck_assert(maxg > 0);
    for (size_t i = 0; i < nx; i++)
        ck_assert_msg(fabs(df[i] - du[i]) <= 1e-4 * maxg, "input grad [%zu]: fused %g, unfused %g", i, df[i], du[i]);
    nn_plan_free(pf);
    nn_plan_free(pu);
    nn_model_free(m);
}
END_TEST

/* One plan computing out[0..n_a) against one computing out[0..n_b) (a superset that keeps some
 * fusion from happening): the first output's value and the input gradient from a random output
 * gradient, bit for bit. */
static void same_bytes_plans(nn_model *m, int size, const char *const *oa, int na, const char *const *ob, int nb)
{
    nn_plan *pa = NULL, *pb = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, NULL, 1, size, size, oa, na, &pa, &e) == 0, "%s", e.msg);
    ck_assert_msg(nn_plan_new(m, NULL, 1, size, size, ob, nb, &pb, &e) == 0, "%s", e.msg);
    size_t nx = nn_plan_input_shape(pa, (int[4]){0});
    float *xa = nn_plan_input(pa), *xb = nn_plan_input(pb);
    for (size_t i = 0; i < nx; i++) xa[i] = xb[i] = frand(0, 255);
    ck_assert_int_eq(nn_plan_forward(pa, &e), 0);
    ck_assert_int_eq(nn_plan_forward(pb, &e), 0);
    size_t ny = nn_plan_output_size(pa, 0);
    ck_assert(memcmp(nn_plan_output(pa, 0, NULL), nn_plan_output(pb, 0, NULL), sizeof(float) * ny) == 0);
    float *ga = nn_plan_output_grad(pa, 0), *gb = nn_plan_output_grad(pb, 0);
    for (size_t i = 0; i < ny; i++) ga[i] = gb[i] = frand(-1, 1);
    ck_assert_int_eq(nn_plan_backward(pa, &e), 0);
    ck_assert_int_eq(nn_plan_backward(pb, &e), 0);
    const float *da = nn_plan_input_grad(pa), *db = nn_plan_input_grad(pb);
    double maxg = 0;
    for (size_t i = 0; i < nx; i++) maxg = fmax(maxg, fabs(db[i]));
    ck_assert(maxg > 0);
    ck_assert_msg(memcmp(da, db, sizeof(float) * nx) == 0, "%s: input gradients differ", oa[0]);
    nn_plan_free(pa);
    nn_plan_free(pb);
}

START_TEST(residual_fusion)
{
    /* A residual Add after a convolution runs in the convolution's step where the AVX-512 kernels
     * do (nn.c, fuse_residuals); asking for the convolution's output as well keeps the two apart.
     * Forward values and input gradients agree bit for bit. */
    nn_model *m = load_model();
    const char *add = "tower_0/MobilenetV3/expanded_conv_2/add";
    const char *proj = "tower_0/MobilenetV3/expanded_conv_2/project/BatchNorm/FusedBatchNorm";
    const char *fused_outs[1] = {add}, *plain_outs[2] = {add, proj};
    nn_plan *pf = NULL, *pu = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, NULL, 1, 64, 64, fused_outs, 1, &pf, &e) == 0, "%s", e.msg);
    ck_assert_msg(nn_plan_new(m, NULL, 1, 64, 64, plain_outs, 2, &pu, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(step_op(pu, add), "Add");
    ck_assert_str_eq(step_op(pf, add), nn_ops_simd_available() ? "Add (fused)" : "Add");
    nn_plan_free(pf);
    nn_plan_free(pu);
    same_bytes_plans(m, 64, fused_outs, 1, plain_outs, 2);
    nn_model_free(m);
}
END_TEST

START_TEST(gate_fusion)
{
    /* A depthwise conv's input gradient through the Relu of the conv before it, and through a
     * hard swish (nn.c, fuse_gates), against plans where that activation's input or output is also
     * asked for, which keeps the passes apart. */
    nn_model *m = load_model();
    const char *relu_a[1] = {"tower_0/MobilenetV3/expanded_conv_1/depthwise/depthwise"};
    const char *relu_b[2] = {relu_a[0], "tower_0/MobilenetV3/expanded_conv_1/expand/Relu"};
    same_bytes_plans(m, 64, relu_a, 1, relu_b, 2);
    const char *hsw_a[1] = {"tower_0/MobilenetV3/expanded_conv_6/depthwise/depthwise"};
    const char *hsw_b[2] = {hsw_a[0], "tower_0/MobilenetV3/expanded_conv_6/expand/BatchNorm/FusedBatchNorm"};
    same_bytes_plans(m, 64, hsw_a, 1, hsw_b, 2);
    nn_model_free(m);
}
END_TEST

/* A plan over outs (batch n, size px) from seeded random input and output gradient: its output
 * after two forwards, and its input gradient after `runs` backwards on the one plan (each the
 * same bytes), copies into *y (*ny_out floats) and *dx (caller frees); *vals, *grads: its arenas' lengths as
 * nn_layout places them. */
static void plan_results(nn_model *m, const char *const *outs, int n, int size, int runs, float **y, size_t *ny_out,
                         float **dx, size_t *vals, size_t *grads)
{
    nn_plan *p = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, NULL, n, size, size, outs, 1, &p, &e) == 0, "%s", e.msg);
    rng_state = 88172645463325252ull;
    size_t nx = nn_plan_input_shape(p, (int[4]){0}), ny = nn_plan_output_size(p, 0);
    float *x = nn_plan_input(p);
    for (size_t i = 0; i < nx; i++) x[i] = frand(0, 255);
    *y = xmalloc(sizeof(float) * ny), *ny_out = ny;
    for (int r = 0; r < 2; r++) { /* the second over the first one's leftovers, on the same input */
        ck_assert_int_eq(nn_plan_forward(p, &e), 0);
        if (r == 0) memcpy(*y, nn_plan_output(p, 0, NULL), sizeof(float) * ny);
        else ck_assert_msg(memcmp(*y, nn_plan_output(p, 0, NULL), sizeof(float) * ny) == 0, "%s: forward 2 differs", outs[0]);
    }
    float *g = nn_plan_output_grad(p, 0);
    for (size_t i = 0; i < ny; i++) g[i] = frand(-1, 1);
    *dx = xmalloc(sizeof(float) * nx);
    for (int r = 0; r < runs; r++) {
        ck_assert_int_eq(nn_plan_backward(p, &e), 0);
        if (r == 0) memcpy(*dx, nn_plan_input_grad(p), sizeof(float) * nx);
        else ck_assert_msg(memcmp(*dx, nn_plan_input_grad(p), sizeof(float) * nx) == 0, "%s: backward %d differs", outs[0], r + 1);
    }
    size_t *off = xmalloc(sizeof *off * (size_t)p->n_t);
    *vals = nn_val_layout(p, off);
    *grads = nn_grad_layout(p, off);
    free(off);
    nn_plan_free(p);
}

START_TEST(shared_memory)
{
    /* Values and gradients whose lives do not overlap share memory (nn_layout.c). The output and
     * the input gradient are the same, bit for bit, as with a slot each: through the whole network
     * (the head's resize, concat and sigmoid), and a batch of 2 through the backbone's gated
     * depthwise convs (Relu masks, hard swishes), residuals and squeeze-excites; a second forward
     * and a second backward on the same plan, over the first ones' leftovers, give them again; and
     * the shared arenas are smaller: values under 70 % of a slot each (they are 58-62 %: what the
     * backward reads stays), gradients under 40 % (11-32 %). */
    nn_model *m = load_model();
    static const struct { const char *out; int n, size; } cases[] = {
        {"tower_0/keypoints", 1, 64},
        {"tower_0/extern1/BatchNorm/FusedBatchNorm", 2, 96},
        {"tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact", 2, 64},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *outs[1] = {cases[c].out};
        float *yr, *dr, *ys, *ds;
        size_t vr, gr, vs, gs, ny, nx = (size_t)cases[c].n * cases[c].size * cases[c].size * 3;
        nn_share_memory = 0;
        plan_results(m, outs, cases[c].n, cases[c].size, 1, &yr, &ny, &dr, &vr, &gr);
        nn_share_memory = 1;
        plan_results(m, outs, cases[c].n, cases[c].size, 2, &ys, &ny, &ds, &vs, &gs);
        double maxg = 0;
        for (size_t i = 0; i < nx; i++) maxg = fmax(maxg, fabs(dr[i]));
        ck_assert(maxg > 0);
        ck_assert_msg(memcmp(yr, ys, sizeof(float) * ny) == 0, "%s: shared values differ", outs[0]);
        ck_assert_msg(memcmp(dr, ds, sizeof(float) * nx) == 0, "%s: shared gradients differ", outs[0]);
        ck_assert_msg(vs < 0.7 * vr, "%s: shared values %zu floats, a slot each %zu", outs[0], vs, vr);
        ck_assert_msg(gs < 0.4 * gr, "%s: shared gradients %zu floats, a slot each %zu", outs[0], gs, gr);
        free(yr), free(dr), free(ys), free(ds);
    }
    nn_model_free(m);
}
END_TEST

START_TEST(batch_consistency)
{
    /* image 1 of a batch of 3 gives the same activations as the same image alone */
    nn_model *m = load_model();
    const char *outs[1] = {"tower_0/extern1/BatchNorm/FusedBatchNorm"};
    nn_plan *p1 = NULL, *p3 = NULL;
    err e = {{0}};
    ck_assert_msg(nn_plan_new(m, NULL, 1, 64, 64, outs, 1, &p1, &e) == 0, "%s", e.msg);
    ck_assert_msg(nn_plan_new(m, NULL, 3, 64, 64, outs, 1, &p3, &e) == 0, "%s", e.msg);
    size_t n1 = 64 * 64 * 3;
    float *x3 = nn_plan_input(p3);
    for (size_t i = 0; i < 3 * n1; i++) x3[i] = frand(0, 255);
    memcpy(nn_plan_input(p1), x3 + n1, sizeof(float) * n1);
    ck_assert_int_eq(nn_plan_forward(p1, &e), 0);
    ck_assert_int_eq(nn_plan_forward(p3, &e), 0);
    size_t ny = nn_plan_output_size(p1, 0);
    ck_assert_uint_eq(nn_plan_output_size(p3, 0), 3 * ny);
    const float *y1 = nn_plan_output(p1, 0, NULL), *y3 = nn_plan_output(p3, 0, NULL) + ny;
    for (size_t i = 0; i < ny; i++) ck_assert_float_eq_tol(y1[i], y3[i], 1e-4f * (1 + fabsf(y1[i])));
    nn_plan_free(p1);
    nn_plan_free(p3);
    nn_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * (3) The detector on real photos (Debian python3-skimage) at 512 px */

START_TEST(photos)
{
    static const struct {
        const char *file;
        int cls;
        int y0, y1, x0, x1; /* where the object's centre is, in 512x512 input pixels */
    } ph[3] = {
        {"astronaut.png", 0, 130, 400, 90, 330},       /* the astronaut, left/centre of the frame */
        {"coffee.png", 41, 100, 300, 150, 360},        /* the cup in the middle of the photo */
        {"motorcycle_left.png", 3, 150, 380, 150, 380} /* the motorcycle filling the frame */
    };
    nn_model *m = load_model();
    const char *outs[1] = {"tower_0/keypoints"};
    nn_plan *p = NULL;
    err e = {{0}};
    /* one image at a time: a 512-px plan keeps every activation (~300 MB per image) */
    ck_assert_msg(nn_plan_new(m, NULL, 1, 512, 512, outs, 1, &p, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        char *path = NULL;
        ck_assert_int_ne(asprintf(&path, "/usr/lib/python3/dist-packages/skimage/data/%s", ph[i].file), -1);
        png_io_image img = {0};
        ck_assert_msg(png_io_read(path, 3, &img, &e) == 0, "%s (install python3-skimage)", e.msg);
        nn_resize_u8_to_float(img.pixels, img.width, img.height, 3, nn_plan_input(p), 512, 512);
        png_io_image_free(&img);
        free(path);
        ck_assert_int_eq(nn_plan_forward(p, &e), 0);
        int sh[4];
        const float *yi = nn_plan_output(p, 0, sh);
        ck_assert_int_eq(sh[1], 128);
        ck_assert_int_eq(sh[3], 80);
        float best = -1;
        int bc = -1, bpos = 0;
        for (int k = 0; k < 128 * 128; k++)
            for (int c = 0; c < 80; c++)
                if (yi[k * 80 + c] > best) best = yi[k * 80 + c], bc = c, bpos = k;
        int py = (bpos / 128) * 4 + 2, px = (bpos % 128) * 4 + 2;
        ck_assert_msg(bc == ph[i].cls, "%s: strongest class %d (%s, %.3f), expected %d (%s)", ph[i].file, bc,
                      nn_coco80_name(bc), best, ph[i].cls, nn_coco80_name(ph[i].cls));
        ck_assert_msg(best > 0.3f, "%s: peak %.3f is weak", ph[i].file, best);
        ck_assert_msg(py >= ph[i].y0 && py <= ph[i].y1 && px >= ph[i].x0 && px <= ph[i].x1,
                      "%s: %s peak at y=%d x=%d, outside y %d..%d x %d..%d", ph[i].file, nn_coco80_name(bc), py, px,
                      ph[i].y0, ph[i].y1, ph[i].x0, ph[i].x1);
    }
    nn_plan_free(p);
    nn_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * (4) Bad models and bad requests */

static char tmpdir[64];

static void make_tmp(void)
{
    strcpy(tmpdir, "/tmp/check_nn.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", tmpdir) > 0 && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    free(cmd);
}

static void write_tmp(const char *name, const void *data, size_t len)
{
    char *p = NULL;
    err e = {{0}};
    ck_assert_int_ne(asprintf(&p, "%s/%s", tmpdir, name), -1);
    ck_assert_msg(write_file_atomic(p, data, len, &e) == 0, "%s", e.msg);
    free(p);
}

static void expect_load_fail(const char *json, const char *bin, const char *want)
{
    char *jp = NULL, *bp = NULL;
    ck_assert_int_ne(asprintf(&jp, "%s/%s", tmpdir, json), -1);
    ck_assert_int_ne(asprintf(&bp, "%s/%s", tmpdir, bin), -1);
    nn_model *m = NULL;
    err e = {{0}};
    ck_assert_int_eq(nn_model_load_tfjs(jp, bp, &m, &e), -1);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(e.msg, want) != NULL, "error '%s' lacks '%s'", e.msg, want);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
    free(jp);
    free(bp);
}

START_TEST(bad_models)
{
    char *js, *bin, *path = NULL;
    size_t jl, bl;
    err e = {{0}};
    make_tmp();
    ck_assert_int_ne(asprintf(&path, "%s/centernet.json", model_dir()), -1);
    ck_assert_msg(read_file(path, &js, &jl, &e) == 0, "%s", e.msg);
    free(path);
    ck_assert_int_ne(asprintf(&path, "%s/centernet.bin", model_dir()), -1);
    ck_assert_msg(read_file(path, &bin, &bl, &e) == 0, "%s", e.msg);
    free(path);

    write_tmp("m.json", js, jl);
    write_tmp("short.bin", bin, bl - 1000);
    expect_load_fail("m.json", "short.bin", "short.bin: truncated: weight '");
    write_tmp("long.bin", bin, bl); /* then one byte too many */
    char *longer = malloc(bl + 1);
    memcpy(longer, bin, bl);
    longer[bl] = 0;
    write_tmp("long.bin", longer, bl + 1);
    expect_load_fail("m.json", "long.bin", "long.bin: 4030291 bytes, but weightsManifest in m.json describes 4030290");
    free(longer);

    /* a layers model (Keras topology), and JSON that is not JSON */
    const char *layers = "{\"format\":\"layers-model\",\"modelTopology\":{\"class_name\":\"Sequential\"},"
                         "\"weightsManifest\":[]}";
    write_tmp("layers.json", layers, strlen(layers));
    expect_load_fail("layers.json", "long.bin", "layers.json: modelTopology.node: not a TF.js graph model");
    write_tmp("broken.json", js, jl / 2);
    expect_load_fail("broken.json", "long.bin", "broken.json:");
    /* [2^30, 2^30, 4] float32: the byte count wrapped to 0 and the decoder overran the buffers
     * (tests/fuzz/regressions/nn_json) */
    const char *huge = "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[{\"name\":\"big\",\"op\":\"Const\"}]},"
                       "\"weightsManifest\":[{\"paths\":[\"x.bin\"],\"weights\":[{\"name\":\"big\","
                       "\"shape\":[1073741824,1073741824,4],\"dtype\":\"float32\"}]}]}";
    write_tmp("huge.json", huge, strlen(huge));
    write_tmp("empty.bin", "", 0);
    expect_load_fail("huge.json", "empty.bin", "huge.json: weight 'big': more than 2^31 elements");

    /* a weight whose manifest shape (and so byte size) does not match its node */
    json_error_t je;
    json_t *root = json_loadb(js, jl, 0, &je);
    ck_assert_ptr_nonnull(root);
    json_t *w0 = NULL, *ws = json_object_get(json_array_get(json_object_get(root, "weightsManifest"), 0), "weights");
    for (size_t i = 0; i < json_array_size(ws) && !w0; i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(ws, i), "name")),
                   "tower_0/MobilenetV3/Conv/Conv2D_weights") == 0)
            w0 = json_array_get(ws, i);
    ck_assert_ptr_nonnull(w0);
    json_array_set_new(json_object_get(w0, "shape"), 3, json_integer(17));
    char *bad = json_dumps(root, JSON_COMPACT);
    write_tmp("shape.json", bad, strlen(bad));
    write_tmp("good.bin", bin, bl);
    expect_load_fail("shape.json", "good.bin",
                     "shape.json: weightsManifest weight 'tower_0/MobilenetV3/Conv/Conv2D_weights': shape [3,3,3,17]");
    free(bad);
    json_decref(root);

    /* the intact copy loads, and the checksum is of json + bin */
    nn_model *m = NULL;
    char *jp = NULL, *bp = NULL;
    ck_assert_int_ne(asprintf(&jp, "%s/m.json", tmpdir), -1);
    ck_assert_int_ne(asprintf(&bp, "%s/good.bin", tmpdir), -1);
    ck_assert_msg(nn_model_load_tfjs(jp, bp, &m, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(strlen(nn_model_sha256(m)), 64);
    nn_model_free(m);
    free(jp);
    free(bp);
    free(js);
    free(bin);
    rm_tmp();
}
END_TEST

START_TEST(bad_plans)
{
    nn_model *m = load_model();
    nn_plan *p = NULL;
    err e = {{0}};
    const char *unknown[1] = {"tower_0/no_such_layer"};
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 128, 128, unknown, 1, &p, &e), -1);
    ck_assert_str_eq(e.msg, "centernet.json: output node 'tower_0/no_such_layer' not found in the model");
    const char *det[1] = {"tower_0/detections"};
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 512, 512, det, 1, &p, &e), -1);
    ck_assert_msg(strstr(e.msg, "is not supported by the nn engine") && strstr(e.msg, "node 'tower_0/"),
                  "got '%s'", e.msg);
    const char *kp[1] = {"tower_0/keypoints"};
    /* 100 is not a multiple of 32: the head's skip connections cannot line up */
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 100, 100, kp, 1, &p, &e), -1);
    ck_assert_msg(strstr(e.msg, "multiple of 32"), "got '%s'", e.msg);
    ck_assert_ptr_null(p);
    /* backward before forward */
    const char *early[1] = {"tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm"};
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 16, 16, early, 1, &p, &e), 0);
    ck_assert_int_eq(nn_plan_backward(p, &e), -1);
    ck_assert_int_eq(nn_plan_n_steps(p), 1);
    nn_plan_free(p);
    nn_model_free(m);
}
END_TEST

/* nn_plan_kernels names the path a plan's convolutions take: the portable loops and sgemm with the
 * AVX-512 kernels off (on any CPU), the AVX-512 products on float16 weights (mbv3-coco stores them
 * so) with them on. */
START_TEST(plan_kernels_named)
{
    nn_model *m = load_model();
    const char *outs[1] = {"tower_0/MobilenetV3/expanded_conv_1/expand/Relu"};
    nn_plan *p = NULL;
    err e = {{0}};
    nn_ops_set_simd(0);
    ck_assert_msg(nn_plan_new(m, NULL, 1, 32, 32, outs, 1, &p, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(nn_plan_kernels(p), "portable+sgemm");
    nn_plan_free(p);
    nn_ops_set_simd(1);
    int simd = nn_ops_simd_available();
    if (simd) {
        ck_assert_msg(nn_plan_new(m, NULL, 1, 32, 32, outs, 1, &p, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(nn_plan_kernels(p), "avx512-f16");
        nn_plan_free(p);
    }
    nn_model_free(m);
    if (!simd) CHECK_SKIP("the CPU lacks AVX-512 (F, VL, BW, DQ), or this is valgrind: only the portable name checked");
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * (5) Graphs of any size: as many inputs and nodes as a model declares, sizes beyond the limits
 * refused before anything is allocated */

/* Writes tmpdir/m.json (a graph model of the given nodes, the JSON text of modelTopology.node's
 * elements, and of weightsManifest[0].weights) and tmpdir/m.bin, and loads them. */
static nn_model *load_graph(const char *nodes, const char *weights, const void *bin, size_t bin_len)
{
    buf b = {0};
    buf_printf(&b, "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[%s]},"
                   "\"weightsManifest\":[{\"paths\":[\"m.bin\"],\"weights\":[%s]}]}", nodes, weights);
    write_tmp("m.json", b.data, b.len);
    write_tmp("m.bin", bin, bin_len);
    buf_free(&b);
    char *jp = NULL, *bp = NULL;
    ck_assert_int_ne(asprintf(&jp, "%s/m.json", tmpdir), -1);
    ck_assert_int_ne(asprintf(&bp, "%s/m.bin", tmpdir), -1);
    nn_model *m = NULL;
    err e = {{0}};
    ck_assert_msg(nn_model_load_tfjs(jp, bp, &m, &e) == 0, "%s", e.msg);
    free(jp);
    free(bp);
    return m;
}

static void placeholder_json(buf *b, int c)
{
    buf_printf(b, "{\"name\":\"input\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},"
                  "{\"size\":\"2\"},{\"size\":\"2\"},{\"size\":\"%d\"}]}}}}", c);
}

/* input -> n nodes of op `op` (the first of op first_op), "n0" .. "n<n-1>", each reading the one before. */
static nn_model *chain_model(int n, const char *first_op, int c)
{
    buf b = {0};
    placeholder_json(&b, c);
    for (int i = 0; i < n; i++) {
        char prev[16] = "input";
        if (i) snprintf(prev, sizeof prev, "n%d", i - 1);
        buf_printf(&b, ",{\"name\":\"n%d\",\"op\":\"%s\",\"input\":[\"%s\"]}", i, i ? "Relu" : first_op, prev);
    }
    nn_model *m = load_graph(b.data, "", "", 0);
    buf_free(&b);
    return m;
}

/* A ConcatV2 of 100 inputs (the fixed arrays of 64 in the executor overflowed the stack): the
 * input and its Relu alternately, forward and backward against values worked out by hand. */
START_TEST(concat_many_inputs)
{
    enum { K = 100 };
    make_tmp();
    buf b = {0};
    placeholder_json(&b, 3);
    buf_puts(&b, ",{\"name\":\"relu\",\"op\":\"Relu\",\"input\":[\"input\"]},{\"name\":\"axis\",\"op\":\"Const\"},"
                 "{\"name\":\"cat\",\"op\":\"ConcatV2\",\"input\":[");
    for (int k = 0; k < K; k++) buf_printf(&b, "\"%s\",", k % 2 ? "relu" : "input");
    buf_puts(&b, "\"axis\"]}");
    int32_t axis = 3;
    nn_model *m = load_graph(b.data, "{\"name\":\"axis\",\"shape\":[],\"dtype\":\"int32\"}", &axis, 4);
    buf_free(&b);
    nn_plan *p = NULL;
    err e = {{0}};
    const char *out[1] = {"cat"};
    ck_assert_msg(nn_plan_new(m, NULL, 1, 2, 2, out, 1, &p, &e) == 0, "%s", e.msg);
    float *x = nn_plan_input(p);
    for (int i = 0; i < 12; i++) x[i] = (float)(i % 2 ? i : -i);
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    int sh[4];
    const float *y = nn_plan_output(p, 0, sh);
    ck_assert_int_eq(sh[3], 3 * K);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < K; k++)
            for (int c = 0; c < 3; c++) {
                float v = x[r * 3 + c];
                ck_assert_float_eq(y[(r * K + k) * 3 + c], k % 2 && v < 0 ? 0.0f : v);
            }
    /* dL/dy of slot k is k+1: dx = 1+3+...+99 = 2500, plus 2+4+...+100 = 2550 where x > 0 */
    float *g = nn_plan_output_grad(p, 0);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < K; k++)
            for (int c = 0; c < 3; c++) g[(r * K + k) * 3 + c] = (float)(k + 1);
    ck_assert_int_eq(nn_plan_backward(p, &e), 0);
    const float *dx = nn_plan_input_grad(p);
    for (int i = 0; i < 12; i++) ck_assert_float_eq(dx[i], x[i] > 0 ? 5050.0f : 2500.0f);
    nn_plan_free(p);
    nn_model_free(m);
    rm_tmp();
}
END_TEST

/* A chain of 400000 nodes (the recursive graph walks overflowed the C stack): computable, planned,
 * run forward and backward; and a chain whose far end cannot run is not computable. */
START_TEST(deep_chain)
{
    enum { N = 400000 };
    make_tmp();
    nn_model *m = chain_model(N, "Relu", 1);
    ck_assert_int_eq(nn_model_n_nodes(m), N + 1);
    ck_assert_int_eq(nn_model_node_computable(m, nn_model_find(m, "n399999")), 1);
    nn_plan *p = NULL;
    err e = {{0}};
    const char *out[1] = {"n399999"};
    ck_assert_msg(nn_plan_new(m, NULL, 1, 2, 2, out, 1, &p, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(nn_plan_n_steps(p), N);
    float *x = nn_plan_input(p);
    const float xs[4] = {-1, 2, 0.5f, -3};
    memcpy(x, xs, sizeof xs);
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    const float *y = nn_plan_output(p, 0, NULL);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(y[i], xs[i] > 0 ? xs[i] : 0.0f);
    float *g = nn_plan_output_grad(p, 0);
    for (int i = 0; i < 4; i++) g[i] = 1;
    ck_assert_int_eq(nn_plan_backward(p, &e), 0);
    for (int i = 0; i < 4; i++) ck_assert_float_eq(nn_plan_input_grad(p)[i], xs[i] > 0 ? 1.0f : 0.0f);
    nn_plan_free(p);
    nn_model_free(m);
    m = chain_model(1000, "FancyOp", 1);
    for (int i = 0; i < 1000; i += 999) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        ck_assert_int_eq(nn_model_node_computable(m, nn_model_find(m, name)), 0);
    }
    ck_assert_int_eq(nn_model_node_computable(m, nn_model_find(m, "input")), 1);
    nn_model_free(m);
    rm_tmp();
}
END_TEST

/* Sizes beyond nn.h's limits are refused with the node named, before any allocation (a
 * 100000x100000 input asked malloc for SIZE_MAX bytes and aborted). */
START_TEST(size_limits)
{
    make_tmp();
    nn_model *m = chain_model(11, "Relu", 3);
    nn_plan *p = NULL;
    err e = {{0}};
    const char *out[1] = {"n10"};
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 100000, 100000, out, 1, &p, &e), -1);
    ck_assert_str_eq(e.msg, "m.json: node 'input': shape [1,100000,100000,3] is 30000000000 values (expected at "
                            "most 268435456 in one tensor)");
    ck_assert_int_eq(nn_plan_new(m, NULL, 2147483647, 2147483647, 2147483647, out, 1, &p, &e), -1);
    ck_assert_msg(strstr(e.msg, "node 'input': shape [2147483647,2147483647,2147483647,3] is "), "%s", e.msg);
    /* each tensor within the limit (201 M values), the eleven with their gradients not */
    ck_assert_int_eq(nn_plan_new(m, NULL, 1, 8192, 8192, out, 1, &p, &e), -1);
    ck_assert_msg(strstr(e.msg, "m.json: node 'n9': the plan needs ") && strstr(e.msg, "(expected at most 17179869184"),
                  "%s", e.msg);
    ck_assert_ptr_null(p);
    /* the same model at a size within the limits */
    ck_assert_msg(nn_plan_new(m, NULL, 1, 64, 64, out, 1, &p, &e) == 0, "%s", e.msg);
    nn_plan_free(p);
    nn_model_free(m);
    rm_tmp();
}
END_TEST

/* A Resize or Mean whose data input is a Const (no tensor of its own in the plan) is refused: it
 * read tensor -1 (tests/fuzz/regressions/nn_graph/resize-of-valueless-const). */
START_TEST(const_data_inputs)
{
    make_tmp();
    int32_t v[4] = {4, 4, 1, 2};
    buf b = {0};
    placeholder_json(&b, 1);
    buf_puts(&b, ",{\"name\":\"k\",\"op\":\"Const\"},{\"name\":\"size\",\"op\":\"Const\"},{\"name\":\"axes\",\"op\":\"Const\"},"
                 "{\"name\":\"up\",\"op\":\"ResizeBilinear\",\"input\":[\"k\",\"size\"]},"
                 "{\"name\":\"mean\",\"op\":\"Mean\",\"input\":[\"k\",\"axes\"],\"attr\":{\"keep_dims\":{\"b\":true}}}");
    nn_model *m = load_graph(b.data, "{\"name\":\"size\",\"shape\":[2],\"dtype\":\"int32\"},"
                                     "{\"name\":\"axes\",\"shape\":[2],\"dtype\":\"int32\"}", v, sizeof v);
    buf_free(&b);
    const char *names[2] = {"up", "mean"};
    for (int k = 0; k < 2; k++) {
        nn_plan *p = NULL;
        err e = {{0}};
        char want[128];
        snprintf(want, sizeof want, "m.json: node '%s': a constant input is not supported", names[k]);
        ck_assert_int_eq(nn_plan_new(m, NULL, 1, 2, 2, &names[k], 1, &p, &e), -1);
        ck_assert_str_eq(e.msg, want);
    }
    nn_model_free(m);
    rm_tmp();
}
END_TEST

int main(void)
{
    nn_set_threads(1);
    Suite *s = suite_create("nn");
    TCase *t = tcase_create("reference");
    tcase_add_test(t, reference_activations);
    tcase_add_test(t, batch_consistency);
    tcase_add_test(t, hswish_fusion);
    tcase_add_test(t, residual_fusion);
    tcase_add_test(t, gate_fusion);
    tcase_add_test(t, shared_memory);
    suite_add_tcase(s, t);
    t = tcase_create("kernels");
    tcase_add_test(t, grad_conv);
    tcase_add_test(t, conv_against_direct);
    tcase_add_test(t, dwconv_against_direct);
    tcase_add_test(t, grad_binary);
    tcase_add_test(t, grad_unary);
    tcase_add_test(t, plan_kernels_named);
    suite_add_tcase(s, t);
    t = tcase_create("weight_gradients");
    tcase_add_test(t, grad_conv_weights);
    tcase_add_test(t, grad_softmax_xent);
    suite_add_tcase(s, t);
    t = tcase_create("fast_gemm");
    tcase_add_test(t, grad_conv_fast);
    tcase_add_test(t, grad_conv_bf16);
    suite_add_tcase(s, t);
    t = tcase_create("end_to_end_gradient");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, e2e_gradient);
    suite_add_tcase(s, t);
    t = tcase_create("photos");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, photos);
    suite_add_tcase(s, t);
    t = tcase_create("bad_input");
    tcase_add_test(t, bad_models);
    tcase_add_test(t, bad_plans);
    suite_add_tcase(s, t);
    t = tcase_create("graph_sizes");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, concat_many_inputs);
    tcase_add_test(t, deep_chain);
    tcase_add_test(t, size_limits);
    tcase_add_test(t, const_data_inputs);
    suite_add_tcase(s, t);
    return check_run(s);
}
