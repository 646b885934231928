/* asset — see asset.h. */
#include "asset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

#include "png_io.h"

static const char *ext_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

static int check_jpeg(const char *path, const unsigned char *data, size_t len, asset_info *info, err *e)
{
    tjhandle h = tjInitDecompress();
    if (!h) return err_set(e, "%s: cannot initialise libjpeg-turbo", path);
    int w, hgt, sub, cs;
    int rc = -1;
    unsigned char *pix = NULL;
    if (tjDecompressHeader3(h, data, (unsigned long)len, &w, &hgt, &sub, &cs) != 0) {
        err_set(e, "%s: corrupt JPEG (%s)", path, tjGetErrorStr2(h));
        goto done;
    }
    if (w <= 0 || hgt <= 0 || w > 32768 || hgt > 32768) {
        err_set(e, "%s: JPEG size %dx%d out of range (1..32768)", path, w, hgt);
        goto done;
    }
    pix = malloc((size_t)w * hgt * 3);
    if (!pix) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }
    /* Decode it all: a truncated file fails here, or warns, which we also refuse. */
    if (tjDecompress2(h, data, (unsigned long)len, pix, w, 0, hgt, TJPF_RGB, 0) != 0) {
        err_set(e, "%s: corrupt JPEG (%s)", path, tjGetErrorStr2(h));
        goto done;
    }
    info->format = "jpeg";
    info->width = w;
    info->height = hgt;
    rc = 0;
done:
    free(pix);
    tjDestroy(h);
    return rc;
}

/* Reads a numeric attribute value like width="640" or width="640px" from the <svg ...> tag. */
static int svg_attr(const char *tag, const char *name, double *out)
{
    char pat[32];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *p = strstr(tag, pat);
    if (!p) return 0;
    return sscanf(p + strlen(pat), "%lf", out) == 1;
}

static int check_svg(const char *path, const unsigned char *data, size_t len, asset_info *info, err *e)
{
    int line, col;
    if (utf8_check((const char *)data, len, &line, &col) != 0)
        return err_set(e, "%s:%d: invalid UTF-8 (expected an SVG file in UTF-8)", path, line);
    char *s = xstrndup((const char *)data, len);
    int rc = -1;
    char *tag = strstr(s, "<svg");
    char *end = tag ? strchr(tag, '>') : NULL;
    if (!tag || !end) {
        err_set(e, "%s: not an SVG file (expected an <svg> element)", path);
        goto done;
    }
    if (!strstr(s, "</svg>") && end[-1] != '/') {
        err_set(e, "%s: SVG is truncated (expected a closing </svg>)", path);
        goto done;
    }
    /* Scripts and external references would run or load from outside the site. */
    for (char *p = s; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (strstr(s, "<script") || strstr(s, "javascript:") || strstr(s, " onload=") || strstr(s, " onclick=")) {
        err_set(e, "%s: SVG contains script (expected a static image)", path);
        goto done;
    }
    if (strstr(s, "href=\"http") || strstr(s, "href='http") || strstr(s, "url(http")) {
        err_set(e, "%s: SVG refers to an external resource (expected a self-contained image)", path);
        goto done;
    }
    *end = 0;
    double w = 0, h = 0;
    if (!(svg_attr(tag, "width", &w) && svg_attr(tag, "height", &h))) {
        const char *vb = strstr(tag, "viewbox=\"");
        double x0, y0;
        if (!vb || sscanf(vb + 9, "%lf %lf %lf %lf", &x0, &y0, &w, &h) != 4) w = h = 0;
    }
    info->format = "svg";
    info->width = (int)(w + 0.5);
    info->height = (int)(h + 0.5);
    rc = 0;
done:
    free(s);
    return rc;
}

int asset_check(const char *path, const unsigned char *data, size_t len, asset_info *info, err *e)
{
    memset(info, 0, sizeof *info);
    const char *ext = ext_of(path);
    int want_png = !strcasecmp(ext, "png");
    int want_jpeg = !strcasecmp(ext, "jpg") || !strcasecmp(ext, "jpeg");
    int want_svg = !strcasecmp(ext, "svg");
    if (!want_png && !want_jpeg && !want_svg)
        return err_set(e, "%s: unsupported image type '.%s' (expected .png, .jpg, .jpeg or .svg)", path, ext);
    if (len == 0) return err_set(e, "%s: empty file (expected a %s image)", path, ext);
    int is_png = len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8);
    int is_jpeg = len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
    if (want_png && !is_png) return err_set(e, "%s: not a PNG file (bad signature; expected PNG data)", path);
    if (want_jpeg && !is_jpeg) return err_set(e, "%s: not a JPEG file (bad signature; expected JPEG data)", path);
    if (want_png) {
        png_io_image img;
        if (png_io_read_mem(data, len, path, 4, &img, e) != 0) return -1;
        info->format = "png";
        info->width = img.width;
        info->height = img.height;
        png_io_image_free(&img);
        return 0;
    }
    if (want_jpeg) return check_jpeg(path, data, len, info, e);
    return check_svg(path, data, len, info, e);
}
