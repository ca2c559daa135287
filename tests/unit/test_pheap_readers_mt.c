/*
 * tests/unit/test_pheap_readers_mt.c - reader threads beside a writer thread in one process
 * (quire/pheap.h, "Readers"); `make test-tsan` runs it under ThreadSanitizer (the *_mt* name).
 *
 * The writer thread commits transactions of tests/unit/readers_workload.h for a while; four
 * reader threads, each with a read-only heap of its own, refresh and verify every invariant
 * (sums, checksums, a linked list, commit numbers that never go back), also for a few rounds
 * after the writer closed; they start once the writer has the heap open. Ends with no violation,
 * snapshots that moved, a small file and a sound check. The file is grown first and each reader
 * keeps its heap: ThreadSanitizer takes a mapping that reuses the addresses of another
 * thread's unmapped (or moved) one for the same memory, and reports races that are not
 * (closing and reopening readers is test_pheap_readers.c's, with processes).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "check.h"
#include "readers_workload.h"

#define NREADERS 4

static char path[256];
static _Atomic int writing = 1;
static _Atomic int opened; /* the writer has the heap open: readers start after it */
static _Atomic uint64_t commits;

struct counts {
    uint64_t snapshots, moved, violations, reopened;
    const char *why;
};

static void *writer(void *arg) {
    double secs = *(const double *)arg;
    quire_pheap *h;
    if (quire_pheap_open(path, 0, 0, &h)) {
        atomic_store(&writing, 0);
        atomic_store(&opened, 1);
        return (void *)1;
    }
    atomic_store(&opened, 1);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t s = 99;
    void *bad = NULL;
    do {
        if (rw_txn(h, &s)) {
            bad = (void *)1;
            break;
        }
        atomic_fetch_add(&commits, 1);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 < secs);
    quire_pheap_close(h);
    atomic_store(&writing, 0);
    return bad;
}

static void *reader(void *arg) {
    struct counts *c = arg;
    quire_pheap *h;
    if (quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h)) {
        c->violations++;
        c->why = "open";
        return NULL;
    }
    uint64_t last = 0;
    /* while the writer commits, then a few rounds after it closed (the file alone, no
     * publication: what the snapshot's earlier shadows left in its mapping must go) */
    for (int after = 0; after < 20; after += !atomic_load(&writing)) {
        int rc = quire_pheap_refresh(h);
        if (rc < 0) {
            c->violations++;
            c->why = "refresh";
            break;
        }
        c->moved += rc == 1;
        uint64_t seq = 0;
        const char *why = rw_verify(h, &seq);
        if (!why && seq < last) why = "commit numbers went back";
        last = seq;
        c->snapshots++;
        if (why) {
            c->violations++;
            c->why = why;
        }
    }
    quire_pheap_close(h);
    return NULL;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    ch_path(path, sizeof path, "pheap-readers-mt");
    quire_pheap *h;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    CHECK_OK(rw_setup(h));
    quire_pref big; /* room for the whole run: the mappings never move */
    CHECK_OK(quire_pheap_alloc(h, 24u << 20, &big));
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_free(h, big));
    CHECK_OK(quire_pheap_commit(h));
    CHECK_OK(quire_pheap_close(h));
    pthread_t w, r[NREADERS];
    struct counts c[NREADERS];
    memset(c, 0, sizeof c);
    CHECK(pthread_create(&w, NULL, writer, &secs) == 0);
    /* A reader registered before the writer opens holds the file's older commit, whose pages
       the writer cannot tell from free ones: it leaves them all alone and grows the file
       (pager/readers.c, the barrier; tested in test_pager_readers.c). Here the file must not
       grow, so the readers start beside an open writer. */
    while (!atomic_load(&opened)) sched_yield();
    for (int i = 0; i < NREADERS; i++) CHECK(pthread_create(&r[i], NULL, reader, &c[i]) == 0);
    void *wr;
    pthread_join(w, &wr);
    CHECK(wr == NULL);
    struct counts t = {0, 0, 0, 0, NULL};
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(r[i], NULL);
        t.snapshots += c[i].snapshots;
        t.moved += c[i].moved;
        t.violations += c[i].violations;
        t.reopened += c[i].reopened;
        if (c[i].why) fprintf(stderr, "reader %d: %s\n", i, c[i].why);
    }
    printf("reader threads: %llu snapshots verified (%llu moved), %llu violations, %llu "
           "reopens; %llu commits\n",
           (unsigned long long)t.snapshots, (unsigned long long)t.moved,
           (unsigned long long)t.violations, (unsigned long long)t.reopened,
           (unsigned long long)atomic_load(&commits));
    CHECK_EQ(t.violations, 0);
    CHECK(t.snapshots > 20);
    CHECK(t.moved > 5);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(st.st_size < 64 << 20);
    struct quire_pheap_report rep;
    memset(&rep, 0, sizeof rep);
    CHECK_OK(quire_pheap_check(path, &rep));
    CHECK_EQ(rep.problems, 0);
    ch_unlink(path);
    return check_done();
}
