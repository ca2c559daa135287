/*
 * tests/unit/test_alloc_large.c - large blocks (paged vectors) of the malloc
 * engine: realloc growth in place within the slack an earlier growth reserved,
 * shrinking, moving a filled block into a cached mapping, reuse of cached
 * mappings (also for alignments above the page size), splitting a mapping
 * without system calls and growing back into the cached rest of it, the copy
 * fallback when mremap refuses, and usable sizes; thousands of live blocks at
 * once (the table of records grows and shrinks under them). Every step checks
 * that contents survive.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

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

/* Pages of [p, p + len) that are resident, or -1 when part of it is unmapped. */
static long resident_pages(void *p, size_t len) {
    size_t ps = q_os_page_size(), n = len / ps;
    static unsigned char vec[(64u << 20) / 4096];
    if (n > sizeof vec || q_os_mincore(p, len, vec) != 0) return -1;
    long in = 0;
    for (size_t i = 0; i < n; i++) in += vec[i] & 1;
    return in;
}

/* A big shrink keeps the rest of the mapping cached, pages and all; growing again
 * takes it back in place: same address, no page to fault in. */
static void test_shrink_keeps_tail(void) {
    TEST("a shrunk block grows back into its cached tail");
    const size_t big = (size_t)8 << 20, small = 300 * 1024;
    unsigned char *p = quire_malloc(big);
    CHECK(p != NULL);
    fill(p, 0, big, 5);
    unsigned char *q = quire_realloc(p, small);
    CHECK(q == p); /* shrinking never moves */
    CHECK(same(q, small, 5));
    CHECK(quire_malloc_usable_size(q) < big / 4);
    /* The tail is still mapped and resident (cached, not given back yet). */
    CHECK_EQ(resident_pages(p + big / 2, big / 2), (long)(big / 2 / q_os_page_size()));
    q = quire_realloc(q, big);
    CHECK(q == p); /* grew back in place */
    CHECK(same(q, small, 5));
    CHECK_EQ(resident_pages(q, big), (long)(big / q_os_page_size()));
    fill(q, small, big, 5);
    CHECK(same(q, big, 5));
    quire_free(q);
    /* A forced trim gives every cached range back: the mapping is gone. */
    quire_malloc_trim(0);
    CHECK_EQ(resident_pages(p, big), -1);
}

/* A small request served from a much bigger cached mapping keeps its start and leaves
 * the rest cached, so the block then grows in place over faulted-in pages. */
static void test_split_cached_mapping(void) {
    TEST("a small request splits a big cached mapping");
    quire_malloc_trim(0);
    const size_t big = (size_t)16 << 20;
    unsigned char *b = quire_malloc(big);
    CHECK(b != NULL);
    memset(b, 7, big);
    quire_free(b);
    unsigned char *s = quire_malloc(300 * 1024);
    CHECK(s == b); /* the start of the cached mapping */
    fill(s, 0, 300 * 1024, 6);
    size_t len = 300 * 1024;
    int in_place = 1;
    while (len < big) {
        size_t n = len * 2 > big ? big : len * 2;
        unsigned char *t = quire_realloc(s, n);
        CHECK(t != NULL);
        if (t != s) in_place = 0;
        CHECK(same(t, len, 6));
        fill(t, len, n, 6);
        s = t;
        len = n;
    }
    CHECK(in_place);
    CHECK(same(s, big, 6));
    /* A second small block takes another part of it, never an overlapping one. */
    unsigned char *o = quire_malloc(400 * 1024);
    CHECK(o != NULL && (o >= s + big || o + 400 * 1024 <= s));
    memset(o, 9, 400 * 1024);
    CHECK(same(s, big, 6));
    quire_free(o);
    quire_free(s);
}

/* When mremap refuses (the program split the mapping: here MADV_DONTFORK on one
 * page gives it different flags), realloc moves the block by copy. */
static void test_remap_refused(void) {
    TEST("realloc copies when mremap refuses");
    quire_malloc_trim(0);
    const size_t len = (size_t)1 << 20;
    unsigned char *p = quire_malloc(len);
    CHECK(p != NULL);
    fill(p, 0, len, 8);
    size_t ps = q_os_page_size();
    CHECK_EQ(madvise(p + len / 2, ps, MADV_DONTFORK), 0);
    unsigned char *q = quire_realloc(p, (size_t)48 << 20);
    CHECK(q != NULL);
    CHECK(same(q, len, 8));
    memset(q + len, 1, ((size_t)48 << 20) - len);
    CHECK(same(q, len, 8));
    quire_free(q);
}

/* 3000 live large blocks (the table of records doubles several times), looked
 * up, resized and freed in a shuffled order: each keeps its own record. */
static void test_many_blocks(void) {
    TEST("thousands of live blocks");
    enum { N = 3000 };
    static unsigned char *b[N];
    static size_t len[N];
    int ok = 1;
    for (size_t i = 0; i < N; i++) {
        len[i] = 260 * 1024 + (i % 7) * 4096 + i % 13;
        b[i] = quire_malloc(len[i]);
        if (!b[i]) {
            ok = 0;
            break;
        }
        memcpy(b[i], &i, sizeof i); /* its number first, a byte of it last */
        b[i][len[i] - 1] = (unsigned char)(i * 7);
    }
    CHECK(ok);
    if (!ok) return;
    uint64_t x = 88172645463325252ull;
    for (size_t i = N - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = x % (i + 1);
        unsigned char *t = b[i];
        b[i] = b[j], b[j] = t;
        size_t l = len[i];
        len[i] = len[j], len[j] = l;
    }
    unsigned bad = 0;
    for (size_t i = 0; i < N; i++) {
        size_t id;
        memcpy(&id, b[i], sizeof id);
        if (quire_malloc_usable_size(b[i]) < len[i] || b[i][len[i] - 1] != (unsigned char)(id * 7))
            bad++;
        if (i % 4 == 0) {
            unsigned char *n = quire_realloc(b[i], len[i] * 3);
            size_t id2 = 0;
            if (n) memcpy(&id2, n, sizeof id2);
            if (!n || id2 != id || n[len[i] - 1] != (unsigned char)(id * 7))
                bad++;
            else
                b[i] = n, len[i] *= 3;
        }
        if (i % 2 == 0) {
            quire_free(b[i]);
            b[i] = NULL;
        }
    }
    for (size_t i = 0; i < N; i++)
        if (b[i] && quire_malloc_usable_size(b[i]) < len[i]) bad++;
    for (size_t i = 0; i < N; i++) quire_free(b[i]);
    CHECK_EQ(bad, 0u);
}

int main(void) {
    /* Cached ranges must outlive the test steps, however slow the machine (set after
       the first allocation, which reads the options). */
    quire_free(quire_malloc(1));
    q_opt.purge_delay_ns = (int64_t)60 * 1000000000;
    test_grow_small_steps();
    test_shrink_regrow();
    test_move_into_cache();
    test_cache_reuse_aligned();
    test_shrink_keeps_tail();
    test_split_cached_mapping();
    test_remap_refused();
    test_many_blocks();
    quire_malloc_trim(0);
    return check_done();
}
