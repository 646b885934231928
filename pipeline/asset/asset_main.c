/* fv-asset — checks an author's image and publishes it into an output directory with a JSON
 * sidecar of its size: fv-asset SRC OUTDIR NAME writes OUTDIR/NAME and OUTDIR/NAME.json.
 * Exit codes: 0 ok, 1 bad input (one line on stderr), 2 usage, 3 cannot write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asset.h"

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: fv-asset SRC OUTDIR NAME\n"
             "Decodes SRC (PNG, JPEG or SVG) completely to check it, then writes OUTDIR/NAME (a copy)\n"
             "and OUTDIR/NAME.json ({\"format\", \"width\", \"height\", \"bytes\"}).\n"
             "Exit codes: 0 ok, 1 bad input, 2 usage, 3 cannot write.");
        return 0;
    }
    if (argc != 4) {
        fputs("usage: fv-asset SRC OUTDIR NAME (see --help)\n", stderr);
        return 2;
    }
    err e = {{0}};
    char *data;
    size_t len;
    if (read_file(argv[1], &data, &len, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    asset_info info;
    if (asset_check(argv[1], (unsigned char *)data, len, &info, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        free(data);
        return 1;
    }
    char *out = xasprintf("%s/%s", argv[2], argv[3]);
    char *side = xasprintf("%s/%s.json", argv[2], argv[3]);
    char *json = xasprintf("{\"format\": \"%s\", \"width\": %d, \"height\": %d, \"bytes\": %zu}\n", info.format,
                           info.width, info.height, len);
    int rc = 0;
    if (write_file_atomic(out, data, len, &e) != 0 || write_file_atomic(side, json, strlen(json), &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        rc = 3;
    }
    free(out);
    free(side);
    free(json);
    free(data);
    return rc;
}
