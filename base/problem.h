/*
 * base/problem.h - the problem reporter of the checkers (quire_pager_check, quire_pheap_check):
 * one line of English per problem, counted and handed to the caller's callback.
 */
#ifndef QUIRE_BASE_PROBLEM_H
#define QUIRE_BASE_PROBLEM_H

#include <stdint.h>

/* Formats one problem (one line, at most 255 bytes), counts it in *count and hands it to
 * on_problem (which may be NULL). */
void q_base_problem(uint64_t *count, void (*on_problem)(void *arg, const char *message), void *arg,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* For a report struct with `problems`, `on_problem` and `arg` fields (both checkers' reports). */
#define Q_PROBLEM(report, ...)                                                                     \
    q_base_problem(&(report)->problems, (report)->on_problem, (report)->arg, __VA_ARGS__)

#endif
