/* budget — the thread count a running tool may use now, which the build's runner changes while
 * the tool runs: when other jobs end, a long job takes the cores they leave; when new jobs start,
 * it gives them back.
 *
 * The file named by env FV_THREADS_FILE holds one whole number 1..1024 and a newline (the runner
 * replaces it by rename, so a reader never sees half a number). A tool with a long loop calls
 * budget_poll between its steps (fv-train between minibatches, fv-render between optimization
 * steps) and applies a new count there (nn_set_threads), where no parallel loop runs. The file
 * is read at most every BUDGET_PERIOD seconds, so a call per step costs nothing. Without the
 * variable, or while the file is missing or holds anything else, the count stays as it is: a
 * build's hint is no input of the tool's, and a tool run by hand never sees one.
 *
 * The count changes only the speed: the tools that follow it compute the same bytes on any
 * number of threads (their own headers say how). */
#ifndef FV_BUDGET_H
#define FV_BUDGET_H

/* Seconds between two reads of the file by budget_poll. */
#define BUDGET_PERIOD 0.05

/* The count in the file at path: 1..1024, or 0 when the file is missing, unreadable or holds
 * anything but one such number (and an optional newline). */
int budget_read(const char *path);

/* The count the file of env FV_THREADS_FILE names when it differs from current (the count in use
 * now) and BUDGET_PERIOD seconds have passed since the last read; else 0. */
int budget_poll(int current);

#endif
