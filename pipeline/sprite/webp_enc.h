/* webp_enc — libwebp behind a small interface: lossy and lossless encoding from memory, and
 * decoding back (for the quality measure and the round-trip tests). */
#ifndef FV_WEBP_ENC_H
#define FV_WEBP_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Encodes width x height pixels (channels 3 or 4, interleaved) as lossy WebP at quality 0..100
 * (method 4, sharp RGB->YUV conversion, which keeps colourful edges). *data is a heap block owned
 * by the caller (free()). Returns 0 or -1 with e. */
int webp_enc_lossy(const uint8_t *px, int width, int height, int channels, int quality, uint8_t **data,
                   size_t *len, err *e);

/* Same, lossless (libwebp's preset `level` 0..9). Exact: colour under full transparency too. */
int webp_enc_lossless(const uint8_t *px, int width, int height, int channels, int level, uint8_t **data,
                      size_t *len, err *e);

/* Decodes WebP data into *px (width*height*channels, channels 3 or 4, owned by the caller).
 * Returns 0 or -1 with "name: what" in e. */
int webp_enc_decode(const uint8_t *data, size_t len, const char *name, int channels, uint8_t **px, int *width,
                    int *height, err *e);

#endif
