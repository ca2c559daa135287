/*
 * tests/unit/test_pager_readers.c - read-only handles beside the writer (quire/pager.h,
 * "Readers"): a snapshot never changes until refresh, whatever the writer commits (rewritten
 * pages, freed pages, protected pages, sub-page slots); pages a snapshot can read are not
 * reused (the file grows instead) and are once it moves on; statistics (readers, oldest
 * snapshot, held pages); a reader killed with SIGKILL is cleaned up; a writer that opens while
 * an older reader is there leaves the free pages alone (the barrier) but takes what the file
 * grew by since at once; a refresh drops what the earlier snapshot left in its mapping, with the
 * writer there or gone; NOSYNC commits are seen; quire_pager_check on a file in use. Forks one
 * child at a time, each reaped.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "check.h"
#include "pager/format.h"
#include "pager/testing.h"
#include "test_pager_util.h"

static uint8_t page_byte(quire_pager *p, uint64_t id) {
    const void *d;
    if (quire_pager_get(p, id, &d)) return 0xEE;
    return ((const uint8_t *)d)[7];
}

static void set_page(quire_pager *w, uint64_t id, uint8_t v) {
    void *d;
    CHECK_OK(quire_pager_get_write(w, id, &d));
    memset(d, v, quire_pager_page_size(w));
}

static struct quire_pager_stat stat_of(quire_pager *p) {
    struct quire_pager_stat st;
    memset(&st, 0, sizeof st);
    CHECK_OK(quire_pager_stat(p, &st));
    return st;
}

/* The snapshot holds, then moves on at refresh. */
static void test_snapshot(uint32_t ps) {
    TEST("snapshot");
    char path[256];
    ch_path(path, sizeof path, "rd-snap");
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, ps, &w));
    uint64_t ids[8], pid, h;
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc_bulk(w, 8, ids));
    for (int i = 0; i < 8; i++) set_page(w, ids[i], (uint8_t)(10 + i));
    CHECK_OK(quire_pager_protected_alloc(w, &pid));
    quire_pager_writer *pw;
    CHECK_OK(quire_pager_protected_write(w, pid, &pw));
    memset(quire_pager_writer_data(pw), 1, ps);
    CHECK_OK(quire_pager_writer_commit(pw));
    CHECK_OK(quire_pager_subpage_alloc(w, 40, &h));
    void *sd;
    size_t ssz;
    CHECK_OK(quire_pager_subpage_get_write(w, h, &sd, &ssz));
    memset(sd, 5, ssz);
    CHECK_OK(quire_pager_commit(w));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r));
    uint64_t g0 = stat_of(r).generation;
    struct quire_pager_stat st = stat_of(w);
    CHECK_EQ(st.readers, 1);
    CHECK_EQ(st.oldest_snapshot, g0);
    /* the writer changes everything, many commits over */
    for (int round = 0; round < 6; round++) {
        CHECK_OK(quire_pager_begin(w));
        for (int i = 0; i < 4; i++) set_page(w, ids[i], (uint8_t)(100 + round));
        CHECK_OK(quire_pager_protected_write(w, pid, &pw));
        memset(quire_pager_writer_data(pw), 2 + round, ps);
        CHECK_OK(quire_pager_writer_commit(pw));
        CHECK_OK(quire_pager_subpage_get_write(w, h, &sd, &ssz));
        memset(sd, 6 + round, ssz);
        if (round == 2) CHECK_OK(quire_pager_free_bulk(w, 4, ids + 4)); /* freed: not reused */
        uint64_t more[6];
        CHECK_OK(quire_pager_alloc_bulk(w, 6, more));
        for (int k = 0; k < 6; k++) {
            CHECK(round < 2 || (more[k] != ids[4] && more[k] != ids[5] && more[k] != ids[6] &&
                                more[k] != ids[7]));
            set_page(w, more[k], 0xAA);
        }
        CHECK_OK(quire_pager_commit(w));
        /* the reader's snapshot has not moved */
        for (int i = 0; i < 8; i++) CHECK_EQ(page_byte(r, ids[i]), 10 + i);
        const void *d;
        CHECK_OK(quire_pager_protected_get(r, pid, &d));
        CHECK_EQ(((const uint8_t *)d)[ps - 1], 1);
        CHECK_OK(quire_pager_subpage_get(r, h, &d, &ssz));
        CHECK_EQ(((const uint8_t *)d)[0], 5);
        CHECK_EQ(stat_of(r).generation, g0);
    }
    st = stat_of(w);
    CHECK(st.held_pages > 0); /* freed pages, shadows: the reader holds them */
    CHECK_EQ(st.oldest_snapshot, g0);
    /* refresh: the latest commit */
    CHECK_EQ(quire_pager_refresh(r), 1);
    CHECK_EQ(quire_pager_refresh(r), 0);
    CHECK_EQ(stat_of(r).generation, stat_of(w).generation);
    for (int i = 0; i < 4; i++) CHECK_EQ(page_byte(r, ids[i]), 105);
    const void *d;
    CHECK_EQ(quire_pager_get(r, ids[5], &d), QUIRE_ENOTALLOC);
    CHECK_OK(quire_pager_protected_get(r, pid, &d));
    CHECK_EQ(((const uint8_t *)d)[0], 7);
    CHECK_OK(quire_pager_subpage_get(r, h, &d, &ssz));
    CHECK_EQ(((const uint8_t *)d)[0], 11);
    /* the writer moves on too: what the old snapshot held is released */
    uint64_t x;
    CHECK_OK(quire_pager_alloc(w, &x));
    CHECK_OK(quire_pager_alloc(w, &x));
    CHECK_EQ(stat_of(w).oldest_snapshot, stat_of(r).generation);
    /* writers and readers refuse each other's calls */
    CHECK_EQ(quire_pager_alloc(r, &x), QUIRE_ERDONLY);
    CHECK_EQ(quire_pager_refresh(w), 0);
    CHECK(q_pager_validate(r) == NULL);
    CHECK(q_pager_validate(w) == NULL);
    /* check on a file in use: the latest commit, as a reader */
    struct quire_pager_report rep = {0};
    CHECK_OK(quire_pager_check(path, &rep));
    CHECK_EQ(rep.warnings, 0);
    CHECK_EQ(rep.stat.generation, stat_of(w).generation);
    quire_pager_close(r);
    CHECK_EQ(stat_of(w).readers, 0);
    quire_pager_close(w);
    ch_unlink(path);
}

/* A stale reader holds pages back: the file grows by what the writer frees and rewrites; after
 * the reader moves on the file stops growing. */
static void test_growth(void) {
    TEST("stale reader: growth");
    char path[256];
    ch_path(path, sizeof path, "rd-grow");
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, 4096, &w));
    uint64_t ids[16];
    CHECK_OK(quire_pager_alloc_bulk(w, 16, ids));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r));
    uint64_t pc0 = quire_pager_page_count(w);
    for (int i = 0; i < 200; i++) { /* rewrite all 16 pages: each commit needs 16 new pages */
        CHECK_OK(quire_pager_begin(w));
        for (int k = 0; k < 16; k++) set_page(w, ids[k], (uint8_t)i);
        CHECK_OK(quire_pager_commit(w));
    }
    uint64_t pc1 = quire_pager_page_count(w);
    CHECK(pc1 >= pc0 + 200 * 16 / 2); /* held back: the file grew */
    struct quire_pager_stat st = stat_of(w);
    CHECK(st.held_pages >= 200 * 16 / 2);
    CHECK_EQ(quire_pager_refresh(r), 1);
    for (int i = 0; i < 200; i++) {
        CHECK_OK(quire_pager_begin(w));
        for (int k = 0; k < 16; k++) set_page(w, ids[k], (uint8_t)i);
        CHECK_OK(quire_pager_commit(w));
        if (i % 10 == 0) CHECK(quire_pager_refresh(r) >= 0);
    }
    uint64_t pc2 = quire_pager_page_count(w);
    CHECK(pc2 <= pc1 + 64); /* reused again */
    printf("stale reader: %llu pages -> %llu after 200 commits of 16 rewrites, %llu after 200 "
           "more with the reader refreshing\n",
           (unsigned long long)pc0, (unsigned long long)pc1, (unsigned long long)pc2);
    quire_pager_close(r);
    quire_pager_close(w);
    ch_unlink(path);
}

/* A child process that opens a reader, says so, and waits to be killed: its pid, or -1. */
static pid_t spawn_reader(const char *path) {
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        quire_pager *r;
        char c = quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r) == 0 ? 'r' : 'x';
        if (write(fds[1], &c, 1) != 1) _exit(1);
        for (;;) pause();
    }
    char c = 0;
    int ok = pid > 0 && read(fds[0], &c, 1) == 1 && c == 'r';
    close(fds[0]);
    close(fds[1]);
    if (pid > 0 && !ok) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return ok ? pid : -1;
}

static void kill_reader(pid_t pid) {
    int status;
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
}

/* A reader killed with SIGKILL: its slot is cleared by the next reader that opens, or by the
 * writer (the reader's pages are then released). */
static void test_killed_reader(void) {
    TEST("killed reader");
    char path[256];
    ch_path(path, sizeof path, "rd-kill");
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, 4096, &w));
    uint64_t ids[4];
    CHECK_OK(quire_pager_alloc_bulk(w, 4, ids));
    pid_t pid = spawn_reader(path);
    CHECK(pid > 0);
    CHECK_EQ(stat_of(w).readers, 1);
    if (pid > 0) kill_reader(pid);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r)); /* clears the dead slot */
    CHECK_EQ(stat_of(w).readers, 1);
    quire_pager_close(r);
    CHECK_EQ(stat_of(w).readers, 0);
    pid = spawn_reader(path);
    CHECK(pid > 0);
    if (pid > 0) kill_reader(pid);
    /* the writer finds it dead once it holds reuse back (tested at most every 50 ms) */
    int commits = 0;
    for (; commits < 100 && stat_of(w).readers; commits++) {
        usleep(20000);
        set_page(w, ids[commits % 4], (uint8_t)commits);
        CHECK_OK(quire_pager_commit(w));
    }
    CHECK(commits > 0 && commits < 10);
    CHECK_EQ(stat_of(w).readers, 0);
    CHECK_EQ(stat_of(w).oldest_snapshot, stat_of(w).generation);
    quire_pager_close(w);
    ch_unlink(path);
}

/* The barrier's set-up: a file whose 32 pages ids[] (bytes 1..32) a reader *r still reads
 * but the file's last commit frees, then a new writer *w (readers.c: it holds them back). */
static void barrier_setup(const char *path, quire_pager **w, quire_pager **r, uint64_t ids[32]) {
    CHECK_OK(quire_pager_create(path, 4096, w));
    CHECK_OK(quire_pager_begin(*w));
    CHECK_OK(quire_pager_alloc_bulk(*w, 32, ids));
    for (int i = 0; i < 32; i++) set_page(*w, ids[i], (uint8_t)(i + 1));
    CHECK_OK(quire_pager_commit(*w));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, r));
    CHECK_OK(quire_pager_free_bulk(*w, 32, ids)); /* free in the file from now on */
    quire_pager_close(*w);                        /* its memory of pending pages is gone */
    CHECK_OK(quire_pager_open(path, 0, 0, w));    /* a new writer */
}

/* A reader older than a new writer's open: the writer leaves the free pages alone until the
 * reader refreshes (their old bytes are the reader's). */
static void test_barrier(void) {
    TEST("writer opens beside an older reader");
    char path[256];
    ch_path(path, sizeof path, "rd-barrier");
    quire_pager *w, *r;
    uint64_t ids[32];
    barrier_setup(path, &w, &r, ids);
    uint64_t pc0 = quire_pager_page_count(w), more[32];
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc_bulk(w, 32, more));
    for (int i = 0; i < 32; i++) {
        CHECK(more[i] >= pc0 || (more[i] != ids[0] && more[i] != ids[31]));
        set_page(w, more[i], 0x77);
    }
    /* Pages the file grew by since the barrier are usable at once: a run is taken from them,
     * not from a group past the held one (which grew the file by 64 MiB here). */
    uint64_t run;
    CHECK_OK(quire_pager_alloc_run(w, 64, &run));
    CHECK(run >= pc0);
    CHECK(quire_pager_page_count(w) < pc0 + 1024);
    CHECK(q_pager_validate(w) == NULL);
    CHECK_OK(quire_pager_commit(w));
    for (int i = 0; i < 32; i++) CHECK_EQ(page_byte(r, ids[i]), i + 1); /* untouched */
    CHECK(quire_pager_page_count(w) > pc0);                             /* grew instead */
    CHECK(q_pager_validate(w) == NULL);
    CHECK_EQ(quire_pager_refresh(r), 1);
    uint64_t x;
    CHECK_OK(quire_pager_alloc(w, &x)); /* the barrier lifts */
    CHECK_OK(quire_pager_alloc(w, &x));
    CHECK(x < pc0); /* free pages of the old part are used again */
    CHECK(q_pager_validate(w) == NULL);
    quire_pager_close(r);
    quire_pager_close(w);
    struct quire_pager_report rep = {0};
    CHECK_OK(quire_pager_check(path, &rep));
    ch_unlink(path);
}

/* The barrier outlives an aborted transaction: abort reloads the free map from the file, and
 * the free pages the older reader still reads must stay held (p->barrier is still set). */
static void test_barrier_abort(void) {
    TEST("the barrier holds after an abort");
    char path[256];
    ch_path(path, sizeof path, "rd-barrier-abort");
    quire_pager *w, *r;
    uint64_t ids[32];
    barrier_setup(path, &w, &r, ids);
    uint64_t pc0 = quire_pager_page_count(w), x, more[32];
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc(w, &x));
    CHECK(x >= pc0);
    CHECK_OK(quire_pager_abort(w)); /* reloads the free map */
    CHECK(q_pager_validate(w) == NULL);
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc_bulk(w, 32, more));
    for (int i = 0; i < 32; i++) {
        CHECK(more[i] >= pc0); /* none of the reader's pages */
        set_page(w, more[i], 0x77);
    }
    CHECK_OK(quire_pager_commit(w));
    for (int i = 0; i < 32; i++) CHECK_EQ(page_byte(r, ids[i]), i + 1); /* untouched */
    quire_pager_close(r);
    quire_pager_close(w);
    ch_unlink(path);
}

/* A reader whose snapshot had pages in shadows (private copies in its mapping, which with pages
 * smaller than the OS page freeze their neighbours too) refreshes after the writer closed (no
 * publication: the file's newest commit is loaded whole): every page reads that commit's bytes,
 * none a copy the earlier snapshot left, not even a neighbour that was free then and has been
 * allocated and written since. */
static void test_refresh_after_close(uint32_t ps, int close_first) {
    TEST(close_first ? "refresh after the writer closed" : "refresh: frozen neighbours");
    char path[256];
    ch_path(path, sizeof path, "rd-closed");
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, ps, &w));
    uint64_t ids[16], odd[8], more[8];
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc_bulk(w, 16, ids));
    for (int i = 0; i < 16; i++) set_page(w, ids[i], 1);
    CHECK_OK(quire_pager_commit(w));
    CHECK_OK(quire_pager_begin(w)); /* even pages rewritten (shadows), odd ones freed */
    for (int i = 0; i < 16; i += 2) set_page(w, ids[i], 2);
    for (int i = 0; i < 8; i++) odd[i] = ids[2 * i + 1];
    CHECK_OK(quire_pager_free_bulk(w, 8, odd));
    CHECK_OK(quire_pager_commit(w));
    CHECK(stat_of(w).shadow_pages >= 8);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r));
    for (int i = 0; i < 16; i += 2) CHECK_EQ(page_byte(r, ids[i]), 2);
    CHECK_OK(quire_pager_begin(w)); /* the freed pages come back with new bytes */
    CHECK_OK(quire_pager_alloc_bulk(w, 8, more));
    for (int i = 0; i < 8; i++) set_page(w, more[i], 3);
    CHECK_OK(quire_pager_commit(w));
    for (int i = 0; i < 6; i++) { /* and the even pages go home again */
        CHECK_OK(quire_pager_begin(w));
        set_page(w, more[0], 3);
        CHECK_OK(quire_pager_commit(w));
    }
    if (close_first) quire_pager_close(w);
    CHECK_EQ(quire_pager_refresh(r), 1);
    for (int i = 0; i < 16; i += 2) CHECK_EQ(page_byte(r, ids[i]), 2);
    for (int i = 0; i < 8; i++) CHECK_EQ(page_byte(r, more[i]), 3);
    CHECK(q_pager_validate(r) == NULL);
    quire_pager_close(r);
    if (!close_first) quire_pager_close(w);
    ch_unlink(path);
}

/* A writer killed inside a publication leaves the lock file's count odd: the next writer
 * evens it, and readers take its commits. */
static void test_torn_publication(void) {
    TEST("a publication cut short");
    char path[256], lock[300];
    ch_path(path, sizeof path, "rd-torn");
    snprintf(lock, sizeof lock, "%s-lock", path);
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, 4096, &w));
    quire_pager_close(w);
    int fd = open(lock, O_RDWR);
    CHECK(fd >= 0);
    struct q_lock_hdr *h = mmap(NULL, Q_LOCK_HDR, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(h != MAP_FAILED);
    if (fd < 0 || h == MAP_FAILED) return;
    atomic_fetch_add(&h->seq, 1); /* as a writer killed between its two increments */
    CHECK_OK(quire_pager_open(path, 0, 0, &w));
    CHECK_EQ(atomic_load(&h->seq) & 1, 0);
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r));
    uint64_t id;
    CHECK_OK(quire_pager_alloc(w, &id));
    CHECK_EQ(quire_pager_refresh(r), 1);
    CHECK_EQ(stat_of(r).generation, stat_of(w).generation);
    munmap(h, Q_LOCK_HDR);
    close(fd);
    quire_pager_close(r);
    quire_pager_close(w);
    ch_unlink(path);
}

/* Readers that open while a writer opens, commits and closes (threads, so that the instants
 * interleave finely): a reader that found no writer and loads the file meanwhile is registered
 * before it reads (the writer keeps that state) and loads again when the writer rewrote
 * metadata under it. Every open succeeds. */
static const char *race_path;
static _Atomic int race_failed;

static void *race_writer(void *arg) {
    (void)arg;
    quire_pager *w;
    if (quire_pager_open(race_path, 0, 0, &w)) {
        atomic_fetch_add(&race_failed, 1);
        return NULL;
    }
    for (int i = 0; i < 4; i++) {
        uint64_t id;
        void *d;
        if (quire_pager_begin(w) || quire_pager_alloc(w, &id) || quire_pager_get_write(w, id, &d))
            atomic_fetch_add(&race_failed, 1);
        else
            memset(d, i, quire_pager_page_size(w));
        if (quire_pager_commit(w)) atomic_fetch_add(&race_failed, 1);
    }
    quire_pager_close(w);
    return NULL;
}

static void *race_reader(void *arg) {
    (void)arg;
    quire_pager *r;
    int rc = quire_pager_open(race_path, QUIRE_PAGER_RDONLY, 0, &r);
    if (rc) {
        fprintf(stderr, "reader open: %s\n", quire_strerror(rc));
        atomic_fetch_add(&race_failed, 1);
        return NULL;
    }
    if (q_pager_validate(r)) atomic_fetch_add(&race_failed, 1);
    quire_pager_close(r);
    return NULL;
}

static void test_open_race(void) {
    TEST("readers open while writers come and go");
    char path[256];
    ch_path(path, sizeof path, "rd-race");
    race_path = path;
    quire_pager *w;
    CHECK_OK(quire_pager_create(path, 1024, &w));
    quire_pager_close(w);
    for (int it = 0; it < 1000; it++) {
        pthread_t t[4];
        CHECK(pthread_create(&t[0], NULL, race_writer, NULL) == 0);
        for (int i = 1; i < 4; i++) CHECK(pthread_create(&t[i], NULL, race_reader, NULL) == 0);
        for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    }
    CHECK_EQ(atomic_load(&race_failed), 0);
    struct quire_pager_report rep = {0};
    CHECK_OK(quire_pager_check(path, &rep));
    ch_unlink(path);
}

/* NOSYNC commits are visible to readers before they are durable. */
static void test_nosync_seen(void) {
    TEST("readers see NOSYNC commits");
    char path[256];
    ch_path(path, sizeof path, "rd-nosync");
    quire_pager *w, *r;
    CHECK_OK(quire_pager_create(path, 4096, &w));
    CHECK_OK(quire_pager_set_durability(w, QUIRE_PAGER_NOSYNC));
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &r));
    uint64_t id;
    CHECK_OK(quire_pager_begin(w));
    CHECK_OK(quire_pager_alloc(w, &id));
    set_page(w, id, 0x42);
    CHECK_OK(quire_pager_commit(w));
    CHECK(stat_of(w).durable_generation < stat_of(w).generation);
    CHECK_EQ(quire_pager_refresh(r), 1);
    CHECK_EQ(page_byte(r, id), 0x42);
    CHECK(stat_of(r).durable_generation < stat_of(r).generation);
    CHECK_OK(quire_pager_sync(w));
    quire_pager_close(r);
    quire_pager_close(w);
    ch_unlink(path);
}

int main(void) {
    test_snapshot(4096);
    test_snapshot(1024);
    test_growth();
    test_killed_reader();
    test_barrier();
    test_barrier_abort();
    for (int c = 0; c < 2; c++) {
        test_refresh_after_close(4096, c);
        test_refresh_after_close(1024, c);
    }
    test_torn_publication();
    test_open_race();
    test_nosync_seen();
    return check_done();
}
