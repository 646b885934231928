/* fuzz_png — the PNG reader (pipeline/png/png_io.c): any bytes, read from memory as RGB and as
 * RGBA, and the header-only reader from a file. A decoded image's size is checked against its
 * pixel buffer by touching the last byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "png_io.h"

static char path[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s", fuzz_path("in.png"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int ok = 0;
    for (int ch = 3; ch <= 4; ch++) {
        png_io_image img;
        err e = {{0}};
        memset(&img, 0, sizeof img);
        if (png_io_read_mem(data, size, "in.png", ch, &img, &e) == 0) {
            ok = 1;
            if (img.channels != ch || img.width < 1 || img.height < 1 || !img.pixels) abort();
            volatile uint8_t last = img.pixels[(size_t)img.width * (size_t)img.height * (size_t)ch - 1];
            (void)last;
            png_io_image_free(&img);
        } else if (strncmp(e.msg, "in.png", 6) != 0) {
            fprintf(stderr, "fuzz_png: error not naming the file: '%s'\n", e.msg);
            abort();
        }
    }
    /* The header reader goes through the file path (only when the data decodes, to keep the
     * fuzzer fast: it is the same libpng front end). */
    if (ok) {
        fuzz_write(path, data, size);
        int w, h;
        err e = {{0}};
        if (png_io_size(path, &w, &h, &e) != 0) {
            fprintf(stderr, "fuzz_png: decodes, but png_io_size fails: %s\n", e.msg);
            abort();
        }
    }
    return 0;
}
