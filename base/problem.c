/*
 * base/problem.c - the checkers' problem reporter (see base/problem.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "base/problem.h"

void q_base_problem(uint64_t *count, void (*on_problem)(void *arg, const char *message), void *arg,
                    const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (*count)++;
    if (on_problem) on_problem(arg, msg);
}
