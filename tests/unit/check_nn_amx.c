/* Check suite for nn_amx: the AMX product against the same product summed in double, over
 * shapes around every tile and chunk edge, both storage orders of each operand, padded leading
 * dimensions and beta 0 / 1; and the detection against what /proc/cpuinfo says the CPU has. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_amx.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

/* 1 if /proc/cpuinfo lists every flag the AMX path needs. */
static int cpu_has_amx(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return 0;
    char line[8192];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            found = strstr(line, " amx_tile") && strstr(line, " amx_bf16") && strstr(line, " avx512_bf16") &&
                    strstr(line, " avx512bw");
            break;
        }
    fclose(f);
    return found;
}

START_TEST(detection_matches_the_cpu)
{
    const char *env = getenv("FV_NO_AMX");
    int off = env && *env && strcmp(env, "0") != 0;
    /* A kernel may still refuse the tile state: then the fallback is right, but this machine's
     * kernel (6.x) allows it, so a refusal here is a bug in the detection. */
    ck_assert_int_eq(nn_amx_available(), !off && cpu_has_amx());
}
END_TEST

/* C = op(A) op(B) + beta C against double sums; the bound is 3e-5 of the sum of |a||b| (bf16x3
 * leaves out lo.lo and rounds lo: about 1e-5 of each product) plus float accumulation. */
static void check_shape(int ta, int tb, int m, int n, int k, int pad, float beta)
{
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb, nc = (size_t)m * ldc;
    float *a = malloc(sizeof(float) * (na + 1)), *b = malloc(sizeof(float) * (nb + 1));
    float *c = malloc(sizeof(float) * (nc + 1)), *c0 = malloc(sizeof(float) * (nc + 1));
    for (size_t i = 0; i < na; i++) a[i] = frand();
    for (size_t i = 0; i < nb; i++) b[i] = frand() * 3.0f;
    for (size_t i = 0; i < nc; i++) c0[i] = c[i] = frand();
    nn_amx_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    for (int r = 0; r < m; r++)
        for (int q = 0; q < ldc; q++) {
            float got = c[(size_t)r * ldc + q];
            if (q >= n) { /* past the columns: untouched */
                ck_assert_msg(got == c0[(size_t)r * ldc + q], "%dx%dx%d: padding column %d changed", m, n, k, q);
                continue;
            }
            double s = beta != 0.0f ? c0[(size_t)r * ldc + q] : 0.0, mag = fabs(s);
            for (int t = 0; t < k; t++) {
                double x = ta ? a[(size_t)t * lda + r] : a[(size_t)r * lda + t];
                double y = tb ? b[(size_t)q * ldb + t] : b[(size_t)t * ldb + q];
                s += x * y;
                mag += fabs(x * y);
            }
            double tol = 3e-5 * mag + 1e-30;
            ck_assert_msg(fabs(got - s) <= tol, "ta %d tb %d %dx%dx%d pad %d beta %g: C[%d][%d] = %.9g, want %.9g",
                          ta, tb, m, n, k, pad, (double)beta, r, q, (double)got, s);
        }
    free(a), free(b), free(c), free(c0);
}

START_TEST(matches_double_sums)
{
    if (!nn_amx_available()) return; /* detection_matches_the_cpu decides whether that is right */
    /* around the 16-row / 16-column tiles, the 32-row panels and column pairs, the 32-wide k
     * blocks and the 512-wide k chunks */
    static const int ms[] = {1, 15, 16, 17, 32, 33, 70};
    static const int ns[] = {1, 16, 17, 31, 33, 64};
    static const int ks[] = {1, 2, 31, 32, 33, 100, 513, 1100};
    int count = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
                for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
                    for (size_t l = 0; l < sizeof ks / sizeof ks[0]; l++, count++) {
                        /* padding and beta vary with the case number, so every pair occurs */
                        check_shape(ta, tb, ms[i], ns[j], ks[l], count % 3 == 0 ? 5 : 0, count % 2 ? 1.0f : 0.0f);
                    }
}
END_TEST

START_TEST(weight_gradient_shape)
{
    if (!nn_amx_available()) return;
    /* A^T B with the tall A (the transposed route: C^T = B^T A, then transposed back) */
    check_shape(1, 0, 288, 32, 1568, 0, 0.0f);
    check_shape(1, 0, 90, 17, 700, 3, 1.0f);
}
END_TEST

START_TEST(same_bytes_every_call)
{
    if (!nn_amx_available()) return;
    int m = 100, n = 40, k = 600;
    float *a = malloc(sizeof(float) * (size_t)m * k), *b = malloc(sizeof(float) * (size_t)k * n);
    float *c1 = malloc(sizeof(float) * (size_t)m * n), *c2 = malloc(sizeof(float) * (size_t)m * n);
    for (int i = 0; i < m * k; i++) a[i] = frand();
    for (int i = 0; i < k * n; i++) b[i] = frand();
    nn_amx_gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c1, n);
    /* a call on other sizes in between leaves other contents in the per-thread scratch */
    nn_amx_gemm(0, 1, 17, 33, 99, a, 99, b, 99, 0.0f, c2, 33);
    nn_amx_gemm(0, 0, m, n, k, a, k, b, n, 0.0f, c2, n);
    ck_assert(memcmp(c1, c2, sizeof(float) * (size_t)m * n) == 0);
    free(a), free(b), free(c1), free(c2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn_amx");
    TCase *t = tcase_create("gemm");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, detection_matches_the_cpu);
    tcase_add_test(t, matches_double_sums);
    tcase_add_test(t, weight_gradient_shape);
    tcase_add_test(t, same_bytes_every_call);
    suite_add_tcase(s, t);
    return check_run(s);
}
