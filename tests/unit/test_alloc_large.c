/*
 * tests/unit/test_alloc_large.c - large blocks (paged vectors) of the malloc
 * engine: realloc growth in place within the slack an earlier growth reserved,
 * shrinking, moving a filled block into a cached mapping, reuse of cached
 * mappings (also for alignments above the page size), and usable sizes. Every
 * step checks that contents survive.
 */
#include <stdint.h>
#include <string.h>

#include "alloc/internal.h"
#include "check.h"

static unsigned char pat(uintptr_t seed, size_t i) {
    return (unsigned char)((i * 2654435761u) ^ (seed * 40503u) ^ (i >> 12));
}

static void fill(unsigned char *p, size_t from, size_t to, uintptr_t seed) {
    for (size_t i = from; i < to; i++) p[i] = pat(seed, i);
}

static int same(const unsigned char *p, size_t n, uintptr_t seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != pat(seed, i)) return 0;
    return 1;
}

/* Grows a block by 1/8 at a time from 300 KiB to 16 MiB, filling the new part
 * each time. */
static void test_grow_small_steps(void) {
    TEST("grow by small steps");
    size_t len = 300 * 1024;
    unsigned char *p = quire_malloc(len);
    CHECK(p != NULL);
    fill(p, 0, len, 1);
    unsigned moves = 0, steps = 0;
    int ok = 1;
    while (len < ((size_t)16 << 20)) {
        size_t n = len + len / 8 + 1;
        unsigned char *q = quire_realloc(p, n);
        if (!q) {
            ok = 0;
            break;
        }
        if (q != p) moves++;
        steps++;
        if (!same(q, len, 1)) ok = 0;
        fill(q, len, n, 1);
        CHECK(quire_malloc_usable_size(q) >= n);
        /* The usable size is the request rounded to pages, not the reserved slack.
         */
        CHECK(quire_malloc_usable_size(q) < n + q_os_page_size());
        p = q;
        len = n;
    }
    CHECK(ok);
    CHECK(same(p, len, 1));
    /* Slack doubles the mapping: a handful of moves, not one per step. */
    CHECK(steps > 20);
    CHECK(moves <= 8);
    quire_free(p);
}

/* Shrinks far (the mapping is cut), a little (in place), then grows again. */
static void test_shrink_regrow(void) {
    TEST("shrink and regrow");
    size_t len = (size_t)8 << 20;
    unsigned char *p = quire_malloc(len);
    CHECK(p != NULL);
    fill(p, 0, len, 2);
    unsigned char *q = quire_realloc(p, len - 4096);
    CHECK(q == p); /* a small shrink stays */
    q = quire_realloc(q, 600 * 1024);
    CHECK(q != NULL && same(q, 600 * 1024, 2));
    CHECK(quire_malloc_usable_size(q) >= 600 * 1024);
    q = quire_realloc(q, (size_t)3 << 20);
    CHECK(q != NULL && same(q, 600 * 1024, 2));
    fill(q, 600 * 1024, (size_t)3 << 20, 2);
    CHECK(same(q, (size_t)3 << 20, 2));
    /* Down to a medium and a small block: contents move along. */
    q = quire_realloc(q, 100 * 1024);
    CHECK(q != NULL && same(q, 100 * 1024, 2));
    q = quire_realloc(q, 100);
    CHECK(q != NULL && same(q, 100, 2));
    quire_free(q);
}

/* A filled block that outgrows its mapping while a big freed mapping is cached.
 */
static void test_move_into_cache(void) {
    TEST("filled block moves into a cached mapping");
    unsigned char *big = quire_malloc((size_t)6 << 20);
    CHECK(big != NULL);
    memset(big, 0x5a, (size_t)6 << 20); /* resident pages */
    unsigned char *p = quire_malloc((size_t)1 << 20);
    CHECK(p != NULL);
    fill(p, 0, (size_t)1 << 20, 3);
    quire_free(big); /* cached (purge delay) */
    unsigned char *q = quire_realloc(p, (size_t)5 << 20);
    CHECK(q != NULL);
    CHECK(same(q, (size_t)1 << 20, 3));
    fill(q, (size_t)1 << 20, (size_t)5 << 20, 3);
    CHECK(same(q, (size_t)5 << 20, 3));
    CHECK(quire_owns(q));
    quire_free(q);
}

/* Freed large blocks are reused, including for alignments above the page size.
 */
static void test_cache_reuse_aligned(void) {
    TEST("cached mappings serve aligned requests");
    const size_t al = (size_t)2 << 20;
    for (int i = 0; i < 50; i++) {
        void *p = NULL;
        CHECK_EQ(quire_posix_memalign(&p, al, 4096), 0);
        CHECK(p != NULL && ((uintptr_t)p & (al - 1)) == 0);
        memset(p, i, 4096);
        CHECK(quire_malloc_usable_size(p) >= 4096);
        quire_free(p);
    }
    /* A much smaller request may take a big cached mapping: it must still be
       usable, and grow in place into it. */
    unsigned char *b = quire_malloc((size_t)12 << 20);
    CHECK(b != NULL);
    memset(b, 1, (size_t)12 << 20);
    quire_free(b);
    unsigned char *s = quire_malloc(300 * 1024);
    CHECK(s != NULL);
    fill(s, 0, 300 * 1024, 4);
    unsigned char *t = quire_realloc(s, 500 * 1024);
    CHECK(t != NULL && same(t, 300 * 1024, 4));
    quire_free(t);
    /* Calloc of a reused mapping is zeroed. */
    unsigned char *z = quire_calloc(1, (size_t)2 << 20);
    CHECK(z != NULL);
    int zero = 1;
    for (size_t i = 0; i < ((size_t)2 << 20); i += 512) zero &= z[i] == 0;
    CHECK(zero);
    quire_free(z);
}

int main(void) {
    test_grow_small_steps();
    test_shrink_regrow();
    test_move_into_cache();
    test_cache_reuse_aligned();
    quire_malloc_trim(0);
    return check_done();
}
