/*
 * bench/workloads/sh6bench.c - MicroQuill's SmartHeap benchmark sh6bench (sh6benchN).
 *
 * Source: MicroQuill's sh6bench (SmartHeap portable memory-management benchmark, 2000) as
 * mimalloc-bench runs it: `sh6bench 2N` (threads = 2 x nproc), call count 10000, block sizes
 * 1-1000, each block's first and last byte written. Written from the benchmark's published
 * description and the suite's parameters; no code of the original.
 *
 * Each thread, independently, owns a buffer of `calls` block pointers and repeats `repeat`
 * times a sweep over sizes: for size_base = min, then size_base * 3/2 + 1 while below max, and
 * for size = size_base, size_base/2, ... 1, it allocates `iterations` blocks of that size
 * (250 below 100 bytes, 50 below 1000, 10 below 10000, else 1: small blocks far more often).
 * Allocation fills the buffer front to back, skipping a "saved" window of blocks kept from the
 * previous cycle. When the buffer is full, a new window of calls/5 slots (the one after the
 * previous window, wrapping) is kept, the blocks before it are freed in allocation order
 * (FIFO) and the blocks after it in reverse order (LIFO), and filling restarts at the front.
 * So blocks live for one or two cycles and are freed in both LIFO and FIFO order, over a wide
 * range of sizes, on 2 x nproc threads at once. One departure: when the window wraps to the
 * front, filling restarts after it instead of overwriting (leaking) the kept blocks.
 *
 * The original's repeat count equals its call count (10000 sweeps per thread, minutes of work);
 * `repeat` scales that to a run of about a second. Every block is stamped and checked before it
 * is freed; the work is fully deterministic. verify: blocks allocated and the sum of their tags.
 */
#include "wl.h"

typedef struct {
    uint64_t idx;   /* thread index */
    uint64_t sum;   /* sum of wl_mix(tag ^ size) over freed blocks */
    uint64_t count; /* blocks allocated */
    char pad[64];   /* keep threads' results apart */
} work;

static uint64_t g_calls, g_repeat, g_min, g_max;

typedef struct {
    char **p;       /* the block pointers */
    uint32_t *size; /* size of each block, 0 = empty slot */
    uint64_t *tag;  /* stamp of each block */
} buffer;

static uint64_t release(buffer *b, uint64_t i) {
    if (!b->size[i]) return 0;
    if (!wl_check(b->p[i], b->size[i], b->tag[i]))
        wl_fail("sh6bench: block %p (size %u) was overwritten", (void *)b->p[i], b->size[i]);
    uint64_t term = wl_mix(b->tag[i] ^ b->size[i]);
    free(b->p[i]);
    b->size[i] = 0;
    return term;
}

static void *worker(void *arg) {
    work *w = (work *)arg;
    uint64_t n = g_calls;
    buffer b;
    b.p = (char **)wl_xmalloc(n * sizeof *b.p);
    b.size = (uint32_t *)calloc(n, sizeof *b.size);
    b.tag = (uint64_t *)wl_xmalloc(n * sizeof *b.tag);
    if (!b.size) wl_fail("sh6bench: calloc failed");
    uint64_t mp = 0, save_start = n, save_end = n, seq = 0, sum = 0;
    for (uint64_t rep = 0; rep < g_repeat; rep++) {
        for (uint64_t base = g_min; base < g_max; base = base * 3 / 2 + 1) {
            for (uint64_t size = base; size; size /= 2) {
                uint64_t iters = size < 100 ? 250 : size < 1000 ? 50 : size < 10000 ? 10 : 1;
                while (iters--) {
                    uint64_t tag = wl_mix(w->idx << 44 ^ seq++);
                    char *p = (char *)wl_xmalloc(size);
                    p[0] = 0, p[size - 1] = 0; /* the suite's touch of first and last byte */
                    wl_stamp(p, size, tag);
                    b.p[mp] = p, b.size[mp] = (uint32_t)size, b.tag[mp] = tag;
                    mp++;
                    if (mp == save_start) mp = save_end; /* skip the kept window */
                    if (mp >= n) {
                        /* keep the next window, free the rest: front FIFO, back LIFO */
                        save_start = save_end >= n ? 0 : save_end;
                        save_end = save_start + n / 5 > n ? n : save_start + n / 5;
                        for (uint64_t i = 0; i < save_start; i++) sum += release(&b, i);
                        for (uint64_t i = n; i > save_end; i--) sum += release(&b, i - 1);
                        mp = save_start == 0 ? save_end : 0;
                    }
                }
            }
        }
    }
    for (uint64_t i = 0; i < n; i++) sum += release(&b, i);
    free(b.p);
    free(b.size);
    free(b.tag);
    w->sum = sum;
    w->count = seq;
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 4, "threads (mimalloc-bench: 2 x nproc)"},
        {"calls", 10000, "block pointers per thread (MicroQuill's call count)"},
        {"repeat", 100, "size sweeps per thread (the original: the call count)"},
        {"min", 1, "smallest block"},
        {"max", 1000, "sweeps start below this size"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "MicroQuill's sh6bench");
    uint64_t threads = o[0].val;
    g_calls = o[1].val, g_repeat = o[2].val, g_min = o[3].val, g_max = o[4].val;
    if (!threads || threads > 1024 || g_calls < 10 || !g_min || g_max > UINT32_MAX)
        wl_fail("sh6bench: bad parameters");
    work *ws = (work *)wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) ws[t].idx = t;
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0, count = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum, count += ws[t].count;
    free(ws);
    wl_verify("sh6bench", "threads=%llu blocks=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)count, (unsigned long long)sum);
    return 0;
}
