/* fmnist_data — the Fashion-MNIST images and labels, read through the idx module (see fmnist.h). */
#include "fmnist.h"

#include <stdlib.h>
#include <string.h>

#include "idx.h"

static const char *const class_names[FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

const char *fmnist_class_name(int i) { return i >= 0 && i < FMNIST_CLASSES ? class_names[i] : NULL; }

int fmnist_load(const char *dir, int train, int limit, fmnist_set *out, err *e)
{
    const char *pre = train ? "train" : "t10k";
    char *ip = xasprintf("%s/%s-images-idx3-ubyte.gz", dir, pre);
    char *lp = xasprintf("%s/%s-labels-idx1-ubyte.gz", dir, pre);
    idx_array *im = NULL, *lb = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (idx_read_images(ip, &im, e) != 0 || idx_read_labels(lp, FMNIST_CLASSES - 1, &lb, e) != 0) goto done;
    if (idx_dim(im, 1) != FMNIST_SIDE || idx_dim(im, 2) != FMNIST_SIDE) {
        err_set(e, "%s: images are %ux%u (expected 28x28)", ip, idx_dim(im, 1), idx_dim(im, 2));
        goto done;
    }
    if (idx_dim(im, 0) != idx_dim(lb, 0)) {
        err_set(e, "%s: %u labels for %u images in %s (expected equal counts)", lp, idx_dim(lb, 0), idx_dim(im, 0),
                ip);
        goto done;
    }
    size_t n = idx_dim(im, 0);
    if (limit > 0 && (size_t)limit < n) n = (size_t)limit;
    out->n = (int)n;
    out->images = xmalloc(n * FMNIST_PIXELS + 1);
    out->labels = xmalloc(n + 1);
    memcpy(out->images, idx_data(im), n * FMNIST_PIXELS);
    memcpy(out->labels, idx_data(lb), n);
    rc = 0;
done:
    idx_free(im);
    idx_free(lb);
    free(ip);
    free(lp);
    return rc;
}

void fmnist_set_free(fmnist_set *s)
{
    if (!s) return;
    free(s->images);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
