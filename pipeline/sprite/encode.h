/* encode — per sheet, the smallest encoding that meets a perceptual quality target.
 *
 * Candidates: palette PNG from libimagequant (with and without dithering), lossy WebP,
 * progressive JPEG (4:2:0 and 4:4:4), lossless PNG and lossless WebP. For each lossy format a
 * search on its quality parameter (see ATLAS.md) finds the lowest setting whose decoded image has
 * SSIM >= target against the lossless sheet (ssim.h: per channel, averaged); a format stops
 * being searched once a probe misses the target while already no smaller than the best so far,
 * since higher settings are larger still. Big sheets are searched on a proxy of tiles and the
 * result checked on the whole sheet. Lossless candidates have SSIM 1. The smallest passing
 * candidate wins. */
#ifndef FV_ENCODE_H
#define FV_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum encode_format {
    ENCODE_WEBP,          /* lossy WebP, quality 0..100 */
    ENCODE_JPEG,          /* progressive JPEG 4:2:0, quality 10..98 (RGB sheets only) */
    ENCODE_JPEG444,       /* progressive JPEG 4:4:4 (RGB sheets only) */
    ENCODE_PNG8,          /* palette PNG, libimagequant quality 0..100, no dithering */
    ENCODE_PNG8_DITHER,   /* the same with Floyd-Steinberg dithering */
    ENCODE_PNG,           /* lossless PNG (best of a few filter/zlib settings) */
    ENCODE_WEBP_LOSSLESS, /* lossless WebP */
    ENCODE_FORMATS
} encode_format;

typedef struct encode_options {
    double target;    /* SSIM target (default 0.97) */
    unsigned formats; /* bit 1u << f for each allowed encode_format (default: all) */
    int threads;      /* SSIM: 1 on the calling thread, else the common pool's threads (pool.h) */
    int quant_speed;  /* libimagequant speed 1..10 for the final palettes (default 10, the
                       * searches' own; 4, pngquant's default, saves about 5 % in 1.7x the time) */
} encode_options;

/* The best passing setting found for one format. */
typedef struct encode_best {
    int tried;     /* 1 when the format was searched */
    int met;       /* 1 when some setting met the target */
    int quality;   /* its quality (-1 for lossless) */
    size_t bytes;  /* its size; 0 when not met or pruned */
    double ssim;   /* its SSIM */
} encode_best;

typedef struct encode_result {
    encode_format format; /* the winner */
    int quality;          /* its quality parameter (-1: lossless) */
    double ssim;          /* SSIM of the decoded winner against the input (1 for lossless) */
    size_t bytes;
    uint8_t *data;        /* the encoded file, owned: free with encode_result_free */
    int probes;           /* encodes done in the search */
    encode_best per[ENCODE_FORMATS];
} encode_result;

/* Fills *o with the defaults above. */
void encode_options_default(encode_options *o);

/* Encodes the sheet px (width x height x channels, channels 3 or 4, interleaved) with the
 * smallest allowed format meeting o->target. Sheets under 11 pixels on a side (too small for the
 * SSIM window) only get lossless formats. Returns 0 with *out (owned), or -1 with e (also when no
 * allowed format meets the target). */
int encode_sheet(const encode_options *o, const uint8_t *px, int width, int height, int channels,
                 encode_result *out, err *e);

/* Decodes an encoded sheet (PNG, WebP or JPEG, told apart by content) into *px with `channels`
 * 3 or 4 (owned by the caller). Returns 0 or -1 with "name: what" in e. */
int encode_decode(const uint8_t *data, size_t len, const char *name, int channels, uint8_t **px, int *width,
                  int *height, err *e);

/* Short name ("webp", "jpeg", "jpeg444", "png8", "png8-dither", "png", "webp-lossless") and file
 * extension ("webp", "jpg", "png") of a format; static strings. */
const char *encode_format_name(encode_format f);
const char *encode_format_ext(encode_format f);

/* Parses a comma-separated list of format names into a bit set. Returns 0, or -1 with e naming
 * the unknown format. */
int encode_formats_parse(const char *list, unsigned *formats, err *e);

/* Frees the data and zeroes the result. */
void encode_result_free(encode_result *r);

#endif
