/* Check suite for the idx module: the real Fashion-MNIST files from Debian's package, and
 * corrupted copies made in a temporary directory (bad magic, wrong type, truncated gzip, flipped
 * gzip byte, short payload, trailing bytes, wrong label range). */
#include <check.h>
#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "idx.h"

static char g_dir[256];

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/check_idx.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *tmp_path(const char *name)
{
    static char p[2][400];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* Writes bytes to path, gzip-compressed when gz is set. */
static void write_bytes(const char *path, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        if (n) ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n);
    ck_assert_uint_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

/* A valid 3 x 2 x 2 image file: header + 12 pixel bytes. */
static size_t small_images(uint8_t *b)
{
    const uint8_t h[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
    memcpy(b, h, sizeof h);
    for (int i = 0; i < 12; i++) b[sizeof h + (size_t)i] = (uint8_t)(i * 20);
    return sizeof h + 12;
}

/* Expects reading path to fail with a message containing want (and naming the file). */
static void expect_fail(const char *path, const char *want, int images)
{
    idx_array *a = (idx_array *)1;
    err e = {{0}};
    int r = images ? idx_read_images(path, &a, &e) : idx_read(path, &a, &e);
    ck_assert_int_eq(r, -1);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(e.msg, want) != NULL, "message '%s' lacks '%s'", e.msg, want);
    ck_assert_msg(strncmp(e.msg, path, strlen(path)) == 0, "message '%s' does not start with the path", e.msg);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
}

START_TEST(test_real_files)
{
    static const struct fm_set {
        const char *img, *lab;
        uint32_t n;
    } sets[] = {{IDX_FMNIST_DIR "/train-images-idx3-ubyte.gz", IDX_FMNIST_DIR "/train-labels-idx1-ubyte.gz", 60000},
                {IDX_FMNIST_DIR "/t10k-images-idx3-ubyte.gz", IDX_FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", 10000}};
    const struct fm_set *s = &sets[_i];
    idx_array *im = NULL, *lb = NULL;
    err e = {{0}};
    ck_assert_msg(idx_read_images(s->img, &im, &e) == 0, "%s", e.msg);
    ck_assert_msg(idx_read_labels(s->lab, 9, &lb, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(idx_ndims(im), 3);
    ck_assert_uint_eq(idx_dim(im, 0), s->n);
    ck_assert_uint_eq(idx_dim(im, 1), 28);
    ck_assert_uint_eq(idx_dim(im, 2), 28);
    ck_assert_uint_eq(idx_dim(im, 3), 0);
    ck_assert_uint_eq(idx_count(im), (size_t)s->n * 784);
    ck_assert_uint_eq(idx_dim(lb, 0), s->n);
    /* Balanced classes: Fashion-MNIST has exactly n/10 of each of the 10 labels. */
    size_t hist[10] = {0};
    for (size_t i = 0; i < idx_count(lb); i++) hist[idx_data(lb)[i]]++;
    for (int c = 0; c < 10; c++) ck_assert_uint_eq(hist[c], s->n / 10);
    /* Images are not blank: the mean pixel of Fashion-MNIST is about 72.9 (train) / 73.1 (test). */
    double sum = 0;
    for (size_t i = 0; i < idx_count(im); i++) sum += idx_data(im)[i];
    double mean = sum / (double)idx_count(im);
    ck_assert_msg(mean > 70 && mean < 76, "mean pixel %g", mean);
    /* Both sets start with an ankle boot (label 9). */
    ck_assert_int_eq(idx_data(lb)[0], 9);
    idx_free(im);
    idx_free(lb);
}
END_TEST

START_TEST(test_small_plain_and_gzip)
{
    uint8_t b[64];
    size_t n = small_images(b);
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmp_path(gz ? "s.gz" : "s.idx");
        write_bytes(p, b, n, gz);
        idx_array *a = NULL;
        err e = {{0}};
        ck_assert_msg(idx_read_images(p, &a, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(idx_dim(a, 0), 3);
        ck_assert_uint_eq(idx_count(a), 12);
        ck_assert_int_eq(idx_data(a)[11], 220);
        idx_free(a);
    }
}
END_TEST

START_TEST(test_bad_headers)
{
    uint8_t b[64];
    size_t n = small_images(b);
    b[0] = 0x1f;
    write_bytes(tmp_path("magic.gz"), b, n, 1);
    expect_fail(tmp_path("magic.gz"), "bad magic", 0);
    b[0] = 0;
    b[2] = 0x0D;
    write_bytes(tmp_path("type.gz"), b, n, 1);
    expect_fail(tmp_path("type.gz"), "float32 (0x0D) is not supported", 0);
    b[2] = 0x08;
    b[3] = 9;
    write_bytes(tmp_path("dims.gz"), b, n, 1);
    expect_fail(tmp_path("dims.gz"), "9 dimensions (expected 1 to 4)", 0);
    b[3] = 3;
    write_bytes(tmp_path("hdr.gz"), b, 3, 1);
    expect_fail(tmp_path("hdr.gz"), "truncated: 3 of 4 header bytes", 0);
    write_bytes(tmp_path("empty"), b, 0, 0);
    expect_fail(tmp_path("empty"), "truncated: 0 of 4 header bytes", 0);
    write_bytes(tmp_path("dimb.gz"), b, 9, 1);
    expect_fail(tmp_path("dimb.gz"), "truncated: 5 of 12 dimension bytes", 0);
    /* A huge dimension must not make the reader allocate it. */
    uint8_t big[] = {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    write_bytes(tmp_path("big"), big, sizeof big, 0);
    expect_fail(tmp_path("big"), "more than", 0);
    /* Labels (1-D) where images are expected, and a label out of range. */
    uint8_t lab[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 12, 2};
    write_bytes(tmp_path("lab.gz"), lab, sizeof lab, 1);
    expect_fail(tmp_path("lab.gz"), "1 dimensions (expected images", 1);
    idx_array *a = NULL;
    err e = {{0}};
    ck_assert_int_eq(idx_read_labels(tmp_path("lab.gz"), 9, &a, &e), -1);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(e.msg, "label 1 is 12 (expected 0..9)") != NULL, "%s", e.msg);
    ck_assert_int_eq(idx_read_labels(tmp_path("lab.gz"), 12, &a, &e), 0);
    idx_free(a);
    expect_fail(tmp_path("nonexistent.gz"), "No such file", 0);
}
END_TEST

START_TEST(test_payload_and_gzip_damage)
{
    uint8_t b[64];
    size_t n = small_images(b);
    write_bytes(tmp_path("short.gz"), b, n - 5, 1);
    expect_fail(tmp_path("short.gz"), "truncated: 7 of 12 data bytes", 0);
    b[n] = 7;
    write_bytes(tmp_path("long.gz"), b, n + 1, 1);
    expect_fail(tmp_path("long.gz"), "trailing bytes", 0);
    write_bytes(tmp_path("long.idx"), b, n + 1, 0);
    expect_fail(tmp_path("long.idx"), "trailing bytes", 0);

    /* A real file cut in the middle of its gzip stream, and one with a flipped byte in the middle. */
    size_t zn;
    uint8_t *z = slurp(IDX_FMNIST_DIR "/t10k-labels-idx1-ubyte.gz", &zn);
    write_bytes(tmp_path("cut.gz"), z, zn / 2, 0);
    expect_fail(tmp_path("cut.gz"), "truncated", 0);
    write_bytes(tmp_path("cut8.gz"), z, zn - 4, 0); /* only the gzip trailer's length is missing */
    expect_fail(tmp_path("cut8.gz"), "", 0);
    z[zn / 2] ^= 0x55;
    write_bytes(tmp_path("flip.gz"), z, zn, 0);
    expect_fail(tmp_path("flip.gz"), "", 0);
    z[zn / 2] ^= 0x55;
    z[zn - 6] ^= 0x01; /* inside the CRC-32 of the trailer */
    write_bytes(tmp_path("crc.gz"), z, zn, 0);
    expect_fail(tmp_path("crc.gz"), "corrupt gzip data", 0);
    free(z);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("idx");
    TCase *t = tcase_create("fashion-mnist files");
    tcase_set_timeout(t, 60);
    tcase_add_loop_test(t, test_real_files, 0, 2);
    suite_add_tcase(s, t);
    t = tcase_create("format checks");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_small_plain_and_gzip);
    tcase_add_test(t, test_bad_headers);
    tcase_add_test(t, test_payload_and_gzip_damage);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return check_run(suite()); }
