/* fv_render — runs a recipe on the network and publishes its images and sidecar.
 *
 * Output directory layout (all published at once: everything is written into a sibling
 * "<out>.tmp.<pid>" directory that replaces <out> by rename at the end; a failed run leaves
 * <out> as it was):
 *   image_<b>.png              final image of batch element b (size x size, RGB8)
 *   step<SSSS>_<b>.png         image of element b after SSSS steps, per requested snapshot
 *   render.json                the recipe with defaults filled, model sha256, network input size,
 *                              objective curve, final objective values, wall time
 * The PNGs depend only on the recipe (and the machine's floating point): same recipe, same bytes. */
#ifndef FV_RENDER_H
#define FV_RENDER_H

#include "fv_recipe.h"
#include "util.h"

/* Outcome of a render, mapped by the tool to its exit code. */
typedef enum fv_render_status {
    FV_RENDER_OK = 0,
    FV_RENDER_BAD_INPUT = 1, /* the recipe does not fit the model (layer, channel, ...), or bad model files */
    FV_RENDER_FAILED = 3     /* I/O or internal failure */
} fv_render_status;

typedef struct fv_render_opts {
    int progress;  /* 1: one progress line per log_every steps on stderr (step, objective, time left) */
    int threads;   /* thread count for the network (>= 1) */
} fv_render_opts;

/* Renders recipe r into out_dir (created if missing, replaced if present). Returns FV_RENDER_OK, or
 * another status with one line in e naming the recipe file and field (bad input) or the path (I/O). */
fv_render_status fv_render(const fv_recipe *r, const char *out_dir, const fv_render_opts *o, err *e);

#endif
