/* Check suite for match: correlations against a direct two-pass formula (and the exact values of
 * affine and negated copies), constant units correlating 0, the assignment maximizing the summed
 * correlation (against brute force over every permutation), the order of pairs, and bad sizes. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "match.h"

static double unit_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Pearson correlation of columns i of a and j of b, the textbook way (two passes, doubles). */
static double pearson(const float *a, int da, int i, const float *b, int db, int j, int n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int k = 0; k < n; k++) ma += a[k * da + i], mb += b[k * db + j];
    ma /= n, mb /= n;
    for (int k = 0; k < n; k++) {
        double x = a[k * da + i] - ma, y = b[k * db + j] - mb;
        sab += x * y, saa += x * x, sbb += y * y;
    }
    return sab / sqrt(saa * sbb);
}

START_TEST(test_correlate_reference)
{
    enum { N = 200, DA = 5, DB = 7 };
    static float a[N * DA], b[N * DB];
    uint64_t s = 7;
    for (int k = 0; k < N; k++) {
        for (int i = 0; i < DA; i++) a[k * DA + i] = (float)(unit_rand(&s) * 4 - 1);
        for (int j = 0; j < DB; j++) b[k * DB + j] = (float)unit_rand(&s);
        b[k * DB + 0] = 3 * a[k * DA + 2] + 5;   /* r = 1 */
        b[k * DB + 1] = -0.5f * a[k * DA + 4];   /* r = -1 */
        b[k * DB + 6] = a[k * DA + 0] + b[k * DB + 5]; /* partly correlated */
    }
    double corr[DA * DB];
    int ca = -1, cb = -1;
    err e = {{0}};
    ck_assert_msg(match_correlate(a, b, N, DA, DB, corr, &ca, &cb, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(ca, 0);
    ck_assert_int_eq(cb, 0);
    for (int i = 0; i < DA; i++)
        for (int j = 0; j < DB; j++) {
            double want = pearson(a, DA, i, b, DB, j, N);
            ck_assert_msg(fabs(corr[i * DB + j] - want) < 1e-9, "corr[%d][%d] %.12f, want %.12f", i, j,
                          corr[i * DB + j], want);
        }
    ck_assert_double_eq_tol(corr[2 * DB + 0], 1.0, 1e-9);
    ck_assert_double_eq_tol(corr[4 * DB + 1], -1.0, 1e-9);
    ck_assert(corr[0 * DB + 6] > 0.5 && corr[0 * DB + 6] < 0.99);
}
END_TEST

START_TEST(test_constant_units)
{
    enum { N = 50 };
    float a[N * 2], b[N * 2];
    uint64_t s = 3;
    for (int k = 0; k < N; k++) {
        a[k * 2] = 0.1f, a[k * 2 + 1] = (float)unit_rand(&s); /* a's unit 0: a dead unit */
        b[k * 2] = (float)unit_rand(&s), b[k * 2 + 1] = a[k * 2 + 1];
    }
    double corr[4];
    int ca, cb;
    err e = {{0}};
    ck_assert(match_correlate(a, b, N, 2, 2, corr, &ca, &cb, &e) == 0);
    ck_assert_int_eq(ca, 1);
    ck_assert_int_eq(cb, 0);
    ck_assert(corr[0] == 0 && corr[1] == 0);
    ck_assert_double_eq_tol(corr[3], 1.0, 1e-9);
}
END_TEST

/* Maximum of sum corr[i][p(i)] over all injections p, by depth-first search. */
static double brute(const double *c, int n, int m, int row, int *used)
{
    if (row == n) return 0;
    double best = -INFINITY;
    for (int j = 0; j < m; j++) {
        if (used[j]) continue;
        used[j] = 1;
        double v = c[row * m + j] + brute(c, n, m, row + 1, used);
        used[j] = 0;
        if (v > best) best = v;
    }
    return best;
}

START_TEST(test_assign_maximizes)
{
    uint64_t s = 99;
    for (int t = 0; t < 200; t++) {
        int n = 1 + t % 6, m = n + (t / 6) % 3;
        double c[6 * 8];
        for (int k = 0; k < n * m; k++) c[k] = unit_rand(&s) * 2 - 1;
        int as[6], used[8] = {0}, seen[8] = {0};
        double total;
        err e = {{0}};
        ck_assert_msg(match_assign(c, n, m, as, &total, &e) == 0, "%s", e.msg);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            ck_assert(as[i] >= 0 && as[i] < m && !seen[as[i]]);
            seen[as[i]] = 1;
            sum += c[i * m + as[i]];
        }
        ck_assert_double_eq_tol(sum, total, 1e-12);
        ck_assert_double_eq_tol(total, brute(c, n, m, 0, used), 1e-9);
    }
}
END_TEST

START_TEST(test_order_and_bad_sizes)
{
    const double c[9] = {0.2, 0.9, 0.1, 0.5, 0.3, 0.3, 0.7, 0.0, 0.7};
    const int as[3] = {1, 0, 2};
    int order[3];
    match_order(c, 3, 3, as, order);
    /* r: 0.9 (row 0), 0.5 (row 1), 0.7 (row 2) */
    ck_assert_int_eq(order[0], 0);
    ck_assert_int_eq(order[1], 2);
    ck_assert_int_eq(order[2], 1);
    err e = {{0}};
    int out[3];
    double corr[1];
    float x[2] = {1, 2};
    ck_assert_int_eq(match_assign(c, 3, 2, out, NULL, &e), -1);
    ck_assert_str_eq(e.msg, "match: 3 units against 2 (expected 1 <= first <= second)");
    ck_assert_int_eq(match_correlate(x, x, 1, 1, 1, corr, NULL, NULL, &e), -1);
    ck_assert_str_eq(e.msg, "match: 1 images, 1 and 1 units (expected at least 2 images and 1 unit each)");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("match");
    TCase *t = tcase_create("correlate");
    tcase_add_test(t, test_correlate_reference);
    tcase_add_test(t, test_constant_units);
    suite_add_tcase(s, t);
    t = tcase_create("assign");
    tcase_add_test(t, test_assign_maximizes);
    tcase_add_test(t, test_order_and_bad_sizes);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return check_run(suite()); }
