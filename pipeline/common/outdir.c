/* outdir — see outdir.h. */
#include "outdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int outdir_begin(const char *out_dir, char **tmp, err *e)
{
    /* only the parent is created: out_dir itself appears by rename when everything is written */
    char *parent = xstrdup(out_dir);
    char *slash = strrchr(parent, '/');
    int rc = 0;
    if (slash && slash != parent) {
        *slash = 0;
        rc = mkdir_p(parent, e);
    }
    free(parent);
    if (rc != 0) return -1;
    char *t = xasprintf("%s.tmp.%d", out_dir, (int)getpid());
    rm_tree(t);
    if (mkdir(t, 0755) != 0) {
        /* named by out_dir, the path the caller gave, not by the scratch name with its pid */
        err_set(e, "%s: cannot create: %s", out_dir, strerror(errno));
        free(t);
        return -1;
    }
    *tmp = t;
    return 0;
}

int outdir_publish(const char *tmp, const char *out_dir, err *e)
{
    if (rename(tmp, out_dir) == 0) return 0;
    /* rename replaces an empty directory only: anything else is an error of its own */
    if (errno != ENOTEMPTY && errno != EEXIST)
        return err_set(e, "%s: cannot publish %s: %s", out_dir, tmp, strerror(errno));
    char *old = xasprintf("%s.old.%d", out_dir, (int)getpid());
    int rc = 0;
    if (rename(out_dir, old) != 0) {
        rc = err_set(e, "%s: cannot move the previous version aside: %s", out_dir, strerror(errno));
    } else if (rename(tmp, out_dir) != 0) {
        rc = err_set(e, "%s: cannot publish %s: %s", out_dir, tmp, strerror(errno));
        rename(old, out_dir); /* the previous version stays published */
    } else {
        rm_tree(old);
    }
    free(old);
    return rc;
}

void outdir_abort(const char *tmp)
{
    if (tmp) rm_tree(tmp);
}
