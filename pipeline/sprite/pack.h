/* pack — MaxRects rectangle packing into as many sheets as needed (Jylänki, "A Thousand Ways to
 * Pack the Bin", 2010).
 *
 * Each frame is packed with a ring of `padding` pixels around it (the caller fills the ring with
 * copies of the frame's border pixels, so bilinear scaling never reads a neighbour). The ring may
 * be cut off at the sheet's edges, where the browser clamps anyway. Every heuristic (best short
 * side, best long side, best area, bottom-left, contact point) is tried with several sort orders;
 * the layout with the fewest sheets, then the smallest total sheet area, is kept. Full sheets are
 * max_width x max_height before shrinking; the last sheet's size is searched (smallest area that
 * holds its frames). Every sheet is then shrunk to the bounding box of its frames (or rounded up
 * to powers of two with `pot`). Deterministic: the same sizes in the same order give the same
 * layout (sorts tie-break on the input index). */
#ifndef FV_PACK_H
#define FV_PACK_H

#include "util.h"

/* Packing limits. */
typedef struct pack_options {
    int max_width, max_height; /* largest sheet (default 4096 x 4096) */
    int padding;               /* extruded ring around each frame, pixels (default 2) */
    int pot;                   /* 1: sheet sides rounded up to powers of two (default 0) */
} pack_options;

/* The heuristics, in the order they are tried. */
typedef enum pack_heuristic {
    PACK_BSSF, /* best short side fit */
    PACK_BLSF, /* best long side fit */
    PACK_BAF,  /* best area fit */
    PACK_BL,   /* bottom-left (Tetris) */
    PACK_CP,   /* contact point (only for sheets of at most PACK_CP_MAX frames: it is O(n^2)) */
    PACK_HEURISTICS
} pack_heuristic;
#define PACK_CP_MAX 600

/* A finished layout (opaque). */
typedef struct pack_layout pack_layout;

/* Fills *o with the defaults above. */
void pack_options_default(pack_options *o);

/* Packs n frames of sizes sizes[2*i] x sizes[2*i+1] (pixels, both >= 1). On success *out is a new
 * layout owned by the caller (free with pack_layout_free) and 0 is returned. A frame of zero or
 * negative size, or one larger than the largest sheet, fails with -1 and "frame <i>: what" in e.
 * n == 0 gives a layout with no sheets. */
int pack_layout_new(const pack_options *o, const int *sizes, int n, pack_layout **out, err *e);

/* Number of sheets. */
int pack_layout_sheets(const pack_layout *l);

/* Size of sheet s (0 <= s < sheets), after shrinking. */
void pack_layout_sheet_size(const pack_layout *l, int s, int *width, int *height);

/* Where frame i (input order) went: its sheet and the top-left of its pixels (not of its ring). */
void pack_layout_frame(const pack_layout *l, int i, int *sheet, int *x, int *y);

/* Frame pixels / sheet pixels over all sheets (0..1; 1 for no sheets). */
double pack_layout_occupancy(const pack_layout *l);

/* The winning heuristic and sort order, e.g. "bssf/area" (static string owned by the layout). */
const char *pack_layout_method(const pack_layout *l);

/* Frees the layout; NULL is fine. */
void pack_layout_free(pack_layout *l);

#endif
