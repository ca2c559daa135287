/*
 * tests/unit/test_pheap_corrupt.c - corrupt heap files get clear errors. Files that are not
 * heaps (no file, random bytes, a pager file without a heap), heap structures damaged behind the
 * heap's back (through the pager, so that every pager checksum still validates: a wrong header
 * version, chunk headers that lie, a root naming no allocation, a leaked page, a names table
 * that does not fit its block), and raw byte damage over the whole file. Open must return the
 * documented error and never crash; quire_pheap_check() must name the problem.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "test_pheap_util.h"

struct msgs {
    char text[8][256];
    int n;
};

static void on_problem(void *arg, const char *msg) {
    struct msgs *m = arg;
    if (m->n < 8) snprintf(m->text[m->n++], sizeof m->text[0], "%s", msg);
}

static int has(const struct msgs *m, const char *needle) {
    for (int i = 0; i < m->n; i++)
        if (strstr(m->text[i], needle)) return 1;
    return 0;
}

/* A sound heap: objects of every kind, a root, names. */
static void make_sample(const char *path) {
    quire_pheap *h;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 1024, &h));
    quire_pref r[40], x;
    for (int i = 0; i < 40; i++) {
        size_t sz = i % 10 == 9 ? 5000 : 16 + (size_t)i * 20;
        CHECK_OK(quire_pheap_alloc(h, sz, &r[i]));
        CHECK_OK(quire_pheap_set(h, r[i], 0, &i, sizeof i));
    }
    CHECK_OK(quire_pheap_alloc(h, 200000, &x));
    CHECK_OK(quire_pheap_set_root(h, r[3]));
    CHECK_OK(quire_pheap_named(h, "alpha", 64, &x, NULL));
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
}

static int check_file(const char *path, struct msgs *m, struct quire_pheap_report *r) {
    memset(m, 0, sizeof *m);
    memset(r, 0, sizeof *r);
    r->on_problem = on_problem;
    r->arg = m;
    return quire_pheap_check(path, r);
}

/* Rewrites protected page pid through the pager (checksums stay valid). */
static void poke_protected(const char *path, uint64_t pid, size_t off, const void *v, size_t n) {
    quire_pager *pg;
    quire_pager_writer *w;
    CHECK_OK(quire_pager_open(path, 0, 0, &pg));
    CHECK_OK(quire_pager_protected_write(pg, pid, &w));
    memcpy((uint8_t *)quire_pager_writer_data(w) + off, v, n);
    CHECK_OK(quire_pager_writer_commit(w));
    CHECK_OK(quire_pager_close(pg));
}

/* The protected id of the first chunk header. */
static uint64_t first_chunk_pid(const char *path) {
    quire_pager *pg;
    uint64_t cur = 0, pid = 0;
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &pg));
    while (quire_pager_next_protected(pg, &cur, &pid) == 1 && pid == PH_HDR_PID)
        ;
    quire_pager_close(pg);
    return pid;
}

static void test_not_heaps(void) {
    TEST("not heaps");
    char path[256];
    struct msgs m;
    struct quire_pheap_report r;
    quire_pheap *h;
    ch_path(path, sizeof path, "pheap-nh");
    CHECK_EQ(check_file(path, &m, &r), QUIRE_ENOENT);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    uint8_t junk[8192];
    ch_fill(junk, sizeof junk, 5);
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_EMAGIC);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h), QUIRE_EMAGIC);
    CHECK_EQ(check_file(path, &m, &r), QUIRE_EMAGIC);
    CHECK_EQ(r.is_heap, 0);
    ch_unlink(path);
    /* a pager file that holds no heap */
    quire_pager *pg;
    CHECK_OK(quire_pager_create(path, 0, &pg));
    uint64_t id;
    CHECK_OK(quire_pager_alloc(pg, &id));
    CHECK_OK(quire_pager_close(pg));
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_EMAGIC);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h), QUIRE_EMAGIC); /* not pristine */
    CHECK_EQ(check_file(path, &m, &r), QUIRE_EMAGIC);
    CHECK_EQ(r.is_heap, 0);
    CHECK_EQ(r.pager_rc, 0);
    ch_unlink(path);
    /* a truncated heap */
    make_sample(path);
    CHECK(truncate(path, 4096) == 0);
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_EFILESIZE);
    CHECK(check_file(path, &m, &r) != 0);
    ch_unlink(path);
}

static void test_structures(void) {
    TEST("damaged structures");
    char path[256];
    struct msgs m;
    struct quire_pheap_report r;
    quire_pheap *h;
    ch_path(path, sizeof path, "pheap-st");

    /* header: unsupported version */
    make_sample(path);
    uint32_t v = 99;
    poke_protected(path, PH_HDR_PID, offsetof(struct ph_header, version), &v, 4);
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_EVERSION);
    CHECK_EQ(check_file(path, &m, &r), QUIRE_ECHECKSUM);
    CHECK(has(&m, "version"));
    ch_unlink(path);

    /* root names no allocation */
    make_sample(path);
    uint64_t bad = 123456;
    poke_protected(path, PH_HDR_PID, offsetof(struct ph_header, root), &bad, 8);
    CHECK_EQ(quire_pheap_open(path, 0, 0, &h), QUIRE_EHEAP);
    CHECK_EQ(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h), QUIRE_EHEAP);
    CHECK_EQ(check_file(path, &m, &r), QUIRE_ECHECKSUM);
    CHECK(has(&m, "root"));
    ch_unlink(path);

    /* chunk header: bad magic, unknown descriptor, used count that lies, run past the end */
    static const struct {
        size_t off;
        uint8_t val;
        const char *why;
    } pokes[] = {
        {0, 0x00, "magic"},
        {PH_DESC_OFF, 9, "type is unknown"},
        {PH_DESC_OFF + 2, 0x7f, "used count"},
        {PH_DESC_OFF + 4, 0xff, "overruns"},
        {PH_DESC_OFF, PH_CONT, "continues no"},
    };
    for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++) {
        make_sample(path);
        poke_protected(path, first_chunk_pid(path), pokes[i].off, &pokes[i].val, 1);
        int rc = quire_pheap_open(path, 0, 0, &h);
        CHECK_EQ(rc, QUIRE_EHEAP);
        if (!rc) quire_pheap_close(h);
        CHECK_EQ(check_file(path, &m, &r), QUIRE_ECHECKSUM);
        CHECK(has(&m, "chunk header"));
        CHECK(has(&m, pokes[i].why));
        if (!has(&m, pokes[i].why))
            fprintf(stderr, "  poke %zu: got '%s'\n", i, m.n ? m.text[0] : "(nothing)");
        ch_unlink(path);
    }

    /* a regular page no chunk owns: leaked */
    make_sample(path);
    quire_pager *pg;
    uint64_t id;
    CHECK_OK(quire_pager_open(path, 0, 0, &pg));
    CHECK_OK(quire_pager_alloc(pg, &id));
    CHECK_OK(quire_pager_close(pg));
    CHECK_EQ(check_file(path, &m, &r), QUIRE_ECHECKSUM);
    CHECK(has(&m, "leaked"));
    ch_unlink(path);

    /* names table that does not fit its block: find fails cleanly, check says so */
    make_sample(path);
    CHECK_OK(quire_pheap_open(path, 0, 0, &h));
    uint64_t names = ((q_pheap *)h->h.state)->hdr.names;
    uint64_t huge = UINT64_C(1) << 40;
    CHECK_OK(quire_pheap_set(h, (quire_pref){names}, 0, &huge, 8));
    CHECK_OK(quire_pheap_commit(h));
    quire_pref x;
    CHECK_EQ(quire_pheap_find(h, "alpha", &x), QUIRE_ENOTFOUND);
    CHECK_OK(quire_pheap_close(h));
    CHECK_EQ(check_file(path, &m, &r), QUIRE_ECHECKSUM);
    CHECK(has(&m, "names table"));
    ch_unlink(path);
}

/* Raw damage anywhere: open returns 0 or an error, never crashes; when it opens, reading every
 * object and name works. */
static void test_raw_bytes(void) {
    TEST("raw damage");
    char path[256], sample[256];
    ch_path(sample, sizeof sample, "pheap-rs");
    ch_path(path, sizeof path, "pheap-rw");
    make_sample(sample);
    int fd = open(sample, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    uint8_t *orig = malloc((size_t)st.st_size), *b = malloc((size_t)st.st_size);
    CHECK(read(fd, orig, (size_t)st.st_size) == st.st_size);
    close(fd);
    uint64_t s = 99, opened = 0, refused = 0;
    for (int k = 0; k < 300; k++) {
        memcpy(b, orig, (size_t)st.st_size);
        int nflips = 1 + (int)(ch_rand(&s) % 8);
        for (int f = 0; f < nflips; f++)
            b[ch_rand(&s) % (uint64_t)st.st_size] ^= (uint8_t)(1 + ch_rand(&s) % 255);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(write(fd, b, (size_t)st.st_size) == st.st_size);
        close(fd);
        quire_pheap *h;
        int rc = quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h);
        if (rc) {
            refused++;
            CHECK(rc < 0 && quire_strerror(rc) != NULL);
            continue;
        }
        opened++;
        (void)th_digest(h, NULL);
        quire_pref x;
        (void)quire_pheap_find(h, "alpha", &x);
        CHECK_OK(quire_pheap_close(h));
        struct msgs m;
        struct quire_pheap_report r;
        (void)check_file(path, &m, &r);
    }
    CHECK_EQ(opened + refused, 300);
    printf("raw damage: %llu files opened, %llu refused with an error\n",
           (unsigned long long)opened, (unsigned long long)refused);
    free(orig);
    free(b);
    ch_unlink(path);
    ch_unlink(sample);
}

int main(void) {
    test_not_heaps();
    test_structures();
    test_raw_bytes();
    return check_done();
}
