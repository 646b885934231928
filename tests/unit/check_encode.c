/* Check suite for the encode module (and the sprite module that drives it): each encoder meets
 * its target when decoded independently, lossless is exact, and the atlas round-trips: every
 * frame cropped back out of the ENCODED sheet matches its source. */
#include <check.h>
#include "check_run.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "jpeg_enc.h"
#include "png_io.h"
#include "sprite.h"
#include "ssim.h"
#include "webp_enc.h"

/* A colourful w x h image with texture at several scales, like a feature visualization (a
 * plain gradient would not do: SSIM punishes any banding where local variance is near zero). */
static uint8_t *smooth(int w, int h, int ch, unsigned seed)
{
    uint8_t *p = malloc((size_t)w * h * ch);
    uint32_t s = seed * 2654435761u + 7;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * ch;
            for (int c = 0; c < 3; c++) {
                s = s * 1664525u + 1013904223u;
                double v = 128 + 70 * sin(x * (0.21 + 0.05 * c) + y * 0.13 * (c + 1) + seed) +
                           35 * sin(x * 0.05 - y * (0.07 + 0.02 * c)) + (double)(s >> 28) - 8;
                q[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            if (ch == 4) q[3] = (uint8_t)(x < w / 4 ? 0 : 255);
        }
    return p;
}

/* A flat diagram: a few colours in blocks (palette PNG's home ground). */
static uint8_t *flat(int w, int h)
{
    static const uint8_t pal[4][3] = {{255, 255, 255}, {20, 60, 200}, {230, 80, 20}, {30, 30, 30}};
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) memcpy(p + ((size_t)y * w + x) * 3, pal[(x / 20 + (y / 15) * 3) % 4], 3);
    return p;
}

static double decoded_ssim(const encode_result *r, const uint8_t *px, int w, int h, int ch)
{
    uint8_t *back;
    int bw, bh;
    err e = {{0}};
    ck_assert_msg(encode_decode(r->data, r->bytes, "candidate", ch, &back, &bw, &bh, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(bw, w);
    ck_assert_int_eq(bh, h);
    double s;
    ck_assert_int_eq(ssim_compute(px, back, w, h, ch, 1, &s, &e), 0);
    free(back);
    return s;
}

START_TEST(each_lossy_format_meets_its_target)
{
    int w = 160, h = 120;
    uint8_t *img = smooth(w, h, 3, 0), *dia = flat(w, h);
    const encode_format fs[] = {ENCODE_WEBP, ENCODE_JPEG, ENCODE_JPEG444, ENCODE_PNG8, ENCODE_PNG8_DITHER};
    for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++) {
        encode_options o;
        encode_options_default(&o);
        o.formats = 1u << fs[k];
        o.threads = 1;
        const uint8_t *src = fs[k] == ENCODE_PNG8 || fs[k] == ENCODE_PNG8_DITHER ? dia : img;
        encode_result r;
        err e = {{0}};
        ck_assert_msg(encode_sheet(&o, src, w, h, 3, &r, &e) == 0, "%s: %s", encode_format_name(fs[k]), e.msg);
        ck_assert_int_eq(r.format, fs[k]);
        ck_assert_msg(r.ssim >= o.target, "%s: ssim %.4f", encode_format_name(fs[k]), r.ssim);
        /* decoded independently of the search: the recorded SSIM is the real one */
        double s = decoded_ssim(&r, src, w, h, 3);
        ck_assert_msg(s >= o.target, "%s: decoded ssim %.4f", encode_format_name(fs[k]), s);
        ck_assert_double_eq_tol(s, r.ssim, 1e-9);
        /* the search found the lowest passing quality: one step lower misses the target or is
         * no smaller (checked by encoding it directly, for the codecs) */
        ck_assert_int_ge(r.quality, 0);
        int lo = fs[k] == ENCODE_WEBP ? 0 : 10;
        if (fs[k] != ENCODE_PNG8 && fs[k] != ENCODE_PNG8_DITHER && r.quality > lo) {
            uint8_t *d, *back;
            size_t len;
            int bw, bh;
            double s1;
            if (fs[k] == ENCODE_WEBP)
                ck_assert_int_eq(webp_enc_lossy(src, w, h, 3, r.quality - 1, &d, &len, &e), 0);
            else
                ck_assert_int_eq(jpeg_enc_encode(src, w, h, r.quality - 1, fs[k] == ENCODE_JPEG444, &d, &len, &e), 0);
            ck_assert_int_eq(encode_decode(d, len, "lower", 3, &back, &bw, &bh, &e), 0);
            ck_assert_int_eq(ssim_compute(src, back, w, h, 3, 1, &s1, &e), 0);
            ck_assert_msg(s1 < o.target || len >= r.bytes, "%s q=%d passes too (%.4f, %zu bytes < %zu)",
                          encode_format_name(fs[k]), r.quality - 1, s1, len, r.bytes);
            free(d);
            free(back);
        }
        encode_result_free(&r);
    }
    free(img);
    free(dia);
}
END_TEST

START_TEST(search_finds_the_smallest)
{
    /* all formats: the winner is no larger than each single format's own best */
    int w = 160, h = 120;
    uint8_t *img = smooth(w, h, 3, 1);
    encode_options o;
    encode_options_default(&o);
    o.threads = 1;
    encode_result all;
    err e = {{0}};
    ck_assert_msg(encode_sheet(&o, img, w, h, 3, &all, &e) == 0, "%s", e.msg);
    for (int f = 0; f < ENCODE_FORMATS; f++) {
        encode_options one = o;
        one.formats = 1u << f;
        encode_result r;
        if (encode_sheet(&one, img, w, h, 3, &r, &e) != 0) continue; /* e.g. palette misses 0.97 */
        ck_assert_msg(all.bytes <= r.bytes, "winner %s %zu > %s %zu", encode_format_name(all.format), all.bytes,
                      encode_format_name(f), r.bytes);
        encode_result_free(&r);
    }
    encode_result_free(&all);
    free(img);
}
END_TEST

/* Encodes img with format f alone at the given target: the result must be f, have SSIM 1, and
 * decode to img exactly. */
static void encodes_exactly(const uint8_t *img, int w, int h, int ch, encode_format f, double target)
{
    encode_options o;
    encode_options_default(&o);
    o.formats = 1u << f;
    o.target = target;
    encode_result r;
    err e = {{0}};
    ck_assert_msg(encode_sheet(&o, img, w, h, ch, &r, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(r.format, f);
    ck_assert(r.ssim == 1.0);
    uint8_t *back;
    int bw, bh;
    ck_assert_int_eq(encode_decode(r.data, r.bytes, "x", ch, &back, &bw, &bh, &e), 0);
    ck_assert_int_eq(memcmp(back, img, (size_t)w * h * ch), 0);
    free(back);
    encode_result_free(&r);
}

START_TEST(lossless_is_exact)
{
    int w = 50, h = 40;
    for (int ch = 3; ch <= 4; ch++) {
        uint8_t *img = smooth(w, h, ch, 2);
        const encode_format fs[] = {ENCODE_PNG, ENCODE_WEBP_LOSSLESS};
        for (int k = 0; k < 2; k++) encodes_exactly(img, w, h, ch, fs[k], 0.97);
        free(img);
    }
}
END_TEST

START_TEST(palette_png_is_valid_and_small)
{
    /* 4 colours: 2-bit indexed PNG; decoding gives the colours back exactly */
    int w = 100, h = 60;
    uint8_t *img = flat(w, h);
    encode_options o;
    encode_options_default(&o);
    o.formats = 1u << ENCODE_PNG8;
    encode_result r;
    err e = {{0}};
    ck_assert_msg(encode_sheet(&o, img, w, h, 3, &r, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(r.data[24], 2); /* IHDR bit depth */
    ck_assert_int_eq(r.data[25], 3); /* colour type: palette */
    ck_assert_double_eq_tol(decoded_ssim(&r, img, w, h, 3), 1.0, 1e-9);
    encode_result_free(&r);
    free(img);
}
END_TEST

START_TEST(palette_png_is_exact_up_to_256_colours)
{
    /* 256 colours in 4 x 4 blocks (a diagram's worth), RGB and RGBA, at target 1: only the
     * exact palette passes (libimagequant at speed 10 posterizes colours by one level) */
    int w = 64, h = 64;
    for (int ch = 3; ch <= 4; ch++) {
        uint8_t *img = malloc((size_t)w * h * ch);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int k = (y / 4) * 16 + x / 4;
                uint8_t *p = img + ((size_t)y * w + x) * ch;
                p[0] = (uint8_t)(k * 37), p[1] = (uint8_t)(k * 11 + 3), p[2] = (uint8_t)(255 - k);
                if (ch == 4) p[3] = (uint8_t)(k % 3 ? 255 : 128);
            }
        encodes_exactly(img, w, h, ch, ENCODE_PNG8, 1.0);
        free(img);
    }
}
END_TEST

START_TEST(errors)
{
    unsigned f;
    err e = {{0}};
    ck_assert_int_eq(encode_formats_parse("webp,gif", &f, &e), -1);
    ck_assert_str_eq(e.msg, "--formats: unknown format 'gif' (expected webp, jpeg, jpeg444, png8, png8-dither, "
                            "png, webp-lossless)");
    ck_assert_int_eq(encode_formats_parse("png8,jpeg", &f, &e), 0);
    ck_assert_uint_eq(f, 1u << ENCODE_PNG8 | 1u << ENCODE_JPEG);
    /* noise cannot reach 0.9999 as a palette */
    int w = 64, h = 64;
    uint8_t *img = malloc((size_t)w * h * 3);
    uint32_t s = 1;
    for (int i = 0; i < w * h * 3; i++) img[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
    encode_options o;
    encode_options_default(&o);
    o.formats = 1u << ENCODE_PNG8;
    o.target = 0.9999;
    encode_result r;
    ck_assert_int_eq(encode_sheet(&o, img, w, h, 3, &r, &e), -1);
    ck_assert_str_eq(e.msg, "encode: no allowed format reaches SSIM 0.9999 on this 64x64 sheet");
    ck_assert_ptr_null(r.data);
    uint8_t *dec;
    ck_assert_int_eq(encode_decode((const uint8_t *)"GIF89a", 6, "x.gif", 3, &dec, &w, &h, &e), -1);
    ck_assert_str_eq(e.msg, "x.gif: not a PNG, WebP or JPEG file");
    ck_assert_ptr_null(dec);
    free(img);
}
END_TEST

/* ---- atlas round trip ---- */

static char tmpdir[64];

static void make_frames(void)
{
    strcpy(tmpdir, "/tmp/check_encode.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_frames(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

/* Writes n frames of varied sizes (one RGBA when alpha) and a TSV list; returns the list path. */
static char *write_frames(int n, int alpha)
{
    buf list = {0};
    err e = {{0}};
    for (int i = 0; i < n; i++) {
        int w = 20 + (i * 37) % 60, h = 16 + (i * 53) % 50, ch = alpha && i % 3 == 0 ? 4 : 3;
        png_io_image img = {w, h, ch, smooth(w, h, ch, (unsigned)i)};
        char *path = xasprintf("%s/f%02d.png", tmpdir, i);
        ck_assert_msg(png_io_write(path, &img, 6, &e) == 0, "%s", e.msg);
        buf_printf(&list, "frame-%02d\tf%02d.png\n", n - i, i); /* ids not in file order */
        free(path);
        free(img.pixels);
    }
    char *lp = xasprintf("%s/list.tsv", tmpdir);
    ck_assert_int_eq(write_file_atomic(lp, list.data, list.len, &e), 0);
    buf_free(&list);
    return lp;
}

/* Builds, writes, then reads every atlas back and checks each frame against its source. */
static void round_trip(unsigned formats, int alpha, int retina)
{
    char *lp = write_frames(14, alpha);
    sprite_options o;
    sprite_options_default(&o);
    o.enc.formats = formats;
    o.pack.max_width = o.pack.max_height = 150; /* several sheets */
    o.retina = retina;
    o.retina_min = 40;
    sprite_list *l;
    sprite_output *out;
    err e = {{0}};
    ck_assert_msg(sprite_list_read(lp, &l, &e) == 0, "%s", e.msg);
    ck_assert_msg(sprite_build(l, &o, &out, &e) == 0, "%s", e.msg);
    char *od = xasprintf("%s/out", tmpdir);
    ck_assert_msg(sprite_output_write(out, od, &e) == 0, "%s", e.msg);
    int ns = sprite_output_sheets(out), seen = 0, seen2 = 0;
    ck_assert_int_ge(ns, 2);
    for (int i = 0; i < ns; i++) {
        const encode_result *er;
        const uint8_t *px;
        int w, h, ch;
        const char *file = sprite_output_sheet(out, i, &er, &px, &w, &h, &ch);
        const char *dot = strrchr(file, '.');
        char *sp = xasprintf("%s/%s", od, file), *jp = xasprintf("%s/%.*s.json", od, (int)(dot - file), file);
        char *data;
        size_t len;
        ck_assert_int_eq(read_file(sp, &data, &len, &e), 0);
        uint8_t *dec;
        int dw, dh;
        ck_assert_msg(encode_decode((uint8_t *)data, len, sp, ch, &dec, &dw, &dh, &e) == 0, "%s", e.msg);
        free(data);
        json_error_t je;
        json_t *atlas = json_load_file(jp, 0, &je);
        ck_assert_ptr_nonnull(atlas);
        ck_assert_int_eq(json_integer_value(json_object_get(atlas, "width")), dw);
        ck_assert_int_eq(json_integer_value(json_object_get(atlas, "height")), dh);
        int scale = (int)json_integer_value(json_object_get(atlas, "scale"));
        const char *fmt = json_string_value(json_object_get(json_object_get(atlas, "encoding"), "format"));
        int lossless = !strcmp(fmt, "png") || !strcmp(fmt, "webp-lossless");
        size_t k;
        json_t *fr;
        json_array_foreach(json_object_get(atlas, "frames"), k, fr) {
            const char *id = json_string_value(json_object_get(fr, "id"));
            int x = (int)json_integer_value(json_object_get(fr, "x")), y = (int)json_integer_value(json_object_get(fr, "y"));
            int fw = (int)json_integer_value(json_object_get(fr, "width"));
            int fh = (int)json_integer_value(json_object_get(fr, "height"));
            ck_assert_str_eq(json_string_value(json_object_get(fr, "sheet")), file);
            ck_assert_str_eq(json_string_value(json_object_get(fr, "encoding")), fmt);
            ck_assert(x >= 0 && y >= 0 && x + fw <= dw && y + fh <= dh);
            /* the source: frame-NN is file f(14-NN) */
            int num = atoi(id + 6);
            char *src = xasprintf("%s/f%02d.png", tmpdir, 14 - num);
            png_io_image img;
            ck_assert_int_eq(png_io_read(src, ch, &img, &e), 0);
            free(src);
            int expect_w = scale == 2 || !(retina && img.width >= 40 && img.height >= 40) ? img.width : (img.width + 1) / 2;
            ck_assert_int_eq(fw, expect_w);
            uint8_t *crop = malloc((size_t)fw * fh * ch);
            for (int r = 0; r < fh; r++)
                memcpy(crop + (size_t)r * fw * ch, dec + ((size_t)(y + r) * dw + x) * ch, (size_t)fw * ch);
            if (fw == img.width && fh == img.height) {
                if (lossless) {
                    ck_assert_msg(!memcmp(crop, img.pixels, (size_t)fw * fh * ch), "frame %s differs", id);
                } else if (fw >= 11 && fh >= 11) {
                    double s;
                    ck_assert_int_eq(ssim_compute(img.pixels, crop, fw, fh, ch, 1, &s, &e), 0);
                    /* the target holds for the sheet; a single frame may sit a little under it */
                    ck_assert_msg(s >= o.enc.target - 0.02, "frame %s: ssim %.4f", id, s);
                }
            }
            /* extrusion: the column left of the frame repeats its first column (lossless sheet) */
            if (x > 0 && o.pack.padding > 0)
                ck_assert(!memcmp(px + ((size_t)y * w + x - 1) * ch, px + ((size_t)y * w + x) * ch, (size_t)ch));
            free(crop);
            png_io_image_free(&img);
            if (scale == 1) seen++;
            else seen2++;
        }
        json_decref(atlas);
        free(dec);
        free(sp);
        free(jp);
    }
    ck_assert_int_eq(seen, 14);
    if (retina) ck_assert_int_gt(seen2, 0);
    sprite_output_free(out);
    sprite_list_free(l);
    free(od);
    free(lp);
}

START_TEST(atlas_lossless) { round_trip(1u << ENCODE_PNG, 1, 0); }
END_TEST
START_TEST(atlas_webp) { round_trip(1u << ENCODE_WEBP, 1, 0); }
END_TEST
START_TEST(atlas_jpeg) { round_trip(1u << ENCODE_JPEG | 1u << ENCODE_JPEG444, 0, 0); }
END_TEST
START_TEST(atlas_any_retina) { round_trip((1u << ENCODE_FORMATS) - 1, 0, 1); }
END_TEST

int main(void)
{
    Suite *s = suite_create("encode");
    TCase *t = tcase_create("targets");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, each_lossy_format_meets_its_target);
    tcase_add_test(t, search_finds_the_smallest);
    suite_add_tcase(s, t);
    t = tcase_create("formats");
    tcase_add_test(t, lossless_is_exact);
    tcase_add_test(t, palette_png_is_valid_and_small);
    tcase_add_test(t, palette_png_is_exact_up_to_256_colours);
    tcase_add_test(t, errors);
    suite_add_tcase(s, t);
    t = tcase_create("atlas");
    tcase_set_timeout(t, 60);
    tcase_add_checked_fixture(t, make_frames, remove_frames);
    tcase_add_test(t, atlas_lossless);
    tcase_add_test(t, atlas_webp);
    tcase_add_test(t, atlas_jpeg);
    tcase_add_test(t, atlas_any_retina);
    suite_add_tcase(s, t);
    return check_run(s);
}
