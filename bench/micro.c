/*
 * bench/micro.c - allocator micro-benchmarks, registered with Google Benchmark through
 * bench/gbench_shim.h.
 *
 * The binary calls the system malloc family and is never linked against quire: bench/run runs it
 * once per allocator with LD_PRELOAD. Every benchmark reports items/s, one item being the
 * operation named below, so "ns per item" compares allocators directly:
 *   pair/S             malloc(S), one store into the block, free: one item per pair (8 B - 4 MiB)
 *   pair_mt/S/threads  the same on nproc threads at once (items summed over threads)
 *   lifo/S/N           allocate N blocks of S bytes, free them newest first: item = one block
 *   random/S/N         allocate N blocks, free them in a random order: item = one block
 *   realloc_x2         one block grown by doubling from 16 B to 64 MiB: item = one realloc
 *   realloc_add        grown by len/8 + 16 from 16 B to 4 MiB: item = one realloc
 *   aligned/A/S        posix_memalign(A, S) + store + free: item = one pair
 *   calloc/S           calloc(1, S) + store + free: item = one pair
 *   prodcons/S         this thread allocates, a second thread frees (through a lock-free
 *                      single-producer ring): item = one block; wall time
 * Blocks get one store so that allocators that hand out untouched pages pay for them as a real
 * program would.
 */
#include "gbench_shim.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void touch(void *p) {
    GBENCH_ESCAPE(p);
    *(volatile char *)p = 1;
}

/* ---- pairs ---------------------------------------------------------------------------------- */

static void bm_pair(gbench_state *st) {
    size_t n = (size_t)gbench_range(st, 0);
    while (gbench_keep_running_batch(st, 16)) {
        for (int i = 0; i < 16; i++) {
            void *p = malloc(n);
            touch(p);
            free(p);
        }
    }
    gbench_set_items_processed(st, gbench_iterations(st));
}

static void bm_aligned(gbench_state *st) {
    size_t a = (size_t)gbench_range(st, 0), n = (size_t)gbench_range(st, 1);
    while (gbench_keep_running_batch(st, 16)) {
        for (int i = 0; i < 16; i++) {
            void *p = NULL;
            if (posix_memalign(&p, a, n) || ((uintptr_t)p & (a - 1))) {
                gbench_skip_with_error(st, "posix_memalign failed or misaligned");
                return;
            }
            touch(p);
            free(p);
        }
    }
    gbench_set_items_processed(st, gbench_iterations(st));
}

static void bm_calloc(gbench_state *st) {
    size_t n = (size_t)gbench_range(st, 0);
    while (gbench_keep_running_batch(st, 16)) {
        for (int i = 0; i < 16; i++) {
            char *p = calloc(1, n);
            if (!p || p[n - 1]) {
                gbench_skip_with_error(st, "calloc failed or not zeroed");
                return;
            }
            touch(p);
            free(p);
        }
    }
    gbench_set_items_processed(st, gbench_iterations(st));
}

/* ---- batches -------------------------------------------------------------------------------- */

static void bm_batch(gbench_state *st, int random) {
    size_t n = (size_t)gbench_range(st, 0), count = (size_t)gbench_range(st, 1);
    void **blk = malloc(count * sizeof *blk);
    size_t *order = malloc(count * sizeof *order);
    if (!blk || !order) {
        gbench_skip_with_error(st, "out of memory");
        free(blk);
        free(order);
        return;
    }
    uint64_t s = 42;
    for (size_t i = 0; i < count; i++) order[i] = count - 1 - i; /* LIFO */
    if (random) {
        for (size_t i = count; i > 1; i--) { /* Fisher-Yates with an LCG */
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t j = (size_t)((s >> 33) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
    }
    while (gbench_keep_running_batch(st, 1)) {
        for (size_t i = 0; i < count; i++) {
            blk[i] = malloc(n);
            touch(blk[i]);
        }
        for (size_t i = 0; i < count; i++) free(blk[order[i]]);
    }
    gbench_set_items_processed(st, gbench_iterations(st) * (int64_t)count);
    free(blk);
    free(order);
}

static void bm_lifo(gbench_state *st) {
    bm_batch(st, 0);
}
static void bm_random(gbench_state *st) {
    bm_batch(st, 1);
}

/* ---- realloc -------------------------------------------------------------------------------- */

static void bm_realloc(gbench_state *st, int doubling, size_t max) {
    int64_t reallocs = 0;
    while (gbench_keep_running_batch(st, 1)) {
        size_t len = 16;
        char *p = malloc(len);
        p[0] = 7;
        while (len < max) {
            size_t nlen = doubling ? 2 * len : len + len / 8 + 16;
            char *q = realloc(p, nlen);
            if (!q || q[0] != 7) {
                gbench_skip_with_error(st, "realloc failed or lost data");
                free(q ? q : p);
                return;
            }
            q[nlen - 1] = 1; /* the program writes at its new end */
            p = q;
            len = nlen;
            reallocs++;
        }
        free(p);
    }
    gbench_set_items_processed(st, reallocs);
}

static void bm_realloc_x2(gbench_state *st) {
    bm_realloc(st, 1, (size_t)64 << 20);
}
static void bm_realloc_add(gbench_state *st) {
    bm_realloc(st, 0, (size_t)4 << 20);
}

/* ---- producer / consumer -------------------------------------------------------------------- */

#define RING 1024

typedef struct {
    _Atomic size_t head; /* next slot the producer fills */
    char pad1[64];
    _Atomic size_t tail; /* next slot the consumer frees */
    char pad2[64];
    _Atomic int stop; /* the producer is done */
    void *slot[RING];
} ring;

static void *consumer(void *arg) {
    ring *r = arg;
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (unsigned spins = 0;;) {
        size_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t == h) {
            if (atomic_load_explicit(&r->stop, memory_order_acquire) &&
                t == atomic_load_explicit(&r->head, memory_order_acquire))
                return NULL;
            if (++spins > 64) sched_yield();
            continue;
        }
        spins = 0;
        for (; t != h; t++) free(r->slot[t % RING]);
        atomic_store_explicit(&r->tail, t, memory_order_release);
    }
}

static void bm_prodcons(gbench_state *st) {
    size_t n = (size_t)gbench_range(st, 0);
    ring *r = calloc(1, sizeof *r);
    pthread_t th;
    if (!r || pthread_create(&th, NULL, consumer, r)) {
        gbench_skip_with_error(st, "set-up failed");
        free(r);
        return;
    }
    size_t h = 0;
    while (gbench_keep_running_batch(st, 16)) {
        for (int i = 0; i < 16; i++) {
            void *p = malloc(n);
            touch(p);
            for (unsigned spins = 0;
                 h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING;)
                if (++spins > 64) sched_yield();
            r->slot[h % RING] = p;
            atomic_store_explicit(&r->head, ++h, memory_order_release);
        }
    }
    atomic_store_explicit(&r->stop, 1, memory_order_release);
    pthread_join(th, NULL);
    gbench_set_items_processed(st, gbench_iterations(st));
    free(r);
}

/* ---- registration --------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    int64_t sizes[22];
    int ns = 0;
    for (int64_t s = 8; s <= ((int64_t)4 << 20); s *= 2) sizes[ns++] = s;
    gbench_register("pair", bm_pair, sizes, 1, ns, 1, 0);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    static const int64_t mt[] = {16, 64, 512, 4096};
    gbench_register("pair_mt", bm_pair, mt, 1, COUNT(mt), ncpu > 1 ? (int)ncpu : 2, 0);

    static const int64_t batch[][2] = {{16, 100},     {64, 100},     {64, 10000},
                                       {64, 1000000}, {1024, 10000}, {16384, 1000}};
    gbench_register("lifo", bm_lifo, &batch[0][0], 2, COUNT(batch), 1, 0);
    gbench_register("random", bm_random, &batch[0][0], 2, COUNT(batch), 1, 0);

    gbench_register("realloc_x2", bm_realloc_x2, NULL, 0, 1, 1, 0);
    gbench_register("realloc_add", bm_realloc_add, NULL, 0, 1, 1, 0);

    static const int64_t al[][2] = {{16, 64},     {64, 64},     {256, 256},
                                    {4096, 4096}, {65536, 100}, {2097152, 4096}};
    gbench_register("aligned", bm_aligned, &al[0][0], 2, COUNT(al), 1, 0);

    static const int64_t cs[] = {16, 64, 4096, 65536, 1 << 20, 4 << 20};
    gbench_register("calloc", bm_calloc, cs, 1, COUNT(cs), 1, 0);

    static const int64_t pc[] = {64, 1024};
    gbench_register("prodcons", bm_prodcons, pc, 1, COUNT(pc), 1, GBENCH_REAL_TIME);

    return gbench_main(argc, argv);
}
