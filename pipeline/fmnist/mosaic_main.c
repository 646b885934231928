/* fv-mosaic — draws the t-SNE grid of Fashion-MNIST test images (see mosaic.h).
 * Exit codes: 0 ok, 1 bad input, 2 usage, 3 cannot write. */
#include <stdio.h>
#include <string.h>

#include "idx.h"
#include "mosaic.h"

int main(int argc, char **argv)
{
    const char *data = IDX_FMNIST_DIR;
    const char *pos[2];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            puts("usage: fv-mosaic [--data DIR] CELLS.tsv OUT.png\n"
                 "Draws test image i of Fashion-MNIST in the grid cell on line i of CELLS.tsv (fv-gridsnap's\n"
                 "row<TAB>col), tinted with its class colour on white.\n"
                 "Exit codes: 0 ok, 1 bad input, 2 usage, 3 cannot write.");
            return 0;
        }
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (argv[i][0] != '-' && np < 2) pos[np++] = argv[i];
        else {
            fprintf(stderr, "usage: fv-mosaic [--data DIR] CELLS.tsv OUT.png\n");
            return 2;
        }
    }
    if (np != 2) {
        fprintf(stderr, "usage: fv-mosaic [--data DIR] CELLS.tsv OUT.png\n");
        return 2;
    }
    err e = {{0}};
    png_io_image img;
    if (mosaic_draw(pos[0], data, &img, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int rc = png_io_write(pos[1], &img, 6, &e) == 0 ? 0 : 3;
    if (rc) fprintf(stderr, "%s\n", e.msg);
    png_io_image_free(&img);
    return rc;
}
