/*
 * tests/unit/test_pheap_api.c - the persistent heap's API: open/create/close with the writer
 * lock and read-only opens, alloc/free/realloc in slabs, page runs and huge blocks, declared
 * writes, commit and rollback, root, named objects, statistics and iteration, the undo log's
 * capacity, reopening at a different address and following references from the root, and
 * quire_pheap_check() on sound files.
 */
#include <sys/mman.h>

#include "check.h"
#include "test_pheap_util.h"

static quire_pheap *open_rw(const char *path) {
    quire_pheap *h = NULL;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    return h;
}

static void check_sound(const char *path) {
    struct quire_pheap_report r;
    memset(&r, 0, sizeof r);
    CHECK_OK(quire_pheap_check(path, &r));
    CHECK_EQ(r.is_heap, 1);
    CHECK_EQ(r.problems, 0);
    CHECK_EQ(r.pager_rc, 0);
}

static void test_open(void) {
    TEST("open");
    char path[256];
    ch_path(path, sizeof path, "pheap-open");
    quire_pheap *h, *h2;
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_ENOENT);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_CREATE | QUIRE_PHEAP_RDONLY, 0, &h), QUIRE_EINVAL);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_EXCL, 0, &h), QUIRE_EINVAL);
    CHECK_EQ(quire_pheap_open(NULL, 0, 0, &h), QUIRE_EINVAL);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 1000, &h), QUIRE_EPAGESIZE);
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE | QUIRE_PHEAP_EXCL, 2048, &h));
    struct quire_pheap_stat st;
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.page_size, 2048);
    CHECK_EQ(st.objects, 0);
    /* one writer at a time; readers excluded while it writes */
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h2), QUIRE_EBUSY);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h2), QUIRE_EBUSY);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_CREATE | QUIRE_PHEAP_EXCL, 0, &h2), QUIRE_EEXIST);
    quire_pref r;
    CHECK_OK(quire_pheap_alloc(h, 100, &r));
    CHECK_OK(quire_pheap_set(h, r, 0, "hello", 6));
    CHECK_OK(quire_pheap_set_root(h, r));
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
    /* page size is checked at open */
    CHECK_EQ(quire_pheap_open(path, 0, 4096, &h), QUIRE_EPAGESIZE);
    /* two readers share the file; a writer waits */
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h));
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 2048, &h2));
    quire_pheap *h3;
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h3), QUIRE_EBUSY);
    quire_pref root;
    CHECK_OK(quire_pheap_root(h2, &root));
    CHECK_EQ(root.off, r.off);
    CHECK(strcmp(quire_pheap_ptr(h2, root), "hello") == 0);
    quire_pref x;
    CHECK_EQ(quire_pheap_alloc(h2, 10, &x), QUIRE_ERDONLY);
    CHECK_EQ(quire_pheap_free(h2, root), QUIRE_ERDONLY);
    CHECK_EQ(quire_pheap_set(h2, root, 0, "x", 1), QUIRE_ERDONLY);
    CHECK_EQ(quire_pheap_set_root(h2, QUIRE_PREF_NULL), QUIRE_ERDONLY);
    CHECK_EQ(quire_pheap_commit(h2), QUIRE_ERDONLY);
    CHECK_OK(quire_pheap_close(h2));
    CHECK_OK(quire_pheap_close(h));
    /* CREATE on an existing heap opens it */
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    CHECK_OK(quire_pheap_root(h, &root));
    CHECK_EQ(root.off, r.off);
    CHECK_OK(quire_pheap_close(h));
    CHECK_OK(quire_pheap_close(NULL));
    check_sound(path);
    unlink(path);
}

static void test_alloc(void) {
    TEST("alloc");
    char path[256];
    ch_path(path, sizeof path, "pheap-alloc");
    quire_pheap *h = open_rw(path);
    static const size_t sizes[] = {1,    16,   17,    48,    100,    128,    129,    1000,
                                   4096, 4097, 20000, 65536, 300000, 600000, 2000000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    quire_pref refs[N];
    for (int i = 0; i < N; i++) {
        CHECK_OK(quire_pheap_alloc(h, sizes[i], &refs[i]));
        CHECK(refs[i].off != 0);
        CHECK_EQ(refs[i].off % 16, 0);
        size_t us;
        CHECK_OK(quire_pheap_usable_size(h, refs[i], &us));
        CHECK(us >= sizes[i]);
        CHECK(sizes[i] > 4096 || us <= sizes[i] + sizes[i] / 4 + 16); /* class waste bounded */
        void *p;
        CHECK_OK(quire_pheap_write(h, refs[i], 0, sizes[i], &p));
        ch_fill(p, sizes[i], i);
    }
    /* The size classes are part of the file format (a slab records its class): they
       must not follow the malloc engine's tuning. */
    static const size_t cls[][2] = {{100, 112},   {129, 160},   {1000, 1024},
                                    {1032, 1280}, {2049, 2560}, {3073, 3584}};
    for (size_t i = 0; i < sizeof cls / sizeof cls[0]; i++) {
        quire_pref x;
        size_t us = 0;
        CHECK_OK(quire_pheap_alloc(h, cls[i][0], &x));
        CHECK_OK(quire_pheap_usable_size(h, x, &us));
        CHECK_EQ(us, cls[i][1]);
        CHECK_OK(quire_pheap_free(h, x));
    }
    /* no two blocks overlap */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j) {
                size_t ui;
                quire_pheap_usable_size(h, refs[i], &ui);
                CHECK(refs[i].off + ui <= refs[j].off || refs[j].off >= refs[i].off + ui ||
                      refs[j].off < refs[i].off);
            }
    /* the heap's classes: each class size maps to its own class */
    for (unsigned c = 0; c < h->ncls; c++) {
        CHECK_EQ(q_pheap_class_of(h, h->cls_size[c]), c);
        CHECK_EQ(q_pheap_class_of(h, h->cls_size[c] + 1), c + 1);
        CHECK(h->cls_slots[c] >= 1 && h->cls_slots[c] * h->cls_size[c] <= h->cls_pages[c] * 4096u);
    }
    CHECK_EQ(h->cls_size[h->ncls - 1], 4096);
    quire_pref bad = {refs[4].off + 16};
    size_t us;
    CHECK_EQ(quire_pheap_usable_size(h, bad, &us), QUIRE_EBADREF);
    CHECK_EQ(quire_pheap_usable_size(h, (quire_pref){3}, &us), QUIRE_EBADREF);
    CHECK_EQ(quire_pheap_free(h, (quire_pref){UINT64_C(1) << 50}), QUIRE_EBADREF);
    CHECK_EQ(quire_pheap_alloc(h, 0, &bad), QUIRE_EINVAL);
    CHECK_EQ(quire_pheap_alloc(h, SIZE_MAX, &bad), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pheap_set(h, refs[0], 0, "abcdefghijklmnopq", 17), QUIRE_ERANGE);
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    CHECK_OK(quire_pheap_open(path, 0, 0, &h));
    uint8_t *want = malloc(2000000);
    for (int i = 0; i < N; i++) {
        ch_fill(want, sizes[i], i);
        CHECK(memcmp(quire_pheap_ptr(h, refs[i]), want, sizes[i]) == 0);
    }
    free(want);
    /* iteration: every block once, in increasing order; stats agree */
    uint64_t cur = 0, n = 0, last = 0, bytes = 0;
    quire_pref r;
    size_t sz;
    while (quire_pheap_next(h, &cur, &r, &sz) == 1) {
        CHECK(r.off > last);
        last = r.off;
        n++;
        bytes += sz;
        int found = 0;
        for (int i = 0; i < N; i++) found += refs[i].off == r.off;
        CHECK_EQ(found, 1);
    }
    CHECK_EQ(n, N);
    struct quire_pheap_stat st;
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.objects, N);
    CHECK_EQ(st.bytes_used, bytes);
    CHECK(st.bytes_free > 0);
    CHECK(st.largest_free > 0 && st.largest_free <= st.bytes_free);
    /* free: double free in the transaction, then commit; the block is gone after reopen */
    CHECK_OK(quire_pheap_free(h, refs[5]));
    CHECK_EQ(quire_pheap_free(h, refs[5]), QUIRE_EDOUBLEFREE);
    CHECK_EQ(quire_pheap_set(h, refs[5], 0, "x", 1), QUIRE_EBADREF);
    CHECK_OK(quire_pheap_free(h, refs[14])); /* huge */
    CHECK_OK(quire_pheap_free(h, refs[10])); /* page run */
    CHECK_OK(quire_pheap_commit(h));
    CHECK_EQ(quire_pheap_free(h, refs[5]), QUIRE_EBADREF);
    /* the largest block: 4 * P - 2 pages (P = 4096 here) */
    quire_pref maxb;
    CHECK_EQ(quire_pheap_alloc(h, (size_t)(4 * 4096 - 1) * 4096, &maxb), QUIRE_EOVERFLOW);
    CHECK_OK(quire_pheap_alloc(h, (size_t)(4 * 4096 - 2) * 4096, &maxb));
    CHECK_OK(quire_pheap_usable_size(h, maxb, &us));
    CHECK_EQ(us, (size_t)(4 * 4096 - 2) * 4096);
    CHECK_OK(quire_pheap_abort(h));
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.objects, N - 3);
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    unlink(path);
}

static void test_realloc_and_rollback(void) {
    TEST("realloc/rollback");
    char path[256];
    ch_path(path, sizeof path, "pheap-rb");
    quire_pheap *h = open_rw(path);
    quire_pref a = QUIRE_PREF_NULL;
    CHECK_OK(quire_pheap_realloc(h, &a, 40)); /* null: allocates */
    CHECK_OK(quire_pheap_set(h, a, 0, "0123456789012345678901234567890123456789", 40));
    quire_pref a0 = a;
    CHECK_OK(quire_pheap_realloc(h, &a, 44)); /* same class (48): in place */
    CHECK_EQ(a.off, a0.off);
    CHECK_OK(quire_pheap_realloc(h, &a, 5000)); /* moves, keeps the bytes */
    CHECK(a.off != a0.off);
    CHECK(memcmp(quire_pheap_ptr(h, a), "0123456789012345678901234567890123456789", 40) == 0);
    size_t us;
    CHECK_EQ(quire_pheap_usable_size(h, a0, &us), QUIRE_EBADREF);
    CHECK_OK(quire_pheap_set_root(h, a));
    CHECK_OK(quire_pheap_commit(h));
    struct quire_pheap_stat st0, st;
    CHECK_OK(quire_pheap_stat(h, &st0));
    uint64_t d0 = th_digest(h, NULL);
    /* a transaction that changes everything, then rollback */
    quire_pref b, c;
    CHECK_OK(quire_pheap_alloc(h, 77, &b));
    CHECK_OK(quire_pheap_set(h, b, 0, "new", 3));
    CHECK_OK(quire_pheap_set(h, a, 0, "XXXX", 4));
    CHECK_OK(quire_pheap_named(h, "thing", 32, &c, NULL));
    CHECK_OK(quire_pheap_set_root(h, b));
    CHECK_OK(quire_pheap_free(h, a));
    CHECK(th_digest(h, NULL) != d0);
    CHECK_OK(quire_pheap_abort(h));
    CHECK_EQ(th_digest(h, NULL), d0);
    quire_pref root;
    CHECK_OK(quire_pheap_root(h, &root));
    CHECK_EQ(root.off, a.off);
    CHECK(memcmp(quire_pheap_ptr(h, a), "0123", 4) == 0);
    CHECK_EQ(quire_pheap_find(h, "thing", &c), QUIRE_ENOTFOUND);
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.objects, st0.objects);
    CHECK_EQ(st.generation, st0.generation);
    /* closing without commit also rolls back */
    CHECK_OK(quire_pheap_set(h, a, 0, "YYYY", 4));
    CHECK_OK(quire_pheap_alloc(h, 10, &b));
    CHECK_OK(quire_pheap_close(h));
    CHECK_OK(quire_pheap_open(path, 0, 0, &h));
    CHECK_EQ(th_digest(h, NULL), d0);
    /* commit without changes does nothing */
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.generation, st0.generation);
    /* the root and names follow a realloc; freeing clears them; the heap's own blocks stay */
    quire_pref n1;
    CHECK_OK(quire_pheap_named(h, "moving", 24, &n1, NULL));
    CHECK_OK(quire_pheap_set_root(h, n1));
    CHECK_OK(quire_pheap_commit(h));
    quire_pref n2 = n1;
    CHECK_OK(quire_pheap_realloc(h, &n2, 3000));
    CHECK(n2.off != n1.off);
    CHECK_OK(quire_pheap_find(h, "moving", &c));
    CHECK_EQ(c.off, n2.off);
    CHECK_OK(quire_pheap_root(h, &root));
    CHECK_EQ(root.off, n2.off);
    CHECK_EQ(quire_pheap_free(h, (quire_pref){h->hdr.names}), QUIRE_EBADREF);
    CHECK_OK(quire_pheap_free(h, n2));
    CHECK_EQ(quire_pheap_find(h, "moving", &c), QUIRE_ENOTFOUND);
    CHECK_OK(quire_pheap_root(h, &root));
    CHECK_EQ(root.off, 0);
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    unlink(path);
}

static void test_names(void) {
    TEST("names");
    char path[256];
    ch_path(path, sizeof path, "pheap-names");
    quire_pheap *h = open_rw(path);
    quire_pref r, r2;
    int created = -1;
    CHECK_EQ(quire_pheap_find(h, "counter", &r), QUIRE_ENOTFOUND);
    CHECK_OK(quire_pheap_named(h, "counter", 8, &r, &created));
    CHECK_EQ(created, 1);
    CHECK_EQ(*(const uint64_t *)quire_pheap_ptr(h, r), 0); /* zeroed */
    CHECK_OK(quire_pheap_named(h, "counter", 8, &r2, &created));
    CHECK_EQ(created, 0);
    CHECK_EQ(r2.off, r.off);
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ(quire_pheap_named(h, big, 8, &r2, NULL), QUIRE_ENAMETOOLONG);
    CHECK_EQ(quire_pheap_named(h, "", 8, &r2, NULL), QUIRE_EINVAL);
    /* many names: the table grows */
    quire_pref objs[200];
    for (int i = 0; i < 200; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "obj-%d", i);
        CHECK_OK(quire_pheap_alloc(h, 24, &objs[i]));
        CHECK_OK(quire_pheap_set(h, objs[i], 0, &i, sizeof i));
        CHECK_OK(quire_pheap_name_set(h, nm, objs[i]));
    }
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h));
    for (int i = 0; i < 200; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "obj-%d", i);
        CHECK_OK(quire_pheap_find(h, nm, &r2));
        CHECK_EQ(r2.off, objs[i].off);
        CHECK_EQ(*(const int *)quire_pheap_ptr(h, r2), i);
    }
    uint64_t cur = 0, n = 0;
    const char *name;
    while (quire_pheap_next_name(h, &cur, &name, &r2) == 1) n++;
    CHECK_EQ(n, 201);
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    CHECK_OK(quire_pheap_open(path, 0, 0, &h));
    /* rename target, remove, remove a missing name */
    CHECK_OK(quire_pheap_name_set(h, "obj-3", objs[4]));
    CHECK_OK(quire_pheap_name_set(h, "obj-5", QUIRE_PREF_NULL));
    CHECK_EQ(quire_pheap_name_set(h, "nope", QUIRE_PREF_NULL), QUIRE_ENOTFOUND);
    CHECK_EQ(quire_pheap_name_set(h, "bad", (quire_pref){objs[0].off + 8}), QUIRE_EBADREF);
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_find(h, "obj-3", &r2));
    CHECK_EQ(r2.off, objs[4].off);
    CHECK_EQ(quire_pheap_find(h, "obj-5", &r2), QUIRE_ENOTFOUND);
    CHECK_OK(quire_pheap_find(h, "obj-6", &r2));
    CHECK_EQ(r2.off, objs[6].off);
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    unlink(path);
}

/* A linked list reached from the root, reopened with the file mapped at another address. */
struct node {
    quire_pref next;
    uint64_t value;
    char text[40];
};

static void test_reopen_elsewhere(void) {
    TEST("reopen at a different address");
    char path[256];
    ch_path(path, sizeof path, "pheap-move");
    quire_pheap *h = open_rw(path);
    quire_pref head = QUIRE_PREF_NULL;
    for (uint64_t i = 0; i < 500; i++) {
        quire_pref n;
        CHECK_OK(quire_pheap_alloc(h, sizeof(struct node), &n));
        struct node *p;
        CHECK_OK(quire_pheap_write(h, n, 0, sizeof *p, (void **)&p));
        p->next = head;
        p->value = i * i;
        snprintf(p->text, sizeof p->text, "node %llu", (unsigned long long)i);
        head = n;
        if (i % 100 == 99) {
            CHECK_OK(quire_pheap_set_root(h, head));
            CHECK_OK(quire_pheap_commit(h));
        }
    }
    const void *base1 = quire_pheap_ptr(h, head);
    CHECK_OK(quire_pheap_close(h));
    /* occupy the address range the file was mapped at, and more */
    size_t hog = (size_t)64 << 20;
    void *m = mmap(NULL, hog, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    /* Exactly the page that held the node: a larger range could overlap another mapping
       (EEXIST) and leave the old address free. If even this fails, the page is taken anyway. */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    void *m2 = mmap((void *)((uintptr_t)base1 & ~(uintptr_t)(pg - 1)), pg, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h));
    quire_pref r;
    CHECK_OK(quire_pheap_root(h, &r));
    CHECK_EQ(r.off, head.off);
    CHECK(quire_pheap_ptr(h, r) != base1);
    uint64_t count = 0, want = 499;
    while (r.off) {
        const struct node *p = quire_pheap_ptr(h, r);
        CHECK(p != NULL);
        if (!p) break;
        char text[40];
        snprintf(text, sizeof text, "node %llu", (unsigned long long)want);
        CHECK_EQ(p->value, want * want);
        CHECK(strcmp(p->text, text) == 0);
        r = p->next;
        count++;
        want--;
    }
    CHECK_EQ(count, 500);
    CHECK_OK(quire_pheap_close(h));
    munmap(m, hog);
    if (m2 != MAP_FAILED) munmap(m2, pg);
    unlink(path);
}

static void test_undo_log(void) {
    TEST("undo log capacity");
    char path[256];
    ch_path(path, sizeof path, "pheap-log");
    quire_pheap *h = open_rw(path);
    quire_pref big;
    size_t n = (size_t)1 << 20;
    CHECK_OK(quire_pheap_alloc(h, n, &big));
    void *p;
    CHECK_OK(quire_pheap_write(h, big, 0, n, &p)); /* fresh: no undo needed */
    memset(p, 1, n);
    CHECK_OK(quire_pheap_commit(h));
    struct quire_pheap_stat st;
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK(st.log_capacity < n);
    /* rewriting all of an older block needs more undo than the log holds */
    CHECK_OK(quire_pheap_write(h, big, 0, 1000, &p));
    memset(p, 2, 1000);
    CHECK_EQ(quire_pheap_write(h, big, 0, n, &p), QUIRE_ETXN);
    CHECK_OK(quire_pheap_commit(h)); /* what it held commits */
    CHECK_EQ(((const uint8_t *)quire_pheap_ptr(h, big))[999], 2);
    CHECK_EQ(((const uint8_t *)quire_pheap_ptr(h, big))[1000], 1);
    /* the next transaction grows the log to fit the failed request */
    CHECK_OK(quire_pheap_write(h, big, 0, n, &p));
    memset(p, 3, n);
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK(st.log_capacity >= n);
    CHECK(st.txn_undo_bytes >= n);
    CHECK_OK(quire_pheap_commit(h));
    /* reserve_log refuses a transaction with changes */
    quire_pref x;
    CHECK_OK(quire_pheap_alloc(h, 8, &x));
    CHECK_EQ(quire_pheap_reserve_log(h, 4 * n), QUIRE_ESTATE);
    CHECK_OK(quire_pheap_abort(h));
    CHECK_OK(quire_pheap_reserve_log(h, 2 * n));
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK(st.log_capacity >= 2 * n);
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h));
    const uint8_t *q = quire_pheap_ptr(h, big);
    CHECK(q[0] == 3 && q[n - 1] == 3);
    CHECK_OK(quire_pheap_close(h));
    unlink(path);
}

/* Many small allocations and frees across commits: slabs are reused, empty chunks returned. */
static void test_churn(void) {
    TEST("churn");
    char path[256];
    ch_path(path, sizeof path, "pheap-churn");
    quire_pheap *h = open_rw(path);
    enum { M = 3000 };
    static quire_pref live[M];
    static uint32_t seeds[M];
    uint64_t s = 42;
    size_t n = 0;
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 300; k++) {
            if (n < M && (n == 0 || ch_rand(&s) % 3)) {
                size_t sz = 1 + ch_rand(&s) % (ch_rand(&s) % 8 ? 200 : 9000);
                CHECK_OK(quire_pheap_alloc(h, sz, &live[n]));
                void *p;
                seeds[n] = (uint32_t)ch_rand(&s);
                CHECK_OK(quire_pheap_write(h, live[n], 0, 4, &p));
                memcpy(p, &seeds[n], 4);
                n++;
            } else {
                size_t i = ch_rand(&s) % n;
                CHECK_OK(quire_pheap_free(h, live[i]));
                live[i] = live[--n];
                seeds[i] = seeds[n];
            }
        }
        CHECK(q_pheap_validate(h) == NULL); /* in the transaction */
        CHECK_OK(quire_pheap_commit(h));
        CHECK(q_pheap_validate(h) == NULL);
    }
    /* the validator notices a chunk whose counters lie, a slab whose count lies, a free of a
     * block that is not live */
    struct ph_chunk *c0 = h->ch[0];
    c0->free_pages++;
    CHECK(q_pheap_validate(h) != NULL);
    c0->free_pages--;
    uint32_t head = 0;
    while (head < h->D && ph_desc(c0, head)->type != PH_SLAB) head++;
    CHECK(head < h->D);
    if (head < h->D) {
        ph_desc(c0, head)->nused++;
        CHECK(q_pheap_validate(h) != NULL);
        ph_desc(c0, head)->nused--;
    }
    CHECK(q_pheap_validate(h) == NULL);
    h->txn = 1;
    CHECK_OK(q_base_vec_push(&h->frees, 16)); /* offset 16: no block */
    CHECK_OK(q_base_hash_put_u64(&h->freed, 16, 1));
    CHECK(q_pheap_validate(h) != NULL);
    h->frees.n = 0;
    q_base_hash_clear(&h->freed);
    h->txn = 0;
    CHECK(q_pheap_validate(h) == NULL);
    struct quire_pheap_stat st;
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.objects, n);
    for (size_t i = 0; i < n; i++) CHECK(memcmp(quire_pheap_ptr(h, live[i]), &seeds[i], 4) == 0);
    /* free everything: the heap keeps at most one empty chunk */
    for (size_t i = 0; i < n; i++) CHECK_OK(quire_pheap_free(h, live[i]));
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_stat(h, &st));
    CHECK_EQ(st.objects, 0);
    CHECK_EQ(st.bytes_used, 0);
    CHECK(st.chunks <= 1);
    CHECK_OK(quire_pheap_close(h));
    check_sound(path);
    unlink(path);
}

int main(void) {
    test_open();
    test_alloc();
    test_realloc_and_rollback();
    test_names();
    test_reopen_elsewhere();
    test_undo_log();
    test_churn();
    return check_done();
}
