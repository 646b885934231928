/* quant — libimagequant behind a small interface: palettes for several quality targets of one
 * RGBA image (the search in encode.c asks for many), each remapped with or without dithering. */
#ifndef FV_QUANT_H
#define FV_QUANT_H

#include <stdint.h>

#include "util.h"

/* An image prepared for quantization (opaque). */
typedef struct quant_src quant_src;

/* Prepares width x height RGBA pixels (borrowed: they must outlive the quant_src). speed 1..10
 * (libimagequant's trade-off; 4 is pngquant's default). Returns 0 with *out owned by the caller,
 * or -1 with e. */
int quant_src_new(const uint8_t *rgba, int width, int height, int speed, quant_src **out, err *e);

/* Makes a palette of at most 256 colours for libimagequant's quality target `quality` (0..100;
 * the fewest colours that reach it) and remaps the image with Floyd-Steinberg dithering of
 * strength `dither` (0: none, 1: full). Writes width*height indices to `indices` (caller's
 * buffer), the palette to palette[0..4*n) (RGBA, transparent entries first) and *n. Returns 0,
 * or -1 with e. */
int quant_remap(quant_src *q, int quality, float dither, uint8_t *indices, uint8_t palette[1024], int *n,
                err *e);

/* Frees q; NULL is fine. */
void quant_src_free(quant_src *q);

#endif
