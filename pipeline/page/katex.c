/* katex — see katex.h. Input and output travel through temporary files as JSON, which keeps
 * the exchange simple and free of pipe deadlocks. */
#include "katex.h"

#include "sha256.h"

#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char *cache_path(const char *dir, const katex_item *it)
{
    buf b = {0};
    buf_printf(&b, "%d:%s", it->display, it->tex);
    char hex[65];
    sha256_hex(b.data, b.len, hex);
    buf_free(&b);
    return xasprintf("%s/%s.html", dir, hex);
}

static int render_node(const char *script, katex_item *items, int n, err *e);

int katex_render(const char *script, const char *cache_dir, katex_item *items, int n, err *e)
{
    if (n == 0) return 0;
    if (!cache_dir) return render_node(script, items, n, e);
    /* Take what the cache has; render the rest in one node run, and remember the successes. */
    katex_item *miss = xcalloc((size_t)n, sizeof *miss);
    int *where = xcalloc((size_t)n, sizeof *where);
    int m = 0;
    for (int i = 0; i < n; i++) {
        char *path = cache_path(cache_dir, &items[i]);
        char *html;
        if (read_file(path, &html, NULL, NULL) == 0) {
            items[i].html = html;
        } else {
            miss[m] = items[i];
            where[m++] = i;
        }
        free(path);
    }
    int rc = render_node(script, miss, m, e);
    if (rc == 0 && m > 0) mkdir_p(cache_dir, NULL);
    for (int k = 0; rc == 0 && k < m; k++) {
        items[where[k]].html = miss[k].html;
        items[where[k]].error = miss[k].error;
        if (miss[k].html) {
            char *path = cache_path(cache_dir, &miss[k]);
            write_file_atomic(path, miss[k].html, strlen(miss[k].html), NULL); /* best effort */
            free(path);
        }
    }
    free(miss);
    free(where);
    return rc;
}

static int render_node(const char *script, katex_item *items, int n, err *e)
{
    if (n == 0) return 0;
    char in_path[] = "/tmp/fv-katex-in.XXXXXX";
    char out_path[] = "/tmp/fv-katex-out.XXXXXX";
    int fd_in = mkstemp(in_path);
    int fd_out = fd_in >= 0 ? mkstemp(out_path) : -1;
    int rc = -1;
    json_t *arr = NULL, *res = NULL;
    if (fd_in < 0 || fd_out < 0) {
        err_set(e, "katex: cannot create temporary files");
        goto done;
    }
    close(fd_out);
    arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:b}", "tex", items[i].tex, "display", items[i].display));
    FILE *f = fdopen(fd_in, "w");
    fd_in = -1;
    if (!f || json_dumpf(arr, f, JSON_COMPACT) != 0 || fclose(f) != 0) {
        err_set(e, "katex: cannot write %s", in_path);
        goto done;
    }
    char *argv[] = {"node", (char *)script, in_path, out_path, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "node", NULL, NULL, argv, environ) != 0) {
        err_set(e, "katex: cannot run node (is nodejs installed? run make setup)");
        goto done;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err_set(e, "katex: node %s failed (exit %d; is npm's katex installed? run make setup)", script,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto done;
    }
    json_error_t je;
    res = json_load_file(out_path, 0, &je);
    if (!json_is_array(res) || json_array_size(res) != (size_t)n) {
        err_set(e, "katex: unexpected output from %s", script);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        json_t *r = json_array_get(res, (size_t)i);
        const char *h = json_string_value(json_object_get(r, "html"));
        const char *er = json_string_value(json_object_get(r, "error"));
        items[i].html = h ? xstrdup(h) : NULL;
        items[i].error = er ? xstrdup(er) : (h ? NULL : xstrdup("no output"));
    }
    rc = 0;
done:
    if (fd_in >= 0) close(fd_in);
    unlink(in_path);
    unlink(out_path);
    json_decref(arr);
    json_decref(res);
    return rc;
}
