/* sprite — see sprite.h. */
#include "sprite.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "png_io.h"

typedef struct entry {
    char *id, *path; /* path as resolved */
    int line;        /* 1-based line of the list (JSON: the element's line) */
} entry;

struct sprite_list {
    char *name;
    entry *e;
    int n;
    int json; /* entry.line is then the element's index */
};

/* "list:line" for TSV, "list: element i" for JSON: where an entry came from, for messages. */
static const char *where(const sprite_list *l, const entry *en, char *out, size_t n)
{
    if (l->json) snprintf(out, n, "%s: element %d", l->name, en->line);
    else snprintf(out, n, "%s:%d", l->name, en->line);
    return out;
}

/* One frame as drawn: pixels (RGBA) and where they went. */
typedef struct frame {
    int entry;        /* index into the list */
    png_io_image img; /* RGBA */
    int opaque;
    int sheet, x, y;  /* sheet index into sprite_output.sheets */
} frame;

typedef struct sheet {
    char *file;
    int scale, width, height, channels;
    uint8_t *px;
    encode_result enc;
    int nframes;
} sheet;

struct sprite_output {
    const sprite_list *list;
    sheet *sheets;
    int nsheets;
    frame *f1, *f2; /* 1x frames (one per entry), 2x frames (-1 sheet when none) */
    int n;
    double target;
};

void sprite_options_default(sprite_options *o)
{
    pack_options_default(&o->pack);
    encode_options_default(&o->enc);
    o->encode = 1;
    o->retina = 0;
    o->retina_min = 32;
    o->prefix = "sheet";
}

/* ---- the list ---- */

/* where: "list:line" (TSV) or "list: element i" (JSON). */
static int check_id(const char *where, const char *id, err *e)
{
    size_t n = strlen(id);
    int bl, bc;
    if (n == 0) return err_set(e, "%s: empty frame id (expected a non-empty name)", where);
    if (n > 200) return err_set(e, "%s: frame id longer than 200 bytes", where);
    if (utf8_check(id, n, &bl, &bc) != 0) return err_set(e, "%s: frame id is not UTF-8", where);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return err_set(e, "%s: frame id contains a control character", where);
    return 0;
}

static void add_entry(sprite_list *l, const char *dir, const char *id, const char *path, int line)
{
    l->e = xrealloc(l->e, sizeof *l->e * (size_t)(l->n + 1));
    entry *en = &l->e[l->n++];
    en->id = xstrdup(id);
    en->path = path[0] == '/' || !dir[0] ? xstrdup(path) : xasprintf("%s/%s", dir, path);
    en->line = line;
}

static int cmp_id(const void *a, const void *b)
{
    const entry *x = *(entry *const *)a, *y = *(entry *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : x->line - y->line;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return strcmp(x->id, y->id);
}

int sprite_list_read(const char *path, sprite_list **out, err *e)
{
    *out = NULL;
    char *data = NULL, *dir = xstrdup(path);
    size_t len;
    json_t *root = NULL;
    entry **sorted = NULL;
    sprite_list *l = xcalloc(1, sizeof *l);
    l->name = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else dir[0] = 0;
    if (read_file(path, &data, &len, e) != 0) goto fail;
    if (memchr(data, 0, len)) {
        err_set(e, "%s: contains a NUL byte (expected TSV or JSON text)", path);
        goto fail;
    }
    const char *p = data;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '[' || *p == '{') {
        json_error_t je;
        root = json_loadb(data, len, 0, &je);
        if (!root) {
            err_set(e, "%s:%d: bad JSON: %s", path, je.line, je.text);
            goto fail;
        }
        if (!json_is_array(root)) {
            err_set(e, "%s:1: expected a JSON array of {\"id\", \"path\"} objects", path);
            goto fail;
        }
        size_t i;
        json_t *v;
        json_array_foreach(root, i, v) {
            /* jansson keeps no line numbers for values: report the element's position */
            const char *id = json_string_value(json_object_get(v, "id"));
            const char *pp = json_string_value(json_object_get(v, "path"));
            if (!json_is_object(v) || !id || !pp) {
                err_set(e, "%s: element %zu: expected {\"id\": string, \"path\": string}", path, i);
                goto fail;
            }
            char where[1100];
            snprintf(where, sizeof where, "%s: element %zu", path, i);
            if (check_id(where, id, e) != 0) goto fail;
            if (!pp[0]) {
                err_set(e, "%s: element %zu: empty path", path, i);
                goto fail;
            }
            add_entry(l, dir, id, pp, (int)i);
        }
    } else {
        int line = 0;
        for (char *s = data; s && *s;) {
            char *nl = strchr(s, '\n');
            if (nl) *nl = 0;
            line++;
            size_t n = strlen(s);
            if (n && s[n - 1] == '\r') s[--n] = 0;
            if (n && s[0] != '#') {
                char *tab = strchr(s, '\t');
                if (!tab || strchr(tab + 1, '\t') || !tab[1]) {
                    err_set(e, "%s:%d: expected two tab-separated fields: id<TAB>path", path, line);
                    goto fail;
                }
                *tab = 0;
                char where[1100];
                snprintf(where, sizeof where, "%s:%d", path, line);
                if (check_id(where, s, e) != 0) goto fail;
                add_entry(l, dir, s, tab + 1, line);
            }
            s = nl ? nl + 1 : NULL;
        }
    }
    /* duplicate ids: sort pointers by id, neighbours are equal */
    sorted = xmalloc(sizeof *sorted * (size_t)(l->n ? l->n : 1));
    for (int i = 0; i < l->n; i++) sorted[i] = &l->e[i];
    qsort(sorted, (size_t)l->n, sizeof *sorted, cmp_id);
    int json = l->json = root != NULL;
    for (int i = 1; i < l->n; i++)
        if (!strcmp(sorted[i]->id, sorted[i - 1]->id)) {
            if (json)
                err_set(e, "%s: element %d: duplicate frame id '%s' (first at element %d)", path, sorted[i]->line,
                        sorted[i]->id, sorted[i - 1]->line);
            else
                err_set(e, "%s:%d: duplicate frame id '%s' (first on line %d)", path, sorted[i]->line, sorted[i]->id,
                        sorted[i - 1]->line);
            goto fail;
        }
    if (l->n == 0) {
        err_set(e, "%s: no frames (expected id<TAB>path lines or a JSON array)", path);
        goto fail;
    }
    /* frames in id order from here on, so the layout does not depend on the list's order */
    qsort(l->e, (size_t)l->n, sizeof *l->e, cmp_entry);
    free(sorted);
    json_decref(root);
    free(data);
    free(dir);
    *out = l;
    return 0;
fail:
    free(sorted);
    json_decref(root);
    free(data);
    free(dir);
    sprite_list_free(l);
    return -1;
}

int sprite_list_count(const sprite_list *l) { return l->n; }

void sprite_list_free(sprite_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) {
        free(l->e[i].id);
        free(l->e[i].path);
    }
    free(l->e);
    free(l->name);
    free(l);
}

/* ---- drawing ---- */

/* Halves an RGBA image (2x2 box average weighted by alpha, so transparent pixels do not darken
 * edges); odd sides round up, repeating the last row/column. */
static void halve(const png_io_image *src, png_io_image *dst)
{
    int w = (src->width + 1) / 2, h = (src->height + 1) / 2;
    *dst = (png_io_image){w, h, 4, xmalloc((size_t)w * h * 4)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned sum[4] = {0, 0, 0, 0};
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int sx = 2 * x + dx < src->width ? 2 * x + dx : src->width - 1;
                    int sy = 2 * y + dy < src->height ? 2 * y + dy : src->height - 1;
                    const uint8_t *p = src->pixels + ((size_t)sy * src->width + sx) * 4;
                    for (int c = 0; c < 3; c++) sum[c] += p[c] * p[3];
                    sum[3] += p[3];
                }
            uint8_t *q = dst->pixels + ((size_t)y * w + x) * 4;
            for (int c = 0; c < 3; c++) q[c] = sum[3] ? (uint8_t)((sum[c] + sum[3] / 2) / sum[3]) : 0;
            q[3] = (uint8_t)((sum[3] + 2) / 4);
        }
}

/* Draws f into the sheet at (x, y) and extrudes its border pixels p pixels outwards (clipped
 * to the sheet), so that bilinear sampling at the frame's edge reads the frame's own colour. */
static void draw(sheet *s, const png_io_image *img, int x0, int y0, int p)
{
    int ch = s->channels;
    for (int dy = -p; dy < img->height + p; dy++) {
        int y = y0 + dy;
        if (y < 0 || y >= s->height) continue;
        int sy = dy < 0 ? 0 : dy >= img->height ? img->height - 1 : dy;
        for (int dx = -p; dx < img->width + p; dx++) {
            int x = x0 + dx;
            if (x < 0 || x >= s->width) continue;
            int sx = dx < 0 ? 0 : dx >= img->width ? img->width - 1 : dx;
            memcpy(s->px + ((size_t)y * s->width + x) * ch, img->pixels + ((size_t)sy * img->width + sx) * 4,
                   (size_t)ch);
        }
    }
}

/* Packs frames fr[0..n) into new sheets appended to out (scale 1 or 2), draws and encodes them. */
static int make_sheets(sprite_output *out, const sprite_options *o, frame *fr, int n, int scale, err *e)
{
    const sprite_list *l = out->list;
    int *sizes = xmalloc(sizeof(int) * 2 * (size_t)(n ? n : 1));
    int m = 0, *which = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        if (!fr[i].img.pixels) continue;
        const entry *en = &l->e[fr[i].entry];
        if (fr[i].img.width > o->pack.max_width || fr[i].img.height > o->pack.max_height) {
            free(sizes);
            free(which);
            char wh[1100];
            return err_set(e, "%s: frame '%s' (%s) is %dx%d%s, larger than the largest sheet %dx%d (--max-size)",
                           where(l, en, wh, sizeof wh), en->id, en->path, fr[i].img.width, fr[i].img.height,
                           scale == 2 ? " at 2x" : "", o->pack.max_width, o->pack.max_height);
        }
        sizes[2 * m] = fr[i].img.width;
        sizes[2 * m + 1] = fr[i].img.height;
        which[m++] = i;
    }
    pack_layout *lay;
    if (pack_layout_new(&o->pack, sizes, m, &lay, e) != 0) {
        free(sizes);
        free(which);
        return -1;
    }
    int base = out->nsheets, ns = pack_layout_sheets(lay);
    out->sheets = xrealloc(out->sheets, sizeof *out->sheets * (size_t)(base + ns + 1));
    for (int s = 0; s < ns; s++) {
        sheet *sh = &out->sheets[base + s];
        memset(sh, 0, sizeof *sh);
        sh->scale = scale;
        pack_layout_sheet_size(lay, s, &sh->width, &sh->height);
        sh->channels = 3;
    }
    out->nsheets = base + ns;
    for (int k = 0; k < m; k++) {
        frame *f = &fr[which[k]];
        int s;
        pack_layout_frame(lay, k, &s, &f->x, &f->y);
        f->sheet = base + s;
        out->sheets[base + s].nframes++;
        if (!f->opaque) out->sheets[base + s].channels = 4;
    }
    pack_layout_free(lay);
    free(sizes);
    free(which);
    for (int s = base; s < out->nsheets; s++) {
        sheet *sh = &out->sheets[s];
        size_t bytes = (size_t)sh->width * sh->height * sh->channels;
        sh->px = xmalloc(bytes);
        /* empty space: white for RGB (the page), transparent for RGBA; flat either way */
        memset(sh->px, sh->channels == 3 ? 255 : 0, bytes);
    }
    for (int i = 0; i < n; i++)
        if (fr[i].img.pixels) draw(&out->sheets[fr[i].sheet], &fr[i].img, fr[i].x, fr[i].y, o->pack.padding);
    encode_options eo = o->enc;
    if (!o->encode) eo.formats = 1u << ENCODE_PNG;
    for (int s = base; s < out->nsheets; s++) {
        sheet *sh = &out->sheets[s];
        if (encode_sheet(&eo, sh->px, sh->width, sh->height, sh->channels, &sh->enc, e) != 0) return -1;
        sh->file = scale == 1 ? xasprintf("%s-%d.%s", o->prefix, s - base, encode_format_ext(sh->enc.format))
                              : xasprintf("%s@2x-%d.%s", o->prefix, s - base, encode_format_ext(sh->enc.format));
    }
    return 0;
}

static int is_opaque(const png_io_image *img)
{
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        if (img->pixels[4 * i + 3] != 255) return 0;
    return 1;
}

int sprite_build(const sprite_list *l, const sprite_options *o, sprite_output **out, err *e)
{
    *out = NULL;
    sprite_output *s = xcalloc(1, sizeof *s);
    s->list = l;
    s->n = l->n;
    s->target = o->encode ? o->enc.target : 1.0;
    s->f1 = xcalloc((size_t)l->n, sizeof *s->f1);
    s->f2 = xcalloc((size_t)l->n, sizeof *s->f2);
    for (int i = 0; i < l->n; i++) {
        const entry *en = &l->e[i];
        png_io_image img;
        err inner = {{0}};
        s->f1[i].entry = s->f2[i].entry = i;
        s->f1[i].sheet = s->f2[i].sheet = -1;
        if (png_io_read(en->path, 4, &img, &inner) != 0) {
            char wh[1100];
            err_set(e, "%s: frame '%s': %s", where(l, en, wh, sizeof wh), en->id, inner.msg);
            goto fail;
        }
        int big = o->retina && img.width >= o->retina_min && img.height >= o->retina_min;
        if (big) {
            s->f2[i].img = img;
            halve(&img, &s->f1[i].img);
            s->f2[i].opaque = is_opaque(&img);
        } else {
            s->f1[i].img = img;
        }
        s->f1[i].opaque = is_opaque(&s->f1[i].img);
    }
    if (make_sheets(s, o, s->f1, l->n, 1, e) != 0) goto fail;
    if (o->retina && make_sheets(s, o, s->f2, l->n, 2, e) != 0) goto fail;
    *out = s;
    return 0;
fail:
    sprite_output_free(s);
    return -1;
}

/* ---- output ---- */

static json_t *frame_json(const sprite_output *s, const frame *f)
{
    const sheet *sh = &s->sheets[f->sheet];
    return json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s}", "id", s->list->e[f->entry].id, "x", f->x, "y", f->y,
                     "width", f->img.width, "height", f->img.height, "sheet", sh->file, "encoding",
                     encode_format_name(sh->enc.format));
}

static char *atlas_json(const sprite_output *s, int si)
{
    const sheet *sh = &s->sheets[si];
    json_t *enc = json_pack("{s:s, s:i, s:f, s:I, s:f}", "format", encode_format_name(sh->enc.format), "quality",
                            sh->enc.quality, "ssim", sh->enc.ssim, "bytes", (json_int_t)sh->enc.bytes, "target",
                            s->target);
    json_t *frames = json_array();
    const frame *fr = sh->scale == 1 ? s->f1 : s->f2;
    for (int i = 0; i < s->n; i++) {
        if (fr[i].sheet != si) continue;
        json_t *fj = frame_json(s, &fr[i]);
        /* a 1x frame points to its 2x variant, so a page can write srcset-like CSS */
        if (sh->scale == 1 && s->f2[i].sheet >= 0)
            json_object_set_new(fj, "retina", frame_json(s, &s->f2[i]));
        json_array_append_new(frames, fj);
    }
    json_t *root = json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:o, s:o}", "version", 1, "sheet", sh->file, "width",
                             sh->width, "height", sh->height, "scale", sh->scale, "channels", sh->channels, "encoding",
                             enc, "frames", frames);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    char *out = xasprintf("%s\n", text);
    free(text);
    return out;
}

int sprite_output_write(const sprite_output *s, const char *dir, err *e)
{
    if (mkdir_p(dir, e) != 0) return -1;
    for (int i = 0; i < s->nsheets; i++) {
        const sheet *sh = &s->sheets[i];
        char *path = xasprintf("%s/%s", dir, sh->file);
        const char *dot = strrchr(sh->file, '.');
        char *jpath = xasprintf("%s/%.*s.json", dir, (int)(dot - sh->file), sh->file);
        int rc = write_file_atomic(path, sh->enc.data, sh->enc.bytes, e);
        if (rc == 0) {
            char *json = atlas_json(s, i);
            rc = write_file_atomic(jpath, json, strlen(json), e);
            free(json);
        }
        free(path);
        free(jpath);
        if (rc != 0) return -1;
    }
    return 0;
}

void sprite_output_table(const sprite_output *s, FILE *f)
{
    fprintf(f, "%-22s %11s %6s %3s %-13s %4s %7s %10s\n", "sheet", "size", "frames", "ch", "format", "q", "ssim",
            "bytes");
    size_t total = 0;
    for (int i = 0; i < s->nsheets; i++) {
        const sheet *sh = &s->sheets[i];
        char size[32];
        snprintf(size, sizeof size, "%dx%d", sh->width, sh->height);
        fprintf(f, "%-22s %11s %6d %3d %-13s %4d %7.4f %10zu\n", sh->file, size, sh->nframes, sh->channels,
                encode_format_name(sh->enc.format), sh->enc.quality, sh->enc.ssim, sh->enc.bytes);
        for (int k = 0; k < ENCODE_FORMATS; k++) {
            const encode_best *b = &sh->enc.per[k];
            if (!b->tried) continue;
            if (b->met)
                fprintf(f, "    %-18s q=%-4d ssim=%.4f bytes=%zu\n", encode_format_name(k), b->quality, b->ssim, b->bytes);
            else
                fprintf(f, "    %-18s (misses the target or larger than the winner)\n", encode_format_name(k));
        }
        total += sh->enc.bytes;
    }
    fprintf(f, "total %zu bytes in %d sheets\n", total, s->nsheets);
}

int sprite_output_sheets(const sprite_output *s) { return s->nsheets; }

const char *sprite_output_sheet(const sprite_output *s, int i, const encode_result **enc, const uint8_t **px,
                                int *width, int *height, int *channels)
{
    const sheet *sh = &s->sheets[i];
    *enc = &sh->enc;
    *px = sh->px;
    *width = sh->width;
    *height = sh->height;
    *channels = sh->channels;
    return sh->file;
}

void sprite_output_free(sprite_output *s)
{
    if (!s) return;
    for (int i = 0; i < s->nsheets; i++) {
        free(s->sheets[i].file);
        free(s->sheets[i].px);
        encode_result_free(&s->sheets[i].enc);
    }
    free(s->sheets);
    for (int i = 0; i < s->n; i++) {
        png_io_image_free(&s->f1[i].img);
        png_io_image_free(&s->f2[i].img);
    }
    free(s->f1);
    free(s->f2);
    free(s);
}
