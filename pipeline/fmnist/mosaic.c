/* mosaic — see mosaic.h. */
#include "mosaic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"

unsigned mosaic_class_color(int c)
{
    /* Tableau's ten colours: distinct, and readable on white. */
    static const unsigned pal[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    return pal[((c % 10) + 10) % 10];
}

int mosaic_draw(const char *cells_path, const char *data_dir, png_io_image *out, err *e)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    int *rc = NULL;
    idx_array *imgs = NULL, *labels = NULL;
    int rcode = -1;
    char *ipath = xasprintf("%s/t10k-images-idx3-ubyte.gz", data_dir);
    char *lpath = xasprintf("%s/t10k-labels-idx1-ubyte.gz", data_dir);
    if (read_file(cells_path, &text, NULL, e) != 0) goto done;
    if (idx_read_images(ipath, &imgs, e) != 0 || idx_read_labels(lpath, 9, &labels, e) != 0) goto done;
    size_t total = idx_count(imgs);
    int h = (int)idx_dim(imgs, 1), w = (int)idx_dim(imgs, 2);
    /* Parse "row<TAB>col" lines. */
    size_t n = 0, cap = 1024;
    rc = xmalloc(sizeof(int) * 2 * cap);
    int rows = 0, cols = 0, line = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        if (*p && *p != '#') {
            int r, c;
            char tail;
            if (sscanf(p, "%d\t%d%c", &r, &c, &tail) != 2 || r < 0 || c < 0 || r > 4096 || c > 4096) {
                err_set(e, "%s:%d: expected 'row<TAB>col' (two whole numbers)", cells_path, line);
                goto done;
            }
            if (n == total) {
                err_set(e, "%s:%d: more cells than the %zu test images", cells_path, line, total);
                goto done;
            }
            if (n == cap) rc = xrealloc(rc, sizeof(int) * 2 * (cap *= 2));
            rc[2 * n] = r;
            rc[2 * n + 1] = c;
            if (r + 1 > rows) rows = r + 1;
            if (c + 1 > cols) cols = c + 1;
            n++;
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (n == 0) {
        err_set(e, "%s: no cells (expected fv-gridsnap output)", cells_path);
        goto done;
    }
    out->width = cols * w;
    out->height = rows * h;
    out->channels = 3;
    out->pixels = xmalloc((size_t)out->width * out->height * 3);
    memset(out->pixels, 255, (size_t)out->width * out->height * 3);
    unsigned char *used = xcalloc((size_t)rows * cols, 1);
    for (size_t i = 0; i < n; i++) {
        int r = rc[2 * i], c = rc[2 * i + 1];
        if (used[(size_t)r * cols + c]++) {
            free(used);
            err_set(e, "%s: cell (%d, %d) is given to two images (expected one image per cell)", cells_path, r, c);
            png_io_image_free(out);
            goto done;
        }
        unsigned col = mosaic_class_color(idx_data(labels)[i]);
        const uint8_t *img = idx_data(imgs) + i * (size_t)w * h;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                unsigned v = img[y * w + x];
                uint8_t *px = out->pixels + (((size_t)(r * h + y) * out->width) + (size_t)c * w + x) * 3;
                for (int k = 0; k < 3; k++) {
                    unsigned cc = (col >> (16 - 8 * k)) & 0xFF;
                    px[k] = (uint8_t)(255 - (v * (255 - cc) + 127) / 255);
                }
            }
    }
    free(used);
    rcode = 0;
done:
    free(text);
    free(rc);
    free(ipath);
    free(lpath);
    idx_free(imgs);
    idx_free(labels);
    return rcode;
}
