/* fv-sprite — spritesheets: packing frames and encoding sheets to a perceptual budget.
 * A thin main over sprite.h / pack.h / encode.h; see --help. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "encode.h"
#include "pack.h"
#include "png_io.h"
#include "pool.h"
#include "ssim.h"
#include "sprite.h"

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2, EXIT_IO = 3 };

static const char usage[] =
    "usage: fv-sprite build LIST OUTDIR [options]   pack the frames and encode each sheet\n"
    "       fv-sprite pack LIST OUTDIR [options]    pack only: lossless PNG sheets\n"
    "       fv-sprite encode OUTDIR SHEET.png... [options]\n"
    "                                               encode existing lossless sheets\n"
    "       fv-sprite layout SIZES.tsv [options]    pack rectangles (id<TAB>w<TAB>h), print JSON\n"
    "\n"
    "LIST is TSV (one id<TAB>path per line; '#' lines and blank lines skipped) or a JSON array of\n"
    "{\"id\": ..., \"path\": ...}; paths are relative to the list's folder; frames are PNGs of any\n"
    "kind. OUTDIR receives <prefix>-<n>.<ext> and <prefix>-<n>.json per sheet (atlas format:\n"
    "pipeline/sprite/ATLAS.md); `encode` writes OUTDIR/<name>.<ext> per input sheet.\n"
    "\n"
    "options:\n"
    "  --max-size WxH    largest sheet (default 4096x4096)\n"
    "  --padding N       extruded border around each frame, pixels (default 2)\n"
    "  --pot             power-of-two sheet sides (default: shrink to the frames' bounding box)\n"
    "  --target SSIM     quality target against the lossless sheet (default 0.97)\n"
    "  --quant-speed N   libimagequant speed 1..10 of the final palettes (default 10; the search\n"
    "                    runs at 10, and a slower speed quantizes what it found once more: 4,\n"
    "                    pngquant's default, saves about 5 % of the bytes in 1.7x the time)\n"
    "  --formats LIST    allowed encodings, comma-separated, of: webp, jpeg, jpeg444, png8,\n"
    "                    png8-dither, png, webp-lossless (default: all)\n"
    "  --retina          sources are 2x renders: frames with both sides >= --retina-min get a\n"
    "                    2x variant in <prefix>@2x-<n> sheets; their 1x frame is the source halved\n"
    "  --retina-min N    (default 32)\n"
    "  --prefix NAME     sheet file prefix (default \"sheet\")\n"
    "  --table           print a table of the sheets (format, quality, SSIM, bytes) on stdout\n"
    "\n"
    "Environment: FV_THREADS (threads for SSIM and libimagequant; default: the cores).\n"
    "Exit codes: 0 ok, 1 bad input (one line on stderr, nothing written), 2 usage, 3 cannot write.\n";

/* Parses the options after the positional arguments. Returns 0 or prints and returns -1. */
static int parse_options(int argc, char **argv, sprite_options *o, int *table)
{
    err e = {{0}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--pot")) o->pack.pot = 1;
        else if (!strcmp(a, "--retina")) o->retina = 1;
        else if (!strcmp(a, "--table")) *table = 1;
        else if (!v) {
            fprintf(stderr, "fv-sprite: unknown option or missing value: %s (see --help)\n", a);
            return -1;
        } else if (!strcmp(a, "--max-size")) {
            int w, h, n = 0;
            if (sscanf(v, "%dx%d%n", &w, &h, &n) != 2 || v[n] || w < 1 || h < 1 || w > 32768 || h > 32768) {
                fprintf(stderr, "fv-sprite: --max-size: '%s' is not WxH (1..32768)\n", v);
                return -1;
            }
            o->pack.max_width = w;
            o->pack.max_height = h;
            i++;
        } else if (!strcmp(a, "--padding")) {
            long n;
            if (parse_int(a, v, 0, 64, &n, NULL) != 0) {
                fprintf(stderr, "fv-sprite: --padding: '%s' is not an integer 0..64\n", v);
                return -1;
            }
            o->pack.padding = (int)n;
            i++;
        } else if (!strcmp(a, "--retina-min")) {
            long n;
            if (parse_int(a, v, 2, 32768, &n, NULL) != 0) {
                fprintf(stderr, "fv-sprite: --retina-min: '%s' is not an integer 2..32768\n", v);
                return -1;
            }
            o->retina_min = (int)n;
            i++;
        } else if (!strcmp(a, "--quant-speed")) {
            long n;
            if (parse_int(a, v, 1, 10, &n, NULL) != 0) {
                fprintf(stderr, "fv-sprite: --quant-speed: '%s' is not an integer 1..10\n", v);
                return -1;
            }
            o->enc.quant_speed = (int)n;
            i++;
        } else if (!strcmp(a, "--target")) {
            char *end;
            double t = strtod(v, &end);
            if (end == v || *end || !(t > 0 && t <= 1)) {
                fprintf(stderr, "fv-sprite: --target: '%s' is not an SSIM in (0, 1]\n", v);
                return -1;
            }
            o->enc.target = t;
            i++;
        } else if (!strcmp(a, "--formats")) {
            if (encode_formats_parse(v, &o->enc.formats, &e) != 0) {
                fprintf(stderr, "fv-sprite: %s\n", e.msg);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--prefix")) {
            if (!v[0] || strchr(v, '/')) {
                fprintf(stderr, "fv-sprite: --prefix: '%s' must be a non-empty file name\n", v);
                return -1;
            }
            o->prefix = v;
            i++;
        } else {
            fprintf(stderr, "fv-sprite: unknown option: %s (see --help)\n", a);
            return -1;
        }
    }
    return 0;
}

static int cmd_build(const char *list, const char *outdir, const sprite_options *o, int table)
{
    err e = {{0}};
    sprite_list *l = NULL;
    sprite_output *out = NULL;
    if (sprite_list_read(list, &l, &e) != 0 || sprite_build(l, o, &out, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        sprite_list_free(l);
        return EXIT_INPUT;
    }
    int rc = EXIT_OK;
    if (sprite_output_write(out, outdir, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        rc = EXIT_IO;
    } else if (table) {
        sprite_output_table(out, stdout);
    }
    sprite_output_free(out);
    sprite_list_free(l);
    return rc;
}

/* One sheet of `encode`: read, made RGB when opaque (so that JPEG can compete), searched. */
typedef struct sheet_job {
    const char *path;
    encode_options enc;
    encode_result r;
    int width, height, rc;
    err e;
} sheet_job;

static void encode_one_sheet(sheet_job *j)
{
    png_io_image img;
    if (png_io_read(j->path, 4, &img, &j->e) != 0) {
        j->rc = EXIT_INPUT;
        return;
    }
    int opaque = 1;
    for (size_t k = 0; k < (size_t)img.width * img.height && opaque; k++) opaque = img.pixels[4 * k + 3] == 255;
    if (opaque) {
        for (size_t k = 0; k < (size_t)img.width * img.height; k++) memmove(img.pixels + 3 * k, img.pixels + 4 * k, 3);
        img.channels = 3;
    }
    j->width = img.width, j->height = img.height;
    if (encode_sheet(&j->enc, img.pixels, img.width, img.height, img.channels, &j->r, &j->e) != 0) {
        err msg = j->e;
        err_set(&j->e, "%s: %s", j->path, msg.msg);
        j->rc = EXIT_INPUT;
    }
    png_io_image_free(&img);
}

/* Sheets are independent: each is a chunk of one pool loop, taken largest file first, so that a
 * big sheet does not start last and run alone. The threads then belong to the sheets: a sheet's
 * SSIM runs inline on its thread (pool.h: a loop inside a loop runs inline), except when there is
 * one sheet, whose SSIM has the pool to itself. Results do not depend on the order: every sheet's
 * search is deterministic and SSIM's sum is fixed-order (ssim.h). */
typedef struct sheet_pool {
    sheet_job *jobs;
    const int *order;
} sheet_pool;

/* pool body: the sheets order[i0..i1). */
static void encode_sheets(void *ctx, int i0, int i1)
{
    sheet_pool *p = ctx;
    for (int i = i0; i < i1; i++) encode_one_sheet(&p->jobs[p->order[i]]);
}

/* Encodes each lossless sheet; all are encoded before any is written. */
static int cmd_encode(const char *outdir, char **sheets, int n, const sprite_options *o, int table)
{
    err e = {{0}};
    sheet_job *jobs = xcalloc((size_t)n, sizeof *jobs);
    for (int i = 0; i < n; i++) {
        jobs[i].path = sheets[i];
        jobs[i].enc = o->enc;
    }
    int *order = xcalloc((size_t)n, sizeof *order);
    off_t *size = xcalloc((size_t)n, sizeof *size);
    for (int i = 0; i < n; i++) {
        struct stat st;
        size[i] = stat(sheets[i], &st) == 0 ? st.st_size : 0;
        int k = i;
        for (; k > 0 && size[order[k - 1]] < size[i]; k--) order[k] = order[k - 1];
        order[k] = i;
    }
    sheet_pool pool = {jobs, order};
    pool_for_chunks(n, n, encode_sheets, &pool); /* a chunk per sheet */
    free(order);
    free(size);

    int rc = EXIT_OK;
    char **names = xcalloc((size_t)n, sizeof *names);
    for (int i = 0; i < n && rc == EXIT_OK; i++) {
        sheet_job *j = &jobs[i];
        if (j->rc != EXIT_OK) {
            fprintf(stderr, "%s\n", j->e.msg);
            rc = j->rc;
            break;
        }
        if (table)
            printf("%-40s %5dx%-5d %-13s q=%-4d ssim=%.4f bytes=%zu\n", sheets[i], j->width, j->height,
                   encode_format_name(j->r.format), j->r.quality, j->r.ssim, j->r.bytes);
        const char *base = strrchr(sheets[i], '/');
        base = base ? base + 1 : sheets[i];
        const char *dot = strrchr(base, '.');
        names[i] = xasprintf("%s/%.*s.%s", outdir, (int)(dot ? dot - base : (long)strlen(base)), base,
                             encode_format_ext(j->r.format));
    }
    if (rc == EXIT_OK && mkdir_p(outdir, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        rc = EXIT_IO;
    }
    for (int i = 0; i < n && rc == EXIT_OK; i++)
        if (write_file_atomic(names[i], jobs[i].r.data, jobs[i].r.bytes, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            rc = EXIT_IO;
        }
    for (int i = 0; i < n; i++) {
        encode_result_free(&jobs[i].r);
        free(names[i]);
    }
    free(jobs);
    free(names);
    return rc;
}

/* Packs bare rectangles: a tool for the benchmark and for trying packing options. */
static int cmd_layout(const char *path, const sprite_options *o)
{
    err e = {{0}};
    char *data;
    size_t len;
    if (read_file(path, &data, &len, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return EXIT_INPUT;
    }
    int n = 0, cap = 0, line = 0, *sizes = NULL, rc = EXIT_OK;
    for (char *s = data; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        line++;
        if (*s && *s != '#') {
            char id[256];
            int w, h, k = 0;
            if (sscanf(s, "%255[^\t]\t%d\t%d%n", id, &w, &h, &k) != 3 || s[k]) {
                fprintf(stderr, "%s:%d: expected id<TAB>width<TAB>height\n", path, line);
                rc = EXIT_INPUT;
                break;
            }
            if (n == cap) sizes = xrealloc(sizes, sizeof(int) * 2 * (size_t)(cap = cap ? 2 * cap : 256));
            sizes[2 * n] = w;
            sizes[2 * n + 1] = h;
            n++;
        }
        s = nl ? nl + 1 : NULL;
    }
    pack_layout *l = NULL;
    if (rc == EXIT_OK && pack_layout_new(&o->pack, sizes, n, &l, &e) != 0) {
        fprintf(stderr, "%s: %s\n", path, e.msg);
        rc = EXIT_INPUT;
    }
    if (rc == EXIT_OK) {
        printf("{\"frames\": %d, \"sheets\": [", n);
        for (int s = 0; s < pack_layout_sheets(l); s++) {
            int w, h;
            pack_layout_sheet_size(l, s, &w, &h);
            printf("%s[%d, %d]", s ? ", " : "", w, h);
        }
        printf("], \"occupancy\": %.6f, \"method\": \"%s\", \"positions\": [", pack_layout_occupancy(l),
               pack_layout_method(l));
        for (int i = 0; i < n; i++) {
            int s, x, y;
            pack_layout_frame(l, i, &s, &x, &y);
            printf("%s[%d, %d, %d]", i ? ", " : "", s, x, y);
        }
        printf("]}\n");
    }
    pack_layout_free(l);
    free(sizes);
    free(data);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    sprite_options o;
    sprite_options_default(&o);
    pool_set_threads(o.enc.threads > 0 ? o.enc.threads : ssim_threads()); /* SSIM's and the sheets' */
    int table = 0;
    const char *cmd = argc >= 2 ? argv[1] : "";
    if ((!strcmp(cmd, "build") || !strcmp(cmd, "pack")) && argc >= 4) {
        if (parse_options(argc - 4, argv + 4, &o, &table) != 0) return EXIT_USAGE;
        o.encode = !strcmp(cmd, "build");
        return cmd_build(argv[2], argv[3], &o, table);
    }
    if (!strcmp(cmd, "encode") && argc >= 4) {
        int n = 0;
        while (3 + n < argc && strncmp(argv[3 + n], "--", 2) != 0) n++;
        if (n == 0) {
            fputs("fv-sprite encode: no sheets given (see --help)\n", stderr);
            return EXIT_USAGE;
        }
        if (parse_options(argc - 3 - n, argv + 3 + n, &o, &table) != 0) return EXIT_USAGE;
        return cmd_encode(argv[2], argv + 3, n, &o, table);
    }
    if (!strcmp(cmd, "layout") && argc >= 3) {
        if (parse_options(argc - 3, argv + 3, &o, &table) != 0) return EXIT_USAGE;
        return cmd_layout(argv[2], &o);
    }
    fputs("usage: fv-sprite build|pack LIST OUTDIR | encode OUTDIR SHEET.png... | layout SIZES.tsv (see --help)\n",
          stderr);
    return EXIT_USAGE;
}
