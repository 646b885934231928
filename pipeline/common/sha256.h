/* sha256 — FIPS 180-4 SHA-256, for content-addressed cache keys and model checksums. */
#ifndef FV_SHA256_H
#define FV_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
} sha256_ctx;

/* Starts a new digest in ctx (caller-owned, no allocation). */
void sha256_init(sha256_ctx *ctx);
/* Feeds n bytes. */
void sha256_update(sha256_ctx *ctx, const void *data, size_t n);
/* Writes the 32-byte digest to out. */
void sha256_final(sha256_ctx *ctx, unsigned char out[32]);
/* Writes the 64-character lowercase hex digest of data[0..n) plus NUL to hex. */
void sha256_hex(const void *data, size_t n, char hex[65]);
/* Hex digest of a file's contents; returns 0, or -1 if it cannot be read (errno set). */
int sha256_file_hex(const char *path, char hex[65]);
/* Formats a 32-byte digest as 64 hex characters plus NUL. */
void sha256_to_hex(const unsigned char d[32], char hex[65]);
/* 1: the portable rounds even where the CPU has the SHA extensions (the tests compare the two);
 * 0: back to the default. Process-wide; set it while no digest runs. */
void sha256_set_portable(int on);

#endif
