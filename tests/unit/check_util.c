/* Check suite for the common module: UTF-8 checking, atomic writes, buffers and SHA-256. */
#include <check.h>
#include "check_run.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
/* 1 if this process may use the SHA extensions: CPUID, not /proc/cpuinfo, since valgrind's CPU
 * has none whatever the machine's has. */
static int cpu_has_sha(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
}
#else
static int cpu_has_sha(void) { return 0; }
#endif

/* A message stays one line whatever a path or key holds: control characters come out escaped. */
START_TEST(error_escapes)
{
    err e;
    ck_assert_int_eq(err_set(&e, "%s: bad", "a\nb\tc\033[2Jd\x7f"), -1);
    ck_assert_str_eq(e.msg, "a\\nb\\tc\\x1b[2Jd\\x7f: bad");
    ck_assert_int_eq(err_set(&e, "%s", "caf\xc3\xa9"), -1); /* UTF-8 is text, not control */
    ck_assert_str_eq(e.msg, "caf\xc3\xa9");
    char longs[3000];
    memset(longs, '\n', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    err_set(&e, "%s", longs); /* escapes grow the text: cut, still terminated */
    ck_assert_uint_lt(strlen(e.msg), sizeof e.msg);
    ck_assert_int_eq(e.msg[0], '\\');
}
END_TEST

START_TEST(utf8_cases)
{
    int line, col;
    ck_assert_int_eq(utf8_check("héllo — ok 😀", strlen("héllo — ok 😀"), &line, &col), 0);
    const char bad1[] = "ab\ncd\xC3(";            /* truncated sequence */
    ck_assert_int_eq(utf8_check(bad1, sizeof bad1 - 1, &line, &col), -1);
    ck_assert_int_eq(line, 2);
    ck_assert_int_eq(col, 3);
    const char overlong[] = "\xC0\xAF";
    ck_assert_int_eq(utf8_check(overlong, 2, &line, &col), -1);
    const char surrogate[] = "\xED\xA0\x80";
    ck_assert_int_eq(utf8_check(surrogate, 3, &line, &col), -1);
    const char cut[] = "x\xE2\x82";
    ck_assert_int_eq(utf8_check(cut, 3, &line, &col), -1);
    ck_assert_int_eq(col, 2);
}
END_TEST

START_TEST(atomic_write)
{
    char dir[] = "/tmp/check_util.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = xasprintf("%s/out.txt", dir);
    err e = {{0}};
    ck_assert_int_eq(write_file_atomic(path, "hello", 5, &e), 0);
    char *data;
    size_t len;
    ck_assert_int_eq(read_file(path, &data, &len, &e), 0);
    ck_assert_int_eq((int)len, 5);
    ck_assert_str_eq(data, "hello");
    free(data);
    /* A write into a missing directory fails with the path named and leaves nothing behind. */
    char *bad = xasprintf("%s/missing/out.txt", dir);
    ck_assert_int_eq(write_file_atomic(bad, "x", 1, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "/missing/out.txt"));
    ck_assert_int_eq(read_file(bad, &data, &len, &e), -1);
    unlink(path);
    rmdir(dir);
    free(bad);
    free(path);
}
END_TEST

START_TEST(buffers)
{
    buf b = {0};
    for (int i = 0; i < 1000; i++) buf_printf(&b, "%d,", i);
    ck_assert_int_eq((int)b.len, (int)strlen(b.data));
    buf_free(&b);
    buf_put_html(&b, "<a href=\"x\">'&'</a>", 19);
    ck_assert_str_eq(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    buf_free(&b);
}
END_TEST

START_TEST(sha256_vectors)
{
    char hex[65];
    sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* Streaming in odd pieces must equal one shot (NIST's 448-bit message). */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_ctx c;
    unsigned char d[32];
    sha256_init(&c);
    for (size_t i = 0; i < strlen(m); i += 7) sha256_update(&c, m + i, strlen(m) - i < 7 ? strlen(m) - i : 7);
    sha256_final(&c, d);
    sha256_to_hex(d, hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha256_both_paths)
{
    /* The SHA-extension rounds (where the CPU has them) and the portable ones, with the vectors
     * above and on pseudo-random data of lengths around the block size and of many blocks.
     * Without them, both are the portable rounds: nothing to compare. */
    if (!cpu_has_sha()) CHECK_SKIP("the CPU lacks the SHA extensions (or this is valgrind, which has none)");
    static unsigned char data[100000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof data; i++) x = x * 1103515245u + 12345u, data[i] = (unsigned char)(x >> 24);
    size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4096, 99999, 100000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char a[65], b[65];
        sha256_set_portable(1);
        sha256_hex(data, lens[k], a);
        sha256_set_portable(0);
        sha256_hex(data, lens[k], b);
        ck_assert_msg(strcmp(a, b) == 0, "length %zu: portable %s, default %s", lens[k], a, b);
    }
    char hex[65];
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(clock_seconds)
{
    /* monotonic, and it measures a sleep of 20 ms (at least that, not wildly more) */
    double a = now_seconds();
    ck_assert_int_eq(usleep(20000), 0);
    double b = now_seconds();
    ck_assert_double_ge(b - a, 0.019);
    ck_assert_double_lt(b - a, 5.0);
    ck_assert_double_ge(now_seconds(), b);
}
END_TEST

START_TEST(integers)
{
    err e = {{0}};
    long v = 0;
    ck_assert_int_eq(parse_int("--n", "42", 1, 100, &v, &e), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(parse_int("--n", "-7", -10, 10, &v, &e), 0);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(parse_int("--n", "1", 1, 100, &v, &e), 0);
    ck_assert_int_eq(parse_int("--n", "100", 1, 100, &v, &e), 0);
    ck_assert_int_eq(v, 100);
    /* refused: out of range, empty, blanks, trailing text, overflow, no value; v keeps 100 */
    const char *bad[] = {"0", "101", "", " 5", "5 ", "5x", "x", "0x10", "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse_int("--n", bad[i], 1, 100, &v, &e) == -1, "accepted '%s'", bad[i]);
        ck_assert_int_eq(v, 100);
    }
    ck_assert_int_eq(parse_int("--n", NULL, 1, 100, &v, NULL), -1);
    ck_assert_int_eq(parse_int("--size", "x", 1, 8192, &v, &e), -1);
    ck_assert_str_eq(e.msg, "--size: expected an integer from 1 to 8192, got 'x'");
    ck_assert_int_eq(parse_int("--k", "-2000000", -1000000, 1000000, &v, &e), -1);
    ck_assert_str_eq(e.msg, "--k: expected an integer from -1000000 to 1000000, got '-2000000'");
}
END_TEST

START_TEST(thread_count)
{
    /* FV_THREADS goes through parse_int: 1..1024 only, else -1 for the tool to report */
    ck_assert_int_eq(setenv("FV_THREADS", "3", 1), 0);
    ck_assert_int_eq(threads_from_env(), 3);
    const char *bad[] = {"0", "1025", "two", " 2", "2x", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(setenv("FV_THREADS", bad[i], 1), 0);
        ck_assert_msg(threads_from_env() == -1, "accepted '%s'", bad[i]);
    }
    ck_assert_int_eq(unsetenv("FV_THREADS"), 0);
    ck_assert_int_ge(threads_from_env(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *t = tcase_create("utf8");
    tcase_add_test(t, utf8_cases);
    tcase_add_test(t, error_escapes);
    suite_add_tcase(s, t);
    t = tcase_create("files");
    tcase_add_test(t, atomic_write);
    suite_add_tcase(s, t);
    t = tcase_create("buf");
    tcase_add_test(t, buffers);
    suite_add_tcase(s, t);
    t = tcase_create("sha256");
    tcase_add_test(t, sha256_vectors);
    tcase_add_test(t, sha256_both_paths);
    suite_add_tcase(s, t);
    t = tcase_create("clock");
    tcase_add_test(t, clock_seconds);
    suite_add_tcase(s, t);
    t = tcase_create("arguments");
    tcase_add_test(t, integers);
    tcase_add_test(t, thread_count);
    suite_add_tcase(s, t);
    return check_run(s);
}
