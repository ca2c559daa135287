/*
 * tests/alloc_api_cases.h - conformance checks of the malloc family, shared by
 * two tests.
 *
 * tests/unit/test_alloc_api.c runs these bodies through the quire_* names
 * (statically linked, under ASan and UBSan too);
 * tests/preload/test_malloc_api.c runs the very same bodies through the
 * standard names (malloc, free, ...) of a program linked against libquire.so.
 * The including file defines QA_FN(name) to map a standard name to the function
 * under test (quire_##name or name) before including this header, then calls
 * qa_run_all().
 *
 * Every function under test is called through a volatile function pointer
 * (qa_malloc, ...), so the compiler cannot apply its built-in knowledge of
 * malloc (folding a malloc/free pair away, assuming errno survives, warning
 * about huge constant sizes): each call really reaches the allocator. What is
 * checked, for each function: the edge sizes (0, 1, page-1, page, page+1,
 * huge), errno (ENOMEM/EINVAL on failure, untouched on success), alignment,
 * usable size, that contents survive realloc across every size range, that
 * calloc zeroes reused memory, and that quire (not another allocator) served
 * each block (quire_owns).
 *
 * tests/unit/test_alloc_api_glibc.c runs the same bodies against glibc's malloc
 * (QA_REFERENCE defined, quire_owns replaced by a tracker of live blocks), so
 * every expectation here is proven to be glibc's behaviour, not just quire's.
 * The reference mode leaves out quire's statistics, and aligned_alloc's EINVAL
 * for a bad alignment where the C library predates it (glibc < 2.38).
 */
#ifndef QUIRE_TESTS_ALLOC_API_CASES_H
#define QUIRE_TESTS_ALLOC_API_CASES_H

#ifndef QA_FN
#error "define QA_FN(name) before including alloc_api_cases.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "quire/alloc.h"

/* ---------------------------------------------------------------------------------------------
 * The functions under test, through volatile pointers
 * -------------------------------------------------------------------------------------------
 */

static void *(*volatile qa_malloc)(size_t) = QA_FN(malloc);
static void (*volatile qa_free)(void *) = QA_FN(free);
static void *(*volatile qa_calloc)(size_t, size_t) = QA_FN(calloc);
static void *(*volatile qa_realloc)(void *, size_t) = QA_FN(realloc);
static void *(*volatile qa_reallocarray)(void *, size_t, size_t) = QA_FN(reallocarray);
static int (*volatile qa_posix_memalign)(void **, size_t, size_t) = QA_FN(posix_memalign);
static void *(*volatile qa_aligned_alloc)(size_t, size_t) = QA_FN(aligned_alloc);
static void *(*volatile qa_memalign)(size_t, size_t) = QA_FN(memalign);
static void *(*volatile qa_valloc)(size_t) = QA_FN(valloc);
static void *(*volatile qa_pvalloc)(size_t) = QA_FN(pvalloc);
#ifndef QA_USABLE_ARG
#define QA_USABLE_ARG void *
#endif
static size_t (*volatile qa_usable)(QA_USABLE_ARG) = QA_FN(malloc_usable_size);
static void (*volatile qa_free_sized)(void *, size_t) = QA_FN(free_sized);
static void (*volatile qa_free_aligned_sized)(void *, size_t, size_t) = QA_FN(free_aligned_sized);
static int (*volatile qa_malloc_trim)(size_t) = QA_FN(malloc_trim);
static void (*volatile qa_malloc_stats)(void) = QA_FN(malloc_stats);

/* Sizes the compiler cannot see through (no -Walloc-size-larger-than, no
 * folding). */
static volatile size_t qa_size_max = SIZE_MAX;
#define QA_SIZE_MAX ((size_t)qa_size_max)

#define QA_KIB ((size_t)1024)
#define QA_MIB (QA_KIB * 1024)

/* An errno value no allocator sets, to prove a successful call left errno
 * alone. */
#define QA_ERRNO_MARK 4242

static size_t qa_page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int qa_aligned(const void *p, size_t align) {
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* The alignment of every block malloc returns: C requires enough for any object
 * of the size; quire (like glibc) promises 16 bytes for every size
 * (include/quire/alloc.h). */
static size_t qa_natural_align(size_t n) {
    (void)n;
    return 16;
}

/* Fills [p, p+n) with a pattern that depends on seed and on the byte's offset.
 */
static void qa_fill(void *p, size_t n, unsigned seed) {
    unsigned char *b = (unsigned char *)p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ 0x5a);
}

/* 1 when [p, p+n) still holds qa_fill(p, n, seed). */
static int qa_holds(const void *p, size_t n, unsigned seed) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ 0x5a)) return 0;
    return 1;
}

static int qa_all_zero(const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

/* The edge sizes every function is tried with. */
static size_t qa_edge_sizes(size_t *out) {
    size_t pg = qa_page(), k = 0;
    static const size_t fixed[] = {
        0,    1,     2,     7,     8,     9,     15,    16,    17,    24,   31,   32,   33,
        48,   63,    64,    65,    100,   127,   128,   129,   255,   256,  257,  500,  511,
        512,  513,   1000,  1023,  1024,  1025,  2047,  2048,  2049,  3000, 5000, 8191, 8192,
        8193, 16383, 16384, 16385, 32767, 32768, 32769, 65535, 65536, 65537};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) out[k++] = fixed[i];
    out[k++] = pg - 1;
    out[k++] = pg;
    out[k++] = pg + 1;
    out[k++] = 2 * pg - 1;
    out[k++] = 2 * pg + 1;
    out[k++] = 256 * QA_KIB - 1;
    out[k++] = 256 * QA_KIB + 1;
    out[k++] = 512 * QA_KIB - 1;
    out[k++] = 512 * QA_KIB;
    out[k++] = 512 * QA_KIB + 1;
    out[k++] = QA_MIB - 1;
    out[k++] = QA_MIB;
    out[k++] = QA_MIB + 1;
    out[k++] = 4 * QA_MIB + 3;
    out[k++] = 16 * QA_MIB + 1;
    return k;
}
#define QA_MAX_EDGE 80

/* Checks one live block of n requested bytes: non-NULL, aligned to align,
 * usable size, owned by quire, and the whole usable range writable and readable
 * back. */
static void qa_check_block(void *p, size_t n, size_t align, unsigned seed) {
    CHECK(p != NULL);
    if (!p) return;
    CHECK(qa_aligned(p, align));
    size_t u = qa_usable(p);
    CHECK(u >= n);
    CHECK(quire_owns(p) == 1);
    if (u < n) u = n;
    qa_fill(p, u, seed);
    CHECK(qa_holds(p, u, seed));
}

/* ---------------------------------------------------------------------------------------------
 * malloc, free, malloc_usable_size
 * -------------------------------------------------------------------------------------------
 */

static void qa_test_malloc_sizes(void) {
    TEST("malloc: edge sizes, alignment, usable size, whole usable range "
         "writable");
    size_t sizes[QA_MAX_EDGE];
    size_t ns = qa_edge_sizes(sizes);
    void *blocks[QA_MAX_EDGE];
    /* All blocks live at once: a block whose usable range overlapped another's
     * would break the other's pattern. */
    for (size_t i = 0; i < ns; i++) {
        errno = QA_ERRNO_MARK;
        blocks[i] = qa_malloc(sizes[i]);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        qa_check_block(blocks[i], sizes[i], qa_natural_align(sizes[i]), (unsigned)i);
    }
    for (size_t i = 0; i < ns; i++) {
        if (!blocks[i]) continue;
        size_t u = qa_usable(blocks[i]);
        CHECK(qa_holds(blocks[i], u, (unsigned)i));
        errno = QA_ERRNO_MARK;
        qa_free(blocks[i]);
        CHECK_EQ(errno, QA_ERRNO_MARK);
    }
}

static void qa_test_malloc_many_small(void) {
    TEST("malloc: many small blocks of every size 1..1024, distinct and intact");
    enum { PER = 8, MAXN = 1024 };
    static void *b[MAXN + 1][PER];
    int bad_align = 0, bad_usable = 0, bad_owner = 0;
    for (size_t n = 1; n <= MAXN; n++)
        for (int j = 0; j < PER; j++) {
            void *p = qa_malloc(n);
            b[n][j] = p;
            if (!p) continue;
            if (!qa_aligned(p, qa_natural_align(n))) bad_align++;
            if (qa_usable(p) < n) bad_usable++;
            if (quire_owns(p) != 1) bad_owner++;
            qa_fill(p, n, (unsigned)(n * PER + (size_t)j));
        }
    int nulls = 0, broken = 0;
    for (size_t n = 1; n <= MAXN; n++)
        for (int j = 0; j < PER; j++) {
            if (!b[n][j]) {
                nulls++;
                continue;
            }
            if (!qa_holds(b[n][j], n, (unsigned)(n * PER + (size_t)j))) broken++;
        }
    CHECK_EQ(nulls, 0);
    CHECK_EQ(broken, 0);
    CHECK_EQ(bad_align, 0);
    CHECK_EQ(bad_usable, 0);
    CHECK_EQ(bad_owner, 0);
    /* Free in an interleaved order (odd sizes first), then reallocate and check
     * again. */
    for (size_t n = 1; n <= MAXN; n += 2)
        for (int j = 0; j < PER; j++) qa_free(b[n][j]);
    for (size_t n = 1; n <= MAXN; n += 2)
        for (int j = 0; j < PER; j++) {
            b[n][j] = qa_malloc(n);
            if (b[n][j]) qa_fill(b[n][j], n, (unsigned)(n * PER + (size_t)j));
        }
    broken = 0;
    for (size_t n = 1; n <= MAXN; n++)
        for (int j = 0; j < PER; j++) {
            if (b[n][j] && !qa_holds(b[n][j], n, (unsigned)(n * PER + (size_t)j))) broken++;
            qa_free(b[n][j]);
        }
    CHECK_EQ(broken, 0);
}

static void qa_test_malloc_zero(void) {
    TEST("malloc(0): non-NULL, unique, owned, freeable");
    enum { N = 200 };
    void *p[N];
    int nulls = 0, dups = 0, owned = 0;
    for (int i = 0; i < N; i++) {
        p[i] = qa_malloc(0);
        if (!p[i])
            nulls++;
        else if (quire_owns(p[i]) == 1)
            owned++;
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (p[i] && p[i] == p[j]) dups++;
    CHECK_EQ(nulls, 0);
    CHECK_EQ(dups, 0);
    CHECK_EQ(owned, N);
    for (int i = 0; i < N; i++) qa_free(p[i]);
}

static void qa_test_malloc_huge(void) {
    TEST("malloc: impossible sizes give NULL and ENOMEM");
    size_t huge[] = {QA_SIZE_MAX,     QA_SIZE_MAX - 1,          QA_SIZE_MAX - qa_page(),
                     QA_SIZE_MAX / 2, QA_SIZE_MAX / 2 + 1,      (QA_SIZE_MAX >> 1) - qa_page(),
                     (size_t)1 << 62, QA_SIZE_MAX - 16 * QA_MIB};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = qa_malloc(huge[i]);
        CHECK(p == NULL);
        CHECK_EQ(errno, ENOMEM);
        if (p) qa_free(p);
    }
    /* The allocator still works after the failures. */
    void *p = qa_malloc(100);
    qa_check_block(p, 100, 16, 1);
    qa_free(p);
}

static void qa_test_free_null_and_usable(void) {
    TEST("free(NULL), malloc_usable_size(NULL)");
    errno = QA_ERRNO_MARK;
    qa_free(NULL);
    CHECK_EQ(errno, QA_ERRNO_MARK);
    CHECK_EQ(qa_usable(NULL), 0);
    CHECK_EQ(errno, QA_ERRNO_MARK);
    CHECK(quire_owns(NULL) == 0);
    int on_stack = 0;
    static int in_data = 1;
    CHECK(quire_owns(&on_stack) == 0);
    CHECK(quire_owns(&in_data) == 0);
    CHECK(quire_owns("a string literal") == 0);

    TEST("quire_owns: live blocks only, exactly their start");
    size_t probe[] = {16, 100, 5000, 300000, 3 * QA_MIB};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        char *p = (char *)qa_malloc(probe[i]);
        CHECK(p != NULL);
        if (!p) continue;
        CHECK(quire_owns(p) == 1);
        CHECK(quire_owns(p + 16) == 0);
        CHECK(quire_owns(p + 1) == 0);
        qa_free(p);
        CHECK(quire_owns(p) == 0);
    }
}

/* ---------------------------------------------------------------------------------------------
 * calloc
 * -------------------------------------------------------------------------------------------
 */

static void qa_test_calloc(void) {
    TEST("calloc: zeroed for every edge size, with fresh and with reused memory");
    size_t sizes[QA_MAX_EDGE];
    size_t ns = qa_edge_sizes(sizes);
    enum { REUSE = 16 };
    for (size_t i = 0; i < ns; i++) {
        size_t n = sizes[i];
        errno = QA_ERRNO_MARK;
        void *p = qa_calloc(1, n);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        CHECK(p != NULL);
        if (!p) continue;
        CHECK(qa_all_zero(p, n));
        CHECK(quire_owns(p) == 1);
        CHECK(qa_usable(p) >= n);
        qa_free(p);
        /* Dirty blocks of this size, free them, calloc again: the recycled memory
         * must come back zeroed. Fewer rounds for the large sizes. */
        int rounds = n >= QA_MIB ? 2 : REUSE;
        void *dirty[REUSE];
        for (int j = 0; j < rounds; j++) {
            dirty[j] = qa_malloc(n ? n : 1);
            if (dirty[j]) memset(dirty[j], 0xA5, qa_usable(dirty[j]));
        }
        for (int j = 0; j < rounds; j++) qa_free(dirty[j]);
        int zero = 1;
        for (int j = 0; j < rounds; j++) {
            dirty[j] = qa_calloc(n ? n : 1, 1);
            if (!dirty[j] || !qa_all_zero(dirty[j], n)) zero = 0;
        }
        CHECK(zero);
        for (int j = 0; j < rounds; j++) qa_free(dirty[j]);
    }
    /* n*size with both factors above one. */
    void *p = qa_calloc(1000, 33);
    CHECK(p != NULL && qa_all_zero(p, 33000));
    qa_free(p);
    p = qa_calloc(4096, 4097);
    CHECK(p != NULL && qa_all_zero(p, (size_t)4096 * 4097));
    qa_free(p);
    /* Zero counts. */
    p = qa_calloc(0, 10);
    CHECK(p != NULL);
    qa_free(p);
    p = qa_calloc(10, 0);
    CHECK(p != NULL);
    qa_free(p);
    p = qa_calloc(0, 0);
    CHECK(p != NULL);
    qa_free(p);
}

static void qa_test_calloc_overflow(void) {
    TEST("calloc: overflowing or impossible products give NULL and ENOMEM");
    size_t pairs[][2] = {{QA_SIZE_MAX, 2},
                         {2, QA_SIZE_MAX},
                         {QA_SIZE_MAX / 2 + 1, 2},
                         {(size_t)1 << 32, (size_t)1 << 32},
                         {((size_t)1 << 33) + 1, (size_t)1 << 31},
                         {QA_SIZE_MAX, QA_SIZE_MAX},
                         {QA_SIZE_MAX / 3 + 1, 3},
                         {QA_SIZE_MAX / 2, 1},
                         {1, QA_SIZE_MAX}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        void *p = qa_calloc(pairs[i][0], pairs[i][1]);
        CHECK(p == NULL);
        CHECK_EQ(errno, ENOMEM);
        if (p) qa_free(p);
    }
}

/* ---------------------------------------------------------------------------------------------
 * realloc, reallocarray
 * -------------------------------------------------------------------------------------------
 */

/* The ladder realloc climbs and descends: every size range, crossing 1, 16 and
 * 64 MiB. */
static size_t qa_ladder(size_t *out) {
    size_t pg = qa_page(), k = 0;
    static const size_t small[] = {1,   2,   7,   8,   9,    15,   16,   17,   24,   31,  32,
                                   33,  48,  64,  65,  100,  127,  128,  129,  255,  256, 257,
                                   511, 512, 513, 777, 1000, 1023, 1024, 1025, 2048, 3000};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) out[k++] = small[i];
    out[k++] = pg - 1;
    out[k++] = pg;
    out[k++] = pg + 1;
    static const size_t big[] = {10000,  32768,  65536,  65537,  100000,  131072,  262144,
                                 400000, 524287, 524288, 524289, 1048575, 1048576, 1048577};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) out[k++] = big[i];
    out[k++] = 3 * QA_MIB + 5;
    out[k++] = 16 * QA_MIB - 1;
    out[k++] = 16 * QA_MIB;
    out[k++] = 16 * QA_MIB + 1;
    out[k++] = 40 * QA_MIB + 7;
    out[k++] = 64 * QA_MIB - 1;
    out[k++] = 64 * QA_MIB;
    out[k++] = 64 * QA_MIB + 1;
    out[k++] = 72 * QA_MIB + 13;
    return k;
}

/* Checks that the first n bytes of p hold byte (i % 251) ^ tag at offset i. */
static int qa_holds_ladder(const unsigned char *p, size_t n, unsigned char tag) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)((i % 251) ^ tag)) return 0;
    return 1;
}

static void qa_fill_ladder(unsigned char *p, size_t from, size_t to, unsigned char tag) {
    for (size_t i = from; i < to; i++) p[i] = (unsigned char)((i % 251) ^ tag);
}

static void qa_test_realloc_ladder(void) {
    TEST("realloc: contents kept while growing and shrinking through every size "
         "range");
    size_t lad[80];
    size_t nl = qa_ladder(lad);
    unsigned char tag = 0x3c;
    /* Up the ladder, one rung at a time; then down; then in big jumps both ways.
     */
    size_t order[240], no = 0;
    for (size_t i = 0; i < nl; i++) order[no++] = lad[i];
    for (size_t i = nl; i-- > 0;) order[no++] = lad[i];
    static const size_t jumps[] = {5, 70 * 1048576, 3,  17 * 1048576, 100, 1048577, 65 * 1048576,
                                   1, 2 * 1048576,  64, 33 * 1048576};
    for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) order[no++] = jumps[i];

    unsigned char *p = (unsigned char *)qa_malloc(order[0]);
    CHECK(p != NULL);
    if (!p) return;
    qa_fill_ladder(p, 0, order[0], tag);
    size_t cur = order[0];
    int kept = 1, owned = 1, aligned = 1, usable = 1, errno_ok = 1, nonnull = 1;
    for (size_t i = 1; i < no; i++) {
        size_t n = order[i];
        errno = QA_ERRNO_MARK;
        unsigned char *q = (unsigned char *)qa_realloc(p, n);
        if (errno != QA_ERRNO_MARK) errno_ok = 0;
        if (!q) {
            nonnull = 0;
            fprintf(stderr, "realloc(%p, %zu) failed\n", (void *)p, n);
            break;
        }
        size_t keep = cur < n ? cur : n;
        if (!qa_holds_ladder(q, keep, tag)) {
            kept = 0;
            fprintf(stderr, "realloc %zu -> %zu lost contents\n", cur, n);
        }
        if (quire_owns(q) != 1) owned = 0;
        if (!qa_aligned(q, qa_natural_align(n))) aligned = 0;
        if (qa_usable(q) < n) usable = 0;
        qa_fill_ladder(q, keep, n, tag);
        p = q;
        cur = n;
    }
    CHECK(nonnull);
    CHECK(kept);
    CHECK(owned);
    CHECK(aligned);
    CHECK(usable);
    CHECK(errno_ok);
    qa_free(p);
}

static void qa_test_realloc_many(void) {
    TEST("realloc: many blocks grown in small steps, interleaved, stay intact");
    enum { N = 64, STEPS = 40 };
    unsigned char *b[N] = {0};
    size_t sz[N] = {0};
    int broken = 0, nulls = 0;
    for (int s = 0; s < STEPS; s++)
        for (int i = 0; i < N; i++) {
            size_t n = sz[i] + 1 + (size_t)((i * 37 + s * 11) % 97) * (size_t)(1 + s / 8);
            if (s == STEPS - 1 && i % 8 == 0) n = 700 * QA_KIB + (size_t)i; /* into large */
            unsigned char *q = (unsigned char *)qa_realloc(b[i], n);
            if (!q) {
                nulls++;
                continue;
            }
            for (size_t k = 0; k < sz[i]; k++)
                if (q[k] != (unsigned char)(i + k)) {
                    broken++;
                    break;
                }
            for (size_t k = sz[i]; k < n; k++) q[k] = (unsigned char)(i + k);
            b[i] = q;
            sz[i] = n;
        }
    CHECK_EQ(nulls, 0);
    CHECK_EQ(broken, 0);
    /* Shrink every block to a quarter: contents must stay. */
    for (int i = 0; i < N; i++) {
        size_t n = sz[i] / 4 + 1;
        unsigned char *q = (unsigned char *)qa_realloc(b[i], n);
        CHECK(q != NULL);
        if (!q) continue;
        int ok = 1;
        for (size_t k = 0; k < n; k++)
            if (q[k] != (unsigned char)(i + k)) ok = 0;
        CHECK(ok);
        b[i] = q;
    }
    for (int i = 0; i < N; i++) qa_free(b[i]);
}

static void qa_test_realloc_edges(void) {
    TEST("realloc: NULL, zero size, same size, failure keeps the block");
    /* realloc(NULL, n) behaves as malloc(n). */
    errno = QA_ERRNO_MARK;
    void *p = qa_realloc(NULL, 100);
    CHECK_EQ(errno, QA_ERRNO_MARK);
    qa_check_block(p, 100, 16, 9);
    qa_free(p);
    p = qa_realloc(NULL, 0);
    CHECK(p != NULL);
    CHECK(p == NULL || quire_owns(p) == 1);
    qa_free(p);
    p = qa_realloc(NULL, 2 * QA_MIB);
    qa_check_block(p, 2 * QA_MIB, 16, 10);
    qa_free(p);

    /* realloc(p, 0) frees p and returns NULL (glibc's behaviour), small and
     * large. */
    size_t zs[] = {1, 64, 4096, 100000, 3 * QA_MIB};
    for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
        p = qa_malloc(zs[i]);
        CHECK(p != NULL);
        void *q = qa_realloc(p, 0);
        CHECK(q == NULL);
        if (q) qa_free(q);
    }

    /* Same size, and shrinking by a byte: contents kept. */
    size_t ss[] = {10, 4096, 600000, 5 * QA_MIB};
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++) {
        p = qa_malloc(ss[i]);
        CHECK(p != NULL);
        if (!p) continue;
        qa_fill(p, ss[i], 77);
        void *q = qa_realloc(p, ss[i]);
        CHECK(q != NULL && qa_holds(q, ss[i], 77));
        if (q) p = q;
        q = qa_realloc(p, ss[i] - 1);
        CHECK(q != NULL && qa_holds(q, ss[i] - 1, 77));
        if (q) p = q;
        qa_free(p);
    }

    /* A failing realloc returns NULL with ENOMEM and leaves the block intact and
     * usable. */
    size_t fs[] = {32, 300000, 2 * QA_MIB};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        p = qa_malloc(fs[i]);
        CHECK(p != NULL);
        if (!p) continue;
        qa_fill(p, fs[i], 5);
        size_t huge[] = {QA_SIZE_MAX, QA_SIZE_MAX / 2 + 1, QA_SIZE_MAX - qa_page()};
        for (size_t h = 0; h < 3; h++) {
            errno = 0;
            void *q = qa_realloc(p, huge[h]);
            CHECK(q == NULL);
            CHECK_EQ(errno, ENOMEM);
        }
        CHECK(qa_holds(p, fs[i], 5));
        CHECK(quire_owns(p) == 1);
        void *q = qa_realloc(p, fs[i] * 2);
        CHECK(q != NULL && qa_holds(q, fs[i], 5));
        qa_free(q ? q : p);
    }

    /* realloc of an over-aligned block keeps its contents. */
    void *a = NULL;
    CHECK_OK(qa_posix_memalign(&a, 4096, 5000));
    if (a) {
        qa_fill(a, 5000, 12);
        void *q = qa_realloc(a, 9000);
        CHECK(q != NULL && qa_holds(q, 5000, 12));
        qa_free(q ? q : a);
    }
}

static void qa_test_reallocarray(void) {
    TEST("reallocarray: like realloc(p, n*size), overflow gives NULL+ENOMEM and "
         "keeps p");
    errno = QA_ERRNO_MARK;
    unsigned *p = (unsigned *)qa_reallocarray(NULL, 10, sizeof(unsigned));
    CHECK_EQ(errno, QA_ERRNO_MARK);
    CHECK(p != NULL);
    if (!p) return;
    CHECK(quire_owns(p) == 1);
    CHECK(qa_usable(p) >= 10 * sizeof(unsigned));
    for (unsigned i = 0; i < 10; i++) p[i] = i * 3;
    unsigned *q = (unsigned *)qa_reallocarray(p, 300000, sizeof(unsigned));
    CHECK(q != NULL);
    if (q) p = q;
    int ok = 1;
    for (unsigned i = 0; i < 10; i++)
        if (p[i] != i * 3) ok = 0;
    CHECK(ok);
    size_t pairs[][2] = {{QA_SIZE_MAX, 2},
                         {2, QA_SIZE_MAX},
                         {(size_t)1 << 32, (size_t)1 << 32},
                         {QA_SIZE_MAX / 4 + 1, 4},
                         {QA_SIZE_MAX / 2, 1}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        errno = 0;
        q = (unsigned *)qa_reallocarray(p, pairs[i][0], pairs[i][1]);
        CHECK(q == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
    ok = 1;
    for (unsigned i = 0; i < 10; i++)
        if (p[i] != i * 3) ok = 0;
    CHECK(ok);
    CHECK(quire_owns(p) == 1);
    q = (unsigned *)qa_reallocarray(p, 5, sizeof(unsigned));
    CHECK(q != NULL);
    if (q) p = q;
    ok = 1;
    for (unsigned i = 0; i < 5; i++)
        if (p[i] != i * 3) ok = 0;
    CHECK(ok);
    qa_free(p);
}

/* ---------------------------------------------------------------------------------------------
 * Aligned allocation: posix_memalign, aligned_alloc, memalign, valloc, pvalloc
 * -------------------------------------------------------------------------------------------
 */

static void qa_test_aligned_all(void) {
    TEST("posix_memalign/aligned_alloc/memalign: every power of two from 1 to 1 "
         "MiB");
    int bad = 0, nulls = 0, rc_bad = 0, errno_bad = 0;
    for (size_t align = 1; align <= QA_MIB; align <<= 1) {
        size_t sizes[] = {1, align > 1 ? align - 1 : 1, align, align + 1, 3 * align + 5, 100};
        enum { NS = 6 };
        void *blk[3][NS];
        for (int s = 0; s < NS; s++) {
            size_t n = sizes[s];
            unsigned seed = (unsigned)(align * 7 + (size_t)s);
            /* posix_memalign needs align >= sizeof(void *). */
            blk[0][s] = NULL;
            if (align >= sizeof(void *)) {
                errno = QA_ERRNO_MARK;
                int rc = qa_posix_memalign(&blk[0][s], align, n);
                if (errno != QA_ERRNO_MARK) errno_bad++;
                if (rc != 0) rc_bad++;
            }
            errno = QA_ERRNO_MARK;
            blk[1][s] = qa_aligned_alloc(align, n);
            if (errno != QA_ERRNO_MARK) errno_bad++;
            errno = QA_ERRNO_MARK;
            blk[2][s] = qa_memalign(align, n);
            if (errno != QA_ERRNO_MARK) errno_bad++;
            for (int f = 0; f < 3; f++) {
                void *p = blk[f][s];
                if (f == 0 && align < sizeof(void *)) continue;
                if (!p) {
                    nulls++;
                    continue;
                }
                if (!qa_aligned(p, align) || qa_usable(p) < n || quire_owns(p) != 1) {
                    bad++;
                    fprintf(stderr, "aligned f=%d align=%zu n=%zu p=%p usable=%zu\n", f, align, n,
                            p, qa_usable(p));
                }
                qa_fill(p, n, seed + (unsigned)f * 1000);
            }
        }
        for (int s = 0; s < NS; s++)
            for (int f = 0; f < 3; f++) {
                void *p = blk[f][s];
                if (!p) continue;
                if (!qa_holds(p, sizes[s], (unsigned)(align * 7 + (size_t)s) + (unsigned)f * 1000))
                    bad++;
                /* aligned_alloc blocks go back through free_aligned_sized half of the
                 * time. */
                if (f == 1 && s % 2)
                    qa_free_aligned_sized(p, align, sizes[s]);
                else
                    qa_free(p);
            }
    }
    CHECK_EQ(nulls, 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(rc_bad, 0);
    CHECK_EQ(errno_bad, 0);
}

static void qa_test_posix_memalign_errors(void) {
    TEST("posix_memalign: EINVAL for bad alignments, ENOMEM for impossible sizes");
    size_t bad[] = {0, 1, 2, 4, 3, 12, 24, 40, 48, 4095, 4097, 3 * QA_MIB, QA_SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i] >= sizeof(void *) && (bad[i] & (bad[i] - 1)) == 0) continue;
        void *sentinel = (void *)&bad[0];
        void *p = sentinel;
        int rc = qa_posix_memalign(&p, bad[i], 64);
        CHECK_EQ(rc, EINVAL);
        CHECK(p == sentinel || p == NULL);
    }
    size_t huge[] = {QA_SIZE_MAX, QA_SIZE_MAX / 2 + 1, QA_SIZE_MAX - 4096};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        void *p = (void *)&huge[0];
        int rc = qa_posix_memalign(&p, 64, huge[i]);
        CHECK_EQ(rc, ENOMEM);
        CHECK(p == (void *)&huge[0] || p == NULL);
        p = (void *)&huge[0];
        rc = qa_posix_memalign(&p, QA_MIB, huge[i]);
        CHECK_EQ(rc, ENOMEM);
    }
    /* Size 0 succeeds: NULL or a unique freeable pointer. */
    void *p = (void *)&huge[0];
    CHECK_OK(qa_posix_memalign(&p, 256, 0));
    CHECK(p != (void *)&huge[0]);
    CHECK(p == NULL || (qa_aligned(p, 256) && quire_owns(p) == 1));
    qa_free(p);
    /* A huge alignment larger than any sane request still either works or reports
     * ENOMEM. */
    p = NULL;
    int rc = qa_posix_memalign(&p, (size_t)1 << 40, 16);
    CHECK(rc == 0 || rc == ENOMEM);
    CHECK(rc != 0 || (p != NULL && qa_aligned(p, (size_t)1 << 40)));
    if (rc == 0) qa_free(p);
}

static void qa_test_aligned_alloc_errors(void) {
    TEST("aligned_alloc: NULL+EINVAL for non-power-of-two alignments, ENOMEM for "
         "huge sizes");
#if defined(QA_REFERENCE) && defined(__GLIBC__) && !__GLIBC_PREREQ(2, 38)
    /* Before 2.38 glibc's aligned_alloc was memalign (odd alignments rounded up). */
    printf("SKIP aligned_alloc EINVAL checks: glibc %d.%d predates them\n", __GLIBC__,
           __GLIBC_MINOR__);
#else
    size_t bad[] = {0, 3, 6, 12, 24, 48, 100, 4095, 4097, 3 * QA_MIB, QA_SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = qa_aligned_alloc(bad[i], 64);
        CHECK(p == NULL);
        CHECK_EQ(errno, EINVAL);
        if (p) qa_free(p);
    }
#endif
    size_t huge[] = {QA_SIZE_MAX, QA_SIZE_MAX / 2 + 1, QA_SIZE_MAX - 4096};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = qa_aligned_alloc(4096, huge[i]);
        CHECK(p == NULL);
        CHECK_EQ(errno, ENOMEM);
        if (p) qa_free(p);
    }
    /* A size that is not a multiple of the alignment is accepted (C17 DR 460,
     * glibc). */
    void *p = qa_aligned_alloc(64, 100);
    qa_check_block(p, 100, 64, 3);
    qa_free(p);
    p = qa_aligned_alloc(4096, 0);
    CHECK(p == NULL || (qa_aligned(p, 4096) && quire_owns(p) == 1));
    qa_free(p);
}

static void qa_test_memalign(void) {
    TEST("memalign: glibc semantics (rounds odd alignments up, EINVAL above "
         "SIZE_MAX/2+1)");
    struct {
        size_t align, size, expect;
    } cases[] = {{0, 10, 1},          {1, 10, 1},
                 {3, 10, 4},          {5, 100, 8},
                 {24, 100, 32},       {48, 1, 64},
                 {1000, 10, 1024},    {4097, 20, 8192},
                 {100000, 7, 131072}, {3 * 1048576, 4096, 4 * 1048576}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = QA_ERRNO_MARK;
        void *p = qa_memalign(cases[i].align, cases[i].size);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        qa_check_block(p, cases[i].size, cases[i].expect, (unsigned)i);
        qa_free(p);
    }
    errno = 0;
    void *p = qa_memalign(QA_SIZE_MAX / 2 + 2, 1);
    CHECK(p == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    p = qa_memalign(QA_SIZE_MAX, 1);
    CHECK(p == NULL);
    CHECK_EQ(errno, EINVAL);
    errno = 0;
    p = qa_memalign(4096, QA_SIZE_MAX);
    CHECK(p == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    p = qa_memalign(64, QA_SIZE_MAX - 32);
    CHECK(p == NULL);
    CHECK_EQ(errno, ENOMEM);
    p = qa_memalign(64, 0);
    CHECK(p != NULL && qa_aligned(p, 64));
    qa_free(p);
}

static void qa_test_valloc_pvalloc(void) {
    TEST("valloc/pvalloc: page aligned; pvalloc rounds the usable size up to "
         "pages");
    size_t pg = qa_page();
    size_t sizes[] = {0, 1, 100, pg - 1, pg, pg + 1, 3 * pg + 17, QA_MIB + 1, 5 * QA_MIB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        errno = QA_ERRNO_MARK;
        void *p = qa_valloc(n);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        CHECK(p != NULL);
        if (p) qa_check_block(p, n, pg, (unsigned)i);
        qa_free(p);
        errno = QA_ERRNO_MARK;
        p = qa_pvalloc(n);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        CHECK(p != NULL);
        if (!p) continue;
        size_t want = (n + pg - 1) / pg * pg;
        qa_check_block(p, want, pg, (unsigned)i + 100);
        qa_free(p);
    }
    size_t huge[] = {QA_SIZE_MAX, QA_SIZE_MAX - pg + 2, QA_SIZE_MAX / 2 + 1};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = qa_valloc(huge[i]);
        CHECK(p == NULL);
        CHECK_EQ(errno, ENOMEM);
        errno = 0;
        p = qa_pvalloc(huge[i]);
        CHECK(p == NULL);
        CHECK_EQ(errno, ENOMEM);
    }
}

/* ---------------------------------------------------------------------------------------------
 * free_sized, free_aligned_sized
 * -------------------------------------------------------------------------------------------
 */

static void qa_test_free_sized(void) {
    TEST("free_sized/free_aligned_sized: free blocks; the memory is reused");
    size_t sizes[QA_MAX_EDGE];
    size_t ns = qa_edge_sizes(sizes);
    errno = QA_ERRNO_MARK;
    qa_free_sized(NULL, 0);
    qa_free_aligned_sized(NULL, 64, 0);
    CHECK_EQ(errno, QA_ERRNO_MARK);
    for (size_t i = 0; i < ns; i++) {
        void *p = qa_malloc(sizes[i]);
        qa_check_block(p, sizes[i], qa_natural_align(sizes[i]), (unsigned)i);
        errno = QA_ERRNO_MARK;
        qa_free_sized(p, sizes[i]);
        CHECK_EQ(errno, QA_ERRNO_MARK);
        p = qa_calloc(sizes[i], 1);
        CHECK(p != NULL && qa_all_zero(p, sizes[i]));
        qa_free_sized(p, sizes[i]);
    }
    for (size_t align = 1; align <= 64 * QA_KIB; align <<= 1) {
        size_t n = align * 3;
        void *p = qa_aligned_alloc(align, n);
        qa_check_block(p, n, align, (unsigned)align);
        errno = QA_ERRNO_MARK;
        qa_free_aligned_sized(p, align, n);
        CHECK_EQ(errno, QA_ERRNO_MARK);
    }
    /* Many rounds: free_sized must really release memory (a leak would grow
     * without bound and fail; 2000 rounds of 1 MiB + 1 would need 2 GiB). */
    int nulls = 0;
    for (int r = 0; r < 2000; r++) {
        void *p = qa_malloc(QA_MIB + 1);
        if (!p) {
            nulls++;
            continue;
        }
        ((char *)p)[0] = 1;
        qa_free_sized(p, QA_MIB + 1);
    }
    CHECK_EQ(nulls, 0);
}

/* ---------------------------------------------------------------------------------------------
 * malloc_trim, malloc_stats, statistics
 * -------------------------------------------------------------------------------------------
 */

/* Runs fn with stderr redirected to a temporary file; returns how many bytes it
 * wrote and copies the start of the output into buf (NUL-terminated). */
static size_t qa_capture_stderr(void (*fn)(void), char *buf, size_t cap) {
    char path[] = "/tmp/quire-qa-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    ssize_t got = pread(fd, buf, cap - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    close(fd);
    return len > 0 ? (size_t)len : 0;
}

static void qa_call_malloc_stats(void) {
    qa_malloc_stats();
}

static void qa_test_trim_and_stats(void) {
    TEST("malloc_trim, malloc_stats, quire_alloc_stats_get");
    void *keep = qa_malloc(1000);
    enum { N = 256 };
    void *b[N];
    for (int i = 0; i < N; i++) b[i] = qa_malloc((size_t)(i % 16 + 1) * 1024);
    for (int i = 0; i < N; i++) qa_free(b[i]);
    errno = QA_ERRNO_MARK;
    int r = qa_malloc_trim(0);
    CHECK(r == 0 || r == 1);
    CHECK_EQ(errno, QA_ERRNO_MARK);
    r = qa_malloc_trim(QA_MIB);
    CHECK(r == 0 || r == 1);
    /* The allocator is intact after trimming. */
    CHECK(keep != NULL && quire_owns(keep) == 1);
    void *p = qa_malloc(5000);
    qa_check_block(p, 5000, 16, 4);
    qa_free(p);
    qa_free(keep);

    char out[4096];
    size_t len = qa_capture_stderr(qa_call_malloc_stats, out, sizeof out);
    CHECK(len > 0);
#ifndef QA_REFERENCE
    /* quire's summary (the QUIRE_STATS=1 report), not some other allocator's */
    CHECK(strstr(out, "quire: malloc statistics") != NULL);
#endif

#ifndef QA_REFERENCE
    TEST("quire_alloc_stats_get: counters follow allocations and frees");
    CHECK_EQ(quire_alloc_stats_get(NULL), QUIRE_EINVAL);
    struct quire_alloc_stats s0, s1, s2;
    memset(&s0, 0xff, sizeof s0);
    CHECK_OK(quire_alloc_stats_get(&s0));
    enum { M = 100 };
    void *blk[M];
    for (int i = 0; i < M; i++) blk[i] = qa_malloc(64);
    void *large = qa_malloc(2 * QA_MIB);
    CHECK_OK(quire_alloc_stats_get(&s1));
    CHECK(s1.allocs >= s0.allocs + M + 1);
    CHECK(s1.live_blocks >= s0.live_blocks + M + 1);
    CHECK(s1.live_bytes >= s0.live_bytes + M * 64 + 2 * QA_MIB);
    CHECK(s1.large_blocks >= s0.large_blocks + 1);
    CHECK(s1.large_allocs >= s0.large_allocs + 1);
    CHECK(s1.mapped_bytes >= s1.live_bytes);
    CHECK(s1.peak_mapped_bytes >= s1.mapped_bytes);
    CHECK(s1.bytes_allocated >= s1.live_bytes);
    CHECK(s1.mappings >= 1);
    CHECK(s1.threads >= 1);
    CHECK(s1.resident_bytes > 0);
    CHECK(s1.nclasses > 0 && s1.nclasses <= QUIRE_ALLOC_NCLASSES);
    int sizes_grow = 1;
    uint64_t class_live = 0;
    for (unsigned c = 0; c < s1.nclasses && c < QUIRE_ALLOC_NCLASSES; c++) {
        if (c && s1.class_size[c] <= s1.class_size[c - 1]) sizes_grow = 0;
        class_live += s1.class_live[c];
    }
    CHECK(sizes_grow);
    CHECK(class_live >= M);
    for (int i = 0; i < M; i++) qa_free(blk[i]);
    qa_free(large);
    CHECK_OK(quire_alloc_stats_get(&s2));
    CHECK(s2.frees >= s1.frees + M + 1);
    CHECK(s2.live_blocks + M + 1 <= s1.live_blocks);
    CHECK(s2.large_blocks + 1 <= s1.large_blocks);
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Everything
 * -------------------------------------------------------------------------------------------
 */

static void qa_run_all(void) {
    qa_test_free_null_and_usable();
    qa_test_malloc_sizes();
    qa_test_malloc_many_small();
    qa_test_malloc_zero();
    qa_test_malloc_huge();
    qa_test_calloc();
    qa_test_calloc_overflow();
    qa_test_realloc_edges();
    qa_test_realloc_ladder();
    qa_test_realloc_many();
    qa_test_reallocarray();
    qa_test_aligned_all();
    qa_test_posix_memalign_errors();
    qa_test_aligned_alloc_errors();
    qa_test_memalign();
    qa_test_valloc_pvalloc();
    qa_test_free_sized();
    qa_test_trim_and_stats();
}

#endif /* QUIRE_TESTS_ALLOC_API_CASES_H */
