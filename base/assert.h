/*
 * base/assert.h - internal assertions in levels (mimalloc's), chosen at build time by Q_DEBUG:
 *
 *   0  (default) release: Q_ASSERT and Q_VALIDATE compile to nothing.
 *   1  Q_ASSERT(expr): cheap internal checks on the paths they guard.
 *   2  also Q_VALIDATE(call): a module's whole-state validator (q_pager_validate,
 *      q_pheap_validate, ...) after each change of state it covers - commits, opens, aborts.
 *
 * `make test-debug` builds the library and the unit tests with Q_DEBUG=2 and runs them. A
 * failure prints "quire: assertion failed: FILE:LINE: WHAT" on stderr and aborts; the handler
 * never allocates (it formats into a stack buffer and writes with write(2)), so the malloc
 * engine may use these too. Validators return NULL when their invariants hold, else a static
 * sentence naming the one that does not; tests call them directly in any build.
 */
#ifndef QUIRE_BASE_ASSERT_H
#define QUIRE_BASE_ASSERT_H

#ifndef Q_DEBUG
#define Q_DEBUG 0
#endif

/* Prints "quire: assertion failed: file:line: what" to stderr and aborts (SIGABRT). */
__attribute__((noreturn, cold)) void q_base_assert_fail(const char *file, int line,
                                                        const char *what);

/* Checks expr whatever Q_DEBUG is (the validators' own checks, tests). */
#define Q_INVARIANT(expr) ((expr) ? (void)0 : q_base_assert_fail(__FILE__, __LINE__, #expr))

#if Q_DEBUG >= 1
#define Q_ASSERT(expr) Q_INVARIANT(expr)
#else
#define Q_ASSERT(expr) ((void)0)
#endif

#if Q_DEBUG >= 2
/* Runs a validator (an expression yielding NULL or a sentence) and aborts on a sentence. */
#define Q_VALIDATE(validator)                                                                      \
    do {                                                                                           \
        const char *q_why_ = (validator);                                                          \
        if (q_why_) q_base_assert_fail(__FILE__, __LINE__, q_why_);                                \
    } while (0)
#else
#define Q_VALIDATE(validator) ((void)0)
#endif

#endif
