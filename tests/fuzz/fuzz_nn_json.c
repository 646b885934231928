/* fuzz_nn_json — the TF.js model loader (pipeline/nn/nn.c, nn_model_load_tfjs) on a fuzzed
 * model.json with the fixed weights of tests/fuzz/tiny-model.bin: topology parsing (names,
 * inputs "name:k" and "^ctrl", attributes in base64 and int64-as-string), the weights manifest
 * (dtypes, float16 quantization, shapes against Const nodes, byte counts against the .bin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "nn_common.h"

static char json[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    nn_set_threads(1);
    /* The shard the seed's manifest names, next to the JSON, for the bin_path NULL case. */
    char *bin;
    size_t len;
    err e = {{0}};
    if (read_file(FUZZ_ROOT "/tests/fuzz/tiny-model.bin", &bin, &len, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    fuzz_write(fuzz_path("tiny-model.bin"), bin, len);
    free(bin);
    snprintf(json, sizeof json, "%s", fuzz_path("m.json"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(json, data, size);
    nn_fuzz_load(json, FUZZ_ROOT "/tests/fuzz/tiny-model.bin", "tiny-model.bin");
    /* bin_path NULL: the manifest's own `paths`, relative to the JSON (a missing shard fails). */
    nn_fuzz_load(json, NULL, NULL);
    return 0;
}
