/* webp_enc — see webp_enc.h. The advanced API (WebPConfig), because the simple one offers
 * neither sharp YUV nor the exact flag. */
#include "webp_enc.h"

#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/encode.h>

static int run(const uint8_t *px, int width, int height, int channels, WebPConfig *cfg, uint8_t **data,
               size_t *len, err *e)
{
    *data = NULL;
    *len = 0;
    if (channels != 3 && channels != 4) return err_set(e, "webp encode: channels must be 3 or 4");
    if (!WebPValidateConfig(cfg)) return err_set(e, "webp encode: invalid configuration");
    WebPPicture pic;
    WebPMemoryWriter w;
    if (!WebPPictureInit(&pic)) return err_set(e, "webp encode: library version mismatch");
    pic.use_argb = cfg->lossless || cfg->use_sharp_yuv;
    pic.width = width;
    pic.height = height;
    int ok = channels == 4 ? WebPPictureImportRGBA(&pic, px, width * 4) : WebPPictureImportRGB(&pic, px, width * 3);
    if (!ok) {
        WebPPictureFree(&pic);
        return err_set(e, "webp encode: cannot import a %dx%d image", width, height);
    }
    WebPMemoryWriterInit(&w);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &w;
    ok = WebPEncode(cfg, &pic);
    int code = pic.error_code;
    WebPPictureFree(&pic);
    if (!ok) {
        WebPMemoryWriterClear(&w);
        return err_set(e, "webp encode: failed (libwebp error %d)", code);
    }
    *data = w.mem; /* allocated with WebPMalloc = malloc */
    *len = w.size;
    return 0;
}

int webp_enc_lossy(const uint8_t *px, int width, int height, int channels, int quality, uint8_t **data,
                   size_t *len, err *e)
{
    WebPConfig cfg;
    if (!WebPConfigPreset(&cfg, WEBP_PRESET_DEFAULT, (float)quality)) return err_set(e, "webp: bad version");
    cfg.method = 4;
    cfg.use_sharp_yuv = 1;
    return run(px, width, height, channels, &cfg, data, len, e);
}

int webp_enc_lossless(const uint8_t *px, int width, int height, int channels, int level, uint8_t **data,
                      size_t *len, err *e)
{
    WebPConfig cfg;
    if (!WebPConfigInit(&cfg) || !WebPConfigLosslessPreset(&cfg, level)) return err_set(e, "webp: bad version");
    cfg.exact = 1;
    return run(px, width, height, channels, &cfg, data, len, e);
}

int webp_enc_decode(const uint8_t *data, size_t len, const char *name, int channels, uint8_t **px, int *width,
                    int *height, err *e)
{
    *px = NULL;
    if (channels != 3 && channels != 4) return err_set(e, "%s: channels must be 3 or 4", name);
    if (!WebPGetInfo(data, len, width, height)) return err_set(e, "%s: corrupt or truncated WebP", name);
    uint8_t *out = channels == 4 ? WebPDecodeRGBA(data, len, width, height) : WebPDecodeRGB(data, len, width, height);
    if (!out) return err_set(e, "%s: corrupt or truncated WebP", name);
    /* copy into our allocator's memory, so callers free() it like everything else */
    size_t n = (size_t)*width * *height * channels;
    *px = xmalloc(n);
    memcpy(*px, out, n);
    WebPFree(out);
    return 0;
}
