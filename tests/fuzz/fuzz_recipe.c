/* fuzz_recipe — the render-recipe reader (pipeline/fv/fv_recipe.c, JSON, RECIPE.md): every
 * field's presence, type and range, objectives, transforms, snapshots. A recipe it accepts is
 * written out with fv_recipe_to_json (the filled-in form of render.json and of fv-render's cache
 * keys), which must be valid JSON and the same text each time. */
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "fv_recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    fv_recipe *r = NULL;
    err e = {{0}};
    if (fv_recipe_parse("r.json", text, &r, &e) != 0) {
        if (r || strncmp(e.msg, "r.json", 6) != 0) {
            fprintf(stderr, "fuzz_recipe: bad failure: '%s'\n", e.msg);
            abort();
        }
        free(text);
        return 0;
    }
    /* The filled-in form (render.json, cache keys): valid JSON, and the same text every time. */
    char *js = fv_recipe_to_json(r), *js2 = fv_recipe_to_json(r);
    json_error_t je;
    json_t *root = json_loads(js, 0, &je);
    if (!root || strcmp(js, js2) != 0) {
        fprintf(stderr, "fuzz_recipe: fv_recipe_to_json: %s\n%s\n", root ? "not deterministic" : je.text, js);
        abort();
    }
    json_decref(root);
    free(js);
    free(js2);
    fv_recipe_free(r);
    free(text);
    return 0;
}
