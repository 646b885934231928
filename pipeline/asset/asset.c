/* asset — see asset.h. */
#include "asset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

#include "png_io.h"
#include "svg.h"

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
    /* The same limits as png_io's: the whole image is decoded into memory to check it. */
    if (w <= 0 || hgt <= 0) {
        err_set(e, "%s: corrupt JPEG (size %dx%d; expected at least 1x1)", path, w, hgt);
        goto done;
    }
    if (w > 32768 || hgt > 32768 || (long long)w * hgt > (1LL << 26)) {
        err_set(e, "%s: %dx%d pixels is larger than the limit of 32768 pixels a side and 64 megapixels "
                   "(expected a smaller image)", path, w, hgt);
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
    if (svg_check(path, data, len, &info->width, &info->height, e) != 0) return -1;
    info->format = "svg";
    return 0;
}
