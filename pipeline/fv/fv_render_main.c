/* fv-render — renders one feature-visualization recipe (RECIPE.md) into an output directory.
 * A thin main over fv_recipe + fv_render. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_recipe.h"
#include "fv_render.h"
#include "nn.h"

static const char usage[] =
    "usage: fv-render [--progress] [--model-dir DIR] RECIPE.json OUT_DIR\n"
    "Optimizes images for the objectives of RECIPE.json (see pipeline/fv/RECIPE.md) and writes\n"
    "OUT_DIR/image_<b>.png, OUT_DIR/step<SSSS>_<b>.png (snapshots) and OUT_DIR/render.json, all at once.\n"
    "  --progress   one line per log_every steps on stderr: step, objective, time left\n"
    "  --model-dir DIR  read the recipe's model files (their base names) from DIR: for a model\n"
    "               that another job made, such as the trained Fashion-MNIST classifier\n"
    "Environment: FV_THREADS  thread count (default: number of cores)\n"
    "             FV_THREADS_FILE  a file whose count (1..1024) replaces it between steps, read at\n"
    "             most every 50 ms (the build's share of the cores; the bytes do not change)\n"
    "Exit codes: 0 ok, 1 bad recipe or model, 2 usage, 3 I/O or internal failure\n";

int main(int argc, char **argv)
{
    int progress = 0;
    const char *model_dir = NULL;
    const char *paths[2];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--progress") == 0) {
            progress = 1;
        } else if (strcmp(argv[i], "--model-dir") == 0 && i + 1 < argc) {
            model_dir = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "fv-render: unknown option %s\n%s", argv[i], usage);
            return 2;
        } else if (np < 2) {
            paths[np++] = argv[i];
        } else {
            fprintf(stderr, "fv-render: too many arguments\n%s", usage);
            return 2;
        }
    }
    if (np != 2) {
        fputs(usage, stderr);
        return 2;
    }
    int threads = nn_threads_from_env();
    if (threads < 1) {
        fprintf(stderr, "FV_THREADS: not a positive integer\n");
        return 2;
    }
    err e = {{0}};
    fv_recipe *r;
    if (fv_recipe_load(paths[0], &r, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    if (model_dir) {
        char *files[2] = {r->model_json, r->model_bin};
        for (int k = 0; k < 2; k++) {
            const char *base = strrchr(files[k], '/');
            char *p = xasprintf("%s/%s", model_dir, base ? base + 1 : files[k]);
            free(files[k]);
            if (k == 0) r->model_json = p;
            else r->model_bin = p;
        }
    }
    fv_render_opts o = {progress, threads};
    fv_render_status st = fv_render(r, paths[1], &o, &e);
    fv_recipe_free(r);
    if (st != FV_RENDER_OK) fprintf(stderr, "%s\n", e.msg);
    return (int)st;
}
