/* template — see template.h. */
#include "template.h"

#include <string.h>

int tpl_render(const char *tpl, const char *path, const tpl_var *vars, int n, buf *out, err *e)
{
    int line = 1;
    const char *p = tpl;
    while (*p) {
        const char *open = strstr(p, "{{");
        const char *stop = open ? open : p + strlen(p);
        for (const char *q = p; q < stop; q++) line += *q == '\n';
        buf_put(out, p, (size_t)(stop - p));
        if (!open) break;
        int raw = open[2] == '{';
        const char *name = open + (raw ? 3 : 2);
        while (*name == ' ') name++;
        const char *end = name;
        while ((*end >= 'a' && *end <= 'z') || *end == '_' || (*end >= '0' && *end <= '9')) end++;
        const char *close = end;
        while (*close == ' ') close++;
        const char *want = raw ? "}}}" : "}}";
        if (strncmp(close, want, strlen(want)) != 0 || end == name)
            return err_set(e, "%s:%d: malformed tag (expected {{name}} or {{{name}}})", path, line);
        const char *value = NULL;
        for (int i = 0; i < n; i++)
            if (strlen(vars[i].name) == (size_t)(end - name) && !memcmp(vars[i].name, name, (size_t)(end - name)))
                value = vars[i].value;
        if (!value) {
            buf known = {0};
            for (int i = 0; i < n; i++) buf_printf(&known, "%s%s", i ? ", " : "", vars[i].name);
            err_set(e, "%s:%d: unknown variable '%.*s' (expected one of: %s)", path, line, (int)(end - name), name,
                    known.data ? known.data : "");
            buf_free(&known);
            return -1;
        }
        if (raw) buf_puts(out, value);
        else buf_put_html(out, value, strlen(value));
        p = close + strlen(want);
    }
    return 0;
}
