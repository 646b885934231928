/* fuzz_util — helpers shared by the libFuzzer targets (header-only: each target is one program).
 *
 * The readers under test take file paths, so most targets write the fuzzed bytes to a scratch
 * file first. The scratch directory is made once per process under $TMPDIR and reused. */
#ifndef FV_FUZZ_UTIL_H
#define FV_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

/* The libFuzzer entry points (the targets define them; declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char fuzz_dir[512];

/* Removes the scratch directory (flat) when the process exits normally. */
static inline void fuzz_cleanup(void)
{
    DIR *d = opendir(fuzz_dir);
    if (!d) return;
    struct dirent *de;
    char p[1024];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", fuzz_dir, de->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(fuzz_dir);
}

/* A path "<scratch dir>/<name>" (static storage, valid until the next call; the directory is
 * created on first use and removed at exit). */
static inline const char *fuzz_path(const char *name)
{
    char *dir = fuzz_dir;
    static char path[1024];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof fuzz_dir, "%s/fvfuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* Writes data to path (replacing it); aborts on an I/O error, which is the harness's fault. */
static inline void fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
