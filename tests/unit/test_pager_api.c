/*
 * tests/unit/test_pager_api.c - the pager's API: create/open validation, regular pages and their
 * errors, bulk calls (all or nothing), transactions, protected pages and writers, sub-pages
 * across reopen, iterators, locking, read-only opens, growth, flush.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "pager/testing.h"
#include "test_pager_util.h"

/* The lowest page no fixed structure takes (superblock slots, free-map leaf 0's copies). */
static uint64_t first_free(uint32_t ps) {
    for (uint64_t i = 0;; i++)
        if (i != q_pager_super_page(ps, 0) && i != q_pager_super_page(ps, 1) &&
            i != q_pager_leaf_page(ps, 0, 0) && i != q_pager_leaf_page(ps, 0, 1))
            return i;
}

static int reopen(quire_pager **p, const char *path) {
    quire_pager_close(*p);
    return quire_pager_open(path, 0, 0, p);
}

/* A second writer in another process gets QUIRE_EBUSY (and a reader too); once the writer is
 * gone, both succeed. Runs the child's open in a fork and reports its result as exit status. */
static int open_in_child(const char *path, unsigned flags) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        quire_pager *c;
        int rc = quire_pager_open(path, flags, 0, &c);
        if (rc == 0) quire_pager_close(c);
        _exit(rc == 0 ? 0 : rc == QUIRE_EBUSY ? 1 : 2);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static void test_lock_processes(void) {
    TEST("lock across processes");
    char path[256];
    ch_path(path, sizeof path, "pager-lock");
    quire_pager *p, *r1;
    CHECK_OK(quire_pager_create(path, 1024, &p));
    CHECK_EQ(open_in_child(path, 0), 1);                  /* second writer: EBUSY */
    CHECK_EQ(open_in_child(path, QUIRE_PAGER_RDONLY), 0); /* a reader beside the writer */
    quire_pager_close(p);
    CHECK_EQ(open_in_child(path, 0), 0);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r1));
    CHECK_EQ(open_in_child(path, QUIRE_PAGER_RDONLY), 0); /* readers share */
    CHECK_EQ(open_in_child(path, 0), 0);                  /* and a writer joins them */
    quire_pager_close(r1);
    CHECK_EQ(open_in_child(path, 0), 0);
    ch_unlink(path);
}

/* A create killed at its k-th write (the I/O hook ends the process there, as SIGKILL would):
 * afterwards the name is absent, or names a file that opens; a create with it then works (the
 * audit found files that every later open refused as "bad magic"). Forks one child per k, each
 * reaped before the next. */
static int die_at, writes;
static int dying_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o) {
    if (++writes == die_at) _exit(9);
    return q_pager_default_io.pwrite(c, fd, b, n, o);
}
static int dying_truncate(void *c, int fd, uint64_t sz) {
    if (++writes == die_at) _exit(9);
    return q_pager_default_io.truncate(c, fd, sz);
}

static void test_create_interrupted(void) {
    TEST("create interrupted");
    char path[256];
    ch_path(path, sizeof path, "pager-cint");
    int opened = 0, absent = 0;
    for (int k = 1; k <= 10; k++) {
        ch_unlink(path);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct q_pager_io io = q_pager_default_io;
            io.pwrite = dying_pwrite;
            io.truncate = dying_truncate;
            die_at = k;
            quire_pager *p;
            int rc = q_pager_create_io(path, 1024, &io, &p);
            _exit(rc ? 1 : 0); /* got through every write: a complete file */
        }
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        quire_pager *p;
        if (access(path, F_OK) != 0) {
            absent++;
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 9);
            CHECK_OK(quire_pager_create(path, 1024, &p)); /* nothing in the way */
        } else {
            opened++;
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* only a complete file */
            CHECK_OK(quire_pager_open(path, 0, 0, &p));
        }
        quire_pager_close(p);
        struct quire_pager_report r = {0};
        CHECK_OK(quire_pager_check(path, &r));
    }
    CHECK(absent > 0);
    ch_unlink(path);
    /* no temporary file left behind in the directory either way (O_TMPFILE) */
    char dir[256];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int leftovers = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        leftovers += strstr(e->d_name, "pager-cint") && strstr(e->d_name, "quire-new");
    if (d) closedir(d);
    CHECK_EQ(leftovers, 0);
    (void)opened;
}

static void test_create_open(void) {
    TEST("create/open");
    char path[256];
    ch_path(path, sizeof path, "pager-api");
    quire_pager *p = NULL;
    CHECK_EQ(quire_pager_create(path, 1000, &p), QUIRE_EPAGESIZE);
    CHECK_EQ(quire_pager_create(path, 512, &p), QUIRE_EPAGESIZE);
    CHECK_EQ(quire_pager_create(path, 1u << 17, &p), QUIRE_EPAGESIZE);
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(quire_pager_create(path, 2048, &p));
    CHECK_EQ(quire_pager_page_size(p), 2048);
    CHECK_EQ(quire_pager_page_count(p), 16);
    CHECK_EQ(quire_pager_free_page_count(p), 12);
    quire_pager *q = NULL;
    CHECK_EQ(quire_pager_create(path, 2048, &q), QUIRE_EEXIST);
    CHECK_EQ(quire_pager_open(path, 0, 0, &q), QUIRE_EBUSY);     /* second writer */
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &q)); /* a reader beside it */
    CHECK_EQ(quire_pager_page_count(q), 16);
    quire_pager_close(q);
    /* beyond the format's limit (2^46 pages): refused, nothing changes, still usable */
    CHECK_EQ(quire_pager_grow(p, (UINT64_C(1) << 46) + 16), QUIRE_EFULL);
    CHECK_EQ(quire_pager_page_count(p), 16);
    CHECK_OK(quire_pager_grow(p, 32));
    CHECK_EQ(quire_pager_page_count(p), 32);
    quire_pager_close(p);
    CHECK_EQ(quire_pager_open(path, 0, 4096, &p), QUIRE_EPAGESIZE);
    CHECK_EQ(quire_pager_open(path, 0, 3000, &p), QUIRE_EPAGESIZE);
    CHECK_OK(quire_pager_open(path, 0, 2048, &p));
    quire_pager_close(p);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &q)); /* readers share */
    uint64_t id = 4, h;
    void *wv;
    quire_pager_writer *w;
    CHECK_EQ(quire_pager_alloc(p, &id), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_alloc_bulk(p, 2, &id), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_begin(p), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_commit(p), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_free(p, 4), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_get_write(p, 4, &wv), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_flush_range(p, 0, 1), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_grow(p, 1000), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_protected_alloc(p, &id), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_protected_write(p, 0, &w), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_subpage_alloc(p, 64, &h), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_page_count(p), 32); /* reads work */
    quire_pager_close(q);
    quire_pager_close(p);
    CHECK_EQ(quire_pager_open("/nonexistent/x", 0, 0, &p), QUIRE_ENOENT);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    CHECK(r.slot_valid[0] && r.slot_valid[1]);
    CHECK_EQ(r.page_size, 2048);
    ch_unlink(path);
}

static void test_regular(uint32_t ps) {
    TEST("regular pages");
    char path[256];
    ch_path(path, sizeof path, "pager-reg");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t ids[40];
    for (int i = 0; i < 40; i++) CHECK_OK(quire_pager_alloc(p, &ids[i]));
    CHECK_EQ(ids[0], first_free(ps)); /* not a superblock slot nor a copy of free-map leaf 0 */
    for (int i = 1; i < 40; i++) CHECK(ids[i] > ids[i - 1]);
    CHECK(quire_pager_page_count(p) >= 44); /* grew */
    for (int i = 0; i < 40; i++) {
        void *d;
        CHECK_OK(quire_pager_get_write(p, ids[i], &d));
        ch_fill(d, ps, ids[i]);
    }
    CHECK_OK(quire_pager_commit(p));
    CHECK_EQ(quire_pager_free(p, 0), QUIRE_ERESERVED);
    CHECK_EQ(quire_pager_free(p, q_pager_leaf_page(ps, 0, 1)), QUIRE_ERESERVED);
    CHECK_EQ(quire_pager_free(p, q_pager_super_page(ps, 1)), QUIRE_ERESERVED);
    CHECK_EQ(quire_pager_free(p, quire_pager_page_count(p)), QUIRE_EBOUNDS);
    CHECK_OK(quire_pager_free(p, ids[5]));
    CHECK_EQ(quire_pager_free(p, ids[5]), QUIRE_EDOUBLEFREE);
    const void *cd;
    CHECK_EQ(quire_pager_get(p, ids[5], &cd), QUIRE_ENOTALLOC);
    CHECK_EQ(quire_pager_get(p, 1, &cd), QUIRE_ERESERVED);
    /* the freed page is reused after commit */
    uint64_t again;
    CHECK_OK(quire_pager_alloc(p, &again));
    CHECK_EQ(again, ids[5]);
    CHECK_OK(quire_pager_free(p, again));
    /* bulk free: one bad id, nothing changes */
    uint64_t bad[3] = {ids[1], ids[2], ids[5]};
    uint64_t before = quire_pager_free_page_count(p);
    CHECK_EQ(quire_pager_free_bulk(p, 3, bad), QUIRE_EDOUBLEFREE);
    uint64_t dup[3] = {ids[1], ids[2], ids[1]};
    CHECK_EQ(quire_pager_free_bulk(p, 3, dup), QUIRE_EDOUBLEFREE);
    uint64_t res[2] = {ids[1], q_pager_leaf_page(ps, 0, 0)};
    CHECK_EQ(quire_pager_free_bulk(p, 2, res), QUIRE_ERESERVED);
    CHECK_EQ(quire_pager_free_page_count(p), before);
    CHECK_OK(quire_pager_get(p, ids[1], &cd));
    uint64_t good[2] = {ids[1], ids[2]};
    CHECK_OK(quire_pager_free_bulk(p, 2, good));
    CHECK_EQ(quire_pager_free_page_count(p), before + 2);
    /* reopen: contents and allocation survive */
    CHECK_OK(reopen(&p, path));
    uint64_t cur = 0, id, n = 0;
    while (quire_pager_next_page(p, &cur, &id) == 1) {
        n++;
        CHECK(id != ids[1] && id != ids[2] && id != ids[5]);
        const void *d;
        CHECK_OK(quire_pager_get(p, id, &d));
        uint8_t *exp = malloc(ps);
        ch_fill(exp, ps, id);
        CHECK(memcmp(d, exp, ps) == 0);
        free(exp);
    }
    CHECK_EQ(n, 37);
    struct quire_pager_stat st;
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.regular_pages, 37);
    CHECK_EQ(st.page_count, st.free_pages + st.regular_pages + st.internal_pages);
    /* bulk alloc: one commit, the lowest free pages (the holes first), across free-map groups */
    uint64_t *many = malloc(5000 * sizeof *many);
    uint64_t gen0 = st.generation;
    CHECK_OK(quire_pager_alloc_bulk(p, 5000, many));
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.generation, gen0 + 1);
    CHECK_EQ(st.regular_pages, 5037);
    CHECK_EQ(many[0], ids[1]);
    CHECK_EQ(many[1], ids[2]);
    CHECK_EQ(many[2], ids[5]);
    for (int i = 1; i < 5000; i++) CHECK(many[i] > many[i - 1]);
    if (ps == 1024) CHECK(many[4999] >= (uint64_t)4 * ps); /* past free-map group 0 (4 * P pages) */
    for (uint64_t x = 4, k = 0; x <= many[4999]; x++) {
        if (k < 5000 && many[k] == x) {
            k++;
            continue;
        }
        int grc = quire_pager_get(p, x, &cd); /* skipped: allocated before, or internal */
        CHECK(grc == 0 || grc == QUIRE_ERESERVED);
    }
    CHECK_EQ(st.page_count, st.free_pages + st.regular_pages + st.internal_pages);
    CHECK_OK(reopen(&p, path));
    for (int i = 0; i < 5000; i += 499) CHECK_OK(quire_pager_get(p, many[i], &cd));
    CHECK_OK(quire_pager_free_bulk(p, 5000, many));
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.generation, gen0 + 2);
    CHECK_EQ(st.regular_pages, 37);
    free(many);
    /* alloc_near */
    CHECK_OK(quire_pager_grow(p, 20000));
    CHECK(quire_pager_page_count(p) >= 20000);
    CHECK_OK(quire_pager_alloc_near(p, 15000, &id));
    CHECK_EQ(id, 15000);
    /* flush writes early a page allocated in the open transaction; the commit still decides */
    void *w;
    uint64_t id2;
    CHECK_OK(quire_pager_begin(p));
    CHECK_OK(quire_pager_alloc_near(p, 15001, &id2));
    CHECK_OK(quire_pager_get_write(p, id2, &w));
    memset(w, 0x5A, ps);
    CHECK_OK(quire_pager_flush(p, id2));
    CHECK_EQ(quire_pager_flush(p, q_pager_leaf_page(ps, 0, 0)), QUIRE_ERESERVED);
    CHECK_EQ(quire_pager_flush_range(p, quire_pager_page_count(p) - 1, 2), QUIRE_EBOUNDS);
    CHECK_OK(quire_pager_commit(p));
    /* a page an earlier commit holds: flush leaves the committed bytes alone (never in place) */
    CHECK_OK(quire_pager_get_write(p, id2, &w));
    memset(w, 0x33, ps);
    CHECK_OK(quire_pager_flush(p, id2));
    quire_pager_close(p); /* no commit: the 0x33 bytes are dropped */
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p));
    CHECK_OK(quire_pager_get(p, id2, &cd));
    CHECK_EQ(((const uint8_t *)cd)[ps - 1], 0x5A);
    CHECK_OK(quire_pager_get(p, id, &cd)); /* allocated, never written: still there */
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    CHECK_EQ(r.problems, 0);
    ch_unlink(path);
}

/* quire_pager_alloc_run: the lowest run of free pages that is long enough (holes too short
 * are skipped, one that fits is filled), growth when none is, the group limit, all or nothing
 * on error, transactions, reopen; and quire_pager_mapping(): page i at base + i * page_size. */
static void test_alloc_run(void) {
    TEST("alloc_run / mapping");
    char path[256];
    ch_path(path, sizeof path, "pager-run");
    const uint32_t ps = 1024; /* a group of the free map: 4096 pages */
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t first = 0, id, ids[40];
    CHECK_EQ(quire_pager_alloc_run(p, 0, &first), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_alloc_run(p, 3, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_alloc_run(NULL, 3, &first), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_alloc_run(p, 4 * ps - 1, &first), QUIRE_EOVERFLOW);
    /* the longest run: a group but its two leaf copies, which lie 4 KiB apart */
    const uint64_t run_max = 4 * ps - q_pager_block_pages(ps) - 1;
    CHECK_EQ(quire_pager_alloc_run(p, run_max + 1, &first), QUIRE_EOVERFLOW);
    struct quire_pager_stat st0, st1;
    CHECK_OK(quire_pager_stat(p, &st0));
    /* 40 single pages, then holes of 3 (pages 10..12) and 6 (pages 20..25) */
    CHECK_OK(quire_pager_alloc_bulk(p, 40, ids));
    for (int i = 10; i < 13; i++) CHECK_OK(quire_pager_free(p, ids[i]));
    for (int i = 20; i < 26; i++) CHECK_OK(quire_pager_free(p, ids[i]));
    CHECK_OK(quire_pager_alloc_run(p, 5, &first)); /* skips the hole of 3, fills the 6 */
    CHECK_EQ(first, ids[20]);
    CHECK_OK(quire_pager_alloc_run(p, 3, &first)); /* the hole of 3 fits exactly */
    CHECK_EQ(first, ids[10]);
    CHECK_OK(quire_pager_alloc(p, &id)); /* the one page left of the 6 */
    CHECK_EQ(id, ids[25]);
    CHECK_OK(quire_pager_stat(p, &st1));
    CHECK_EQ(st1.generation, st0.generation + 1 + 9 + 3); /* every call committed on its own */
    /* a run longer than the free tail: the file grows */
    uint64_t pc = quire_pager_page_count(p), run = pc + 100;
    CHECK_OK(quire_pager_alloc_run(p, run, &first));
    CHECK(quire_pager_page_count(p) >= first + run);
    CHECK_EQ(first, ids[39] + 1);
    uint64_t mism = 0;
    for (uint64_t k = 0; k < run; k++) {
        const void *d;
        mism += quire_pager_get(p, first + k, &d) != 0;
    }
    CHECK_EQ(mism, 0);
    /* the mapping: page i at base + i * ps, the views' addresses */
    void *base = NULL;
    uint64_t mapped = 0;
    CHECK_EQ(quire_pager_mapping(NULL, &base, &mapped), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_mapping(p, NULL, &mapped), QUIRE_EINVAL);
    CHECK_OK(quire_pager_mapping(p, &base, &mapped));
    CHECK_EQ(mapped, quire_pager_page_count(p));
    CHECK_OK(quire_pager_mapping(p, &base, NULL));
    void *w;
    const void *r;
    CHECK_OK(quire_pager_get_write(p, first + 7, &w));
    CHECK(w == (uint8_t *)base + (first + 7) * ps);
    memcpy(w, "run page", 9);
    CHECK_OK(quire_pager_get(p, first + 7, &r));
    CHECK(r == w);
    CHECK_OK(quire_pager_commit(p));
    CHECK(q_pager_validate(p) == NULL);
    /* the validator notices a page marked freed that no transaction recorded */
    CHECK_OK(q_pager_set_type(p, first + 3, Q_PENDING));
    CHECK(q_pager_validate(p) != NULL);
    CHECK_OK(q_pager_set_type(p, first + 3, Q_REGULAR));
    CHECK(q_pager_validate(p) == NULL);
    CHECK_EQ(q_pager_set_type(p, quire_pager_page_count(p), Q_FREE), QUIRE_EINVAL);
    /* in a transaction, aborted: nothing stays allocated */
    struct quire_pager_stat a0, a1;
    CHECK_OK(quire_pager_stat(p, &a0));
    CHECK_OK(quire_pager_begin(p));
    CHECK_OK(quire_pager_alloc_run(p, run_max, &first)); /* a whole group, after its leaf */
    CHECK_EQ(first % (4 * ps), q_pager_block_pages(ps) + 1);
    CHECK(q_pager_validate(p) == NULL);
    CHECK_OK(quire_pager_abort(p));
    CHECK(q_pager_validate(p) == NULL);
    CHECK_OK(quire_pager_stat(p, &a1));
    CHECK_EQ(a1.regular_pages, a0.regular_pages);
    CHECK_EQ(a1.generation, a0.generation);
    /* read-only: refused; the run and its bytes survived reopen */
    quire_pager *ro;
    CHECK_OK(quire_pager_close(p));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &ro));
    CHECK_EQ(quire_pager_alloc_run(ro, 2, &first), QUIRE_ERDONLY);
    CHECK_OK(quire_pager_get(ro, ids[39] + 1 + 7, &r));
    CHECK(memcmp(r, "run page", 9) == 0);
    CHECK_OK(quire_pager_mapping(ro, &base, &mapped));
    CHECK(r == (const uint8_t *)base + (ids[39] + 8) * ps);
    quire_pager_close(ro);
    struct quire_pager_report rep = {0};
    CHECK_OK(quire_pager_check(path, &rep));
    ch_unlink(path);
}

static void test_txn(void) {
    TEST("transactions");
    char path[256];
    ch_path(path, sizeof path, "pager-txn");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, 1024, &p));
    uint64_t a, b, pid;
    CHECK_OK(quire_pager_alloc(p, &a));
    uint64_t gen0 = 0;
    struct quire_pager_stat st;
    quire_pager_stat(p, &st);
    gen0 = st.generation;
    CHECK_OK(quire_pager_begin(p));
    CHECK_EQ(quire_pager_begin(p), QUIRE_ESTATE);
    CHECK_OK(quire_pager_alloc(p, &b));
    CHECK_OK(quire_pager_protected_alloc(p, &pid));
    quire_pager_writer *w;
    CHECK_OK(quire_pager_protected_write(p, pid, &w));
    memcpy(quire_pager_writer_data(w), &b, 8); /* record the id atomically with the alloc */
    CHECK_OK(quire_pager_writer_commit(w));
    CHECK_OK(quire_pager_free(p, a));
    uint64_t c;
    CHECK_OK(quire_pager_alloc(p, &c));
    CHECK(c != a); /* freed in this txn: not reused before commit */
    quire_pager_stat(p, &st);
    CHECK_EQ(st.generation, gen0); /* nothing committed yet */
    CHECK_EQ(st.pending_pages, 1);
    CHECK_OK(quire_pager_abort(p));
    const void *d;
    CHECK_OK(quire_pager_get(p, a, &d));
    CHECK_EQ(quire_pager_get(p, b, &d), QUIRE_ENOTALLOC);
    CHECK_EQ(quire_pager_protected_get(p, pid, &d), QUIRE_EBOUNDS);
    /* again, committed this time */
    CHECK_OK(quire_pager_begin(p));
    CHECK_OK(quire_pager_alloc(p, &b));
    CHECK_OK(quire_pager_protected_alloc(p, &pid));
    CHECK_OK(quire_pager_protected_write(p, pid, &w));
    memcpy(quire_pager_writer_data(w), &b, 8);
    CHECK_OK(quire_pager_writer_commit(w));
    CHECK_OK(quire_pager_free(p, a));
    CHECK_OK(quire_pager_commit(p));
    quire_pager_stat(p, &st);
    CHECK_EQ(st.generation, gen0 + 1);
    CHECK_OK(reopen(&p, path));
    CHECK_OK(quire_pager_protected_get(p, pid, &d));
    uint64_t rec;
    memcpy(&rec, d, 8);
    CHECK_EQ(rec, b);
    CHECK_OK(quire_pager_get(p, b, &d));
    CHECK_EQ(quire_pager_get(p, a, &d), QUIRE_ENOTALLOC);
    /* a writer taken before an abort is stale: its commit is refused, nothing changes */
    CHECK_OK(quire_pager_protected_write(p, pid, &w));
    memset(quire_pager_writer_data(w), 0xEE, 1024);
    CHECK_OK(quire_pager_abort(p));
    CHECK_EQ(quire_pager_writer_commit(w), QUIRE_ESTATE);
    CHECK_OK(quire_pager_protected_get(p, pid, &d));
    memcpy(&rec, d, 8);
    CHECK_EQ(rec, b);
    quire_pager_writer *w2; /* the page takes a new writer at once */
    CHECK_OK(quire_pager_protected_write(p, pid, &w2));
    quire_pager_writer *w3;
    CHECK_OK(quire_pager_begin(p));
    CHECK_EQ(quire_pager_protected_write(p, pid, &w3), QUIRE_EBUSY);
    quire_pager_writer_drop(w2);
    CHECK_OK(quire_pager_abort(p));
    /* in a transaction: a stale writer dropped after the abort changes nothing either */
    CHECK_OK(quire_pager_protected_write(p, pid, &w));
    CHECK_OK(quire_pager_abort(p));
    quire_pager_writer_drop(w);
    CHECK(q_pager_validate(p) == NULL);
    /* sizes that would wrap around: refused, nothing changes */
    uint64_t pc = quire_pager_page_count(p);
    CHECK_EQ(quire_pager_grow(p, UINT64_MAX), QUIRE_EFULL);
    CHECK_EQ(quire_pager_grow(p, UINT64_MAX - 7), QUIRE_EFULL);
    CHECK_EQ(quire_pager_page_count(p), pc);
    CHECK_EQ(quire_pager_alloc_run(p, UINT64_MAX, &c), QUIRE_EOVERFLOW);
    uint64_t few[4];
    CHECK_EQ(quire_pager_alloc_bulk(p, SIZE_MAX, few), QUIRE_EFULL);
    CHECK_EQ(quire_pager_alloc_bulk(p, SIZE_MAX / 2 + 3, few), QUIRE_EFULL);
    CHECK_EQ(quire_pager_protected_alloc_bulk(p, SIZE_MAX / 2 - 1, few), QUIRE_EFULL);
    CHECK_EQ(quire_pager_protected_alloc_bulk(p, SIZE_MAX, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_subpage_alloc(p, SIZE_MAX, &c), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_flush_range(p, 2, UINT64_MAX), QUIRE_EBOUNDS);
    CHECK_EQ(quire_pager_page_count(p), pc);
    quire_pager_close(p);
    ch_unlink(path);
}

/* Durability modes: NOSYNC commits make no flush, sync (or a durable commit) makes them durable;
 * one flush per durable commit, counted through the I/O hook. */
static int nsyncs;
static int count_sync(void *c, int fd) {
    nsyncs++;
    return q_pager_default_io.sync(c, fd);
}

static void test_durability(void) {
    TEST("durability modes");
    char path[256];
    ch_path(path, sizeof path, "pager-dur");
    struct q_pager_io io = q_pager_default_io;
    io.sync = count_sync;
    quire_pager *p;
    CHECK_OK(q_pager_create_io(path, 4096, &io, &p));
    CHECK_EQ(quire_pager_set_durability(p, 2), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_set_durability(NULL, QUIRE_PAGER_NOSYNC), QUIRE_EINVAL);
    struct quire_pager_stat st;
    uint64_t id, ids[10];
    void *d;
    nsyncs = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(quire_pager_begin(p));
        CHECK_OK(quire_pager_alloc(p, &ids[i]));
        CHECK_OK(quire_pager_get_write(p, ids[i], &d));
        memset(d, i, 4096);
        CHECK_OK(quire_pager_commit(p));
    }
    CHECK_EQ(nsyncs, 10); /* one per durable commit */
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.durable_generation, st.generation);
    CHECK_OK(quire_pager_set_durability(p, QUIRE_PAGER_NOSYNC));
    nsyncs = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(quire_pager_get_write(p, ids[i], &d)); /* rewrites: shadows */
        memset(d, 100 + i, 4096);
        CHECK_OK(quire_pager_alloc(p, &id));
    }
    CHECK_OK(quire_pager_commit(p));
    CHECK_EQ(nsyncs, 0);
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK(st.durable_generation < st.generation);
    CHECK(st.shadow_pages == 10);
    CHECK_OK(quire_pager_sync(p));
    CHECK_EQ(nsyncs, 1);
    CHECK_OK(quire_pager_sync(p)); /* nothing new: no flush */
    CHECK_EQ(nsyncs, 1);
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.durable_generation, st.generation);
    CHECK_OK(quire_pager_set_durability(p, QUIRE_PAGER_DURABLE));
    CHECK_OK(quire_pager_alloc(p, &id)); /* copies the shadows back home */
    CHECK_OK(quire_pager_stat(p, &st));
    CHECK_EQ(st.shadow_pages, 0);
    quire_pager_close(p);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p));
    for (int i = 0; i < 10; i++) {
        const void *c;
        CHECK_OK(quire_pager_get(p, ids[i], &c));
        CHECK_EQ(((const uint8_t *)c)[4095], 100 + i);
    }
    CHECK_EQ(quire_pager_sync(p), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_set_durability(p, QUIRE_PAGER_NOSYNC), QUIRE_ERDONLY);
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    CHECK_EQ(r.warnings, 0);
    ch_unlink(path);
}

static void test_protected(uint32_t ps) {
    TEST("protected pages");
    char path[256];
    ch_path(path, sizeof path, "pager-prot");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t pids[300];
    struct quire_pager_stat st0, st1;
    CHECK_OK(quire_pager_stat(p, &st0));
    CHECK_OK(quire_pager_protected_alloc_bulk(p, 300, pids));
    CHECK_OK(quire_pager_stat(p, &st1));
    CHECK_EQ(st1.generation, st0.generation + 1); /* one commit for the batch */
    CHECK_EQ(st1.protected_pages, 300);
    for (int i = 0; i < 300; i++) CHECK_EQ(pids[i], (uint64_t)i);
    const void *d;
    CHECK_OK(quire_pager_protected_get(p, 7, &d));
    CHECK(((const uint8_t *)d)[0] == 0 && ((const uint8_t *)d)[ps - 1] == 0);
    quire_pager_writer *w, *w2;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i += 7) {
            CHECK_OK(quire_pager_protected_write(p, (uint64_t)i, &w));
            ch_fill(quire_pager_writer_data(w), ps, (uint64_t)(i * 10 + round));
            CHECK_OK(quire_pager_writer_commit(w));
        }
    }
    /* drop: nothing changes */
    CHECK_OK(quire_pager_protected_write(p, 14, &w));
    CHECK_EQ(quire_pager_protected_write(p, 14, &w2), QUIRE_EBUSY);
    CHECK_EQ(quire_pager_protected_free(p, 14), QUIRE_EBUSY);
    memset(quire_pager_writer_data(w), 0xEE, ps);
    quire_pager_writer_drop(w);
    uint8_t *exp = malloc(ps);
    ch_fill(exp, ps, 14 * 10 + 2);
    CHECK_OK(quire_pager_protected_get(p, 14, &d));
    CHECK(memcmp(d, exp, ps) == 0);
    /* writer starts from the current contents */
    CHECK_OK(quire_pager_protected_write(p, 14, &w));
    CHECK(memcmp(quire_pager_writer_data(w), exp, ps) == 0);
    quire_pager_writer_drop(w);
    /* bulk free validation */
    uint64_t badp[2] = {3, 5000};
    CHECK_EQ(quire_pager_protected_free_bulk(p, 2, badp), QUIRE_EBOUNDS);
    uint64_t twice[2] = {3, 3};
    CHECK_EQ(quire_pager_protected_free_bulk(p, 2, twice), QUIRE_EDOUBLEFREE);
    CHECK_OK(quire_pager_protected_get(p, 3, &d));
    uint64_t fr[3] = {3, 4, 5};
    CHECK_OK(quire_pager_stat(p, &st0));
    CHECK_EQ(st0.protected_pages, 300); /* the failed bulk frees changed nothing */
    CHECK_OK(quire_pager_protected_free_bulk(p, 3, fr));
    CHECK_OK(quire_pager_stat(p, &st1));
    CHECK_EQ(st1.generation, st0.generation + 1);
    CHECK_EQ(st1.protected_pages, 297);
    CHECK_EQ(quire_pager_protected_free(p, 4), QUIRE_EDOUBLEFREE);
    CHECK_EQ(quire_pager_protected_get(p, 4, &d), QUIRE_ENOTALLOC);
    uint64_t np;
    CHECK_OK(quire_pager_protected_alloc(p, &np));
    CHECK_EQ(np, 3); /* lowest free id reused */
    CHECK_OK(reopen(&p, path));
    CHECK_OK(quire_pager_protected_get(p, 14, &d));
    CHECK(memcmp(d, exp, ps) == 0);
    uint64_t cur = 0, pid, n = 0;
    while (quire_pager_next_protected(p, &cur, &pid) == 1) {
        n++;
        CHECK(pid != 4 && pid != 5);
    }
    CHECK_EQ(n, 298);
    /* no internal page shows up as a regular page */
    cur = 0;
    CHECK_EQ(quire_pager_next_page(p, &cur, &pid), 0);
    /* corrupt the current copy of protected page 14 on disk: reads report, never return it */
    struct q_ref ref;
    CHECK_OK(q_pager_protected_ref(p, 14, &ref));
    uint64_t phys = ref.copy[ref.flags & Q_REF_SEL];
    quire_pager_close(p);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "X", 1, (off_t)(phys * ps + 100)) == 1);
    close(fd);
    CHECK_OK(quire_pager_open(path, 0, 0, &p));
    CHECK_EQ(quire_pager_protected_get(p, 14, &d), QUIRE_ECHECKSUM);
    CHECK_EQ(quire_pager_protected_write(p, 14, &w), QUIRE_ECHECKSUM);
    CHECK_OK(quire_pager_protected_get(p, 21, &d));
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_EQ(quire_pager_check(path, &r), QUIRE_ECHECKSUM);
    CHECK_EQ(r.problems, 1);
    free(exp);
    ch_unlink(path);
}

static void test_subpage(uint32_t ps) {
    TEST("sub-pages");
    char path[256];
    ch_path(path, sizeof path, "pager-sub");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t h[600];
    size_t sizes[600];
    uint64_t s = 11;
    CHECK_EQ(quire_pager_subpage_alloc(p, 0, &h[0]), QUIRE_EINVAL);
    CHECK_EQ(quire_pager_subpage_alloc(p, ps / 2 + 1, &h[0]), QUIRE_EINVAL);
    CHECK_OK(quire_pager_begin(p));
    for (int i = 0; i < 600; i++) {
        sizes[i] = 1 + ch_rand(&s) % (ps / 2);
        CHECK_OK(quire_pager_subpage_alloc(p, sizes[i], &h[i]));
        void *d;
        size_t sz;
        CHECK_OK(quire_pager_subpage_get_write(p, h[i], &d, &sz));
        CHECK(sz >= sizes[i] && sz >= 16 && sz >= ps / 256);
        ch_fill(d, sizes[i], h[i]);
    }
    CHECK_OK(quire_pager_commit(p));
    /* distinct, non-overlapping */
    for (int i = 0; i < 600; i++)
        for (int j = i + 1; j < 600; j++) CHECK(h[i] != h[j]);
    for (int i = 0; i < 600; i += 2) CHECK_OK(quire_pager_subpage_free(p, h[i]));
    CHECK_EQ(quire_pager_subpage_free(p, h[0]), QUIRE_EDOUBLEFREE);
    CHECK_EQ(quire_pager_subpage_free(p, 5), QUIRE_EBOUNDS);
    CHECK_OK(reopen(&p, path));
    uint8_t *exp = malloc(ps);
    for (int i = 0; i < 600; i++) {
        const void *d;
        size_t sz;
        int rc = quire_pager_subpage_get(p, h[i], &d, &sz);
        if (i % 2 == 0) {
            CHECK_EQ(rc, QUIRE_ENOTALLOC);
            continue;
        }
        CHECK_OK(rc);
        ch_fill(exp, sizes[i], h[i]);
        CHECK(memcmp(d, exp, sizes[i]) == 0);
    }
    uint64_t cur = 0, x, n = 0;
    while (quire_pager_next_subpage(p, &cur, &x) == 1) n++;
    CHECK_EQ(n, 300);
    cur = 0; /* the pages holding the slots are internal: never listed as regular pages */
    CHECK_EQ(quire_pager_next_page(p, &cur, &x), 0);
    /* free everything: the pages return */
    for (int i = 1; i < 600; i += 2) CHECK_OK(quire_pager_subpage_free(p, h[i]));
    struct quire_pager_stat st;
    quire_pager_stat(p, &st);
    CHECK_EQ(st.subpage_slots, 0);
    CHECK_EQ(st.regular_pages, 0);
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    CHECK_EQ(r.stat.subpage_slots, 0);
    free(exp);
    ch_unlink(path);
}

/* A failing I/O layer: truncate or remap fail on demand. */
static int fail_truncate, fail_remap, fail_write;
static int f_pread(void *c, int fd, void *b, size_t n, uint64_t o) {
    return q_pager_default_io.pread(c, fd, b, n, o);
}
static int f_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o) {
    if (fail_write && --fail_write == 0) return QUIRE_EIO;
    return q_pager_default_io.pwrite(c, fd, b, n, o);
}
static int f_sync(void *c, int fd) {
    return q_pager_default_io.sync(c, fd);
}
static int f_truncate(void *c, int fd, uint64_t sz) {
    if (fail_truncate) return QUIRE_ENOSPC;
    return q_pager_default_io.truncate(c, fd, sz);
}
static int f_remap(void *c, void *o, size_t os, size_t ns, void **out) {
    if (fail_remap) return QUIRE_ENOMEM;
    return q_pager_default_io.remap(c, o, os, ns, out);
}

static void test_grow_failures(void) {
    TEST("failed grow / remap");
    char path[256];
    ch_path(path, sizeof path, "pager-fail");
    struct q_pager_io io = {f_pread, f_pwrite, f_sync, f_truncate, f_remap, NULL, NULL};
    quire_pager *p;
    CHECK_OK(q_pager_create_io(path, 1024, &io, &p));
    uint64_t id, first;
    CHECK_OK(quire_pager_alloc(p, &first));
    while (quire_pager_free_page_count(p) > 0) CHECK_OK(quire_pager_alloc(p, &id));
    struct quire_pager_stat before, after;
    CHECK_OK(quire_pager_stat(p, &before));
    struct stat fst0, fst1;
    CHECK(stat(path, &fst0) == 0);
    fail_truncate = 1;
    CHECK_EQ(quire_pager_alloc(p, &id), QUIRE_ENOSPC); /* grow failed: reported, still usable */
    CHECK_EQ(quire_pager_alloc_run(p, 3, &id), QUIRE_ENOSPC); /* the same for a run */
    fail_truncate = 0;
    CHECK_OK(quire_pager_stat(p, &after));
    CHECK_EQ(after.generation, before.generation); /* nothing committed, nothing changed */
    CHECK_EQ(after.page_count, before.page_count);
    CHECK_EQ(after.regular_pages, before.regular_pages);
    CHECK(stat(path, &fst1) == 0 && fst1.st_size == fst0.st_size);
    CHECK_OK(quire_pager_free(p, first));
    CHECK_OK(quire_pager_alloc(p, &id));
    CHECK_EQ(id, first);
    fail_remap = 1;
    CHECK_EQ(quire_pager_alloc(p, &id), QUIRE_EUNAVAIL);
    CHECK_EQ(quire_pager_alloc(p, &id), QUIRE_EUNAVAIL); /* sticky */
    const void *d;
    CHECK_EQ(quire_pager_get(p, first, &d), QUIRE_EUNAVAIL);
    CHECK_EQ(quire_pager_commit(p), QUIRE_EUNAVAIL);
    fail_remap = 0;
    CHECK_OK(quire_pager_stat(p, &before));
    CHECK_OK(quire_pager_close(p));
    /* the file is intact: it opens at the last commit (the alloc that failed is not in it) and
     * checks sound, even though the file itself grew before the remap failed */
    {
        struct quire_pager_report r = {0};
        CHECK_OK(quire_pager_check(path, &r));
        CHECK_EQ(r.stat.generation, before.generation);
        CHECK_EQ(r.stat.regular_pages, before.regular_pages);
        CHECK(r.stat.page_count < r.file_size / 1024); /* the superblock kept the old count */
    }
    /* an I/O error in the middle of a commit: reported, then sticky; the file keeps the last
     * commit */
    CHECK_OK(q_pager_open_io(path, 0, 0, &io, &p));
    CHECK_OK(quire_pager_free(p, first));
    uint64_t pid;
    CHECK_OK(quire_pager_begin(p));
    CHECK_OK(quire_pager_protected_alloc(p, &pid));
    CHECK_OK(quire_pager_alloc(p, &id));
    fail_write = 2; /* the second write of the commit fails */
    CHECK_EQ(quire_pager_commit(p), QUIRE_EIO);
    CHECK_EQ(quire_pager_alloc(p, &id), QUIRE_EUNAVAIL);
    CHECK_EQ(quire_pager_commit(p), QUIRE_EUNAVAIL);
    CHECK_EQ(quire_pager_abort(p), QUIRE_EUNAVAIL);
    fail_write = 0;
    quire_pager_close(p);
    CHECK_OK(quire_pager_open(path, 0, 0, &p));
    CHECK_EQ(quire_pager_get(p, first, &d), QUIRE_ENOTALLOC);     /* the free was committed */
    CHECK_EQ(quire_pager_protected_get(p, 0, &d), QUIRE_EBOUNDS); /* the txn was not */
    CHECK_OK(quire_pager_alloc(p, &id));
    CHECK_EQ(id, first);
    quire_pager_close(p);
    /* the file is intact at its last commit */
    CHECK_OK(quire_pager_open(path, 0, 0, &p));
    CHECK_OK(quire_pager_get(p, first, &d));
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    ch_unlink(path);
}

static void test_sparse_tib(uint32_t ps) {
    TEST("1 TiB sparse file");
    char path[256];
    /* tmpfs and ext4 both keep sparse files sparse */
    snprintf(path, sizeof path, "/tmp/quire-pager-tib-%d-%u", (int)getpid(), ps);
    ch_unlink(path);
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t tib_pages = (UINT64_C(1) << 40) / ps;
    CHECK_OK(quire_pager_grow(p, tib_pages));
    CHECK_EQ(quire_pager_page_count(p), tib_pages);
    uint64_t ids[3];
    CHECK_OK(quire_pager_alloc_near(p, tib_pages - 10, &ids[0]));
    CHECK_EQ(ids[0], tib_pages - 10);
    CHECK_OK(quire_pager_alloc_near(p, tib_pages / 2, &ids[1]));
    CHECK_OK(quire_pager_alloc(p, &ids[2]));
    CHECK(ids[2] >= 4 && ids[2] < 64); /* after the few metadata pages */
    void *w;
    CHECK_OK(quire_pager_get_write(p, ids[0], &w));
    memset(w, 0x77, ps);
    CHECK_OK(quire_pager_commit(p));
    uint64_t pid;
    CHECK_OK(quire_pager_protected_alloc(p, &pid));
    quire_pager_close(p);
    struct stat stt;
    CHECK(stat(path, &stt) == 0);
    CHECK((uint64_t)stt.st_size == (UINT64_C(1) << 40));
    CHECK((uint64_t)stt.st_blocks * 512 < (UINT64_C(64) << 20)); /* not written eagerly */
    CHECK_OK(quire_pager_open(path, 0, ps, &p));
    const void *d;
    CHECK_OK(quire_pager_get(p, ids[0], &d));
    CHECK_EQ(((const uint8_t *)d)[ps - 1], 0x77);
    uint64_t cur = 0, id, n = 0;
    while (quire_pager_next_page(p, &cur, &id) == 1) n++;
    CHECK_EQ(n, 3);
    CHECK_EQ(quire_pager_free_page_count(p) + 3 + 2 < tib_pages, 1);
    CHECK_OK(quire_pager_free(p, ids[0]));
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    CHECK_EQ(r.stat.regular_pages, 2);
    ch_unlink(path);
}

/* A commit whose own metadata needs pages when none is free grows the file itself: the page
 * count after commit() is the committed one (reopen sees it), while the visible contents are
 * those before the commit. (The kill harness once took the page count before the commit as the
 * committed one.) */
static void test_commit_grows(void) {
    TEST("commit grows the file for its metadata");
    char path[256];
    ch_path(path, sizeof path, "pager-cgrow");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, 1024, &p));
    uint64_t pid, id;
    CHECK_OK(quire_pager_begin(p));
    CHECK_OK(quire_pager_protected_alloc(p, &pid)); /* the protected table's first leaf */
    uint64_t h;
    CHECK_OK(quire_pager_subpage_alloc(p, 100, &h)); /* and the sub-page table's */
    while (quire_pager_free_page_count(p) > 0) CHECK_OK(quire_pager_alloc(p, &id));
    int err;
    uint64_t before = quire_pager_page_count(p), content = tp_content_digest(p, &err);
    CHECK_EQ(err, 0);
    CHECK_OK(quire_pager_commit(p));
    uint64_t after = quire_pager_page_count(p);
    CHECK(after > before); /* no free page was left for the new nodes */
    CHECK_EQ(tp_content_digest(p, &err), content);
    uint64_t whole = tp_digest(p, &err);
    CHECK_OK(quire_pager_close(p));
    CHECK_OK(quire_pager_open(path, 0, 0, &p));
    CHECK_EQ(quire_pager_page_count(p), after);
    CHECK_EQ(tp_digest(p, &err), whole);
    CHECK_EQ(err, 0);
    CHECK_OK(quire_pager_close(p));
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    ch_unlink(path);
}

/* Growth ahead of a few pages' need is written as zeros (blocks allocated once, so that commits
 * writing there are overwrites: pager/freemap.c, grow_for); a bulk request stays sparse. */
static void test_grow_fill(void) {
    TEST("growth filled, bulk growth sparse");
    char path[256];
    ch_path(path, sizeof path, "pager-fill");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, 4096, &p));
    struct stat st;
    CHECK(stat(path, &st) == 0);
    uint64_t created = (uint64_t)st.st_size; /* the new file's free pages are holes */
    CHECK_OK(quire_pager_begin(p));
    uint64_t id;
    for (int i = 0; i < 3000; i++) CHECK_OK(quire_pager_alloc(p, &id));
    CHECK_OK(quire_pager_commit(p));
    CHECK(stat(path, &st) == 0);
    CHECK_EQ((uint64_t)st.st_size, quire_pager_page_count(p) * 4096);
    /* every block the growth added is allocated (without the fill: the few metadata pages) */
    CHECK((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size - created);
    const void *d;
    CHECK_OK(quire_pager_get(p, id, &d));
    CHECK_EQ(((const uint8_t *)d)[4095], 0);
    quire_pager_close(p);
    ch_unlink(path);

    CHECK_OK(quire_pager_create(path, 4096, &p));
    static uint64_t ids[50000];
    CHECK_OK(quire_pager_alloc_bulk(p, 50000, ids));
    CHECK(stat(path, &st) == 0);
    CHECK((uint64_t)st.st_size >= UINT64_C(50000) * 4096);
    CHECK((uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size / 2); /* not written */
    quire_pager_close(p);
    struct quire_pager_report r = {0};
    CHECK_OK(quire_pager_check(path, &r));
    ch_unlink(path);
}

int main(void) {
    test_create_open();
    test_create_interrupted();
    test_lock_processes();
    test_regular(1024);
    test_regular(4096);
    test_alloc_run();
    test_txn();
    test_durability();
    test_protected(1024);
    test_protected(4096);
    test_subpage(1024);
    test_subpage(65536);
    test_grow_failures();
    test_commit_grows();
    test_grow_fill();
    test_sparse_tib(4096);
    test_sparse_tib(1024);
    return check_done();
}
