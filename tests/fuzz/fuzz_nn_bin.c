/* fuzz_nn_bin — the TF.js model loader (pipeline/nn/nn.c) on the fixed tests/fuzz/tiny-model.json
 * with fuzzed weights: the byte count against the manifest, float16 decoding (subnormals,
 * infinities, NaN), float32 and int32 constants, and what the accessors then make of them (the
 * Reshape target shape is read from the int32 weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nn_common.h"

static char json[1024], bin[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    nn_set_threads(1);
    char *text;
    size_t len;
    err e = {{0}};
    if (read_file(FUZZ_ROOT "/tests/fuzz/tiny-model.json", &text, &len, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    snprintf(json, sizeof json, "%s", fuzz_path("m.json"));
    fuzz_write(json, text, len);
    free(text);
    snprintf(bin, sizeof bin, "%s", fuzz_path("w.bin"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(bin, data, size);
    nn_fuzz_load(json, bin, "w.bin");
    return 0;
}
