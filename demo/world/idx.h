/* idx.h -- the IDX files of MNIST and Fashion-MNIST (yann.lecun.com/exdb/mnist, "FILE FORMATS"), gzipped or
 * plain (zlib reads both), unsigned-byte data only.
 *
 * Layout: a 4-byte magic 00 00 08 NDIM (08: unsigned byte), NDIM big-endian 32-bit sizes, then the product of
 * the sizes in bytes, row-major, and nothing after. Every failure is a frz_status with a message naming the file
 * and the byte offset at fault, in the uncompressed data ("train-labels-idx1-ubyte.gz: byte 2: data type 0x0d is
 * not unsigned byte (0x08)"); gzip damage names the compressed offset too. */
#ifndef FRZ_DEMO_IDX_H
#define FRZ_DEMO_IDX_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

#define IDX_MAX_DIMS 3
/* The largest data part accepted (1 GiB); Fashion-MNIST's training images are 47 MB. */
#define IDX_MAX_BYTES ((size_t)1 << 30)

typedef struct idx_array {
    int ndim;
    uint32_t dims[IDX_MAX_DIMS];
    uint8_t *data;  /* (dims[0], dims[1], ...) bytes, row-major */
    size_t size;    /* product of dims */
} idx_array;

/* Reads path, which must hold ndim dimensions of unsigned bytes. On failure *out is zeroed (nothing to free). */
frz_status idx_load(const char *path, int ndim, idx_array *out);
void idx_free(idx_array *a);

/* One Fashion-MNIST split: dir/<prefix>-images-idx3-ubyte.gz and dir/<prefix>-labels-idx1-ubyte.gz (prefix
 * "train" or "t10k"), checked to be n images of 28 x 28 and n labels in 0..9. */
#define FMNIST_SIDE 28
#define FMNIST_CLASSES 10
typedef struct fmnist_split {
    size_t n;
    uint8_t *images;  /* (n, 28, 28) gray, 0 = background */
    uint8_t *labels;  /* (n) class indices 0..9 */
} fmnist_split;

frz_status fmnist_load(const char *dir, const char *prefix, fmnist_split *out);
void fmnist_free(fmnist_split *s);

#endif
