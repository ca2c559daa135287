/*
 * bench/pheap/bench_readers.c - snapshot readers beside a writer: quire's persistent heap
 * against LMDB, side by side (quire/pager.h, "Readers beside the writer").
 *
 * Both stores hold N = 100,000 values of 64 bytes under keys 0..N-1: for the heap, a table of N
 * references in the root object and one allocation per value; for LMDB, one database with
 * MDB_INTEGERKEY keys. A writer process commits transactions that each rewrite 8 random values
 * (quire_pheap_set / mdb_put) with the default durability of each (one fdatasync per commit for
 * quire, the same for LMDB's mdb_txn_commit). Reader processes (0, 1 or 2) look up random keys:
 * quire through the table (quire_pheap_ptr twice, the 8-byte value read), LMDB with mdb_get in
 * a read transaction; every 1,000 lookups each moves to the latest commit (quire_pheap_refresh;
 * mdb_txn_reset + mdb_txn_renew). Each configuration runs SECONDS; the table shows lookups per
 * second per reader and the writer's commits per second, and the writer's rate with two
 * readers relative to its rate without.
 *
 * Usage: bench_readers [DIR] [SECONDS]     (defaults: /tmp, 2)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <lmdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quire/pheap.h"

#define NKEYS  100000u
#define VALUE  64u
#define PER_TX 8
#define BATCH  1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) {                                                                                 \
            fprintf(stderr, "%s: %s (%d)\n", #call,                                                \
                    rc_ < 0 ? quire_strerror(rc_) : mdb_strerror(rc_), rc_);                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- quire ---------------------------------------------------------------------------------- */

static void q_fill(const char *path) {
    quire_pheap *h;
    unlink(path);
    TRY(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    quire_pref table, *t = malloc(NKEYS * sizeof *t);
    if (!t) exit(1);
    for (uint64_t i = 0; i < NKEYS; i++) { /* allocations remap: the table is written last */
        uint64_t val[VALUE / 8] = {i};
        TRY(quire_pheap_alloc(h, VALUE, &t[i]));
        TRY(quire_pheap_set(h, t[i], 0, val, VALUE));
    }
    TRY(quire_pheap_alloc(h, NKEYS * sizeof(quire_pref), &table));
    TRY(quire_pheap_set(h, table, 0, t, NKEYS * sizeof(quire_pref)));
    free(t);
    TRY(quire_pheap_set_root(h, table));
    TRY(quire_pheap_commit(h));
    TRY(quire_pheap_close(h));
}

static uint64_t q_writer(const char *path, double end) {
    quire_pheap *h;
    TRY(quire_pheap_open(path, 0, 0, &h));
    quire_pref table;
    TRY(quire_pheap_root(h, &table));
    uint64_t s = 88172645463325252ull, n = 0;
    while (now() < end) {
        for (int k = 0; k < PER_TX; k++) {
            uint64_t i = rnd(&s) % NKEYS;
            const quire_pref *t = quire_pheap_ptr(h, table);
            uint64_t val[VALUE / 8] = {i, n};
            TRY(quire_pheap_set(h, t[i], 0, val, VALUE));
        }
        TRY(quire_pheap_commit(h));
        n++;
    }
    TRY(quire_pheap_close(h));
    return n;
}

static uint64_t q_reader(const char *path, double end, uint64_t seed) {
    quire_pheap *h;
    TRY(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h));
    quire_pref table;
    uint64_t s = seed, n = 0, sum = 0;
    while (now() < end) {
        int rc = quire_pheap_refresh(h);
        if (rc < 0) TRY(rc);
        TRY(quire_pheap_root(h, &table));
        const quire_pref *t = quire_pheap_ptr(h, table);
        for (int k = 0; k < BATCH; k++) {
            uint64_t i = rnd(&s) % NKEYS;
            const uint64_t *v = quire_pheap_ptr(h, t[i]);
            if (v[0] != i) {
                fprintf(stderr, "quire reader: key %llu holds %llu\n", (unsigned long long)i,
                        (unsigned long long)v[0]);
                exit(1);
            }
            sum += v[1];
        }
        n += BATCH;
    }
    TRY(quire_pheap_close(h));
    return n + (sum & 0); /* the sum keeps the reads */
}

/* ---- LMDB ----------------------------------------------------------------------------------- */

static MDB_env *l_env(const char *path) {
    MDB_env *env;
    TRY(mdb_env_create(&env));
    TRY(mdb_env_set_mapsize(env, (size_t)1 << 30));
    TRY(mdb_env_set_maxreaders(env, 126));
    TRY(mdb_env_open(env, path, MDB_NOSUBDIR, 0644));
    return env;
}

static void l_fill(const char *path) {
    char lock[600];
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(path);
    unlink(lock);
    MDB_env *env = l_env(path);
    MDB_txn *txn;
    MDB_dbi dbi;
    TRY(mdb_txn_begin(env, NULL, 0, &txn));
    TRY(mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi));
    for (size_t i = 0; i < NKEYS; i++) {
        uint64_t val[VALUE / 8] = {i};
        MDB_val k = {sizeof i, &i}, v = {VALUE, val};
        TRY(mdb_put(txn, dbi, &k, &v, MDB_APPEND));
    }
    TRY(mdb_txn_commit(txn));
    mdb_env_close(env);
}

static uint64_t l_writer(const char *path, double end) {
    MDB_env *env = l_env(path);
    MDB_txn *txn;
    MDB_dbi dbi;
    TRY(mdb_txn_begin(env, NULL, 0, &txn));
    TRY(mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi));
    TRY(mdb_txn_commit(txn));
    uint64_t s = 88172645463325252ull, n = 0;
    while (now() < end) {
        TRY(mdb_txn_begin(env, NULL, 0, &txn));
        for (int k = 0; k < PER_TX; k++) {
            size_t i = rnd(&s) % NKEYS;
            uint64_t val[VALUE / 8] = {i, n};
            MDB_val kv = {sizeof i, &i}, v = {VALUE, val};
            TRY(mdb_put(txn, dbi, &kv, &v, 0));
        }
        TRY(mdb_txn_commit(txn));
        n++;
    }
    mdb_env_close(env);
    return n;
}

static uint64_t l_reader(const char *path, double end, uint64_t seed) {
    MDB_env *env = l_env(path);
    MDB_txn *txn;
    MDB_dbi dbi;
    TRY(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
    TRY(mdb_dbi_open(txn, NULL, MDB_INTEGERKEY, &dbi));
    uint64_t s = seed, n = 0, sum = 0;
    while (now() < end) {
        mdb_txn_reset(txn);
        TRY(mdb_txn_renew(txn));
        for (int k = 0; k < BATCH; k++) {
            size_t i = rnd(&s) % NKEYS;
            MDB_val kv = {sizeof i, &i}, v;
            TRY(mdb_get(txn, dbi, &kv, &v));
            const uint64_t *p = v.mv_data;
            if (p[0] != i) {
                fprintf(stderr, "lmdb reader: key %zu holds %llu\n", i, (unsigned long long)p[0]);
                exit(1);
            }
            sum += p[1];
        }
        n += BATCH;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n + (sum & 0);
}

/* ---- one configuration: a writer and nr readers, each a process ---------------------------- */

struct result {
    double commits, lookups; /* per second: the writer's, per reader */
};

static struct result run(int lmdb, const char *path, int nr, double secs) {
    int fds[2];
    if (pipe(fds)) exit(1);
    double start = now() + 0.2, end = start + secs; /* everyone opens first */
    pid_t pids[3];
    for (int c = 0; c <= nr; c++) {
        fflush(NULL);
        pids[c] = fork();
        if (pids[c] < 0) exit(1);
        if (pids[c] == 0) {
            alarm((unsigned)secs + 30);
            while (now() < start) usleep(1000);
            uint64_t n = c == 0 ? (lmdb ? l_writer(path, end) : q_writer(path, end))
                                : (lmdb ? l_reader(path, end, 1234567u * (unsigned)c)
                                        : q_reader(path, end, 1234567u * (unsigned)c));
            uint64_t msg[2] = {(uint64_t)c, n};
            if (write(fds[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(1);
            _exit(0);
        }
    }
    close(fds[1]);
    struct result r = {0, 0};
    uint64_t msg[2];
    while (read(fds[0], msg, sizeof msg) == (ssize_t)sizeof msg) {
        if (msg[0] == 0)
            r.commits = (double)msg[1] / secs;
        else
            r.lookups += (double)msg[1] / secs / nr;
    }
    close(fds[0]);
    for (int c = 0; c <= nr; c++) {
        int st;
        waitpid(pids[c], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st)) {
            fprintf(stderr, "%s: a process failed\n", lmdb ? "lmdb" : "quire");
            exit(1);
        }
    }
    return r;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double secs = argc > 2 ? atof(argv[2]) : 2;
    char qpath[512], lpath[512];
    snprintf(qpath, sizeof qpath, "%s/bench-readers-q-%d", dir, (int)getpid());
    snprintf(lpath, sizeof lpath, "%s/bench-readers-l-%d", dir, (int)getpid());
    q_fill(qpath);
    l_fill(lpath);
    struct result q[3], l[3];
    for (int nr = 0; nr <= 2; nr++) { /* interleaved */
        q[nr] = run(0, qpath, nr, secs);
        l[nr] = run(1, lpath, nr, secs);
    }
    printf("\nreaders beside a writer on %s (%u values of %u B; the writer rewrites %d per "
           "durable commit; readers look up random keys, moving to the latest commit every %d; "
           "%.0f s each):\n",
           dir, NKEYS, VALUE, PER_TX, BATCH, secs);
    printf("  %-8s %8s %22s %18s\n", "engine", "readers", "lookups/s per reader", "commits/s");
    for (int nr = 0; nr <= 2; nr++) {
        printf("  %-8s %8d %22.0f %18.0f\n", "quire", nr, q[nr].lookups, q[nr].commits);
        printf("  %-8s %8d %22.0f %18.0f\n", "lmdb", nr, l[nr].lookups, l[nr].commits);
    }
    printf("  lookups quire/lmdb: %.2f (1 reader), %.2f (2 readers)\n", q[1].lookups / l[1].lookups,
           q[2].lookups / l[2].lookups);
    printf("  writer with 2 readers / without: quire %.2f, lmdb %.2f\n",
           q[2].commits / q[0].commits, l[2].commits / l[0].commits);
    char lock[600];
    unlink(qpath);
    snprintf(lock, sizeof lock, "%s-lock", qpath);
    unlink(lock);
    unlink(lpath);
    snprintf(lock, sizeof lock, "%s-lock", lpath);
    unlink(lock);
    return 0;
}
