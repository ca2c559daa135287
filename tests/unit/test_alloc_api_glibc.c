/*
 * tests/unit/test_alloc_api_glibc.c - the conformance cases of tests/alloc_api_cases.h run
 * against the C library's own malloc, as a reference.
 *
 * tests/unit/test_alloc_api.c and tests/preload/test_malloc_api.c hold quire to the behaviour
 * these cases describe (malloc(0) non-NULL, realloc(p, 0) frees and gives NULL, memalign rounding
 * odd alignments up, errno untouched on success, ENOMEM/EINVAL on failure, ...). This test proves
 * that the description is glibc's, so a program that works on glibc sees the same results on
 * quire. Here the functions under test are thin wrappers around glibc's that keep a table of the
 * live blocks they returned; that table answers the cases' ownership question (quire_owns: a live
 * block, exactly its start) for glibc's blocks. Under AddressSanitizer malloc is the sanitizer's,
 * not glibc's (and it aborts on impossible sizes), so the test only reports a skip there.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

/* ---- live-block table: open addressing, linear probing, backward-shift deletion ---------- */

#define REF_SLOTS (1u << 16)          /* the cases keep at most about 8400 blocks live */
static uintptr_t ref_live[REF_SLOTS]; /* addresses: never dereferenced */
static unsigned ref_count;
static int ref_overflow;

static unsigned ref_hash(uintptr_t p) {
    uint64_t x = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (unsigned)(x >> 48) & (REF_SLOTS - 1);
}

static int ref_has(uintptr_t p) {
    if (!p) return 0;
    for (unsigned i = ref_hash(p);; i = (i + 1) & (REF_SLOTS - 1)) {
        if (ref_live[i] == p) return 1;
        if (!ref_live[i]) return 0;
    }
}

static void ref_add(uintptr_t p) {
    if (!p) return;
    if (ref_count >= REF_SLOTS / 2) {
        ref_overflow = 1;
        return;
    }
    unsigned i = ref_hash(p);
    while (ref_live[i] && ref_live[i] != p) i = (i + 1) & (REF_SLOTS - 1);
    if (!ref_live[i]) ref_count++;
    ref_live[i] = p;
}

static void ref_del(uintptr_t p) {
    if (!p) return;
    unsigned i = ref_hash(p);
    while (ref_live[i] != p) {
        if (!ref_live[i]) return;
        i = (i + 1) & (REF_SLOTS - 1);
    }
    ref_live[i] = 0;
    ref_count--;
    /* Move later entries of the cluster back so that every lookup still finds them. */
    for (unsigned j = (i + 1) & (REF_SLOTS - 1); ref_live[j]; j = (j + 1) & (REF_SLOTS - 1)) {
        unsigned home = ref_hash(ref_live[j]);
        /* The entry at j may move to the hole at i if i lies cyclically in [home, j). */
        int movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            ref_live[i] = ref_live[j];
            ref_live[j] = 0;
            i = j;
        }
    }
}

/* ---- the functions under test: glibc's, recording what they hand out ---------------------- */

/* realloc and reallocarray through volatile pointers: gcc's use-after-free analysis would
 * otherwise object to recording the old address once the call may have freed it. */
static void *(*volatile sys_realloc)(void *, size_t) = realloc;
static void *(*volatile sys_reallocarray)(void *, size_t, size_t) = reallocarray;

static void *ref_malloc(size_t n) {
    void *p = malloc(n);
    ref_add((uintptr_t)p);
    return p;
}

static void ref_free(void *p) {
    ref_del((uintptr_t)p);
    free(p);
}

static void *ref_calloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    ref_add((uintptr_t)p);
    return p;
}

static void *ref_realloc(void *p, size_t n) {
    uintptr_t old = (uintptr_t)p;
    void *q = sys_realloc(p, n);
    if (q || (old && n == 0)) ref_del(old); /* moved, or freed by realloc(p, 0) */
    ref_add((uintptr_t)q);
    return q;
}

static void *ref_reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    int overflow = __builtin_mul_overflow(n, size, &total);
    uintptr_t old = (uintptr_t)p;
    void *q = sys_reallocarray(p, n, size);
    if (q || (old && !overflow && total == 0)) ref_del(old);
    ref_add((uintptr_t)q);
    return q;
}

static int ref_posix_memalign(void **out, size_t align, size_t n) {
    int rc = posix_memalign(out, align, n);
    if (rc == 0) ref_add((uintptr_t)*out);
    return rc;
}

static void *ref_aligned_alloc(size_t align, size_t n) {
    void *p = aligned_alloc(align, n);
    ref_add((uintptr_t)p);
    return p;
}

static void *ref_memalign(size_t align, size_t n) {
    void *p = memalign(align, n);
    ref_add((uintptr_t)p);
    return p;
}

static void *ref_valloc(size_t n) {
    void *p = valloc(n);
    ref_add((uintptr_t)p);
    return p;
}

static void *ref_pvalloc(size_t n) {
    void *p = pvalloc(n);
    ref_add((uintptr_t)p);
    return p;
}

static size_t ref_malloc_usable_size(void *p) {
    return malloc_usable_size(p);
}

/* C23's sized frees are not in glibc before 2.40: the reference is a plain free. */
static void ref_free_sized(void *p, size_t n) {
    (void)n;
    ref_free(p);
}

static void ref_free_aligned_sized(void *p, size_t align, size_t n) {
    (void)align;
    (void)n;
    ref_free(p);
}

static int ref_malloc_trim(size_t pad) {
    return malloc_trim(pad);
}

static void ref_malloc_stats(void) {
    malloc_stats();
}

#define QA_REFERENCE 1
#define QA_FN(name)  ref_##name
#define quire_owns   ref_owns /* the cases' ownership question, answered by the table */
#include "alloc_api_cases.h"

int ref_owns(const void *p) {
    return ref_has((uintptr_t)p);
}

int main(void) {
#ifdef __SANITIZE_ADDRESS__
    int glibc_malloc = 0;
#else
    int glibc_malloc = 1;
#endif
    if (!glibc_malloc) {
        printf("SKIP the glibc reference run: under AddressSanitizer malloc is not glibc's\n");
        return check_done();
    }
    TEST("reference tracker: sanity");
    void *a = qa_malloc(10), *b = qa_malloc(20);
    uintptr_t aa = (uintptr_t)a, ba = (uintptr_t)b;
    CHECK(ref_has(aa) && ref_has(ba) && !ref_has(aa + 1));
    qa_free(a);
    CHECK(!ref_has(aa) && ref_has(ba));
    qa_free(b);
    CHECK_EQ(ref_count, 0);

    qa_run_all();

    TEST("reference tracker: every block went back, the table never filled");
    CHECK_EQ(ref_count, 0);
    CHECK_EQ(ref_overflow, 0);
    return check_done();
}
