/* Check suite for the fv module's engine-independent parts: every parameterization,
 * transform and objective against finite differences, and the optimization loop on a small
 * differentiable stand-in network (rises, deterministic). */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fv_objective.h"
#include "fv_opt.h"
#include "fv_param.h"
#include "fv_recipe.h"
#include "fv_transform.h"
#include "pool.h"
#include "rng.h"

/* ---- finite differences ---------------------------------------------------------------------- */

/* A scalar function of a float vector theta (read through the context). */
typedef double (*scalar_fn)(void *ctx);

/* Compares grad with central differences of f at `samples` coordinates of theta picked by rng
 * (every coordinate if samples >= n). Fails the test on the first mismatch. */
static void fd_check(scalar_fn f, void *ctx, float *theta, const float *grad, size_t n, int samples, double h,
                     double atol, double rtol, const char *what)
{
    rng_state r;
    rng_seed(&r, 99);
    size_t count = (size_t)samples >= n ? n : (size_t)samples;
    for (size_t s = 0; s < count; s++) {
        size_t i = (size_t)samples >= n ? s : (size_t)rng_below(&r, n);
        float keep = theta[i];
        theta[i] = (float)(keep + h);
        double fp = f(ctx);
        theta[i] = (float)(keep - h);
        double fm = f(ctx);
        theta[i] = keep;
        double fd = (fp - fm) / (2 * h);
        double tol = atol + rtol * fmax(fabs(fd), fabs(grad[i]));
        ck_assert_msg(fabs(fd - grad[i]) <= tol, "%s: d/dtheta[%zu]: finite difference %.6g, gradient %.6g", what, i,
                      fd, (double)grad[i]);
    }
}

static void fill_normal(float *a, size_t n, double sd, uint64_t seed)
{
    rng_state r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) a[i] = (float)(sd * rng_normal(&r));
}

static void fill_uniform(float *a, size_t n, uint64_t seed)
{
    rng_state r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) a[i] = (float)rng_uniform(&r);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- parameterizations ----------------------------------------------------------------------- */

typedef struct param_ctx {
    fv_param *p;
    float *img, *r;
    size_t ni;
} param_ctx;

static double param_loss(void *vctx)
{
    param_ctx *c = vctx;
    fv_param_forward(c->p, c->img);
    return dot(c->img, c->r, c->ni);
}

/* L = <r, img(params)>: backward(r) must be the gradient of L. */
static void param_fd(fv_param_config cfg, const char *what)
{
    rng_state rng;
    rng_seed(&rng, 7);
    fv_param *p;
    err e = {{0}};
    ck_assert_msg(fv_param_new(&cfg, &rng, &p, &e) == 0, "%s", e.msg);
    param_ctx c = {p, NULL, NULL, (size_t)cfg.n * cfg.h * cfg.w * 3};
    c.img = xmalloc(sizeof(float) * c.ni);
    c.r = xmalloc(sizeof(float) * c.ni);
    fill_normal(c.r, c.ni, 1.0, 5);
    fv_param_forward(p, c.img);
    for (size_t i = 0; i < c.ni; i++) ck_assert(c.img[i] > 0 && c.img[i] < 1);
    fv_param_backward(p, c.r);
    size_t np = fv_param_count(p);
    float *g = xmalloc(sizeof(float) * np);
    memcpy(g, fv_param_grad(p), sizeof(float) * np);
    fd_check(param_loss, &c, fv_param_values(p), g, np, 400, 1e-2, 1e-3, 1e-2, what);
    free(g);
    free(c.img);
    free(c.r);
    fv_param_free(p);
}

START_TEST(param_pixel)
{
    param_fd((fv_param_config){FV_PARAM_PIXEL, 0, 2, 5, 4, 0, {0}, 0.5, 0}, "pixel");
    param_fd((fv_param_config){FV_PARAM_PIXEL, 1, 2, 5, 4, 0, {0}, 0.5, 0}, "pixel decorrelated");
}
END_TEST

START_TEST(param_fourier)
{
    /* even and odd widths and heights: the self-conjugate columns differ */
    param_fd((fv_param_config){FV_PARAM_FOURIER, 0, 1, 6, 8, 0, {0}, 0.5, 0}, "fourier 6x8");
    param_fd((fv_param_config){FV_PARAM_FOURIER, 1, 2, 7, 6, 0, {0}, 0.5, 0}, "fourier 7x6 decorrelated");
    param_fd((fv_param_config){FV_PARAM_FOURIER, 1, 1, 8, 9, 0, {0}, 0.5, 0}, "fourier 8x9 decorrelated");
}
END_TEST

START_TEST(param_shared)
{
    param_fd((fv_param_config){FV_PARAM_FOURIER, 1, 3, 8, 8, 2, {2, 4}, 0.5, 0}, "fourier + shared 2, 4");
    param_fd((fv_param_config){FV_PARAM_PIXEL, 0, 2, 7, 5, 1, {3}, 0.5, 0}, "pixel + shared 3");
}
END_TEST

START_TEST(param_grey)
{
    param_fd((fv_param_config){FV_PARAM_FOURIER, 0, 2, 7, 6, 1, {2}, 0.5, 1}, "fourier grey + shared 2");
    param_fd((fv_param_config){FV_PARAM_PIXEL, 0, 1, 5, 4, 0, {0}, 0.5, 1}, "pixel grey");
    /* one channel: a third of the colour parameters, and R = G = B everywhere */
    rng_state rng;
    rng_seed(&rng, 3);
    fv_param *p, *q;
    err e = {{0}};
    fv_param_config grey = {FV_PARAM_FOURIER, 0, 1, 8, 8, 0, {0}, 0.5, 1}, colour = grey;
    colour.grey = 0;
    ck_assert_int_eq(fv_param_new(&grey, &rng, &p, &e), 0);
    ck_assert_int_eq(fv_param_new(&colour, &rng, &q, &e), 0);
    ck_assert_uint_eq(3 * fv_param_count(p), fv_param_count(q));
    float img[8 * 8 * 3];
    fv_param_forward(p, img);
    for (int i = 0; i < 64; i++) ck_assert(img[3 * i] == img[3 * i + 1] && img[3 * i] == img[3 * i + 2]);
    fv_param_free(p);
    fv_param_free(q);
    grey.decorrelate = 1;
    ck_assert_int_eq(fv_param_new(&grey, &rng, &p, &e), -1);
    ck_assert_str_eq(e.msg, "parameterization: a grey image has no colours to decorrelate");
}
END_TEST

START_TEST(param_fourier_properties)
{
    /* The spectrum is the image's: one nonzero coefficient at (ky, kx) gives a pure cosine, and
     * the colour matrix is Lucid's over its largest column norm (first column: unit norm). */
    float m[3][3];
    fv_param_color_matrix(m);
    ck_assert_double_eq_tol(sqrt(m[0][0] * m[0][0] + m[1][0] * m[1][0] + m[2][0] * m[2][0]), 1.0, 1e-6);
    ck_assert_double_eq_tol(m[0][1] / m[0][0], 0.09 / 0.26, 1e-6);
    rng_state rng;
    rng_seed(&rng, 1);
    fv_param *p;
    err e = {{0}};
    fv_param_config cfg = {FV_PARAM_FOURIER, 0, 1, 8, 8, 0, {0}, 0.0, 0};
    ck_assert_int_eq(fv_param_new(&cfg, &rng, &p, &e), 0);
    float *v = fv_param_values(p);
    size_t fw = 8 / 2 + 1;
    v[(0 * 8 + 2) * 2 + 0] = 1.0f; /* channel 0, ky 0, kx 2, real part */
    float img[8 * 8 * 3];
    fv_param_forward(p, img);
    /* pre = 2 * scale * cos(2 pi 2 x / 8): sign pattern + - + - across x, constant along y */
    double logit0 = log(img[0] / (1 - img[0]));
    ck_assert_double_gt(logit0, 0);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            double l = log(img[(y * 8 + x) * 3] / (1 - img[(y * 8 + x) * 3]));
            ck_assert_double_eq_tol(l, logit0 * cos(2 * M_PI * 2 * x / 8.0), 1e-4);
            ck_assert_double_eq_tol(img[(y * 8 + x) * 3 + 1], 0.5, 1e-6);
        }
    (void)fw;
    fv_param_free(p);
    /* a coefficient off both axes, (ky 1, kx 2), through both passes of the transform (columns,
     * then rows): cos(2 pi (y / 8 + 2 x / 8)) */
    ck_assert_int_eq(fv_param_new(&cfg, &rng, &p, &e), 0);
    v = fv_param_values(p);
    memset(v, 0, sizeof(float) * fv_param_count(p));
    v[(1 * 5 + 2) * 2 + 0] = 1.0f;
    fv_param_forward(p, img);
    double l00 = log(img[0] / (1 - img[0]));
    ck_assert_double_gt(l00, 0);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            double l = log(img[(y * 8 + x) * 3] / (1 - img[(y * 8 + x) * 3]));
            ck_assert_double_eq_tol(l, l00 * cos(2 * M_PI * (y + 2 * x) / 8.0), 1e-4);
        }
    fv_param_free(p);
}
END_TEST

/* ---- transforms ------------------------------------------------------------------------------ */

typedef struct xf_ctx {
    fv_transform *t;
    float *in, *out, *r;
    size_t no;
} xf_ctx;

static double tr_loss(void *vctx)
{
    xf_ctx *c = vctx;
    fv_transform_forward(c->t, c->in, c->out);
    return dot(c->out, c->r, c->no);
}

/* Checks the chain's backward against finite differences for one fixed instance. */
static void transform_fd(const fv_op *ops, int n_ops, const int *oy, const int *ox, const double *sc,
                         const double *deg, const char *what)
{
    int n = 2, h = 9, w = 8, oh, ow;
    fv_transform *t;
    err e = {{0}};
    ck_assert_msg(fv_transform_new(ops, n_ops, n, h, w, &t, &e) == 0, "%s", e.msg);
    fv_transform_set(t, oy, ox, sc, deg);
    fv_transform_out_size(t, &oh, &ow);
    size_t ni = (size_t)n * h * w * 3, no = (size_t)n * oh * ow * 3;
    xf_ctx c = {t, xmalloc(sizeof(float) * ni), xmalloc(sizeof(float) * no), xmalloc(sizeof(float) * no), no};
    fill_uniform(c.in, ni, 3);
    fill_normal(c.r, no, 1.0, 4);
    float *g = xmalloc(sizeof(float) * ni);
    fv_transform_backward(t, c.r, g);
    fd_check(tr_loss, &c, c.in, g, ni, 1 << 30, 1e-2, 1e-3, 1e-3, what);
    free(g);
    free(c.in);
    free(c.out);
    free(c.r);
    fv_transform_free(t);
}

START_TEST(transform_each)
{
    int z[2] = {0, 0};
    double one[2] = {1, 1}, zero[2] = {0, 0};
    fv_op pad = {.kind = FV_OP_PAD, .amount = 3};
    transform_fd(&pad, 1, z, z, one, zero, "pad constant");
    fv_op padr = {.kind = FV_OP_PAD, .amount = 3, .reflect = 1};
    transform_fd(&padr, 1, z, z, one, zero, "pad reflect");
    fv_op jit = {.kind = FV_OP_JITTER, .amount = 3};
    int oy = 2, ox = 1;
    transform_fd(&jit, 1, &oy, &ox, one, zero, "jitter");
    fv_op sc = {.kind = FV_OP_SCALE, .n_scales = 2, .scales = {0.95, 1.1}};
    double s1 = 0.95, s2 = 1.1;
    transform_fd(&sc, 1, z, z, &s1, zero, "scale 0.95");
    transform_fd(&sc, 1, z, z, &s2, zero, "scale 1.1");
    fv_op rot = {.kind = FV_OP_ROTATE, .deg_min = -10, .deg_max = 10};
    double d = 7.3;
    transform_fd(&rot, 1, z, z, one, &d, "rotate 7.3");
    fv_op canvas = {.kind = FV_OP_CANVAS, .canvas_h = 12, .canvas_w = 11};
    transform_fd(&canvas, 1, z, z, one, zero, "canvas");
}
END_TEST

/* At a size where the backward's blocks of rows overlap in the input rows they reach: the
 * backward is the transpose of the forward's linear part (the forward is affine: samples outside
 * the image read a constant, so <T x - T 0, r> = <x, T' r>), 1 and 3 threads give the same bytes
 * both ways, and so does the portable sampling loop forward. */
START_TEST(transform_blocks_and_threads)
{
    fv_op ops[2] = {{.kind = FV_OP_SCALE, .n_scales = 1, .scales = {0.9}},
                    {.kind = FV_OP_ROTATE, .deg_min = -20, .deg_max = 20}};
    int n = 2, h = 61, w = 53, oh, ow;
    const int z[2] = {0, 0};
    const double sc[2] = {0.9, 1}, deg[2] = {0, 17.0};
    float *res[2][2];
    for (int run = 0; run < 2; run++) {
        pool_set_threads(run ? 3 : 1);
        fv_transform *t;
        err e = {{0}};
        ck_assert_msg(fv_transform_new(ops, 2, n, h, w, &t, &e) == 0, "%s", e.msg);
        fv_transform_set(t, z, z, sc, deg);
        fv_transform_out_size(t, &oh, &ow);
        size_t ni = (size_t)n * h * w * 3, no = (size_t)n * oh * ow * 3;
        float *x = xmalloc(sizeof(float) * ni), *r = xmalloc(sizeof(float) * no);
        res[run][0] = xmalloc(sizeof(float) * no);
        res[run][1] = xmalloc(sizeof(float) * ni);
        fill_uniform(x, ni, 5);
        fill_normal(r, no, 1.0, 6);
        float *zero = xcalloc(ni, sizeof(float)), *t0 = xmalloc(sizeof(float) * no);
        fv_transform_forward(t, zero, t0);
        fv_transform_forward(t, x, res[run][0]);
        fv_transform_backward(t, r, res[run][1]);
        double a = dot(res[run][0], r, no) - dot(t0, r, no), b = dot(x, res[run][1], ni);
        free(zero);
        free(t0);
        ck_assert_msg(fabs(a - b) <= 1e-5 * fabs(a), "<Tx, r> %.9g != <x, T'r> %.9g", a, b);
        if (run) {
            ck_assert(memcmp(res[0][0], res[1][0], sizeof(float) * no) == 0);
            ck_assert(memcmp(res[0][1], res[1][1], sizeof(float) * ni) == 0);
        }
        /* the portable sampling loop gives the bytes of the AVX-512 one (where the CPU has it) */
        float *yp = xmalloc(sizeof(float) * no);
        fv_transform_set_portable(1);
        fv_transform_forward(t, x, yp);
        fv_transform_set_portable(0);
        ck_assert_msg(memcmp(yp, res[run][0], sizeof(float) * no) == 0, "portable sampling differs");
        free(yp);
        /* and its backward, which sums each input pixel's terms in another order: to rounding */
        float *gp = xmalloc(sizeof(float) * ni);
        fv_transform_set_portable(1);
        fv_transform_backward(t, r, gp);
        fv_transform_set_portable(0);
        double gmax = 0, gdiff = 0;
        for (size_t i = 0; i < ni; i++) gmax = fmax(gmax, fabs(gp[i])), gdiff = fmax(gdiff, fabs(gp[i] - res[run][1][i]));
        ck_assert_msg(gmax > 0 && gdiff <= 1e-5 * gmax, "portable backward differs by %g (max %g)", gdiff, gmax);
        free(gp);
        free(x);
        free(r);
        fv_transform_free(t);
    }
    pool_set_threads(1);
    for (int run = 0; run < 2; run++) free(res[run][0]), free(res[run][1]);
}
END_TEST

START_TEST(transform_chain)
{
    fv_op ops[5] = {{.kind = FV_OP_PAD, .amount = 2},
                    {.kind = FV_OP_JITTER, .amount = 2},
                    {.kind = FV_OP_SCALE, .n_scales = 1, .scales = {1.05}},
                    {.kind = FV_OP_ROTATE, .deg_min = -5, .deg_max = 5},
                    {.kind = FV_OP_JITTER, .amount = 1}};
    int oy[5] = {0, 1, 0, 0, 1}, ox[5] = {0, 2, 0, 0, 0};
    double sc[5] = {1, 1, 1.05, 1, 1}, deg[5] = {0, 0, 0, -4.2, 0};
    transform_fd(ops, 5, oy, ox, sc, deg, "default-like chain");
    /* sizes: 9x8 +4 -2 -1 = 10x9 */
    fv_transform *t;
    err e = {{0}};
    int oh, ow;
    ck_assert_int_eq(fv_transform_new(ops, 5, 1, 9, 8, &t, &e), 0);
    fv_transform_out_size(t, &oh, &ow);
    ck_assert_int_eq(oh, 10);
    ck_assert_int_eq(ow, 9);
    fv_transform_free(t);
    /* a jitter larger than the image is refused */
    fv_op big = {.kind = FV_OP_JITTER, .amount = 9};
    ck_assert_int_eq(fv_transform_new(&big, 1, 1, 9, 8, &t, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "shrinks to nothing"));
}
END_TEST

/* The chain runs its constant pads, jitters, canvases and identities folded into the scale and
 * rotate ops' sampling (fv_transform.c, plan_segments): forward and backward must give the bytes
 * of the same ops applied one at a time, here with a jitter that crops into the image, a canvas,
 * an identity scale, and translations at the end. */
static void run_ops_one_by_one(const fv_op *ops, int n_ops, int n, int h, int w, const int *oy, const int *ox,
                               const double *sc, const double *deg, const float *x, const float *r, float *y,
                               float *g, int *oh_out, int *ow_out)
{
    float *cur = xmalloc(sizeof(float) * (size_t)n * h * w * 3);
    memcpy(cur, x, sizeof(float) * (size_t)n * h * w * 3);
    fv_transform *ts[8];
    int hs[9], ws[9];
    hs[0] = h, ws[0] = w;
    float *acts[9];
    acts[0] = cur;
    for (int i = 0; i < n_ops; i++) {
        err e = {{0}};
        ck_assert_int_eq(fv_transform_new(&ops[i], 1, n, hs[i], ws[i], &ts[i], &e), 0);
        fv_transform_set(ts[i], &oy[i], &ox[i], &sc[i], &deg[i]);
        fv_transform_out_size(ts[i], &hs[i + 1], &ws[i + 1]);
        acts[i + 1] = xmalloc(sizeof(float) * (size_t)n * hs[i + 1] * ws[i + 1] * 3);
        fv_transform_forward(ts[i], acts[i], acts[i + 1]);
    }
    size_t no = (size_t)n * hs[n_ops] * ws[n_ops] * 3;
    memcpy(y, acts[n_ops], sizeof(float) * no);
    float *gr = xmalloc(sizeof(float) * no);
    memcpy(gr, r, sizeof(float) * no);
    for (int i = n_ops - 1; i >= 0; i--) {
        float *gi = xmalloc(sizeof(float) * (size_t)n * hs[i] * ws[i] * 3);
        fv_transform_backward(ts[i], gr, gi);
        free(gr);
        gr = gi;
        fv_transform_free(ts[i]);
    }
    memcpy(g, gr, sizeof(float) * (size_t)n * h * w * 3);
    free(gr);
    for (int i = 0; i <= n_ops; i++) free(acts[i]);
    *oh_out = hs[n_ops], *ow_out = ws[n_ops];
}

START_TEST(transform_folding)
{
    fv_op ops[8] = {{.kind = FV_OP_PAD, .amount = 3},
                    {.kind = FV_OP_JITTER, .amount = 8},
                    {.kind = FV_OP_SCALE, .n_scales = 2, .scales = {1.0, 1.1}},
                    {.kind = FV_OP_CANVAS, .canvas_h = 20, .canvas_w = 17},
                    {.kind = FV_OP_ROTATE, .deg_min = -20, .deg_max = 20},
                    {.kind = FV_OP_JITTER, .amount = 3},
                    {.kind = FV_OP_SCALE, .n_scales = 1, .scales = {0.93}},
                    {.kind = FV_OP_PAD, .amount = 2}};
    int n = 2, h = 13, w = 11;
    double deg[8] = {0, 0, 0, 0, 13.5, 0, 0, 0};
    for (int idscale = 0; idscale < 2; idscale++) {
        /* the first jitter crops the padded image at the top left, then at the bottom right */
        int oy[8] = {0, idscale ? 0 : 7, 0, 0, 0, 2, 0, 0}, ox[8] = {0, idscale ? 8 : 1, 0, 0, 0, 3, 0, 0};
        double sc[8] = {1, 1, idscale ? 1.0 : 1.1, 1, 1, 1, 0.93, 1};
        fv_transform *t;
        err e = {{0}};
        int oh, ow, oh1, ow1;
        ck_assert_msg(fv_transform_new(ops, 8, n, h, w, &t, &e) == 0, "%s", e.msg);
        fv_transform_set(t, oy, ox, sc, deg);
        fv_transform_out_size(t, &oh, &ow);
        size_t ni = (size_t)n * h * w * 3, no = (size_t)n * oh * ow * 3;
        float *x = xmalloc(sizeof(float) * ni), *r = xmalloc(sizeof(float) * no);
        fill_uniform(x, ni, 21);
        fill_normal(r, no, 1.0, 22);
        float *y0 = xmalloc(sizeof(float) * no), *y1 = xmalloc(sizeof(float) * no);
        float *g0 = xmalloc(sizeof(float) * ni), *g1 = xmalloc(sizeof(float) * ni);
        fv_transform_forward(t, x, y0);
        fv_transform_backward(t, r, g0);
        run_ops_one_by_one(ops, 8, n, h, w, oy, ox, sc, deg, x, r, y1, g1, &oh1, &ow1);
        ck_assert_int_eq(oh, oh1);
        ck_assert_int_eq(ow, ow1);
        ck_assert_msg(memcmp(y0, y1, sizeof(float) * no) == 0, "folded chain: forward differs (identity scale %d)", idscale);
        ck_assert_msg(memcmp(g0, g1, sizeof(float) * ni) == 0, "folded chain: backward differs (identity scale %d)", idscale);
        free(x), free(r), free(y0), free(y1), free(g0), free(g1);
        fv_transform_free(t);
    }
}
END_TEST

START_TEST(transform_geometry)
{
    /* A 90-degree rotation of a square image moves pixels exactly; pad constant is grey. */
    fv_op rot = {.kind = FV_OP_ROTATE, .deg_min = 90, .deg_max = 90};
    fv_transform *t;
    err e = {{0}};
    ck_assert_int_eq(fv_transform_new(&rot, 1, 1, 4, 4, &t, &e), 0);
    rng_state rng;
    rng_seed(&rng, 1);
    fv_transform_sample(t, &rng);
    float in[48], out[48];
    for (int i = 0; i < 48; i++) in[i] = (float)i;
    fv_transform_forward(t, in, out);
    /* every output value is an input value (a permutation), up to rounding */
    for (int i = 0; i < 16; i++) {
        float v = out[i * 3];
        ck_assert_double_eq_tol(v - 3 * floorf(v / 3 + 0.5f), 0, 1e-3);
    }
    ck_assert_double_ne_tol(out[0], in[0], 1e-3);
    fv_transform_free(t);
    fv_op pad = {.kind = FV_OP_PAD, .amount = 1};
    ck_assert_int_eq(fv_transform_new(&pad, 1, 1, 4, 4, &t, &e), 0);
    float pout[6 * 6 * 3];
    fv_transform_forward(t, in, pout);
    ck_assert_float_eq(pout[0], 0.5f);
    ck_assert_float_eq(pout[(1 * 6 + 1) * 3], in[0]);
    fv_transform_free(t);
}
END_TEST

/* ---- objectives ------------------------------------------------------------------------------ */

enum { N = 3, H = 4, W = 5, C = 6 };

typedef struct obj_ctx {
    int kind;
    float *a;
    float wts[N];
    float dir[C];
} obj_ctx;

/* Evaluates objective kind on c->a; returns sum_n wts[n] f_n and adds the gradient to grad. */
static double obj_eval(obj_ctx *c, float *grad)
{
    double vals[N] = {0};
    int n = N, h = H, w = W;
    switch (c->kind) {
    case 0: fv_obj_neuron(c->a, n, h, w, C, 2, 3, 4, c->wts, vals, grad); break;
    case 1: fv_obj_channel(c->a, n, h, w, C, 5, c->wts, vals, grad); break;
    case 2: fv_obj_layer(c->a, n, h, w, C, c->wts, vals, grad); break;
    case 3: fv_obj_direction(c->a, n, h, w, C, c->dir, c->wts, vals, grad); break;
    case 4: return fv_obj_diversity(c->a, n, h, w, C, 0.7, grad);
    case 5: fv_obj_l1(c->a, n, h, w, c->wts, vals, grad); break;
    case 6: fv_obj_tv(c->a, n, h, w, c->wts, vals, grad); break;
    case 7: fv_obj_blur(c->a, n, h, w, c->wts, vals, grad); break;
    }
    double s = 0;
    for (int b = 0; b < N; b++) s += c->wts[b] * vals[b];
    return s;
}

static double obj_loss(void *vctx)
{
    obj_ctx *c = vctx;
    size_t m = (size_t)N * H * W * C;
    float *scratch = xcalloc(m, sizeof(float));
    double v = obj_eval(c, scratch);
    free(scratch);
    return c->kind == 4 ? 0.7 * v : v;
}

START_TEST(objectives_fd)
{
    static const char *names[] = {"neuron", "channel", "layer", "direction", "diversity", "l1", "tv", "blur"};
    size_t m = (size_t)N * H * W * C;
    for (int kind = 0; kind < 8; kind++) {
        obj_ctx c = {kind, xmalloc(sizeof(float) * m), {1.0f, -0.5f, 0.0f}, {0}};
        if (kind >= 5) fill_uniform(c.a, m, 11 + kind); /* an image in 0..1 (C = 6 reads as 2 images per element) */
        else fill_normal(c.a, m, 1.0, 11 + kind);
        fill_normal(c.dir, C, 1.0, 3);
        float *g = xcalloc(m, sizeof(float));
        obj_eval(&c, g);
        fd_check(obj_loss, &c, c.a, g, m, 1 << 30, kind >= 5 ? 1e-4 : 1e-3, 2e-4, 1e-2, names[kind]);
        /* an element with weight 0 gets no gradient (not meaningful for diversity) */
        if (kind != 4)
            for (size_t i = 2 * m / N; i < m; i++) ck_assert_float_eq(g[i], 0.0f);
        free(g);
        free(c.a);
    }
}
END_TEST

START_TEST(objective_values)
{
    /* Known values: channel mean, layer mean square, diversity of identical and of disjoint grams. */
    float a[2 * 2 * 1 * 2] = {1, 0, 3, 0, /* element 1: */ 0, 2, 0, 2};
    float wts[2] = {1, 1}, g[8] = {0};
    double vals[2];
    fv_obj_channel(a, 2, 2, 1, 2, 0, wts, vals, g);
    ck_assert_double_eq_tol(vals[0], 2.0, 1e-9);
    ck_assert_double_eq_tol(vals[1], 0.0, 1e-9);
    fv_obj_layer(a, 2, 2, 1, 2, wts, vals, g);
    ck_assert_double_eq_tol(vals[0], 10.0 / 4, 1e-9);
    memset(g, 0, sizeof g);
    ck_assert_double_eq_tol(fv_obj_diversity(a, 2, 2, 1, 2, 1.0, g), 0.0, 1e-6); /* orthogonal grams */
    float same[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    ck_assert_double_eq_tol(fv_obj_diversity(same, 2, 2, 1, 2, 1.0, g), -1.0, 1e-6);
}
END_TEST

/* The diversity term takes the batch's kernel matrix when the batch has fewer positions than
 * channels (late layers), its Gram matrices otherwise; objectives_fd covers the Grams (3 x 20
 * positions, 6 channels). Here the kernel's side: 3 x 2 positions, 9 channels, and a batch of 2
 * x 1 position on 4 channels for the known values. */
typedef struct div_ctx {
    float *a;
} div_ctx;

static double div_loss(void *vctx)
{
    div_ctx *c = vctx;
    float scratch[3 * 2 * 9];
    return 0.7 * fv_obj_diversity(c->a, 3, 1, 2, 9, 0.7, scratch);
}

START_TEST(diversity_kernel_side)
{
    float a[3 * 2 * 9], g[3 * 2 * 9] = {0};
    fill_normal(a, 3 * 2 * 9, 1.0, 17);
    div_ctx c = {a};
    fv_obj_diversity(a, 3, 1, 2, 9, 0.7, g);
    fd_check(div_loss, &c, a, g, 3 * 2 * 9, 1 << 30, 1e-3, 2e-4, 1e-2, "diversity (kernel side)");
    float orth[8] = {1, 0, 0, 2, /* element 1: */ 0, 3, 1, 0}, same[8] = {1, 2, 3, 4, 1, 2, 3, 4}, h[8] = {0};
    ck_assert_double_eq_tol(fv_obj_diversity(orth, 2, 1, 1, 4, 1.0, h), 0.0, 1e-6);
    ck_assert_double_eq_tol(fv_obj_diversity(same, 2, 1, 1, 4, 1.0, h), -1.0, 1e-6);
    /* a pair with Grams at a known cosine: F_0 = e0 + e1, F_1 = e0 give <G_0, G_1> = 1, |G_0| = 2 */
    float half[8] = {1, 1, 0, 0, 1, 0, 0, 0};
    ck_assert_double_eq_tol(fv_obj_diversity(half, 2, 1, 1, 4, 1.0, h), -0.5, 1e-6);
}
END_TEST

/* ---- optimization loop on a stand-in network --------------------------------------------------- */

/* Stand-in: J = mean over positions of tanh(<k, x[y,x,:]/255 - 0.5> + <k2, x[y,x+1,:]/255 - 0.5>),
 * a 1x2 "convolution" preferring a colour edge; smooth, bounded, with a structured optimum. */
static int standin(void *ctx, const float *x, int n, int h, int w, float *dx, double *value, err *e)
{
    (void)ctx;
    (void)e;
    static const float k[3] = {2, -1, 0.5f}, k2[3] = {-2, 1, 0.5f};
    memset(dx, 0, sizeof(float) * (size_t)n * h * w * 3);
    double s = 0, cnt = (double)n * h * (w - 1);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx + 1 < w; xx++) {
                const float *p = x + (((size_t)b * h + y) * w + xx) * 3;
                double z = 0;
                for (int ch = 0; ch < 3; ch++) z += k[ch] * (p[ch] / 255.0 - 0.5) + k2[ch] * (p[3 + ch] / 255.0 - 0.5);
                double t = tanh(z);
                s += t;
                double d = (1 - t * t) / cnt / 255.0;
                float *q = dx + (((size_t)b * h + y) * w + xx) * 3;
                for (int ch = 0; ch < 3; ch++) {
                    q[ch] += (float)(d * k[ch]);
                    q[3 + ch] += (float)(d * k2[ch]);
                }
            }
    *value = s / cnt;
    return 0;
}

static void run_standin(uint64_t seed, int steps, double *first, double *last, float *img)
{
    fv_op ops[5] = {{.kind = FV_OP_PAD, .amount = 4},
                    {.kind = FV_OP_JITTER, .amount = 4},
                    {.kind = FV_OP_SCALE, .n_scales = 3, .scales = {1, 0.95, 1.05}},
                    {.kind = FV_OP_ROTATE, .deg_min = -5, .deg_max = 5},
                    {.kind = FV_OP_JITTER, .amount = 2}};
    float l1w[2] = {0.01f, 0.01f};
    fv_img_obj io = {FV_IMG_L1, l1w};
    fv_opt_config cfg = {{FV_PARAM_FOURIER, 1, 2, 24, 24, 1, {4}, 0.01, 0}, ops, 5, &io, 1,
                         0.05, 0.9, 0.999, 1e-8, seed};
    fv_opt *o;
    err e = {{0}};
    ck_assert_msg(fv_opt_new(&cfg, &o, &e) == 0, "%s", e.msg);
    int th, tw;
    fv_opt_net_size(o, &th, &tw);
    ck_assert_int_eq(th, 24 + 8 - 4 - 2);
    for (int s = 0; s < steps; s++) {
        double v;
        ck_assert_int_eq(fv_opt_step(o, standin, NULL, &v, NULL, &e), 0);
        if (s == 0) *first = v;
        *last = v;
    }
    fv_opt_image(o, img);
    fv_opt_free(o);
}

START_TEST(opt_rises_and_is_deterministic)
{
    size_t ni = 2 * 24 * 24 * 3;
    float *a = xmalloc(sizeof(float) * ni), *b = xmalloc(sizeof(float) * ni);
    double f0, f1, g0, g1;
    run_standin(5, 60, &f0, &f1, a);
    ck_assert_double_lt(fabs(f0), 0.05); /* grey start */
    ck_assert_msg(f1 > 0.25, "objective rose only from %g to %g", f0, f1);
    run_standin(5, 60, &g0, &g1, b);
    ck_assert_msg(memcmp(a, b, sizeof(float) * ni) == 0, "same seed, different images");
    ck_assert_double_eq(f1, g1);
    run_standin(6, 60, &g0, &g1, b);
    ck_assert_msg(memcmp(a, b, sizeof(float) * ni) != 0, "different seeds, same image");
    free(a);
    free(b);
}
END_TEST


/* ---- recipes --------------------------------------------------------------------------------- */

#define MODEL "\"model\": {\"json\": \"m/centernet.json\", \"bin\": \"/abs/centernet.bin\"}"

START_TEST(recipe_defaults)
{
    fv_recipe *r;
    err e = {{0}};
    const char *text = "{" MODEL ", \"layer\": \"L\", \"objectives\": [{\"kind\": \"channel\", \"channel\": 3}]}";
    ck_assert_msg(fv_recipe_parse("dir/recipe.json", text, &r, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(r->model_json, "dir/m/centernet.json"); /* relative to the recipe */
    ck_assert_str_eq(r->model_bin, "/abs/centernet.bin");
    ck_assert_int_eq(r->size, 128);
    ck_assert_int_eq(r->steps, 512);
    ck_assert_int_eq(r->batch, 1);
    ck_assert_double_eq(r->lr, 0.05);
    ck_assert_int_eq(r->param_kind, FV_PARAM_FOURIER);
    ck_assert_int_eq(r->decorrelate, 1);
    ck_assert_int_eq(r->n_ops, 5);
    ck_assert_int_eq(r->ops[0].amount, 12);
    ck_assert_int_eq(r->ops[2].n_scales, 5);
    ck_assert_str_eq(r->objs[0].layer, "L");
    ck_assert_float_eq(r->objs[0].wts[0], 1.0f);
    char *j = fv_recipe_to_json(r);
    ck_assert_ptr_nonnull(strstr(j, "\"kind\":\"pad\""));
    ck_assert_ptr_nonnull(strstr(j, "\"steps\":512"));
    free(j);
    fv_recipe_free(r);
    /* batch targeting and per-element weights (an interpolation) */
    text = "{" MODEL ", \"batch\": 3, \"transforms\": \"robust\", \"snapshots\": [8, 0, 8, 4], \"steps\": 8,"
           " \"objectives\": [{\"kind\": \"channel\", \"layer\": \"A\", \"channel\": 1, \"weight\": [1, 0.5, 0]},"
           " {\"kind\": \"neuron\", \"layer\": \"B\", \"channel\": 2, \"batch\": [2]},"
           " {\"kind\": \"tv\", \"weight\": 0.1, \"batch\": 1}, {\"kind\": \"diversity\", \"layer\": \"B\"}]}";
    ck_assert_msg(fv_recipe_parse("r.json", text, &r, &e) == 0, "%s", e.msg);
    ck_assert_float_eq(r->objs[0].wts[1], 0.5f);
    ck_assert_float_eq(r->objs[1].wts[0], 0.0f);
    ck_assert_float_eq(r->objs[1].wts[2], 1.0f);
    ck_assert_int_eq(r->objs[1].x, -1);
    ck_assert_float_eq(r->objs[2].wts[0], 0.0f);
    ck_assert_float_eq(r->objs[2].wts[1], 0.1f);
    ck_assert_ptr_null(r->objs[2].layer);
    ck_assert_int_eq(r->ops[1].amount, 16);
    ck_assert_int_eq(r->n_snapshots, 3);
    ck_assert_int_eq(r->snapshots[0], 0);
    ck_assert_int_eq(r->snapshots[2], 8);
    fv_recipe_free(r);
}
END_TEST

START_TEST(recipe_bad)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"\"objectives\": [{\"kind\": \"channel\", \"layer\": \"L\", \"channel\": 1}]",
         "r.json: model: missing (expected {\"json\": ..., \"bin\": ...})"},
        {MODEL ", \"objectives\": [{\"kind\": \"channel\", \"layer\": \"L\", \"chanel\": 1}]",
         "r.json: objectives[0].chanel: unknown field"},
        {MODEL ", \"objectives\": [{\"kind\": \"channel\", \"layer\": \"L\"}]",
         "r.json: objectives[0].channel: missing (expected an integer)"},
        {MODEL ", \"objectives\": [{\"kind\": \"channel\", \"layer\": \"L\", \"channel\": \"3\"}]",
         "r.json: objectives[0].channel: not an integer"},
        {MODEL ", \"objectives\": [{\"kind\": \"channel\", \"channel\": 3}]",
         "r.json: objectives[0].layer: missing (and no top-level \"layer\")"},
        {MODEL ", \"objectives\": [{\"kind\": \"chanel\", \"layer\": \"L\"}]", "r.json: objectives[0].kind: unknown kind \"chanel\""},
        {MODEL ", \"size\": -4, \"objectives\": []", "r.json: size: -4 out of range (expected 8..2048)"},
        {MODEL ", \"objectives\": []", "r.json: objectives: empty or too long (expected"},
        {MODEL ", \"transforms\": \"strong\", \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\"}]",
         "r.json: transforms: unknown preset \"strong\""},
        {MODEL ", \"transforms\": [{\"kind\": \"pad\"}], \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\"}]",
         "r.json: transforms[0].amount: missing (expected an integer)"},
        {MODEL ", \"objectives\": [{\"kind\": \"l1\"}]", "r.json: objectives: none reads the network"},
        {MODEL ", \"objectives\": [{\"kind\": \"diversity\", \"layer\": \"L\"}]",
         "r.json: objectives[0]: diversity needs a batch of at least 2"},
        {MODEL ", \"batch\": 2, \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\", \"batch\": 2}]",
         "r.json: objectives[0].batch: index is not an element of the batch (expected 0..1)"},
        {MODEL ", \"batch\": 2, \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\", \"weight\": [1, 2, 3]}]",
         "r.json: objectives[0].weight: 3 weights for a batch of 2"},
        {MODEL ", \"steps\": 10, \"snapshots\": [11], \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\"}]",
         "r.json: snapshots[0]: not a step in 0..10"},
        {MODEL ", \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\", \"channel\": 2}]",
         "r.json: objectives[0].channel: not a field of a layer objective"},
        {MODEL ", \"objectives\": [{\"kind\": \"direction\", \"layer\": \"L\"}]",
         "r.json: objectives[0].vector: give exactly one of"},
        {MODEL ", \"param\": {\"kind\": \"wavelet\"}, \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\"}]",
         "r.json: param.kind: unknown (expected \"fourier\" or \"pixel\")"},
        {MODEL ", \"lr\": 0, \"objectives\": [{\"kind\": \"layer\", \"layer\": \"L\"}]", "r.json: lr: 0 out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = xasprintf("{%s}", cases[i].body);
        fv_recipe *r = NULL;
        err e = {{0}};
        ck_assert_int_eq(fv_recipe_parse("r.json", text, &r, &e), -1);
        ck_assert_ptr_null(r);
        ck_assert_msg(strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) == 0, "case %zu: got \"%s\", want \"%s\"", i,
                      e.msg, cases[i].msg);
        free(text);
    }
    fv_recipe *r;
    err e = {{0}};
    ck_assert_int_eq(fv_recipe_parse("r.json", "{\"model\": ", &r, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "r.json:1: invalid JSON"));
}
END_TEST

static Suite *fv_suite(void)
{
    Suite *s = suite_create("fv");
    TCase *tc = tcase_create("param");
    tcase_add_test(tc, param_pixel);
    tcase_add_test(tc, param_fourier);
    tcase_add_test(tc, param_shared);
    tcase_add_test(tc, param_grey);
    tcase_add_test(tc, param_fourier_properties);
    suite_add_tcase(s, tc);
    tc = tcase_create("transform");
    tcase_add_test(tc, transform_each);
    tcase_add_test(tc, transform_chain);
    tcase_add_test(tc, transform_blocks_and_threads);
    tcase_add_test(tc, transform_geometry);
    tcase_add_test(tc, transform_folding);
    suite_add_tcase(s, tc);
    tc = tcase_create("objective");
    tcase_add_test(tc, objectives_fd);
    tcase_add_test(tc, objective_values);
    tcase_add_test(tc, diversity_kernel_side);
    suite_add_tcase(s, tc);
    tc = tcase_create("opt");
    tcase_add_test(tc, opt_rises_and_is_deterministic);
    suite_add_tcase(s, tc);
    tc = tcase_create("recipe");
    tcase_add_test(tc, recipe_defaults);
    tcase_add_test(tc, recipe_bad);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return check_run(fv_suite()); }
