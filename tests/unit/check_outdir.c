/* check_outdir — output directories published at once: the scratch directory and its parents, a
 * first publish, a publish over a previous version (replaced whole, nothing left beside it), a
 * publish that cannot happen (an error naming the directory, the scratch left for abort), abort. */
#include <check.h>
#include "check_run.h"
#include "check_tmp.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outdir.h"
#include "util.h"

static int exists(const char *fmt, const char *a)
{
    char *p = xasprintf(fmt, a);
    struct stat st;
    int r = stat(p, &st) == 0;
    free(p);
    return r;
}

/* Entries of directory d (without . and ..). */
static int entries(const char *d)
{
    DIR *h = opendir(d);
    ck_assert_ptr_nonnull(h);
    int n = 0;
    for (struct dirent *x; (x = readdir(h));) n += strcmp(x->d_name, ".") && strcmp(x->d_name, "..");
    closedir(h);
    return n;
}

static void put(const char *d, const char *name)
{
    char *p = xasprintf("%s/%s", d, name);
    err e = {{0}};
    ck_assert_int_eq(write_file_atomic(p, "x", 1, &e), 0);
    free(p);
}

START_TEST(publish_new_and_over_old)
{
    err e = {{0}};
    char *out = xasprintf("%s/a/b/out", tmp_dir), *tmp = NULL;
    ck_assert_int_eq(outdir_begin(out, &tmp, &e), 0);
    ck_assert(exists("%s", tmp) && !exists("%s", out));
    put(tmp, "one");
    ck_assert_int_eq(outdir_publish(tmp, out, &e), 0);
    ck_assert(exists("%s/one", out) && !exists("%s", tmp));
    free(tmp);
    /* a second run replaces the whole directory */
    ck_assert_int_eq(outdir_begin(out, &tmp, &e), 0);
    put(tmp, "two");
    ck_assert_int_eq(outdir_publish(tmp, out, &e), 0);
    ck_assert(exists("%s/two", out) && !exists("%s/one", out));
    char *parent = xasprintf("%s/a/b", tmp_dir);
    ck_assert_int_eq(entries(parent), 1); /* no .tmp or .old beside it */
    free(parent);
    free(tmp);
    free(out);
}
END_TEST

START_TEST(publish_fails_then_abort)
{
    err e = {{0}};
    char *out = xasprintf("%s/gone/out", tmp_dir), *tmp = NULL;
    ck_assert_int_eq(outdir_begin(out, &tmp, &e), 0);
    put(tmp, "one");
    /* the destination's parent disappears before the publish */
    char *gone = xasprintf("%s/gone", tmp_dir), *moved = xasprintf("%s/moved", tmp_dir);
    ck_assert_int_eq(rename(gone, moved), 0);
    free(tmp);
    tmp = xasprintf("%s/moved/out.tmp.%d", tmp_dir, (int)getpid());
    ck_assert_int_eq(outdir_publish(tmp, out, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "gone/out: cannot publish"));
    ck_assert(exists("%s/one", tmp));
    outdir_abort(tmp);
    ck_assert(!exists("%s", tmp));
    ck_assert_int_eq(entries(moved), 0);
    outdir_abort(NULL);
    free(gone), free(moved), free(tmp), free(out);
}
END_TEST

START_TEST(begin_fails)
{
    err e = {{0}};
    /* a file where a parent directory should be */
    put(tmp_dir, "file");
    char *out = xasprintf("%s/file/out", tmp_dir), *tmp = NULL;
    ck_assert_int_eq(outdir_begin(out, &tmp, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "file"));
    ck_assert_ptr_null(tmp);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outdir");
    TCase *t = tcase_create("publish");
    tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
    tcase_add_test(t, publish_new_and_over_old);
    tcase_add_test(t, publish_fails_then_abort);
    tcase_add_test(t, begin_fails);
    suite_add_tcase(s, t);
    return check_run(s);
}
