/* png_io — see png_io.h. libpng's full API with setjmp error handling, so that every problem
 * (bad CRC, truncation, unsupported chunk) becomes one line of text instead of an abort. */
#include "png_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Largest image read: 32768 pixels a side and 64 megapixels in all (8192 x 8192, 256 MB as
 * RGBA): the pixels are allocated before any data is read. */
#define PNG_IO_MAX_SIDE 32768
#define PNG_IO_MAX_PIXELS ((uint64_t)1 << 26)

/* The per-call context libpng's callbacks see: where to read from, where to report. */
typedef struct ctx {
    const char *name;
    const uint8_t *data;
    size_t len, pos;
    buf out;
    char msg[256];
    int too_large; /* msg is a whole sentence about the size, not libpng's words on corruption */
    jmp_buf jmp;
} ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jmp, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (e.g. a bad iCCP profile) do not stop a valid image */
}

static void read_mem(png_structp png, png_bytep dst, size_t n)
{
    ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "file is truncated");
    memcpy(dst, c->data + c->pos, n);
    c->pos += n;
}

static void write_mem(png_structp png, png_bytep src, size_t n)
{
    ctx *c = png_get_io_ptr(png);
    buf_put(&c->out, (const char *)src, n);
}

static void flush_mem(png_structp png) { (void)png; }

/* Volatile: these locals are changed between setjmp and a possible longjmp. */
int png_io_read_mem(const void *data, size_t len, const char *name, int channels, png_io_image *out,
                    err *e)
{
    memset(out, 0, sizeof *out);
    if (channels != 3 && channels != 4) return err_set(e, "%s: channels must be 3 or 4", name);
    if (len < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0)
        return err_set(e, "%s: not a PNG file (bad signature)", name);
    ctx c = {.name = name, .data = data, .len = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return err_set(e, "%s: cannot initialise libpng", name);
    }
    if (setjmp(c.jmp)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        if (c.too_large) return err_set(e, "%s: %s", name, c.msg);
        return err_set(e, "%s: corrupt PNG (%s)", name, c.msg);
    }
    png_set_read_fn(png, &c, read_mem);
    /* libpng's own cap (a million pixels a side) would call a large image "invalid": lift it,
     * so that every oversized image gets the message below. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    /* A well-formed image that is too large is not corrupt: say the size and the limit. Without
     * a cap on the area, a 100-byte file claiming 32768 x 32768 asked for 4 GB before a single
     * pixel was read (tests/fuzz/regressions/png). libpng refuses a zero side itself. */
    if (w > PNG_IO_MAX_SIDE || h > PNG_IO_MAX_SIDE || (uint64_t)w * h > PNG_IO_MAX_PIXELS) {
        snprintf(c.msg, sizeof c.msg,
                 "%ux%u pixels is larger than the limit of %d pixels a side and %d megapixels "
                 "(expected a smaller image)",
                 (unsigned)w, (unsigned)h, PNG_IO_MAX_SIDE, (int)(PNG_IO_MAX_PIXELS >> 20));
        c.too_large = 1;
        longjmp(c.jmp, 1);
    }
    int color = png_get_color_type(png, info);
    png_set_expand(png);          /* palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha */
    png_set_strip_16(png);        /* 16-bit -> 8-bit */
    png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    int has_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    if (!has_alpha) png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) png_error(png, "unexpected row layout");
    pixels = xmalloc((size_t)w * h * 4);
    rows = xmalloc(sizeof(png_bytep) * h);
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);

    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    if (channels == 3) {
        /* Composite on white: transparent regions of a figure sit on the page's white. */
        uint8_t *rgb = xmalloc((size_t)w * h * 3);
        for (size_t i = 0; i < (size_t)w * h; i++) {
            unsigned a = pixels[4 * i + 3];
            for (int k = 0; k < 3; k++)
                rgb[3 * i + k] = (uint8_t)((pixels[4 * i + k] * a + 255 * (255 - a) + 127) / 255);
        }
        free(pixels);
        out->pixels = rgb;
    } else {
        out->pixels = pixels;
    }
    return 0;
}

int png_io_read(const char *path, int channels, png_io_image *out, err *e)
{
    char *data;
    size_t len;
    memset(out, 0, sizeof *out);
    if (read_file(path, &data, &len, e) != 0) return -1;
    int rc = png_io_read_mem(data, len, path, channels, out, e);
    free(data);
    return rc;
}

int png_io_size(const char *path, int *width, int *height, err *e)
{
    unsigned char h[24];
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open", path);
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < 24 || png_sig_cmp(h, 0, 8) != 0 || memcmp(h + 12, "IHDR", 4) != 0)
        return err_set(e, "%s: not a PNG file (bad signature or header)", path);
    *width = (int)((uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 | (uint32_t)h[18] << 8 | h[19]);
    *height = (int)((uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 | (uint32_t)h[22] << 8 | h[23]);
    return 0;
}

int png_io_encode(const png_io_image *img, int level, uint8_t **data, size_t *len, err *e)
{
    return png_io_encode_ex(img, level, -1, -1, data, len, e);
}

/* The shared writer: either img (RGB/RGBA) or an indexed image (indices + palette). */
static int encode(const png_io_image *img, int width, int height, const uint8_t *indices,
                  const uint8_t *palette, int n, int level, int filter, int strategy, uint8_t **data,
                  size_t *len, err *e)
{
    *data = NULL;
    *len = 0;
    if (width <= 0 || height <= 0) return err_set(e, "png encode: empty image");
    if (filter < -1 || filter > 4) return err_set(e, "png encode: filter must be -1..4, not %d", filter);
    ctx c = {.name = "png encode"};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile packed = NULL;
    if (!png || !info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        return err_set(e, "png encode: cannot initialise libpng");
    }
    if (setjmp(c.jmp)) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        free(packed);
        buf_free(&c.out);
        return err_set(e, "png encode: %s", c.msg);
    }
    png_set_write_fn(png, &c, write_mem, flush_mem);
    if (level >= 0) png_set_compression_level(png, level > 9 ? 9 : level);
    if (strategy >= 0) png_set_compression_strategy(png, strategy);
    static const int one[5] = {PNG_FILTER_NONE, PNG_FILTER_SUB, PNG_FILTER_UP, PNG_FILTER_AVG,
                               PNG_FILTER_PAETH};
    png_set_filter(png, PNG_FILTER_TYPE_BASE, indices ? PNG_FILTER_NONE : filter < 0 ? PNG_ALL_FILTERS : one[filter]);
    rows = xmalloc(sizeof(png_bytep) * (size_t)height);
    if (indices) {
        int depth = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8, ntrns = 0;
        png_color pal[256];
        png_byte trns[256];
        for (int i = 0; i < n; i++) {
            pal[i] = (png_color){palette[4 * i], palette[4 * i + 1], palette[4 * i + 2]};
            trns[i] = palette[4 * i + 3];
            if (trns[i] != 255) ntrns = i + 1;
        }
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, PNG_COLOR_TYPE_PALETTE,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_PLTE(png, info, pal, n);
        if (ntrns) png_set_tRNS(png, info, trns, ntrns, NULL);
        /* pack 8/depth pixels per byte, high bits first */
        size_t stride = ((size_t)width * depth + 7) / 8;
        packed = xcalloc(stride * (size_t)height, 1);
        for (int y = 0; y < height; y++) {
            const uint8_t *src = indices + (size_t)y * width;
            uint8_t *dst = packed + stride * y;
            for (int x = 0; x < width; x++) {
                int bit = x * depth;
                dst[bit >> 3] |= (uint8_t)(src[x] << (8 - depth - (bit & 7)));
            }
            rows[y] = dst;
        }
    } else {
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                     img->channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        for (int y = 0; y < height; y++) rows[y] = img->pixels + (size_t)y * width * img->channels;
    }
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(packed);
    *len = c.out.len;
    *data = (uint8_t *)buf_detach(&c.out);
    return 0;
}

int png_io_encode_ex(const png_io_image *img, int level, int filter, int strategy, uint8_t **data,
                     size_t *len, err *e)
{
    if (img->channels != 3 && img->channels != 4) {
        *data = NULL;
        *len = 0;
        return err_set(e, "png encode: channels must be 3 or 4, not %d", img->channels);
    }
    return encode(img, img->width, img->height, NULL, NULL, 0, level, filter, strategy, data, len, e);
}

int png_io_encode_palette(int width, int height, const uint8_t *indices, const uint8_t *palette, int n,
                          int level, uint8_t **data, size_t *len, err *e)
{
    if (n < 1 || n > 256) {
        *data = NULL;
        *len = 0;
        return err_set(e, "png encode: palette of %d entries (expected 1..256)", n);
    }
    for (size_t i = 0; i < (size_t)width * (size_t)(height > 0 ? height : 0); i++)
        if (indices[i] >= n) {
            *data = NULL;
            *len = 0;
            return err_set(e, "png encode: index %d at pixel %zu is outside the palette of %d", indices[i], i, n);
        }
    return encode(NULL, width, height, indices, palette, n, level, 0, Z_DEFAULT_STRATEGY, data, len, e);
}

int png_io_write(const char *path, const png_io_image *img, int level, err *e)
{
    uint8_t *data;
    size_t len;
    if (png_io_encode(img, level, &data, &len, e) != 0) {
        char inner[sizeof e->msg];
        snprintf(inner, sizeof inner, "%s", e ? e->msg : "");
        return err_set(e, "%s: %s", path, inner);
    }
    int rc = write_file_atomic(path, data, len, e);
    free(data);
    return rc;
}

void png_io_image_free(png_io_image *img)
{
    free(img->pixels);
    memset(img, 0, sizeof *img);
}
