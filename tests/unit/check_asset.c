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
    /* A JPEG whose frame header (SOF0) says 40000 x 40000: too large, named with its size. */
    char *sof = memmem(jpg, jlen, "\xff\xc0", 2);
    ck_assert_ptr_nonnull(sof);
    memcpy(sof + 5, "\x9c\x40\x9c\x40", 4); /* height, width: 40000 */
    ck_assert_int_eq(check_mem("x.jpg", jpg, jlen, &info, &e), -1);
    ck_assert_str_eq(e.msg, "x.jpg: 40000x40000 pixels is larger than the limit of 32768 pixels a side and 64 "
                            "megapixels (expected a smaller image)");
    ck_assert_int_eq(check_mem("x.gif", "GIF89a", 6, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "unsupported image type '.gif'"));
    ck_assert_int_eq(check_mem("e.png", "", 0, &info, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "empty file"));
    free(png);
    free(jpg);
}
END_TEST

/* Each SVG the check must refuse, with the start of its message: one per way past the old
 * blocklist, and one per class of the allowlist. */
#define NS "xmlns='http://www.w3.org/2000/svg'"
static const struct {
    const char *svg, *want;
} bad_svgs[] = {
    {"<svg " NS "><script>alert(1)</script></svg>", "s.svg:1: element <script> is not allowed"},
    {"<svg " NS "><rect onmouseover='alert(1)'/></svg>", "s.svg:1: <rect> attribute 'onmouseover' is not allowed"},
    {"<svg " NS ">\n<rect\tonload='alert(1)'/></svg>", "s.svg:2: <rect> attribute 'onload' is not allowed"},
    {"<svg " NS "><set attributeName='x' onbegin='alert(1)'/></svg>", "s.svg:1: element <set> is not allowed"},
    {"<svg " NS "><animate/></svg>", "s.svg:1: element <animate> is not allowed"},
    {"<svg " NS "><foreignObject/></svg>", "s.svg:1: element <foreignObject> is not allowed"},
    {"<svg " NS "><image href='https://evil.example/x.png'/></svg>", "s.svg:1: element <image> is not allowed"},
    {"<svg " NS "><a href='https://evil.example/'/></svg>", "s.svg:1: element <a> is not allowed"},
    {"<svg " NS " xmlns:x='http://www.w3.org/1999/xlink'><use x:href='java&#x73;cript:alert(1)'/></svg>",
     "s.svg:1: <use> attribute 'href': 'javascript:alert(1)' is not a reference inside the file"},
    {"<svg " NS "><use href='//evil.example/a.svg#x'/></svg>", "s.svg:1: <use> attribute 'href': '//evil"},
    {"<svg " NS "><use href=' #x'/></svg>", "s.svg:1: <use> attribute 'href': ' #x' is not a reference"},
    {"<svg " NS "><style>@import url(https://evil.example/x.css);</style></svg>", "s.svg:1: <style> holds an @-rule"},
    {"<svg " NS "><style><![CDATA[rect{fill:URL( 'http://evil.example/x' )}]]></style></svg>",
     "s.svg:1: <style> holds url() of something outside the file"},
    {"<svg " NS "><rect style='fill:url(//evil.example/x)'/></svg>", "s.svg:1: <rect> attribute 'style': "},
    {"<svg " NS "><rect fill='\\75rl(http://evil.example/x)'/></svg>", "holds a CSS escape"},
    {"<svg " NS "><rect style='background:image-set(\"http://evil.example/x\" 1x)'/></svg>",
     "holds a CSS function that is not a colour"},
    {"<svg " NS " xmlns:h='http://www.w3.org/1999/xhtml'><h:script>alert(1)</h:script></svg>",
     "s.svg:1: element <h:script> is not an SVG element"},
    {"<svg " NS " xmlns:i='urn:x'><rect i:label='x'/></svg>", "s.svg:1: <rect> attribute 'i:label' is not allowed"},
    {"<?xml-stylesheet href='https://evil.example/x.css'?><svg " NS "/>", "s.svg:1: processing instruction"},
    {"<!DOCTYPE svg [<!ENTITY a 'b'>]><svg " NS ">&a;</svg>", "s.svg:1: a DOCTYPE is not allowed"},
    {"<svg " NS " width='1e300' height='4'/>", "s.svg:1: <svg> attribute 'width': '1e300' is not a size"},
    {"<svg " NS " width='4' height='-1'/>", "s.svg:1: <svg> attribute 'height': '-1' is not a size"},
    {"<svg " NS " width='inf' height='4'/>", "s.svg:1: <svg> attribute 'width': 'inf' is not a size"},
    {"<svg " NS " width='0x10' height='4'/>", "s.svg:1: <svg> attribute 'width': '0x10' is not a size"},
    {"<svg " NS " viewBox='0 0 nan 4'/>", "s.svg:1: <svg> attribute 'viewBox': '0 0 nan 4' is not a view box"},
    {"<svg " NS " viewBox='0 0 99999 4'/>", "is not a view box"},
    {"<svg><rect/></svg>", "s.svg: not an SVG file (expected an <svg xmlns="},
    {"<html " NS "/>", "s.svg: not an SVG file"},
    {"<svg " NS " width='4' height='4'><rect/>", "s.svg:1: not well-formed XML: "},
    {"<svg " NS "><rect/></svg><svg " NS "/>", "s.svg:1: not well-formed XML: "},
};

START_TEST(svg_refused)
{
    asset_info info;
    err e = {{0}};
    const char *svg = bad_svgs[_i].svg;
    ck_assert_msg(check_mem("s.svg", svg, strlen(svg), &info, &e) == -1, "accepted: %s", svg);
    ck_assert_msg(strstr(e.msg, bad_svgs[_i].want) != NULL, "%s\n  want: %s\n  got:  %s", svg, bad_svgs[_i].want,
                  e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}
END_TEST

START_TEST(svg_accepted)
{
    asset_info info;
    err e = {{0}};
    /* The drawing subset: gradients, markers, local url() and href, transforms, a safe style sheet. */
    const char *svg = "<?xml version='1.0' encoding='UTF-8'?>\n<!-- a comment -->\n"
                      "<svg " NS " xmlns:xlink='http://www.w3.org/1999/xlink' width='640px' height='480'>"
                      "<title>t</title><defs><linearGradient id='g'><stop offset='0' stop-color='rgb(1,2,3)'/>"
                      "</linearGradient><path id='p' d='M0,0 L1,1'/></defs>"
                      "<style>rect { fill: url(#g); stroke: #000 }</style>"
                      "<g transform='translate(1,2) rotate(3) scale(2)'><rect fill='url( \"#g\" )' width='10%'/>"
                      "<use xlink:href='#p'/><use href='#p'/><text aria-label='a (b)'>x &amp; y</text></g></svg>";
    ck_assert_msg(check_mem("s.svg", svg, strlen(svg), &info, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(info.format, "svg");
    ck_assert_int_eq(info.width, 640);
    ck_assert_int_eq(info.height, 480);
    /* Sizes in other units leave the size to the viewBox. */
    const char *vb = "<svg " NS " width='10cm' height='5cm' viewBox='0,0,300.4,150.6'/>";
    ck_assert_msg(check_mem("s.svg", vb, strlen(vb), &info, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(info.width, 300);
    ck_assert_int_eq(info.height, 151);
    /* The article's own diagram passes. */
    ck_assert_msg(check_file("content/images/optimization-loop.svg", &info, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(info.width, 720);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("asset");
    TCase *t = tcase_create("formats");
    tcase_add_test(t, good_files);
    tcase_add_test(t, bad_files);
    suite_add_tcase(s, t);
    TCase *v = tcase_create("svg");
    tcase_add_loop_test(v, svg_refused, 0, (int)(sizeof bad_svgs / sizeof bad_svgs[0]));
    tcase_add_test(v, svg_accepted);
    suite_add_tcase(s, v);
    return check_run(s);
}
