/*
 * bench/workloads/xmalloc.c - xmalloc-style producer/consumer threads.
 *
 * Modelled on xmalloc-test (Lever & Boreham, "malloc() performance in a multithreaded Linux
 * environment", 2000): `pairs` producer threads allocate blocks of random small sizes and hand
 * them, in batches, to their consumer thread, which checks and frees them. Every block is thus
 * freed by a thread that did not allocate it: the pattern that defeats allocators with purely
 * thread-local free lists (memory piles up in the consumer's heap) and that stresses remote-free
 * paths. A queue holds at most `depth` batches, so producers cannot run arbitrarily ahead and the
 * live heap stays bounded. Threads = 2 * pairs (the runner uses pairs = nproc, so the machine is
 * oversubscribed two to one, as in the classic runs).
 *
 * verify: number of blocks and the sum of their tags (each producer draws from its own PRNG
 * stream, and the sum does not depend on the order in which consumers free).
 */
#include "wl.h"

typedef struct batch {
    struct batch *next; /* queue link */
    uint32_t n;         /* blocks in this batch */
    void *blk[];        /* the blocks (each carries its size and tag in its first 16 bytes) */
} batch;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;  /* signalled on push, pop and end */
    batch *head, *tail; /* FIFO of full batches */
    uint64_t queued;    /* batches in the queue */
    bool ended;         /* the producer is done */
    uint64_t idx;       /* pair index */
    uint64_t produced;  /* blocks allocated by the producer */
    uint64_t consumed;  /* blocks freed by the consumer */
    uint64_t sum;       /* consumer's sum of wl_mix(tag ^ size) */
    char pad[64];       /* keep pairs on separate cache lines */
} pair;

static uint64_t g_blocks, g_batch, g_depth, g_min, g_max, g_seed;

static void *producer(void *arg) {
    pair *q = arg;
    wl_rng r = wl_rng_make(g_seed, q->idx, 1);
    for (uint64_t done = 0; done < g_blocks;) {
        uint64_t n = g_blocks - done < g_batch ? g_blocks - done : g_batch;
        batch *b = wl_xmalloc(sizeof *b + n * sizeof(void *));
        b->next = NULL;
        b->n = (uint32_t)n;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t sz = wl_range(&r, g_min, g_max);
            uint64_t *p = wl_block_new(sz, wl_mix(q->idx << 48 ^ (done + i)));
            b->blk[i] = p;
        }
        done += n;
        pthread_mutex_lock(&q->lock);
        while (q->queued >= g_depth) pthread_cond_wait(&q->cv, &q->lock);
        if (q->tail)
            q->tail->next = b;
        else
            q->head = b;
        q->tail = b;
        q->queued++;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_lock(&q->lock);
    q->produced = g_blocks;
    q->ended = true;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static void *consumer(void *arg) {
    pair *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->head && !q->ended) pthread_cond_wait(&q->cv, &q->lock);
        batch *b = q->head;
        if (!b) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        q->head = b->next;
        if (!q->head) q->tail = NULL;
        q->queued--;
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->lock);
        for (uint32_t i = 0; i < b->n; i++) {
            q->sum += wl_block_free(b->blk[i], g_min, g_max, "xmalloc");
        }
        q->consumed += b->n;
        free(b);
    }
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"pairs", 2, "producer/consumer pairs (threads = 2 * pairs)"},
        {"blocks", 1000000, "blocks each producer allocates"},
        {"batch", 256, "blocks per hand-over"},
        {"depth", 16, "batches a queue may hold"},
        {"min", 16, "smallest block (>= 16)"},
        {"max", 512, "largest block"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "xmalloc-style producer/consumer");
    uint64_t pairs = o[0].val;
    g_blocks = o[1].val, g_batch = o[2].val, g_depth = o[3].val;
    g_min = o[4].val, g_max = o[5].val, g_seed = o[6].val;
    if (!pairs || !g_batch || !g_depth || g_min < 16 || g_max < g_min)
        wl_fail("xmalloc: bad parameters");

    pair *ps = wl_xmalloc(pairs * sizeof *ps);
    pthread_t *th = wl_xmalloc(2 * pairs * sizeof *th);
    for (uint64_t i = 0; i < pairs; i++) {
        memset(&ps[i], 0, sizeof ps[i]);
        pthread_mutex_init(&ps[i].lock, NULL);
        pthread_cond_init(&ps[i].cv, NULL);
        ps[i].idx = i;
    }
    for (uint64_t i = 0; i < pairs; i++) {
        if (pthread_create(&th[2 * i], NULL, consumer, &ps[i]) ||
            pthread_create(&th[2 * i + 1], NULL, producer, &ps[i]))
            wl_fail("pthread_create failed");
    }
    for (uint64_t i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
    uint64_t sum = 0, n = 0;
    for (uint64_t i = 0; i < pairs; i++) {
        if (ps[i].consumed != ps[i].produced)
            wl_fail("xmalloc: pair %llu lost blocks", (unsigned long long)i);
        sum += ps[i].sum;
        n += ps[i].consumed;
        pthread_mutex_destroy(&ps[i].lock);
        pthread_cond_destroy(&ps[i].cv);
    }
    free(th);
    free(ps);
    wl_verify("xmalloc", "pairs=%llu blocks=%llu sum=%016llx", (unsigned long long)pairs,
              (unsigned long long)n, (unsigned long long)sum);
    return 0;
}
