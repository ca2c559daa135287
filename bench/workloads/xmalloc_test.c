/*
 * bench/workloads/xmalloc_test.c - Lever & Boreham's xmalloc-test (xmalloc-testN).
 *
 * Source: C. Lever and D. Boreham, "malloc() Performance in a Multithreaded Linux Environment",
 * USENIX 2000 (FREENIX track), in the form mimalloc-bench runs it: `xmalloc-test -w N -t 5
 * -s 64` - N allocating threads and N freeing threads, 64-byte objects. Written from that
 * description; no code of the original.
 *
 * Producers allocate batches of 4096 objects (each one's first min(size, 128) bytes written)
 * and push each batch onto ONE shared stack (LIFO, one mutex, at most 100 batches: a producer
 * waits while it is full). Consumers pop whichever batch is on top - made by any producer - and
 * free its objects. Every object is therefore freed by a thread that did not allocate it, and
 * the producers' heaps drain only through remote frees: the asymmetric pattern that defeats
 * allocators with purely thread-local caches. Threads = 2 x workers (the runner: workers =
 * nproc, so the machine is oversubscribed two to one). size=0 draws sizes from the original's
 * list of 8-2048 bytes instead of one fixed size.
 *
 * The original runs for 5 s and reports frees per second; here each producer makes a fixed
 * number of batches and the consumers stop once all are freed, so the runner measures wall time.
 * Objects are stamped and checked before they are freed. verify: objects freed and the sum of
 * their tags (order-independent, so scheduling does not change it).
 */
#include "wl.h"

#define PER_BATCH 4096 /* objects per batch, as in the original */

/* A batch is the original's (a link and 4096 pointers, 32 KiB) plus two words from which each
 * object's tag and size are recomputed: tag = wl_mix(producer << 44 ^ (seq0 + i)). */
typedef struct batch {
    struct batch *next;   /* stack link */
    uint64_t producer;    /* who made it */
    uint64_t seq0;        /* sequence number of obj[0] */
    void *obj[PER_BATCH]; /* the objects */
} batch;

static const uint32_t g_sizes[] = {8,   12,  16,  24,  32,  48,   64,   96,  128,
                                   192, 256, 384, 512, 768, 1024, 1536, 2048};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_empty_cv = PTHREAD_COND_INITIALIZER; /* a batch was pushed / the end */
static pthread_cond_t g_full_cv = PTHREAD_COND_INITIALIZER;  /* a batch was popped */
static batch *g_top;                                         /* the shared stack */
static uint64_t g_count, g_limit, g_producing;               /* depth, max depth, producers */
static uint64_t g_batches, g_size;

static uint32_t size_of(uint64_t tag) {
    return g_size ? (uint32_t)g_size : g_sizes[tag % (sizeof g_sizes / sizeof g_sizes[0])];
}

typedef struct {
    uint64_t idx;   /* thread index (producers and consumers are numbered apart) */
    uint64_t sum;   /* consumer: sum of wl_mix(tag ^ size) */
    uint64_t freed; /* consumer: objects freed */
    char pad[64];   /* keep threads' results apart */
} role;

static void *producer(void *arg) {
    role *me = (role *)arg;
    uint64_t seq = 0;
    for (uint64_t k = 0; k < g_batches; k++) {
        batch *b = (batch *)wl_xmalloc(sizeof *b);
        b->producer = me->idx;
        b->seq0 = seq;
        for (int i = 0; i < PER_BATCH; i++) {
            uint64_t tag = wl_mix(me->idx << 44 ^ seq++);
            uint32_t sz = size_of(tag);
            char *p = (char *)wl_xmalloc(sz);
            memset(p, i & 0xff, sz > 128 ? 128 : sz);
            wl_stamp(p, sz, tag);
            b->obj[i] = p;
        }
        pthread_mutex_lock(&g_lock);
        while (g_count >= g_limit) pthread_cond_wait(&g_full_cv, &g_lock);
        b->next = g_top;
        g_top = b;
        g_count++;
        pthread_cond_signal(&g_empty_cv);
        pthread_mutex_unlock(&g_lock);
    }
    pthread_mutex_lock(&g_lock);
    if (--g_producing == 0) pthread_cond_broadcast(&g_empty_cv);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void *consumer(void *arg) {
    role *me = (role *)arg;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        while (!g_top && g_producing) pthread_cond_wait(&g_empty_cv, &g_lock);
        batch *b = g_top;
        if (b) {
            g_top = b->next;
            g_count--;
            pthread_cond_signal(&g_full_cv);
        }
        pthread_mutex_unlock(&g_lock);
        if (!b) break; /* no producer left and the stack is empty */
        for (int i = 0; i < PER_BATCH; i++) {
            uint64_t tag = wl_mix(b->producer << 44 ^ (b->seq0 + (uint64_t)i));
            uint32_t sz = size_of(tag);
            if (!wl_check(b->obj[i], sz, tag))
                wl_fail("xmalloc-test: object %p (size %u) was overwritten", b->obj[i], sz);
            me->sum += wl_mix(tag ^ sz);
            free(b->obj[i]);
        }
        me->freed += PER_BATCH;
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"workers", 2, "producer threads, and as many consumer threads (-w)"},
        {"size", 64, "object size (-s); 0 = the original's mix of 8-2048 bytes"},
        {"batches", 100, "batches of 4096 objects per producer (the original: 5 s)"},
        {"limit", 100, "most batches waiting on the shared stack"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "Lever & Boreham's xmalloc-test");
    uint64_t workers = o[0].val;
    g_size = o[1].val, g_batches = o[2].val, g_limit = o[3].val;
    if (!workers || workers > 512 || !g_limit || g_size > (1u << 24))
        wl_fail("xmalloc-test: bad parameters");
    g_producing = workers;
    role *rs = (role *)wl_xmalloc(2 * workers * sizeof *rs);
    memset(rs, 0, 2 * workers * sizeof *rs);
    pthread_t *t = (pthread_t *)wl_xmalloc(2 * workers * sizeof *t);
    for (uint64_t i = 0; i < 2 * workers; i++) {
        rs[i].idx = i;
        int rc = pthread_create(&t[i], NULL, i < workers ? producer : consumer, &rs[i]);
        if (rc) wl_fail("pthread_create: %s", strerror(rc));
    }
    for (uint64_t i = 0; i < 2 * workers; i++) pthread_join(t[i], NULL);
    uint64_t sum = 0, freed = 0;
    for (uint64_t i = workers; i < 2 * workers; i++) sum += rs[i].sum, freed += rs[i].freed;
    free(rs);
    free(t);
    wl_verify("xmalloc-test", "workers=%llu freed=%llu sum=%016llx", (unsigned long long)workers,
              (unsigned long long)freed, (unsigned long long)sum);
    return 0;
}
