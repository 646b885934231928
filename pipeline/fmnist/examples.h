/* examples — dataset examples of a classifier's channels: runs a set of Fashion-MNIST images
 * through a TF.js graph model (the nn engine) and, for each channel of one layer, picks the
 * images that excite it most (top-k) and an activation spectrum; writes them as PNG tiles plus
 * a JSON listing. Also dumps a layer's per-image features for t-SNE. FORMAT.md (in this folder)
 * describes the output directory.
 *
 * A channel's value for an image: the mean of the channel over the layer's positions (a
 * convolution), or the unit itself (a dense layer, whose positions are 1x1). The model takes RGB
 * 0..255 (fv-train's models): a grey image is fed as R = G = B = pixel.
 *
 * Spectrum rule: five points over the channel's values v (all images): if min v < 0 < max v, the
 * targets are min, min/2, 0, max/2, max (named "min", "negative", "zero", "positive", "max"), else
 * five evenly spaced values from min to max ("min", "low", "mid", "high", "max"). Each point takes
 * the `spread` images whose values are nearest its target, an image at most once per channel's
 * spectrum; min and max choose first, then the middle point, then the other two. */
#ifndef FV_EXAMPLES_H
#define FV_EXAMPLES_H

#include <stdio.h>

#include "fmnist.h"
#include "util.h"

#define EXAMPLES_SPECTRUM 5

typedef struct examples_opts {
    const char *layer;   /* node name, optionally with ":preact" */
    int k;               /* top images per channel, 1..n images */
    int spread;          /* images per spectrum point, 1..100 */
    int scale;           /* tiles are 28*scale pixels square (nearest-neighbour upscaling), 1..16 */
    const int *channels; /* channels to list (NULL: all of the layer) */
    int n_channels;
    int examples;        /* write the tiles and examples.json */
    int features;        /* write features.fvf and labels.txt */
    int batch;           /* images per forward pass (e.g. 100) */
} examples_opts;

typedef enum examples_status { EXAMPLES_OK = 0, EXAMPLES_BAD_INPUT = 1, EXAMPLES_FAILED = 3 } examples_status;

/* Runs the images of s through the model (model_path: a directory holding one model JSON, or the
 * JSON itself) and writes out_dir (created as out_dir.tmp.<pid> and renamed when complete; an
 * existing out_dir is replaced). Progress lines go to log (may be NULL). Returns EXAMPLES_OK,
 * EXAMPLES_BAD_INPUT (bad model, unknown layer, k or channel out of range: nothing written) or
 * EXAMPLES_FAILED (I/O), with e set on failure. */
examples_status examples_run(const char *model_path, const fmnist_set *s, const char *out_dir,
                             const examples_opts *o, FILE *log, err *e);

/* The k largest of v[0..n) as indices into out (k ints, caller-owned), value descending, ties by
 * lower index. Requires 1 <= k <= n. */
void examples_top_k(const float *v, int n, int k, int *out);

/* The spectrum of v[0..n) (see the rule above): out receives EXAMPLES_SPECTRUM * spread indices
 * (point-major; -1 where n is too small to fill a slot), targets the five target values, names
 * the five point names (static strings). Requires n >= 1, spread >= 1. */
void examples_spectrum(const float *v, int n, int spread, int *out, float targets[EXAMPLES_SPECTRUM],
                       const char *names[EXAMPLES_SPECTRUM]);

#endif
