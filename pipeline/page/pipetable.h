/* pipetable — finds GitHub-style pipe tables in Markdown text (plain text only; the page renders
 * their cells). A table starts a block (the first line, or after a blank line), outside fenced
 * code, with a header row that holds a `|` and a delimiter row below it:
 *
 *   | technique | what it does | shown in |
 *   | --- | :-- | :-: |
 *   | L1 | pulls pixels to grey [@a] | {{ref fig}} |
 *
 * and runs to the next blank line. Leading and trailing pipes are optional; `:` in the delimiter
 * row aligns a column left, right or centre; `\|` is a literal bar in a cell (every other `|`
 * separates cells, also inside code spans, as in GitHub's). Every row must have the header's
 * number of cells. */
#ifndef FV_PIPETABLE_H
#define FV_PIPETABLE_H

#include "util.h"

typedef enum pt_align { PT_NONE, PT_LEFT, PT_CENTER, PT_RIGHT } pt_align;

typedef struct pt_table {
    int first_line; /* 1-based line of the header row in the scanned text */
    int n_lines;    /* header, delimiter and body rows */
    int cols, rows; /* rows counts the header row */
    pt_align *align; /* [cols] */
    char **cells;    /* [rows * cols], row by row, header first: trimmed Markdown, `\|` made `|` */
} pt_table;

/* Scans the NUL-terminated Markdown md. lines[i] is the line of the file `path` that line i + 1
 * of md came from (n_lines of them; errors name it; NULL: md is the file). Returns 0 with *out
 * (an array of *n tables, free with pipetable_free; NULL when none), or -1 with
 * "path:line: what (expected what)" in e for a malformed table. */
int pipetable_scan(const char *md, const char *path, const int *lines, int n_lines, pt_table **out, int *n, err *e);

/* Frees an array of n tables from pipetable_scan. */
void pipetable_free(pt_table *t, int n);

#endif
