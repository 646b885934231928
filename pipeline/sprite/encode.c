/* encode — see encode.h. */
#include "encode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jpeg_enc.h"
#include "png_io.h"
#include "quant.h"
#include "ssim.h"
#include "webp_enc.h"

static const char *const names[ENCODE_FORMATS] = {"webp", "jpeg", "jpeg444", "png8", "png8-dither", "png",
                                                  "webp-lossless"};
static const char *const exts[ENCODE_FORMATS] = {"webp", "jpg", "jpg", "png", "png", "png", "webp"};

/* The search's state for one sheet. */
typedef struct search {
    const encode_options *o;
    const uint8_t *px;
    int w, h, ch;
    uint8_t *rgba;     /* px as RGBA for libimagequant (NULL until needed) */
    quant_src *qs;
    uint8_t *indices;  /* w*h, palette candidates */
    uint8_t *decoded;  /* w*h*ch, the candidate as the browser will see it */
    uint8_t pal[1024]; /* the palette candidate's RGBA palette, npal entries */
    int npal;
    int best_npal[ENCODE_FORMATS]; /* palette size of each palette format's best */
    int coarse;        /* a proxy's search: it only ranks formats and gives the sheet's check a
                        * start, which then narrows on the sheet itself: brackets of 3 will do */
    int zlevel;        /* zlib level for palette PNGs (encode_palette; 0: not chosen yet) */
    uint8_t *keep;     /* w*h: the indices of this search's best palette candidate (NULL: none) */
    uint8_t keep_pal[1024];
    int keep_npal;
    size_t keep_bytes; /* its PNG's size, to recognise it as the winner */
    int wins_ties;     /* a probe as small as the best replaces it (refine: speed 10 posterizes) */
    encode_result *r;  /* best so far: r->data, r->bytes */
    int quant_speed;
    size_t last_bytes; /* size of the last probe */
    double last_ssim;  /* its SSIM, or -2 when it was not measured */
    int last_qb;       /* the last search's lowest quality that passed or was already too big */
} search;

void encode_options_default(encode_options *o)
{
    o->target = 0.97;
    o->formats = (1u << ENCODE_FORMATS) - 1;
    o->threads = 0;
    o->quant_speed = 10;
}

const char *encode_format_name(encode_format f) { return f < ENCODE_FORMATS ? names[f] : "?"; }
const char *encode_format_ext(encode_format f) { return f < ENCODE_FORMATS ? exts[f] : "bin"; }

int encode_formats_parse(const char *list, unsigned *formats, err *e)
{
    *formats = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int f = 0;
        while (f < ENCODE_FORMATS && !(strlen(names[f]) == n && !strncmp(names[f], p, n))) f++;
        if (f == ENCODE_FORMATS)
            return err_set(e, "--formats: unknown format '%.*s' (expected webp, jpeg, jpeg444, png8, png8-dither, "
                              "png, webp-lossless)", (int)n, p);
        *formats |= 1u << f;
        p += n + (p[n] == ',');
    }
    if (!*formats) return err_set(e, "--formats: empty list");
    return 0;
}

/* A palette PNG at zlib level 1 or 6, whichever is smaller. Noisy indices (a feature
 * visualization's) come out smaller at level 1, whose greedy matching wastes fewer bits on short
 * matches; smooth ones at 6. A sheet's candidates are alike, so the first one tries both and
 * the rest use the level that won (*level: 0 until then). Levels 8 and 9 gain a few % more on
 * smooth indices only, at 3x and 8x the time of 6 (0.16 s and 0.4 s on a 1400 x 1400 sheet), so
 * level 8 is kept for the winner (finish_palette). */
static int encode_palette(int w, int h, const uint8_t *indices, const uint8_t *pal, int n, int *level,
                          uint8_t **data, size_t *len, err *e)
{
    if (*level) return png_io_encode_palette(w, h, indices, pal, n, *level, data, len, e);
    uint8_t *d6;
    size_t l6;
    if (png_io_encode_palette(w, h, indices, pal, n, 1, data, len, e) != 0) return -1;
    if (png_io_encode_palette(w, h, indices, pal, n, 6, &d6, &l6, e) != 0) {
        free(*data);
        return -1;
    }
    *level = l6 < *len ? 6 : 1;
    if (l6 < *len) {
        free(*data);
        *data = d6;
        *len = l6;
    } else {
        free(d6);
    }
    return 0;
}

/* A palette candidate: quantizes for quality q, remaps into s->indices and s->pal, and leaves
 * its pixels in s->decoded, which is all SSIM needs (cheaper than compressing and decoding). */
static int remap(search *s, encode_format f, int q, err *e)
{
    if (quant_remap(s->qs, q, f == ENCODE_PNG8_DITHER ? 1.0f : 0.0f, s->indices, s->pal, &s->npal, e) != 0)
        return -1;
    size_t np = (size_t)s->w * s->h;
    for (size_t i = 0; i < np; i++) memcpy(s->decoded + i * s->ch, s->pal + 4 * s->indices[i], (size_t)s->ch);
    return 0;
}

/* Encodes the sheet as format f at quality q into a new heap block. Palette formats write the
 * indices and palette that remap() left in the search. */
static int encode_one(search *s, encode_format f, int q, uint8_t **data, size_t *len, err *e)
{
    switch (f) {
    case ENCODE_WEBP: return webp_enc_lossy(s->px, s->w, s->h, s->ch, q, data, len, e);
    case ENCODE_JPEG:
    case ENCODE_JPEG444: return jpeg_enc_encode(s->px, s->w, s->h, q, f == ENCODE_JPEG444, data, len, e);
    case ENCODE_PNG8:
    case ENCODE_PNG8_DITHER: return encode_palette(s->w, s->h, s->indices, s->pal, s->npal, &s->zlevel, data, len, e);
    default: return err_set(e, "encode: %s is not a lossy format", names[f]);
    }
}

/* SSIM of the encoded candidate against the sheet. */
static int measure(search *s, encode_format f, const uint8_t *data, size_t len, double *out, err *e)
{
    if (f != ENCODE_PNG8 && f != ENCODE_PNG8_DITHER) {
        uint8_t *px;
        int w, h;
        if (encode_decode(data, len, names[f], s->ch, &px, &w, &h, e) != 0) return -1;
        memcpy(s->decoded, px, (size_t)s->w * s->h * s->ch);
        free(px);
    }
    return ssim_compute(s->px, s->decoded, s->w, s->h, s->ch, s->o->threads, out, e);
}

/* Keeps data as the new best when it is smaller; otherwise frees it. */
static void offer(search *s, encode_format f, int q, double ssim, uint8_t *data, size_t len)
{
    encode_best *b = &s->r->per[f];
    if (!b->met || len < b->bytes || (s->wins_ties && len == b->bytes)) *b = (encode_best){1, 1, q, len, ssim};
    if (!s->r->data || len < s->r->bytes || (s->wins_ties && len == s->r->bytes)) {
        free(s->r->data);
        s->r->data = data;
        s->r->bytes = len;
        s->r->format = f;
        s->r->quality = q;
        s->r->ssim = ssim;
    } else {
        free(data);
    }
}

/* offer() for the palette candidate in s->indices, s->pal: also records its palette size when
 * it becomes its format's best, and keeps its indices when it becomes the best of all (for
 * finish_palette). */
static void offer_palette(search *s, encode_format f, int q, double ssim, uint8_t *data, size_t len)
{
    const encode_best *b = &s->r->per[f];
    int per_new = !b->met || len < b->bytes || (s->wins_ties && len == b->bytes);
    int best_new = !s->r->data || len < s->r->bytes || (s->wins_ties && len == s->r->bytes);
    offer(s, f, q, ssim, data, len);
    if (per_new) s->best_npal[f] = s->npal;
    if (!best_new) return;
    size_t np = (size_t)s->w * s->h;
    if (!s->keep) s->keep = xmalloc(np);
    memcpy(s->keep, s->indices, np);
    memcpy(s->keep_pal, s->pal, sizeof s->pal);
    s->keep_npal = s->npal;
    s->keep_bytes = len;
}

/* Encodes at quality q, measures it, and offers it when it passes. Sets *pass to 1 (meets the
 * target and is the smallest so far), 0 (misses), -1 (meets it but is no smaller than the best:
 * only lower settings can win) or -2 (misses and is already no smaller than the best: no
 * setting of this format can win, since higher ones are larger still). Palettes are measured
 * first and compressed only when they pass: compressing costs more than SSIM, and most palette
 * probes miss. Returns 0 or -1 with e. */
static int probe(search *s, encode_format f, int q, int *pass, err *e)
{
    uint8_t *data = NULL;
    size_t len = 0;
    double v = -2;
    int palette = f == ENCODE_PNG8 || f == ENCODE_PNG8_DITHER;
    s->r->probes++;
    s->last_bytes = 0;
    s->last_ssim = -2;
    if (palette) {
        if (remap(s, f, q, e) != 0 || measure(s, f, NULL, 0, &v, e) != 0) return -1;
        s->last_ssim = v;
        if (v < s->o->target) {
            *pass = 0;
            return 0;
        }
    }
    if (encode_one(s, f, q, &data, &len, e) != 0) return -1;
    s->last_bytes = len;
    if (!palette) {
        if (measure(s, f, data, len, &v, e) != 0) {
            free(data);
            return -1;
        }
        s->last_ssim = v;
    }
    int big = s->r->data && (s->wins_ties ? len > s->r->bytes : len >= s->r->bytes);
    *pass = v >= s->o->target ? (big ? -1 : 1) : (big ? -2 : 0);
    if (*pass == 1 && palette) offer_palette(s, f, q, v, data, len);
    else if (*pass == 1) offer(s, f, q, v, data, len);
    else free(data);
    return 0;
}

/* A sheet of at most 256 colours (a diagram) as an exact palette PNG: lossless, so its SSIM is
 * 1, offered as the palette candidate at quality 100 before any quantization (libimagequant
 * posterizes colours at speed 10, by one level, which a flat diagram shows). Colours are counted
 * in a small hash table, and the count stops at the 257th; palette entries are in order of
 * first appearance. */
static int try_exact(search *s, err *e)
{
    enum { SLOTS = 1024 };
    uint32_t key[SLOTS];
    int16_t slot_index[SLOTS];
    memset(slot_index, -1, sizeof slot_index);
    size_t np = (size_t)s->w * s->h;
    int n = 0;
    for (size_t i = 0; i < np; i++) {
        const uint8_t *p = s->px + i * s->ch;
        uint32_t c = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)(s->ch == 4 ? p[3] : 255) << 24;
        uint32_t h = (c * 2654435761u) >> 22; /* 10 bits */
        while (slot_index[h] >= 0 && key[h] != c) h = (h + 1) & (SLOTS - 1);
        if (slot_index[h] < 0) {
            if (n == 256) return 0; /* too many colours: quantize */
            key[h] = c;
            slot_index[h] = (int16_t)n;
            s->pal[4 * n] = p[0], s->pal[4 * n + 1] = p[1], s->pal[4 * n + 2] = p[2];
            s->pal[4 * n + 3] = s->ch == 4 ? p[3] : 255;
            n++;
        }
        s->indices[i] = (uint8_t)slot_index[h];
    }
    s->npal = n;
    uint8_t *data;
    size_t len;
    if (encode_palette(s->w, s->h, s->indices, s->pal, n, &s->zlevel, &data, &len, e) != 0) return -1;
    s->r->probes++;
    offer_palette(s, ENCODE_PNG8, 100, 1.0, data, len);
    return 0;
}

/* The lowest quality in [lo, hi] meeting the target (SSIM and bytes are taken as monotone in
 * quality). The first probe is the top when the format must beat a best so far (a miss there
 * drops the format in one probe: it cannot win) and always for palettes (a photo never reaches
 * 0.97 as a palette PNG, and each palette probe costs a quantization); otherwise a typical
 * setting, 3/4 up the range, so that a pass saves the costly top. Then the bracket [qa misses,
 * qb passes] shrinks: codecs by interpolating SSIM linearly between its ends when both were
 * measured (about 4 probes instead of 7), by bisection otherwise, the new point in the middle
 * 3/4 so that it always progresses; palettes by geometric bisection. A probe that misses and is
 * already larger than the best ends the search.
 *
 * With from >= 0 (checking on the whole sheet what a proxy found) the first probe is `from`; a
 * miss steps up by 2, 2, 4, 8... and the bracket it makes is then narrowed the same way; a pass at
 * `from` itself is kept (the proxy already searched below it). Returns 0 or -1. */
static int search_format(search *s, encode_format f, int lo, int hi, int from, err *e)
{
    s->r->per[f].tried = 1;
    if (f == ENCODE_PNG8 && try_exact(s, e) != 0) return -1;
    int pass;
    size_t best = s->r->bytes;
    s->last_qb = hi + 1;
    int palette = f == ENCODE_PNG8 || f == ENCODE_PNG8_DITHER;
    int qa = lo - 1, qb = hi + 1, step = 2;
    double sa = -2, sb = -2, t = s->o->target;
    int q = from >= 0 ? (from < lo ? lo : from > hi ? hi : from) : palette || s->r->data ? hi : lo + (hi - lo) * 3 / 4;
    for (;;) {
        if (probe(s, f, q, &pass, e) != 0) return -1;
        if (pass == -2) return 0;
        if (pass == 0) {
            if (q == hi) return 0; /* even the top misses */
            qa = q;
            sa = s->last_ssim;
        } else {
            qb = q;
            sb = s->last_ssim;
            /* A palette at its top quality more than twice the best so far: fewer colours do not
             * halve a palette PNG while keeping the target, and every probe costs a quantization. */
            if (palette && q == hi && pass == -1 && s->last_bytes > 2 * best) return 0;
            if (from >= 0 && qa < lo) break;
        }
        if (qb > hi) {
            q = from >= 0 && q + step < hi ? q + step : hi;
            if (q - from >= 4) step *= 2; /* 2, 2, 4, 8...: a proxy is optimistic by a few steps */
            continue;
        }
        if (qb - qa <= (s->coarse ? 3 : 1)) break;
        /* Palettes' SSIM is a staircase in the quality whose steps crowd at the low end (the
         * article's noisy sheets pass from 7 to 15): they are split geometrically. */
        q = palette ? (int)sqrt((double)(qa + 2) * (qb + 1)) - 1 : qa + (qb - qa) / 2;
        if (q <= qa) q = qa + 1;
        if (q >= qb) q = qb - 1;
        if (!palette && sa > -2 && sb > -2 && sb > sa) {
            int span = qb - qa, margin = span / 8 > 1 ? span / 8 : 1;
            q = qa + (int)((t - sa) / (sb - sa) * span + 0.5);
            if (q < qa + margin) q = qa + margin;
            if (q > qb - margin) q = qb - margin;
        }
    }
    s->last_qb = qb;
    return 0;
}

/* Lossless PNG: a quick encode first (of the proxy, scaled up by area, when there is one); the
 * slower settings only when PNG could still win. */
static int try_png(search *s, const search *proxy, err *e)
{
    s->r->per[ENCODE_PNG].tried = 1;
    png_io_image img = {s->w, s->h, s->ch, (uint8_t *)s->px};
    uint8_t *data;
    size_t len;
    if (proxy && s->r->data) {
        png_io_image pim = {proxy->w, proxy->h, proxy->ch, (uint8_t *)proxy->px};
        if (png_io_encode_ex(&pim, 6, -1, 1, &data, &len, e) != 0) return -1;
        free(data);
        s->r->probes++;
        double est = (double)len * ((double)s->w * s->h) / ((double)proxy->w * proxy->h);
        if (est > 1.5 * (double)s->r->bytes) return 0;
    }
    if (png_io_encode_ex(&img, 6, -1, 1, &data, &len, e) != 0) return -1;
    s->r->probes++;
    if (s->r->data && len > s->r->bytes + s->r->bytes / 4) { /* level 9 saves a few %, not 25 */
        free(data);
        return 0;
    }
    /* adaptive filters suit photos and renders; no filter suits flat diagrams */
    static const int settings[][2] = {{-1, 1}, {0, 0}, {-1, 0}};
    for (size_t k = 0; k < sizeof settings / sizeof settings[0]; k++) {
        uint8_t *d2;
        size_t l2;
        if (png_io_encode_ex(&img, 9, settings[k][0], settings[k][1], &d2, &l2, e) != 0) {
            free(data);
            return -1;
        }
        s->r->probes++;
        if (l2 < len) {
            free(data);
            data = d2;
            len = l2;
        } else {
            free(d2);
        }
    }
    offer(s, ENCODE_PNG, -1, 1.0, data, len);
    return 0;
}

static int try_webp_lossless(search *s, err *e)
{
    s->r->per[ENCODE_WEBP_LOSSLESS].tried = 1;
    uint8_t *data;
    size_t len;
    if (webp_enc_lossless(s->px, s->w, s->h, s->ch, 5, &data, &len, e) != 0) return -1;
    s->r->probes++;
    offer(s, ENCODE_WEBP_LOSSLESS, -1, 1.0, data, len);
    return 0;
}

static const struct {
    encode_format f;
    int lo, hi;
} lossy[] = {{ENCODE_PNG8, 0, 100}, {ENCODE_PNG8_DITHER, 0, 100}, {ENCODE_WEBP, 0, 100}, {ENCODE_JPEG, 10, 98},
             {ENCODE_JPEG444, 10, 98}};
#define NLOSSY (int)(sizeof lossy / sizeof lossy[0])

static void search_init(search *s, const encode_options *o, const uint8_t *px, int w, int h, int ch,
                        encode_result *r)
{
    *s = (search){.o = o, .px = px, .w = w, .h = h, .ch = ch, .r = r, .quant_speed = o->quant_speed};
    s->decoded = xmalloc((size_t)w * h * ch);
}

/* libimagequant's input, made when a palette format is first tried. */
static int search_quant(search *s, err *e)
{
    if (s->qs) return 0;
    size_t np = (size_t)s->w * s->h;
    s->rgba = xmalloc(np * 4);
    for (size_t i = 0; i < np; i++) {
        memcpy(s->rgba + 4 * i, s->px + i * s->ch, (size_t)s->ch);
        if (s->ch == 3) s->rgba[4 * i + 3] = 255;
    }
    s->indices = xmalloc(np);
    return quant_src_new(s->rgba, s->w, s->h, s->quant_speed, &s->qs, e);
}

static void search_done(search *s)
{
    free(s->keep);
    quant_src_free(s->qs);
    free(s->rgba);
    free(s->indices);
    free(s->decoded);
}

/* Every allowed lossy format, likeliest winner first so that the pruning bites early. */
static int search_lossy(search *s, unsigned allow, err *e)
{
    int jpeg_qb = 999;
    for (int k = 0; k < NLOSSY; k++) {
        encode_format f = lossy[k].f;
        if (!(allow & 1u << f)) continue;
        /* full chroma helps only where 4:2:0 needs a high quality or misses the target */
        if (f == ENCODE_JPEG444 && (allow & 1u << ENCODE_JPEG) && jpeg_qb < 90) continue;
        if ((f == ENCODE_PNG8 || f == ENCODE_PNG8_DITHER) && search_quant(s, e) != 0) return -1;
        if (search_format(s, f, lossy[k].lo, lossy[k].hi, -1, e) != 0) return -1;
        if (f == ENCODE_JPEG) jpeg_qb = s->last_qb;
    }
    return 0;
}

/* A proxy of a big sheet: PROXY_TILE-pixel tiles taken evenly over the sheet (aligned to the
 * codecs' 16-pixel blocks), laid side by side, about 1/8 of the sheet and at least PROXY_MIN
 * pixels. The searches run on it; the full sheet only checks the settings they found. */
#define PROXY_TILE 64
#define PROXY_MIN (192 * 192) /* smaller proxies misranked the formats of a 788 x 128 sheet */
static uint8_t *make_proxy(const uint8_t *px, int w, int h, int ch, int *pw, int *ph)
{
    int tx = w / PROXY_TILE, ty = h / PROXY_TILE, nt = tx * ty;
    long want = (long)w * h / 8 < PROXY_MIN ? PROXY_MIN : (long)w * h / 8;
    int k = (int)(want / (PROXY_TILE * PROXY_TILE));
    if (k > nt) k = nt;
    int cols = 1;
    while (cols * cols < k) cols++;
    int rows = (k + cols - 1) / cols;
    *pw = cols * PROXY_TILE;
    *ph = rows * PROXY_TILE;
    uint8_t *out = xmalloc((size_t)*pw * *ph * ch);
    memset(out, 255, (size_t)*pw * *ph * ch);
    for (int i = 0; i < k; i++) {
        int t = (int)((long)i * nt / k), sx = t % tx * PROXY_TILE, sy = t / tx * PROXY_TILE;
        int dx = i % cols * PROXY_TILE, dy = i / cols * PROXY_TILE;
        for (int y = 0; y < PROXY_TILE; y++)
            memcpy(out + ((size_t)(dy + y) * *pw + dx) * ch, px + ((size_t)(sy + y) * w + sx) * ch,
                   (size_t)PROXY_TILE * ch);
    }
    return out;
}

/* Palettes are searched with libimagequant's speed 10; a slower configured speed then quantizes
 * the quality each search found (found[f], with npal[f] colours) once more, and wins where it is
 * smaller. Not for a full palette at quality 100: 256 colours then serve at any speed, and the
 * slower speed's refinement changed the article's three such sheets by under 1 % for 5x the time
 * (at lower qualities it saves 3 to 5 %). Nor where the palette is 25 % larger than the best so
 * far. It wins ties: speed 10 posterizes colours, which a flat diagram's exact palette shows. */
static int refine(search *s, const encode_best found[ENCODE_FORMATS], const int npal[ENCODE_FORMATS], err *e)
{
    static const encode_format pal[] = {ENCODE_PNG8, ENCODE_PNG8_DITHER};
    for (int k = 0; k < 2 && s->quant_speed < 10; k++) {
        const encode_best *b = &found[pal[k]];
        int pass;
        if (!b->met || (b->quality >= 100 && npal[pal[k]] >= 256)) continue;
        if (s->r->data && b->bytes > s->r->bytes + s->r->bytes / 4) continue;
        s->wins_ties = 1;
        int rc = search_quant(s, e) != 0 || probe(s, pal[k], b->quality, &pass, e) != 0 ? -1 : 0;
        s->wins_ties = 0;
        if (rc != 0) return -1;
    }
    return 0;
}

/* A palette winner is compressed once more at zlib level 8, from the indices kept by the search
 * that made it, and replaced where that is smaller; not where level 1 beat 6 (noise: higher
 * levels are no better than 6 there). Level 9 would save another 0.7 % on the article's t-SNE
 * sheet in 2.4x the time. ss: the searches on the whole sheet (NULL: none), in the order their
 * candidates were offered, so that the last one kept at the winner's size is the winner (a
 * later candidate replaces an equal one only when it wins ties). */
static int finish_palette(search *const ss[3], encode_result *out, err *e)
{
    if (out->format != ENCODE_PNG8 && out->format != ENCODE_PNG8_DITHER) return 0;
    search *s = NULL;
    for (int k = 0; k < 3; k++)
        if (ss[k] && ss[k]->keep && ss[k]->keep_bytes == out->bytes) s = ss[k];
    if (!s || s->zlevel == 1) return 0;
    uint8_t *d;
    size_t len;
    if (png_io_encode_palette(s->w, s->h, s->keep, s->keep_pal, s->keep_npal, 8, &d, &len, e) != 0) return -1;
    out->probes++;
    if (len < out->bytes) {
        free(out->data);
        out->data = d;
        out->bytes = len;
        out->per[out->format].bytes = len;
    } else {
        free(d);
    }
    return 0;
}

int encode_sheet(const encode_options *o, const uint8_t *px, int width, int height, int channels,
                 encode_result *out, err *e)
{
    memset(out, 0, sizeof *out);
    if (channels != 3 && channels != 4) return err_set(e, "encode: channels must be 3 or 4, not %d", channels);
    if (width < 1 || height < 1) return err_set(e, "encode: empty sheet");
    search s, sp, sv; /* the sheet; the palettes' or the proxy's search; the sheet at speed 10 */
    encode_result pr = {0};
    uint8_t *proxy = NULL;
    search_init(&s, o, px, width, height, channels, out);
    memset(&sp, 0, sizeof sp);
    memset(&sv, 0, sizeof sv);
    unsigned allow = o->formats;
    if (channels == 4) allow &= ~(1u << ENCODE_JPEG | 1u << ENCODE_JPEG444); /* JPEG has no alpha */
    if (width < 11 || height < 11) allow &= 1u << ENCODE_PNG | 1u << ENCODE_WEBP_LOSSLESS;
    if ((long)width * height < 2L * PROXY_MIN || width < PROXY_TILE || height < PROXY_TILE) {
        /* The codecs search the sheet itself. So do the palettes, first (they win on most of the
         * article's sheets, and the codecs then have a best to beat: most of their probes end
         * early), but quantized at libimagequant's speed 10 (5x faster than 4: a palette search
         * quantizes once per quality it tries). Their best is a measured encoding of this very
         * sheet and competes as it is; a slower configured speed then quantizes the quality
         * found once more, and wins where it is smaller. */
        unsigned pal = allow & (1u << ENCODE_PNG8 | 1u << ENCODE_PNG8_DITHER);
        if (pal) {
            search_init(&sp, o, px, width, height, channels, &pr);
            if (sp.quant_speed < 10) sp.quant_speed = 10;
            if (search_lossy(&sp, pal, e) != 0) goto fail;
            out->per[ENCODE_PNG8] = pr.per[ENCODE_PNG8];
            out->per[ENCODE_PNG8_DITHER] = pr.per[ENCODE_PNG8_DITHER];
            out->probes += pr.probes;
            if (pr.data) {
                offer(&s, pr.format, pr.quality, pr.ssim, pr.data, pr.bytes);
                pr.data = NULL;
            }
        }
        if (search_lossy(&s, allow & ~pal, e) != 0) goto fail;
        if (pal && refine(&s, pr.per, sp.best_npal, e) != 0) goto fail;
        encode_result_free(&pr);
    } else {
        int pw, ph;
        proxy = make_proxy(px, width, height, channels, &pw, &ph);
        search_init(&sp, o, proxy, pw, ph, channels, &pr);
        sp.coarse = 1;
        /* the proxy only ranks settings: its palettes are quantized at speed 10, like the full
         * sheet's check below (refine() then tries the configured speed) */
        if (sp.quant_speed < 10) sp.quant_speed = 10;
        if (search_lossy(&sp, allow, e) != 0) goto fail;
        /* the formats that won somewhere on the proxy, smallest first */
        int order[NLOSSY], n = 0;
        for (int k = 0; k < NLOSSY; k++)
            if (pr.per[lossy[k].f].met) order[n++] = k;
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && pr.per[lossy[order[j]].f].bytes < pr.per[lossy[order[j - 1]].f].bytes; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (int i = 0; i < n; i++) {
            encode_format f = lossy[order[i]].f;
            /* bytes scale with area: a format 25 % larger on the proxy will not win on the
             * sheet, and checking it could cost a full quantization */
            if (i > 0 && pr.per[f].bytes > pr.per[lossy[order[0]].f].bytes + pr.per[lossy[order[0]].f].bytes / 4)
                break;
            /* palettes are checked at speed 10 too, and refined below */
            search *sf = &s;
            if (f == ENCODE_PNG8 || f == ENCODE_PNG8_DITHER) {
                if (!sv.r) {
                    search_init(&sv, o, px, width, height, channels, out);
                    if (sv.quant_speed < 10) sv.quant_speed = 10;
                }
                if (search_quant(&sv, e) != 0) goto fail;
                sf = &sv;
            }
            if (search_format(sf, f, lossy[order[i]].lo, lossy[order[i]].hi, pr.per[f].quality, e) != 0) goto fail;
        }
        encode_best found[ENCODE_FORMATS];
        memcpy(found, out->per, sizeof found);
        if (refine(&s, found, sv.best_npal, e) != 0) goto fail;
        out->probes += pr.probes;
        encode_result_free(&pr);
        if ((allow & 1u << ENCODE_PNG) && try_png(&s, &sp, e) != 0) goto fail;
    }
    if (!s.r->per[ENCODE_PNG].tried && (allow & 1u << ENCODE_PNG) && try_png(&s, NULL, e) != 0) goto fail;
    /* lossless WebP is slow; it can only win where lossless PNG nearly did */
    int png_close = out->per[ENCODE_PNG].met && out->per[ENCODE_PNG].bytes < out->bytes * 2;
    if ((allow & 1u << ENCODE_WEBP_LOSSLESS) && (!out->data || png_close || !(allow & 1u << ENCODE_PNG)) &&
        try_webp_lossless(&s, e) != 0)
        goto fail;
    if (!out->data) {
        err_set(e, "encode: no allowed format reaches SSIM %.4f on this %dx%d sheet", o->target, width, height);
        goto fail;
    }
    /* the full sheet's searches only (the proxy's indices are of the proxy): the palettes'
     * search, then the sheet's (refine) on a small sheet; the check at speed 10, then refine on a
     * big one */
    search *const order_small[3] = {&sp, &s, NULL}, *const order_big[3] = {&sv, &s, NULL};
    if (finish_palette(proxy ? order_big : order_small, out, e) != 0) goto fail;
    search_done(&s);
    search_done(&sp);
    search_done(&sv);
    free(proxy);
    return 0;
fail:
    search_done(&s);
    search_done(&sp);
    search_done(&sv);
    free(proxy);
    encode_result_free(&pr);
    encode_result_free(out);
    return -1;
}

int encode_decode(const uint8_t *data, size_t len, const char *name, int channels, uint8_t **px, int *width,
                  int *height, err *e)
{
    *px = NULL;
    if (len >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) {
        png_io_image img;
        if (png_io_read_mem(data, len, name, channels, &img, e) != 0) return -1;
        *px = img.pixels;
        *width = img.width;
        *height = img.height;
        return 0;
    }
    if (len >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WEBP", 4))
        return webp_enc_decode(data, len, name, channels, px, width, height, e);
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
        uint8_t *rgb;
        if (jpeg_enc_decode(data, len, name, &rgb, width, height, e) != 0) return -1;
        if (channels == 3) {
            *px = rgb;
            return 0;
        }
        size_t n = (size_t)*width * *height;
        *px = xmalloc(n * 4);
        for (size_t i = 0; i < n; i++) {
            memcpy(*px + 4 * i, rgb + 3 * i, 3);
            (*px)[4 * i + 3] = 255;
        }
        free(rgb);
        return 0;
    }
    return err_set(e, "%s: not a PNG, WebP or JPEG file", name);
}

void encode_result_free(encode_result *r)
{
    free(r->data);
    memset(r, 0, sizeof *r);
}
