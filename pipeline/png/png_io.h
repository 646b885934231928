/* png_io — the only module that talks to libpng.
 *
 * Images in memory are 8-bit, interleaved, row-major, no padding: width*height*channels bytes,
 * channels 3 (RGB) or 4 (RGBA). Any PNG on disk is accepted on reading (grey, palette, 16-bit,
 * alpha, interlaced) and converted. */
#ifndef FV_PNG_IO_H
#define FV_PNG_IO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct png_io_image {
    int width, height, channels; /* channels: 3 or 4 */
    uint8_t *pixels;             /* owned: free with png_io_image_free */
} png_io_image;

/* Reads the PNG at path into *out with `channels` (3: alpha composited on white; 4: RGBA).
 * A corrupt, truncated or non-PNG file fails with "path: what is wrong" in e, an image over
 * 32768 pixels a side or 64 megapixels with its size and the limit. Returns 0 or -1. */
int png_io_read(const char *path, int channels, png_io_image *out, err *e);

/* Same, from memory; `name` is used in error messages. */
int png_io_read_mem(const void *data, size_t len, const char *name, int channels, png_io_image *out,
                    err *e);

/* Reads only the header: width and height. Returns 0 or -1 with e. */
int png_io_size(const char *path, int *width, int *height, err *e);

/* Writes img to path atomically (path.tmp + rename), zlib level 0..9 (-1: default).
 * Returns 0 or -1 with e; nothing is left at path on failure. */
int png_io_write(const char *path, const png_io_image *img, int level, err *e);

/* Encodes img to a heap PNG (*data owned by the caller). Returns 0 or -1 with e. */
int png_io_encode(const png_io_image *img, int level, uint8_t **data, size_t *len, err *e);

/* Encodes img losslessly with control over the trade-offs: filter -1 lets libpng choose per row
 * (adaptive, all five filters), 0..4 forces one filter (0: none, 1: sub, 2: up, 3: average,
 * 4: Paeth); strategy is a zlib strategy (0 default, 1 filtered,
 * 3 RLE; -1 libpng's choice); level 0..9. *data is
 * owned by the caller. Returns 0 or -1 with e. */
int png_io_encode_ex(const png_io_image *img, int level, int filter, int strategy, uint8_t **data,
                     size_t *len, err *e);

/* Encodes an indexed image: indices (width*height bytes, row-major, each < n) and n palette
 * entries (palette: n*4 bytes RGBA, 1 <= n <= 256). Writes PLTE and, when an entry is not opaque,
 * tRNS up to the last such entry (put transparent entries first for the shortest tRNS); the bit
 * depth is the smallest of 1, 2, 4, 8 that holds n; no filtering (right for palette data).
 * *data is owned by the caller. Returns 0 or -1 with e. */
int png_io_encode_palette(int width, int height, const uint8_t *indices, const uint8_t *palette, int n,
                          int level, uint8_t **data, size_t *len, err *e);

/* Frees the pixels and zeroes the struct. */
void png_io_image_free(png_io_image *img);

#endif
