/* tsne_grid — snapping a 2-D embedding to a grid of cells, one point per cell, by solving the
 * linear assignment problem exactly (Jonker-Volgenant's LAPJV: column reduction
 * with reduction transfer, then shortest augmenting paths; tsne_grid.c says why JV's augmenting
 * row reduction is left out).
 *
 * Cells are numbered row-major: cell = row * cols + col, row 0 at the top. */
#ifndef FV_TSNE_GRID_H
#define FV_TSNE_GRID_H

#include <stddef.h>

#include "util.h"

/* Solves min sum_i cost[i][assign[i]] over injective assignments of n rows to m >= n columns.
 * cost: n x m row-major doubles (finite). assign: caller-allocated, n column indices (distinct).
 * Returns 0 (and the optimal total in *total, if total is non-NULL), or -1 with e when m < n,
 * n < 1 or a cost is not finite. O(m^2) memory, O(m^3) time in the worst case. */
int tsne_grid_lapjv(const double *cost, int n, int m, int *assign, double *total, err *e);

/* Assigns the n points of y (n x 2, row-major: x then y) to cells of a rows x cols grid
 * (rows*cols >= n) minimising the sum of squared distances after scaling the embedding's bounding
 * box onto the grid's extent (x to columns, y to rows; cell centres at (c+0.5)/cols, (r+0.5)/rows).
 * cell: caller-allocated, n cell indices (row-major numbering). Returns 0, or -1 with e. */
int tsne_grid_snap(const float *y, int n, int rows, int cols, int *cell, err *e);

#endif
