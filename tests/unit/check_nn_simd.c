/* Check suite for nn_simd (the AVX-512 kernels), through nn_ops' API: convolutions on packed
 * weights (float16 and float) against nn_conv_fwd/bwd, over the shapes that exercise every tile
 * height, column tail and panel; the same bytes for any thread count; and the depthwise kernels
 * byte for byte against the portable loops. On a CPU without AVX-512 (or under valgrind, whose
 * CPU has none) those are skipped; that nothing is packed off the AVX-512 path is checked on any. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn_ops.h"
#include "nn_simd.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
/* uniform in [-1, 1); half: a multiple of 1/1024, so exactly a float16 (the packed weights then
 * take the float16 path) */
static float *rand_buf(size_t n, int half)
{
    float *b = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        b[i] = half ? (float)((int)(rnd() % 2048) - 1024) / 1024.0f : (float)(rnd() / 2147483648.0 - 1.0);
    return b;
}

static nn_geom geom(int n, int h, int w, int cin, int cout, int k, int s)
{
    nn_geom g = {0};
    g.n = n, g.h = h, g.w = w, g.cin = cin, g.kh = g.kw = k, g.sh = g.sw = s, g.dh = g.dw = 1;
    ck_assert_int_eq(nn_geom_pad(&g, 1), 0);
    g.cout = cout;
    return g;
}

/* max |a - b| over n values */
static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* One geometry: forward (with and without bias, each activation) and input gradient (overwrite and
 * add) on packed weights against the sgemm path, to float rounding of a K-term sum of terms below
 * 1 in magnitude; then the packed forward and backward again on 2 threads, byte for byte. */
static void check_packed(int n, int h, int w, int cin, int cout, int k, int s, int half)
{
    nn_geom g = geom(n, h, w, cin, cout, k, s);
    int K = k * k * cin;
    size_t nx = (size_t)n * h * w * cin, ny = (size_t)n * g.oh * g.ow * cout, nw = (size_t)K * cout;
    float *x = rand_buf(nx, 0), *wt = rand_buf(nw, half), *bias = rand_buf(cout, 0), *dy = rand_buf(ny, 0);
    float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
    float *dx0 = malloc(sizeof(float) * nx), *dx1 = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
    float *col = malloc(sizeof(float) * (nn_conv_col_size(&g) + 1));
    nn_conv_pack *pk = nn_conv_pack_new(&g, wt);
    ck_assert_msg((pk != NULL) == nn_simd_available(), "a pack exactly where the kernels run");
    double tol = 4e-7 * (K + 8), tolb = 4e-7 * (cout * k * k + 8);
    char what[96];
    snprintf(what, sizeof what, "n%d %dx%d cin %d cout %d k%d s%d %s", n, h, w, cin, cout, k, s, half ? "f16" : "f32");
    for (int v = 0; pk && v < 4; v++) {
        const float *b = v & 1 ? bias : NULL;
        int act = v < 2 ? NN_ACT_NONE : v == 2 ? NN_ACT_RELU : NN_ACT_RELU6;
        nn_conv_fwd(&g, x, wt, b, act, y0, col);
        nn_conv_fwd_packed(&g, pk, x, b, act, NULL, y1, col, NULL);
        double d = max_diff(y0, y1, ny);
        ck_assert_msg(d <= tol, "%s: forward (bias %d, act %d) off by %.3g (tolerance %.3g)", what, v & 1, act, d, tol);
    }
    for (int add = 0; pk && add < 2; add++) {
        for (size_t i = 0; i < nx; i++) dx0[i] = dx1[i] = add ? 0.25f : 77.0f;
        nn_conv_bwd(&g, dy, wt, dx0, col, add);
        nn_conv_bwd_packed(&g, pk, dy, dx1, col, add);
        double d = max_diff(dx0, dx1, nx);
        ck_assert_msg(d <= tolb, "%s: input gradient (add %d) off by %.3g (tolerance %.3g)", what, add, d, tolb);
    }
    if (pk) {
        /* a residual and a hard swish fused into the forward: the bytes of the three ops */
        float *res = rand_buf(ny, 0), *hs0 = malloc(sizeof(float) * ny), *hs1 = malloc(sizeof(float) * ny);
        for (size_t i = 0; i < ny; i++) res[i] *= 4.0f;
        nn_hswish_out hs = {.out = hs1, .a = 3.0f, .c = 1.0f / 6.0f};
        nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_NONE, NULL, y0, col, NULL);
        for (size_t i = 0; i < ny; i++) y0[i] += res[i];
        nn_hswish_fwd(3.0f, 1.0f / 6.0f, y0, hs0, ny);
        nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_NONE, res, y1, col, &hs);
        ck_assert_msg(memcmp(y0, y1, sizeof(float) * ny) == 0, "%s: fused residual differs", what);
        ck_assert_msg(memcmp(hs0, hs1, sizeof(float) * ny) == 0, "%s: fused hard swish differs", what);
        if (pk && k > 1 && g.cin <= 4) { /* the direct path takes no residual: hard swish alone */
            nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_NONE, NULL, y0, col, NULL);
            nn_hswish_fwd(3.0f, 1.0f / 6.0f, y0, hs0, ny);
            nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_NONE, NULL, y1, col, &hs);
            ck_assert_msg(memcmp(hs0, hs1, sizeof(float) * ny) == 0, "%s: direct hard swish differs", what);
        }
        free(res), free(hs0), free(hs1);
        /* a Relu's signs written beside the output (nn_hswish_out's mask), through the products
         * and the direct path, on 1 and 2 threads (rows or column panels split between them): bit
         * c % 16 of word c / 16 of a pixel set exactly where y > 0 (and y < 6), none past cout */
        int mw = (cout + 15) / 16;
        size_t px = ny / (size_t)cout;
        uint16_t *mask = malloc(sizeof(uint16_t) * px * (size_t)mw);
        for (int v = 0; v < 4; v++) {
            int relu6 = v & 1;
            nn_hswish_out mo = {.mask = mask, .mask_w = mw, .mask_relu6 = relu6};
            memset(mask, 0xA5, sizeof(uint16_t) * px * (size_t)mw);
            nn_set_threads(v < 2 ? 1 : 2);
            nn_conv_fwd_packed(&g, pk, x, bias, relu6 ? NN_ACT_RELU6 : NN_ACT_RELU, NULL, y1, col, &mo);
            nn_set_threads(1);
            for (size_t p = 0; p < px; p++)
                for (int c = 0; c < 16 * mw; c++) {
                    float yv = c < cout ? y1[p * (size_t)cout + (size_t)c] : 0.0f;
                    int want = c < cout && yv > 0.0f && (!relu6 || yv < 6.0f);
                    int got = mask[p * (size_t)mw + (size_t)c / 16] >> (c % 16) & 1;
                    ck_assert_msg(got == want, "%s: relu%s mask of pixel %zu channel %d: %d, y %g", what, relu6 ? "6" : "",
                                  p, c, got, (double)yv);
                }
        }
        free(mask);
        /* the split across threads must not change a bit */
        nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_RELU6, NULL, y1, col, NULL);
        nn_conv_bwd_packed(&g, pk, dy, dx1, col, 0);
        nn_set_threads(2);
        nn_conv_fwd_packed(&g, pk, x, bias, NN_ACT_RELU6, NULL, y2, col, NULL);
        nn_conv_bwd_packed(&g, pk, dy, dx2, col, 0);
        nn_set_threads(1);
        ck_assert_msg(memcmp(y1, y2, sizeof(float) * ny) == 0, "%s: forward differs on 2 threads", what);
        ck_assert_msg(memcmp(dx1, dx2, sizeof(float) * nx) == 0, "%s: input gradient differs on 2 threads", what);
    }
    nn_conv_pack_free(pk);
    free(x), free(wt), free(bias), free(dy), free(y0), free(y1), free(y2), free(dx0), free(dx1), free(dx2), free(col);
}

/* What a test of the kernels says when it cannot run here. */
#define NO_AVX512 "the CPU lacks AVX-512 (F, VL, BW, DQ), or this is valgrind, which has none"

/* With the kernels switched off (as on a CPU without them), no convolution is packed. */
START_TEST(nothing_packed_without_simd)
{
    nn_geom g = geom(1, 5, 5, 16, 16, 3, 1);
    float *wt = rand_buf((size_t)3 * 3 * 16 * 16, 1);
    nn_ops_set_simd(0);
    ck_assert(!nn_simd_available());
    ck_assert_ptr_null(nn_conv_pack_new(&g, wt));
    nn_ops_set_simd(1);
    free(wt);
}
END_TEST

START_TEST(packed_convs)
{
    if (!nn_simd_available()) CHECK_SKIP(NO_AVX512);
    nn_set_threads(1);
    /* 1x1 (plain products): rows 1..9 and 25 (tile heights and the even split), columns across the
     * 16-lane and 32-column panel edges, depths 1 to 120 */
    int rows[][2] = {{1, 1}, {1, 3}, {2, 4}, {3, 3}, {5, 5}, {7, 9}, {16, 17}};
    int cols[] = {1, 15, 16, 17, 31, 32, 33, 70};
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 8; c++) {
            check_packed(1, rows[r][0], rows[r][1], 1 + (r * 37 + c * 11) % 120, cols[c], 1, 1, 1);
            check_packed(1, rows[r][0], rows[r][1], 1 + (r * 13 + c * 29) % 120, cols[c], 1, 1, 0);
        }
    /* a batch, and the shapes of the network's late layers */
    check_packed(3, 5, 5, 120, 720, 1, 1, 1);
    check_packed(1, 5, 5, 720, 120, 1, 1, 1);
    check_packed(1, 1, 1, 528, 136, 1, 1, 0);
    /* products of NN_SIMD_HALF_ROWS rows and more, whose weights stay float even when exact */
    check_packed(8, 5, 5, 120, 72, 1, 1, 1);
    check_packed(2, 9, 9, 88, 70, 1, 1, 0);
    /* im2col convolutions: the network's first layer (3x3 stride 2 on RGB), 1x1 stride 2, 5x5 */
    check_packed(1, 17, 16, 3, 16, 3, 2, 1);
    check_packed(2, 9, 8, 3, 16, 3, 2, 0);
    check_packed(1, 7, 6, 5, 9, 1, 2, 1);
    check_packed(1, 8, 7, 4, 33, 5, 1, 1);
    /* the direct forward (up to 4 input channels, up to 32 outputs): RGB to 16 and to 32, one
     * channel to 5, 5x5 stride 1 on 4 channels, rows of fewer than 8 and of 8 + 3 pixels */
    check_packed(2, 9, 22, 3, 16, 3, 2, 1);
    check_packed(1, 6, 7, 3, 32, 3, 2, 0);
    check_packed(1, 5, 11, 1, 5, 3, 1, 1);
    check_packed(1, 7, 6, 4, 20, 5, 1, 0);
}
END_TEST

/* Depthwise forward (bias, Relu6) and input gradient (overwrite, add) with the AVX-512 kernels and
 * with the portable loops: the same bytes. Channel counts cross every block (128, 32/64, 16,
 * masked tails); strides 1 and 2, 3x3 and 5x5. */
START_TEST(depthwise_same_bytes)
{
    if (!nn_simd_available()) CHECK_SKIP(NO_AVX512); /* else the portable loops against themselves */
    nn_set_threads(1);
    int cs[] = {1, 3, 8, 16, 24, 37, 72, 130, 200};
    for (int ci = 0; ci < 9; ci++)
        for (int k = 3; k <= 5; k += 2)
            for (int s = 1; s <= 2; s++) {
                int C = cs[ci];
                nn_geom g = geom(2, 7, 9, C, C, k, s);
                size_t nx = (size_t)2 * 7 * 9 * C, ny = (size_t)2 * g.oh * g.ow * C;
                float *x = rand_buf(nx, 0), *wt = rand_buf((size_t)k * k * C, 0), *bias = rand_buf(C, 0);
                float *dy = rand_buf(ny, 0);
                float *y[2], *dx[2][2];
                for (int p = 0; p < 2; p++) {
                    nn_ops_set_simd(p);
                    y[p] = malloc(sizeof(float) * ny);
                    nn_dwconv_fwd(&g, x, wt, bias, NN_ACT_RELU6, y[p]);
                    for (int add = 0; add < 2; add++) {
                        dx[p][add] = malloc(sizeof(float) * nx);
                        for (size_t i = 0; i < nx; i++) dx[p][add][i] = 0.5f;
                        nn_dwconv_bwd(&g, dy, wt, dx[p][add], add);
                    }
                }
                nn_ops_set_simd(1);
                ck_assert_msg(memcmp(y[0], y[1], sizeof(float) * ny) == 0, "dw %dx%d s%d C %d: forward bytes differ", k,
                              k, s, C);
                if (nn_simd_available()) { /* the fused hard swish of the forward */
                    float *h0 = malloc(sizeof(float) * ny), *h1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
                    nn_hswish_out hs = {.out = h1, .a = 3.0f, .c = 1.0f / 6.0f};
                    nn_dwconv_fwd_hs(&g, x, wt, bias, NN_ACT_NONE, y2, &hs);
                    nn_dwconv_fwd(&g, x, wt, bias, NN_ACT_NONE, y[0]);
                    nn_hswish_fwd(3.0f, 1.0f / 6.0f, y[0], h0, ny);
                    ck_assert(memcmp(y[0], y2, sizeof(float) * ny) == 0);
                    ck_assert_msg(memcmp(h0, h1, sizeof(float) * ny) == 0, "dw %dx%d s%d C %d: fused hard swish differs",
                                  k, k, s, C);
                    free(h0), free(h1), free(y2);
                }
                for (int add = 0; add < 2; add++)
                    ck_assert_msg(memcmp(dx[0][add], dx[1][add], sizeof(float) * nx) == 0,
                                  "dw %dx%d s%d C %d: input gradient (add %d) bytes differ", k, k, s, C, add);
                free(x), free(wt), free(bias), free(dy), free(y[0]), free(y[1]);
                for (int p = 0; p < 2; p++) free(dx[p][0]), free(dx[p][1]);
            }
}
END_TEST

/* Weights that are not all float16 values are kept as float; NaN weights do not force float. */
START_TEST(weight_storage)
{
    if (!nn_simd_available()) CHECK_SKIP(NO_AVX512);
    float w[6] = {0.5f, -0.25f, 1.0f / 1024, 3.0f, 65504.0f, 0.0f};
    nn_simd_mat m;
    ck_assert_int_eq(nn_simd_mat_init(&m, w, 2, 3, 0, 1), 0);
    ck_assert_ptr_nonnull(m.h);
    ck_assert_ptr_null(m.f);
    nn_simd_mat_free(&m);
    w[2] = 0.1f; /* not a float16 */
    ck_assert_int_eq(nn_simd_mat_init(&m, w, 2, 3, 1, 1), 0);
    ck_assert_ptr_null(m.h);
    ck_assert_ptr_nonnull(m.f);
    /* (2, 3) from the transpose of w as (3, 2), in a 32-column panel: element (r, c) is w[c * 2 + r]
     * at r * 32 + c */
    ck_assert_float_eq(m.f[0 * 32 + 0], w[0]);
    ck_assert_float_eq(m.f[0 * 32 + 1], w[2]);
    ck_assert_float_eq(m.f[1 * 32 + 2], w[5]);
    ck_assert_float_eq(m.f[1 * 32 + 0], w[1]);
    ck_assert_float_eq(m.f[0 * 32 + 3], 0.0f); /* padding */
    nn_simd_mat_free(&m);
    w[2] = 1.0f / 1024; /* float16 values again, but float asked for (a product of many rows) */
    ck_assert_int_eq(nn_simd_mat_init(&m, w, 2, 3, 0, 0), 0);
    ck_assert_int_eq(m.exact16, 1);
    ck_assert_ptr_null(m.h);
    ck_assert_ptr_nonnull(m.f);
    ck_assert_float_eq(m.f[0 * 32 + 2], w[2]);
    nn_simd_mat_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_simd");
    TCase *t = tcase_create("kernels");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, nothing_packed_without_simd);
    tcase_add_test(t, packed_convs);
    tcase_add_test(t, depthwise_same_bytes);
    tcase_add_test(t, weight_storage);
    suite_add_tcase(s, t);
    return check_run(s);
}
