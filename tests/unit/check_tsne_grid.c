/* Check suite for tsne_grid: LAPJV is optimal (against brute force over all injections for
 * n <= 7, random real and small-integer costs with many ties, many seeds), grid snapping gives a
 * valid one-point-per-cell layout that keeps a grid-shaped embedding in place, and bad sizes are
 * refused. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsne_grid.h"

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Minimum over all injections of n rows into m columns, by depth-first search. */
static double brute(const double *c, int n, int m, int row, int *used, double acc)
{
    if (row == n) return acc;
    double best = INFINITY;
    for (int j = 0; j < m; j++) {
        if (used[j]) continue;
        used[j] = 1;
        double v = brute(c, n, m, row + 1, used, acc + c[row * m + j]);
        used[j] = 0;
        if (v < best) best = v;
    }
    return best;
}

START_TEST(test_lapjv_optimal)
{
    uint64_t s = 12345;
    int cases = 0;
    for (int seed = 0; seed < 400; seed++) {
        int n = 1 + (int)(rng_next(&s) % 7), m = n + (int)(rng_next(&s) % 3);
        int kind = seed % 3;
        double c[7 * 9];
        for (int t = 0; t < n * m; t++) {
            if (kind == 0)
                c[t] = rng_unit(&s) * 100.0 - 20.0;
            else if (kind == 1)
                c[t] = (double)(rng_next(&s) % 4); /* many ties */
            else
                c[t] = floor(rng_unit(&s) * 1e6) * 1e-3;
        }
        int a[7], used[9] = {0};
        double total;
        err e = {{0}};
        ck_assert_msg(tsne_grid_lapjv(c, n, m, a, &total, &e) == 0, "%s", e.msg);
        memset(used, 0, sizeof used);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            ck_assert_int_ge(a[i], 0);
            ck_assert_int_lt(a[i], m);
            ck_assert_msg(!used[a[i]], "seed %d: column %d assigned twice", seed, a[i]);
            used[a[i]] = 1;
            sum += c[i * m + a[i]];
        }
        memset(used, 0, sizeof used);
        double best = brute(c, n, m, 0, used, 0);
        ck_assert_msg(fabs(sum - best) < 1e-9 * (1 + fabs(best)), "seed %d (n=%d m=%d kind=%d): %g vs optimum %g",
                      seed, n, m, kind, sum, best);
        ck_assert_msg(fabs(total - sum) < 1e-9 * (1 + fabs(sum)), "reported total %g vs %g", total, sum);
        cases++;
    }
    ck_assert_int_eq(cases, 400);
}
END_TEST

/* On a bigger random problem the solution must pass the LP optimality test: no improving swap of
 * two rows' columns and no improving move of a row to an unused column (necessary conditions,
 * which catch a broken augmentation). */
START_TEST(test_lapjv_local_optimality)
{
    uint64_t s = 99;
    int n = 150, m = 170;
    double *c = malloc(sizeof(double) * (size_t)n * (size_t)m);
    for (int t = 0; t < n * m; t++) c[t] = rng_unit(&s);
    int *a = malloc(sizeof(int) * (size_t)n), *used = calloc((size_t)m, sizeof(int));
    err e = {{0}};
    ck_assert_int_eq(tsne_grid_lapjv(c, n, m, a, NULL, &e), 0);
    for (int i = 0; i < n; i++) used[a[i]] = 1;
    for (int i = 0; i < n; i++) {
        for (int k = i + 1; k < n; k++)
            ck_assert(c[i * m + a[k]] + c[k * m + a[i]] >= c[i * m + a[i]] + c[k * m + a[k]] - 1e-12);
        for (int j = 0; j < m; j++)
            if (!used[j]) ck_assert(c[i * m + j] >= c[i * m + a[i]] - 1e-12);
    }
    free(c);
    free(a);
    free(used);
}
END_TEST

START_TEST(test_snap_grid_identity)
{
    /* Points already on a 6 x 9 grid, jittered a little, shuffled: each goes back to its cell. */
    int rows = 6, cols = 9, n = rows * cols;
    float y[2 * 54];
    int truth[54], cell[54];
    uint64_t s = 7;
    for (int t = 0; t < n; t++) {
        int i = (t * 17) % n; /* a permutation of 0..53 */
        truth[t] = i;
        y[2 * t] = (float)(i % cols) * 3.0f + (float)(rng_unit(&s) - 0.5) * 0.5f;
        y[2 * t + 1] = (float)(i / cols) * 3.0f + (float)(rng_unit(&s) - 0.5) * 0.5f;
    }
    err e = {{0}};
    ck_assert_msg(tsne_grid_snap(y, n, rows, cols, cell, &e) == 0, "%s", e.msg);
    for (int t = 0; t < n; t++) ck_assert_int_eq(cell[t], truth[t]);
}
END_TEST

START_TEST(test_snap_valid_and_sized)
{
    /* 1000 random points on a 32 x 32 grid: distinct cells in range. */
    int n = 1000, rows = 32, cols = 32;
    float *y = malloc(sizeof(float) * 2 * (size_t)n);
    int *cell = malloc(sizeof(int) * (size_t)n), *seen = calloc((size_t)(rows * cols), sizeof(int));
    uint64_t s = 3;
    for (int i = 0; i < 2 * n; i++) y[i] = (float)(rng_unit(&s) * 20 - 10);
    err e = {{0}};
    ck_assert_msg(tsne_grid_snap(y, n, rows, cols, cell, &e) == 0, "%s", e.msg);
    for (int i = 0; i < n; i++) {
        ck_assert_int_ge(cell[i], 0);
        ck_assert_int_lt(cell[i], rows * cols);
        ck_assert_int_eq(seen[cell[i]]++, 0);
    }
    /* Too few cells, empty grid, non-finite points. */
    ck_assert_int_eq(tsne_grid_snap(y, n, 10, 10, cell, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "100 cells for 1000 points"));
    ck_assert_int_eq(tsne_grid_snap(y, n, 0, 10, cell, &e), -1);
    y[5] = NAN;
    ck_assert_int_eq(tsne_grid_snap(y, n, rows, cols, cell, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "point 3 is not finite"));
    double c[4] = {1, 2, 3, 4};
    int a[2];
    ck_assert_int_eq(tsne_grid_lapjv(c, 2, 1, a, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "1 columns for 2 rows"));
    free(y);
    free(cell);
    free(seen);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tsne_grid");
    TCase *t = tcase_create("lapjv");
    tcase_add_test(t, test_lapjv_optimal);
    tcase_add_test(t, test_lapjv_local_optimality);
    suite_add_tcase(s, t);
    t = tcase_create("snap");
    tcase_add_test(t, test_snap_grid_identity);
    tcase_add_test(t, test_snap_valid_and_sized);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return check_run(suite()); }
