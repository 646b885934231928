/* svg — decides whether an author's SVG may be published: the only file that uses libxml2.
 *
 * A published SVG can be opened on its own (its URL typed in), and then it is a document of the
 * site's origin: a script in it runs with the site's rights. So the file is parsed as XML (no
 * DOCTYPE, no entities, no network) and every element, attribute and style sheet is checked
 * against an allowlist of the static drawing subset of SVG 1.1: shapes, text, gradients,
 * patterns, clip paths, masks, markers, <use> and url() only towards "#id" inside the file, no
 * script, event attribute, animation, <foreignObject>, <image>, link, @-rule or CSS escape.
 * Sizes: width/height in px (or unitless) and viewBox sizes are finite numbers from 0 to 32768. */
#ifndef FV_SVG_H
#define FV_SVG_H

#include <stddef.h>

#include "util.h"

/* Checks data[0..len) (named path in errors). Returns 0 with the size in pixels in *width and
 * *height (from width/height, else from the viewBox; 0 when neither gives one), or -1 with
 * "path:line: what is wrong (what was expected)" in e. */
int svg_check(const char *path, const unsigned char *data, size_t len, int *width, int *height, err *e);

#endif
