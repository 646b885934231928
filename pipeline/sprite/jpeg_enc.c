/* jpeg_enc — see jpeg_enc.h. TurboJPEG 2.x API (tjCompress2 / tjDecompress2). */
#include "jpeg_enc.h"

#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

int jpeg_enc_encode(const uint8_t *rgb, int width, int height, int quality, int chroma444, uint8_t **data,
                    size_t *len, err *e)
{
    *data = NULL;
    *len = 0;
    tjhandle tj = tjInitCompress();
    if (!tj) return err_set(e, "jpeg encode: cannot initialise libjpeg-turbo");
    unsigned char *out = NULL;
    unsigned long n = 0;
    if (tjCompress2(tj, rgb, width, 0, height, TJPF_RGB, &out, &n, chroma444 ? TJSAMP_444 : TJSAMP_420,
                    quality < 1 ? 1 : quality > 100 ? 100 : quality, TJFLAG_PROGRESSIVE | TJFLAG_ACCURATEDCT) != 0) {
        err_set(e, "jpeg encode: %s", tjGetErrorStr2(tj));
        tjFree(out);
        tjDestroy(tj);
        return -1;
    }
    *data = xmalloc(n);
    memcpy(*data, out, n);
    *len = n;
    tjFree(out);
    tjDestroy(tj);
    return 0;
}

int jpeg_enc_decode(const uint8_t *data, size_t len, const char *name, uint8_t **rgb, int *width, int *height,
                    err *e)
{
    *rgb = NULL;
    tjhandle tj = tjInitDecompress();
    if (!tj) return err_set(e, "%s: cannot initialise libjpeg-turbo", name);
    int sub, cs;
    uint8_t *px = NULL;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, width, height, &sub, &cs) != 0) goto fail;
    if (*width <= 0 || *height <= 0 || *width > 32768 || *height > 32768) goto fail;
    px = xmalloc((size_t)*width * *height * 3);
    if (tjDecompress2(tj, data, (unsigned long)len, px, *width, 0, *height, TJPF_RGB, TJFLAG_ACCURATEDCT) != 0)
        goto fail;
    tjDestroy(tj);
    *rgb = px;
    return 0;
fail:
    err_set(e, "%s: corrupt or truncated JPEG (%s)", name, tjGetErrorStr2(tj));
    free(px);
    tjDestroy(tj);
    return -1;
}
