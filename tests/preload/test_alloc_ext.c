/*
 * tests/preload/test_alloc_ext.c - the engine's options at run time (quire_alloc_option_get and
 * _set), per-thread statistics, and glibc's mallopt and malloc_info, on quire's malloc.
 *
 * With an argument it is a helper for tests/scripts/alloc_options.sh: `--xml FILE` writes
 * malloc_info's XML to FILE (the script parses it), `--threads N` keeps N threads alive while it
 * prints the statistics.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "quire/alloc.h"

static pthread_barrier_t bar;

static void *worker(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void **p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = malloc(32);
    pthread_barrier_wait(&bar); /* the main thread reads the statistics */
    pthread_barrier_wait(&bar);
    for (size_t i = 0; i < n; i++) free(p[i]);
    free(p);
    return NULL;
}

static void test_options(void) {
    char v[256];
    TEST("quire_alloc_option_get: every documented option");
    const char *names[] = {"secure",         "stats",         "stats_file", "verbose",
                           "purge_delay_ms", "purge",         "guards",     "leaks",
                           "prof",           "prof_interval", "prof_file"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_OK(quire_alloc_option_get(names[i], v, sizeof v));
    CHECK_OK(quire_alloc_option_get("purge_delay_ms", v, sizeof v));
    CHECK(strcmp(v, "100") == 0);
    CHECK_EQ(quire_alloc_option_get("no_such_option", v, sizeof v), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_get("stats", NULL, 8), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_get("prof_file", v, 3), QUIRE_ERANGE);

    TEST("quire_alloc_option_set: run-time options change, start-up ones refuse");
    CHECK_OK(quire_alloc_option_set("purge_delay_ms", "250"));
    CHECK_OK(quire_alloc_option_get("purge_delay_ms", v, sizeof v));
    CHECK(strcmp(v, "250") == 0);
    CHECK_OK(quire_alloc_option_set("purge", "free"));
    CHECK_OK(quire_alloc_option_get("purge", v, sizeof v));
    CHECK(strcmp(v, "free") == 0);
    CHECK_OK(quire_alloc_option_set("purge", "dontneed"));
    CHECK_OK(quire_alloc_option_set("verbose", "off"));
    CHECK_OK(quire_alloc_option_set("stats", "json"));
    CHECK_OK(quire_alloc_option_get("stats", v, sizeof v));
    CHECK(strcmp(v, "json") == 0);
    CHECK_OK(quire_alloc_option_set("stats", "no"));
    CHECK_OK(quire_alloc_option_set("prof_interval", "1M"));
    CHECK_OK(quire_alloc_option_get("prof_interval", v, sizeof v));
    CHECK(strcmp(v, "1048576") == 0);
    CHECK_EQ(quire_alloc_option_set("purge", "bogus"), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("purge_delay_ms", "12x"), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("prof_interval", "0"), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("verbose", "maybe"), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("stats_file", ""), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("nope", "1"), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("stats", NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_option_set("secure", "1"), QUIRE_ESTATE);
    CHECK_EQ(quire_alloc_option_set("leaks", "1"), QUIRE_ESTATE);
    CHECK_EQ(quire_alloc_option_set("prof", "1"), QUIRE_ESTATE);
    CHECK_EQ(quire_alloc_option_set("guards", "mprotect"), QUIRE_ESTATE);
    CHECK_OK(quire_alloc_option_set("purge_delay_ms", "100"));
}

static void test_threads(void) {
    TEST("quire_alloc_thread_stats_get: one entry per running thread");
    enum { T = 3, N = 1000 };
    pthread_t t[T];
    pthread_barrier_init(&bar, NULL, T + 1);
    for (int i = 0; i < T; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)N);
    pthread_barrier_wait(&bar);
    struct quire_alloc_thread_stats st[16];
    size_t n = 0;
    CHECK_OK(quire_alloc_thread_stats_get(st, 16, &n));
    CHECK(n >= T + 1);
    int busy = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        if (st[i].live_blocks >= N && st[i].allocs >= N + 1 && st[i].tid) busy++;
    CHECK(busy >= T);
    size_t n2 = 0;
    CHECK_EQ(quire_alloc_thread_stats_get(st, 1, &n2), QUIRE_ERANGE);
    CHECK_EQ(n2, n);
    CHECK_EQ(quire_alloc_thread_stats_get(NULL, 0, &n2), QUIRE_ERANGE);
    CHECK_EQ(quire_alloc_thread_stats_get(NULL, 4, &n2), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_thread_stats_get(st, 4, NULL), QUIRE_EINVAL);
    pthread_barrier_wait(&bar);
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
}

static void test_mallopt(void) {
    TEST("mallopt: glibc's parameters accepted or refused as documented");
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
    CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 64 << 20), 0);
    CHECK_EQ(mallopt(M_ARENA_MAX, 4), 1);
    CHECK_EQ(mallopt(M_ARENA_MAX, 0), 0);
    CHECK_EQ(mallopt(M_ARENA_TEST, 2), 1);
    CHECK_EQ(mallopt(M_TOP_PAD, 0), 1);
    CHECK_EQ(mallopt(M_MMAP_MAX, 10), 1);
    CHECK_EQ(mallopt(M_PERTURB, 0x55), 0);
    CHECK_EQ(mallopt(12345, 1), 0);
    char v[32];
    CHECK_EQ(mallopt(M_TRIM_THRESHOLD, -1), 1);
    CHECK_OK(quire_alloc_option_get("purge_delay_ms", v, sizeof v));
    CHECK(strcmp(v, "-1") == 0); /* freed memory kept */
    CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 128 * 1024), 1);
    CHECK_OK(quire_alloc_option_get("purge_delay_ms", v, sizeof v));
    CHECK(strcmp(v, "100") == 0);
}

static void test_malloc_info(void) {
    TEST("malloc_info: XML of the live blocks, errno kept, EINVAL for options");
    void *keep[100];
    for (int i = 0; i < 100; i++) keep[i] = malloc(100);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len); /* no descriptor: the fwrite path */
    errno = 77;
    CHECK_EQ(malloc_info(0, f), 0);
    CHECK_EQ(errno, 77);
    fclose(f);
    CHECK(buf && strncmp(buf, "<malloc version=\"1\">", 20) == 0);
    CHECK(buf && strstr(buf, "</malloc>\n") != NULL);
    CHECK(buf && strstr(buf, "to=\"112\"") != NULL); /* the 100-byte blocks' class */
    free(buf);
    errno = 0;
    CHECK_EQ(malloc_info(1, stdout), -1);
    CHECK_EQ(errno, EINVAL);
    for (int i = 0; i < 100; i++) free(keep[i]);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--xml") == 0) {
        FILE *f = fopen(argv[2], "w");
        void *keep[50];
        for (int i = 0; i < 50; i++) keep[i] = malloc((size_t)i * 40 + 1);
        int rc = f ? malloc_info(0, f) : -1;
        if (f) fclose(f);
        for (int i = 0; i < 50; i++) free(keep[i]);
        return rc == 0 ? 0 : 1;
    }
    if (argc == 3 && strcmp(argv[1], "--threads") == 0) {
        int t = atoi(argv[2]);
        pthread_t th[16];
        pthread_barrier_init(&bar, NULL, (unsigned)t + 1);
        for (int i = 0; i < t && i < 16; i++) pthread_create(&th[i], NULL, worker, (void *)100);
        pthread_barrier_wait(&bar);
        malloc_stats(); /* the report, with a line per thread */
        pthread_barrier_wait(&bar);
        for (int i = 0; i < t && i < 16; i++) pthread_join(th[i], NULL);
        return 0;
    }
    test_options();
    test_threads();
    test_mallopt();
    test_malloc_info();
    return check_done();
}
