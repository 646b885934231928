/* Check suite for the bf16x3 products, nn_amx (AMX tiles) and nn_bf16 (AVX512-BF16 vectors):
 * each product against the same product summed in double, over shapes around every tile, panel
 * and chunk edge of either, both storage orders of each operand, padded leading dimensions and
 * beta 0 / 1; and each detection against what /proc/cpuinfo says the CPU has. (The convolutions
 * on nn_bf16 go through nn_conv's im2col: check_nn's grad_conv_bf16 checks them.) */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_amx.h"
#include "nn_bf16.h"
#include "nn_train.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* 1 if /proc/cpuinfo's flags line lists every one of the flags. */
static int cpu_has(const char *const *flags)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            found = 1;
            for (; *flags; flags++) {
                char want[64];
                snprintf(want, sizeof want, " %s", *flags);
                char *at = strstr(line, want);
                size_t n = strlen(want);
                found = found && at && (at[n] == ' ' || at[n] == '\n' || at[n] == 0);
            }
            break;
        }
    fclose(f);
    return found;
}

static const char *const amx_flags[] = {"amx_tile", "amx_bf16", "avx512_bf16", "avx512bw", NULL};
static const char *const bf16_flags[] = {"avx512f", "avx512bw", "avx512vl", "avx512_bf16", NULL};
static int cpu_has_amx(void) { return cpu_has(amx_flags); }

/* 1 if the variable turns its path off (any value but empty and "0"). */
static int turned_off(const char *var)
{
    const char *env = getenv(var);
    return env && *env && strcmp(env, "0") != 0;
}
static int amx_turned_off(void) { return turned_off("FV_NO_AMX"); }

/* Why nn_amx_available() said no, for the skip line. */
static const char *no_amx_why(void)
{
    if (amx_turned_off()) return "FV_NO_AMX is set";
    if (!cpu_has_amx()) return "the CPU lacks AMX (amx_tile, amx_bf16, avx512_bf16, avx512bw in /proc/cpuinfo)";
    return "the kernel refused the AMX tile state";
}

/* The tests of the AMX kernels run only where nn_amx_available() says yes; whether it rightly
 * says no is detection_matches_the_cpu's concern. */
#define NEED_AMX()                                         \
    do {                                                   \
        if (!nn_amx_available()) CHECK_SKIP(no_amx_why()); \
    } while (0)

#define NEED_BF16()                                                                              \
    do {                                                                                         \
        if (!nn_bf16_available())                                                                \
            CHECK_SKIP(turned_off("FV_NO_BF16") ? "FV_NO_BF16 is set"                            \
                                                : "the CPU lacks avx512f, avx512bw, avx512vl or avx512_bf16"); \
    } while (0)

START_TEST(bf16_detection_matches_the_cpu)
{
    ck_assert_int_eq(nn_bf16_available(), !turned_off("FV_NO_BF16") && cpu_has(bf16_flags));
}
END_TEST

typedef void gemm_fn(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                     float beta, float *c, int ldc);

START_TEST(detection_matches_the_cpu)
{
    int off = amx_turned_off();
    /* A kernel may still refuse the tile state: then the fallback is right, but this machine's
     * kernel (6.x) allows it, so a refusal here is a bug in the detection. */
    ck_assert_int_eq(nn_amx_available(), !off && cpu_has_amx());
}
END_TEST

/* C = op(A) op(B) + beta C against double sums; the bound is 3e-5 of the sum of |a||b| (bf16x3
 * leaves out lo.lo and rounds lo: about 1e-5 of each product) plus float accumulation. */
static void check_shape(gemm_fn *gemm, int ta, int tb, int m, int n, int k, int pad, float beta)
{
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb, nc = (size_t)m * ldc;
    float *a = malloc(sizeof(float) * (na + 1)), *b = malloc(sizeof(float) * (nb + 1));
    float *c = malloc(sizeof(float) * (nc + 1)), *c0 = malloc(sizeof(float) * (nc + 1));
    for (size_t i = 0; i < na; i++) a[i] = frand();
    for (size_t i = 0; i < nb; i++) b[i] = frand() * 3.0f;
    for (size_t i = 0; i < nc; i++) c0[i] = c[i] = frand();
    gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    for (int r = 0; r < m; r++)
        for (int q = 0; q < ldc; q++) {
            float got = c[(size_t)r * ldc + q];
            if (q >= n) { /* past the columns: untouched */
                ck_assert_msg(got == c0[(size_t)r * ldc + q], "%dx%dx%d: padding column %d changed", m, n, k, q);
                continue;
            }
            double s = beta != 0.0f ? c0[(size_t)r * ldc + q] : 0.0, mag = fabs(s);
            for (int t = 0; t < k; t++) {
                double x = ta ? a[(size_t)t * lda + r] : a[(size_t)r * lda + t];
                double y = tb ? b[(size_t)q * ldb + t] : b[(size_t)t * ldb + q];
                s += x * y;
                mag += fabs(x * y);
            }
            double tol = 3e-5 * mag + 1e-30;
            ck_assert_msg(fabs(got - s) <= tol, "ta %d tb %d %dx%dx%d pad %d beta %g: C[%d][%d] = %.9g, want %.9g",
                          ta, tb, m, n, k, pad, (double)beta, r, q, (double)got, s);
        }
    free(a), free(b), free(c), free(c0);
}

/* Every shape around either kernel's edges. nn_amx: the 16-row / 16-column tiles, the 32-row
 * panels and column pairs, the 32-wide k blocks and the 512-wide k chunks; nn_bf16: the 12-row
 * panels, the 16-column vectors and 32-column panels, odd k (a half pair) and the 256-wide k
 * chunks. */
static void all_shapes(gemm_fn *gemm)
{
    static const int ms[] = {1, 11, 12, 13, 16, 17, 33, 70};
    static const int ns[] = {1, 16, 17, 31, 32, 33, 64};
    static const int ks[] = {1, 2, 31, 32, 33, 100, 257, 513, 1100};
    int count = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
                for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                    for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++, count++) {
                        /* padding and beta vary with the case number, so every pair occurs */
                        check_shape(gemm, ta, tb, ms[i], ns[j], ks[l], count % 3 == 0 ? 5 : 0,
                                    count % 2 ? 1.0f : 0.0f);
                    }
}

START_TEST(matches_double_sums)
{
    NEED_AMX();
    all_shapes(nn_amx_gemm);
}
END_TEST

START_TEST(bf16_matches_double_sums)
{
    NEED_BF16();
    all_shapes(nn_bf16_gemm);
}
END_TEST

START_TEST(weight_gradient_shape)
{
    NEED_AMX();
    /* A^T B with the tall A (the transposed route: C^T = B^T A, then transposed back) */
    check_shape(nn_amx_gemm, 1, 0, 288, 32, 1568, 0, 0.0f);
    check_shape(nn_amx_gemm, 1, 0, 90, 17, 700, 3, 1.0f);
}
END_TEST

START_TEST(bf16_training_shapes)
{
    NEED_BF16();
    /* fmnist's conv2 on a chunk of 2 images: forward, input gradient (B = W stored transposed),
     * weight gradient (A = im2col stored transposed) */
    check_shape(nn_bf16_gemm, 0, 0, 1568, 32, 288, 0, 0.0f);
    check_shape(nn_bf16_gemm, 0, 1, 1568, 288, 32, 0, 0.0f);
    check_shape(nn_bf16_gemm, 1, 0, 288, 32, 1568, 0, 1.0f);
}
END_TEST

static void same_bytes(gemm_fn *gemm)
{
    int m = 100, n = 40, k = 600;
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
    float *c1 = malloc(sizeof(float) * (size_t)m * n), *c2 = malloc(sizeof(float) * (size_t)m * n);
    for (int i = 0; i < m * k; i++) a[i] = frand();
    for (int i = 0; i < k * n; i++) b[i] = frand();
    gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c1, n);
    /* a call on other sizes in between leaves other contents in the per-thread scratch */
    gemm(0, 1, 17, 33, 99, a, 99, b, 99, 0.0f, c2, 33);
    gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c2, n);
    ck_assert(memcmp(c1, c2, sizeof(float) * (size_t)m * n) == 0);
    free(a), free(b), free(c1), free(c2);
}

START_TEST(same_bytes_every_call)
{
    NEED_AMX();
    same_bytes(nn_amx_gemm);
}
END_TEST

START_TEST(bf16_same_bytes_every_call)
{
    NEED_BF16();
    same_bytes(nn_bf16_gemm);
}
END_TEST

/* --- convolutions without im2col, against their definition in double --- */

static void geom(nn_geom *g, int n, int h, int w, int cin, int cout, int k, int s, int d, int same)
{
    memset(g, 0, sizeof *g);
    g->n = n, g->h = h, g->w = w, g->cin = cin, g->kh = g->kw = k, g->sh = g->sw = s, g->dh = g->dw = d;
    ck_assert_int_eq(nn_geom_pad(g, same), 0);
    g->cout = cout;
}

/* x at output position (n, oy, ox), tap (ky, kx), channel c, or 0 in the padding */
static double tapval(const nn_geom *g, const float *x, int n, int oy, int ox, int ky, int kx, int c)
{
    int iy = oy * g->sh - g->pt + ky * g->dh, ix = ox * g->sw - g->pl + kx * g->dw;
    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) return 0;
    return x[(((size_t)n * g->h + iy) * g->w + ix) * g->cin + c];
}

static float *rnd(size_t n)
{
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}

static void near(double got, double want, double mag, const char *what, size_t i)
{
    ck_assert_msg(fabs(got - want) <= 3e-5 * mag + 1e-30, "%s[%zu] = %.9g, want %.9g", what, i, got, want);
}

/* y (M, cout) against y0 (or zeros: NULL) + the convolution of x with w, summed in double. */
static void want_forward(const nn_geom *g, const float *x, const float *w, const float *y0, const float *y)
{
    const int M = g->n * g->oh * g->ow;
    for (int m = 0; m < M; m++) {
        int n = m / (g->oh * g->ow), oy = m / g->ow % g->oh, ox = m % g->ow;
        for (int o = 0; o < g->cout; o++) {
            double s = y0 ? y0[(size_t)m * g->cout + o] : 0.0, mag = fabs(s);
            for (int ky = 0; ky < g->kh; ky++)
                for (int kx = 0; kx < g->kw; kx++)
                    for (int c = 0; c < g->cin; c++) {
                        double t = tapval(g, x, n, oy, ox, ky, kx, c) * w[((size_t)(ky * g->kw + kx) * g->cin + c) * g->cout + o];
                        s += t, mag += fabs(t);
                    }
            near(y[(size_t)m * g->cout + o], s, mag, "conv forward", (size_t)m * g->cout + o);
        }
    }
}

/* dw (kh, kw, cin, cout) against im2col(x)^T dy summed in double. */
static void want_wgrad(const nn_geom *g, const float *x, const float *dy, const float *dw)
{
    const int M = g->n * g->oh * g->ow;
    for (int ky = 0; ky < g->kh; ky++)
        for (int kx = 0; kx < g->kw; kx++)
            for (int c = 0; c < g->cin; c++)
                for (int o = 0; o < g->cout; o++) {
                    double s = 0, mag = 0;
                    for (int m = 0; m < M; m++) {
                        int n = m / (g->oh * g->ow), oy = m / g->ow % g->oh, ox = m % g->ow;
                        double t = tapval(g, x, n, oy, ox, ky, kx, c) * dy[(size_t)m * g->cout + o];
                        s += t, mag += fabs(t);
                    }
                    size_t i = ((size_t)(ky * g->kw + kx) * g->cin + c) * g->cout + o;
                    near(dw[i], s, mag, "weight gradient", i);
                }
}

/* dx (n, h, w, cin) against the sum, in double, over the outputs that read each input (any
 * stride and dilation). */
static void want_dgrad(const nn_geom *g, const float *dy, const float *w, const float *dx)
{
    const int M = g->n * g->oh * g->ow, X = g->n * g->h * g->w;
    double *ref = calloc((size_t)X * g->cin, sizeof(double)), *mag = calloc((size_t)X * g->cin, sizeof(double));
    for (int m = 0; m < M; m++) {
        int n = m / (g->oh * g->ow), oy = m / g->ow % g->oh, ox = m % g->ow;
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++) {
                int iy = oy * g->sh - g->pt + ky * g->dh, ix = ox * g->sw - g->pl + kx * g->dw;
                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                size_t p = ((size_t)n * g->h + iy) * g->w + ix;
                for (int c = 0; c < g->cin; c++)
                    for (int o = 0; o < g->cout; o++) {
                        double t = (double)dy[(size_t)m * g->cout + o] * w[((size_t)(ky * g->kw + kx) * g->cin + c) * g->cout + o];
                        ref[p * g->cin + c] += t, mag[p * g->cin + c] += fabs(t);
                    }
            }
    }
    for (size_t i = 0; i < (size_t)X * g->cin; i++) near(dx[i], ref[i], mag[i], "input gradient", i);
    free(ref), free(mag);
}

static void check_conv(const nn_geom *g)
{
    const int K = g->kh * g->kw * g->cin, M = g->n * g->oh * g->ow, X = g->n * g->h * g->w;
    float *x = rnd((size_t)X * g->cin), *w = rnd((size_t)K * g->cout), *dy = rnd((size_t)M * g->cout);
    float *y = rnd((size_t)M * g->cout), *y0 = malloc(sizeof(float) * (size_t)M * g->cout);
    memcpy(y0, y, sizeof(float) * (size_t)M * g->cout);
    /* forward in two row blocks, beta 1 (adds to what y held); split at a row of the output (where
     * the A tiles may be read in place) and, again, one position later (where they are packed):
     * the same numbers either way */
    int mid = M / 3 / g->ow * g->ow, odd = mid + 1;
    ck_assert(nn_amx_conv_implicit(g));
    const nn_amx_conv *cv = nn_amx_conv_prepare(g, x);
    float *y2 = malloc(sizeof(float) * (size_t)M * g->cout);
    memcpy(y2, y, sizeof(float) * (size_t)M * g->cout);
    nn_amx_conv_rows(cv, 0, mid, w, g->cout, g->cout, 1.0f, y, g->cout, NULL, 0);
    nn_amx_conv_rows(cv, mid, M, w, g->cout, g->cout, 1.0f, y + (size_t)mid * g->cout, g->cout, NULL, 0);
    nn_amx_conv_rows(cv, 0, odd, w, g->cout, g->cout, 1.0f, y2, g->cout, NULL, 0);
    nn_amx_conv_rows(cv, odd, M, w, g->cout, g->cout, 1.0f, y2 + (size_t)odd * g->cout, g->cout, NULL, 0);
    ck_assert_msg(memcmp(y, y2, sizeof(float) * (size_t)M * g->cout) == 0, "in place and packed A tiles differ");
    /* with a bias and ReLU6, beta 0: the same both ways, and relu6(bias + the sums above - y0) */
    float *bias = rnd((size_t)g->cout), *y3 = malloc(sizeof(float) * (size_t)M * g->cout);
    for (int o = 0; o < g->cout; o++) bias[o] *= 4.0f; /* some sums past 6 and below 0 */
    nn_amx_conv_rows(cv, 0, mid, w, g->cout, g->cout, 0.0f, y2, g->cout, bias, 2);
    nn_amx_conv_rows(cv, mid, M, w, g->cout, g->cout, 0.0f, y2 + (size_t)mid * g->cout, g->cout, bias, 2);
    nn_amx_conv_rows(cv, 0, odd, w, g->cout, g->cout, 0.0f, y3, g->cout, bias, 2);
    nn_amx_conv_rows(cv, odd, M, w, g->cout, g->cout, 0.0f, y3 + (size_t)odd * g->cout, g->cout, bias, 2);
    ck_assert_msg(memcmp(y2, y3, sizeof(float) * (size_t)M * g->cout) == 0, "bias and ReLU6: in place and packed differ");
    for (size_t i = 0; i < (size_t)M * g->cout; i++) {
        double want = (double)y[i] - y0[i] + bias[i % (size_t)g->cout];
        want = want < 0 ? 0 : want > 6 ? 6 : want;
        ck_assert_msg(fabs(y2[i] - want) <= 1e-4 * (1 + fabs(want)), "bias and ReLU6: [%zu] = %g, want %g", i,
                      (double)y2[i], want);
    }
    free(y2), free(y3), free(bias);
    want_forward(g, x, w, y0, y);
    /* weight gradient, beta 0 */
    float *dw = malloc(sizeof(float) * (size_t)K * g->cout);
    nn_amx_conv_wgrad(g, x, dy, 0.0f, dw);
    want_wgrad(g, x, dy, dw);
    /* input gradient (stride 1 only), beta 0: dx[x pos, c] = sum over the outputs that read it */
    if (nn_amx_conv_bwd_implicit(g)) {
        float *dx = malloc(sizeof(float) * (size_t)X * g->cin);
        cv = nn_amx_conv_bwd_prepare(g, dy, w);
        nn_amx_conv_rows(cv, 0, X / 2, NULL, 0, 0, 0.0f, dx, g->cin, NULL, 0);
        nn_amx_conv_rows(cv, X / 2, X, NULL, 0, 0, 0.0f, dx + (size_t)(X / 2) * g->cin, g->cin, NULL, 0);
        want_dgrad(g, dy, w, dx);
        free(dx);
    }
    free(x), free(w), free(dy), free(y), free(y0), free(dw);
}

/* The geometries check_conv runs: n, h, w, cin, cout, k, stride, dilation, same (geom's order). */
static const int conv_cases[][9] = {
    {2, 9, 7, 16, 32, 3, 1, 1, 1},  /* SAME 3x3, as fmnist-cnn */
    {1, 6, 11, 32, 16, 5, 1, 1, 1}, /* SAME 5x5: padding 2 */
    {2, 5, 6, 16, 16, 3, 1, 1, 0},  /* VALID: the transposed padding (2) is not the forward's */
    {1, 4, 5, 16, 20, 3, 1, 1, 1},  /* cout 20: no input gradient this way */
    {1, 11, 9, 16, 8, 3, 2, 2, 1},  /* strided and dilated: forward and weights only */
    /* A tiles read in place (cin a multiple of 32, stride 1): rows of 28 as 2 x 14, of 14, of 9 */
    {2, 3, 28, 32, 16, 3, 1, 1, 1},
    {3, 5, 14, 64, 32, 3, 1, 1, 1},
    {1, 4, 9, 32, 48, 3, 1, 1, 0},
    /* weight gradients with B tiles read in place (stride 1, even output width): cout 48 (a
     * half-empty pair of row tiles), a 5x5 kernel, cin 16 (column tiles two taps apart), and
     * images in groups of two (3 images of 12 x 28 x 64) */
    {2, 5, 6, 16, 48, 3, 1, 1, 1},
    {1, 6, 10, 16, 16, 5, 1, 1, 1},
    {3, 12, 28, 64, 48, 3, 1, 1, 1},
};

static void geom_of(nn_geom *g, const int c[9]) { geom(g, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]); }

/* The convolutions on nn_bf16 (nn_ops_set_gemm(NN_GEMM_BF16): im2col, then the bf16x3 product)
 * through nn_conv's public kernels: forward, input gradient and weight gradient against double
 * sums, on the geometries above and on odd ones (3 and 5 channels, cout 10 and 33: partial
 * panels and vectors everywhere; a stride of 2). */
static void check_conv_bf16(const nn_geom *g)
{
    const int K = g->kh * g->kw * g->cin, M = g->n * g->oh * g->ow, X = g->n * g->h * g->w;
    float *x = rnd((size_t)X * g->cin), *w = rnd((size_t)K * g->cout), *dy = rnd((size_t)M * g->cout);
    float *y = malloc(sizeof(float) * (size_t)M * g->cout), *dw = malloc(sizeof(float) * (size_t)K * g->cout);
    float *dx = malloc(sizeof(float) * (size_t)X * g->cin), *col = malloc(sizeof(float) * (nn_conv_col_size(g) + 1));
    nn_conv_fwd(g, x, w, NULL, NN_ACT_NONE, y, col);
    want_forward(g, x, w, NULL, y);
    nn_conv_bwd_w(g, x, col, dy, dw, NULL, 0);
    want_wgrad(g, x, dy, dw);
    nn_conv_bwd(g, dy, w, dx, col, 0);
    want_dgrad(g, dy, w, dx);
    free(x), free(w), free(dy), free(y), free(dw), free(dx), free(col);
}

START_TEST(bf16_convolutions)
{
    NEED_BF16();
    ck_assert_int_eq(nn_ops_set_gemm(NN_GEMM_BF16), 0);
    static const int odd[][9] = {{2, 7, 5, 3, 10, 3, 1, 1, 1}, {1, 9, 8, 5, 33, 3, 2, 1, 0}, {3, 28, 28, 1, 32, 3, 1, 1, 1}};
    nn_geom g;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
        geom_of(&g, conv_cases[i]);
        check_conv_bf16(&g);
    }
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        geom_of(&g, odd[i]);
        check_conv_bf16(&g);
    }
    nn_ops_set_gemm(NN_GEMM_SGEMM);
}
END_TEST

START_TEST(convolutions_without_im2col)
{
    NEED_AMX();
    nn_geom g;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++) {
        geom_of(&g, conv_cases[i]);
        check_conv(&g);
    }
    /* what the implicit routes refuse */
    geom(&g, 1, 8, 8, 8, 16, 3, 1, 1, 1);
    ck_assert(!nn_amx_conv_implicit(&g));
    geom(&g, 1, 8, 8, 16, 16, 1, 1, 1, 1);
    ck_assert(!nn_amx_conv_implicit(&g) && !nn_amx_conv_bwd_implicit(&g));
    geom(&g, 1, 8, 8, 16, 16, 3, 2, 1, 1);
    ck_assert(nn_amx_conv_implicit(&g) && !nn_amx_conv_bwd_implicit(&g));
}
END_TEST

/* A convolution of one input channel (nn_amx_conv1_*) against double sums: forward with a bias
 * and each activation, over two calls of image ranges; weight gradient with beta 0 and 1. */
static void check_conv1(const nn_geom *g)
{
    const int T = g->kh * g->kw, M = g->n * g->oh * g->ow, CO = g->cout;
    ck_assert(nn_amx_conv1_ok(g));
    float *x = rnd((size_t)g->n * g->h * g->w), *w = rnd((size_t)T * CO), *bias = rnd((size_t)CO);
    float *dy = rnd((size_t)M * CO), *y = malloc(sizeof(float) * (size_t)M * CO), *dw = rnd((size_t)T * CO);
    float *dw0 = malloc(sizeof(float) * (size_t)T * CO);
    memcpy(dw0, dw, sizeof(float) * (size_t)T * CO);
    for (int o = 0; o < CO; o++) bias[o] *= 3.0f; /* sums past 6 and below 0 */
    for (int act = 0; act <= 2; act++) {
        nn_amx_conv1_fwd(g, 0, 1, x, w, act ? bias : NULL, act, y);
        nn_amx_conv1_fwd(g, 1, g->n, x, w, act ? bias : NULL, act, y);
        for (int m = 0; m < M; m++) {
            int n = m / (g->oh * g->ow), oy = m / g->ow % g->oh, ox = m % g->ow;
            for (int o = 0; o < CO; o++) {
                double s = act ? bias[o] : 0, mag = fabs(s);
                for (int t = 0; t < T; t++) {
                    double v = tapval(g, x, n, oy, ox, t / g->kw, t % g->kw, 0) * w[(size_t)t * CO + o];
                    s += v, mag += fabs(v);
                }
                s = act && s < 0 ? 0 : act == 2 && s > 6 ? 6 : s;
                ck_assert_msg(fabs(y[(size_t)m * CO + o] - s) <= 1e-6 * (mag + 1), "conv1 act %d [%d, %d] = %g, want %g",
                              act, m, o, (double)y[(size_t)m * CO + o], s);
            }
        }
    }
    for (int beta = 0; beta <= 1; beta++) {
        if (beta) memcpy(dw, dw0, sizeof(float) * (size_t)T * CO);
        nn_amx_conv1_wgrad(g, x, dy, (float)beta, dw);
        for (int t = 0; t < T; t++)
            for (int o = 0; o < CO; o++) {
                double s = beta ? dw0[(size_t)t * CO + o] : 0, mag = fabs(s);
                for (int m = 0; m < M; m++) {
                    int n = m / (g->oh * g->ow), oy = m / g->ow % g->oh, ox = m % g->ow;
                    double v = tapval(g, x, n, oy, ox, t / g->kw, t % g->kw, 0) * dy[(size_t)m * CO + o];
                    s += v, mag += fabs(v);
                }
                ck_assert_msg(fabs(dw[(size_t)t * CO + o] - s) <= 1e-5 * (mag + 1), "conv1 dW beta %d [%d, %d] = %g, want %g",
                              beta, t, o, (double)dw[(size_t)t * CO + o], s);
            }
    }
    free(x), free(w), free(bias), free(dy), free(y), free(dw), free(dw0);
}

/* The geometries check_conv1 runs (as conv_cases). */
static const int conv1_cases[][9] = {
    {3, 28, 28, 1, 32, 3, 1, 1, 1}, /* fmnist-cnn's conv1 */
    {2, 7, 9, 1, 48, 3, 1, 1, 0},   /* VALID; 48 channels: a last block of 16 */
    {2, 6, 5, 1, 16, 2, 1, 1, 1},   /* 2x2 SAME: padding after only; width not a multiple of 4 */
};

START_TEST(convolutions_of_one_channel)
{
    if (!nn_amx_available() && !nn_bf16_available()) CHECK_SKIP("neither bf16x3 path is offered here (the CPU lacks them, or FV_NO_AMX and FV_NO_BF16 are set)");
    nn_geom g;
    for (size_t i = 0; i < sizeof conv1_cases / sizeof conv1_cases[0]; i++) {
        geom_of(&g, conv1_cases[i]);
        check_conv1(&g);
    }
    geom(&g, 1, 8, 8, 1, 16, 3, 2, 1, 1);
    ck_assert(!nn_amx_conv1_ok(&g)); /* strided */
    geom(&g, 1, 8, 8, 2, 16, 3, 1, 1, 1);
    ck_assert(!nn_amx_conv1_ok(&g)); /* two channels */
    geom(&g, 1, 8, 8, 1, 24, 3, 1, 1, 1);
    ck_assert(!nn_amx_conv1_ok(&g)); /* cout 24 */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_amx");
    TCase *t = tcase_create("gemm");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, detection_matches_the_cpu);
    tcase_add_test(t, matches_double_sums);
    tcase_add_test(t, weight_gradient_shape);
    tcase_add_test(t, same_bytes_every_call);
    tcase_add_test(t, convolutions_without_im2col);
    tcase_add_test(t, convolutions_of_one_channel);
    tcase_add_test(t, bf16_detection_matches_the_cpu);
    tcase_add_test(t, bf16_matches_double_sums);
    tcase_add_test(t, bf16_training_shapes);
    tcase_add_test(t, bf16_same_bytes_every_call);
    tcase_add_test(t, bf16_convolutions);
    suite_add_tcase(s, t);
    return check_run(s);
}
