/*
 * tests/alloc_stress_cases.h - multi-threaded stress of the malloc family,
 * shared by two tests.
 *
 * tests/unit/test_alloc_stress_mt.c runs it through the quire_* names with
 * modest counts (it also runs under ThreadSanitizer);
 * tests/preload/test_malloc_stress.c runs it through the standard names of a
 * program linked against libquire.so, larger. The including file defines
 * QS_FN(name) (quire_##name or name) and fills a struct qs_config.
 *
 * Every block is stamped when allocated with a pattern derived from its
 * address, size and a seed, and the stamp is checked before the block is freed
 * (by its thread, by another thread, by a thread that outlived the allocating
 * one, or in a forked child), so two blocks that overlap, a block handed out
 * twice or memory the allocator scribbles on is caught. Large blocks are
 * stamped on a sample of words (the first and last 512 bytes and one word per 4
 * KiB) to keep time bounded. All randomness comes from splitmix64/xorshift
 * generators with fixed seeds. Three phases:
 *   1. mixed: long-lived threads allocate (malloc, calloc, posix_memalign),
 * realloc, free their own blocks and hand blocks to each other through a shared
 * array of atomic slots;
 *   2. churn: hundreds of short-lived threads, each leaving blocks in an orphan
 * pool that later threads (and finally the main thread) check and free after
 * their allocator died;
 *   3. fork: while mixed workers and churning threads run, the main thread
 * forks repeatedly; each child checks and frees blocks of threads that do not
 * exist in it, allocates and frees more (optionally from a new thread) and must
 * exit 0 within its alarm.
 */
#ifndef QUIRE_TESTS_ALLOC_STRESS_CASES_H
#define QUIRE_TESTS_ALLOC_STRESS_CASES_H

#ifndef QS_FN
#error "define QS_FN(name) before including alloc_stress_cases.h"
#endif

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "quire/alloc.h"

#ifndef QS_USABLE_ARG
#define QS_USABLE_ARG void *
#endif

static void *(*qs_malloc)(size_t) = QS_FN(malloc);
static void (*qs_free)(void *) = QS_FN(free);
static void *(*qs_calloc)(size_t, size_t) = QS_FN(calloc);
static void *(*qs_realloc)(void *, size_t) = QS_FN(realloc);
static int (*qs_posix_memalign)(void **, size_t, size_t) = QS_FN(posix_memalign);
static size_t (*qs_usable)(QS_USABLE_ARG) = QS_FN(malloc_usable_size);

/* How hard each phase works. */
struct qs_config {
    int mixed_threads;    /* phase 1: long-lived threads (>= 8, more than the cores)
                           */
    long mixed_ops;       /* operations per mixed thread */
    size_t max_size;      /* largest block requested */
    int churn_threads;    /* phase 2: short-lived threads in all */
    int churn_parallel;   /* how many of them run at once */
    int churn_blocks;     /* blocks each short-lived thread allocates */
    int forks;            /* phase 3: forks made while threads run */
    long child_ops;       /* malloc/free operations in each child */
    int child_thread;     /* 1: each child also allocates from a thread of its own */
    int fork_workers;     /* mixed threads running during phase 3 */
    long fork_worker_ops; /* their operations */
};

/* ---------------------------------------------------------------------------------------------
 * Random numbers and stamps
 * -------------------------------------------------------------------------------------------
 */

static uint64_t qs_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* xorshift64*: one generator per thread. */
static uint64_t qs_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t qs_seed(uint64_t a, uint64_t b) {
    uint64_t s = qs_mix(a * 0x100000001B3ull + b);
    return s ? s : 1;
}

/* A size from a skewed distribution: mostly small, some medium, a few large. */
static size_t qs_size(uint64_t *rng, size_t max) {
    uint64_t r = qs_next(rng);
    unsigned pick = (unsigned)(r % 1000);
    uint64_t v = r >> 20;
    size_t n;
    if (pick < 700)
        n = 1 + (size_t)(v % 256);
    else if (pick < 900)
        n = 257 + (size_t)(v % 3840);
    else if (pick < 980)
        n = 4096 + (size_t)(v % (60 * 1024));
    else if (pick < 997)
        n = 65536 + (size_t)(v % (960 * 1024));
    else
        n = (1 << 20) + (size_t)(v % (3 << 20));
    return n > max ? 1 + n % max : n;
}

/* The expected value of word i of a block at base, of n bytes, stamped with
 * seed. */
static uint64_t qs_word(uintptr_t base, size_t n, uint64_t seed, size_t i) {
    return qs_mix((uint64_t)base ^ ((uint64_t)n << 20) ^ seed ^ (i * 0xD6E8FEB86659FD93ull));
}

/* Words stamped in a block of n bytes: all of them up to 8 KiB, then the first
 * and last 64 words and one word every 4 KiB. Calls fn for each index i with n
 * >= (i+1)*8. */
#define QS_FOR_STAMPED(n, i, body)                                                                 \
    do {                                                                                           \
        size_t qs_w_ = (n) / 8;                                                                    \
        for (size_t i = 0; i < qs_w_; i++) {                                                       \
            if (qs_w_ > 1024 && i >= 64 && i + 64 < qs_w_ && (i & 511) != 0) {                     \
                i = (i | 511);                                                                     \
                if (i + 64 >= qs_w_) i = qs_w_ - 65;                                               \
                continue;                                                                          \
            }                                                                                      \
            body;                                                                                  \
        }                                                                                          \
    } while (0)

static void qs_stamp(void *p, size_t n, uint64_t seed) {
    uintptr_t base = (uintptr_t)p;
    uint64_t *w = (uint64_t *)p;
    QS_FOR_STAMPED(n, i, w[i] = qs_word(base, n, seed, i));
    unsigned char *b = (unsigned char *)p;
    uint64_t tail = qs_word(base, n, seed, n / 8);
    for (size_t k = n / 8 * 8; k < n; k++) b[k] = (unsigned char)(tail >> (8 * (k % 8)));
}

/* 1 if the first limit bytes of p still hold the stamp of a block (base, n,
 * seed). */
static int qs_check_prefix(const void *p, uintptr_t base, size_t n, uint64_t seed, size_t limit) {
    const uint64_t *w = (const uint64_t *)p;
    int ok = 1;
    QS_FOR_STAMPED(n, i, if ((i + 1) * 8 <= limit && w[i] != qs_word(base, n, seed, i)) ok = 0);
    const unsigned char *b = (const unsigned char *)p;
    uint64_t tail = qs_word(base, n, seed, n / 8);
    for (size_t k = n / 8 * 8; k < n && k < limit; k++)
        if (b[k] != (unsigned char)(tail >> (8 * (k % 8)))) ok = 0;
    return ok;
}

static int qs_check(const void *p, size_t n, uint64_t seed) {
    return qs_check_prefix(p, (uintptr_t)p, n, seed, n);
}

/* ---------------------------------------------------------------------------------------------
 * Shared state and counters
 * -------------------------------------------------------------------------------------------
 */

/* Problems seen by any thread; the main thread turns them into checks. */
static atomic_long qs_corrupt;      /* a stamp did not match */
static atomic_long qs_nulls;        /* an allocation that should succeed returned NULL */
static atomic_long qs_misaligned;   /* a block not aligned as requested */
static atomic_long qs_foreign;      /* quire_owns said no */
static atomic_long qs_small_usable; /* usable size below the request */
static atomic_long qs_not_zero;     /* calloc memory not zeroed */
static atomic_long qs_ops;          /* operations done, all threads */
static atomic_long qs_cross;        /* blocks freed by a thread other than their allocator */

/* Blocks handed between threads. Each block of at least 16 bytes carries its
 * size and seed in its first two words (the rest is stamped), so whoever takes
 * it can check it. */
#define QS_SHARED 1024
static _Atomic(void *) qs_shared[QS_SHARED];

/* Blocks left behind by short-lived threads. */
#define QS_ORPHANS 8192
static pthread_mutex_t qs_orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static void *qs_orphans[QS_ORPHANS];
static int qs_norphans;

static const struct qs_config *qs_cfg;
static atomic_int qs_stop; /* phase 3: tells the background threads to finish */

/* Allocates n bytes in one of three ways (malloc, calloc, posix_memalign),
 * checks the block and stamps it. For n >= 16 the first two words hold n and
 * seed. */
static void *qs_alloc_stamped(size_t n, uint64_t seed, uint64_t *rng) {
    unsigned how = (unsigned)(qs_next(rng) % 16);
    void *p = NULL;
    size_t align = 8;
    if (how < 11) {
        p = qs_malloc(n);
    } else if (how < 14) {
        p = qs_calloc(1, n);
        if (p) {
            const unsigned char *b = (const unsigned char *)p;
            int zero = 1;
            size_t lim = n < 65536 ? n : 4096;
            for (size_t k = 0; k < lim; k++)
                if (b[k]) zero = 0;
            if (n > lim && b[n - 1]) zero = 0;
            if (!zero) atomic_fetch_add(&qs_not_zero, 1);
        }
    } else {
        align = (size_t)16 << (qs_next(rng) % 9); /* 16 .. 4096 */
        if (qs_posix_memalign(&p, align, n) != 0) p = NULL;
    }
    if (!p) {
        atomic_fetch_add(&qs_nulls, 1);
        return NULL;
    }
    if ((uintptr_t)p % align != 0) atomic_fetch_add(&qs_misaligned, 1);
    if (qs_usable(p) < n) atomic_fetch_add(&qs_small_usable, 1);
    if ((seed & 15) == 0 && quire_owns(p) != 1) atomic_fetch_add(&qs_foreign, 1);
    qs_stamp(p, n, seed);
    if (n >= 16) {
        ((uint64_t *)p)[0] = n;
        ((uint64_t *)p)[1] = seed;
    }
    return p;
}

/* Checks a block of n bytes stamped with seed (header included when n >= 16).
 */
static int qs_check_block(const void *p, size_t n, uint64_t seed) {
    if (n >= 16) {
        const uint64_t *w = (const uint64_t *)p;
        if (w[0] != n || w[1] != seed) return 0;
        /* words 0 and 1 hold the header; check the rest of the stamp */
        uintptr_t base = (uintptr_t)p;
        int ok = 1;
        QS_FOR_STAMPED(n, i, if (i >= 2 && w[i] != qs_word(base, n, seed, i)) ok = 0);
        const unsigned char *b = (const unsigned char *)p;
        uint64_t tail = qs_word(base, n, seed, n / 8);
        for (size_t k = n / 8 * 8; k < n; k++)
            if (b[k] != (unsigned char)(tail >> (8 * (k % 8)))) ok = 0;
        return ok;
    }
    return qs_check(p, n, seed);
}

/* Checks and frees a block that carries its own header (handed over by another
 * thread). */
static void qs_take_and_free(void *p) {
    const uint64_t *w = (const uint64_t *)p;
    size_t n = (size_t)w[0];
    if (n < 16 || n > qs_usable(p) || !qs_check_block(p, n, w[1])) atomic_fetch_add(&qs_corrupt, 1);
    qs_free(p);
}

/* ---------------------------------------------------------------------------------------------
 * Phase 1: mixed workers
 * -------------------------------------------------------------------------------------------
 */

#define QS_LOCAL 256

struct qs_worker {
    int id;
    long ops;
    pthread_t thread;
};

static void *qs_mixed_worker(void *arg) {
    struct qs_worker *me = (struct qs_worker *)arg;
    uint64_t rng = qs_seed(0xA110C, (uint64_t)me->id);
    void *blk[QS_LOCAL] = {0};
    size_t len[QS_LOCAL] = {0};
    uint64_t sd[QS_LOCAL] = {0};
    uint64_t counter = 0;
    long done = 0;
    for (long op = 0; op < me->ops || (me->ops < 0 && !atomic_load(&qs_stop)); op++) {
        unsigned slot = (unsigned)(qs_next(&rng) % QS_LOCAL);
        if (!blk[slot]) {
            size_t n = qs_size(&rng, qs_cfg->max_size);
            uint64_t seed = qs_mix(((uint64_t)me->id << 40) ^ ++counter);
            blk[slot] = qs_alloc_stamped(n, seed, &rng);
            len[slot] = n;
            sd[slot] = seed;
            done++;
            continue;
        }
        unsigned r = (unsigned)(qs_next(&rng) % 20);
        void *p = blk[slot];
        size_t n = len[slot];
        if (!qs_check_block(p, n, sd[slot])) atomic_fetch_add(&qs_corrupt, 1);
        if (r < 9) { /* free it here */
            qs_free(p);
            blk[slot] = NULL;
        } else if (r < 12) { /* realloc: contents move with it */
            size_t m = qs_size(&rng, qs_cfg->max_size);
            uintptr_t old = (uintptr_t)p;
            void *q = qs_realloc(p, m);
            if (!q) {
                atomic_fetch_add(&qs_nulls, 1);
                continue;
            }
            size_t keep = n < m ? n : m;
            /* header words first, then the stamp of the old block within what was
             * kept */
            const uint64_t *w = (const uint64_t *)q;
            int ok = 1;
            if (n >= 16 && keep >= 16 && (w[0] != n || w[1] != sd[slot])) ok = 0;
            if (n >= 16) {
                QS_FOR_STAMPED(n, i,
                               if (i >= 2 && (i + 1) * 8 <= keep &&
                                   w[i] != qs_word(old, n, sd[slot], i)) ok = 0);
            } else if (!qs_check_prefix(q, old, n, sd[slot], keep)) {
                ok = 0;
            }
            if (!ok) atomic_fetch_add(&qs_corrupt, 1);
            if (qs_usable(q) < m) atomic_fetch_add(&qs_small_usable, 1);
            uint64_t seed = qs_mix(((uint64_t)me->id << 40) ^ ++counter);
            qs_stamp(q, m, seed);
            if (m >= 16) {
                ((uint64_t *)q)[0] = m;
                ((uint64_t *)q)[1] = seed;
            }
            blk[slot] = q;
            len[slot] = m;
            sd[slot] = seed;
        } else if (r < 18 && n >= 16) { /* hand it to whoever comes next */
            unsigned s = (unsigned)(qs_next(&rng) % QS_SHARED);
            void *got = atomic_exchange_explicit(&qs_shared[s], p, memory_order_acq_rel);
            blk[slot] = NULL;
            if (got) {
                qs_take_and_free(got);
                atomic_fetch_add(&qs_cross, 1);
            }
        }
        done++;
    }
    for (int i = 0; i < QS_LOCAL; i++)
        if (blk[i]) {
            if (!qs_check_block(blk[i], len[i], sd[i])) atomic_fetch_add(&qs_corrupt, 1);
            qs_free(blk[i]);
        }
    atomic_fetch_add(&qs_ops, done);
    return NULL;
}

static void qs_drain_shared(void) {
    for (int i = 0; i < QS_SHARED; i++) {
        void *p = atomic_exchange(&qs_shared[i], NULL);
        if (p) qs_take_and_free(p);
    }
}

static int qs_start_workers(struct qs_worker *w, int n, long ops, int first_id) {
    int started = 0;
    for (int i = 0; i < n; i++) {
        w[i].id = first_id + i;
        w[i].ops = ops;
        if (pthread_create(&w[i].thread, NULL, qs_mixed_worker, &w[i]) == 0) started++;
    }
    return started;
}

static void qs_phase_mixed(void) {
    TEST("stress 1: threads allocate, realloc, free locally and on other threads");
    struct qs_worker w[64];
    int n = qs_cfg->mixed_threads > 64 ? 64 : qs_cfg->mixed_threads;
    CHECK_EQ(qs_start_workers(w, n, qs_cfg->mixed_ops, 0), n);
    for (int i = 0; i < n; i++) pthread_join(w[i].thread, NULL);
    qs_drain_shared();
    CHECK(atomic_load(&qs_cross) > 0);
    CHECK(atomic_load(&qs_ops) >= (long)n * qs_cfg->mixed_ops);
}

/* ---------------------------------------------------------------------------------------------
 * Phase 2: short-lived threads and orphaned blocks
 * -------------------------------------------------------------------------------------------
 */

static atomic_long qs_orphans_freed; /* blocks freed after their allocating thread exited */

static void *qs_short_lived(void *arg) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    uint64_t rng = qs_seed(0x5407, id);
    int nb = qs_cfg->churn_blocks;
    void *mine[256];
    if (nb > 256) nb = 256;
    for (int i = 0; i < nb; i++) {
        size_t n = 16 + qs_size(&rng, qs_cfg->max_size / 4 > 64 ? qs_cfg->max_size / 4 : 64);
        mine[i] = qs_alloc_stamped(n, qs_mix(id << 32 | (uint64_t)i), &rng);
    }
    /* Free a quarter here. */
    for (int i = 0; i < nb / 4; i++)
        if (mine[i]) qs_take_and_free(mine[i]);
    /* Take blocks that dead threads left behind, check and free them. */
    void *taken[64];
    int nt = 0;
    pthread_mutex_lock(&qs_orphan_lock);
    while (nt < 64 && qs_norphans > 0 && nt < nb / 2) taken[nt++] = qs_orphans[--qs_norphans];
    pthread_mutex_unlock(&qs_orphan_lock);
    for (int i = 0; i < nt; i++) qs_take_and_free(taken[i]);
    atomic_fetch_add(&qs_orphans_freed, nt);
    /* Leave the rest behind for later threads. */
    pthread_mutex_lock(&qs_orphan_lock);
    for (int i = nb / 4; i < nb; i++) {
        if (!mine[i]) continue;
        if (qs_norphans < QS_ORPHANS)
            qs_orphans[qs_norphans++] = mine[i];
        else {
            pthread_mutex_unlock(&qs_orphan_lock);
            qs_take_and_free(mine[i]);
            pthread_mutex_lock(&qs_orphan_lock);
        }
    }
    pthread_mutex_unlock(&qs_orphan_lock);
    return NULL;
}

/* Keeps cfg->churn_parallel short-lived threads running until total have run.
 */
static int qs_churn(int total, int parallel, uint64_t first_id) {
    pthread_t t[64];
    if (parallel > 64) parallel = 64;
    int made = 0, failed = 0;
    uint64_t id = first_id;
    while (made < total && !(total < 0 && atomic_load(&qs_stop))) {
        int k = 0;
        for (; k < parallel && (made + k < total || total < 0); k++)
            if (pthread_create(&t[k], NULL, qs_short_lived, (void *)(uintptr_t)id++) != 0) {
                failed++;
                break;
            }
        for (int i = 0; i < k; i++) pthread_join(t[i], NULL);
        made += k;
        if (total < 0 && atomic_load(&qs_stop)) break;
        if (failed) break;
    }
    return failed ? -1 : made;
}

static void qs_drain_orphans(void) {
    pthread_mutex_lock(&qs_orphan_lock);
    while (qs_norphans > 0) {
        void *p = qs_orphans[--qs_norphans];
        pthread_mutex_unlock(&qs_orphan_lock);
        qs_take_and_free(p);
        atomic_fetch_add(&qs_orphans_freed, 1);
        pthread_mutex_lock(&qs_orphan_lock);
    }
    pthread_mutex_unlock(&qs_orphan_lock);
}

static void qs_phase_churn(void) {
    TEST("stress 2: hundreds of short-lived threads; blocks freed after their "
         "thread died");
    long before = atomic_load(&qs_orphans_freed);
    int made = qs_churn(qs_cfg->churn_threads, qs_cfg->churn_parallel, 1000);
    CHECK_EQ(made, qs_cfg->churn_threads);
    /* Some blocks were taken by later threads, the rest by this (main) thread. */
    CHECK(atomic_load(&qs_orphans_freed) > before);
    qs_drain_orphans();
}

/* ---------------------------------------------------------------------------------------------
 * Phase 3: fork while other threads allocate
 * -------------------------------------------------------------------------------------------
 */

static void *qs_churn_thread(void *arg) {
    (void)arg;
    qs_churn(-1, 3, 1u << 20);
    return NULL;
}

static void *qs_child_thread(void *arg) {
    uint64_t rng = qs_seed(0xC41D, (uint64_t)(uintptr_t)arg);
    for (int i = 0; i < 500; i++) {
        size_t n = 16 + qs_size(&rng, 1 << 20);
        void *p = qs_alloc_stamped(n, (uint64_t)i, &rng);
        if (p) qs_take_and_free(p);
    }
    return NULL;
}

/* What a forked child does; returns its exit status (0: everything worked). */
static int qs_child(int k) {
    /* Blocks other threads of the parent published: their threads do not exist
     * here. */
    for (int i = 0; i < QS_SHARED; i++) {
        void *p = atomic_exchange(&qs_shared[i], NULL);
        if (p) qs_take_and_free(p);
    }
    uint64_t rng = qs_seed(0xF0F0, (uint64_t)k);
    void *live[128] = {0};
    for (long op = 0; op < qs_cfg->child_ops; op++) {
        unsigned s = (unsigned)(qs_next(&rng) % 128);
        if (live[s]) {
            qs_take_and_free(live[s]);
            live[s] = NULL;
        } else {
            live[s] = qs_alloc_stamped(16 + qs_size(&rng, 256 * 1024), (uint64_t)op, &rng);
        }
    }
    if (qs_cfg->child_thread) {
        pthread_t t;
        if (pthread_create(&t, NULL, qs_child_thread, (void *)(uintptr_t)k) != 0) return 4;
        pthread_join(t, NULL);
    }
    for (int i = 0; i < 128; i++)
        if (live[i]) qs_take_and_free(live[i]);
    if (atomic_load(&qs_corrupt) || atomic_load(&qs_nulls)) return 5;
    return 0;
}

static void qs_phase_fork(void) {
    TEST("stress 3: fork while threads allocate; children allocate, free and "
         "exit 0");
    struct qs_worker w[16];
    int nw = qs_cfg->fork_workers > 16 ? 16 : qs_cfg->fork_workers;
    atomic_store(&qs_stop, 0);
    int started = qs_start_workers(w, nw, -1, 100);
    CHECK_EQ(started, nw);
    pthread_t churn;
    int churn_ok = pthread_create(&churn, NULL, qs_churn_thread, NULL) == 0;
    CHECK(churn_ok);
    int good = 0;
    uint64_t rng = qs_seed(0xF02C, 1);
    for (int k = 0; k < qs_cfg->forks; k++) {
        /* The main thread allocates too, so the fork lands in the middle of
         * activity. */
        void *mine[32];
        for (int i = 0; i < 32; i++)
            mine[i] =
                qs_alloc_stamped(16 + qs_size(&rng, 1 << 16), (uint64_t)k * 64 + (uint64_t)i, &rng);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(30); /* a deadlocked child dies of SIGALRM and is counted */
            int rc = qs_child(k);
            for (int i = 0; i < 32; i++)
                if (mine[i]) qs_take_and_free(mine[i]);
            if (k % 2) exit(rc); /* atexit handlers and stdio in the child */
            _exit(rc);
        }
        int status = 0;
        if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0)
            good++;
        else
            fprintf(stderr, "fork %d: child status 0x%x\n", k, status);
        for (int i = 0; i < 32; i++)
            if (mine[i]) qs_take_and_free(mine[i]);
    }
    CHECK_EQ(good, qs_cfg->forks);
    atomic_store(&qs_stop, 1);
    for (int i = 0; i < started; i++) pthread_join(w[i].thread, NULL);
    if (churn_ok) pthread_join(churn, NULL);
    qs_drain_shared();
    qs_drain_orphans();
}

/* ---------------------------------------------------------------------------------------------
 * Everything
 * -------------------------------------------------------------------------------------------
 */

#include <time.h>

/* Seconds since an arbitrary start (reported, never asserted on). */
static double qs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void qs_run_all(const struct qs_config *cfg) {
    qs_cfg = cfg;
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    double t0 = qs_now();
    qs_phase_mixed();
    double t1 = qs_now();
    qs_phase_churn();
    double t2 = qs_now();
    qs_phase_fork();
    double t3 = qs_now();
    printf("stress: phases took %.2fs (mixed), %.2fs (churn), %.2fs (fork)\n", t1 - t0, t2 - t1,
           t3 - t2);
    TEST("stress: no corruption, failure or misbehaviour in any phase");
    CHECK_EQ(atomic_load(&qs_corrupt), 0);
    CHECK_EQ(atomic_load(&qs_nulls), 0);
    CHECK_EQ(atomic_load(&qs_misaligned), 0);
    CHECK_EQ(atomic_load(&qs_foreign), 0);
    CHECK_EQ(atomic_load(&qs_small_usable), 0);
    CHECK_EQ(atomic_load(&qs_not_zero), 0);
    printf("stress: %ld operations, %ld cross-thread frees, %ld orphaned blocks "
           "freed\n",
           atomic_load(&qs_ops), atomic_load(&qs_cross), atomic_load(&qs_orphans_freed));
}

#endif /* QUIRE_TESTS_ALLOC_STRESS_CASES_H */
