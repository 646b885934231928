/* tsne_io — FVF1 / text / IDX feature matrices. */
#include "tsne_io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fvf.h"
#include "idx.h"

void tsne_mat_free(tsne_mat *m)
{
    if (!m) return;
    free(m->v);
    memset(m, 0, sizeof *m);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Checks every value is finite; names the first bad one by row and column. */
static int check_finite(const char *path, const tsne_mat *m, err *e)
{
    size_t total = m->n * (size_t)m->d;
    for (size_t k = 0; k < total; k++)
        if (!isfinite(m->v[k]))
            return err_set(e, "%s: row %zu, column %zu: value %g is not finite (expected a finite number)", path,
                           k / (size_t)m->d + 1, k % (size_t)m->d + 1, (double)m->v[k]);
    return 0;
}

static int read_fvf(const char *path, const char *data, size_t len, tsne_mat *out, err *e)
{
    const unsigned char *u = (const unsigned char *)data;
    if (len < FVF_HEADER_BYTES)
        return err_set(e, "%s: truncated FVF1 header: %zu of %d bytes (magic, uint32 n, uint32 d)", path, len,
                       FVF_HEADER_BYTES);
    uint32_t n = le32(u + 4), d = le32(u + 8);
    if (d == 0) return err_set(e, "%s: header: d = 0 (expected at least 1 feature per point)", path);
    if (d > INT_MAX) return err_set(e, "%s: header: d = %u (expected at most %d features per point)", path, d, INT_MAX);
    /* n*d fits in 64 bits but 4*n*d may not (n = d = 2^31 wrapped to 0 and passed, then the
     * loop below read far past the file): compare value counts (tests/fuzz/regressions/tsne_io). */
    uint64_t want = FVF_HEADER_BYTES + (uint64_t)n * d * 4;
    if ((len - FVF_HEADER_BYTES) % 4 != 0 || (uint64_t)n * d != (uint64_t)(len - FVF_HEADER_BYTES) / 4)
        return err_set(e, "%s: size %zu bytes does not match the header (n=%u, d=%u: expected %llu bytes)", path, len,
                       n, d, (unsigned long long)want);
    out->n = n;
    out->d = (int)d;
    out->v = xmalloc((size_t)n * d * sizeof(float) + 1);
    /* float32 little-endian on disk, decoded through a uint32 so any host reads it right. */
    for (size_t k = 0; k < (size_t)n * d; k++) {
        uint32_t b = le32(u + FVF_HEADER_BYTES + 4 * k);
        memcpy(&out->v[k], &b, 4);
    }
    if (check_finite(path, out, e) != 0) {
        tsne_mat_free(out);
        return -1;
    }
    return 0;
}

static int is_sep(char c) { return c == ',' || c == '\t' || c == ' ' || c == '\r'; }

static int read_text(const char *path, const char *data, size_t len, tsne_mat *out, err *e)
{
    size_t cap = 0, count = 0;
    float *v = NULL;
    int d = -1, first_line = 0, lineno = 0;
    size_t rows = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        lineno++;
        const char *q = p;
        while (q < eol && is_sep(*q)) q++;
        if (q == eol || *q == '#') {
            p = eol + 1;
            continue;
        }
        int cols = 0;
        while (q < eol) {
            char tmp[64];
            const char *t = q;
            while (t < eol && !is_sep(*t)) t++;
            size_t tl = (size_t)(t - q);
            if (tl >= sizeof tmp) tl = sizeof tmp - 1;
            memcpy(tmp, q, tl);
            tmp[tl] = 0;
            char *stop;
            errno = 0;
            float f = strtof(tmp, &stop);
            if (stop == tmp || *stop) {
                err_set(e, "%s:%d: field %d: '%s' is not a number (expected numbers separated by commas, tabs or spaces)", path, lineno,
                        cols + 1, tmp);
                goto fail;
            }
            if (!isfinite(f)) {
                err_set(e, "%s:%d: field %d: '%s' is not finite (expected a finite number)", path, lineno, cols + 1,
                        tmp);
                goto fail;
            }
            if (count == cap) {
                cap = cap ? 2 * cap : 1024;
                v = xrealloc(v, cap * sizeof(float));
            }
            v[count++] = f;
            cols++;
            q = t;
            while (q < eol && is_sep(*q)) q++;
        }
        if (d < 0) {
            d = cols;
            first_line = lineno;
        } else if (cols != d) {
            err_set(e, "%s:%d: %d values (expected %d, like line %d)", path, lineno, cols, d, first_line);
            goto fail;
        }
        rows++;
        p = eol + 1;
    }
    if (d < 0) {
        err_set(e, "%s: no data lines (expected one point per line)", path);
        goto fail;
    }
    out->n = rows;
    out->d = d;
    out->v = v;
    return 0;
fail:
    free(v);
    return -1;
}

int tsne_io_read(const char *path, tsne_mat *out, err *e)
{
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    if (read_file(path, &data, &len, e) != 0) return -1;
    int r = len >= 4 && memcmp(data, "FVF1", 4) == 0 ? read_fvf(path, data, len, out, e)
                                                     : read_text(path, data, len, out, e);
    free(data);
    return r;
}

int tsne_io_read_idx(const char *path, tsne_mat *out, err *e)
{
    memset(out, 0, sizeof *out);
    idx_array *a;
    if (idx_read_images(path, &a, e) != 0) return -1;
    out->n = idx_dim(a, 0);
    out->d = (int)(idx_dim(a, 1) * idx_dim(a, 2));
    size_t total = idx_count(a);
    out->v = xmalloc(total * sizeof(float));
    const uint8_t *px = idx_data(a);
    for (size_t k = 0; k < total; k++) out->v[k] = (float)px[k] * (1.0f / 255.0f);
    idx_free(a);
    return 0;
}

int tsne_io_append(tsne_mat *a, tsne_mat *b, const char *what, err *e)
{
    if (a->n == 0 && !a->v) {
        *a = *b;
        memset(b, 0, sizeof *b);
        return 0;
    }
    if (a->d != b->d) {
        int r = err_set(e, "%s: %d features per point (expected %d, like the inputs before it)", what, b->d, a->d);
        tsne_mat_free(b);
        return r;
    }
    a->v = xrealloc(a->v, (a->n + b->n) * (size_t)a->d * sizeof(float));
    memcpy(a->v + a->n * (size_t)a->d, b->v, b->n * (size_t)b->d * sizeof(float));
    a->n += b->n;
    tsne_mat_free(b);
    return 0;
}

int tsne_io_write_fvf(const char *path, const tsne_mat *m, err *e) { return fvf_write(path, m->v, m->n, (size_t)m->d, e); }

int tsne_io_write_tsv(const char *path, const tsne_mat *m, err *e)
{
    buf b = {0};
    for (size_t i = 0; i < m->n; i++) {
        for (int j = 0; j < m->d; j++)
            buf_printf(&b, j ? "\t%.9g" : "%.9g", (double)m->v[i * (size_t)m->d + (size_t)j]);
        buf_putc(&b, '\n');
    }
    int r = write_file_atomic(path, b.data ? b.data : "", b.len, e);
    buf_free(&b);
    return r;
}
