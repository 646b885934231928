/* mosaic — the t-SNE map of Fashion-MNIST as one image: test image i drawn in the grid cell that
 * fv-gridsnap gave it, tinted with its class's colour on white (the garment in colour, the
 * background white), so that the classes' regions show at a glance. */
#ifndef FV_MOSAIC_H
#define FV_MOSAIC_H

#include "png_io.h"
#include "util.h"

/* The colour of class c (0..9) as 0xRRGGBB: a ten-colour qualitative palette. */
unsigned mosaic_class_color(int c);

/* Reads cells_path (fv-gridsnap output: "row<TAB>col" per line, line i = test image i) and the
 * Fashion-MNIST test set from data_dir, and draws the mosaic into *out (RGB, owned by the caller:
 * png_io_image_free). Returns 0, or -1 with "file:line: what" in e (a cell used twice, a line
 * that is not two numbers, more lines than test images). */
int mosaic_draw(const char *cells_path, const char *data_dir, png_io_image *out, err *e);

#endif
