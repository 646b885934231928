/* fuzz_idx — the IDX reader (pipeline/idx/idx.c) on any bytes, plain or gzip (zlib decides):
 * magic, element type, dimension count, sizes against the payload, trailing bytes, the gzip
 * stream's own checks; then the image and label front ends on the same file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "idx.h"

static char path[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "%s", fuzz_path("in.idx"));
    return 0;
}

static void check(idx_array *a)
{
    size_t count = 1;
    for (int i = 0; i < idx_ndims(a); i++) count *= idx_dim(a, i);
    if (idx_ndims(a) < 1 || count != idx_count(a) || idx_dim(a, idx_ndims(a)) != 0) abort();
    if (count) {
        volatile uint8_t last = idx_data(a)[count - 1];
        (void)last;
    }
    idx_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(path, data, size);
    idx_array *a = NULL;
    err e = {{0}};
    if (idx_read(path, &a, &e) != 0) {
        if (a || strncmp(e.msg, path, strlen(path)) != 0) {
            fprintf(stderr, "fuzz_idx: bad failure: '%s'\n", e.msg);
            abort();
        }
        return 0;
    }
    check(a);
    if (idx_read_images(path, &a, &e) == 0) check(a);
    if (idx_read_labels(path, 9, &a, &e) == 0) {
        for (size_t i = 0; i < idx_count(a); i++)
            if (idx_data(a)[i] > 9) abort();
        check(a);
    }
    return 0;
}
