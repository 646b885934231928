/* idx — reader of IDX files (the MNIST / Fashion-MNIST container), plain or gzip-compressed.
 *
 * An IDX file is: two zero bytes, a type byte, a byte giving the number of dimensions D, then D
 * big-endian uint32 sizes, then the elements in row-major order. Only the unsigned-byte type (0x08)
 * is read, the only one the Fashion-MNIST files use; the others are refused with a clear message.
 * The whole file is checked: magic, type, dimensions, exact payload length (a short file and
 * trailing bytes are both errors) and, for gzip input, the gzip stream itself (CRC, truncation).
 *
 * Errors: fallible functions return 0 or -1 and fill the caller's `err` with one line
 * "path: what is wrong (what was expected)". */
#ifndef FV_IDX_H
#define FV_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Where Debian's dataset-fashion-mnist package puts the four files. */
#define IDX_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* An IDX array of unsigned bytes: its dimensions and its elements in one allocation. */
typedef struct idx_array idx_array;

/* Reads the IDX file at path (gzip or plain: zlib detects which). On success *out is a new array
 * owned by the caller (free with idx_free). Returns 0, or -1 with e naming the file and the
 * problem ("x.gz: truncated: 1234 of 47040000 data bytes (file ends early)"). */
int idx_read(const char *path, idx_array **out, err *e);

/* Reads an image file: like idx_read, and also requires 3 dimensions (count, rows, cols) with
 * non-zero sizes. Returns 0 or -1 with e. */
int idx_read_images(const char *path, idx_array **out, err *e);

/* Reads a label file: like idx_read, and also requires 1 dimension and every label
 * <= max_label. Returns 0 or -1 with e (naming the first bad label's index). */
int idx_read_labels(const char *path, int max_label, idx_array **out, err *e);

/* Frees the array; NULL is allowed. */
void idx_free(idx_array *a);

/* Number of dimensions (1..4 for the files read here). */
int idx_ndims(const idx_array *a);

/* Size of dimension i (0 <= i < idx_ndims), or 0 when i is out of range. */
uint32_t idx_dim(const idx_array *a, int i);

/* Number of elements (the product of the dimensions). */
size_t idx_count(const idx_array *a);

/* The elements, row-major; owned by the array. */
const uint8_t *idx_data(const idx_array *a);

#endif
