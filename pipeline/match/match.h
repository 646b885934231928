/* match — do two networks learn the same units? Given one layer's activations of two networks on
 * the same images (a: n x da, b: n x db, one value per image and unit, e.g. fv-examples'
 * features.fvf), the Pearson correlation of every pair of units across the images, and the
 * one-to-one assignment of a's units to b's that maximizes the summed correlation (Li et al.
 * 2015's "bipartite" matching), solved exactly by the project's one LAPJV (tsne_grid.h).
 *
 * A unit whose value is the same on every image (a dead ReLU) has no correlation with anything:
 * its correlations are defined as 0, and match_correlate counts such units. */
#ifndef FV_MATCH_H
#define FV_MATCH_H

#include <stddef.h>

#include "util.h"

/* corr (da x db, caller-allocated, row-major): corr[i*db + j] = Pearson correlation of column i
 * of a and column j of b over the n rows (a: n x da, b: n x db, row-major). Sums in double (BLAS
 * dgemm on the standardized columns). *constant_a, *constant_b (may be NULL) receive how many
 * columns are constant; their correlations are 0. Returns 0, or -1 with e when n < 2, da < 1 or
 * db < 1. */
int match_correlate(const float *a, const float *b, size_t n, int da, int db, double *corr, int *constant_a,
                    int *constant_b, err *e);

/* The one-to-one assignment maximizing sum_i corr[i][assign[i]] (corr: na x nb, na <= nb,
 * finite). assign: na column indices (caller-allocated, distinct); *total (may be NULL) the sum.
 * Returns 0, or -1 with e (na > nb, a value not finite). */
int match_assign(const double *corr, int na, int nb, int *assign, double *total, err *e);

/* The order of the na pairs by their correlation r[i] = corr[i][assign[i]], highest first, ties
 * by lower i, into order (na ints, caller-allocated). */
void match_order(const double *corr, int na, int nb, const int *assign, int *order);

#endif
