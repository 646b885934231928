/* svg — see svg.h. An allowlist, not a blocklist: a blocklist of "script" and "onload" missed
 * onmouseover, onbegin, an event attribute after a tab, "java&#x73;cript:" and CSS @import;
 * here anything not named below is refused, whatever its spelling. */
#include "svg.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SVG_NS "http://www.w3.org/2000/svg"
#define XLINK_NS "http://www.w3.org/1999/xlink"
#define XML_NS "http://www.w3.org/XML/1998/namespace"
/* The largest width or height accepted, in user units: the same bound as raster images. */
#define SVG_MAX_SIZE 32768.0

/* The static drawing subset of SVG 1.1. Not here on purpose: script, foreignObject (HTML inside),
 * animate/set/animateMotion/animateTransform (onbegin, timed href changes), a (links), image
 * (loads other files), filter primitives (feImage loads files), font/cursor (load files). */
static const char *const elements[] = {
    "circle", "clipPath", "defs", "desc",   "ellipse",  "g",        "line",  "linearGradient", "marker",
    "mask",   "metadata", "path", "pattern", "polygon", "polyline", "radialGradient", "rect",  "stop",
    "style",  "svg",      "symbol", "text", "textPath", "title",    "tspan", "use",
};

/* Geometry, structure and presentation attributes. Every event attribute (on*) is absent. */
static const char *const attributes[] = {
    "alignment-baseline", "aria-hidden", "aria-label", "aria-labelledby", "aria-describedby",
    "baseProfile", "baseline-shift", "class", "clip", "clip-path", "clip-rule", "clipPathUnits", "color",
    "color-interpolation", "color-rendering", "cx", "cy", "d", "direction", "display", "dominant-baseline",
    "dx", "dy", "fill", "fill-opacity", "fill-rule", "focusable", "font-family", "font-size",
    "font-size-adjust", "font-stretch", "font-style", "font-variant", "font-weight", "fx", "fy",
    "gradientTransform", "gradientUnits", "height", "href", "id", "image-rendering", "lang",
    "lengthAdjust", "letter-spacing", "marker-end", "marker-mid", "marker-start", "markerHeight",
    "markerUnits", "markerWidth", "mask", "maskContentUnits", "maskUnits", "media", "method", "offset",
    "opacity", "orient", "overflow", "paint-order", "pathLength", "patternContentUnits",
    "patternTransform", "patternUnits", "points", "preserveAspectRatio", "r", "refX", "refY", "role",
    "rotate", "rx", "ry", "shape-rendering", "spacing", "spreadMethod", "startOffset", "stop-color",
    "stop-opacity", "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
    "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "style", "text-anchor",
    "text-decoration", "text-rendering", "textLength", "transform", "type", "unicode-bidi",
    "vector-effect", "version", "viewBox", "visibility", "width", "word-spacing", "writing-mode", "x",
    "x1", "x2", "y", "y1", "y2",
};

/* CSS functions a value may call: colours and transforms. url() is allowed towards "#id" only. */
static const char *const functions[] = {
    "hsl", "hsla", "matrix", "rgb", "rgba", "rotate", "scale", "skewx", "skewy", "translate", "url",
};

static int listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

#define LISTED(list, s) listed(list, sizeof list / sizeof list[0], s)

/* A value as it can be shown in a one-line message: at most 40 bytes, controls as '?'. */
static void shown(const char *v, char out[48])
{
    size_t len = strnlen(v, 41), n = len > 40 ? 40 : len;
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    if (len > 40) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
}

/* What is wrong with CSS text (a style sheet, a style attribute or a presentation attribute's
 * value), or NULL. sheet: a <style> element's text, where at-rules (@import, @font-face) live. */
static const char *css_problem(const char *v, int sheet)
{
    for (const char *p = v; *p; p++) {
        /* An escape can spell "url(" or "@import" so that no scan of the text sees it. */
        if (*p == '\\') return "a CSS escape ('\\')";
        if (*p == '@' && sheet) return "an @-rule (@import, @font-face, ...)";
        if (*p != '(') continue;
        const char *q = p;
        while (q > v && (q[-1] == '-' || q[-1] == '_' || (q[-1] >= '0' && q[-1] <= '9') ||
                         ((q[-1] | 0x20) >= 'a' && (q[-1] | 0x20) <= 'z')))
            q--;
        if (q == p) continue; /* a bare parenthesis, not a function */
        char name[16];
        size_t n = (size_t)(p - q);
        if (n >= sizeof name) return "a CSS function that is not a colour or a transform";
        for (size_t i = 0; i < n; i++) name[i] = (char)(q[i] | 0x20);
        name[n] = 0;
        if (!LISTED(functions, name)) return "a CSS function that is not a colour, a transform or url(#id)";
        if (!strcmp(name, "url")) {
            const char *a = p + 1;
            while (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r' || *a == '"' || *a == '\'') a++;
            if (*a != '#') return "url() of something outside the file";
        }
    }
    return NULL;
}

/* Length of an SVG number at s (sign, digits, fraction, exponent), 0 if none: stricter than
 * strtod, which also takes "inf", "nan" and hexadecimal. */
static size_t number_len(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-') i++;
    while (s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (!digits) return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        size_t j = i + 1;
        if (s[j] == '+' || s[j] == '-') j++;
        if (s[j] >= '0' && s[j] <= '9') {
            while (s[j] >= '0' && s[j] <= '9') j++;
            i = j;
        }
    }
    return i;
}

/* The root's width or height: 1 with *px for a number in pixels ("640", "640px"), 0 for a size in
 * other units or a percentage (the viewBox gives the size then), -1 when malformed or out of
 * 0..SVG_MAX_SIZE. */
static int size_attr(const char *v, double *px)
{
    while (*v == ' ') v++;
    size_t n = number_len(v);
    if (!n) return -1;
    double d = strtod(v, NULL);
    if (!isfinite(d) || d < 0 || d > SVG_MAX_SIZE) return -1;
    const char *u = v + n;
    size_t un = strcspn(u, " ");
    if (u[un + strspn(u + un, " ")]) return -1;
    if (un == 0 || (un == 2 && !strncmp(u, "px", 2))) {
        *px = d;
        return 1;
    }
    static const char *const units[] = {"%", "em", "ex", "pt", "pc", "mm", "cm", "in"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i]) == un && !strncmp(u, units[i], un)) return 0;
    return -1;
}

/* The viewBox: four finite numbers, the last two its size from 0 to SVG_MAX_SIZE. */
static int view_box(const char *v, double *w, double *h)
{
    double x[4];
    const char *p = v;
    for (int i = 0; i < 4; i++) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        size_t n = number_len(p);
        if (!n) return -1;
        x[i] = strtod(p, NULL);
        if (!isfinite(x[i])) return -1;
        p += n;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p || x[2] <= 0 || x[3] <= 0 || x[2] > SVG_MAX_SIZE || x[3] > SVG_MAX_SIZE) return -1;
    *w = x[2];
    *h = x[3];
    return 0;
}

typedef struct walk {
    const char *path;
    err *e;
} walk;

static int check_attr(walk *k, xmlNodePtr el, xmlAttrPtr a)
{
    int line = (int)xmlGetLineNo(el);
    const char *el_name = (const char *)el->name;
    const char *name = (const char *)a->name;
    const char *ns = a->ns ? (const char *)a->ns->href : NULL;
    xmlChar *value = xmlNodeListGetString(el->doc, a->children, 1);
    const char *v = value ? (const char *)value : "";
    char s[48];
    shown(v, s);
    int rc = 0;
    int is_href = !strcmp(name, "href") && (!ns || !strcmp(ns, XLINK_NS));
    if (ns && !is_href && !(!strcmp(ns, XML_NS) && (!strcmp(name, "space") || !strcmp(name, "lang")))) {
        rc = err_set(k->e, "%s:%d: <%s> attribute '%s:%s' is not allowed (expected SVG attributes only; "
                     "export as plain SVG)", k->path, line, el_name, a->ns->prefix ? (const char *)a->ns->prefix : "?",
                     name);
    } else if (!ns && !LISTED(attributes, name)) {
        rc = err_set(k->e, "%s:%d: <%s> attribute '%s' is not allowed (expected geometry and presentation "
                     "attributes of a static image; no event handlers)", k->path, line, el_name, name);
    } else if (is_href) {
        if (v[0] != '#')
            rc = err_set(k->e, "%s:%d: <%s> attribute 'href': '%s' is not a reference inside the file "
                         "(expected '#id')", k->path, line, el_name, s);
    } else if (strncmp(name, "aria-", 5) != 0) {
        const char *why = css_problem(v, 0);
        if (why)
            rc = err_set(k->e, "%s:%d: <%s> attribute '%s': '%s' holds %s (expected a static style)", k->path,
                         line, el_name, name, s, why);
    }
    xmlFree(value);
    return rc;
}

static int check_node(walk *k, xmlNodePtr node)
{
    int line = (int)xmlGetLineNo(node);
    switch (node->type) {
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
    case XML_COMMENT_NODE:
        return 0;
    case XML_ELEMENT_NODE:
        break;
    case XML_PI_NODE:
        return err_set(k->e, "%s:%d: processing instruction <?%s ...?> is not allowed (expected none: it can "
                       "load a style sheet)", k->path, line, (const char *)node->name);
    case XML_ENTITY_REF_NODE:
        return err_set(k->e, "%s:%d: entity reference &%s; is not allowed (expected plain text)", k->path, line,
                       (const char *)node->name);
    default:
        return err_set(k->e, "%s:%d: unexpected XML node (type %d; expected elements, text and comments)",
                       k->path, line, (int)node->type);
    }
    const char *name = (const char *)node->name;
    if (!node->ns || strcmp((const char *)node->ns->href, SVG_NS) != 0)
        return err_set(k->e, "%s:%d: element <%s%s%s> is not an SVG element (expected the SVG namespace only; "
                       "export as plain SVG)", k->path, line,
                       node->ns && node->ns->prefix ? (const char *)node->ns->prefix : "",
                       node->ns && node->ns->prefix ? ":" : "", name);
    if (!LISTED(elements, name))
        return err_set(k->e, "%s:%d: element <%s> is not allowed (expected the static drawing elements of SVG: "
                       "no script, animation, foreignObject, image or link)", k->path, line, name);
    for (xmlAttrPtr a = node->properties; a; a = a->next)
        if (check_attr(k, node, a) != 0) return -1;
    if (!strcmp(name, "style")) {
        xmlChar *css = xmlNodeGetContent(node);
        const char *why = css_problem(css ? (const char *)css : "", 1);
        xmlFree(css);
        if (why)
            return err_set(k->e, "%s:%d: <style> holds %s (expected rules that style this file only)", k->path,
                           line, why);
    }
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (check_node(k, c) != 0) return -1;
    return 0;
}

/* Line of the first byte of needle in data, or 0 when absent. */
static int line_of(const unsigned char *data, size_t len, const char *needle)
{
    const unsigned char *p = memmem(data, len, needle, strlen(needle));
    if (!p) return 0;
    int line = 1;
    for (const unsigned char *q = data; q < p; q++) line += *q == '\n';
    return line;
}

int svg_check(const char *path, const unsigned char *data, size_t len, int *width, int *height, err *e)
{
    *width = *height = 0;
    int line, col;
    if (utf8_check((const char *)data, len, &line, &col) != 0)
        return err_set(e, "%s:%d: invalid UTF-8 (expected an SVG file in UTF-8)", path, line);
    if (len > INT_MAX) return err_set(e, "%s: %zu bytes is too large for an SVG (expected under 2 GB)", path, len);
    /* Refused before parsing: a DTD declares entities, and entities expand (a few lines can
     * expand to gigabytes) or name outside files. */
    if ((line = line_of(data, len, "<!DOCTYPE")) != 0 || (line = line_of(data, len, "<!ENTITY")) != 0)
        return err_set(e, "%s:%d: a DOCTYPE is not allowed (expected no DTD: delete the <!DOCTYPE ...> line)",
                       path, line);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return err_set(e, "%s: cannot initialise libxml2", path);
    /* No XML_PARSE_NOENT (entities stay unexpanded), no DTD loading, no network; libxml2's
     * messages go to e, not to stderr. */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, (const char *)data, (int)len, path, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = -1;
    if (!doc) {
        xmlErrorPtr x = xmlCtxtGetLastError(ctxt);
        char msg[160] = "unknown error";
        if (x && x->message) {
            snprintf(msg, sizeof msg, "%s", x->message);
            msg[strcspn(msg, "\n")] = 0;
        }
        err_set(e, "%s:%d: not well-formed XML: %s (expected a complete SVG file)", path, x ? x->line : 0, msg);
        goto done;
    }
    if (doc->intSubset || doc->extSubset) {
        err_set(e, "%s: a DOCTYPE is not allowed (expected no DTD: delete the <!DOCTYPE ...> line)", path);
        goto done;
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "svg") != 0 || !root->ns ||
        strcmp((const char *)root->ns->href, SVG_NS) != 0) {
        err_set(e, "%s: not an SVG file (expected an <svg xmlns=\"" SVG_NS "\"> root element)", path);
        goto done;
    }
    walk k = {path, e};
    for (xmlNodePtr c = doc->children; c; c = c->next)
        if (check_node(&k, c) != 0) goto done;
    /* The size: width and height in pixels, else the viewBox's. */
    double w = 0, h = 0, vw = 0, vh = 0;
    int have[2] = {0, 0};
    const char *names[2] = {"width", "height"};
    double *px[2] = {&w, &h};
    for (int i = 0; i < 2; i++) {
        xmlChar *v = xmlGetNoNsProp(root, (const xmlChar *)names[i]);
        if (!v) continue;
        have[i] = size_attr((const char *)v, px[i]);
        char s[48];
        shown((const char *)v, s);
        xmlFree(v);
        if (have[i] < 0) {
            err_set(e, "%s:%d: <svg> attribute '%s': '%s' is not a size (expected a number from 0 to %.0f, in px or another "
                    "unit)", path, (int)xmlGetLineNo(root), names[i], s, SVG_MAX_SIZE);
            goto done;
        }
    }
    xmlChar *vb = xmlGetNoNsProp(root, (const xmlChar *)"viewBox");
    if (vb) {
        char s[48];
        shown((const char *)vb, s);
        int bad = view_box((const char *)vb, &vw, &vh) != 0;
        xmlFree(vb);
        if (bad) {
            err_set(e, "%s:%d: <svg> attribute 'viewBox': '%s' is not a view box (expected four numbers, the last two from 0 to "
                    "%.0f)", path, (int)xmlGetLineNo(root), s, SVG_MAX_SIZE);
            goto done;
        }
    }
    if (!(have[0] == 1 && have[1] == 1)) w = vw, h = vh;
    *width = (int)(w + 0.5);
    *height = (int)(h + 0.5);
    rc = 0;
done:
    if (doc) xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}
