/* check_rng — the common rng module: the generator and the seeding against reference values
 * computed apart from this code (splitmix64's published first outputs; a Python transcription of
 * Blackman & Vigna's xoshiro256** for the rest), each way of making numbers against its own
 * reference (the two uniforms and the two normals differ in their last bits, and rendered and
 * trained bytes depend on which), and the distributions. */
#include <check.h>
#include "check_run.h"
#include <math.h>
#include <stdint.h>

#include "rng.h"

START_TEST(generator_reference)
{
    /* splitmix64 from 0: the first three outputs as published with the algorithm */
    uint64_t x = 0;
    ck_assert_uint_eq(rng_splitmix64(&x), 0xe220a8397b1dcdafull);
    ck_assert_uint_eq(rng_splitmix64(&x), 0x6e789e6aa1b965f4ull);
    ck_assert_uint_eq(rng_splitmix64(&x), 0x06c45d188009454full);
    rng_state r;
    rng_seed(&r, 42);
    ck_assert_uint_eq(rng_next(&r), 0x15780b2e0c2ec716ull);
    ck_assert_uint_eq(rng_next(&r), 0x6104d9866d113a7eull);
    ck_assert_uint_eq(rng_next(&r), 0xae17533239e499a1ull);
}
END_TEST

START_TEST(repeatable)
{
    rng_state a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(rng_next(&a), rng_next(&b));
    rng_seed(&b, 43);
    ck_assert_uint_ne(rng_next(&a), rng_next(&b));
}
END_TEST

START_TEST(numbers_reference)
{
    rng_state r;
    rng_seed(&r, 7);
    ck_assert_double_eq(rng_uniform(&r), 0.7005764821796896);
    ck_assert_double_eq(rng_uniform(&r), 0.2787512294737843);
    rng_seed(&r, 7);
    ck_assert_double_eq(rng_uniform_open(&r), 0.7005764821796896);
    ck_assert_double_eq(rng_uniform_open(&r), 0.27875122947378433);
    rng_seed(&r, 9);
    const uint32_t b32[4] = {155, 15089, 7947, 43961};
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(rng_below32(&r, 60000), b32[i]);
    rng_seed(&r, 9);
    const uint64_t b64[4] = {840, 785, 767, 116};
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(rng_below(&r, 1000), b64[i]);
    /* the same libm computes the reference, so the values agree to the last bit */
    rng_seed(&r, 5);
    ck_assert_double_eq(rng_normal(&r), -1.26353413109432);
    ck_assert_double_eq(rng_normal(&r), 0.4036991138687127);
    rng_seed(&r, 5);
    ck_assert_double_eq(rng_normal_open(&r), -1.2635341310943198);
    ck_assert_double_eq(rng_normal_open(&r), 0.40369911386871343);
}
END_TEST

START_TEST(distributions)
{
    rng_state r;
    rng_seed(&r, 1);
    int seen[5] = {0}, seen32[5] = {0};
    double s = 0, s2 = 0, so = 0, so2 = 0, umin = 1, umax = 0;
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        uint64_t k = rng_below(&r, 5);
        uint32_t k32 = rng_below32(&r, 5);
        ck_assert_uint_lt(k, 5);
        ck_assert_uint_lt(k32, 5);
        seen[k]++, seen32[k32]++;
        double z = rng_normal(&r), zo = rng_normal_open(&r);
        s += z, s2 += z * z, so += zo, so2 += zo * zo;
        double u = rng_uniform(&r), uo = rng_uniform_open(&r);
        ck_assert(u >= 0 && u < 1);
        ck_assert(uo > 0 && uo < 1);
        umin = fmin(umin, u), umax = fmax(umax, u);
    }
    for (int k = 0; k < 5; k++) {
        ck_assert_int_gt(seen[k], 3500);
        ck_assert_int_gt(seen32[k], 3500);
    }
    ck_assert_double_lt(fabs(s / N), 0.05);
    ck_assert_double_lt(fabs(s2 / N - 1), 0.05);
    ck_assert_double_lt(fabs(so / N), 0.05);
    ck_assert_double_lt(fabs(so2 / N - 1), 0.05);
    ck_assert_double_lt(umin, 0.001);
    ck_assert_double_gt(umax, 0.999);
    /* n = 1 always gives 0 */
    ck_assert_uint_eq(rng_below(&r, 1), 0);
    ck_assert_uint_eq(rng_below32(&r, 1), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rng");
    TCase *t = tcase_create("generator");
    tcase_add_test(t, generator_reference);
    tcase_add_test(t, repeatable);
    suite_add_tcase(s, t);
    t = tcase_create("numbers");
    tcase_add_test(t, numbers_reference);
    tcase_add_test(t, distributions);
    suite_add_tcase(s, t);
    return check_run(s);
}
