/* pack — see pack.h. MaxRects after Jylänki (2010), with the free-list pruning of his later
 * RectangleBinPack: only the rectangles split off by a placement are checked for containment,
 * against each other and against the old list, so a placement costs O(new * free) and not
 * O(free^2). Everything is packed in "ring space": a frame of w x h occupies (w+2p) x (h+2p) and
 * a sheet of W x H is a bin of (W+2p) x (H+2p) whose outer p pixels hang off the sheet, so
 * frames may touch the sheet's edges (where the ring is cut off) but keep 2p between each other. */
#include "pack.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rect {
    int x, y, w, h;
} rect;

/* A frame in ring space with its sort keys. */
typedef struct item {
    int w, h, idx;
    int64_t k1, k2;
} item;

typedef struct bin {
    int W, H;
    rect *free, *fresh, *used;
    int nfree, cfree, nfresh, cfresh, nused, cused;
} bin;

enum { SORT_AREA, SORT_MAXSIDE, SORT_PERIM, SORT_HEIGHT, SORT_WIDTH, SORTS };
static const char *const sort_names[SORTS] = {"area", "maxside", "perimeter", "height", "width"};
static const char *const heur_names[PACK_HEURISTICS] = {"bssf", "blsf", "baf", "bl", "cp"};

struct pack_layout {
    int n, nsheets;
    int *sheet, *x, *y;    /* per frame, input order */
    int *sw, *sh;          /* per sheet */
    int64_t frame_area;
    char method[32];
};

void pack_options_default(pack_options *o)
{
    o->max_width = o->max_height = 4096;
    o->padding = 2;
    o->pot = 0;
}

static void push(rect **a, int *n, int *cap, rect r)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *a = xrealloc(*a, sizeof **a * (size_t)*cap);
    }
    (*a)[(*n)++] = r;
}

static void bin_reset(bin *b, int W, int H)
{
    b->W = W;
    b->H = H;
    b->nfree = b->nfresh = b->nused = 0;
    push(&b->free, &b->nfree, &b->cfree, (rect){0, 0, W, H});
}

static void bin_free(bin *b)
{
    free(b->free);
    free(b->fresh);
    free(b->used);
}

static int contains(rect a, rect b) /* a inside b */
{
    return a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;
}

static int overlap_len(int a0, int a1, int b0, int b1)
{
    int lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

/* Length of r's perimeter touching the bin's walls or placed rectangles (Jylänki's CP score). */
static int contact(const bin *b, rect r)
{
    int s = 0;
    if (r.x == 0 || r.x + r.w == b->W) s += r.h;
    if (r.y == 0 || r.y + r.h == b->H) s += r.w;
    for (int i = 0; i < b->nused; i++) {
        rect u = b->used[i];
        if (u.x == r.x + r.w || u.x + u.w == r.x) s += overlap_len(u.y, u.y + u.h, r.y, r.y + r.h);
        if (u.y == r.y + r.h || u.y + u.h == r.y) s += overlap_len(u.x, u.x + u.w, r.x, r.x + r.w);
    }
    return s;
}

/* Finds the free rectangle scoring best for a w x h frame; *at is its top-left. Returns 0 when
 * nothing fits. Lower (s1, s2) is better; ties keep the first found, so it is deterministic. */
static int find(const bin *b, pack_heuristic heur, int w, int h, rect *at)
{
    int64_t best1 = INT64_MAX, best2 = INT64_MAX;
    int found = 0;
    for (int i = 0; i < b->nfree; i++) {
        rect f = b->free[i];
        if (f.w < w || f.h < h) continue;
        int64_t s1, s2, dw = f.w - w, dh = f.h - h;
        int64_t shrt = dw < dh ? dw : dh, lng = dw < dh ? dh : dw;
        switch (heur) {
        case PACK_BSSF: s1 = shrt; s2 = lng; break;
        case PACK_BLSF: s1 = lng; s2 = shrt; break;
        case PACK_BAF: s1 = (int64_t)f.w * f.h - (int64_t)w * h; s2 = shrt; break;
        case PACK_BL: s1 = f.y + h; s2 = f.x; break;
        default: s1 = -contact(b, (rect){f.x, f.y, w, h}); s2 = 0; break;
        }
        if (s1 < best1 || (s1 == best1 && s2 < best2)) {
            best1 = s1;
            best2 = s2;
            *at = (rect){f.x, f.y, w, h};
            found = 1;
        }
    }
    return found;
}

/* Removes u from the free space: every free rectangle it cuts is replaced by up to four maximal
 * pieces, and pieces contained in another free rectangle are dropped. An old rectangle is never
 * inside a new piece (the piece lies inside an old rectangle, and the old list has no nesting),
 * so only the pieces need checking. */
static void place(bin *b, rect u, int track_used)
{
    b->nfresh = 0;
    for (int i = 0; i < b->nfree; i++) {
        rect f = b->free[i];
        if (u.x >= f.x + f.w || u.x + u.w <= f.x || u.y >= f.y + f.h || u.y + u.h <= f.y) continue;
        if (u.x > f.x) push(&b->fresh, &b->nfresh, &b->cfresh, (rect){f.x, f.y, u.x - f.x, f.h});
        if (u.x + u.w < f.x + f.w)
            push(&b->fresh, &b->nfresh, &b->cfresh, (rect){u.x + u.w, f.y, f.x + f.w - u.x - u.w, f.h});
        if (u.y > f.y) push(&b->fresh, &b->nfresh, &b->cfresh, (rect){f.x, f.y, f.w, u.y - f.y});
        if (u.y + u.h < f.y + f.h)
            push(&b->fresh, &b->nfresh, &b->cfresh, (rect){f.x, u.y + u.h, f.w, f.y + f.h - u.y - u.h});
        b->free[i--] = b->free[--b->nfree];
    }
    for (int i = 0; i < b->nfresh; i++) {
        rect r = b->fresh[i];
        int drop = 0;
        for (int j = 0; j < b->nfresh && !drop; j++) {
            if (j == i) continue;
            /* of two equal pieces keep the first */
            if (contains(r, b->fresh[j]) && (!contains(b->fresh[j], r) || j < i)) drop = 1;
        }
        for (int j = 0; j < b->nfree && !drop; j++)
            if (contains(r, b->free[j])) drop = 1;
        if (drop) b->fresh[i] = (rect){0, 0, 0, 0}; /* empty: contains nothing */
    }
    for (int i = 0; i < b->nfresh; i++)
        if (b->fresh[i].w > 0) push(&b->free, &b->nfree, &b->cfree, b->fresh[i]);
    if (track_used) push(&b->used, &b->nused, &b->cused, u);
}

/* Places items[0..n) not yet placed (sheet[idx] < 0) into b in order, recording sheet s.
 * With all_or_none, stops at the first frame that does not fit and returns -1. Returns the
 * number placed. */
static int fill(bin *b, pack_heuristic heur, const item *items, int n, int *sheet, int *bx, int *by, int s,
                int all_or_none)
{
    int placed = 0;
    for (int i = 0; i < n; i++) {
        const item *it = &items[i];
        if (sheet[it->idx] >= 0) continue;
        rect at = {0, 0, 0, 0};
        if (!find(b, heur, it->w, it->h, &at)) {
            if (all_or_none) return -1;
            continue;
        }
        place(b, at, heur == PACK_CP);
        sheet[it->idx] = s;
        bx[it->idx] = at.x;
        by[it->idx] = at.y;
        placed++;
    }
    return placed;
}

static int cmp_item(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    if (a->k1 != b->k1) return a->k1 > b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 > b->k2 ? -1 : 1;
    return a->idx - b->idx;
}

static void sort_items(item *items, int n, int order)
{
    for (int i = 0; i < n; i++) {
        int64_t w = items[i].w, h = items[i].h, mx = w > h ? w : h, mn = w > h ? h : w;
        switch (order) {
        case SORT_AREA: items[i].k1 = w * h; items[i].k2 = mx; break;
        case SORT_MAXSIDE: items[i].k1 = mx; items[i].k2 = mn; break;
        case SORT_PERIM: items[i].k1 = w + h; items[i].k2 = mx; break;
        case SORT_HEIGHT: items[i].k1 = h; items[i].k2 = w; break;
        default: items[i].k1 = w; items[i].k2 = h; break;
        }
    }
    qsort(items, (size_t)n, sizeof *items, cmp_item);
}

/* Content bounding box (pixels of the sheet) of the frames on sheet s. */
static void bbox(const item *items, int n, const int *sheet, const int *bx, const int *by, int s, int p,
                 int *w, int *h)
{
    *w = *h = 0;
    for (int i = 0; i < n; i++) {
        int k = items[i].idx;
        if (sheet[k] != s) continue;
        int r = bx[k] + items[i].w - 2 * p, t = by[k] + items[i].h - 2 * p;
        if (r > *w) *w = r;
        if (t > *h) *h = t;
    }
}

/* One (sort order, heuristic) pair and its score in the first phase. */
typedef struct combo {
    int order, heur, sheets;
    int64_t area;
} combo;

static int cmp_combo(const void *pa, const void *pb)
{
    const combo *a = pa, *b = pb;
    if (a->sheets != b->sheets) return a->sheets - b->sheets;
    if (a->area != b->area) return a->area < b->area ? -1 : 1;
    return (a->order * PACK_HEURISTICS + a->heur) - (b->order * PACK_HEURISTICS + b->heur);
}

/* Tries the combos in turn on the frames of one sheet in a W x H ring-space bin; on success
 * stores positions, sets *which and returns 1. */
static int fits(bin *b, item *items, int n, int W, int H, int *sheet, int *bx, int *by, int s,
                const combo *cs, int ncs, int *which)
{
    for (int c = 0; c < ncs; c++) {
        sort_items(items, n, cs[c].order);
        for (int i = 0; i < n; i++) sheet[items[i].idx] = -1;
        bin_reset(b, W, H);
        if (fill(b, cs[c].heur, items, n, sheet, bx, by, s, 1) == n) {
            *which = c;
            return 1;
        }
    }
    return 0;
}

/* Shrinks the last sheet: searches bin widths (geometric steps) and, for each, the smallest
 * height that holds every frame (binary search to 1 %), keeping the smallest bounding box. Only
 * the combos that did best in the first phase are tried, fewer for big sheets, so the search
 * stays around a hundred packings. */
static void shrink_last(bin *b, item *all, int n, const pack_options *o, int *sheet, int *bx, int *by,
                        int s, const combo *ranked, int nranked, combo *won)
{
    int p = o->padding, m = 0;
    item *items = xmalloc(sizeof *items * (size_t)n);
    for (int i = 0; i < n; i++)
        if (sheet[all[i].idx] == s) items[m++] = all[i];
    int *tsheet = xmalloc(sizeof(int) * (size_t)n * 3), *tx = tsheet + n, *ty = tx + n;
    for (int i = 0; i < n; i++) tsheet[i] = -2;
    int cw, ch;
    bbox(all, n, sheet, bx, by, s, p, &cw, &ch);
    int64_t best = (int64_t)cw * ch, area = 0;
    int wmin = 0, hmin = 0;
    for (int i = 0; i < m; i++) {
        area += (int64_t)items[i].w * items[i].h;
        if (items[i].w > wmin) wmin = items[i].w;
        if (items[i].h > hmin) hmin = items[i].h;
    }
    int ncs = m > 1500 ? 1 : m > 300 ? 2 : 4, steps = m > 1500 ? 8 : 16;
    if (ncs > nranked) ncs = nranked;
    int Wmax = o->max_width + 2 * p, Hmax = o->max_height + 2 * p;
    int lo_w = wmin;
    if ((int64_t)lo_w * Hmax < area) lo_w = (int)((area + Hmax - 1) / Hmax);
    for (int k = 0; k <= steps; k++) {
        /* widths from lo_w to Wmax, geometric so that small sheets get fine steps */
        int W = (int)(lo_w * pow((double)Wmax / lo_w, (double)k / steps) + 0.5);
        if (W < lo_w) W = lo_w;
        if (W > Wmax) W = Wmax;
        int64_t hlo64 = (area + W - 1) / W;
        int hlo = hlo64 > hmin ? (int)hlo64 : hmin, hhi = Hmax, c;
        if (hlo > Hmax) continue;
        if ((int64_t)(W - 2 * p) * (hlo - 2 * p) >= best) continue;
        /* start from the area bound + 25 %: usually feasible, and it saves most of the steps */
        int guess = (int)(hlo * 1.25) + 1;
        if (guess < hhi && fits(b, items, m, W, guess, tsheet, tx, ty, s, ranked, ncs, &c)) hhi = guess;
        else if (!fits(b, items, m, W, hhi, tsheet, tx, ty, s, ranked, ncs, &c)) continue;
        else hlo = guess < hhi ? guess : hlo;
        while (hhi - hlo > 1 && hhi - hlo > hhi / 100) {
            int mid = hlo + (hhi - hlo) / 2;
            if (fits(b, items, m, W, mid, tsheet, tx, ty, s, ranked, ncs, &c)) hhi = mid;
            else hlo = mid;
        }
        fits(b, items, m, W, hhi, tsheet, tx, ty, s, ranked, ncs, &c);
        int bw, bh;
        bbox(items, m, tsheet, tx, ty, s, p, &bw, &bh);
        if ((int64_t)bw * bh < best) {
            best = (int64_t)bw * bh;
            for (int i = 0; i < m; i++) {
                int q = items[i].idx;
                bx[q] = tx[q];
                by[q] = ty[q];
            }
            *won = ranked[c];
        }
    }
    free(items);
    free(tsheet);
}

int pack_layout_new(const pack_options *o, const int *sizes, int n, pack_layout **out, err *e)
{
    *out = NULL;
    int p = o->padding;
    if (o->max_width < 1 || o->max_height < 1 || p < 0 || o->max_width > 65536 || o->max_height > 65536 ||
        p > 1024)
        return err_set(e, "pack: bad options (max size 1..65536, padding 0..1024)");
    if (n < 0) return err_set(e, "pack: negative frame count");
    for (int i = 0; i < n; i++) {
        int w = sizes[2 * i], h = sizes[2 * i + 1];
        if (w < 1 || h < 1) return err_set(e, "frame %d: size %dx%d is empty (expected at least 1x1)", i, w, h);
        if (w > o->max_width || h > o->max_height)
            return err_set(e, "frame %d: %dx%d is larger than the largest sheet %dx%d", i, w, h, o->max_width,
                           o->max_height);
    }
    pack_layout *l = xcalloc(1, sizeof *l);
    l->n = n;
    l->sheet = xmalloc(sizeof(int) * (size_t)(n ? n : 1) * 3);
    l->x = l->sheet + n;
    l->y = l->x + n;
    item *items = xmalloc(sizeof *items * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        items[i] = (item){sizes[2 * i] + 2 * p, sizes[2 * i + 1] + 2 * p, i, 0, 0};
        l->frame_area += (int64_t)sizes[2 * i] * sizes[2 * i + 1];
    }
    int *sheet = xmalloc(sizeof(int) * (size_t)(n ? n : 1) * 3), *bx = sheet + n, *by = bx + n;
    bin b = {0};
    int W = o->max_width + 2 * p, H = o->max_height + 2 * p;
    combo ranked[SORTS * PACK_HEURISTICS];
    int nranked = 0;
    /* Every (order, heuristic): fill one full sheet after another, skipping frames that no
     * longer fit; every frame fits an empty sheet, so each pass places at least one. */
    for (int ord = 0; ord < SORTS && n > 0; ord++) {
        sort_items(items, n, ord);
        for (int hh = 0; hh < PACK_HEURISTICS; hh++) {
            if (hh == PACK_CP && n > PACK_CP_MAX) continue;
            for (int i = 0; i < n; i++) sheet[i] = -1;
            int done = 0, s = 0;
            int64_t area = 0;
            for (; done < n; s++) {
                bin_reset(&b, W, H);
                done += fill(&b, hh, items, n, sheet, bx, by, s, 0);
                int sw, sh;
                bbox(items, n, sheet, bx, by, s, p, &sw, &sh);
                area += (int64_t)sw * sh;
            }
            combo c = {ord, hh, s, area};
            if (nranked == 0 || cmp_combo(&c, &ranked[0]) < 0)
                memcpy(l->sheet, sheet, sizeof(int) * (size_t)n * 3);
            ranked[nranked++] = c;
            qsort(ranked, (size_t)nranked, sizeof *ranked, cmp_combo);
        }
    }
    combo won = nranked ? ranked[0] : (combo){0, 0, 0, 0};
    if (n > 0) {
        memcpy(sheet, l->sheet, sizeof(int) * (size_t)n * 3);
        shrink_last(&b, items, n, o, sheet, bx, by, won.sheets - 1, ranked, nranked, &won);
        memcpy(l->sheet, sheet, sizeof(int) * (size_t)n * 3);
    }
    l->nsheets = n > 0 ? won.sheets : 0;
    snprintf(l->method, sizeof l->method, "%s/%s", heur_names[won.heur], sort_names[won.order]);
    l->sw = xcalloc((size_t)(l->nsheets ? l->nsheets : 1) * 2, sizeof(int));
    l->sh = l->sw + l->nsheets;
    /* items are in some sort order; bbox needs padded sizes per frame, which items carry */
    for (int s = 0; s < l->nsheets; s++) {
        bbox(items, n, l->sheet, l->x, l->y, s, p, &l->sw[s], &l->sh[s]);
        if (o->pot) {
            int pw = 1, ph = 1;
            while (pw < l->sw[s]) pw *= 2;
            while (ph < l->sh[s]) ph *= 2;
            l->sw[s] = pw < o->max_width ? pw : o->max_width;
            l->sh[s] = ph < o->max_height ? ph : o->max_height;
        }
    }
    bin_free(&b);
    free(items);
    free(sheet);
    *out = l;
    return 0;
}

int pack_layout_sheets(const pack_layout *l) { return l->nsheets; }

void pack_layout_sheet_size(const pack_layout *l, int s, int *width, int *height)
{
    *width = l->sw[s];
    *height = l->sh[s];
}

void pack_layout_frame(const pack_layout *l, int i, int *sheet, int *x, int *y)
{
    *sheet = l->sheet[i];
    *x = l->x[i];
    *y = l->y[i];
}

double pack_layout_occupancy(const pack_layout *l)
{
    int64_t a = 0;
    for (int s = 0; s < l->nsheets; s++) a += (int64_t)l->sw[s] * l->sh[s];
    return a ? (double)l->frame_area / (double)a : 1.0;
}

const char *pack_layout_method(const pack_layout *l) { return l->method; }

void pack_layout_free(pack_layout *l)
{
    if (!l) return;
    free(l->sheet);
    free(l->sw);
    free(l);
}
