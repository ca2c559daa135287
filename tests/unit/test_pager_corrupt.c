/*
 * tests/unit/test_pager_corrupt.c - corrupt files: truncated files, random bytes over the
 * superblock slots or the metadata, wrong magic, wrong version, files that are not pager files.
 * Open must return the right error (never crash); a torn newest superblock falls back to the
 * previous commit; `check` reports what it finds. Then the fuzz target (tests/fuzz/fuzz_pager.c)
 * runs over the seed corpus in tests/fuzz/corpus/ and over 3,000 random mutations of it, with
 * plain gcc (no libFuzzer needed). `test_pager_corrupt --write-corpus DIR` regenerates the seeds.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "../fuzz/fuzz_pager.c"
#include "check.h"
#include "pager/testing.h"
#include "test_pager_util.h"

static uint8_t *slurp(const char *path, size_t *n) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    fstat(fd, &st);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    *n = (size_t)read(fd, b, (size_t)st.st_size);
    close(fd);
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, b, n) == (ssize_t)n);
    close(fd);
}

/* A small pager file with something of everything in it. */
static void make_sample(const char *path, uint32_t ps, uint64_t seed) {
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, ps, &p));
    uint64_t ids[12], pids[3], h;
    CHECK_OK(quire_pager_alloc_bulk(p, 12, ids));
    for (int i = 0; i < 12; i++) {
        void *d;
        CHECK_OK(quire_pager_get_write(p, ids[i], &d));
        ch_fill(d, ps, seed + (uint64_t)i);
    }
    CHECK_OK(quire_pager_free(p, ids[3]));
    CHECK_OK(quire_pager_protected_alloc_bulk(p, 3, pids));
    quire_pager_writer *w;
    CHECK_OK(quire_pager_protected_write(p, pids[1], &w));
    ch_fill(quire_pager_writer_data(w), ps, seed);
    CHECK_OK(quire_pager_writer_commit(w));
    for (int i = 0; i < 5; i++) CHECK_OK(quire_pager_subpage_alloc(p, 40 + (size_t)i * 100, &h));
    CHECK_OK(quire_pager_subpage_free(p, h));
    quire_pager_close(p);
}

static void put_super(uint8_t *img, uint64_t off, struct q_super *sb, int fix_crc) {
    if (fix_crc) sb->crc = q_base_crc32c(0, sb, offsetof(struct q_super, crc));
    memcpy(img + off, sb, sizeof *sb);
}

static void test_cases(void) {
    TEST("corrupt files");
    char path[256], bad[256];
    ch_path(path, sizeof path, "pager-cor");
    ch_path(bad, sizeof bad, "pager-corbad");
    const uint32_t ps = 1024;
    make_sample(path, ps, 5);
    size_t n;
    uint8_t *orig = slurp(path, &n), *img = malloc(n);
    const uint64_t s1 = q_pager_super_page(ps, 1) * ps; /* slot 1's offset: the next 4 KiB */
    quire_pager *p;
    struct quire_pager_report r;
    uint64_t s = 99;

    /* not a pager file at all; empty */
    for (size_t i = 0; i < n; i++) img[i] = (uint8_t)ch_rand(&s);
    spit(bad, img, n);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMAGIC);
    spit(bad, (const uint8_t *)"hello, world\n", 13);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMAGIC);
    spit(bad, img, 0);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMAGIC);
    memset(&r, 0, sizeof r);
    CHECK_EQ(quire_pager_check(bad, &r), QUIRE_EMAGIC);
    CHECK_EQ(r.chosen_slot, -1); /* not opened: the return value says why */

    /* wrong magic in both slots */
    struct q_super sb0, sb1;
    memcpy(&sb0, orig, sizeof sb0);
    memcpy(&sb1, orig + s1, sizeof sb1);
    memcpy(img, orig, n);
    img[0] ^= 0x20;
    img[s1] ^= 0x20;
    spit(bad, img, n);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMAGIC);

    /* wrong version, checksums valid */
    memcpy(img, orig, n);
    struct q_super a = sb0, b = sb1;
    a.version = b.version = Q_VERSION + 97;
    put_super(img, 0, &a, 1);
    put_super(img, s1, &b, 1);
    spit(bad, img, n);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EVERSION);

    /* random bytes over both superblock slots (magic kept) */
    memcpy(img, orig, n);
    for (int i = 16; i < 600; i++) img[i] = img[s1 + i] = (uint8_t)ch_rand(&s);
    spit(bad, img, n);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_ESUPER);
    CHECK_EQ(quire_pager_open(bad, 0, 2048, &p), QUIRE_ESUPER);

    /* the newest slot torn: the previous commit opens, check passes */
    int newest = sb0.generation > sb1.generation ? 0 : 1;
    uint64_t older_gen = newest ? sb0.generation : sb1.generation;
    memcpy(img, orig, n);
    for (int i = 512; i < 1024; i++) img[(newest ? s1 : 0) + (uint64_t)i] = (uint8_t)ch_rand(&s);
    spit(bad, img, n);
    CHECK_OK(quire_pager_open(bad, 0, 0, &p));
    struct quire_pager_stat st;
    quire_pager_stat(p, &st);
    CHECK_EQ(st.generation, older_gen);
    quire_pager_close(p);
    memset(&r, 0, sizeof r);
    CHECK_OK(quire_pager_check(bad, &r));
    CHECK_EQ(r.slot_valid[newest], 0);
    CHECK_EQ(r.slot_valid[1 - newest], 1);

    /* slot 0 unreadable: slot 1 is found without knowing the page size */
    if (newest == 1) {
        memcpy(img, orig, n);
        memset(img, 0xFF, 1024);
        spit(bad, img, n);
        CHECK_OK(quire_pager_open(bad, 0, 0, &p));
        CHECK_EQ(quire_pager_page_size(p), ps);
        quire_pager_close(p);
    }

    /* random bytes over the newest metadata: open falls back, check complains; both: EMETA */
    {
        struct q_super *nsb = newest ? &sb1 : &sb0;
        const struct q_ref *leaf0 = &nsb->root[Q_TREE_FREEMAP][0];
        uint64_t cur = leaf0->copy[leaf0->flags & Q_REF_SEL];
        memcpy(img, orig, n);
        for (int i = 0; i < 64; i++) img[cur * ps + 100 + (uint64_t)i] ^= 0x5A;
        spit(bad, img, n);
        int rc = quire_pager_open(bad, 0, 0, &p);
        CHECK(rc == 0 || rc == QUIRE_EMETA);
        if (rc == 0) {
            quire_pager_stat(p, &st);
            CHECK_EQ(st.generation, older_gen);
            quire_pager_close(p);
            memset(&r, 0, sizeof r);
            CHECK_EQ(quire_pager_check(bad, &r), QUIRE_ECHECKSUM);
            CHECK(r.problems >= 1);
        }
        uint64_t other = leaf0->copy[1 - (leaf0->flags & Q_REF_SEL)];
        for (int i = 0; i < 64; i++) img[other * ps + 100 + (uint64_t)i] ^= 0x5A;
        spit(bad, img, n);
        CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMETA);
        memset(&r, 0, sizeof r);
        CHECK_EQ(quire_pager_check(bad, &r), QUIRE_EMETA);
    }

    /* the fuzz target's checksum repair works: a protected copy with a flipped byte fails
     * check, and passes once the checksums are recomputed */
    {
        struct q_super *nsb = newest ? &sb1 : &sb0;
        const struct q_ref *pl = &nsb->root[Q_TREE_PROT][0];
        CHECK(nsb->height[Q_TREE_PROT] == 0 && (pl->flags & Q_REF_PRESENT));
        struct q_ref rec;
        memcpy(&rec, orig + pl->copy[pl->flags & Q_REF_SEL] * ps + sizeof rec, sizeof rec);
        memcpy(img, orig, n);
        img[rec.copy[rec.flags & Q_REF_SEL] * ps + 7] ^= 1;
        int crc = 0;
        CHECK_OK(fuzz_pager_one(img, n, &crc));
        CHECK_EQ(crc, QUIRE_ECHECKSUM);
        fuzz_fix_checksums(img, n);
        CHECK_OK(fuzz_pager_one(img, n, &crc));
        CHECK_EQ(crc, 0);
    }

    /* truncated files */
    spit(bad, orig, n - ps);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EFILESIZE);
    spit(bad, orig, 3 * ps);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EFILESIZE);
    spit(bad, orig, 700);
    CHECK_EQ(quire_pager_open(bad, 0, 0, &p), QUIRE_EMAGIC);
    memset(&r, 0, sizeof r);
    spit(bad, orig, n / 2);
    CHECK_EQ(quire_pager_check(bad, &r), QUIRE_EFILESIZE);

    /* the intact file is sound */
    memset(&r, 0, sizeof r);
    CHECK_OK(quire_pager_check(path, &r));
    CHECK_EQ(r.stat.regular_pages, 11);
    CHECK_EQ(r.stat.protected_pages, 3);
    CHECK_EQ(r.stat.subpage_slots, 4);
    free(orig);
    free(img);
    ch_unlink(path);
    ch_unlink(bad);
}

static void count_problem(void *arg, const char *msg) {
    (void)msg;
    ++*(int *)arg;
}

/* Files whose every checksum is valid but whose free map lies: check must find it. */
static void test_inconsistent_map(void) {
    TEST("check: free map inconsistent, checksums valid");
    char path[256];
    ch_path(path, sizeof path, "pager-incons");
    const uint32_t ps = 1024;
    struct quire_pager_report r;
    int calls = 0;
    for (int kase = 0; kase < 3; kase++) {
        ch_unlink(path);
        make_sample(path, ps, 9);
        memset(&r, 0, sizeof r);
        CHECK_OK(quire_pager_check(path, &r));
        quire_pager *p;
        CHECK_OK(quire_pager_open(path, 0, 0, &p));
        struct q_ref ref;
        CHECK_OK(q_pager_protected_ref(p, 1, &ref));
        uint64_t copy = ref.copy[1 - (ref.flags & Q_REF_SEL)], leak = 0, cur = 0, reg = 0;
        CHECK_OK(quire_pager_alloc(p, &leak));
        CHECK_OK(quire_pager_free(p, leak));
        CHECK_EQ(quire_pager_next_page(p, &cur, &reg), 1);
        if (kase == 0) /* a protected copy handed out as a regular page */
            CHECK_OK(q_pager_set_type(p, copy, Q_REGULAR));
        else if (kase == 1) /* a free page marked internal: leaked */
            CHECK_OK(q_pager_set_type(p, leak, Q_INTERNAL));
        else /* a protected copy marked free: the next allocation would take it */
            CHECK_OK(q_pager_set_type(p, copy, Q_FREE));
        CHECK_OK(quire_pager_commit(p));
        quire_pager_close(p);
        memset(&r, 0, sizeof r);
        r.on_problem = count_problem;
        r.arg = &calls;
        CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p)); /* checksums are fine */
        quire_pager_close(p);
        CHECK_EQ(quire_pager_check(path, &r), QUIRE_ECHECKSUM);
        CHECK(r.problems >= 1);
        CHECK(r.slot_valid[0] && r.slot_valid[1]);
    }
    CHECK(calls >= 3);
    ch_unlink(path);
}

static int corpus_files(const char *dir, char names[][512], int max) {
    DIR *d = opendir(dir);
    int k = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < max)
        if (e->d_name[0] != '.') snprintf(names[k++], 512, "%s/%s", dir, e->d_name);
    closedir(d);
    return k;
}

static void test_corpus(void) {
    TEST("fuzz corpus");
    static char names[64][512];
    int k = corpus_files("tests/fuzz/corpus", names, 64);
    CHECK(k >= 3); /* run from the repository root */
    uint64_t s = 2024, opened = 0, runs = 0, fixed_opened = 0;
    for (int i = 0; i < k; i++) {
        size_t n;
        uint8_t *b = slurp(names[i], &n);
        CHECK(b != NULL);
        if (!b) continue;
        int crc;
        int rc = fuzz_pager_one(b, n, &crc);
        runs++;
        opened += rc == 0;
        /* mutations: flipped bytes, overwritten runs, truncations, grown files */
        uint8_t *m = malloc(n + 8192);
        for (int j = 0; j < 3000 / k + 1; j++) {
            size_t mn = n;
            memcpy(m, b, n);
            int kind = (int)(ch_rand(&s) % 4);
            if (kind == 0 && n)
                for (int f = 0; f < 1 + (int)(ch_rand(&s) % 8); f++)
                    m[ch_rand(&s) % n] ^= (uint8_t)(1u << (ch_rand(&s) % 8));
            else if (kind == 1 && n) {
                size_t off = ch_rand(&s) % n, len = 1 + ch_rand(&s) % 256;
                for (size_t x = off; x < off + len && x < n; x++) m[x] = (uint8_t)ch_rand(&s);
            } else if (kind == 2) {
                mn = n ? ch_rand(&s) % n : 0;
            } else {
                mn = n + ch_rand(&s) % 8192;
                for (size_t x = n; x < mn; x++) m[x] = (uint8_t)ch_rand(&s);
            }
            rc = fuzz_pager_one(m, mn, &crc);
            runs++;
            opened += rc == 0;
            if (rc == 0) CHECK(crc == 0 || crc == QUIRE_ECHECKSUM);
            /* the same mutation with its checksums repaired: reaches the metadata validation */
            fuzz_fix_checksums(m, mn);
            rc = fuzz_pager_one(m, mn, &crc);
            runs++;
            opened += rc == 0;
            fixed_opened += rc == 0;
            if (rc == 0) CHECK(crc == 0 || crc == QUIRE_ECHECKSUM);
        }
        free(m);
        free(b);
    }
    printf("fuzz corpus: %llu inputs run, %llu opened (%llu after repairing checksums)\n",
           (unsigned long long)runs, (unsigned long long)opened, (unsigned long long)fixed_opened);
    CHECK(opened > 0);
    CHECK(fixed_opened > 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--write-corpus")) {
        char path[600];
        uint32_t sizes[3] = {1024, 2048, 4096};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/pager-%u", argv[2], sizes[i]);
            ch_unlink(path);
            make_sample(path, sizes[i], (uint64_t)i);
        }
        snprintf(path, sizeof path, "%s/not-a-pager", argv[2]);
        spit(path, (const uint8_t *)"QUIREPGR but not really a pager file\n", 37);
        return check_done();
    }
    test_cases();
    test_inconsistent_map();
    test_corpus();
    return check_done();
}
