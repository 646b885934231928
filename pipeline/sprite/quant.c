/* quant — see quant.h. libimagequant consumes a histogram when it quantizes it, so each quality
 * needs its own quantization; the palette for a quality is kept, because the dithered and the
 * plain searches ask for the same qualities. A fresh liq_image (a cheap wrapper around the
 * caller's pixels) is made for every call, since quantizing or remapping consumes its copy. */
#include "quant.h"

#include <libimagequant.h>
#include <stdlib.h>
#include <string.h>

struct quant_src {
    liq_attr *attr;
    const uint8_t *rgba;
    int width, height;
    liq_result *by_quality[101];
};

int quant_src_new(const uint8_t *rgba, int width, int height, int speed, quant_src **out, err *e)
{
    *out = NULL;
    quant_src *q = xcalloc(1, sizeof *q);
    q->width = width;
    q->height = height;
    q->rgba = rgba;
    q->attr = liq_attr_create();
    if (!q->attr || liq_set_speed(q->attr, speed < 1 ? 1 : speed > 10 ? 10 : speed) != LIQ_OK) {
        quant_src_free(q);
        return err_set(e, "quant: cannot initialise libimagequant");
    }
    *out = q;
    return 0;
}

int quant_remap(quant_src *q, int quality, float dither, uint8_t *indices, uint8_t palette[1024], int *n,
                err *e)
{
    quality = quality < 0 ? 0 : quality > 100 ? 100 : quality;
    liq_error rc = LIQ_OK;
    liq_image *img = liq_image_create_rgba(q->attr, q->rgba, q->width, q->height, 0);
    if (!img) return err_set(e, "quant: libimagequant cannot take a %dx%d image", q->width, q->height);
    liq_result *res = q->by_quality[quality];
    if (!res) {
        rc = liq_set_quality(q->attr, 0, quality);
        if (rc == LIQ_OK) rc = liq_image_quantize(img, q->attr, &res);
        if (rc == LIQ_OK) {
            q->by_quality[quality] = res;
            liq_image_destroy(img);
            img = liq_image_create_rgba(q->attr, q->rgba, q->width, q->height, 0);
            if (!img) return err_set(e, "quant: libimagequant cannot take a %dx%d image", q->width, q->height);
        }
    }
    if (rc == LIQ_OK) rc = liq_set_dithering_level(res, dither);
    if (rc == LIQ_OK) rc = liq_write_remapped_image(res, img, indices, (size_t)q->width * q->height);
    liq_image_destroy(img);
    if (rc != LIQ_OK) return err_set(e, "quant: libimagequant failed (error %d) at quality %d", (int)rc, quality);
    /* the palette is read after remapping: libimagequant refines it while remapping */
    const liq_palette *pal = liq_get_palette(res);
    *n = (int)pal->count;
    for (int i = 0; i < *n; i++) {
        palette[4 * i] = pal->entries[i].r;
        palette[4 * i + 1] = pal->entries[i].g;
        palette[4 * i + 2] = pal->entries[i].b;
        palette[4 * i + 3] = pal->entries[i].a;
    }
    return 0;
}

void quant_src_free(quant_src *q)
{
    if (!q) return;
    for (int i = 0; i <= 100; i++)
        if (q->by_quality[i]) liq_result_destroy(q->by_quality[i]);
    if (q->attr) liq_attr_destroy(q->attr);
    free(q);
}
