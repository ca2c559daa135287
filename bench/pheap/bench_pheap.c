/*
 * bench/pheap/bench_pheap.c - the persistent heap against quire's malloc and libpmemobj.
 *
 *  1. alloc/free throughput inside one transaction: N allocations of 16..256 bytes (each one's
 *     first 8 bytes written, through quire_pheap_write for the heap), then N frees, then one
 *     commit for the heap; the same sizes through quire_malloc/quire_free.
 *  2. durable small transactions per second, on a regular file of one file system (DIR):
 *     each transaction allocates a 64-byte record, fills it, links it into a list whose head and
 *     counter live in the root object (an older object: undo-logged by libpmemobj, shadowed by
 *     quire's pager), and commits.
 *       quire pheap : quire_pheap_commit (one fdatasync: pages, metadata, superblock)
 *       libpmemobj  : TX_BEGIN..TX_END on a file that is not persistent memory, where
 *                     libpmemobj makes every persist durable with msync(MS_SYNC): the same
 *                     durability (PMEM_IS_PMEM_FORCE must not be set; the bench refuses it)
 *     Engines run interleaved ROUNDS times, SECONDS each; the table shows the median rate and
 *     the flushes per transaction, counted: this program defines fdatasync(), fsync() and
 *     msync() (bench/flush_count.h), which count the call and make the system call (quire is linked
 * statically; libpmemobj's calls resolve to the executable's definitions).
 *  3. named objects: N names inserted in one transaction (and committed), for N = 20,000 and
 *     100,000: the time per insertion stays flat (amortized O(1)).
 *
 * Usage: bench_pheap [DIR] [SECONDS] [ROUNDS] [N]     (defaults: /tmp, 2, 3, 200000)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <libpmemobj.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/flush_count.h"
#include "quire/alloc.h"
#include "quire/pheap.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) {                                                                                 \
            fprintf(stderr, "%s: %s\n", #call, quire_strerror(rc_));                               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t rng = 88172645463325252ull;
static uint64_t xr(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- 1. throughput inside one transaction ---------------------------------------------- */

static double commit_time; /* of the last heap_churn */

static double heap_churn(const char *dir, size_t n, const size_t *sizes) {
    char path[512];
    snprintf(path, sizeof path, "%s/bench-pheap-churn-%d", dir, (int)getpid());
    unlink(path);
    quire_pheap *h;
    TRY(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    quire_pref *r = malloc(n * sizeof *r);
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        void *p;
        TRY(quire_pheap_alloc(h, sizes[i], &r[i]));
        TRY(quire_pheap_write(h, r[i], 0, 8, &p));
        memcpy(p, &i, 8);
    }
    for (size_t i = 0; i < n; i++) TRY(quire_pheap_free(h, r[i]));
    double t = now() - t0;
    t0 = now();
    TRY(quire_pheap_commit(h));
    commit_time = now() - t0;
    TRY(quire_pheap_close(h));
    unlink(path);
    free(r);
    return t;
}

static double malloc_churn(size_t n, const size_t *sizes) {
    void **r = malloc(n * sizeof *r);
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        r[i] = quire_malloc(sizes[i]);
        memcpy(r[i], &i, 8);
    }
    for (size_t i = 0; i < n; i++) quire_free(r[i]);
    double t = now() - t0;
    free(r);
    return t;
}

/* ---- 2. small durable transactions -------------------------------------------------------- */

struct rec {
    uint64_t next, value, pad[6]; /* 64 bytes; next: offset (heap) or oid.off (pmemobj) */
};
struct root {
    uint64_t head, count;
};

static quire_pheap *qh;
static quire_pref qroot;

static void quire_setup(const char *path) {
    unlink(path);
    TRY(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &qh));
    TRY(quire_pheap_zalloc(qh, sizeof(struct root), &qroot));
    TRY(quire_pheap_set_root(qh, qroot));
    TRY(quire_pheap_commit(qh));
}

static void quire_txn(uint64_t i) {
    const struct root *r = quire_pheap_ptr(qh, qroot);
    struct root nr = {0, r->count + 1};
    quire_pref x;
    struct rec *p;
    TRY(quire_pheap_alloc(qh, sizeof *p, &x));
    TRY(quire_pheap_write(qh, x, 0, sizeof *p, (void **)&p));
    memset(p, 0, sizeof *p);
    p->next = ((const struct root *)quire_pheap_ptr(qh, qroot))->head;
    p->value = i;
    nr.head = x.off;
    TRY(quire_pheap_set(qh, qroot, 0, &nr, sizeof nr));
    TRY(quire_pheap_commit(qh));
}

static PMEMobjpool *pop;

static void pmem_setup(const char *path) {
    unlink(path);
    pop = pmemobj_create(path, "bench", (size_t)256 << 20, 0644);
    if (!pop) {
        fprintf(stderr, "pmemobj_create: %s\n", pmemobj_errormsg());
        exit(1);
    }
}

static void pmem_txn(uint64_t i) {
    PMEMoid root = pmemobj_root(pop, sizeof(struct root));
    struct root *r = pmemobj_direct(root);
    TX_BEGIN(pop) {
        pmemobj_tx_add_range(root, 0, sizeof *r);
        PMEMoid x = pmemobj_tx_alloc(sizeof(struct rec), 1);
        struct rec *p = pmemobj_direct(x);
        memset(p, 0, sizeof *p);
        p->next = r->head;
        p->value = i;
        r->head = x.off;
        r->count++;
    }
    TX_ONABORT {
        fprintf(stderr, "pmemobj transaction aborted\n");
        exit(1);
    }
    TX_END
}

/* ---- 3. named objects ---------------------------------------------------------------------- */

static double names_once(const char *dir, int n) {
    char path[512], nm[32];
    snprintf(path, sizeof path, "%s/bench-pheap-names-%d", dir, (int)getpid());
    unlink(path);
    quire_pheap *h;
    TRY(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    double t0 = now();
    for (int i = 0; i < n; i++) {
        quire_pref x;
        snprintf(nm, sizeof nm, "object-%d", i);
        TRY(quire_pheap_named(h, nm, 16, &x, NULL));
    }
    TRY(quire_pheap_commit(h));
    double t = now() - t0;
    TRY(quire_pheap_close(h));
    unlink(path);
    return t;
}

static void names_bench(const char *dir) {
    double a = 1e9, b = 1e9;
    for (int k = 0; k < 3; k++) {
        double x = names_once(dir, 20000), y = names_once(dir, 100000);
        if (x < a) a = x;
        if (y < b) b = y;
    }
    printf("\nnamed objects inserted in one transaction, then committed (best of 3):\n");
    printf("  20,000 names   %8.3f s  (%.2f us per name)\n", a, a * 1e6 / 20000);
    printf("  100,000 names  %8.3f s  (%.2f us per name)\n", b, b * 1e6 / 100000);
    printf("  100,000 / 20,000 = %.1f (5 when an insertion costs O(1))\n", b / a);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double secs = argc > 2 ? atof(argv[2]) : 2;
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    size_t n = argc > 4 ? (size_t)atoll(argv[4]) : 200000;
    if (getenv("PMEM_IS_PMEM_FORCE")) {
        fprintf(stderr, "PMEM_IS_PMEM_FORCE is set: libpmemobj would skip msync; unset it\n");
        return 1;
    }
    if (rounds < 1) rounds = 1;

    size_t *sizes = malloc(n * sizeof *sizes);
    for (size_t i = 0; i < n; i++) sizes[i] = 16 + xr() % 241;
    double th[9], tm[9], tc[9];
    int reps = rounds < 9 ? rounds : 9;
    for (int k = 0; k < reps; k++) {
        th[k] = heap_churn(dir, n, sizes);
        tc[k] = commit_time;
        tm[k] = malloc_churn(n, sizes);
    }
    qsort(th, (size_t)reps, sizeof *th, cmp_d);
    qsort(tm, (size_t)reps, sizeof *tm, cmp_d);
    qsort(tc, (size_t)reps, sizeof *tc, cmp_d);
    double hth = th[reps / 2], htm = tm[reps / 2];
    printf("alloc+free inside one transaction (%zu blocks of 16..256 bytes, median of %d):\n", n,
           reps);
    printf("  %-34s %12.0f ops/s  (%.1f ns per alloc+free pair)\n", "quire pheap",
           2.0 * (double)n / hth, hth * 1e9 / (double)n);
    printf("  %-34s %12.3f s (durable: the transaction's pages, metadata, one sync)\n",
           "  then its one commit", tc[reps / 2]);
    printf("  %-34s %12.0f ops/s  (%.1f ns per alloc+free pair)\n", "quire malloc",
           2.0 * (double)n / htm, htm * 1e9 / (double)n);
    printf("  ratio malloc/pheap: %.1fx\n\n", hth / htm);
    free(sizes);

    char qpath[512], ppath[512];
    snprintf(qpath, sizeof qpath, "%s/bench-pheap-q-%d", dir, (int)getpid());
    snprintf(ppath, sizeof ppath, "%s/bench-pheap-p-%d", dir, (int)getpid());
    quire_setup(qpath);
    pmem_setup(ppath);
    double rq[32], rp[32], fq[32], fp[32];
    if (rounds > 32) rounds = 32;
    uint64_t iq = 0, ip = 0;
    for (int k = 0; k < rounds; k++) {
        double t0 = now(), t;
        uint64_t c = 0;
        long f0 = n_flush;
        while ((t = now() - t0) < secs) quire_txn(iq++), c++;
        rq[k] = (double)c / t;
        fq[k] = (double)(n_flush - f0) / (double)c;
        t0 = now();
        c = 0;
        f0 = n_flush;
        while ((t = now() - t0) < secs) pmem_txn(ip++), c++;
        rp[k] = (double)c / t;
        fp[k] = (double)(n_flush - f0) / (double)c;
    }
    /* both lists hold every committed record */
    const struct root *qr = quire_pheap_ptr(qh, qroot);
    struct root *pr = pmemobj_direct(pmemobj_root(pop, sizeof(struct root)));
    if (qr->count != iq || pr->count != ip) {
        fprintf(stderr, "count mismatch: quire %llu/%llu pmemobj %llu/%llu\n",
                (unsigned long long)qr->count, (unsigned long long)iq,
                (unsigned long long)pr->count, (unsigned long long)ip);
        return 1;
    }
    TRY(quire_pheap_close(qh));
    pmemobj_close(pop);
    unlink(qpath);
    unlink(ppath);
    qsort(rq, (size_t)rounds, sizeof *rq, cmp_d);
    qsort(rp, (size_t)rounds, sizeof *rp, cmp_d);
    qsort(fq, (size_t)rounds, sizeof *fq, cmp_d);
    qsort(fp, (size_t)rounds, sizeof *fp, cmp_d);
    printf("durable small transactions on %s (alloc 64 B + update root; %d rounds x %.0f s, "
           "interleaved):\n",
           dir, rounds, secs);
    printf("  %-14s %10s %10s %10s %18s\n", "engine", "median/s", "min/s", "max/s",
           "flushes/commit");
    printf("  %-14s %10.0f %10.0f %10.0f %18.2f\n", "quire pheap", rq[rounds / 2], rq[0],
           rq[rounds - 1], fq[rounds / 2]);
    printf("  %-14s %10.0f %10.0f %10.0f %18.2f\n", "libpmemobj", rp[rounds / 2], rp[0],
           rp[rounds - 1], fp[rounds / 2]);
    printf("  ratio quire/libpmemobj: %.2f   (transactions: quire %llu, libpmemobj %llu)\n",
           rq[rounds / 2] / rp[rounds / 2], (unsigned long long)iq, (unsigned long long)ip);
    names_bench(dir);
    return 0;
}
