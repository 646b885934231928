/* fv-gridsnap — put the points of a 2-D embedding on a grid, one per cell, minimising the total
 * squared displacement exactly (LAPJV; a thin main over tsne_grid.h).
 *
 *   fv-gridsnap EMBEDDING --rows R --cols C -o CELLS.tsv [--json REPORT.json]
 *
 * EMBEDDING: FVF1 or text with 2 values per point (fv-tsne's -o or --tsv). The embedding's
 * bounding box is scaled onto the grid: x to columns, y to rows (row 0 at the top of the box's
 * smallest y). CELLS.tsv: one line per point, "row<TAB>col". The JSON report gives the grid, the
 * mean squared displacement in cell units and the solve time.
 *
 * Exit codes: 0 ok, 1 bad input, 2 usage, 3 internal or I/O error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsne_grid.h"
#include "tsne_io.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fv-gridsnap EMBEDDING --rows R --cols C -o CELLS.tsv [--json REPORT.json]\n"
               "Assigns each point of a 2-D embedding (FVF1 or text) to its own grid cell, minimising the\n"
               "sum of squared distances (exact linear assignment). Output: row<TAB>col per point.\n"
               "Exit codes: 0 ok, 1 bad input, 2 usage, 3 internal/IO error.\n");
}

int main(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *json = NULL;
    int rows = 0, cols = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--rows") || !strcmp(a, "--cols") || !strcmp(a, "-o") || !strcmp(a, "--json")) {
            if (!val) {
                fprintf(stderr, "fv-gridsnap: %s needs a value\n", a);
                return 2;
            }
            i++;
            if (!strcmp(a, "-o")) out = val;
            else if (!strcmp(a, "--json")) json = val;
            else {
                long v;
                err bad;
                if (parse_int(a, val, 1, 10000, &v, &bad) != 0) {
                    fprintf(stderr, "fv-gridsnap: %s\n", bad.msg);
                    return 2;
                }
                *(!strcmp(a, "--rows") ? &rows : &cols) = (int)v;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fv-gridsnap: unknown option %s (see --help)\n", a);
            return 2;
        } else if (!in) {
            in = a;
        } else {
            fprintf(stderr, "fv-gridsnap: one embedding only (got '%s' and '%s')\n", in, a);
            return 2;
        }
    }
    if (!in || !out || !rows || !cols) {
        usage(stderr);
        return 2;
    }
    err e = {{0}};
    tsne_mat y = {0};
    int *cell = NULL, rc = 1;
    buf b = {0};
    if (tsne_io_read(in, &y, &e) != 0) goto done;
    if (y.d != 2) {
        err_set(&e, "%s: %d values per point (expected 2: an embedding)", in, y.d);
        goto done;
    }
    if (y.n > 40000) {
        err_set(&e, "%s: %zu points (expected at most 40000)", in, y.n);
        goto done;
    }
    cell = xmalloc(sizeof(int) * (y.n ? y.n : 1));
    double t0 = now_seconds();
    if (tsne_grid_snap(y.v, (int)y.n, rows, cols, cell, &e) != 0) {
        err e2;
        err_set(&e2, "%s: %s", in, e.msg);
        e = e2;
        goto done;
    }
    double seconds = now_seconds() - t0;
    for (size_t i = 0; i < y.n; i++) buf_printf(&b, "%d\t%d\n", cell[i] / cols, cell[i] % cols);
    rc = 3;
    if (write_file_atomic(out, b.data, b.len, &e) != 0) goto done;
    if (json) {
        /* Mean squared displacement in cell units, in the same normalisation as the cost. */
        float minx = y.v[0], maxx = y.v[0], miny = y.v[1], maxy = y.v[1];
        for (size_t i = 0; i < y.n; i++) {
            minx = y.v[2 * i] < minx ? y.v[2 * i] : minx;
            maxx = y.v[2 * i] > maxx ? y.v[2 * i] : maxx;
            miny = y.v[2 * i + 1] < miny ? y.v[2 * i + 1] : miny;
            maxy = y.v[2 * i + 1] > maxy ? y.v[2 * i + 1] : maxy;
        }
        double msd = 0;
        for (size_t i = 0; i < y.n; i++) {
            double px = maxx > minx ? (y.v[2 * i] - minx) / (maxx - minx) * cols : 0;
            double py = maxy > miny ? (y.v[2 * i + 1] - miny) / (maxy - miny) * rows : 0;
            double dx = px - (cell[i] % cols + 0.5), dy = py - (cell[i] / cols + 0.5);
            msd += dx * dx + dy * dy;
        }
        buf j = {0};
        buf_printf(&j, "{\n  \"tool\": \"fv-gridsnap 1\",\n  \"n\": %zu,\n  \"rows\": %d,\n  \"cols\": %d,\n"
                       "  \"mean_squared_displacement_cells\": %.6g,\n  \"seconds\": %.3f\n}\n",
                   y.n, rows, cols, msd / (double)y.n,
                   seconds);
        int wr = write_file_atomic(json, j.data, j.len, &e);
        buf_free(&j);
        if (wr != 0) goto done;
    }
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "%s\n", e.msg);
    buf_free(&b);
    free(cell);
    tsne_mat_free(&y);
    return rc;
}
