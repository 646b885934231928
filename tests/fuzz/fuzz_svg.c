/* fuzz_svg — the SVG check (pipeline/asset/svg.c, libxml2 underneath): any bytes. An accepted
 * file has a size in 0..32768; a refused one has one line naming the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "svg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int w = -1, h = -1;
    err e = {{0}};
    if (svg_check("in.svg", data, size, &w, &h, &e) == 0) {
        if (w < 0 || h < 0 || w > 32768 || h > 32768) {
            fprintf(stderr, "fuzz_svg: accepted with size %dx%d\n", w, h);
            abort();
        }
    } else if (strncmp(e.msg, "in.svg", 6) != 0 || strchr(e.msg, '\n')) {
        fprintf(stderr, "fuzz_svg: error not one line naming the file: '%s'\n", e.msg);
        abort();
    }
    return 0;
}
