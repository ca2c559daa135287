/*
 * tests/check.h - quire's tiny test framework.
 *
 * CHECK(expr) counts a pass or records a named failure and goes on; CHECK_EQ/CHECK_OK give the
 * values on failure. TEST(name) groups checks. check_done() prints the closing line
 * "N passed, N failed" that tests/run.sh sums, and returns the exit status. Failure output goes
 * to stderr through stdio (tests may allocate; the library under test may not).
 */
#ifndef QUIRE_TESTS_CHECK_H
#define QUIRE_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_passed_, check_failed_;
static const char *check_test_ = "";

#define TEST(name) (check_test_ = (name))

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (expr) {                                                                                \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, check_test_, #expr);      \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long ca_ = (long long)(a), cb_ = (long long)(b);                                      \
        if (ca_ == cb_) {                                                                          \
            check_passed_++;                                                                       \
        } else {                                                                                   \
            check_failed_++;                                                                       \
            fprintf(stderr, "FAIL %s:%d [%s]: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,      \
                    check_test_, #a, #b, ca_, cb_);                                                \
        }                                                                                          \
    } while (0)

/* A quire call that must succeed (return 0). */
#define CHECK_OK(call) CHECK_EQ((call), 0)

static inline int check_done(void) {
    fflush(stdout);
    printf("%d passed, %d failed\n", check_passed_, check_failed_);
    fflush(stdout);
    return check_failed_ ? 1 : 0;
}

#endif
