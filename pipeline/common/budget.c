/* budget — see budget.h. */
#include "budget.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int budget_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char text[16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    if (n > 0 && text[n - 1] == '\n') text[--n] = 0;
    long v;
    /* parse_int: digits only, in range; its message is not wanted here (a hint, not an input) */
    if (n == 0 || parse_int("FV_THREADS_FILE", text, 1, 1024, &v, NULL) != 0) return 0;
    return (int)v;
}

int budget_poll(int current)
{
    /* the last read; the process's only budget file, so the state is the process's */
    static double last = -1e9;
    const char *path = getenv("FV_THREADS_FILE");
    if (!path || !*path) return 0;
    double now = now_seconds();
    if (now - last < BUDGET_PERIOD) return 0;
    last = now;
    int n = budget_read(path);
    return n > 0 && n != current ? n : 0;
}
