/*
 * tests/unit/test_pvec.c - paged vectors: push/pop/insert/remove/get/at with bounds errors,
 * growth by mremap without copying (a vector blocked from growing in place moves with its
 * contents; growing a full 16 MiB vector takes a handful of minor page faults where a copy would
 * take one per page; a 64 MiB vector grown from nothing stays about one copy in RSS), reserve,
 * resize, shrink_to_fit, clear, clear_and_decommit (RSS drops), odd element sizes, huge-page
 * alignment kept across moves, lazy and prefaulting modes, advice.
 */
#include "check.h"

#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pages/prim.h"
#include "quire/pages.h"
#include "quire/pvec.h"

struct big {
    uint64_t id;
    unsigned char pad[1000]; /* 1008-byte elements: never a divisor of the page size */
};

static void test_errors(void) {
    TEST("errors");
    quire_pvec v;
    CHECK_EQ(quire_pvec_init(NULL, 8, 0, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_pvec_init(&v, 0, 0, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_pvec_init(&v, 8, 0, 0x100), QUIRE_EINVAL);
    CHECK_EQ(quire_pvec_init(&v, 8, SIZE_MAX / 4, 0), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pvec_init(&v, 8, (SIZE_MAX / 8) - 1, 0), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pvec_destroy(&v), QUIRE_EINVAL); /* failed init leaves it invalid */
    memset(&v, 0, sizeof v);
    void *slot;
    CHECK_EQ(quire_pvec_push_slot(&v, &slot), QUIRE_EINVAL);
    CHECK_EQ(quire_pvec_push(NULL, NULL), QUIRE_EINVAL);
    CHECK_OK(quire_pvec_init(&v, 8, 0, 0));
    CHECK(quire_pvec_data(&v) == NULL);
    CHECK_EQ(quire_pvec_pop(&v, NULL), QUIRE_ERANGE);
    CHECK_EQ(quire_pvec_remove(&v, 0, NULL), QUIRE_ERANGE);
    CHECK_EQ(quire_pvec_insert(&v, 1, NULL), QUIRE_ERANGE);
    CHECK_EQ(quire_pvec_at(&v, 0, &slot), QUIRE_ERANGE);
    CHECK(quire_pvec_get(&v, 0) == NULL);
    CHECK_EQ(quire_pvec_reserve(&v, SIZE_MAX), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pvec_resize(&v, SIZE_MAX / 4), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pvec_advise(&v, 99), QUIRE_EINVAL);
    CHECK_OK(quire_pvec_advise(&v, QUIRE_ADVICE_SEQUENTIAL)); /* nothing mapped yet */
    CHECK_OK(quire_pvec_shrink_to_fit(&v));
    CHECK_OK(quire_pvec_destroy(&v));
    CHECK_EQ(quire_pvec_destroy(&v), QUIRE_EINVAL);
    CHECK_EQ(quire_pvec_len(&v), 0);
}

static void test_basic(unsigned flags) {
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, sizeof(struct big), 0, flags));
    const size_t n = 5000; /* ~5 MB: several growths */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        struct big b;
        memset(&b, (int)(i & 0xff), sizeof b);
        b.id = i;
        if (quire_pvec_push(&v, &b) != 0) bad++;
        if (quire_pvec_capacity(&v) < quire_pvec_len(&v)) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(quire_pvec_len(&v), n);
    for (size_t i = 0; i < n; i++) {
        struct big *b = quire_pvec_get(&v, i);
        if (!b || b->id != i || b->pad[999] != (unsigned char)i) bad++;
    }
    CHECK_EQ(bad, 0);
    void *p;
    CHECK_OK(quire_pvec_at(&v, n - 1, &p));
    CHECK_EQ(((struct big *)p)->id, n - 1);
    CHECK_EQ(quire_pvec_at(&v, n, &p), QUIRE_ERANGE);
    CHECK(quire_pvec_get(&v, n) == NULL);
    /* pop */
    struct big out;
    CHECK_OK(quire_pvec_pop(&v, &out));
    CHECK_EQ(out.id, n - 1);
    CHECK_EQ(quire_pvec_len(&v), n - 1);
    /* insert at the front, in the middle, at the end */
    struct big nb;
    memset(&nb, 0, sizeof nb);
    nb.id = 1000000;
    CHECK_OK(quire_pvec_insert(&v, 0, &nb));
    nb.id = 2000000;
    CHECK_OK(quire_pvec_insert(&v, 100, &nb));
    CHECK_OK(quire_pvec_insert(&v, quire_pvec_len(&v), NULL));
    CHECK_EQ(quire_pvec_len(&v), n + 2);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 0))->id, 1000000);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 1))->id, 0);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 99))->id, 98);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 100))->id, 2000000);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 101))->id, 99);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, n + 1))->id, 0);
    /* remove them again */
    CHECK_OK(quire_pvec_remove(&v, 100, &out));
    CHECK_EQ(out.id, 2000000);
    CHECK_OK(quire_pvec_remove(&v, 0, NULL));
    CHECK_OK(quire_pvec_remove(&v, quire_pvec_len(&v) - 1, NULL));
    for (size_t i = 0; i < n - 1; i++)
        if (((struct big *)quire_pvec_get(&v, i))->id != i) bad++;
    CHECK_EQ(bad, 0);
    CHECK_EQ(quire_pvec_remove(&v, n - 1, NULL), QUIRE_ERANGE);
    /* resize up gives zeroed elements even over slots that held data */
    CHECK_OK(quire_pvec_resize(&v, 10));
    CHECK_OK(quire_pvec_resize(&v, 20));
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 9))->id, 9);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 10))->id, 0);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 19))->pad[500], 0);
    /* shrink_to_fit */
    size_t cap_before = quire_pvec_capacity(&v);
    CHECK_OK(quire_pvec_shrink_to_fit(&v));
    CHECK(quire_pvec_capacity(&v) < cap_before);
    CHECK(quire_pvec_capacity(&v) >= 20);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 9))->id, 9);
    /* and grow again after shrinking */
    for (size_t i = 0; i < 3000; i++) quire_pvec_push(&v, NULL);
    CHECK_EQ(quire_pvec_len(&v), 3020);
    CHECK_EQ(((struct big *)quire_pvec_get(&v, 9))->id, 9);
    quire_pvec_clear(&v);
    CHECK_EQ(quire_pvec_len(&v), 0);
    CHECK(quire_pvec_capacity(&v) >= 3020);
    CHECK_OK(quire_pvec_shrink_to_fit(&v));
    CHECK_EQ(quire_pvec_capacity(&v), 0);
    CHECK(quire_pvec_data(&v) == NULL);
    CHECK_OK(quire_pvec_push(&v, NULL));
    CHECK_EQ(quire_pvec_len(&v), 1);
    CHECK_OK(quire_pvec_destroy(&v));
}

/* Growth moves page-table entries, never bytes: an element's page is found at the new address
 * with the same content, and the old address range is gone (one mapping, not two). */
static void test_growth_no_copy(void) {
    TEST("growth by mremap");
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, 8, 1, 0));
    size_t cap0 = quire_pvec_capacity(&v);
    CHECK_EQ(cap0, quire_page_size() / 8);
    /* Block in-place growth: map a page right after the vector. */
    void *blocker = (unsigned char *)quire_pvec_data(&v) + quire_page_size();
    int blocked =
        q_os_map(&blocker, quire_page_size(), Q_PROT_READ, Q_MAP_FIXED_NOREPLACE, -1, 0) == 0;
    for (size_t i = 0; i < cap0; i++) quire_pvec_push(&v, &i);
    uint64_t *old = quire_pvec_data(&v);
    size_t rss0 = 0, rss1 = 0;
    q_os_rss(&rss0, NULL);
    uint64_t x = 12345;
    CHECK_OK(quire_pvec_push(&v, &x)); /* must grow */
    uint64_t *now = quire_pvec_data(&v);
    q_os_rss(&rss1, NULL);
    if (blocked) CHECK(now != old); /* it moved... */
    int bad = 0;
    for (size_t i = 0; i < cap0; i++) bad += now[i] != i;
    CHECK_EQ(bad, 0); /* ...with its contents */
    CHECK_EQ(now[cap0], 12345);
    CHECK_EQ(quire_pvec_capacity(&v), 2 * cap0);
    if (blocked) q_os_unmap(blocker, quire_page_size());
    CHECK_OK(quire_pvec_destroy(&v));

    /* A large vector grows many times; memory stays about one copy of the data. */
    CHECK_OK(quire_pvec_init(&v, 8, 0, QUIRE_PVEC_LAZY));
    size_t n = (64u << 20) / 8;
    for (size_t i = 0; i < n; i++) {
        void *s;
        if (quire_pvec_push_slot(&v, &s) != 0) bad++;
        *(uint64_t *)s = i;
    }
    size_t res = 0;
    q_os_rss(&res, NULL);
    CHECK_EQ(bad, 0);
    CHECK(res < (64u << 20) + (40u << 20)); /* a copying growth would need 64 + 32 MiB */
    uint64_t *d = quire_pvec_data(&v);
    for (size_t i = 0; i < n; i += 997) bad += d[i] != i;
    CHECK_EQ(bad, 0);
    /* decommit: RSS falls, capacity stays, data reads as zero afterwards */
    size_t cap = quire_pvec_capacity(&v);
    CHECK_OK(quire_pvec_clear_and_decommit(&v));
    size_t res2 = 0;
    q_os_rss(&res2, NULL);
    CHECK(res2 + (48u << 20) < res);
    CHECK_EQ(quire_pvec_capacity(&v), cap);
    CHECK_EQ(quire_pvec_len(&v), 0);
    CHECK_OK(quire_pvec_resize(&v, 1000));
    CHECK_EQ(*(uint64_t *)quire_pvec_get(&v, 999), 0);
    CHECK_OK(quire_pvec_decommit_unused(&v));
    CHECK_OK(quire_pvec_destroy(&v));
    (void)rss0;
    (void)rss1;
}

/* Minor page faults of this thread so far. */
static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_minflt;
}

/* The decisive check that growth never copies: a full 16 MiB vector (4096 pages) that cannot
 * grow in place is grown by one push. Copying its elements to a new range would fault in every
 * page of the copy (4096 minor faults); moving the page-table entries with mremap faults in
 * only the page of the new element (and, by default, the prefaulted chunk ahead of it, at most
 * an eighth of the size). The data moves to a new address, unchanged. */
static void growth_faults(unsigned flags, long limit) {
    const size_t bytes = (size_t)16 << 20;
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, 8, bytes / 8, flags));
    CHECK_EQ(quire_pvec_capacity(&v), bytes / 8);
    void *blocker = (unsigned char *)quire_pvec_data(&v) + bytes;
    int blocked =
        q_os_map(&blocker, quire_page_size(), Q_PROT_READ, Q_MAP_FIXED_NOREPLACE, -1, 0) == 0;
    /* (If the next page is taken already, the vector must move anyway.) */
    int bad = 0;
    for (uint64_t i = 0; i < bytes / 8; i++) bad += quire_pvec_push(&v, &i) != 0;
    CHECK_EQ(bad, 0);
    uint64_t *old = quire_pvec_data(&v);
    long f0 = minor_faults();
    uint64_t x = 77;
    CHECK_OK(quire_pvec_push(&v, &x)); /* must grow, and cannot in place */
    long f1 = minor_faults();
    uint64_t *now = quire_pvec_data(&v);
    if (blocked) CHECK(now != old);
    CHECK(f1 - f0 < limit);
    if (f1 - f0 >= limit) fprintf(stderr, "  growth took %ld minor faults\n", f1 - f0);
    for (uint64_t i = 0; i < bytes / 8; i += 511) bad += now[i] != i;
    CHECK_EQ(bad, 0);
    CHECK_EQ(now[bytes / 8], 77);
    if (blocked) q_os_unmap(blocker, quire_page_size());
    CHECK_OK(quire_pvec_destroy(&v));
}

static void test_reserve(void) {
    TEST("reserve and prefault");
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, 24, 0, 0));
    CHECK_OK(quire_pvec_reserve(&v, 100000));
    CHECK(quire_pvec_capacity(&v) >= 100000);
    void *data = quire_pvec_data(&v);
    for (size_t i = 0; i < 100000; i++) quire_pvec_push(&v, NULL);
    CHECK(quire_pvec_data(&v) == data); /* no growth after reserve */
    CHECK_OK(quire_pvec_reserve(&v, 0));
    CHECK_OK(quire_pvec_advise(&v, QUIRE_ADVICE_RANDOM));
    CHECK_OK(quire_pvec_advise(&v, QUIRE_ADVICE_NORMAL));
    /* With capacity given at init, the data never moves while it fits. */
    quire_pvec w;
    CHECK_OK(quire_pvec_init(&w, 3, 1000, 0));
    data = quire_pvec_data(&w);
    for (int i = 0; i < 1000; i++) {
        unsigned char e[3] = {(unsigned char)i, 1, 2};
        quire_pvec_push(&w, e);
    }
    CHECK(quire_pvec_data(&w) == data);
    CHECK_EQ(((unsigned char *)quire_pvec_get(&w, 999))[0], (unsigned char)999);
    CHECK_OK(quire_pvec_destroy(&w));
    CHECK_OK(quire_pvec_destroy(&v));
}

static void test_huge(void) {
    TEST("huge pages");
    if (quire_huge_page_size() == 0) return;
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, 16, 1, QUIRE_PVEC_HUGE));
    size_t hs = quire_huge_page_size();
    CHECK_EQ(quire_pvec_capacity(&v), hs / 16);
    CHECK_EQ((uintptr_t)quire_pvec_data(&v) % hs, 0);
    size_t n = 3 * hs / 16 + 5; /* forces two growths */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t e[2] = {i, ~i};
        if (quire_pvec_push(&v, e) != 0) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ((uintptr_t)quire_pvec_data(&v) % hs, 0); /* still aligned after moving */
    CHECK_EQ(quire_pvec_capacity(&v) % (hs / 16), 0);
    for (size_t i = 0; i < n; i += 101) {
        uint64_t *e = quire_pvec_get(&v, i);
        bad += e[0] != i || e[1] != ~i;
    }
    CHECK_EQ(bad, 0);
    CHECK_OK(quire_pvec_destroy(&v));
}

/* A HUGE vector's mapping is advised MADV_HUGEPAGE (where the kernel has THP), also after it
 * grew in place and after it moved; a default one is not. */
static int advised_huge(const void *addr) {
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) return -1;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int inside = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

static void test_huge_advice(void) {
    TEST("huge-page advice kept across growth");
    size_t hs = quire_huge_page_size();
    if (hs == 0) return;
    quire_pvec v, d;
    CHECK_OK(quire_pvec_init(&v, 64, 1, QUIRE_PVEC_HUGE));
    CHECK_OK(quire_pvec_init(&d, 64, 1, 0));
    int bad = 0;
    for (size_t i = 0; i < 5 * hs / 64; i++) {
        bad += quire_pvec_push(&v, NULL) != 0;
        bad += quire_pvec_push(&d, NULL) != 0;
    }
    CHECK_EQ(bad, 0);
    CHECK(advised_huge(quire_pvec_data(&v)) != 0);
    CHECK(advised_huge((unsigned char *)quire_pvec_data(&v) + 5 * hs - 1) != 0);
    CHECK(advised_huge(quire_pvec_data(&d)) != 1);
    CHECK_OK(quire_pvec_destroy(&v));
    CHECK_OK(quire_pvec_destroy(&d));
}

int main(void) {
    test_errors();
    TEST("basic, default");
    test_basic(0);
    TEST("basic, lazy");
    test_basic(QUIRE_PVEC_LAZY);
    TEST("basic, huge");
    if (quire_huge_page_size()) test_basic(QUIRE_PVEC_HUGE);
    test_growth_no_copy();
    TEST("growth moves page tables, no copy (minor faults)");
    growth_faults(QUIRE_PVEC_LAZY, 64);
    growth_faults(QUIRE_PVEC_DEFAULT, 4096 / 2);
    test_huge_advice();
    test_reserve();
    test_huge();
    return check_done();
}
