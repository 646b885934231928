/* template — fills an HTML template: {{name}} inserts a value HTML-escaped, {{{name}}} inserts
 * it raw (for HTML the page tool built itself). Every variable used must be given. */
#ifndef FV_TEMPLATE_H
#define FV_TEMPLATE_H

#include "util.h"

typedef struct tpl_var {
    const char *name, *value; /* borrowed */
} tpl_var;

/* Renders tpl (named path in errors) with vars[0..n) into out. Returns 0, or -1 with
 * "path:line: unknown variable 'x' (expected one of: ...)" or an unclosed-tag error in e. */
int tpl_render(const char *tpl, const char *path, const tpl_var *vars, int n, buf *out, err *e);

#endif
