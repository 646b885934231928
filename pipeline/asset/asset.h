/* asset — checks an author's image file (PNG, JPEG or SVG) before it is published: the whole
 * file is decoded, so a corrupt or truncated image is refused here and not in a reader's
 * browser. SVGs must be UTF-8 XML in the static drawing subset of SVG (see svg.h). */
#ifndef FV_ASSET_H
#define FV_ASSET_H

#include <stddef.h>

#include "util.h"

typedef struct asset_info {
    const char *format; /* "png", "jpeg" or "svg" (static string) */
    int width, height;  /* pixels; for SVG from width/height or viewBox, 0 when unknown */
} asset_info;

/* Checks data[0..len) (named path in errors; the format is taken from the content, and must
 * agree with the file name's extension). Returns 0 with *info, or -1 with "path: what" in e. */
int asset_check(const char *path, const unsigned char *data, size_t len, asset_info *info, err *e);

#endif
