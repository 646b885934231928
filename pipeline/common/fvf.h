/* fvf — writes float matrices in the FVF1 format (pipeline/tsne/FORMAT.md): the magic "FVF1",
 * uint32 n (rows), uint32 d (columns), then n*d float32 row-major, all little-endian. fv-nn
 * profile, fv-examples --features and fv-tsne write it; tsne_io reads it. */
#ifndef FV_FVF_H
#define FV_FVF_H

#include <stddef.h>

#include "util.h"

/* Bytes before the values: the magic and the two counts. */
#define FVF_HEADER_BYTES 12

/* Writes the rows x cols matrix m (row-major, rows*cols floats) to path as FVF1, atomically
 * (write_file_atomic). Returns 0, or -1 with e naming path when a count does not fit in uint32 or
 * the file cannot be written (nothing is left behind). */
int fvf_write(const char *path, const float *m, size_t rows, size_t cols, err *e);

#endif
