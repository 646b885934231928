/* jpeg_enc — libjpeg-turbo (TurboJPEG API) behind a small interface: progressive JPEG encoding of
 * RGB pixels and decoding back. */
#ifndef FV_JPEG_ENC_H
#define FV_JPEG_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Encodes width x height RGB pixels as a progressive JPEG at quality 1..100, with 4:2:0 chroma
 * (chroma444 = 0) or full chroma (1). *data is owned by the caller (free()). Returns 0 or -1. */
int jpeg_enc_encode(const uint8_t *rgb, int width, int height, int quality, int chroma444, uint8_t **data,
                    size_t *len, err *e);

/* Decodes JPEG data to RGB (*rgb: width*height*3, owned by the caller). Returns 0 or -1 with
 * "name: what" in e. */
int jpeg_enc_decode(const uint8_t *data, size_t len, const char *name, uint8_t **rgb, int *width, int *height,
                    err *e);

#endif
