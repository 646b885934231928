/* tsne_io — feature matrices on disk: the FVF1 binary format, text (CSV / TSV / spaces) and IDX
 * images (pixels as features). The formats are described in pipeline/tsne/FORMAT.md.
 *
 * Every reader checks the whole file (sizes against the header, numbers parse, equal column
 * counts, every value finite) and fails with one line "path[:line]: what is wrong (expected)".
 * Writers go through write_file_atomic, so no reader sees half a file. */
#ifndef FV_TSNE_IO_H
#define FV_TSNE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* A dense row-major matrix of n rows (points) by d columns (features), float32. */
typedef struct tsne_mat {
    size_t n;
    int d;
    float *v; /* n*d values, owned: free with tsne_mat_free */
} tsne_mat;

/* Frees m->v and zeroes m; NULL or an empty matrix is allowed. */
void tsne_mat_free(tsne_mat *m);

/* Reads a feature file: FVF1 binary if it starts with the magic "FVF1", else text, one point per
 * line, values separated by commas, tabs or spaces ('#' lines and empty lines are skipped).
 * On success *out owns the values. Returns 0, or -1 with e. */
int tsne_io_read(const char *path, tsne_mat *out, err *e);

/* Reads an IDX image file (gzip or plain) as n points of rows*cols features, pixel/255.
 * Returns 0, or -1 with e (from the idx module). */
int tsne_io_read_idx(const char *path, tsne_mat *out, err *e);

/* Appends the rows of b to a (same d required; a may be empty). Frees b's values. Returns 0, or -1
 * with e naming `what` when the column counts differ. */
int tsne_io_append(tsne_mat *a, tsne_mat *b, const char *what, err *e);

/* Writes m as FVF1 through fvf_write (fvf.h). Returns 0 or -1 with e. */
int tsne_io_write_fvf(const char *path, const tsne_mat *m, err *e);

/* Writes m as text: one row per line, values separated by tabs, printed with %.9g (exact float
 * round trip). Returns 0 or -1 with e. */
int tsne_io_write_tsv(const char *path, const tsne_mat *m, err *e);

#endif
