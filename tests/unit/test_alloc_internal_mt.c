/*
 * tests/unit/test_alloc_internal_mt.c - the malloc engine under threads (also run under
 * ThreadSanitizer): blocks freed by other threads (thread_free lists and pending bits), threads
 * that exit with live blocks (abandon, then reclaim by others: memory stays bounded), statistics
 * read while other threads allocate, and a double free across threads caught in a child.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "quire/alloc.h"

#define NT    4
#define SLOTS 256

/* A ring per consumer: producers allocate and stamp blocks, consumers check and free them. */
struct ring {
    pthread_mutex_t mu;
    void *item[SLOTS];
    size_t size[SLOTS];
    int n;
};
static struct ring rings[NT];
static atomic_int bad;
static atomic_int stop_stats;

static uint64_t rnd(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int check_block(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i += 61)
        if (p[i] != (unsigned char)(n + i)) return 0;
    return 1;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t s = 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
    for (int it = 0; it < 20000; it++) {
        size_t n = (rnd(&s) % 16 == 0) ? rnd(&s) % 400000 : rnd(&s) % 700;
        unsigned char *p = quire_malloc(n);
        if (!p) {
            atomic_fetch_add(&bad, 1);
            continue;
        }
        for (size_t i = 0; i < n; i += 61) p[i] = (unsigned char)(n + i);
        struct ring *r = &rings[rnd(&s) % NT];
        pthread_mutex_lock(&r->mu);
        if (r->n == SLOTS) {
            for (int k = 0; k < r->n; k++) {
                if (!check_block(r->item[k], r->size[k])) atomic_fetch_add(&bad, 1);
                quire_free(r->item[k]);
            }
            r->n = 0;
        }
        r->item[r->n] = p;
        r->size[r->n++] = n;
        pthread_mutex_unlock(&r->mu);
        if (it % 7 == 0) {
            void *q = quire_calloc(3, 50);
            q = quire_realloc(q, 3000);
            quire_free(q);
        }
    }
    return NULL;
}

static void *stats_reader(void *arg) {
    (void)arg;
    struct quire_alloc_stats st;
    while (!atomic_load(&stop_stats)) {
        if (quire_alloc_stats_get(&st) != 0) atomic_fetch_add(&bad, 1);
        usleep(1000);
    }
    return NULL;
}

/* A short-lived thread that leaves its blocks to main. */
static void *leaver(void *arg) {
    void **out = arg;
    for (int i = 0; i < 64; i++) out[i] = quire_malloc(24 + (size_t)i * 8);
    void *tmp = quire_malloc(5000);
    quire_free(tmp);
    return NULL;
}

/* mleak-style: a thread that swaps one block into a shared table, frees what was there (a
   block of an earlier, dead thread) and exits, leaving its block behind. */
static void *swapper(void *arg) {
    void **slot = arg;
    void *p = quire_calloc(16, 8);
    void *old = *slot;
    *slot = p;
    quire_free(old);
    return NULL;
}

static void *remote_double(void *arg) {
    quire_free(arg);
    return NULL;
}

static void cross_double_free(void) {
    void *p = quire_malloc(64);
    pthread_t t;
    pthread_create(&t, NULL, remote_double, p);
    pthread_join(t, NULL);
    quire_free(p); /* freed by the other thread already */
}

int main(void) {
    TEST("remote frees");
    for (int i = 0; i < NT; i++) pthread_mutex_init(&rings[i].mu, NULL);
    pthread_t t[NT], sr;
    pthread_create(&sr, NULL, stats_reader, NULL);
    for (int i = 0; i < NT; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    atomic_store(&stop_stats, 1);
    pthread_join(sr, NULL);
    for (int i = 0; i < NT; i++) {
        for (int k = 0; k < rings[i].n; k++) {
            if (!check_block(rings[i].item[k], rings[i].size[k])) atomic_fetch_add(&bad, 1);
            quire_free(rings[i].item[k]);
        }
        rings[i].n = 0;
    }
    CHECK_EQ(atomic_load(&bad), 0);

    TEST("thread churn stays bounded");
    struct quire_alloc_stats a, b;
    static void *blocks[64];
    size_t mapped_mid = 0;
    for (int round = 0; round < 400; round++) {
        pthread_t th;
        pthread_create(&th, NULL, leaver, blocks);
        pthread_join(th, NULL);
        for (int i = 0; i < 64; i++) {
            if (!quire_owns(blocks[i])) atomic_fetch_add(&bad, 1);
            quire_free(blocks[i]);
        }
        if (round == 100) {
            quire_alloc_stats_get(&a);
            mapped_mid = a.mapped_bytes;
        }
    }
    quire_alloc_stats_get(&b);
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK(b.threads >= 400);
    CHECK(b.abandoned + 0 >= 1);
    CHECK(b.reclaimed >= 1);
    /* 300 more threads after the midpoint did not grow the mappings by more than 2 segments */
    CHECK(b.mapped_bytes <= mapped_mid + (8u << 20));

    TEST("dead threads' slabs are filled again");
    /* Each thread's block outlives it, in a slab of the segment it abandons. The next thread
       reclaims that segment and must allocate in that slab, not carve a new one beside it (a
       slab per dead thread: 64 KiB each, a new segment every ~60 threads). */
    static void *table[1000];
    size_t mapped_then = 0;
    for (int round = 0; round < 1200; round++) {
        pthread_t th;
        pthread_create(&th, NULL, swapper, &table[(round * 37) % 1000]);
        pthread_join(th, NULL);
        if (round == 100) {
            quire_alloc_stats_get(&a);
            mapped_then = a.mapped_bytes;
        }
    }
    quire_alloc_stats_get(&b);
    CHECK(b.mapped_bytes <= mapped_then);
    for (int i = 0; i < 1000; i++) quire_free(table[i]);

    TEST("double free across threads");
    pid_t pid = fork();
    if (pid == 0) {
        close(2);
        cross_double_free();
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    return check_done();
}
