/* katex — see katex.h. Input and output travel through temporary files as JSON, which keeps
 * the exchange simple and free of pipe deadlocks. */
#include "katex.h"

#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int katex_render(const char *script, katex_item *items, int n, err *e)
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
