/* tsne_grid — LAPJV (Jonker & Volgenant 1987, "A shortest augmenting path algorithm for dense and
 * sparse linear assignment problems") on a dense square matrix, and grid snapping over it. */
#include "tsne_grid.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIG DBL_MAX

/* Where the square problem's costs come from: a dense matrix (rows >= n_real are zero dummy
 * rows), or the geometry of points and cell centres, computed a row at a time. Computing rows on
 * the fly keeps the solver's working set at a few arrays of m doubles (in cache) instead of an
 * m x m matrix streamed from memory on every row scan: about 5x faster on 2500 cells. */
typedef struct cost_src {
    int m, n_real;
    const double *dense; /* (n_real, m) or NULL */
    const double *px, *py, *cx, *cy;
    double shift;        /* subtracted from every real cost (keeps them >= 0) */
    double *zero;        /* m zeros: the dummy rows */
} cost_src;

/* Cost of (i, j) in the square problem. */
static inline double cost_at(const cost_src *cs, int i, int j)
{
    if (i >= cs->n_real) return 0;
    if (cs->dense) return cs->dense[(size_t)i * (size_t)cs->m + (size_t)j] - cs->shift;
    double dx = cs->px[i] - cs->cx[j], dy = cs->py[i] - cs->cy[j];
    return dx * dx + dy * dy;
}

/* Row i of the square cost matrix; may point into scratch (m doubles). */
static const double *get_row(const cost_src *cs, int i, double *scratch)
{
    if (i >= cs->n_real) return cs->zero;
    if (cs->dense) {
        const double *r = cs->dense + (size_t)i * (size_t)cs->m;
        for (int j = 0; j < cs->m; j++) scratch[j] = r[j] - cs->shift;
        return scratch;
    }
    double x = cs->px[i], y = cs->py[i];
    for (int j = 0; j < cs->m; j++) {
        double dx = x - cs->cx[j], dy = y - cs->cy[j];
        scratch[j] = dx * dx + dy * dy;
    }
    return scratch;
}

/* Column reduction and reduction transfer. x: row -> column, y: column -> row, v: column duals.
 * Fills free_rows with the rows left unassigned and returns their count. (c: (n, n)) */
static int column_reduction(int n, const cost_src *c, int *free_rows, int *x, int *y, double *v, double *scratch)
{
    char *unique = xmalloc((size_t)n);
    memset(unique, 1, (size_t)n);
    for (int i = 0; i < n; i++) {
        x[i] = -1;
        v[i] = BIG;
        y[i] = 0;
    }
    for (int i = 0; i < n; i++) {
        const double *row = get_row(c, i, scratch);
        for (int j = 0; j < n; j++)
            if (row[j] < v[j]) {
                v[j] = row[j];
                y[j] = i;
            }
    }
    for (int j = n - 1; j >= 0; j--) {
        int i = y[j];
        if (x[i] < 0)
            x[i] = j;
        else {
            unique[i] = 0;
            y[j] = -1;
        }
    }
    int n_free = 0;
    for (int i = 0; i < n; i++) {
        if (x[i] < 0)
            free_rows[n_free++] = i;
        else if (unique[i]) {
            /* Transfer: lower the column's dual by the row's second-best reduced cost. */
            int j = x[i];
            double min = BIG;
            const double *row = get_row(c, i, scratch);
            for (int j2 = 0; j2 < n; j2++) {
                if (j2 == j) continue;
                double r = row[j2] - v[j2];
                if (r < min) min = r;
            }
            if (n > 1) v[j] -= min;
        }
    }
    free(unique);
    return n_free;
}

/* Moves the columns with the smallest d among cols[lo..n) to cols[lo..hi); returns hi. */
static int find_min_cols(int n, int lo, const double *d, int *cols)
{
    int hi = lo + 1, j = cols[lo];
    double mind = d[j];
    for (int k = hi; k < n; k++) {
        j = cols[k];
        if (d[j] <= mind) {
            if (d[j] < mind) {
                hi = lo;
                mind = d[j];
            }
            cols[k] = cols[hi];
            cols[hi++] = j;
        }
    }
    return hi;
}

/* Scans the columns of the current minimum set, relaxing the others' distances. Returns a free
 * column reached at the minimum distance, or -1. */
static int scan_cols(int n, const cost_src *c, int *plo, int *phi, double *d, int *cols, int *pred, const int *y,
                     const double *v)
{
    int lo = *plo, hi = *phi;
    while (lo != hi) {
        int j = cols[lo++], i = y[j];
        double mind = d[j];
        double h = cost_at(c, i, j) - v[j] - mind;
        /* Only the columns not yet ready are relaxed: compute their costs one by one, a whole row
         * would mostly be wasted once the ready set has grown. */
        for (int k = hi; k < n; k++) {
            j = cols[k];
            double red = cost_at(c, i, j) - v[j] - h;
            if (red < d[j]) {
                d[j] = red;
                pred[j] = i;
                if (red == mind) {
                    /* *plo stays at the scan's start: the caller reads the path's
                     * length from d[cols[*plo]]. */
                    if (y[j] < 0) return j;
                    cols[k] = cols[hi];
                    cols[hi++] = j;
                }
            }
        }
    }
    *plo = lo;
    *phi = hi;
    return -1;
}

/* Dijkstra-like shortest augmenting path from row start; updates the duals of the columns made
 * ready and returns the free column at the path's end (pred gives the path back). */
static int find_path(int n, const cost_src *c, int start, const int *y, double *v, int *pred, int *cols, double *d,
                     double *scratch)
{
    int lo = 0, hi = 0, n_ready = 0, final_j = -1;
    const double *row = get_row(c, start, scratch);
    for (int j = 0; j < n; j++) {
        cols[j] = j;
        pred[j] = start;
        d[j] = row[j] - v[j];
    }
    while (final_j < 0) {
        if (lo == hi) {
            n_ready = lo;
            hi = find_min_cols(n, lo, d, cols);
            for (int k = lo; k < hi; k++)
                if (y[cols[k]] < 0) {
                    final_j = cols[k];
                    break;
                }
        }
        if (final_j < 0) final_j = scan_cols(n, c, &lo, &hi, d, cols, pred, y, v);
    }
    double mind = d[cols[lo]];
    for (int k = 0; k < n_ready; k++) {
        int j = cols[k];
        v[j] += d[j] - mind;
    }
    return final_j;
}

/* Solves the square n x n problem c; x: row -> column. Returns 0, or -1 if a path runs away
 * (cannot happen with finite costs; kept as a guard against an infinite loop). */
static int lapjv_square(int n, const cost_src *c, int *x)
{
    double *scratch = xmalloc(sizeof(double) * (size_t)n);
    int *free_rows = xmalloc(sizeof(int) * (size_t)n), *y = xmalloc(sizeof(int) * (size_t)n);
    int *pred = xmalloc(sizeof(int) * (size_t)n), *cols = xmalloc(sizeof(int) * (size_t)n);
    double *v = xmalloc(sizeof(double) * (size_t)n), *d = xmalloc(sizeof(double) * (size_t)n);
    int rc = 0;
    /* JV's augmenting row reduction is left out on purpose: on grid-snapping costs (squared
     * distances to cell centres, clustered points) it cycles for ~n^2 row scans and made a 50 x 50
     * grid take 20-30 s; the shortest-path augmentation alone takes 0.4 s. */
    int n_free = column_reduction(n, c, free_rows, x, y, v, scratch);
    for (int f = 0; f < n_free && rc == 0; f++) {
        int start = free_rows[f], j = find_path(n, c, start, y, v, pred, cols, d, scratch), i = -1, steps = 0;
        while (i != start) {
            i = pred[j];
            y[j] = i;
            int t = x[i];
            x[i] = j;
            j = t;
            if (++steps > n) {
                rc = -1;
                break;
            }
        }
    }
    free(free_rows);
    free(y);
    free(pred);
    free(cols);
    free(v);
    free(d);
    free(scratch);
    return rc;
}

/* Solves the square problem of cs; row i < n_real gets column assign[i]. */
static int solve(cost_src *cs, int *assign, err *e)
{
    cs->zero = xcalloc((size_t)cs->m, sizeof(double));
    int *x = xmalloc(sizeof(int) * (size_t)cs->m);
    int rc = lapjv_square(cs->m, cs, x);
    if (rc == 0) memcpy(assign, x, sizeof(int) * (size_t)cs->n_real);
    free(x);
    free(cs->zero);
    if (rc != 0) return err_set(e, "assignment: LAPJV did not converge (internal error)");
    return 0;
}

int tsne_grid_lapjv(const double *cost, int n, int m, int *assign, double *total, err *e)
{
    if (n < 1) return err_set(e, "assignment: %d rows (expected at least 1)", n);
    if (m < n) return err_set(e, "assignment: %d columns for %d rows (expected at least as many columns)", m, n);
    for (size_t t = 0; t < (size_t)n * (size_t)m; t++)
        if (!isfinite(cost[t]))
            return err_set(e, "assignment: cost[%zu][%zu] is not finite", t / (size_t)m, t % (size_t)m);
    /* Squared with zero-cost dummy rows, which take the columns nobody needs. Costs are shifted
     * by the minimum so that the dual arithmetic works on non-negative numbers. */
    double lo = cost[0];
    for (size_t t = 0; t < (size_t)n * (size_t)m; t++)
        if (cost[t] < lo) lo = cost[t];
    cost_src cs = {.m = m, .n_real = n, .dense = cost, .shift = lo};
    if (solve(&cs, assign, e) != 0) return -1;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += cost[(size_t)i * (size_t)m + (size_t)assign[i]];
    if (total) *total = sum;
    return 0;
}

int tsne_grid_snap(const float *y, int n, int rows, int cols, int *cell, err *e)
{
    if (rows < 1 || cols < 1) return err_set(e, "grid: %d x %d (expected at least 1 x 1)", rows, cols);
    if ((long long)rows * cols < n)
        return err_set(e, "grid: %d x %d = %lld cells for %d points (expected at least one cell per point)", rows,
                       cols, (long long)rows * cols, n);
    if ((long long)rows * cols > 40000)
        return err_set(e, "grid: %d x %d cells (expected at most 40000: the assignment is O(cells^3))", rows, cols);
    if (n < 1) return err_set(e, "grid: no points (expected at least 1)");
    double minx = y[0], maxx = y[0], miny = y[1], maxy = y[1];
    for (int i = 0; i < n; i++) {
        double px = y[2 * i], py = y[2 * i + 1];
        if (!isfinite(px) || !isfinite(py)) return err_set(e, "grid: point %d is not finite", i + 1);
        if (px < minx) minx = px;
        if (px > maxx) maxx = px;
        if (py < miny) miny = py;
        if (py > maxy) maxy = py;
    }
    double sx = maxx > minx ? 1.0 / (maxx - minx) : 0, sy = maxy > miny ? 1.0 / (maxy - miny) : 0;
    int m = rows * cols;
    double *px = xmalloc(sizeof(double) * (size_t)n), *py = xmalloc(sizeof(double) * (size_t)n);
    double *cx = xmalloc(sizeof(double) * (size_t)m), *cy = xmalloc(sizeof(double) * (size_t)m);
    /* Normalised to the unit square, and compared with cell centres in the same square. */
    for (int i = 0; i < n; i++) {
        px[i] = (y[2 * i] - minx) * sx;
        py[i] = (y[2 * i + 1] - miny) * sy;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            cx[r * cols + c] = (c + 0.5) / cols;
            cy[r * cols + c] = (r + 0.5) / rows;
        }
    cost_src cs = {.m = m, .n_real = n, .px = px, .py = py, .cx = cx, .cy = cy};
    int rc = solve(&cs, cell, e);
    free(px);
    free(py);
    free(cx);
    free(cy);
    return rc;
}
