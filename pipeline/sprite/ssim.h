/* ssim — structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) as the encoders' quality
 * measure: 11x11 Gaussian window (sigma 1.5, truncated at 3.5 sigma, normalised), K1 = 0.01,
 * K2 = 0.03, dynamic range 255, population (not sample) covariances. The SSIM map is averaged over
 * the pixels whose whole window lies inside the image (5 pixels in from every edge), then over the
 * channels: per channel, not luma, so that a colour shift (chroma subsampling of a colourful
 * visualization) counts. This equals scikit-image's structural_similarity(gaussian_weights=True,
 * sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1).
 *
 * Four-channel images are compared as they look on the page: RGB composited over white, plus the
 * alpha channel as a fourth channel, so colour hidden under full transparency does not count. */
#ifndef FV_SSIM_H
#define FV_SSIM_H

#include <stdint.h>

#include "util.h"

/* Mean SSIM of a and b: both width x height x channels bytes, interleaved, row-major, channels
 * 1..4 (4: RGBA, see above). Both sides must be at least 11 pixels. threads 1: on the calling
 * thread; otherwise the tiles go to the common pool (pool.h: as many threads as pool_set_threads
 * gave it; inline when called from inside a pool loop). The value does not depend on the threads.
 * Returns 0 with *out in [-1, 1], or -1 with e. */
int ssim_compute(const uint8_t *a, const uint8_t *b, int width, int height, int channels, int threads,
                 double *out, err *e);

/* The thread count for work we parallelise: FV_THREADS when set (>= 1), else the cores. */
int ssim_threads(void);

#endif
