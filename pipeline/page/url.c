/* url — see url.h. A browser skips leading spaces and controls and removes tabs and newlines
 * anywhere in a URL before it reads the scheme, and a reader of HTML decodes entities: so a check
 * that compares a prefix ("javascript:") can be walked around. This one allows, instead of
 * forbids: a scheme spelled exactly (any case) as http, https or mailto, or no scheme at all,
 * and no control character anywhere. */
#include "url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int is_scheme_char(int c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; }

const char *url_problem(const char *url, url_kind kind)
{
    const char *expected = kind == URL_ABSOLUTE ? "an http(s) or mailto: URL"
                                                : "an http(s) or mailto: URL, or a relative link";
    size_t n = strlen(url);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] < 0x20 || url[i] == 0x7f) return expected;
    if (n && (url[0] == ' ' || url[n - 1] == ' ')) return expected;
    size_t s = 0;
    if (is_alpha((unsigned char)url[0]))
        while (is_scheme_char((unsigned char)url[s])) s++;
    if (s && url[s] == ':') {
        if ((s == 4 && !strncasecmp(url, "http", 4)) || (s == 5 && !strncasecmp(url, "https", 5)))
            return !strncmp(url + s, "://", 3) && url[s + 3] && url[s + 3] != '/' ? NULL : expected;
        if (s == 6 && !strncasecmp(url, "mailto", 6)) return url[s + 1] ? NULL : expected;
        return expected;
    }
    if (kind == URL_ABSOLUTE) return expected;
    /* Relative: a ':' before the first '/', '?' or '#' could still be read as a scheme once
     * something (an entity, a space) is taken away; the '#' of an entity ("&#x73;") does not
     * start a fragment. */
    for (const char *p = url; *p && *p != '/' && *p != '?'; p++) {
        if (*p == ':') return expected;
        if (*p == '#' && (p == url || p[-1] != '&')) break;
    }
    return NULL;
}

void url_shown(const char *url, char *out, size_t n)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)url; *p && o + 8 < n; p++) {
        if (o >= 60) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (*p < 0x20 || *p == 0x7f) o += (size_t)snprintf(out + o, n - o, "\\x%02X", *p);
        else out[o++] = (char)*p;
    }
    out[o] = 0;
}
