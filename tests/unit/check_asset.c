/* Check suite for the asset module: each accepted format, and each way a file can be bad. */
#include <check.h>
#include "check_run.h"
#include <stdlib.h>
#include <string.h>

#include "asset.h"

static int check_file(const char *path, asset_info *info, err *e)
{
    char *data;
    size_t len;
    if (read_file(path, &data, &len, e) != 0) return -1;
    int rc = asset_check(path, (unsigned char *)data, len, info, e);
    free(data);
    return rc;
}

static int check_mem(const char *name, const char *data, size_t len, asset_info *info, err *e)
{
    return asset_check(name, (const unsigned char *)data, len, info, e);
}

START_TEST(good_files)
{
    asset_info info;
    err e = {{0}};
    ck_assert_msg(check_file("tests/fixtures/site/content/images/gradient.png", &info, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(info.format, "png");
    ck_assert_int_eq(info.width, 24);
    ck_assert_msg(check_file("tests/fixtures/site/content/images/mark.svg", &info, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(info.width, 48);
    ck_assert_int_eq(info.height, 24);
    ck_assert_msg(check_file("tests/fixtures/asset/small.jpg", &info, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(info.format, "jpeg");
}
END_TEST

START_TEST(bad_files)
{
    asset_info info;
    err e = {{0}};
    char *png, *jpg;
    size_t plen, jlen;
    ck_assert_int_eq(read_file("tests/fixtures/site/content/images/gradient.png", &png, &plen, &e), 0);
    ck_assert_int_eq(read_file("tests/fixtures/asset/small.jpg", &jpg, &jlen, &e), 0);
    ck_assert_int_eq(check_mem("x.png", png, plen / 2, &info, &e), -1);
    ck_assert_str_eq(e.msg, "x.png: corrupt PNG (file is truncated)");
    png[40] ^= 0x55; /* inside IHDR/IDAT: the CRC no longer matches */
    ck_assert_int_eq(check_mem("x.png", png, plen, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "x.png: corrupt PNG"));
    ck_assert_int_eq(check_mem("x.png", jpg, jlen, &info, &e), -1);
    ck_assert_str_eq(e.msg, "x.png: not a PNG file (bad signature; expected PNG data)");
    ck_assert_int_eq(check_mem("x.jpg", jpg, 200, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "x.jpg: corrupt JPEG"));
    ck_assert_int_eq(check_mem("x.gif", "GIF89a", 6, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "unsupported image type '.gif'"));
    const char *svg_script = "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    ck_assert_int_eq(check_mem("s.svg", svg_script, strlen(svg_script), &info, &e), -1);
    ck_assert_str_eq(e.msg, "s.svg: SVG contains script (expected a static image)");
    const char *svg_ext = "<svg><image href=\"https://evil.example/x.png\"/></svg>";
    ck_assert_int_eq(check_mem("s.svg", svg_ext, strlen(svg_ext), &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "external resource"));
    const char *svg_cut = "<svg width=\"4\" height=\"4\"><rect/>";
    ck_assert_int_eq(check_mem("s.svg", svg_cut, strlen(svg_cut), &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "truncated"));
    ck_assert_int_eq(check_mem("e.png", "", 0, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty file"));
    free(png);
    free(jpg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("asset");
    TCase *t = tcase_create("formats");
    tcase_add_test(t, good_files);
    tcase_add_test(t, bad_files);
    suite_add_tcase(s, t);
    return check_run(s);
}
