/* fvf — see fvf.h. */
#include "fvf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int fvf_write(const char *path, const float *m, size_t rows, size_t cols, err *e)
{
    if (rows > UINT32_MAX) return err_set(e, "%s: %zu rows do not fit FVF1's uint32 n", path, rows);
    if (cols > UINT32_MAX) return err_set(e, "%s: %zu columns do not fit FVF1's uint32 d", path, cols);
    size_t total = rows * cols, len = FVF_HEADER_BYTES + 4 * total;
    unsigned char *b = xmalloc(len);
    memcpy(b, "FVF1", 4);
    put_le32(b + 4, (uint32_t)rows);
    put_le32(b + 8, (uint32_t)cols);
    /* byte by byte, so the file is little-endian whatever the host */
    for (size_t k = 0; k < total; k++) {
        uint32_t u;
        memcpy(&u, &m[k], 4);
        put_le32(b + FVF_HEADER_BYTES + 4 * k, u);
    }
    int rc = write_file_atomic(path, b, len, e);
    free(b);
    return rc;
}
