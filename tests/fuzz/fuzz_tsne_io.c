/* fuzz_tsne_io — the t-SNE feature-file reader (pipeline/tsne/tsne_io.c): FVF1 binary (header
 * against the size, finite values) and text (CSV / TSV / spaces, comments, equal column
 * counts). A matrix it accepts is written back as FVF1 and as TSV, and both must read back to
 * the same values (the formats promise an exact round trip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "tsne_io.h"

static char in[1024], fvf[1024], tsv[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(in, sizeof in, "%s", fuzz_path("in.txt"));
    snprintf(fvf, sizeof fvf, "%s", fuzz_path("out.fvf"));
    snprintf(tsv, sizeof tsv, "%s", fuzz_path("out.tsv"));
    return 0;
}

static void same(const tsne_mat *a, const char *path)
{
    tsne_mat b;
    err e = {{0}};
    if (tsne_io_read(path, &b, &e) != 0) {
        fprintf(stderr, "fuzz_tsne_io: own output does not read back: %s\n", e.msg);
        abort();
    }
    if (b.n != a->n || b.d != a->d || memcmp(a->v, b.v, a->n * (size_t)a->d * sizeof(float)) != 0) {
        fprintf(stderr, "fuzz_tsne_io: %s differs after a round trip\n", path);
        abort();
    }
    tsne_mat_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(in, data, size);
    tsne_mat m;
    err e = {{0}};
    if (tsne_io_read(in, &m, &e) != 0) {
        if (m.v || strncmp(e.msg, in, strlen(in)) != 0) {
            fprintf(stderr, "fuzz_tsne_io: bad failure: '%s'\n", e.msg);
            abort();
        }
        return 0;
    }
    if (m.d < 1) abort();
    if (m.n > 0) {
        volatile float last = m.v[m.n * (size_t)m.d - 1];
        (void)last;
        if (tsne_io_write_fvf(fvf, &m, &e) != 0 || tsne_io_write_tsv(tsv, &m, &e) != 0) {
            fprintf(stderr, "fuzz_tsne_io: cannot write: %s\n", e.msg);
            abort();
        }
        same(&m, fvf);
        same(&m, tsv);
    }
    tsne_mat_free(&m);
    return 0;
}
