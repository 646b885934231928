/* check_fvf — the common FVF1 writer: the exact bytes of a small matrix (header and
 * little-endian float32), counts that do not fit the header, and a failed write that leaves
 * nothing behind. */
#include <check.h>
#include "check_run.h"
#include "check_tmp.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fvf.h"
#include "util.h"

START_TEST(bytes)
{
    char *p = xasprintf("%s/m.fvf", tmp_dir);
    err e = {{0}};
    const float m[6] = {1, 2, 3, 4, 5, -0.5f};
    ck_assert_int_eq(fvf_write(p, m, 2, 3, &e), 0);
    char *d;
    size_t n;
    ck_assert_int_eq(read_file(p, &d, &n, &e), 0);
    ck_assert_uint_eq(n, FVF_HEADER_BYTES + 6 * 4);
    /* "FVF1", n = 2, d = 3, then 1.0f = 0x3f800000 and -0.5f = 0xbf000000, low byte first */
    ck_assert(memcmp(d, "FVF1\2\0\0\0\3\0\0\0", 12) == 0);
    ck_assert(memcmp(d + 12, "\0\0\x80\x3f", 4) == 0);
    ck_assert(memcmp(d + 32, "\0\0\0\xbf", 4) == 0);
    free(d);
    /* an empty matrix is the header alone */
    ck_assert_int_eq(fvf_write(p, NULL, 0, 5, &e), 0);
    ck_assert_int_eq(read_file(p, &d, &n, &e), 0);
    ck_assert_uint_eq(n, 12);
    ck_assert(memcmp(d, "FVF1\0\0\0\0\5\0\0\0", 12) == 0);
    free(d);
    free(p);
}
END_TEST

START_TEST(too_large)
{
    char *p = xasprintf("%s/big.fvf", tmp_dir);
    err e = {{0}};
    /* refused before the values are read, so no matrix is needed */
    ck_assert_int_eq(fvf_write(p, NULL, (size_t)UINT32_MAX + 1, 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "big.fvf: 4294967296 rows do not fit FVF1's uint32 n"));
    ck_assert_int_eq(fvf_write(p, NULL, 1, (size_t)UINT32_MAX + 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "big.fvf: 4294967296 columns do not fit FVF1's uint32 d"));
    struct stat st;
    ck_assert_int_ne(stat(p, &st), 0);
    free(p);
}
END_TEST

START_TEST(cannot_write)
{
    char *p = xasprintf("%s/no/such/dir/m.fvf", tmp_dir);
    err e = {{0}};
    const float m[1] = {1};
    ck_assert_int_eq(fvf_write(p, m, 1, 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "m.fvf"));
    ck_assert_ptr_nonnull(strstr(e.msg, "cannot create"));
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fvf");
    TCase *t = tcase_create("write");
    tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
    tcase_add_test(t, bytes);
    tcase_add_test(t, too_large);
    tcase_add_test(t, cannot_write);
    suite_add_tcase(s, t);
    return check_run(s);
}
