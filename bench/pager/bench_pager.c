/*
 * bench/pager/bench_pager.c - durable commits per second: quire's pager vs LMDB vs SQLite, on the
 * same file system in one run; and a 100,000-page bulk allocation against fallocate + fdatasync.
 *
 *   quire   quire_pager_alloc() of one page: one durable commit (two fdatasyncs)
 *   LMDB    one 4 KiB value put in its own write transaction (default durability: fdatasync)
 *   SQLite  one 4 KiB-blob row inserted per transaction, synchronous=FULL, WAL and rollback
 *           journal modes
 * Usage: bench_pager [DIR] [SECONDS]   (DIR default /tmp, SECONDS per engine default 3)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quire/pager.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char dir[512];
static double secs = 3;

static double bench_quire(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-quire.pager", dir);
    unlink(path);
    quire_pager *p;
    if (quire_pager_create(path, 4096, &p)) return -1;
    long n = 0;
    double t0 = now(), t;
    uint64_t id;
    do {
        if (quire_pager_alloc(p, &id)) return -1;
        n++;
    } while ((t = now()) - t0 < secs);
    quire_pager_close(p);
    unlink(path);
    return (double)n / (t - t0);
}

static double bench_lmdb(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/bench-lmdb", dir);
    mkdir(path, 0755);
    char f[700];
    snprintf(f, sizeof f, "%s/data.mdb", path);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", path);
    unlink(f);
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)1 << 32) ||
        mdb_env_open(env, path, 0, 0644))
        return -1;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    static char page[4096];
    memset(page, 7, sizeof page);
    long n = 0;
    double t0 = now(), t;
    do {
        uint64_t k = (uint64_t)n;
        MDB_val key = {sizeof k, &k}, val = {sizeof page, page};
        if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_put(txn, dbi, &key, &val, 0) ||
            mdb_txn_commit(txn))
            return -1;
        n++;
    } while ((t = now()) - t0 < secs);
    mdb_env_close(env);
    snprintf(f, sizeof f, "%s/data.mdb", path);
    unlink(f);
    snprintf(f, sizeof f, "%s/lock.mdb", path);
    unlink(f);
    rmdir(path);
    return (double)n / (t - t0);
}

static double bench_sqlite(const char *journal) {
    char path[600], x[700];
    snprintf(path, sizeof path, "%s/bench-sqlite.db", dir);
    unlink(path);
    snprintf(x, sizeof x, "%s-wal", path);
    unlink(x);
    snprintf(x, sizeof x, "%s-shm", path);
    unlink(x);
    sqlite3 *db;
    if (sqlite3_open(path, &db)) return -1;
    char sql[200];
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s; PRAGMA synchronous=FULL;", journal);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)", NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &st, NULL);
    static char page[4096];
    memset(page, 7, sizeof page);
    long n = 0;
    double t0 = now(), t;
    do {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_blob(st, 1, page, sizeof page, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) return -1;
        sqlite3_reset(st);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return -1;
        n++;
    } while ((t = now()) - t0 < secs);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
    snprintf(x, sizeof x, "%s-wal", path);
    unlink(x);
    snprintf(x, sizeof x, "%s-shm", path);
    unlink(x);
    return (double)n / (t - t0);
}

static void bench_bulk(void) {
    const size_t N = 100000;
    char path[600];
    snprintf(path, sizeof path, "%s/bench-bulk.pager", dir);
    unlink(path);
    quire_pager *p;
    if (quire_pager_create(path, 4096, &p)) return;
    uint64_t *ids = malloc(N * sizeof *ids);
    double t0 = now();
    int rc = quire_pager_alloc_bulk(p, N, ids);
    double tq = now() - t0;
    quire_pager_close(p);
    unlink(path);
    free(ids);
    snprintf(path, sizeof path, "%s/bench-bulk.raw", dir);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    t0 = now();
    int frc = posix_fallocate(fd, 0, (off_t)(N * 4096));
    fdatasync(fd);
    double tf = now() - t0;
    close(fd);
    unlink(path);
    printf("bulk: 100,000 pages (400 MiB) in one commit: quire %.2f ms%s; fallocate + fdatasync "
           "%.2f ms%s; ratio %.2fx\n",
           tq * 1e3, rc ? " (FAILED)" : "", tf * 1e3, frc ? " (FAILED)" : "", tq / tf);
}

int main(int argc, char **argv) {
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp");
    if (argc > 2) secs = atof(argv[2]);
    printf("durable single-page commits per second in %s (%.0f s each):\n", dir, secs);
    double q = bench_quire(), l = bench_lmdb(), sw = bench_sqlite("WAL"),
           sd = bench_sqlite("DELETE");
    printf("  quire pager alloc      %10.0f /s\n", q);
    printf("  LMDB put (4 KiB)       %10.0f /s\n", l);
    printf("  SQLite WAL, FULL       %10.0f /s\n", sw);
    printf("  SQLite rollback, FULL  %10.0f /s\n", sd);
    printf("  quire / LMDB = %.2f\n", q / l);
    bench_bulk();
    return 0;
}
