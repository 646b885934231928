/* outdir — output directories published all at once: a tool writes its files into a scratch
 * directory beside the destination and renames it into place at the end, so a reader (a later
 * stage, the cache) sees the previous complete directory or the new complete one, never a part.
 * fv-train, fv-examples and fv-render use it. */
#ifndef FV_OUTDIR_H
#define FV_OUTDIR_H

#include "util.h"

/* Creates out_dir's parents and a fresh scratch directory "<out_dir>.tmp.<pid>" (a stale one of
 * that name is removed first); its path goes to *tmp (caller frees). Returns 0 or -1 with e. */
int outdir_begin(const char *out_dir, char **tmp, err *e);

/* Renames tmp to out_dir; an existing out_dir is moved aside, then removed once tmp is in place
 * (put back if that fails). Returns 0, or -1 with e naming out_dir; tmp is then left for
 * outdir_abort. */
int outdir_publish(const char *tmp, const char *out_dir, err *e);

/* Removes the scratch directory tmp and everything in it; NULL is allowed. */
void outdir_abort(const char *tmp);

#endif
