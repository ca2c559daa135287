/*
 * alloc/init.c - process and thread life cycle of the malloc engine: options, the static empty
 * heaps, heap creation on a thread's first allocation, abandon at thread exit, fork handlers and
 * the statistics report at exit.
 *
 * Nothing here depends on constructors having run: the first malloc may come from the dynamic
 * loader or another library's constructor. Every thread starts on q_heap_empty, a static heap
 * whose free lists are all empty, so its first allocation falls into the slow path, which
 * initializes the process once (size classes, options from the environment, read without
 * allocating) and gives the thread a heap struct from a pool of mmap'd memory. The heap is
 * registered with a pthread key whose destructor abandons it when the thread exits; the thread
 * then runs on q_heap_dead and allocates from a locked shared heap. pthread_atfork handlers take
 * every global lock around fork() so the child starts with consistent, unlocked state.
 */
#include <pthread.h>
#include <string.h>

#include "alloc/internal.h"

#define EMPTY_HEAP                                                                                 \
    {                                                                                              \
        .direct = {[0 ... Q_DIRECT_N - 1] = &q_slab_empty},                                        \
        .cur = {[0 ... Q_NCLASSES - 1] = &q_slab_empty},                                           \
    }

__thread struct q_heap *q_tls_heap __attribute__((tls_model("initial-exec"))) = &q_heap_empty;
struct q_slab q_slab_empty;
struct q_heap q_heap_empty = EMPTY_HEAP;
struct q_heap q_heap_dead = EMPTY_HEAP;
struct q_heap q_shared_heap;
q_lock_t q_shared_lock;
q_lock_t q_heap_lock;
struct q_heap *q_heap_registry;
struct q_options q_opt = {.purge_delay_ns = 100 * 1000 * 1000,
                          .stats_fd = 2,
                          .prof_interval = 512 * 1024,
                          .prof_file = "quire.%p.heap"};
_Atomic int q_process_state;
uintptr_t q_key;

static struct q_heap *heap_pool;
static uint8_t *heap_chunk;
static size_t heap_chunk_left;
static pthread_key_t heap_key;
static int heap_key_ok;
static _Atomic int atfork_state;

__thread uint32_t q_lock_tid __attribute__((tls_model("initial-exec")));

uint32_t q_lock_tid_init(void) {
    q_lock_tid = (uint32_t)q_os_thread_id() & Q_LOCK_TID;
    return q_lock_tid;
}

/* The contended case of q_lock: spin while the holder may be about to release (it runs on
   another CPU), then mark the lock contended and sleep until an unlock wakes us. A thread
   taking the lock after sleeping keeps the waiters mark (others may sleep too): the next unlock
   then wakes one more, which finds the lock free or sleeps again. */
void q_lock_wait(q_lock_t *l, uint32_t me) {
    for (unsigned i = 0; i < 100; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        uint32_t c = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &c, me, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    for (;;) {
        uint32_t c = atomic_load_explicit(&l->v, memory_order_relaxed);
        if (c == 0) {
            if (atomic_compare_exchange_weak_explicit(&l->v, &c, me | Q_LOCK_WAITERS,
                                                      memory_order_acquire, memory_order_relaxed))
                return;
            continue;
        }
        if (!(c & Q_LOCK_WAITERS) &&
            !atomic_compare_exchange_weak_explicit(&l->v, &c, c | Q_LOCK_WAITERS,
                                                   memory_order_relaxed, memory_order_relaxed))
            continue;
        q_os_futex_wait_private((const uint32_t *)&l->v, c | Q_LOCK_WAITERS);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------------------------- */

static void read_options(void) {
    q_options_read();
    /* Programs may close stderr before exit (coreutils do): keep our own copy for the report. */
    int fd;
    if (q_opt.stats && !q_opt.stats_file[0] && q_os_dup(2, &fd) == 0) q_opt.stats_fd = fd;
}

/* ---------------------------------------------------------------------------------------------
 * Thread exit and fork
 * ------------------------------------------------------------------------------------------- */

static void thread_done(void *arg) {
    struct q_heap *h = arg;
    if (!h || h == &q_heap_empty || h == &q_heap_dead) return;
    q_heap_abandon(h);
    q_lock(&q_heap_lock);
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        atomic_fetch_add_explicit(&q_gs.retired_nalloc[c], h->nalloc[c], Q_RELAXED);
        h->nalloc[c] = 0;
    }
    h->live = 0;
    h->pool_next = heap_pool;
    heap_pool = h;
    q_unlock(&q_heap_lock);
    if (q_tls_heap == h) q_tls_heap = &q_heap_dead;
}

/*
 * Fork: the parent takes every global lock before fork() so the child starts from consistent
 * state, and releases them after; the child, where only the forking thread exists, resets
 * them. A fork can start while the forking thread already holds one of them - a signal handler
 * that forks after interrupting malloc, or after interrupting another fork's prepare handler
 * (glibc's tst-mallocfork does this) - so a lock the thread holds is left alone, and each
 * nesting level releases only what it took. (In such a child the interrupted operation stays
 * half done; as with glibc, only async-signal-safe calls are safe there until exec.)
 */
static q_lock_t *const fork_locks[] = {&q_shared_lock, &q_heap_lock, &q_seg_lock, &q_large_lock,
                                       &q_prof_lock};
enum { NFORK_LOCKS = sizeof fork_locks / sizeof fork_locks[0], FORK_DEPTH_MAX = 8 };
static __thread unsigned fork_depth __attribute__((tls_model("initial-exec")));
static __thread uint8_t fork_taken[FORK_DEPTH_MAX] __attribute__((tls_model("initial-exec")));

static void fork_prepare(void) {
    /* The level is claimed before any lock is taken, and released only after its mask was
       read: a handler's fork in between works one level up (signal fences keep the order). */
    unsigned d = fork_depth;
    fork_depth = d + 1;
    atomic_signal_fence(memory_order_seq_cst);
    uint8_t taken = 0;
    for (unsigned i = 0; i < NFORK_LOCKS; i++) {
        q_lock_t *l = fork_locks[i];
        if (q_lock_mine(l)) continue;
        q_lock(l);
        taken |= (uint8_t)(1u << i);
    }
    if (d < FORK_DEPTH_MAX) fork_taken[d] = taken;
    atomic_signal_fence(memory_order_seq_cst);
}

static void fork_parent(void) {
    unsigned d = fork_depth - 1;
    uint8_t taken = d < FORK_DEPTH_MAX ? fork_taken[d] : 0;
    atomic_signal_fence(memory_order_seq_cst);
    fork_depth = d;
    atomic_signal_fence(memory_order_seq_cst);
    for (unsigned i = NFORK_LOCKS; i-- > 0;)
        if (taken & (1u << i)) q_unlock(fork_locks[i]);
}

static void fork_child(void) {
    /* Only the forking thread exists in the child: the locks are simply reset, and its thread
       id is the child's own from now on. */
    for (unsigned i = 0; i < NFORK_LOCKS; i++)
        atomic_store_explicit(&fork_locks[i]->v, 0, Q_RELAXED);
    q_lock_tid = 0;
    fork_depth--;
}

/* ---------------------------------------------------------------------------------------------
 * Process and heaps
 * ------------------------------------------------------------------------------------------- */

void q_process_init(void) {
    if (atomic_load_explicit(&q_process_state, memory_order_acquire) == 2) return;
    int expect = 0;
    if (atomic_compare_exchange_strong(&q_process_state, &expect, 1)) {
        /* Before any block is freed: every free-list link is encoded with this key. */
        q_os_random(&q_key, sizeof q_key);
        read_options();
        q_guard_init();
        if (q_opt.secure) q_secure_init();
        q_classes_init(); /* after the options: QUIRE_SECURE's slabs hold guard pages */
        heap_key_ok = pthread_key_create(&heap_key, thread_done) == 0;
        atomic_store_explicit(&q_process_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&q_process_state, memory_order_acquire) != 2) q_os_yield();
}

static struct q_heap *heap_struct_alloc(void) {
    const size_t sz = (sizeof(struct q_heap) + 63) & ~(size_t)63;
    const size_t chunk = 256 * 1024;
    q_lock(&q_heap_lock);
    struct q_heap *h = heap_pool;
    if (h) {
        heap_pool = h->pool_next;
    } else {
        if (heap_chunk_left < sz) {
            void *m = NULL;
            if (q_os_map(&m, chunk, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0) != 0) {
                q_unlock(&q_heap_lock);
                q_verbose("mmap of heap structures failed", NULL, chunk);
                return NULL;
            }
            atomic_fetch_add_explicit(&q_gs.mappings, 1, Q_RELAXED);
            q_stats_note_mapped((int64_t)chunk);
            heap_chunk = m;
            heap_chunk_left = chunk;
        }
        h = (struct q_heap *)heap_chunk;
        heap_chunk += sz;
        heap_chunk_left -= sz;
        h->reg_next = q_heap_registry;
        q_heap_registry = h;
    }
    q_heap_init(h);
    h->live = 1;
    q_unlock(&q_heap_lock);
    return h;
}

struct q_heap *q_thread_heap_create(void) {
    q_process_init();
    struct q_heap *h = heap_struct_alloc();
    if (!h) return NULL;
    h->tid = q_tid();
    h->ktid = q_lock_me();
    q_tls_heap = h;
    atomic_fetch_add_explicit(&q_gs.threads, 1, Q_RELAXED);
    if (heap_key_ok) pthread_setspecific(heap_key, h);
    /* pthread_atfork may allocate: register once this thread's heap is usable. */
    int expect = 0;
    if (atomic_compare_exchange_strong(&atfork_state, &expect, 1))
        pthread_atfork(fork_prepare, fork_parent, fork_child);
    return h;
}

/* Defined by preload/override.c: absent when the engine is linked without the malloc override
   (the quire tool, unit tests), whose process then reports only if it used the engine. */
extern const int q_override_linked __attribute__((weak)) Q_HIDDEN;

/* Preloaded, the engine starts when the library is loaded even if the program never allocates:
   the options are read and the report's copy of stderr is taken before the program can close
   stderr (coreutils close it in an atexit handler, which runs before this library's
   destructor). */
__attribute__((constructor)) static void at_load(void) {
    if (!&q_override_linked) return;
    q_process_init();
    q_prof_start(); /* outside malloc: its first stack capture allocates */
}

__attribute__((destructor)) static void at_exit_report(void) {
    if (atomic_load_explicit(&q_process_state, memory_order_acquire) != 2) {
        if (!&q_override_linked) return; /* the engine never ran in this process */
        q_process_init();
    }
    if (q_opt.stats) q_stats_print();
    q_prof_exit();
}
