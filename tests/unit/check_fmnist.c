/* Check suite for the Fashion-MNIST classifier (pipeline/fmnist): finite-difference gradients of
 * the whole training network (every weight and bias tensor, through conv, ReLU, max-pool, dense
 * and softmax cross-entropy), a tiny training run that must learn, determinism across thread
 * counts, the TF.js export loaded back by the nn engine (same logits, input gradients through
 * Reshape and MatMul), dataset-example selection, and bad input. Needs the Debian package
 * dataset-fashion-mnist (or env FMNIST_DATA). */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples.h"
#include "fmnist.h"
#include "nn.h"
#include "nn_train.h"

static const char *data_dir(void)
{
    const char *d = getenv("FMNIST_DATA");
    return d && *d ? d : FMNIST_DATA_DIR;
}

static char tmpdir[256];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_fmnist.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void rm_tmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *tpath(const char *name)
{
    char *p = NULL;
    ck_assert_int_ne(asprintf(&p, "%s/%s", tmpdir, name), -1);
    return p;
}

/* Images [0, n) of a set as pixel/255 floats, labels as ints. */
static float *set_x(const fmnist_set *s, int n)
{
    float *x = malloc(sizeof(float) * (size_t)n * FMNIST_PIXELS);
    for (size_t i = 0; i < (size_t)n * FMNIST_PIXELS; i++) x[i] = s->images[i] / 255.0f;
    return x;
}

static int *set_y(const fmnist_set *s, int n)
{
    int *y = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) y[i] = s->labels[i];
    return y;
}

static void load_set(int train, int limit, fmnist_set *s)
{
    err e = {{0}};
    ck_assert_msg(fmnist_load(data_dir(), train, limit, s, &e) == 0, "%s (install dataset-fashion-mnist)", e.msg);
    ck_assert_int_eq(s->n, limit);
}

/* ---------------------------------------------------------------------------------------------
 * Gradients */

/* Non-zero biases. With zero biases the black background (pixel 0) puts pre-activations exactly
 * on the ReLU's kink, where a finite difference sees neither one-sided derivative. */
static void set_biases(fmnist_net *net)
{
    float *P = fmnist_net_params(net, NULL);
    for (int t = 1; t < fmnist_net_n_tensors(net); t += 2) {
        size_t off, cnt;
        fmnist_net_tensor(net, t, NULL, &off, &cnt);
        for (size_t i = 0; i < cnt; i++) P[off + i] = 0.03f + 0.05f * (float)((int)(i % 5) - 2);
    }
}

START_TEST(grad_whole_network)
{
    fmnist_set s;
    load_set(0, 3, &s);
    fmnist_arch a = {3, 4, 3, 5, 6};
    fmnist_net *net = fmnist_net_new(&a, 7);
    size_t np;
    float *P = fmnist_net_params(net, &np);
    set_biases(net);
    float *x = set_x(&s, 3), *g = malloc(sizeof(float) * np);
    int *y = set_y(&s, 3);
    double l0 = fmnist_net_loss(net, x, y, 3, g);
    ck_assert(isfinite(l0) && l0 > 0);
    /* every bias entry, and up to 12 entries spread over every weight tensor */
    int checked = 0;
    for (int t = 0; t < fmnist_net_n_tensors(net); t++) {
        const char *name;
        size_t off, cnt;
        fmnist_net_tensor(net, t, &name, &off, &cnt);
        size_t stride = (t % 2 == 0 && cnt > 12) ? cnt / 12 : 1;
        for (size_t i = 0; i < cnt; i += stride) {
            float *p = &P[off + i], p0 = *p, eps = 5e-4f;
            *p = p0 + eps;
            double lp = fmnist_net_loss(net, x, y, 3, NULL);
            *p = p0 - eps;
            double lm = fmnist_net_loss(net, x, y, 3, NULL);
            *p = p0;
            double num = (lp - lm) / (2 * eps), ana = g[off + i];
            ck_assert_msg(fabs(num - ana) <= 0.03 * fabs(num) + 2e-3, "%s[%zu]: analytic %.6g, numeric %.6g", name,
                          i, ana, num);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 80);
    /* the loss is the mean softmax cross-entropy of the logits */
    float z[30];
    fmnist_net_forward(net, x, 3, z);
    ck_assert_double_eq_tol(l0, nn_softmax_xent(3, 10, z, y, 1, NULL) / 3, 1e-6);
    free(x), free(y), free(g);
    fmnist_net_free(net);
    fmnist_set_free(&s);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Training */

static const fmnist_arch small = {8, 8, 16, 16, 64};

/* fast: the products on the best path the CPU offers, AMX or AVX512-BF16 (what fv-train does by
 * default, --gemm auto); else sgemm */
static fmnist_net *train_small(const fmnist_set *tr, const fmnist_set *te, int threads, int fast,
                               fmnist_train_report *rep)
{
    nn_set_threads(threads);
    fmnist_net *net = fmnist_net_new(&small, 3);
    fmnist_train_opts o = {.epochs = 1, .batch = 32, .chunk = 8, .lr = 2e-3f, .seed = 3,
                           .gemm = fast ? nn_ops_gemm_best() : NN_GEMM_SGEMM};
    err e = {{0}};
    ck_assert_msg(fmnist_train(net, tr, te, &o, rep, &e) == 0, "%s", e.msg);
    nn_set_threads(1);
    return net;
}

/* Records the checkpoint calls; fails at the call numbered fail_at (1-based; 0: never). */
typedef struct ck_log {
    int n, fail_at;
    long step[8];
    int listed[8], epoch[8];
    double acc[8];
} ck_log;

static int log_checkpoint(void *ctx, const fmnist_net *net, const fmnist_checkpoint *c, err *e)
{
    ck_log *l = ctx;
    (void)net;
    if (l->n < 8) l->step[l->n] = c->step, l->listed[l->n] = c->listed, l->epoch[l->n] = c->epoch, l->acc[l->n] = c->test_accuracy;
    if (++l->n == l->fail_at) return err_set(e, "checkpoint %d: disk full", l->n);
    return 0;
}

START_TEST(checkpoints_called_in_order)
{
    fmnist_set tr, te;
    load_set(1, 320, &tr);
    load_set(0, 200, &te);
    nn_set_threads(1);
    /* 320 images in minibatches of 32: 10 steps per epoch, two epochs; step 10 ends epoch 1 */
    const long steps[3] = {0, 4, 10};
    ck_log l = {0};
    fmnist_train_opts o = {.epochs = 2, .batch = 32, .chunk = 8, .lr = 2e-3f, .seed = 3, .checkpoint_steps = steps,
                           .n_checkpoint_steps = 3, .checkpoint_epochs = 1, .checkpoint = log_checkpoint,
                           .checkpoint_ctx = &l};
    fmnist_train_report rep;
    err e = {{0}};
    fmnist_net *net = fmnist_net_new(&small, 3);
    ck_assert_msg(fmnist_train(net, &tr, &te, &o, &rep, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(l.n, 4);
    const long want_step[4] = {0, 4, 10, 20};
    const int want_listed[4] = {1, 1, 1, 0}, want_epoch[4] = {0, 0, 1, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(l.step[i], want_step[i]);
        ck_assert_int_eq(l.listed[i], want_listed[i]);
        ck_assert_int_eq(l.epoch[i], want_epoch[i]);
        ck_assert(l.acc[i] >= 0 && l.acc[i] <= 1);
    }
    /* the epochs' checkpoints carry the epochs' accuracies */
    ck_assert_double_eq(l.acc[2], rep.epoch_accuracy[0]);
    ck_assert_double_eq(l.acc[3], rep.test_accuracy);
    fmnist_net_free(net);
    /* a failing checkpoint stops training with its message */
    ck_log f = {.fail_at = 2};
    o.checkpoint_ctx = &f;
    net = fmnist_net_new(&small, 3);
    ck_assert_int_eq(fmnist_train(net, &tr, &te, &o, &rep, &e), -1);
    ck_assert_str_eq(e.msg, "checkpoint 2: disk full");
    ck_assert_int_eq(f.n, 2);
    fmnist_net_free(net);
    fmnist_set_free(&tr);
    fmnist_set_free(&te);
}
END_TEST

START_TEST(tiny_training_learns_and_is_deterministic)
{
    fmnist_set tr, te;
    load_set(1, 2000, &tr);
    load_set(0, 1000, &te);
    fmnist_train_report r1, r2;
    fmnist_net *n1 = train_small(&tr, &te, 1, 1, &r1);
    fmnist_net *n2 = train_small(&tr, &te, 2, 1, &r2);
    /* 2000 images, one epoch, a small net: well above chance (10 %) */
    ck_assert_msg(r1.test_accuracy >= 0.70, "test accuracy %.3f after a tiny run (expected >= 0.70)", r1.test_accuracy);
    ck_assert_double_lt(r1.final_loss, 1.2);
    /* products in float (OpenBLAS) learn as well; in bf16x3 the weights differ by rounding only */
    fmnist_train_report r0;
    fmnist_net *n0 = train_small(&tr, &te, 1, 0, &r0);
    ck_assert_msg(r0.test_accuracy >= 0.70, "test accuracy %.3f in float (expected >= 0.70)", r0.test_accuracy);
    ck_assert_msg(fabs(r0.test_accuracy - r1.test_accuracy) <= 0.03 && fabs(r0.final_loss - r1.final_loss) <= 0.05,
                  "float and fast products trained apart: accuracy %.3f / %.3f, loss %.4f / %.4f",
                  r0.test_accuracy, r1.test_accuracy, r0.final_loss, r1.final_loss);
    fmnist_net_free(n0);
    size_t np;
    float *p1 = fmnist_net_params(n1, &np), *p2 = fmnist_net_params(n2, NULL);
    ck_assert_msg(memcmp(p1, p2, sizeof(float) * np) == 0, "1 and 2 threads trained different weights");
    ck_assert_double_eq(r1.test_accuracy, r2.test_accuracy);
    /* and the saved files are byte-identical */
    make_tmp();
    char *j1 = tpath("a.json"), *b1 = tpath("a.bin"), *j2 = tpath("b.json"), *b2 = tpath("b.bin");
    err e = {{0}};
    ck_assert_int_eq(fmnist_net_save_tfjs(n1, j1, b1, "a.bin", "{\"seed\":3}", &e), 0);
    ck_assert_int_eq(fmnist_net_save_tfjs(n2, j2, b2, "a.bin", "{\"seed\":3}", &e), 0);
    char *d1, *d2;
    size_t l1, l2;
    ck_assert_int_eq(read_file(b1, &d1, &l1, &e), 0);
    ck_assert_int_eq(read_file(b2, &d2, &l2, &e), 0);
    ck_assert(l1 == l2 && memcmp(d1, d2, l1) == 0);
    free(d1), free(d2);
    ck_assert_int_eq(read_file(j1, &d1, &l1, &e), 0);
    ck_assert_int_eq(read_file(j2, &d2, &l2, &e), 0);
    ck_assert(l1 == l2 && memcmp(d1, d2, l1) == 0);
    free(d1), free(d2);
    /* a different seed gives different weights (the check above could fail) */
    fmnist_net *n3 = fmnist_net_new(&small, 4);
    ck_assert(memcmp(fmnist_net_params(n3, NULL), p1, sizeof(float) * np) != 0);
    fmnist_net_free(n3);
    rm_tmp();
    free(j1), free(b1), free(j2), free(b2);
    fmnist_net_free(n1);
    fmnist_net_free(n2);
    fmnist_set_free(&tr);
    fmnist_set_free(&te);
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Export: the nn engine computes what training computed */

START_TEST(export_loads_in_nn)
{
    fmnist_set te;
    load_set(0, 8, &te);
    fmnist_arch a = {4, 5, 6, 7, 9};
    fmnist_net *net = fmnist_net_new(&a, 11);
    set_biases(net);
    make_tmp();
    char *jp = tpath("m.json"), *bp = tpath("m.bin");
    err e = {{0}};
    ck_assert_int_eq(fmnist_net_save_tfjs(net, jp, bp, "m.bin", NULL, &e), 0);
    nn_model *m = NULL;
    ck_assert_msg(nn_model_load_tfjs(jp, NULL, &m, &e) == 0, "%s", e.msg);
    int ish[4];
    ck_assert_int_eq(nn_model_input_shape(m, ish), 0);
    ck_assert_int_eq(ish[1], 28);
    ck_assert_int_eq(ish[3], 3);
    const char *outs[3] = {"logits", "fc1:preact", "conv2"};
    nn_plan *p = NULL;
    ck_assert_msg(nn_plan_new(m, NULL, 8, 28, 28, outs, 3, &p, &e) == 0, "%s", e.msg);
    float *in = nn_plan_input(p);
    for (int i = 0; i < 8 * FMNIST_PIXELS; i++) in[3 * i] = in[3 * i + 1] = in[3 * i + 2] = te.images[i];
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    int sh[4];
    const float *z = nn_plan_output(p, 0, sh);
    ck_assert_int_eq(sh[0], 8);
    ck_assert_int_eq(sh[3], 10);
    nn_plan_output(p, 1, sh);
    ck_assert_int_eq(sh[3], 9);
    float *x = set_x(&te, 8), want[80];
    fmnist_net_forward(net, x, 8, want);
    for (int i = 0; i < 80; i++)
        ck_assert_msg(fabsf(z[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i])), "logit %d: nn %.7g, fmnist %.7g", i, z[i],
                      want[i]);
    /* input gradient of sum(r * logits) through MatMul, Reshape, MaxPool and the convs, on the
     * images plus noise: a flat black background ties the max-pool windows, where a finite
     * difference sees neither one-sided derivative */
    for (int i = 0; i < 8 * FMNIST_PIXELS * 3; i++) in[i] += (float)((i * 2654435761u) >> 26);
    ck_assert_int_eq(nn_plan_forward(p, &e), 0);
    float r[80];
    for (int i = 0; i < 80; i++) r[i] = (float)((i * 37) % 11 - 5) / 5.0f;
    memcpy(nn_plan_output_grad(p, 0), r, sizeof r);
    ck_assert_int_eq(nn_plan_backward(p, &e), 0);
    const float *gx = nn_plan_input_grad(p);
    double maxg = 0;
    for (int i = 0; i < 8 * FMNIST_PIXELS * 3; i++) maxg = fmax(maxg, fabs(gx[i]));
    ck_assert_double_gt(maxg, 0);
    for (int k = 0; k < 40; k++) {
        int i = (k * 7919 + 300) % (8 * FMNIST_PIXELS * 3);
        float x0 = in[i], eps = 0.5f;
        double l[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            in[i] = x0 + (sgn ? -eps : eps);
            nn_plan_forward(p, &e);
            const float *zz = nn_plan_output(p, 0, NULL);
            l[sgn] = 0;
            for (int q = 0; q < 80; q++) l[sgn] += (double)r[q] * zz[q];
        }
        in[i] = x0;
        double num = (l[0] - l[1]) / (2 * eps);
        ck_assert_msg(fabs(num - gx[i]) <= 0.02 * maxg + 1e-6, "d/dinput[%d]: analytic %.6g, numeric %.6g", i, gx[i],
                      num);
    }
    nn_plan_free(p);
    nn_model_free(m);
    free(x);
    rm_tmp();
    free(jp), free(bp);
    fmnist_net_free(net);
    fmnist_set_free(&te);
}
END_TEST

/* Length of the match of pattern at text, whitespace outside the pattern's words ignored
 * (the JSON's indentation is not the test's business); 0 if no match. */
static size_t match_ws(const char *text, const char *pat)
{
    const char *t = text;
    for (const char *q = pat; *q; q++) {
        if (*q == ' ' || *q == '\n') continue;
        while (*t == ' ' || *t == '\n') t++;
        if (*t != *q) return 0;
        t++;
    }
    return (size_t)(t - text);
}

/* Rewrites the JSON at path, replacing the first match of `from` (see match_ws) by `to`. */
static void patch(const char *path, const char *from, const char *to)
{
    char *d;
    size_t n, len = 0;
    err e = {{0}};
    ck_assert_int_eq(read_file(path, &d, &n, &e), 0);
    char *at = d;
    while (*at && !(len = match_ws(at, from))) at++;
    ck_assert_msg(len > 0, "'%s' not in %s", from, path);
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, (size_t)(at - d), f);
    fputs(to, f);
    fputs(at + len, f);
    fclose(f);
    free(d);
}

/* Saves a fresh model, applies patch from->to, and expects the plan for `out` to fail with msg. */
static void expect_bad(const char *from, const char *to, const char *out, const char *msg)
{
    fmnist_arch a = {2, 2, 2, 2, 3};
    fmnist_net *net = fmnist_net_new(&a, 1);
    char *jp = tpath("bad.json"), *bp = tpath("bad.bin");
    err e = {{0}};
    ck_assert_int_eq(fmnist_net_save_tfjs(net, jp, bp, "bad.bin", NULL, &e), 0);
    patch(jp, from, to);
    nn_model *m = NULL;
    nn_plan *p = NULL;
    const char *outs[1] = {out};
    int rc = nn_model_load_tfjs(jp, NULL, &m, &e);
    if (rc == 0) rc = nn_plan_new(m, NULL, 1, 28, 28, outs, 1, &p, &e);
    ck_assert_msg(rc != 0, "patch '%s' -> '%s' was accepted", from, to);
    ck_assert_msg(strstr(e.msg, msg) != NULL, "message '%s' lacks '%s'", e.msg, msg);
    nn_plan_free(p);
    nn_model_free(m);
    fmnist_net_free(net);
    free(jp), free(bp);
}

START_TEST(bad_models)
{
    make_tmp();
    expect_bad("\"transpose_b\": {\"b\": false", "\"transpose_b\": {\"b\": true", "logits",
               "transpose_a/transpose_b true");
    expect_bad("\"input\": [\"pool2\",", "\"input\": [\"conv4\",", "fc1", "cannot reshape");
    expect_bad("\"input\": [\"flatten\",", "\"input\": [\"pool2\",", "fc1", "flatten it with Reshape");
    expect_bad("\"op\": \"Reshape\"", "\"op\": \"Squeeze\"", "fc1", "op 'Squeeze' is not supported");
    expect_bad("\"paths\": [\"bad.bin\"", "\"paths\": [\"missing.bin\"", "fc1", "missing.bin");
    /* a truncated weight file */
    fmnist_arch a = {2, 2, 2, 2, 3};
    fmnist_net *net = fmnist_net_new(&a, 1);
    char *jp = tpath("t.json"), *bp = tpath("t.bin");
    err e = {{0}};
    ck_assert_int_eq(fmnist_net_save_tfjs(net, jp, bp, "t.bin", NULL, &e), 0);
    ck_assert_int_eq(truncate(bp, 100), 0);
    nn_model *m = NULL;
    ck_assert_int_ne(nn_model_load_tfjs(jp, NULL, &m, &e), 0);
    ck_assert_msg(strstr(e.msg, "truncated") != NULL, "%s", e.msg);
    free(jp), free(bp);
    fmnist_net_free(net);
    rm_tmp();
}
END_TEST

/* ---------------------------------------------------------------------------------------------
 * Dataset examples */

START_TEST(selection)
{
    float v[8] = {0.5f, -2.0f, 3.0f, 0.0f, 3.0f, -1.0f, 1.4f, -0.1f};
    int top[3];
    examples_top_k(v, 8, 3, top);
    ck_assert_int_eq(top[0], 2); /* ties: lower index first */
    ck_assert_int_eq(top[1], 4);
    ck_assert_int_eq(top[2], 6);
    int sp[10];
    float t[5];
    const char *nm[5];
    examples_spectrum(v, 8, 1, sp, t, nm);
    ck_assert_str_eq(nm[2], "zero");
    ck_assert_float_eq(t[0], -2.0f);
    ck_assert_float_eq(t[1], -1.0f);
    ck_assert_float_eq(t[3], 1.5f);
    ck_assert_int_eq(sp[0], 1); /* min */
    ck_assert_int_eq(sp[1], 5); /* -1 */
    ck_assert_int_eq(sp[2], 3); /* 0 */
    ck_assert_int_eq(sp[3], 6); /* 1.4 nearest 1.5 */
    ck_assert_int_eq(sp[4], 2); /* max, lower index */
    /* spread 2: each image at most once */
    examples_spectrum(v, 8, 2, sp, t, nm);
    for (int i = 0; i < 10; i++)
        for (int j = i + 1; j < 10; j++) ck_assert(sp[i] < 0 || sp[i] != sp[j]);
    /* no negative values: evenly spaced targets */
    float u[4] = {0, 0, 1, 4};
    examples_spectrum(u, 4, 1, sp, t, nm);
    ck_assert_str_eq(nm[1], "low");
    ck_assert_float_eq(t[2], 2.0f);
    ck_assert_int_eq(sp[4], 3);
}
END_TEST

START_TEST(examples_bad_input)
{
    fmnist_set te;
    load_set(0, 20, &te);
    fmnist_arch a = {2, 2, 2, 2, 3};
    fmnist_net *net = fmnist_net_new(&a, 1);
    make_tmp();
    char *jp = tpath("m.json"), *bp = tpath("m.bin"), *out = tpath("out");
    err e = {{0}};
    ck_assert_int_eq(fmnist_net_save_tfjs(net, jp, bp, "m.bin", NULL, &e), 0);
    examples_opts o = {.layer = "fc1", .k = 21, .spread = 1, .scale = 1, .examples = 1, .batch = 8};
    ck_assert_int_eq(examples_run(jp, &te, out, &o, NULL, &e), EXAMPLES_BAD_INPUT);
    ck_assert_msg(strstr(e.msg, "--k 21: out of range") != NULL, "%s", e.msg);
    o.k = 3, o.layer = "nope";
    ck_assert_int_eq(examples_run(jp, &te, out, &o, NULL, &e), EXAMPLES_BAD_INPUT);
    ck_assert_msg(strstr(e.msg, "'nope' not found") != NULL, "%s", e.msg);
    int ch[1] = {3};
    o.layer = "fc1", o.channels = ch, o.n_channels = 1;
    ck_assert_int_eq(examples_run(jp, &te, out, &o, NULL, &e), EXAMPLES_BAD_INPUT);
    ck_assert_msg(strstr(e.msg, "3 out of range (layer fc1 has 3 channels)") != NULL, "%s", e.msg);
    struct stat st;
    ck_assert_int_ne(stat(out, &st), 0); /* nothing written */
    /* and a good run: every listed file exists, the top image has the largest value */
    ch[0] = 1;
    o.features = 1;
    ck_assert_msg(examples_run(jp, &te, out, &o, NULL, &e) == EXAMPLES_OK, "%s", e.msg);
    char *ej = tpath("out/examples.json"), *ff = tpath("out/features.fvf");
    ck_assert_int_eq(stat(ej, &st), 0);
    ck_assert_int_eq(stat(ff, &st), 0);
    ck_assert_int_eq((int)st.st_size, 12 + 20 * 3 * 4);
    free(ej), free(ff);
    rm_tmp();
    free(jp), free(bp), free(out);
    fmnist_net_free(net);
    fmnist_set_free(&te);
}
END_TEST

START_TEST(bad_data)
{
    make_tmp();
    err e = {{0}};
    fmnist_set s;
    ck_assert_int_ne(fmnist_load(tmpdir, 0, 0, &s, &e), 0);
    ck_assert_msg(strstr(e.msg, "t10k-images-idx3-ubyte.gz") != NULL, "%s", e.msg);
    /* a gzip that ends early */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -c 5000 '%s/t10k-images-idx3-ubyte.gz' > '%s/t10k-images-idx3-ubyte.gz' && cp '%s/t10k-labels-idx1-ubyte.gz' '%s/'",
             data_dir(), tmpdir, data_dir(), tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(fmnist_load(tmpdir, 0, 0, &s, &e), 0);
    ck_assert_msg(strstr(e.msg, "t10k-images-idx3-ubyte.gz") != NULL, "%s", e.msg);
    /* images and labels with different counts (train labels beside test images) */
    snprintf(cmd, sizeof cmd, "cp '%s/t10k-images-idx3-ubyte.gz' '%s/' && cp '%s/train-labels-idx1-ubyte.gz' '%s/t10k-labels-idx1-ubyte.gz'",
             data_dir(), tmpdir, data_dir(), tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_ne(fmnist_load(tmpdir, 0, 0, &s, &e), 0);
    ck_assert_msg(strstr(e.msg, "60000 labels for 10000 images") != NULL, "%s", e.msg);
    fmnist_arch a;
    ck_assert_int_ne(fmnist_arch_parse("32,32,64,64", &a, &e), 0);
    ck_assert_int_ne(fmnist_arch_parse("32,32,64,64,0", &a, &e), 0);
    ck_assert_int_eq(fmnist_arch_parse("1,2,3,4,5", &a, &e), 0);
    ck_assert_int_eq(a.fc, 5);
    rm_tmp();
}
END_TEST

int main(void)
{
    nn_set_threads(1);
    Suite *s = suite_create("fmnist");
    TCase *t = tcase_create("gradients");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, grad_whole_network);
    suite_add_tcase(s, t);
    t = tcase_create("training");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, tiny_training_learns_and_is_deterministic);
    tcase_add_test(t, checkpoints_called_in_order);
    suite_add_tcase(s, t);
    t = tcase_create("export");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, export_loads_in_nn);
    tcase_add_test(t, bad_models);
    suite_add_tcase(s, t);
    t = tcase_create("examples");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, selection);
    tcase_add_test(t, examples_bad_input);
    suite_add_tcase(s, t);
    t = tcase_create("bad_data");
    tcase_add_test(t, bad_data);
    suite_add_tcase(s, t);
    return check_run(s);
}
