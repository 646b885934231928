/* Check suite for the pack module: layouts are valid (property test over random sets), tight on
 * easy cases, deterministic, and bad sizes are refused. */
#include <check.h>
#include "check_run.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"

/* xorshift: the same numbers on every platform, unlike rand(). */
static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Checks every frame lies inside its sheet and no two frames' rings (p around each) overlap.
 * Plain ifs in the loops: each Check assertion is a write to the runner's pipe. */
static void check_valid(const pack_layout *l, const int *sizes, int n, int p, const pack_options *o)
{
    int ns = pack_layout_sheets(l);
    ck_assert_int_ge(ns, n > 0 ? 1 : 0);
    int *s = malloc(sizeof(int) * (size_t)n * 3), *x = s + n, *y = x + n;
    for (int i = 0; i < n; i++) {
        pack_layout_frame(l, i, &s[i], &x[i], &y[i]);
        int sw = 0, sh = 0, ok = s[i] >= 0 && s[i] < ns;
        if (ok) pack_layout_sheet_size(l, s[i], &sw, &sh);
        ok = ok && sw <= o->max_width && sh <= o->max_height && x[i] >= 0 && y[i] >= 0 &&
             x[i] + sizes[2 * i] <= sw && y[i] + sizes[2 * i + 1] <= sh;
        if (!ok)
            ck_abort_msg("frame %d (%dx%d at %d,%d) outside sheet %d (%dx%d)", i, sizes[2 * i], sizes[2 * i + 1],
                         x[i], y[i], s[i], sw, sh);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            if (s[i] != s[j]) continue;
            int sep = x[i] + sizes[2 * i] + 2 * p <= x[j] || x[j] + sizes[2 * j] + 2 * p <= x[i] ||
                      y[i] + sizes[2 * i + 1] + 2 * p <= y[j] || y[j] + sizes[2 * j + 1] + 2 * p <= y[i];
            if (!sep) ck_abort_msg("frames %d and %d overlap (with padding %d)", i, j, p);
        }
    free(s);
}

static int *random_sizes(uint32_t seed, int n, int maxside)
{
    int *sz = malloc(sizeof(int) * 2 * (size_t)n);
    uint32_t st = seed * 2654435761u + 1;
    for (int i = 0; i < n; i++) {
        /* mixed: mostly small, some long thin, a few big */
        uint32_t kind = rng(&st) % 10;
        int w = 1 + (int)(rng(&st) % 64), h = 1 + (int)(rng(&st) % 64);
        if (kind == 0) w = 1 + (int)(rng(&st) % (uint32_t)maxside);
        if (kind == 1) h = 1 + (int)(rng(&st) % (uint32_t)maxside);
        sz[2 * i] = w;
        sz[2 * i + 1] = h;
    }
    return sz;
}

START_TEST(property_random_sets)
{
    /* many seeds of a few hundred frames, and sheets small enough to force several sheets */
    for (uint32_t seed = 1; seed <= 40; seed++) {
        pack_options o;
        pack_options_default(&o);
        o.padding = (int)(seed % 3);
        o.max_width = o.max_height = seed % 2 ? 512 : 300;
        int n = 150 + (int)(seed * 7 % 200);
        int *sz = random_sizes(seed, n, 200);
        pack_layout *l;
        err e = {{0}};
        ck_assert_msg(pack_layout_new(&o, sz, n, &l, &e) == 0, "%s", e.msg);
        check_valid(l, sz, n, o.padding, &o);
        pack_layout_free(l);
        free(sz);
    }
}
END_TEST

START_TEST(property_thousands)
{
    for (uint32_t seed = 100; seed < 103; seed++) {
        pack_options o;
        pack_options_default(&o);
        o.max_width = o.max_height = 1024;
        int n = 3000;
        int *sz = random_sizes(seed, n, 300);
        pack_layout *l;
        err e = {{0}};
        ck_assert_msg(pack_layout_new(&o, sz, n, &l, &e) == 0, "%s", e.msg);
        check_valid(l, sz, n, o.padding, &o);
        ck_assert_int_ge(pack_layout_sheets(l), 2);
        /* a sound packer fills full sheets well; a broken free list would leave holes */
        ck_assert_msg(pack_layout_occupancy(l) > 0.75, "occupancy %.3f", pack_layout_occupancy(l));
        pack_layout_free(l);
        free(sz);
    }
}
END_TEST

START_TEST(tight_and_shrunk)
{
    pack_options o;
    pack_options_default(&o);
    o.padding = 0;
    int sz[] = {10, 10, 10, 10, 10, 10, 10, 10};
    pack_layout *l;
    err e = {{0}};
    ck_assert_int_eq(pack_layout_new(&o, sz, 4, &l, &e), 0);
    ck_assert_int_eq(pack_layout_sheets(l), 1);
    int w, h;
    pack_layout_sheet_size(l, 0, &w, &h);
    ck_assert_int_eq(w * h, 400); /* 20x20 or 40x10: every pixel used */
    ck_assert_double_eq(pack_layout_occupancy(l), 1.0);
    pack_layout_free(l);

    /* padding 1: a 2-pixel gap between frames, none at the sheet's edges */
    o.padding = 1;
    int two[] = {10, 10, 10, 10};
    ck_assert_int_eq(pack_layout_new(&o, two, 2, &l, &e), 0);
    pack_layout_sheet_size(l, 0, &w, &h);
    ck_assert_int_eq(w * h, 220);
    pack_layout_free(l);

    /* power-of-two sheets */
    o.pot = 1;
    int odd[] = {33, 17};
    ck_assert_int_eq(pack_layout_new(&o, odd, 1, &l, &e), 0);
    pack_layout_sheet_size(l, 0, &w, &h);
    ck_assert_int_eq(w, 64);
    ck_assert_int_eq(h, 32);
    pack_layout_free(l);

    /* a frame exactly as large as the sheet */
    o.pot = 0;
    o.max_width = 64;
    o.max_height = 32;
    int full[] = {64, 32, 64, 32};
    ck_assert_int_eq(pack_layout_new(&o, full, 2, &l, &e), 0);
    ck_assert_int_eq(pack_layout_sheets(l), 2);
    pack_layout_free(l);
}
END_TEST

START_TEST(deterministic)
{
    pack_options o;
    pack_options_default(&o);
    o.max_width = o.max_height = 400;
    int n = 300;
    int *sz = random_sizes(7, n, 150);
    pack_layout *a, *b;
    err e = {{0}};
    ck_assert_int_eq(pack_layout_new(&o, sz, n, &a, &e), 0);
    ck_assert_int_eq(pack_layout_new(&o, sz, n, &b, &e), 0);
    ck_assert_int_eq(pack_layout_sheets(a), pack_layout_sheets(b));
    for (int i = 0; i < n; i++) {
        int s1, x1, y1, s2, x2, y2;
        pack_layout_frame(a, i, &s1, &x1, &y1);
        pack_layout_frame(b, i, &s2, &x2, &y2);
        ck_assert(s1 == s2 && x1 == x2 && y1 == y2);
    }
    ck_assert_str_eq(pack_layout_method(a), pack_layout_method(b));
    pack_layout_free(a);
    pack_layout_free(b);
    free(sz);
}
END_TEST

START_TEST(bad_sizes)
{
    pack_options o;
    pack_options_default(&o);
    pack_layout *l = NULL;
    err e = {{0}};
    int zero[] = {5, 5, 0, 4};
    ck_assert_int_eq(pack_layout_new(&o, zero, 2, &l, &e), -1);
    ck_assert_str_eq(e.msg, "frame 1: size 0x4 is empty (expected at least 1x1)");
    ck_assert_ptr_null(l);
    int big[] = {4097, 10};
    ck_assert_int_eq(pack_layout_new(&o, big, 1, &l, &e), -1);
    ck_assert_str_eq(e.msg, "frame 0: 4097x10 is larger than the largest sheet 4096x4096");
    ck_assert_int_eq(pack_layout_new(&o, big, 0, &l, &e), 0);
    ck_assert_int_eq(pack_layout_sheets(l), 0);
    pack_layout_free(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pack");
    TCase *t = tcase_create("property");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, property_random_sets);
    tcase_add_test(t, property_thousands);
    suite_add_tcase(s, t);
    t = tcase_create("layout");
    tcase_add_test(t, tight_and_shrunk);
    tcase_add_test(t, deterministic);
    suite_add_tcase(s, t);
    t = tcase_create("errors");
    tcase_add_test(t, bad_sizes);
    suite_add_tcase(s, t);
    return check_run(s);
}
