/* idx — IDX reader over zlib's gz* interface, which reads gzip and plain files alike. */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_DIMS 4
/* No IDX file we read comes near this; it keeps a corrupt header from asking for terabytes. */
#define IDX_MAX_BYTES ((uint64_t)1 << 34)

struct idx_array {
    int ndims;
    uint32_t dims[IDX_MAX_DIMS];
    size_t count;
    uint8_t *data;
};

/* gzerror's text starts with "path: "; the caller's message names the path already. */
static const char *zmsg_text(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg ? msg : "unknown zlib error";
}

/* Reads exactly n bytes; returns n, or the short count (0..n-1), or -1 on a gzip error (msg set). */
static long long read_full(gzFile f, const char *path, void *dst, size_t n, const char **msg)
{
    size_t got = 0;
    while (got < n) {
        /* gzread takes an unsigned int count: read in 1 GB pieces. */
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(f, (uint8_t *)dst + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            *msg = gzerror(f, &zerr);
            *msg = zmsg_text(*msg, path);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

static const char *type_name(int t)
{
    switch (t) {
    case 0x09: return "signed byte (0x09)";
    case 0x0B: return "int16 (0x0B)";
    case 0x0C: return "int32 (0x0C)";
    case 0x0D: return "float32 (0x0D)";
    case 0x0E: return "float64 (0x0E)";
    default: return NULL;
    }
}

int idx_read(const char *path, idx_array **out, err *e)
{
    *out = NULL;
    idx_array *a = NULL;
    const char *zmsg = NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return err_set(e, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    gzbuffer(f, 1 << 17);

    uint8_t head[4];
    long long r = read_full(f, path, head, 4, &zmsg);
    if (r < 0) {
        err_set(e, "%s: corrupt gzip data (%s; expected gzip-compressed or plain IDX data)", path, zmsg);
        goto fail;
    }
    if (r < 4) {
        err_set(e, "%s: truncated: %lld of 4 header bytes (an IDX file starts 00 00 <type> <ndims>)", path, r);
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        err_set(e, "%s: bad magic %02x %02x %02x %02x (expected an IDX file starting 00 00 08 <ndims>)", path,
                head[0], head[1], head[2], head[3]);
        goto fail;
    }
    if (head[2] != 0x08) {
        const char *tn = type_name(head[2]);
        if (tn)
            err_set(e, "%s: element type %s is not supported (expected unsigned byte, 0x08)", path, tn);
        else
            err_set(e, "%s: bad magic: unknown element type 0x%02x (expected unsigned byte, 0x08)", path, head[2]);
        goto fail;
    }
    if (head[3] < 1 || head[3] > IDX_MAX_DIMS) {
        err_set(e, "%s: %d dimensions (expected 1 to %d)", path, head[3], IDX_MAX_DIMS);
        goto fail;
    }
    a = xcalloc(1, sizeof *a);
    a->ndims = head[3];
    uint8_t dimb[4 * IDX_MAX_DIMS];
    size_t nd = 4 * (size_t)a->ndims;
    r = read_full(f, path, dimb, nd, &zmsg);
    if (r < 0) {
        err_set(e, "%s: corrupt gzip data (%s; expected gzip-compressed or plain IDX data)", path, zmsg);
        goto fail;
    }
    if ((size_t)r < nd) {
        err_set(e, "%s: truncated: %lld of %zu dimension bytes", path, r, nd);
        goto fail;
    }
    uint64_t count = 1;
    for (int i = 0; i < a->ndims; i++) {
        const uint8_t *p = dimb + 4 * i;
        a->dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        count *= a->dims[i];
        if (count > IDX_MAX_BYTES) {
            err_set(e, "%s: dimensions ask for more than %llu elements (corrupt header?)", path,
                    (unsigned long long)IDX_MAX_BYTES);
            goto fail;
        }
    }
    a->count = (size_t)count;
    /* The buffer grows with the data read (doubling from 1 MB): a 12-byte header may claim
     * 4 GB, and allocating that up front made a tiny file cost 4 GB (tests/fuzz/regressions/idx). */
    size_t cap = a->count < ((size_t)1 << 20) ? a->count : ((size_t)1 << 20), got = 0;
    a->data = xmalloc(cap ? cap : 1);
    while (got < a->count) {
        if (got == cap) {
            cap = cap > a->count / 2 ? a->count : 2 * cap;
            a->data = xrealloc(a->data, cap);
        }
        r = read_full(f, path, a->data + got, cap - got, &zmsg);
        if (r < 0) {
            err_set(e, "%s: corrupt gzip data (%s; expected gzip-compressed or plain IDX data)", path, zmsg);
            goto fail;
        }
        int short_read = (size_t)r < cap - got;
        got += (size_t)r;
        if (short_read) break;
    }
    if (got < a->count) {
        err_set(e, "%s: truncated: %zu of %zu data bytes (file ends early)", path, got, a->count);
        goto fail;
    }
    /* Reading past the payload also makes zlib check the gzip trailer (CRC-32 and length). */
    uint8_t extra;
    r = read_full(f, path, &extra, 1, &zmsg);
    if (r < 0) {
        err_set(e, "%s: corrupt gzip data (%s; expected gzip-compressed or plain IDX data)", path, zmsg);
        goto fail;
    }
    if (r > 0) {
        err_set(e, "%s: trailing bytes after the %zu data bytes the header announces", path, a->count);
        goto fail;
    }
    /* zlib reports a gzip stream cut inside its trailer as a soft Z_BUF_ERROR, not as a failed read. */
    int zerr = Z_OK;
    zmsg = zmsg_text(gzerror(f, &zerr), path);
    if (zerr != Z_OK) {
        err_set(e, "%s: truncated gzip stream (%s; expected a complete gzip trailer)", path, zmsg);
        goto fail;
    }
    gzclose(f);
    *out = a;
    return 0;
fail:
    gzclose(f);
    idx_free(a);
    return -1;
}

int idx_read_images(const char *path, idx_array **out, err *e)
{
    if (idx_read(path, out, e) != 0) return -1;
    const idx_array *a = *out;
    if (a->ndims != 3 || !a->dims[0] || !a->dims[1] || !a->dims[2]) {
        err_set(e, "%s: %d dimensions%s (expected images: 3 non-zero dimensions count x rows x cols)", path, a->ndims,
                a->ndims == 3 ? " with a zero size" : "");
        goto fail;
    }
    return 0;
fail:
    idx_free(*out);
    *out = NULL;
    return -1;
}

int idx_read_labels(const char *path, int max_label, idx_array **out, err *e)
{
    if (idx_read(path, out, e) != 0) return -1;
    const idx_array *a = *out;
    if (a->ndims != 1) {
        err_set(e, "%s: %d dimensions (expected labels: 1 dimension)", path, a->ndims);
        goto fail;
    }
    for (size_t i = 0; i < a->count; i++)
        if (a->data[i] > max_label) {
            err_set(e, "%s: label %zu is %d (expected 0..%d)", path, i, a->data[i], max_label);
            goto fail;
        }
    return 0;
fail:
    idx_free(*out);
    *out = NULL;
    return -1;
}

void idx_free(idx_array *a)
{
    if (!a) return;
    free(a->data);
    free(a);
}

int idx_ndims(const idx_array *a) { return a->ndims; }

uint32_t idx_dim(const idx_array *a, int i) { return i >= 0 && i < a->ndims ? a->dims[i] : 0; }

size_t idx_count(const idx_array *a) { return a->count; }

const uint8_t *idx_data(const idx_array *a) { return a->data; }
