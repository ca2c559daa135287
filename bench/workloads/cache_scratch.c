/*
 * bench/workloads/cache_scratch.c - passive false sharing (Hoard's cache-scratch).
 *
 * Modelled on cache-scratch from the Hoard benchmarks (Berger et al., ASPLOS 2000): the main
 * thread allocates one small object per worker - adjacent objects, likely on one cache line -
 * and gives each worker its own. A worker frees that object, then `iters` times allocates an
 * object of the same size, writes every byte of it `reps` times and frees it. An allocator that
 * hands a worker back the freed object (or any block on a line another worker writes) makes the
 * workers' writes contend for one cache line; a good one gives each thread memory of its own.
 * The figure is wall time; it is dominated by the writes, which false sharing slows down.
 *
 * verify: the sum of the bytes each worker read back at the end of each iteration (every write
 * is a volatile read-modify-write, so none is optimized away).
 */
#include "wl.h"

typedef struct {
    char *given;  /* the object the main thread allocated for this worker */
    uint64_t idx; /* worker index */
    uint64_t sum; /* sum of the bytes read back */
    char pad[64]; /* keep workers' results apart */
} work;

static uint64_t g_iters, g_size, g_reps;

static void *worker(void *arg) {
    work *w = arg;
    free(w->given);
    for (uint64_t i = 0; i < g_iters; i++) {
        volatile unsigned char *a = wl_xmalloc(g_size);
        for (uint64_t k = 0; k < g_size; k++) a[k] = (unsigned char)(w->idx + i + k);
        for (uint64_t j = 0; j < g_reps; j++)
            for (uint64_t k = 0; k < g_size; k++) {
                unsigned char c = a[k];
                a[k] = (unsigned char)(c + 1);
            }
        for (uint64_t k = 0; k < g_size; k++) w->sum += a[k];
        free((void *)a);
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 2, "worker threads"},
        {"iters", 1000, "allocations per worker"},
        {"size", 8, "object size in bytes"},
        {"reps", 100000, "writes of each byte per allocation"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "cache-scratch: passive false sharing");
    uint64_t threads = o[0].val;
    g_iters = o[1].val, g_size = o[2].val, g_reps = o[3].val;
    if (!threads || !g_size) wl_fail("cache-scratch: bad parameters");

    work *ws = wl_xmalloc(threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) {
        ws[t].given = wl_xmalloc(g_size);
        memset(ws[t].given, 0, g_size);
        ws[t].idx = t;
        ws[t].sum = 0;
    }
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum;
    free(ws);
    wl_verify("cache-scratch", "threads=%llu iters=%llu sum=%llu", (unsigned long long)threads,
              (unsigned long long)g_iters, (unsigned long long)sum);
    return 0;
}
