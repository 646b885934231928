/* Check suite for the png module: what is written reads back the same (every encoder), every
 * PNG kind the reader converts (grey, 16-bit, grey + alpha, palette + tRNS), and every way a file
 * can be bad (truncated, bad CRC, not a PNG, zero or oversized dimensions). Run from the project
 * root (the input fixtures are tests/fixtures/sprite/, made by make_input_fixtures.py). */
#include <check.h>
#include "check_run.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "png_io.h"

#define FIX "tests/fixtures/sprite/"

/* A w x h image with channels c whose bytes follow a pattern that no filter makes trivial. */
static png_io_image pattern(int w, int h, int c)
{
    png_io_image img = {w, h, c, xmalloc((size_t)w * h * c)};
    for (size_t i = 0; i < (size_t)w * h * c; i++) img.pixels[i] = (uint8_t)(i * 37 + (i / 7) * 11);
    return img;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A PNG whose header says w x h RGB, with valid CRCs and an empty IDAT: *len bytes, owned. */
static uint8_t *header_only(uint32_t w, uint32_t h, size_t *len)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *p = xcalloc(8 + 25 + 12 + 64 + 12, 1);
    size_t n = 0;
    memcpy(p, sig, 8);
    n = 8;
    /* IHDR: 13 bytes of width, height, depth 8, colour type 2, no interlace. */
    put32(p + n, 13);
    memcpy(p + n + 4, "IHDR", 4);
    put32(p + n + 8, w);
    put32(p + n + 12, h);
    p[n + 16] = 8;
    p[n + 17] = 2;
    put32(p + n + 21, (uint32_t)crc32(0, p + n + 4, 17));
    n += 25;
    uLongf zn = 64;
    uint8_t z[64];
    compress(z, &zn, (const Bytef *)"", 0);
    put32(p + n, (uint32_t)zn);
    memcpy(p + n + 4, "IDAT", 4);
    memcpy(p + n + 8, z, zn);
    put32(p + n + 8 + zn, (uint32_t)crc32(0, p + n + 4, 4 + (uInt)zn));
    n += 12 + zn;
    put32(p + n, 0);
    memcpy(p + n + 4, "IEND", 4);
    put32(p + n + 8, (uint32_t)crc32(0, p + n + 4, 4));
    *len = n + 12;
    return p;
}

/* ------------------------------------------------------------ round trips */

START_TEST(round_trip_rgb_rgba)
{
    err e = {{0}};
    for (int c = 3; c <= 4; c++) {
        png_io_image img = pattern(37, 19, c), back;
        uint8_t *data;
        size_t len;
        ck_assert_msg(png_io_encode(&img, 6, &data, &len, &e) == 0, "%s", e.msg);
        ck_assert_msg(png_io_read_mem(data, len, "m.png", c, &back, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(back.width, 37);
        ck_assert_int_eq(back.height, 19);
        ck_assert_int_eq(back.channels, c);
        ck_assert_mem_eq(back.pixels, img.pixels, (size_t)37 * 19 * c);
        png_io_image_free(&back);
        free(data);
        png_io_image_free(&img);
    }
}
END_TEST

START_TEST(round_trip_filters)
{
    err e = {{0}};
    png_io_image img = pattern(23, 11, 3), back;
    for (int f = -1; f <= 4; f++)
        for (int strategy = -1; strategy <= 3; strategy += 2) {
            uint8_t *data;
            size_t len;
            ck_assert_msg(png_io_encode_ex(&img, 9, f, strategy, &data, &len, &e) == 0, "%s", e.msg);
            ck_assert_msg(png_io_read_mem(data, len, "m.png", 3, &back, &e) == 0, "filter %d: %s", f, e.msg);
            ck_assert_mem_eq(back.pixels, img.pixels, (size_t)23 * 11 * 3);
            png_io_image_free(&back);
            free(data);
        }
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(png_io_encode_ex(&img, 9, 5, -1, &data, &len, &e), -1);
    ck_assert_str_eq(e.msg, "png encode: filter must be -1..4, not 5");
    img.channels = 2;
    ck_assert_int_eq(png_io_encode(&img, 9, &data, &len, &e), -1);
    ck_assert_str_eq(e.msg, "png encode: channels must be 3 or 4, not 2");
    img.channels = 3;
    png_io_image_free(&img);
}
END_TEST

START_TEST(round_trip_palette)
{
    err e = {{0}};
    /* Entry 0 transparent, 1 half, 2 opaque: tRNS up to entry 1, colours exact. */
    const uint8_t palette[12] = {10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255};
    uint8_t idx[5 * 3];
    for (int i = 0; i < 15; i++) idx[i] = (uint8_t)(i % 3);
    uint8_t *data;
    size_t len;
    ck_assert_msg(png_io_encode_palette(5, 3, idx, palette, 3, 9, &data, &len, &e) == 0, "%s", e.msg);
    png_io_image back;
    ck_assert_msg(png_io_read_mem(data, len, "p.png", 4, &back, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 15; i++) ck_assert_mem_eq(back.pixels + 4 * i, palette + 4 * idx[i], 4);
    png_io_image_free(&back);
    free(data);
    idx[7] = 3;
    ck_assert_int_eq(png_io_encode_palette(5, 3, idx, palette, 3, 9, &data, &len, &e), -1);
    ck_assert_str_eq(e.msg, "png encode: index 3 at pixel 7 is outside the palette of 3");
    ck_assert_int_eq(png_io_encode_palette(5, 3, idx, palette, 0, 9, &data, &len, &e), -1);
    ck_assert_str_eq(e.msg, "png encode: palette of 0 entries (expected 1..256)");
}
END_TEST

START_TEST(file_write_read_size)
{
    char dir[] = "/tmp/check_png_io.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = xasprintf("%s/x.png", dir);
    err e = {{0}};
    png_io_image img = pattern(9, 4, 4), back;
    ck_assert_msg(png_io_write(path, &img, -1, &e) == 0, "%s", e.msg);
    int w, h;
    ck_assert_int_eq(png_io_size(path, &w, &h, &e), 0);
    ck_assert_int_eq(w, 9);
    ck_assert_int_eq(h, 4);
    ck_assert_msg(png_io_read(path, 4, &back, &e) == 0, "%s", e.msg);
    ck_assert_mem_eq(back.pixels, img.pixels, (size_t)9 * 4 * 4);
    png_io_image_free(&back);
    /* Reading as RGB composites the alpha on white. */
    ck_assert_msg(png_io_read(path, 3, &back, &e) == 0, "%s", e.msg);
    const uint8_t *s = img.pixels;
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(back.pixels[k], (s[k] * s[3] + 255 * (255 - s[3]) + 127) / 255);
    png_io_image_free(&back);
    /* Nothing is left behind but the file itself (written by rename). */
    char *tmp = xasprintf("%s/x.png.tmp", dir);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    unlink(path);
    ck_assert_int_eq(png_io_read(path, 4, &back, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "x.png"));
    rmdir(dir);
    free(tmp);
    free(path);
    png_io_image_free(&img);
}
END_TEST

/* ------------------------------------------------------------ kinds the reader converts */

START_TEST(converted_kinds)
{
    err e = {{0}};
    png_io_image img;
    /* Fixture values (make_input_fixtures.py): pixel (x, y) of a 32 x 24 image. */
    ck_assert_msg(png_io_read(FIX "grey.png", 4, &img, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(img.width, 32);
    const uint8_t g[4] = {5 * 8, 5 * 8, 5 * 8, 255}; /* x = 5: grey 40, opaque */
    ck_assert_mem_eq(img.pixels + 4 * (3 * 32 + 5), g, 4);
    png_io_image_free(&img);
    ck_assert_msg(png_io_read(FIX "grey16.png", 3, &img, &e) == 0, "%s", e.msg);
    int v = (31 * 2000 + 23 * 100) >> 8; /* 16 bits to 8: the high byte */
    ck_assert_int_eq(img.pixels[3 * (23 * 32 + 31)], v);
    ck_assert_int_eq(img.pixels[3 * (23 * 32 + 31) + 2], v);
    png_io_image_free(&img);
    ck_assert_msg(png_io_read(FIX "grey_alpha.png", 4, &img, &e) == 0, "%s", e.msg);
    const uint8_t ga[4] = {7 * 8, 7 * 8, 7 * 8, 2 * 10}; /* x = 7, y = 2 */
    ck_assert_mem_eq(img.pixels + 4 * (2 * 32 + 7), ga, 4);
    png_io_image_free(&img);
    /* Palette with tRNS: index 0 is transparent; as RGB those pixels are white. */
    png_io_image rgba, rgb;
    ck_assert_msg(png_io_read(FIX "palette.png", 4, &rgba, &e) == 0, "%s", e.msg);
    ck_assert_msg(png_io_read(FIX "palette.png", 3, &rgb, &e) == 0, "%s", e.msg);
    int clear = 0, opaque = 0;
    for (int i = 0; i < 32 * 24; i++) {
        clear += rgba.pixels[4 * i + 3] == 0;
        opaque += rgba.pixels[4 * i + 3] == 255;
        if (rgba.pixels[4 * i + 3] == 0) {
            const uint8_t white[3] = {255, 255, 255};
            ck_assert_mem_eq(rgb.pixels + 3 * i, white, 3);
        }
    }
    ck_assert_int_gt(clear, 0);
    ck_assert_int_eq(clear + opaque, 32 * 24);
    png_io_image_free(&rgba);
    png_io_image_free(&rgb);
}
END_TEST

/* ------------------------------------------------------------ bad files */

START_TEST(bad_files)
{
    err e = {{0}};
    png_io_image img = pattern(40, 30, 3), back;
    uint8_t *data;
    size_t len;
    ck_assert_int_eq(png_io_encode(&img, 0, &data, &len, &e), 0);
    ck_assert_int_eq(png_io_read_mem(data, len / 2, "t.png", 3, &back, &e), -1);
    ck_assert_str_eq(e.msg, "t.png: corrupt PNG (file is truncated)");
    ck_assert_ptr_null(back.pixels);
    data[18] ^= 0x01; /* the width in IHDR: the chunk's CRC no longer matches */
    ck_assert_int_eq(png_io_read_mem(data, len, "c.png", 3, &back, &e), -1);
    ck_assert_str_eq(e.msg, "c.png: corrupt PNG (IHDR: CRC error)");
    data[18] ^= 0x01;
    data[len / 2] ^= 0x55; /* inside IDAT (level 0 stores the bytes): zlib's own check fails first */
    ck_assert_int_eq(png_io_read_mem(data, len, "c.png", 3, &back, &e), -1);
    ck_assert_str_eq(e.msg, "c.png: corrupt PNG (IDAT: incorrect data check)");
    ck_assert_int_eq(png_io_read_mem("GIF89a....", 10, "g.png", 3, &back, &e), -1);
    ck_assert_str_eq(e.msg, "g.png: not a PNG file (bad signature)");
    ck_assert_int_eq(png_io_read_mem(data, len, "g.png", 2, &back, &e), -1);
    ck_assert_str_eq(e.msg, "g.png: channels must be 3 or 4");
    free(data);
    png_io_image_free(&img);
    data = header_only(0, 5, &len);
    ck_assert_int_eq(png_io_read_mem(data, len, "z.png", 3, &back, &e), -1);
    ck_assert_str_eq(e.msg, "z.png: corrupt PNG (Invalid IHDR data)");
    free(data);
}
END_TEST

START_TEST(size_limit)
{
    /* Too large is not corrupt: the message names the size and the limit, and nothing is
     * allocated for the pixels (a 100-byte file must not ask for gigabytes). */
    static const struct {
        uint32_t w, h;
        const char *msg;
    } cases[] = {
        {70000, 70000, "x.png: 70000x70000 pixels is larger than the limit of 32768 pixels a side and 64 megapixels "
                       "(expected a smaller image)"},
        {32769, 1, "x.png: 32769x1 pixels is larger than the limit"},
        {1, 2000000, "x.png: 1x2000000 pixels is larger than the limit"}, /* beyond libpng's own cap */
        {8193, 8192, "x.png: 8193x8192 pixels is larger than the limit"}, /* the area */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err e = {{0}};
        size_t len;
        uint8_t *data = header_only(cases[i].w, cases[i].h, &len);
        png_io_image back;
        ck_assert_int_eq(png_io_read_mem(data, len, "x.png", 4, &back, &e), -1);
        ck_assert_msg(!strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)), "case %zu: %s", i, e.msg);
        free(data);
    }
    /* The largest accepted side, on a thin image: past the size check, the empty IDAT is short. */
    err e = {{0}};
    size_t len;
    uint8_t *data = header_only(32768, 2, &len);
    png_io_image back;
    ck_assert_int_eq(png_io_read_mem(data, len, "x.png", 4, &back, &e), -1);
    ck_assert_msg(strstr(e.msg, "x.png: corrupt PNG") == e.msg, "%s", e.msg);
    free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("png_io");
    TCase *t = tcase_create("round trip");
    tcase_add_test(t, round_trip_rgb_rgba);
    tcase_add_test(t, round_trip_filters);
    tcase_add_test(t, round_trip_palette);
    tcase_add_test(t, file_write_read_size);
    suite_add_tcase(s, t);
    t = tcase_create("kinds");
    tcase_add_test(t, converted_kinds);
    suite_add_tcase(s, t);
    t = tcase_create("bad files");
    tcase_add_test(t, bad_files);
    tcase_add_test(t, size_limit);
    suite_add_tcase(s, t);
    return check_run(s);
}
