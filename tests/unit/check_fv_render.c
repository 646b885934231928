/* Check suite for fv_render on the real network (FV_MODEL_DIR, the verified mbv3-coco): a short
 * render raises its objective substantially, two runs give the same bytes, and recipe fields that
 * need the model (layer, channel, class, vector) are refused with one clear line and no output. */
#include <check.h>
#include "check_run.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fv_recipe.h"
#include "fv_render.h"

#define EARLY "tower_0/MobilenetV3/expanded_conv_5/expand/Relu:preact"

static char tmpdir[256];

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/check_fv_render.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

static const char *model_dir(void)
{
    const char *d = getenv("FV_MODEL_DIR");
    return d ? d : ".cache/models/mbv3-coco";
}

/* Parses a recipe whose model part is filled in from FV_MODEL_DIR; body is the rest of the object. */
static fv_recipe *recipe(const char *body, err *e)
{
    char *text = xasprintf("{\"model\": {\"json\": \"%s/centernet.json\", \"bin\": \"%s/centernet.bin\"}, %s}",
                           model_dir(), model_dir(), body);
    fv_recipe *r = NULL;
    int rc = fv_recipe_parse("recipe.json", text, &r, e);
    free(text);
    return rc == 0 ? r : NULL;
}

static fv_render_status render(const char *body, const char *out, err *e)
{
    fv_recipe *r = recipe(body, e);
    ck_assert_msg(r != NULL, "%s", e->msg);
    fv_render_opts o = {0, 2};
    fv_render_status st = fv_render(r, out, &o, e);
    fv_recipe_free(r);
    return st;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

START_TEST(short_render_rises)
{
    err e = {{0}};
    char *out = xasprintf("%s/out", tmpdir);
    ck_assert_msg(render("\"layer\": \"" EARLY "\", \"size\": 64, \"steps\": 32, \"log_every\": 1, \"snapshots\": [0, 32],"
                         " \"objectives\": [{\"kind\": \"channel\", \"channel\": 5}]",
                         out, &e) == FV_RENDER_OK,
                  "%s", e.msg);
    char *side = xasprintf("%s/render.json", out);
    json_error_t je;
    json_t *j = json_load_file(side, 0, &je);
    ck_assert_ptr_nonnull(j);
    json_t *curve = json_object_get(j, "curve");
    ck_assert_int_eq(json_array_size(curve), 32);
    double first = json_real_value(json_array_get(json_array_get(curve, 0), 1));
    double last = json_real_value(json_array_get(json_array_get(curve, 31), 1));
    double final = json_real_value(json_object_get(json_object_get(j, "final"), "objective"));
    ck_assert_msg(last > first + 2.0 && final > first + 2.0, "objective %g -> %g (final %g)", first, last, final);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "model_sha256"))), 64);
    json_decref(j);
    free(side);
    static const char *files[] = {"image_0.png", "step0000_0.png", "step0032_0.png", "render.json"};
    for (int i = 0; i < 4; i++) {
        char *p = xasprintf("%s/%s", out, files[i]);
        ck_assert_msg(exists(p), "missing %s", p);
        free(p);
    }
    free(out);
}
END_TEST

START_TEST(deterministic)
{
    err e = {{0}};
    const char *body = "\"layer\": \"" EARLY "\", \"size\": 32, \"steps\": 6, \"batch\": 2,"
                       " \"objectives\": [{\"kind\": \"channel\", \"channel\": 7}, {\"kind\": \"tv\", \"weight\": 0.5}]";
    char *a = xasprintf("%s/a", tmpdir), *b = xasprintf("%s/b", tmpdir);
    ck_assert_msg(render(body, a, &e) == FV_RENDER_OK, "%s", e.msg);
    ck_assert_msg(render(body, b, &e) == FV_RENDER_OK, "%s", e.msg);
    for (int k = 0; k < 2; k++) {
        char *pa = xasprintf("%s/image_%d.png", a, k), *pb = xasprintf("%s/image_%d.png", b, k);
        char *da, *db;
        size_t la, lb;
        ck_assert_int_eq(read_file(pa, &da, &la, &e), 0);
        ck_assert_int_eq(read_file(pb, &db, &lb, &e), 0);
        ck_assert_msg(la == lb && memcmp(da, db, la) == 0, "image_%d differs between two runs", k);
        free(da);
        free(db);
        free(pa);
        free(pb);
    }
    /* rendering again into an existing directory replaces it */
    ck_assert_msg(render(body, a, &e) == FV_RENDER_OK, "%s", e.msg);
    free(a);
    free(b);
}
END_TEST

START_TEST(model_checks)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"\"layer\": \"" EARLY "\", \"objectives\": [{\"kind\": \"channel\", \"channel\": 900}]",
         "recipe.json: objectives[0].channel: 900 out of range (layer has 96 channels)"},
        {"\"objectives\": [{\"kind\": \"layer\", \"layer\": \"tower_0/nope\"}]",
         "recipe.json: objectives[0].layer: no node \"tower_0/nope\" in the model"},
        {"\"objectives\": [{\"kind\": \"class\", \"class\": \"unicorn\"}]",
         "recipe.json: objectives[0].class: \"unicorn\" is not a COCO-80 class name"},
        {"\"objectives\": [{\"kind\": \"class\", \"class\": 80}]",
         "recipe.json: objectives[0].class: 80 out of range (layer has 80 channels)"},
        {"\"layer\": \"" EARLY "\", \"objectives\": [{\"kind\": \"direction\", \"vector\": [1, 2]}]",
         "recipe.json: objectives[0].vector: 2 values (layer has 96 channels)"},
        {"\"layer\": \"" EARLY "\", \"size\": 32, \"objectives\": [{\"kind\": \"neuron\", \"channel\": 1, \"x\": 40}]",
         "recipe.json: objectives[0].x: 40 out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err e = {{0}};
        char *out = xasprintf("%s/bad%zu", tmpdir, i);
        ck_assert_int_eq(render(cases[i].body, out, &e), FV_RENDER_BAD_INPUT);
        ck_assert_msg(strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) == 0, "case %zu: got \"%s\"", i, e.msg);
        ck_assert_msg(!exists(out), "case %zu: %s written", i, out);
        free(out);
    }
}
END_TEST

static Suite *fv_render_suite(void)
{
    Suite *s = suite_create("fv_render");
    TCase *tc = tcase_create("render");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, short_render_rises);
    tcase_add_test(tc, deterministic);
    suite_add_tcase(s, tc);
    tc = tcase_create("model_checks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_checks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return check_run(fv_render_suite()); }
