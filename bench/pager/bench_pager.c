/*
 * bench/pager/bench_pager.c - durable commits per second: quire's pager vs LMDB vs SQLite, on the
 * same file system in one run; and a 100,000-page bulk allocation against fallocate + fdatasync.
 *
 *   quire alloc        quire_pager_alloc() of one page: one durable commit
 *   quire alloc+write  begin, alloc one page, fill its 4 KiB through a write view, commit
 *                      (the page's bytes are durable too: the same work as an LMDB put)
 *   quire rewrite      rewrite all 4 KiB of one of 1,000 committed pages and commit (the page
 *                      goes to a shadow page, copied back home by the next commit)
 *   LMDB put           one 4 KiB value put in its own write transaction (default durability)
 *   SQLite WAL/DELETE  one 4 KiB-blob row inserted per transaction, synchronous=FULL
 *
 * The engines run interleaved, ROUNDS times (SECONDS each per round), so that load from other
 * processes on a shared machine hits them alike; the table shows the median, min and max rate.
 * The bulk row is the median of ROUNDS runs of each.
 *
 * Flushes per commit are counted, not assumed: this program defines fdatasync(), fsync() and
 * msync() (bench/flush_count.h; msync counts with MS_SYNC only), which count the call and make
 * the system call, so every call from quire (linked statically), LMDB and SQLite (shared
 * libraries: the executable's definition takes precedence) is seen.
 * LMDB writes its meta page through a second descriptor opened with O_DSYNC: that second flush
 * happens inside pwrite(), which the counter does not see.
 *
 * Usage: bench_pager [DIR] [SECONDS] [ROUNDS]           (defaults: /tmp, 2, 5)
 *        bench_pager --only ENGINE COUNT [DIR]          (COUNT commits of one engine, no table:
 *                                                        for `strace -c -f`; bulk and fallocate
 *                                                        run once whatever COUNT)
 * ENGINE: quire, quire-write, lmdb, sqlite-wal, sqlite-delete, bulk, fallocate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <lmdb.h>
#include <sys/syscall.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/flush_count.h"
#include "quire/pager.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char dir[512] = "/tmp";
static double secs = 2;
static long max_count; /* > 0: stop after this many commits (--only) */

static int keep_going(long n, double t0, double *t) {
    *t = now();
    if (max_count) return n < max_count;
    return *t - t0 < secs;
}

static char page4k[4096];

/* Commits per second of quire_pager_alloc() (mode 0), of a transaction that allocates a page and
 * writes its 4 KiB (mode 1), or of one that rewrites a committed page (mode 2). *flushes receives
 * the fdatasync/fsync calls per commit. */
static double bench_quire(int mode, double *flushes) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-quire.pager", dir);
    unlink(path);
    quire_pager *p;
    if (quire_pager_create(path, 4096, &p)) return -1;
    enum { NPAGES = 1000 };
    static uint64_t pages[NPAGES];
    if (mode == 2) {
        void *d;
        if (quire_pager_alloc_bulk(p, NPAGES, pages)) return -1;
        if (quire_pager_begin(p)) return -1;
        for (int i = 0; i < NPAGES; i++) {
            if (quire_pager_get_write(p, pages[i], &d)) return -1;
            memcpy(d, page4k, sizeof page4k);
        }
        if (quire_pager_commit(p)) return -1;
    }
    long n = 0, f0 = n_flush;
    double t0 = now(), t;
    uint64_t id;
    do {
        void *d;
        if (mode == 1) {
            if (quire_pager_begin(p) || quire_pager_alloc(p, &id) ||
                quire_pager_get_write(p, id, &d))
                return -1;
            memcpy(d, page4k, sizeof page4k);
            memcpy(d, &n, sizeof n);
            if (quire_pager_commit(p)) return -1;
        } else if (mode == 2) {
            if (quire_pager_get_write(p, pages[(uint64_t)n * 7919 % NPAGES], &d)) return -1;
            memcpy(d, page4k, sizeof page4k);
            memcpy(d, &n, sizeof n);
            if (quire_pager_commit(p)) return -1;
        } else if (quire_pager_alloc(p, &id)) {
            return -1;
        }
        n++;
    } while (keep_going(n, t0, &t));
    *flushes = (double)(n_flush - f0) / (double)n;
    quire_pager_close(p);
    unlink(path);
    return (double)n / (t - t0);
}

static void lmdb_clean(const char *path) {
    char f[700];
    snprintf(f, sizeof f, "%s/data.mdb", path);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", path);
    unlink(f);
}

static double bench_lmdb(double *flushes) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-lmdb", dir);
    mkdir(path, 0755);
    lmdb_clean(path);
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)1 << 32) ||
        mdb_env_open(env, path, 0, 0644))
        return -1;
    if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
        mdb_txn_commit(txn))
        return -1;
    long n = 0, f0 = n_flush;
    double t0 = now(), t;
    do {
        uint64_t k = (uint64_t)n;
        MDB_val key = {sizeof k, &k}, val = {sizeof page4k, page4k};
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_put(txn, dbi, &key, &val, 0) ||
            mdb_txn_commit(txn))
            return -1;
        n++;
    } while (keep_going(n, t0, &t));
    *flushes = (double)(n_flush - f0) / (double)n;
    mdb_env_close(env);
    lmdb_clean(path);
    rmdir(path);
    return (double)n / (t - t0);
}

static void sqlite_clean(const char *path) {
    char x[700];
    unlink(path);
    snprintf(x, sizeof x, "%s-wal", path);
    unlink(x);
    snprintf(x, sizeof x, "%s-shm", path);
    unlink(x);
    snprintf(x, sizeof x, "%s-journal", path);
    unlink(x);
}

static double bench_sqlite(const char *journal, double *flushes) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-sqlite.db", dir);
    sqlite_clean(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db)) return -1;
    char sql[200];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL;", journal);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) ||
        sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)", NULL, NULL, NULL))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &st, NULL)) return -1;
    long n = 0, f0 = n_flush;
    double t0 = now(), t;
    do {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_blob(st, 1, page4k, sizeof page4k, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) return -1;
        sqlite3_reset(st);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return -1;
        n++;
    } while (keep_going(n, t0, &t));
    *flushes = (double)(n_flush - f0) / (double)n;
    sqlite3_finalize(st);
    sqlite3_close(db);
    sqlite_clean(path);
    return (double)n / (t - t0);
}

enum { BULK_N = 100000 };

/* Seconds for quire_pager_alloc_bulk() of BULK_N pages on a fresh file (one commit). */
static double bench_bulk_quire(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-bulk.pager", dir);
    unlink(path);
    quire_pager *p;
    if (quire_pager_create(path, 4096, &p)) return -1;
    uint64_t *ids = malloc(BULK_N * sizeof *ids);
    struct quire_pager_stat st0, st1;
    quire_pager_stat(p, &st0);
    double t0 = now();
    int rc = quire_pager_alloc_bulk(p, BULK_N, ids);
    double t = now() - t0;
    quire_pager_stat(p, &st1);
    if (st1.generation != st0.generation + 1 || st1.regular_pages != BULK_N) rc = -1;
    quire_pager_close(p);
    unlink(path);
    free(ids);
    return rc ? -1 : t;
}

/* Seconds for posix_fallocate() of the same bytes + one fdatasync(). */
static double bench_bulk_fallocate(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-bulk.raw", dir);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    double t0 = now();
    int rc = posix_fallocate(fd, 0, (off_t)BULK_N * 4096);
    if (!rc) rc = fdatasync(fd);
    double t = now() - t0;
    close(fd);
    unlink(path);
    return rc ? -1 : t;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 64

struct engine {
    const char *name, *label;
    double r[MAX_ROUNDS], f[MAX_ROUNDS]; /* commits/s, flushes per commit */
};

static double run_engine(const char *name, double *flushes) {
    *flushes = 0;
    if (!strcmp(name, "quire")) return bench_quire(0, flushes);
    if (!strcmp(name, "quire-write")) return bench_quire(1, flushes);
    if (!strcmp(name, "quire-rewrite")) return bench_quire(2, flushes);
    if (!strcmp(name, "lmdb")) return bench_lmdb(flushes);
    if (!strcmp(name, "sqlite-wal")) return bench_sqlite("WAL", flushes);
    if (!strcmp(name, "sqlite-delete")) return bench_sqlite("DELETE", flushes);
    if (!strcmp(name, "bulk")) return bench_bulk_quire();
    if (!strcmp(name, "fallocate")) return bench_bulk_fallocate();
    return -2;
}

int main(int argc, char **argv) {
    memset(page4k, 7, sizeof page4k);
    if (argc >= 4 && !strcmp(argv[1], "--only")) {
        max_count = atol(argv[3]);
        if (argc > 4) snprintf(dir, sizeof dir, "%s", argv[4]);
        if (max_count <= 0) max_count = 1;
        double fl;
        double r = run_engine(argv[2], &fl);
        if (r == -2) {
            fprintf(stderr, "bench_pager: unknown engine %s\n", argv[2]);
            return 2;
        }
        if (!strcmp(argv[2], "bulk") || !strcmp(argv[2], "fallocate"))
            printf("%s: 100,000 pages in %.2f ms\n", argv[2], r * 1e3);
        else
            printf("%s: %ld commits, %.1f /s, %.2f fdatasync+fsync per commit\n", argv[2],
                   max_count, r, fl);
        return r < 0;
    }
    if (argc > 1) snprintf(dir, sizeof dir, "%s", argv[1]);
    if (argc > 2) secs = atof(argv[2]);
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1) rounds = 1;
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;

    struct engine e[] = {
        {"quire", "quire pager alloc (1 page)", {0}, {0}},
        {"quire-write", "quire alloc + 4 KiB write", {0}, {0}},
        {"quire-rewrite", "quire rewrite of a 4 KiB page", {0}, {0}},
        {"lmdb", "LMDB put (4 KiB value)", {0}, {0}},
        {"sqlite-wal", "SQLite WAL, sync FULL", {0}, {0}},
        {"sqlite-delete", "SQLite rollback, sync FULL", {0}, {0}},
    };
    const int ne = (int)(sizeof e / sizeof e[0]);
    printf("durable single-page commits per second in %s: %d rounds x %.1f s per engine, "
           "interleaved\n",
           dir, rounds, secs);
    fflush(stdout);
    int failed = 0;
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < ne; i++) {
            e[i].r[k] = run_engine(e[i].name, &e[i].f[k]);
            if (e[i].r[k] < 0) failed = 1;
        }
    double med[8];
    printf("  %-30s %10s %10s %10s %14s\n", "engine", "median/s", "min/s", "max/s",
           "flushes/commit");
    for (int i = 0; i < ne; i++) {
        med[i] = median(e[i].r, rounds);
        printf("  %-30s %10.0f %10.0f %10.0f %14.2f%s\n", e[i].label, med[i], e[i].r[0],
               e[i].r[rounds - 1], median(e[i].f, rounds),
               !strcmp(e[i].name, "lmdb") ? " (+1 O_DSYNC meta write)" : "");
    }
    printf("  quire alloc+write / SQLite WAL FULL = %.2f (target >= 1), / LMDB = %.2f (target "
           ">= 2) (medians)\n",
           med[1] / med[4], med[1] / med[3]);
    printf("  quire rewrite / SQLite WAL FULL = %.2f, / LMDB = %.2f (medians)\n", med[2] / med[4],
           med[2] / med[3]);

    double bq[MAX_ROUNDS], bf[MAX_ROUNDS];
    for (int k = 0; k < rounds; k++) {
        bq[k] = bench_bulk_quire();
        bf[k] = bench_bulk_fallocate();
        if (bq[k] < 0 || bf[k] < 0) failed = 1;
    }
    double mq = median(bq, rounds), mf = median(bf, rounds);
    printf("bulk: 100,000 pages (400 MiB), %d rounds:\n", rounds);
    printf("  %-28s %10s %10s %10s\n", "operation", "median ms", "min ms", "max ms");
    printf("  %-28s %10.2f %10.2f %10.2f\n", "quire alloc_bulk, 1 commit", mq * 1e3, bq[0] * 1e3,
           bq[rounds - 1] * 1e3);
    printf("  %-28s %10.2f %10.2f %10.2f\n", "fallocate + fdatasync", mf * 1e3, bf[0] * 1e3,
           bf[rounds - 1] * 1e3);
    printf("  quire / (fallocate + fdatasync) = %.2f (medians)\n", mq / mf);
    if (failed) printf("SOME RUNS FAILED\n");
    return failed;
}
