/* sprite — from a list of frames (id, PNG path) to encoded spritesheets and their atlases.
 *
 * The list is TSV (one "id<TAB>path" per line; blank lines and lines starting with '#' are
 * skipped) or JSON (an array of {"id": "...", "path": "..."}), told apart by the first
 * non-blank character; relative paths are taken from the list's folder. Every PNG kind is
 * accepted (grey, palette, 16-bit, alpha: converted to 8-bit RGBA). Frames are packed (pack.h),
 * drawn into sheets with their border pixels extruded into the padding, and each sheet is encoded
 * (encode.h). A sheet is RGB when all its frames are opaque, RGBA otherwise. Nothing is written
 * until every frame has been read, packed and encoded. The atlas format is in ATLAS.md. */
#ifndef FV_SPRITE_H
#define FV_SPRITE_H

#include <stdio.h>

#include "encode.h"
#include "pack.h"
#include "util.h"

typedef struct sprite_options {
    pack_options pack;
    encode_options enc;
    int encode;         /* 0: every sheet as lossless PNG, no search (the `pack` subcommand) */
    int retina;         /* 1: sources are 2x renders; see sprite_build */
    int retina_min;     /* --retina: a frame gets a 2x variant when both sides are >= this (32) */
    const char *prefix; /* sheet file names: <prefix>-<n>.<ext>, <prefix>@2x-<n>.<ext> ("sheet") */
} sprite_options;

/* A list of frames, read and checked (opaque). */
typedef struct sprite_list sprite_list;

/* Built sheets, in memory until written (opaque). */
typedef struct sprite_output sprite_output;

/* Fills *o with the defaults (pack and encode defaults, encode on, no retina, "sheet"). */
void sprite_options_default(sprite_options *o);

/* Reads the list at path. An empty id, a duplicate id (naming both lines), a missing field or
 * bad JSON fails with "path:line: what (expected ...)". Images are not read yet. Returns 0 with
 * *out owned by the caller, or -1 with e. */
int sprite_list_read(const char *path, sprite_list **out, err *e);

/* Number of frames in the list. */
int sprite_list_count(const sprite_list *l);

/* Frees the list; NULL is fine. */
void sprite_list_free(sprite_list *l);

/* Reads every frame's PNG, packs, draws and encodes the sheets. With o->retina each source whose
 * sides are both >= o->retina_min is taken as a 2x render: its 1x frame is the source halved
 * (2x2 box average), and the source itself goes into separate 2x sheets; smaller sources are used
 * as they are at 1x and get no 2x variant. A bad or unreadable PNG, or a frame larger than the
 * largest sheet, fails with "list:line: frame 'id': what". Returns 0 with *out owned by the caller,
 * or -1 with e. */
int sprite_build(const sprite_list *l, const sprite_options *o, sprite_output **out, err *e);

/* Writes every sheet and its atlas JSON into dir (created if missing), each file atomically.
 * Returns 0 or -1 with e. */
int sprite_output_write(const sprite_output *s, const char *dir, err *e);

/* Prints one line per sheet (file, size, frames, format, quality, SSIM, bytes, lossless PNG
 * bytes) and a total line to f. */
void sprite_output_table(const sprite_output *s, FILE *f);

/* Number of sheets (1x and 2x). */
int sprite_output_sheets(const sprite_output *s);

/* Sheet i: its file name, encoding result and the lossless pixels (borrowed, valid until the
 * output is freed). */
const char *sprite_output_sheet(const sprite_output *s, int i, const encode_result **enc, const uint8_t **px,
                                int *width, int *height, int *channels);

/* Frees the output; NULL is fine. */
void sprite_output_free(sprite_output *s);

#endif
