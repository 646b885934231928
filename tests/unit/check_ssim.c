/* Check suite for the ssim module: values against scikit-image's structural_similarity on the
 * committed fixtures (tests/fixtures/sprite/make_ssim_fixtures.py made them and printed the
 * reference numbers with gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
 * data_range=255, channel_axis=-1), and the properties the encoder relies on. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "png_io.h"
#include "pool.h"
#include "ssim.h"

#define FIX "tests/fixtures/sprite/"

static double ssim_files(const char *fa, const char *fb, int channels)
{
    png_io_image a, b;
    err e = {{0}};
    ck_assert_msg(png_io_read(fa, channels, &a, &e) == 0, "%s", e.msg);
    ck_assert_msg(png_io_read(fb, channels, &b, &e) == 0, "%s", e.msg);
    double s = -2;
    ck_assert_msg(ssim_compute(a.pixels, b.pixels, a.width, a.height, channels, 1, &s, &e) == 0, "%s", e.msg);
    png_io_image_free(&a);
    png_io_image_free(&b);
    return s;
}

START_TEST(matches_skimage)
{
    ck_assert_double_eq_tol(ssim_files(FIX "ssim_a.png", FIX "ssim_b.png", 3), 0.8656789389142175, 1e-4);
    ck_assert_double_eq_tol(ssim_files(FIX "ssim_a.png", FIX "ssim_c.png", 3), 0.9592814971332851, 1e-4);
    /* grey PNGs are read as RGB: three equal channels give the single-channel value */
    ck_assert_double_eq_tol(ssim_files(FIX "ssim_grey_a.png", FIX "ssim_grey_b.png", 3), 0.6409226993906731, 1e-4);
    /* RGBA: RGB over white plus alpha, four channels */
    ck_assert_double_eq_tol(ssim_files(FIX "ssim_rgba_a.png", FIX "ssim_rgba_b.png", 4), 0.7420827409410751, 1e-4);
    ck_assert_double_eq_tol(ssim_files(FIX "ssim_a.png", FIX "ssim_a.png", 3), 1.0, 1e-6);
}
END_TEST

typedef struct nested_job {
    const uint8_t *a, *b;
    int w, h;
    double got[3];
} nested_job;

static void nested_ssim(void *ctx, int lo, int hi)
{
    nested_job *j = ctx;
    err e = {{0}};
    for (int k = lo; k < hi; k++) ck_assert_int_eq(ssim_compute(j->a, j->b, j->w, j->h, 3, 0, &j->got[k], &e), 0);
}

START_TEST(threads_do_not_change_the_value)
{
    int w = 301, h = 517;
    uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        s = s * 1664525u + 1013904223u;
        a[i] = (uint8_t)(i / 3 % 251);
        b[i] = (uint8_t)(a[i] + (s >> 28));
    }
    double one, two, three;
    err e = {{0}};
    ck_assert_int_eq(ssim_compute(a, b, w, h, 3, 1, &one, &e), 0);
    pool_set_threads(2);
    ck_assert_int_eq(ssim_compute(a, b, w, h, 3, 0, &two, &e), 0);
    pool_set_threads(3);
    ck_assert_int_eq(ssim_compute(a, b, w, h, 3, 0, &three, &e), 0);
    ck_assert(one == two && two == three);
    ck_assert(one < 1.0 && one > 0.5);
    /* from inside a pool loop (fv-sprite's sheets), where its tiles run inline */
    nested_job nj = {a, b, w, h, {0}};
    pool_for_chunks(3, 1, nested_ssim, &nj);
    for (int k = 0; k < 3; k++) ck_assert(nj.got[k] == one);
    pool_set_threads(1);
    free(a);
    free(b);
}
END_TEST

/* The definition in ssim.h computed directly, in double, one window at a time. */
static double ssim_direct(const uint8_t *a, const uint8_t *b, int w, int h, int ch)
{
    double g[11], gs = 0, C1 = 2.55 * 2.55, C2 = 7.65 * 7.65, sum = 0;
    for (int k = 0; k < 11; k++) gs += g[k] = exp(-(double)((k - 5) * (k - 5)) / (2 * 1.5 * 1.5));
    for (int c = 0; c < ch; c++)
        for (int y = 5; y < h - 5; y++)
            for (int x = 5; x < w - 5; x++) {
                double ma = 0, mb = 0, aa = 0, bb = 0, ab = 0;
                for (int dy = -5; dy <= 5; dy++)
                    for (int dx = -5; dx <= 5; dx++) {
                        double wt = g[dy + 5] * g[dx + 5] / (gs * gs);
                        size_t i = ((size_t)(y + dy) * w + (x + dx)) * ch + c;
                        ma += wt * a[i], mb += wt * b[i], aa += wt * a[i] * a[i], bb += wt * b[i] * b[i];
                        ab += wt * a[i] * b[i];
                    }
                double va = aa - ma * ma, vb = bb - mb * mb, cov = ab - ma * mb;
                sum += (2 * ma * mb + C1) * (2 * cov + C2) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            }
    return sum / ((double)(w - 10) * (h - 10) * ch);
}

START_TEST(tiles_match_the_direct_definition)
{
    /* sizes around the 128-row x 512-column tiles: partial tiles on both axes, one tile, the
     * smallest image, a strip one output row tall */
    static const int sizes[][2] = {{1100, 140}, {11, 11}, {530, 11}, {12, 300}, {523, 133}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        uint8_t *a = malloc((size_t)w * h * 3), *b = malloc((size_t)w * h * 3);
        uint32_t s = 777 + (uint32_t)k;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            s = s * 1664525u + 1013904223u;
            a[i] = (uint8_t)((i / 3 % (size_t)w) * 7 % 256 ^ (i / 3 / (size_t)w) * 3);
            b[i] = (uint8_t)(a[i] + (int)(s >> 27) - 16);
        }
        double got, want = ssim_direct(a, b, w, h, 3);
        err e = {{0}};
        ck_assert_int_eq(ssim_compute(a, b, w, h, 3, 2, &got, &e), 0);
        ck_assert_msg(fabs(got - want) < 1e-5, "%dx%d: %.8f, direct %.8f", w, h, got, want);
        free(a);
        free(b);
    }
}
END_TEST

START_TEST(hidden_colour_does_not_count)
{
    /* fully transparent pixels with different RGB look the same on the page */
    int w = 16, h = 16;
    uint8_t a[16 * 16 * 4], b[16 * 16 * 4];
    for (int i = 0; i < w * h; i++) {
        a[4 * i] = 200, a[4 * i + 1] = 10, a[4 * i + 2] = 30, a[4 * i + 3] = 0;
        b[4 * i] = 0, b[4 * i + 1] = 0, b[4 * i + 2] = 0, b[4 * i + 3] = 0;
    }
    double s;
    err e = {{0}};
    ck_assert_int_eq(ssim_compute(a, b, w, h, 4, 1, &s, &e), 0);
    ck_assert_double_eq_tol(s, 1.0, 1e-9);
}
END_TEST

START_TEST(errors)
{
    uint8_t px[10 * 20 * 3] = {0};
    double s;
    err e = {{0}};
    ck_assert_int_eq(ssim_compute(px, px, 10, 20, 3, 1, &s, &e), -1);
    ck_assert_str_eq(e.msg, "ssim: image 10x20 is smaller than the 11x11 window");
    ck_assert_int_eq(ssim_compute(px, px, 20, 10, 5, 1, &s, &e), -1);
    ck_assert_str_eq(e.msg, "ssim: channels must be 1..4, not 5");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ssim");
    TCase *t = tcase_create("reference");
    tcase_add_test(t, matches_skimage);
    suite_add_tcase(s, t);
    t = tcase_create("properties");
    tcase_add_test(t, threads_do_not_change_the_value);
    tcase_add_test(t, tiles_match_the_direct_definition);
    tcase_add_test(t, hidden_colour_does_not_count);
    suite_add_tcase(s, t);
    t = tcase_create("errors");
    tcase_add_test(t, errors);
    suite_add_tcase(s, t);
    return check_run(s);
}
