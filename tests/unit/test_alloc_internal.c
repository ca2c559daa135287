/*
 * tests/unit/test_alloc_internal.c - engine-internal properties of the malloc engine: the size
 * class mapping, slot geometry, validation of every free (run in forked children that must die
 * of SIGABRT with the address on stderr), large blocks and realloc by mremap, statistics.
 * Calls quire_* directly (the core library has no malloc override).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/internal.h"
#include "check.h"
#include "quire/alloc.h"

static void test_classes(void) {
    TEST("size classes");
    q_process_init();
    int ok = 1;
    for (size_t size = 0; size <= Q_MEDIUM_MAX && ok; size++) {
        unsigned c = q_size_class(size);
        if (c >= Q_NCLASSES || q_class_size[c] < size)
            ok = 0;
        else if (c > 0 && q_class_size[c - 1] >= size)
            ok = 0;
        else if (size > 128 && (q_class_size[c] - size) * 4 >= size)
            ok = 0; /* waste < 25% */
        else if (size > 1024 && size <= 8192 && (q_class_size[c] - size) * 8 >= size)
            ok = 0; /* eight classes per power of two: waste < 12.5% */
    }
    CHECK(ok);
    /* SQLite's page-cache entries (4 KiB page + headers) and 1 KiB + header buffers. */
    CHECK_EQ(q_class_size[q_size_class(4104)], 4608u);
    CHECK_EQ(q_class_size[q_size_class(1032)], 1152u);
    CHECK_EQ(q_class_size[Q_NCLASSES - 1], Q_MEDIUM_MAX);
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        CHECK(q_class_size[c] % Q_GRANULE == 0);
        size_t slab = (size_t)q_class_pages[c] * Q_PAGE_SIZE;
        if (q_class_size[c] <= Q_SPARSE_MIN)
            CHECK(slab / q_class_size[c] >= 8);
        else /* sparse classes: a run of pages wasting at most an eighth of itself */
            CHECK(slab >= q_class_size[c] && (slab % q_class_size[c]) * 8 <= slab);
        CHECK(q_class_pages[c] >= 1 && q_class_pages[c] <= Q_MAX_SLAB_PAGES);
    }
    CHECK(sizeof(struct q_segment) <= Q_SEG_META_PAGES * Q_PAGE_SIZE);
}

static unsigned page_of(const void *p) {
    return (unsigned)(((uintptr_t)p & Q_SEG_MASK) >> Q_PAGE_SHIFT);
}

/* Where new slabs go (heap.c, slab_new): a slab of small slots takes the pages a released slab
 * of small slots left (resident), a slab of sparse slots takes pages of earlier sparse slabs,
 * then clean pages, never the resident dense ones while others are free. Runs first, on the main
 * thread's fresh heap, so that its one segment holds only what this test put there. */
static void test_page_kinds(void) {
    TEST("page kinds: dense and sparse slabs reuse their own kind of page");
    enum { PER = (int)(Q_PAGE_SIZE / 1024) }; /* 1 KiB slots: one page holds PER */
    static void *a[PER], *b[PER], *c[PER];
    for (int i = 0; i < PER; i++) a[i] = quire_malloc(1024);
    for (int i = 0; i < PER; i++) b[i] = quire_malloc(1024);
    struct q_segment *seg = q_seg_of(a[0]);
    unsigned pa = page_of(a[0]);
    CHECK(page_of(a[PER - 1]) == pa && page_of(b[0]) != pa && q_seg_of(b[0]) == seg);
    /* Two sparse slabs (one 57344-byte slot per page), then the first dense slab is freed. */
    void *s1 = quire_malloc(50000), *s2 = quire_malloc(50000);
    CHECK(q_seg_of(s1) == seg && q_seg_of(s2) == seg && page_of(s1) != page_of(s2));
    for (int i = 0; i < PER; i++) quire_free(a[i]);
    CHECK(seg->pagemap[pa] == NULL && (seg->free_mask >> pa & 1) && (seg->dense_mask >> pa & 1));
    /* A sparse slab now does not take the resident dense page: it takes a clean one. */
    void *s3 = quire_malloc(60000);
    CHECK(q_seg_of(s3) == seg && page_of(s3) != pa);
    /* The next slab of small slots (another class) takes the dense page back. */
    for (int i = 0; i < PER / 2; i++) c[i] = quire_malloc(2048);
    CHECK_EQ(page_of(c[0]), pa);
    /* A sparse slab released leaves sparse pages; the next sparse slab takes one of those. */
    unsigned ps = page_of(s1);
    quire_free(s1);
    CHECK(seg->pagemap[ps] == NULL && (seg->dirty_mask >> ps & 1) && !(seg->dense_mask >> ps & 1));
    void *s4 = quire_malloc(65536);
    CHECK_EQ(page_of(s4), ps);
    for (int i = 0; i < PER; i++) quire_free(b[i]);
    for (int i = 0; i < PER / 2; i++) quire_free(c[i]);
    quire_free(s2);
    quire_free(s3);
    quire_free(s4);
}

static void test_small(void) {
    TEST("small blocks");
    enum { N = 4000 };
    static void *ptr[N];
    static size_t sz[N];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)(i * 37) % 3000;
        ptr[i] = quire_malloc(sz[i]);
        if (!ptr[i] || ((uintptr_t)ptr[i] & 15) || quire_malloc_usable_size(ptr[i]) < sz[i]) bad++;
        memset(ptr[i], i & 0xff, sz[i]);
        if (!quire_owns(ptr[i])) bad++;
    }
    CHECK_EQ(bad, 0);
    for (int i = 0; i < N; i += 2) {
        for (size_t j = 0; j < sz[i]; j++)
            if (((unsigned char *)ptr[i])[j] != (i & 0xff)) bad++;
        quire_free(ptr[i]);
        if (quire_owns(ptr[i]) && sz[i] > 0) {
            /* may have been handed out again only by a later malloc: none happened */
            bad++;
        }
    }
    CHECK_EQ(bad, 0);
    for (int i = 1; i < N; i += 2) quire_free(ptr[i]);
    /* malloc(0) gives unique pointers */
    void *a = quire_malloc(0), *b = quire_malloc(0);
    CHECK(a && b && a != b);
    quire_free(a);
    quire_free(b);
    /* an interior pointer is not a block */
    char *p = quire_malloc(100);
    CHECK(quire_owns(p));
    CHECK(!quire_owns(p + 16));
    CHECK(!quire_owns(p + 1));
    int local;
    CHECK(!quire_owns(&local));
    CHECK(!quire_owns(NULL));
    quire_free(p);
}

static void test_aligned(void) {
    TEST("aligned");
    for (size_t al = 16; al <= (1u << 20); al *= 2) {
        for (size_t size = 1; size < 300000; size = size * 3 + 7) {
            void *p = NULL;
            CHECK_EQ(quire_posix_memalign(&p, al, size), 0);
            CHECK(p && ((uintptr_t)p & (al - 1)) == 0);
            CHECK(quire_owns(p));
            memset(p, 1, size);
            quire_free_aligned_sized(p, al, size);
        }
    }
    void *p = (void *)1;
    CHECK_EQ(quire_posix_memalign(&p, 24, 10), EINVAL);
    CHECK(p == (void *)1);
    errno = 0;
    CHECK(quire_aligned_alloc(3, 10) == NULL && errno == EINVAL);
    /* memalign follows glibc: an alignment that is not a power of two is rounded up. */
    p = quire_memalign(48, 10);
    CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
    quire_free(p);
    errno = 0;
    CHECK(quire_memalign(SIZE_MAX, 10) == NULL && errno == EINVAL);
    p = quire_valloc(10);
    CHECK(((uintptr_t)p & (q_os_page_size() - 1)) == 0);
    quire_free(p);
    p = quire_pvalloc(1);
    CHECK(quire_malloc_usable_size(p) >= q_os_page_size());
    quire_free(p);
}

static void test_large_realloc(void) {
    TEST("large and realloc");
    size_t n = 100;
    unsigned char *p = quire_malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7);
    int bad = 0;
    for (size_t next = 1000; next < (64u << 20); next = next * 3) {
        p = quire_realloc(p, next);
        if (!p) {
            bad++;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (p[i] != (unsigned char)(i * 7)) bad++;
        for (size_t i = n; i < next; i += 4096) p[i] = (unsigned char)(i * 7);
        for (size_t i = n; i < next; i++) p[i] = (unsigned char)(i * 7);
        n = next;
        if (!quire_owns(p)) bad++;
    }
    CHECK_EQ(bad, 0);
    p = quire_realloc(p, 50); /* large -> small keeps the prefix */
    for (size_t i = 0; i < 50; i++)
        if (p[i] != (unsigned char)(i * 7)) bad++;
    CHECK_EQ(bad, 0);
    CHECK(quire_realloc(p, 0) == NULL);
    /* volatile: the declarations' alloc_size attributes make gcc reject constant sizes this big */
    volatile size_t size_max = SIZE_MAX;
    errno = 1234;
    CHECK(quire_malloc(size_max - 10) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(quire_calloc(size_max / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(quire_reallocarray(NULL, size_max / 2, 3) == NULL && errno == ENOMEM);
    errno = 77;
    void *q = quire_calloc(1000, 1000);
    CHECK(q && errno == 77);
    int zero = 1;
    for (size_t i = 0; i < 1000000; i++)
        if (((unsigned char *)q)[i]) zero = 0;
    CHECK(zero);
    quire_free(q);
    q = quire_calloc(1000, 1000); /* from the cache: still zero */
    zero = 1;
    for (size_t i = 0; i < 1000000; i++)
        if (((unsigned char *)q)[i]) zero = 0;
    CHECK(zero);
    quire_free(q);
}

/* Runs fn in a child, expects SIGABRT and `expect` in its stderr. */
static int dies(void (*fn)(void *), void *arg, const char *expect) {
    int pipefd[2];
    if (pipe(pipefd)) return 0;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        fn(arg);
        _exit(0);
    }
    close(pipefd[1]);
    char buf[512];
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof buf && (r = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, expect) != NULL;
}

static void double_free(void *arg) {
    void *p = quire_malloc((size_t)(uintptr_t)arg);
    quire_free(p);
    quire_free(p);
}
static void interior_free(void *arg) {
    char *p = quire_malloc((size_t)(uintptr_t)arg);
    quire_free(p + 16);
}
static void stack_free(void *arg) {
    (void)arg;
    int x;
    quire_free(&x);
}
static void wild_free(void *arg) {
    (void)arg;
    quire_free((void *)(uintptr_t)0x123456789000ull);
}
static void big_double(void *arg) {
    (void)arg;
    void *p = quire_malloc(1 << 20);
    quire_free(p);
    quire_free(p);
}
static void realloc_bad(void *arg) {
    (void)arg;
    char *p = quire_malloc(64);
    void *never = quire_realloc(p + 32, 10); /* aborts */
    (void)never;
}

static void test_invalid(void) {
    TEST("invalid frees abort with the address");
    CHECK(dies(double_free, (void *)(uintptr_t)32, "double free"));
    CHECK(dies(double_free, (void *)(uintptr_t)100000, "double free"));
    CHECK(dies(interior_free, (void *)(uintptr_t)200, "interior pointer"));
    CHECK(dies(stack_free, NULL, "not allocated by quire"));
    CHECK(dies(wild_free, NULL, "0x123456789000"));
    CHECK(dies(big_double, NULL, "not allocated by quire"));
    CHECK(dies(realloc_bad, NULL, "realloc"));
}

static void test_stats(void) {
    TEST("statistics");
    struct quire_alloc_stats a, b;
    CHECK_OK(quire_alloc_stats_get(&a));
    void *p[100];
    for (int i = 0; i < 100; i++) p[i] = quire_malloc(40);
    void *big = quire_malloc(1 << 20);
    CHECK_OK(quire_alloc_stats_get(&b));
    unsigned c = q_size_class(40);
    CHECK(b.class_allocs[c] >= a.class_allocs[c] + 100);
    CHECK(b.class_live[c] >= a.class_live[c] + 100);
    CHECK_EQ(b.class_size[c], 48);
    CHECK(b.large_blocks >= a.large_blocks + 1);
    CHECK(b.live_bytes >= a.live_bytes + 100 * 48 + (1 << 20));
    CHECK(b.mapped_bytes >= b.live_bytes);
    CHECK(b.peak_mapped_bytes >= b.mapped_bytes);
    CHECK(b.segments >= 1 && b.mappings >= b.segments);
    CHECK(b.resident_bytes > 0 && b.peak_resident_bytes >= b.resident_bytes / 2);
    for (int i = 0; i < 100; i++) quire_free(p[i]);
    quire_free(big);
    CHECK_OK(quire_alloc_stats_get(&a));
    CHECK_EQ(a.class_live[c] + 100, b.class_live[c]);
    CHECK_EQ(quire_alloc_stats_get(NULL), QUIRE_EINVAL);
    /* trim gives memory back */
    for (int i = 0; i < 100; i++) p[i] = quire_malloc(100000);
    for (int i = 0; i < 100; i++) quire_free(p[i]);
    CHECK_EQ(quire_malloc_trim(0), 1);
    CHECK_OK(quire_alloc_stats_get(&b));
    CHECK(b.purges > 0 || b.unmappings > 0);
}

/* q_slab_validate and q_heap_validate accept a working heap and report damage to it. */
static void test_validators(void) {
    TEST("invariant validators");
    void *p[40];
    for (int i = 0; i < 40; i++) p[i] = quire_malloc(48);
    for (int i = 0; i < 40; i += 3) quire_free(p[i]);
    struct q_heap *h = q_tls_heap;
    struct q_slab *s = q_seg_of(p[1])->pagemap[((uintptr_t)p[1] & Q_SEG_MASK) >> Q_PAGE_SHIFT];
    CHECK(q_slab_validate(s) == NULL);
    CHECK(q_heap_validate(h) == NULL);
    /* a count off by one */
    s->used++;
    CHECK(q_slab_validate(s) != NULL);
    CHECK(q_heap_validate(h) != NULL);
    s->used--;
    /* a free list linking outside the slab */
    struct q_block *lf = s->local_free;
    CHECK(lf != NULL);
    uintptr_t saved = lf->link;
    lf->link = q_link_enc(lf, (char *)s->start + (size_t)s->reserved * s->slot_size + 4096);
    const char *why = q_slab_validate(s);
    CHECK(why != NULL && strstr(why, "free list") != NULL);
    lf->link = saved;
    /* an in-use bit lost */
    q_inuse_clear((uintptr_t)p[1]);
    why = q_slab_validate(s);
    CHECK(why != NULL && strstr(why, "in-use") != NULL);
    q_inuse_set((uintptr_t)p[1]);
    /* the page map */
    struct q_segment *seg = q_seg_of(s);
    seg->pagemap[s->page] = NULL;
    CHECK(q_slab_validate(s) != NULL);
    seg->pagemap[s->page] = s;
    /* cur[] */
    struct q_slab *cur = h->cur[s->cls];
    h->cur[s->cls] = &q_slab_empty;
    CHECK(q_heap_validate(h) != NULL);
    h->cur[s->cls] = cur;
    CHECK(q_slab_validate(s) == NULL);
    CHECK(q_heap_validate(h) == NULL);
    for (int i = 0; i < 40; i++)
        if (i % 3) quire_free(p[i]);
    CHECK(q_heap_validate(h) == NULL);
}

int main(void) {
    test_page_kinds();
    test_classes();
    test_small();
    test_aligned();
    test_large_realloc();
    test_invalid();
    test_stats();
    test_validators();
    return check_done();
}
