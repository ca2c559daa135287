/*
 * alloc/internal.h - the malloc engine's glossary: types, invariants, cross-file prototypes and
 * the inline fast paths.
 *
 * Glossary
 * --------
 *   segment  a 4 MiB mapping aligned to 4 MiB (Q_SEG_SIZE). Its first Q_SEG_META_PAGES pages hold
 *            struct q_segment (metadata, never handed out) at offset Q_SEG_HDR, between two
 *            guard pages - one at the segment's start, one at the end of its metadata pages -
 *            so a linear overflow from the memory below or an underflow from the slabs above
 *            faults before it reaches the metadata; the rest is cut into 64 KiB pages.
 *            A pointer's segment is `(p & ~Q_SEG_MASK) + Q_SEG_HDR`; a global byte map (q_segmap,
 * one byte per 4 MiB of address space: 32 MiB of address space, only the pages that cover mapped
 *            segments ever hold memory) says which segments are quire's, so free() never reads
 *            memory quire does not own.
 *   page     64 KiB (Q_PAGE_SIZE) unit of a segment: free, metadata, or part of one slab. A free
 *            page is clean (never touched since mapped or purged), dense-dirty (it was part of
 *            a slab of small slots: most of its memory is resident) or sparse-dirty (it held
 *            slots above Q_SPARSE_MIN, which programs touch in a few places: little of it is
 *            resident). New slabs take pages of their own kind first (segment.c, heap.c).
 *   slab     a run of 1..8 pages holding `reserved` slots of one size class. Its descriptor is
 *            seg->slabs[first page]; seg->pagemap[i] points to it for every page i of the run.
 *   slot     one block of a slab; slots start at slab->start + k * slot_size (16-aligned).
 *   granule  16 bytes. Each segment keeps two bits per granule, in interleaved 64-bit words
 *            (bits[2w] = in-use, bits[2w+1] = pending), w = offset >> 10, bit = (offset >> 4) & 63:
 *              in-use  set exactly at the start of every live slot; written only by the
 *                      segment's owner thread (relaxed atomic stores, plain instructions).
 *                      Aligned requests use a class whose slot size is a multiple of the
 *                      alignment, so every block is a slot start (no interior blocks).
 *              pending set by another thread's free (atomic fetch_or) while the block waits in
 *                      the slab's thread_free list; cleared by the owner when it collects it.
 *            free(p) is valid iff in-use(p) && !pending(p): an interior pointer, a double free,
 *            a pointer into a free page or into metadata all fail this O(1) test.
 *   heap     per-thread allocator state (struct q_heap): for each class a queue of slabs with
 *            free slots (first = current) and a list of full slabs; direct[] maps small request
 *            sizes straight to the current slab (mimalloc's pages_free_direct).
 *   owner    the heap in seg->heap; NULL while the segment is abandoned (its thread exited).
 *
 * Invariants (per slab, owner's view)
 *   used == live blocks + |thread_free|        (blocks out of the free and local_free lists)
 *   capacity == used + |free| + |local_free|   (slots threaded so far; capacity <= reserved)
 *   heap_fast == owner's tid  iff  owned by a thread heap && !in_full, else 0; the free fast
 *     path takes a block only when heap_fast equals the calling thread's thread pointer (the
 *     tid, unique among live threads; a heap's slabs are cleared when its thread exits).
 *   a slab is on exactly one list of its owner: queue[cls] (may have free slots) or full[cls]
 *     (in_full: free, local_free and the bump area were empty when it was moved there).
 *   q_tls_heap is never NULL: a thread starts on q_heap_empty (every direct[] entry is the
 *     empty slab, so the fast path falls into the slow path, which creates the heap) and ends on
 *     q_heap_dead (after its heap was abandoned; it then allocates from the locked shared heap).
 *
 * Files: sizeclass.c (classes), segment.c (segments, pages, purge, segment cache), heap.c (thread
 * heaps, slow paths, abandon/reclaim), large.c (large blocks), api.c (the public quire_*
 * family), report.c (error reports and verbose messages), stats.c (statistics), init.c (options,
 * process init, fork and thread exit), invariants.c (validators of the invariants above, run
 * after the slow paths by `make test-debug`).
 */
#ifndef QUIRE_ALLOC_INTERNAL_H
#define QUIRE_ALLOC_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "pages/prim.h"
#include "quire/alloc.h"

#define Q_LIKELY(x)   __builtin_expect(!!(x), 1)
#define Q_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define Q_HIDDEN      __attribute__((visibility("hidden")))
#define Q_NOINLINE    __attribute__((noinline))

/* ---------------------------------------------------------------------------------------------
 * Geometry
 * ------------------------------------------------------------------------------------------- */

#define Q_SEG_SHIFT      22
#define Q_SEG_SIZE       ((size_t)1 << Q_SEG_SHIFT)
#define Q_SEG_MASK       (Q_SEG_SIZE - 1)
#define Q_PAGE_SHIFT     16
#define Q_PAGE_SIZE      ((size_t)1 << Q_PAGE_SHIFT)
#define Q_SEG_PAGES      (Q_SEG_SIZE / Q_PAGE_SIZE) /* 64 */
#define Q_SEG_META_PAGES 2                          /* pages 0..1 hold struct q_segment */
#define Q_SEG_HDR        16384 /* struct q_segment starts this far into its segment */
#define Q_SEG_GUARD_MAX  16384 /* largest OS page that guards the metadata (else none) */
#define Q_GRANULE        16
#define Q_BITWORDS       (Q_SEG_SIZE / Q_GRANULE / 64) /* 4096 in-use words (and as many pending) */
#define Q_ADDR_BITS      47                            /* user address space quire maps in */
/* A pointer with any of these bits set is not a quire slot address (misaligned or too high). */
#define Q_BAD_PTR_BITS (~(((uintptr_t)1 << Q_ADDR_BITS) - 1) | (uintptr_t)(Q_GRANULE - 1))

/* Size classes: 16..128 by 16; per power of two, four to 1 KiB, eight to 8 KiB, four to
   256 KiB (alloc/sizeclass.c). */
#define Q_NCLASSES       64
#define Q_SMALL_MAX      1024 /* sizes up to this use heap->direct[] */
#define Q_DIRECT_N       (Q_SMALL_MAX / Q_GRANULE + 1)
#define Q_MEDIUM_MAX     (256u * 1024u) /* largest slot; bigger blocks are large blocks */
#define Q_MAX_SLAB_PAGES 8
#define Q_SPARSE_MIN     32768 /* larger slots are sparse: slabs fit them exactly */
#define Q_TRAILER        8     /* QUIRE_SECURE: bytes at the end of each slot (secure.c) */
#define Q_CANARY_MAX     16    /* QUIRE_SECURE: canary bytes checked after a block, at most */

/* ---------------------------------------------------------------------------------------------
 * Types
 * ------------------------------------------------------------------------------------------- */

struct q_heap;

/* A free slot: its first word links the free lists, encoded (q_link_enc): never a plain
   pointer, so a stray or hostile write cannot aim the next malloc at a chosen address. */
struct q_block {
    uintptr_t link;
};

/* A slab descriptor (lives in the segment header, never in the slab's pages). Two cache lines:
   the first holds what the owner's fast paths read and write, the second thread_free (which
   other threads' frees CAS) and the fields of the slow paths, so that remote frees do not
   take the line the owner's malloc and free work on. */
struct q_slab {
    /* line 0: the owner's */
    _Alignas(64) struct q_block *free; /* owner's malloc pops from here */
    struct q_block *local_free;        /* owner's frees push here */
    _Atomic(uintptr_t) heap_fast;      /* owner's tid if the free fast path may run, else 0 */
    uintptr_t bits;                    /* address of the segment's in-use words */
    uint64_t nalloc;                   /* allocations from this slab (owner; added to the heap's
                                          per-class count when the slab is released) */
    uint32_t used;                     /* live blocks + blocks waiting in thread_free */
    uint32_t capacity;                 /* slots threaded into the lists so far */
    uint32_t slot_size;                /* bytes per slot (the class size) */
    uint32_t size_lo;                  /* smallest request of the class (sized delete checks) */
    uint32_t size_span;                /* slot_size - size_lo */
    uint8_t cls;                       /* size class index */
    uint8_t in_full;                   /* on the owner's full list */
    uint8_t kept;                      /* exempt from release-when-empty until the next purge */
    uint8_t npages;                    /* length of the page run, 0 for a free descriptor */
    /* line 1: other threads' frees, slow paths */
    _Alignas(64) _Atomic(uintptr_t) thread_free; /* other threads' frees push here (one CAS) */
    uint8_t *start;                              /* first slot (the first page's address) */
    struct q_block *prof_rest;   /* prof/leaks: the list from the next sampled block on */
    struct q_slab *next, *prev;  /* links in queue[cls] or full[cls] */
    _Atomic(uintptr_t) prof_one; /* prof/leaks: the sampled block while sampled == 1 (0 when
                                    not known): frees of the others skip the records */
    uint32_t reserved;           /* slots the slab holds */
    _Atomic uint32_t sampled;    /* prof/leaks: sampled blocks live in this slab */
    uint32_t prof_rest_n;        /* prof/leaks: blocks on prof_rest */
    uint8_t page;                /* index of the first page in the segment */
    uint8_t guarded;             /* QUIRE_SECURE: the first OS page of page `page` is a guard
                                    page - also while the page is free (secure.c) */
};
_Static_assert(sizeof(struct q_slab) == 128, "a slab descriptor is two cache lines");

/* The segment header, at the segment's start. */
struct q_segment {
    uint64_t cookie;                       /* Q_SEG_COOKIE ^ address: sanity check */
    _Atomic(struct q_heap *) heap;         /* owner; NULL while abandoned or cached */
    struct q_segment *next, *prev;         /* in the owner's list, the abandoned list or cache */
    struct q_segment *all_next, *all_prev; /* registry of every mapped segment (stats) */
    uint64_t free_mask;                    /* bit i: page i is free */
    uint64_t dirty_mask;                   /* bit i: free page i holds memory not yet purged */
    uint64_t dense_mask;                   /* bit i: dirty free page i was mostly touched */
    uint64_t purge_ns;                     /* earliest purge deadline of a dirty page, 0 none */
    uint64_t page_due[Q_SEG_PAGES];        /* dirty free page i may be purged from this time */
    uint32_t live_slabs;                   /* slabs carved from this segment */
    uint32_t pad_;
    struct q_slab *pagemap[Q_SEG_PAGES]; /* page -> its slab (NULL for free/meta pages) */
    struct q_slab slabs[Q_SEG_PAGES];    /* descriptor of the slab starting at page i */
    _Alignas(64) _Atomic uint64_t bits[2 * Q_BITWORDS]; /* in-use/pending, interleaved */
};

/* A per-class list of slabs. */
struct q_slabq {
    struct q_slab *first, *last;
};

/* Per-thread heap. */
struct q_heap {
    struct q_slab *direct[Q_DIRECT_N]; /* (size + 15) >> 4 -> current slab of its class */
    struct q_slab *cur[Q_NCLASSES];    /* class -> current slab (queue first or empty) */
    uint64_t nalloc[Q_NCLASSES];       /* allocations per class of released slabs (owner) */
    struct q_slabq queue[Q_NCLASSES];  /* slabs that may have free slots */
    struct q_slabq full[Q_NCLASSES];   /* slabs found full */
    struct q_segment *segs;            /* owned segments (doubly linked) */
    uintptr_t tid;                     /* the owner thread's q_tid(), set at creation */
    uint32_t ktid;                     /* its kernel thread id (statistics) */
    uint32_t pad2_;
    int64_t prof_left;   /* prof/leaks: bytes until the next sample (-1: unset) */
    uint64_t maint_tick; /* refills since creation (purge checks every 64th) */
    uint64_t purge_ns;   /* earliest pending purge deadline, 0 if none */
    int live;            /* 1 while owned by a thread (registry, heap lock) */
    int pad_;
    struct q_heap *reg_next;   /* registry of all heap structs (never unlinked) */
    struct q_heap *pool_next;  /* free heap structs (heap lock) */
    _Atomic int remote_hint;   /* another thread freed into one of our slabs; q_heap_init
                                  clears the fields before it */
    struct q_quarantine *quar; /* QUIRE_SECURE: blocks freed, not yet reusable (mapped once,
                                  kept when the struct is reused; empty when unowned) */
};

/*
 * The slow paths' lock: a futex mutex whose word holds the holder's kernel thread id (0 when
 * free) and Q_LOCK_WAITERS when a thread sleeps on it. A thread that finds it held spins a
 * little, then sleeps in the kernel instead of spinning or yielding, so a holder that was
 * preempted gets the CPU back on a busy machine. The owner in the word itself lets the fork
 * handlers skip the locks the forking thread already holds (a fork from a signal handler that
 * interrupted malloc or another fork, init.c), with no window where a lock is held unnamed.
 */
typedef struct {
    _Atomic uint32_t v;
} q_lock_t;

#define Q_LOCK_WAITERS 0x80000000u
#define Q_LOCK_TID     0x3fffffffu /* kernel thread ids fit (pid_max <= 2^22) */

extern __thread uint32_t q_lock_tid __attribute__((tls_model("initial-exec"))) Q_HIDDEN;
uint32_t q_lock_tid_init(void) Q_NOINLINE Q_HIDDEN;
void q_lock_wait(q_lock_t *l, uint32_t me) Q_NOINLINE Q_HIDDEN;

/* The calling thread's kernel thread id, read once per thread (the lock word's value). */
static inline uint32_t q_lock_me(void) {
    uint32_t t = q_lock_tid;
    return Q_LIKELY(t != 0) ? t : q_lock_tid_init();
}

static inline void q_lock(q_lock_t *l) {
    uint32_t me = q_lock_me(), c = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->v, &c, me, memory_order_acquire,
                                                 memory_order_relaxed))
        q_lock_wait(l, me);
}

static inline void q_unlock(q_lock_t *l) {
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) & Q_LOCK_WAITERS)
        q_os_futex_wake_private((const uint32_t *)&l->v, 1);
}

/* Whether the calling thread holds l. */
static inline int q_lock_mine(q_lock_t *l) {
    return (atomic_load_explicit(&l->v, memory_order_relaxed) & Q_LOCK_TID) == q_lock_me();
}

/* How a block was allocated. Large blocks always record it; QUIRE_SECURE records it for every
   block, so a delete that does not match its new (or free of either) is reported. */
enum q_kind { Q_KIND_MALLOC = 0, Q_KIND_NEW = 1, Q_KIND_NEW_ARRAY = 2 };

/* How a free names its block's size (the sized frees are checked against the block). */
enum q_sized { Q_UNSIZED = 0, Q_SIZED = 1, Q_SIZED_ALIGNED = 2 };

/* ---------------------------------------------------------------------------------------------
 * Globals
 * ------------------------------------------------------------------------------------------- */

extern __thread struct q_heap *q_tls_heap __attribute__((tls_model("initial-exec"))) Q_HIDDEN;
extern struct q_heap q_heap_empty Q_HIDDEN;
extern struct q_heap q_heap_dead Q_HIDDEN;
extern struct q_slab q_slab_empty Q_HIDDEN;
extern _Atomic uint8_t q_segmap[] Q_HIDDEN;
extern uintptr_t q_key Q_HIDDEN; /* free-list link key, random, set once at process init */

/* Options (options.c: QUIRE_OPTIONS and the QUIRE_* variables), read once at process init;
   the ones marked run-time may change later (quire_alloc_option_set). */
struct q_options {
    int secure;             /* secure: canaries, quarantine, guards (secure.c) */
    int stats;              /* stats: 0 off, 1 text, 2 json report at exit (run-time) */
    int verbose;            /* verbose: report unusual events (run-time) */
    int64_t purge_delay_ns; /* purge_delay_ms; < 0 never (run-time) */
    int prof_signal;        /* prof_signal: this signal writes the profile (0: none) */
    int purge_free;         /* purge=free: MADV_FREE (run-time) */
    int guards;             /* guards=mprotect: guard pages by mprotect (segment.c) */
    int leaks;              /* leaks: record every block; report the live ones at exit */
    int prof;               /* prof: sampled heap profile (prof.c) */
    uint64_t prof_interval; /* prof_interval: mean bytes between samples (run-time) */
    int stats_fd;           /* a dup of stderr taken at start-up, for the report */
    char stats_file[256];   /* stats_file: report there (%p pid, %n program; run-time) */
    char prof_file[256];    /* prof_file: the profile's path (run-time) */
};
extern struct q_options q_opt Q_HIDDEN;

/* Global counters (stats.c); updated on slow paths with relaxed atomics. */
struct q_gstats {
    _Atomic uint64_t mapped, peak_mapped, peak_resident, segments, large_blocks, large_bytes;
    _Atomic uint64_t mappings, unmappings, purges, purged_bytes, remaps, threads, abandoned;
    _Atomic uint64_t reclaimed, large_allocs, large_alloc_bytes;
    _Atomic uint64_t retired_nalloc[Q_NCLASSES]; /* allocations of heaps already released */
};
extern struct q_gstats q_gs Q_HIDDEN;

/* ---------------------------------------------------------------------------------------------
 * Prototypes by file
 * ------------------------------------------------------------------------------------------- */

/* sizeclass.c */
extern uint32_t q_class_size[Q_NCLASSES] Q_HIDDEN;
extern uint8_t q_class_pages[Q_NCLASSES] Q_HIDDEN;
void q_classes_init(void) Q_HIDDEN;

/* segment.c */
struct q_segment *q_segment_alloc(struct q_heap *h) Q_HIDDEN;
void q_guard_init(void) Q_HIDDEN;
int q_guard(void *addr, size_t len, int on) Q_HIDDEN;
void q_segment_release(struct q_segment *seg) Q_HIDDEN;
/* Which free pages q_segment_pages_alloc may take (see "page" in the glossary). */
enum q_run_kind {
    Q_RUN_DENSE,  /* dense-dirty pages only */
    Q_RUN_SPARSE, /* sparse-dirty pages only */
    Q_RUN_CLEAN,  /* clean pages only */
    Q_RUN_ANY     /* dirty pages if a run of them fits, else any free pages */
};
int q_segment_pages_alloc(struct q_segment *seg, unsigned n, enum q_run_kind kind) Q_HIDDEN;
/* A sparse-dirty run of n pages where a slab of class cls started last; its first page or -1. */
int q_segment_pages_alloc_class(struct q_segment *seg, unsigned n, unsigned cls) Q_HIDDEN;
void q_segment_pages_free(struct q_segment *seg, unsigned first, unsigned n, uint64_t now,
                          int dense) Q_HIDDEN;
size_t q_segment_purge(struct q_segment *seg, uint64_t now, int force) Q_HIDDEN;
size_t q_segment_cache_purge(uint64_t now, int force) Q_HIDDEN;
uint64_t q_segment_cache_due(void) Q_HIDDEN;
void q_segment_abandon(struct q_segment *seg) Q_HIDDEN;
struct q_segment *q_segment_take_abandoned(void) Q_HIDDEN;
extern q_lock_t q_seg_lock Q_HIDDEN;
extern struct q_segment *q_seg_all Q_HIDDEN;

/* heap.c */
void *q_malloc_slow(struct q_heap *h, size_t size, unsigned kind) Q_NOINLINE Q_HIDDEN;
void *q_slab_pop_last(struct q_slab *s, struct q_block *b, uintptr_t t) Q_NOINLINE Q_HIDDEN;
void q_free_slow(void *p, unsigned kind) Q_NOINLINE Q_HIDDEN;
void q_free_other(void *p, struct q_slab *s, unsigned kind) Q_NOINLINE Q_HIDDEN;
void q_free_sized_slow(const char *fn, void *p, unsigned kind, size_t size, size_t align,
                       unsigned how) Q_NOINLINE Q_HIDDEN;
void q_slab_emptied(struct q_heap *h, struct q_slab *s) Q_NOINLINE Q_HIDDEN;
void *q_heap_alloc_cls(struct q_heap *h, unsigned cls) Q_HIDDEN;
void *q_heap_alloc_aligned(struct q_heap *h, size_t size, size_t align) Q_HIDDEN;
void q_heap_init(struct q_heap *h) Q_HIDDEN;
void q_heap_abandon(struct q_heap *h) Q_HIDDEN;
void q_heap_collect(struct q_heap *h, int force) Q_HIDDEN;
int q_heap_purge(struct q_heap *h, uint64_t now, int force) Q_HIDDEN;
void *q_alloc_generic(size_t size, size_t align, int zero, unsigned kind) Q_HIDDEN;
void *q_heap_slot(unsigned cls) Q_HIDDEN;
struct q_slab *q_small_check(const char *fn, const void *p) Q_HIDDEN;
void q_small_free(void *p) Q_HIDDEN;
void q_small_release(void *p) Q_HIDDEN;
size_t q_block_usable(const char *fn, const void *p) Q_HIDDEN;
int q_block_owned(const void *p) Q_HIDDEN;

/* invariants.c: NULL when the invariants hold, else the first that does not (Q_VALIDATE) */
const char *q_slab_validate(const struct q_slab *s) Q_HIDDEN;
const char *q_heap_validate(const struct q_heap *h) Q_HIDDEN;

/* large.c */
void *q_large_alloc(size_t size, size_t align, int zero, unsigned kind) Q_HIDDEN;
int q_large_free(const char *fn, void *p, unsigned kind, size_t size, size_t align,
                 unsigned how) Q_HIDDEN;
size_t q_large_usable(const void *p) Q_HIDDEN;
int q_large_realloc(void *p, size_t size, void **out) Q_HIDDEN;
void *q_large_alloc_secure(size_t size, size_t align, size_t room, unsigned kind) Q_HIDDEN;
int q_large_realloc_secure(void *p, size_t size, void **out) Q_HIDDEN;
size_t q_large_trim(uint64_t now, int force) Q_HIDDEN;
uint64_t q_large_due(void) Q_HIDDEN;
extern q_lock_t q_large_lock Q_HIDDEN;

/* report.c */
__attribute__((noreturn)) void q_report_invalid(const char *fn, const void *p,
                                                const char *why) Q_HIDDEN;
__attribute__((noreturn)) void q_report_corrupt(const char *what, uint64_t size, const void *where,
                                                const void *bad) Q_HIDDEN;
void q_verbose(const char *msg, const void *addr, uint64_t n) Q_HIDDEN;
void q_write_hex(char *buf, size_t *len, uint64_t v) Q_HIDDEN;
void q_write_dec(char *buf, size_t *len, uint64_t v) Q_HIDDEN;
void q_write_str(char *buf, size_t *len, const char *s) Q_HIDDEN;

/* secure.c (QUIRE_SECURE=1; see its opening comment) */
void q_secure_init(void) Q_HIDDEN;
void *q_secure_alloc(size_t size, size_t align, int zero, unsigned kind) Q_HIDDEN;
void *q_secure_malloc(struct q_heap *h, size_t size, unsigned kind) Q_HIDDEN;
void q_secure_free(const char *fn, void *p, unsigned kind, size_t size, size_t align,
                   unsigned how) Q_HIDDEN;
void q_secure_free_block(void *p, struct q_slab *s, unsigned kind) Q_HIDDEN;
void *q_secure_realloc(void *p, size_t size) Q_HIDDEN;
size_t q_secure_usable(const char *fn, const void *p) Q_HIDDEN;
int q_secure_owns(const void *p) Q_HIDDEN;
void q_secure_extend(struct q_slab *s, uint32_t k) Q_HIDDEN;
void q_secure_flush(struct q_heap *h) Q_HIDDEN;
void q_secure_held(const struct q_heap *h, uint64_t *held) Q_HIDDEN;
size_t q_secure_slab_bytes(unsigned npages) Q_HIDDEN;
void q_secure_slab_guard(struct q_segment *seg, unsigned page, unsigned n) Q_HIDDEN;
void q_secure_slab_check(const struct q_slab *s) Q_HIDDEN;
extern size_t q_guard_size Q_HIDDEN; /* bytes of a guard (the OS page), 0 without guards */
void q_canary_fill(void *block, size_t lo, size_t hi) Q_HIDDEN;
int q_canary_ok(const void *block, size_t lo, size_t hi) Q_HIDDEN;
unsigned q_kind_check(const char *fn, const void *p, unsigned have, unsigned want) Q_HIDDEN;

/* stats.c */
void q_stats_note_mapped(int64_t delta) Q_HIDDEN;
void q_stats_note_resident(void) Q_HIDDEN;
void q_stats_print(void) Q_HIDDEN;
void q_stats_xml(int fd, void (*sink)(void *ctx, const char *p, size_t n), void *ctx) Q_HIDDEN;

/* prof.c (prof=1, leaks=1; see its opening comment) */
extern int q_prof_on Q_HIDDEN;
extern q_lock_t q_prof_lock Q_HIDDEN;
void q_prof_start(void) Q_HIDDEN;
void q_prof_arm(struct q_heap *h, struct q_slab *s) Q_HIDDEN;
void *q_prof_take(struct q_heap *h, struct q_slab *s) Q_HIDDEN;
/* Before s's freed blocks are reused (q_prof_arm, q_heap_collect) or its pages released (owner):
   forgets the sampled block the slab names if the fast path freed it. */
void q_prof_collect(struct q_slab *s) Q_HIDDEN;
void q_prof_large(void *p, size_t size) Q_HIDDEN;
int q_prof_forget(const void *p) Q_HIDDEN;
void q_prof_exit(void) Q_HIDDEN;
/* The stack capture alone, for the tests: q_prof_unwind_init sets up the cached unwinder
   (q_prof_start does with prof or leaks on; -1 where there is none); q_prof_backtrace stores up
   to max (<= 63) return addresses of its caller's stack in pc, as backtrace() called there would
   (the first one in the caller), and sets *cached when the cached walk made them. */
int q_prof_unwind_init(void) Q_HIDDEN;
int q_prof_backtrace(void **pc, int max, int *cached) Q_HIDDEN;

/* options.c */
void q_options_read(void) Q_HIDDEN;
void q_options_banner(void) Q_HIDDEN;

/* init.c */
void q_process_init(void) Q_HIDDEN;
struct q_heap *q_thread_heap_create(void) Q_HIDDEN;
extern _Atomic int q_process_state Q_HIDDEN; /* 0 none, 1 initializing, 2 ready */
/* Makes the options readable: a call that reads q_opt before any heap exists (aligned allocation,
   realloc) may be a thread's first, racing another thread's start-up. */
static inline void q_process_ready(void) {
    if (Q_UNLIKELY(atomic_load_explicit(&q_process_state, memory_order_acquire) != 2))
        q_process_init();
}
extern q_lock_t q_heap_lock Q_HIDDEN;
extern q_lock_t q_shared_lock Q_HIDDEN;
extern struct q_heap q_shared_heap Q_HIDDEN;
extern struct q_heap *q_heap_registry Q_HIDDEN;

/* api.c: the hidden entry points the preload layer forwards to (no PLT). */
void *q_malloc(size_t size) Q_HIDDEN;
void q_free(void *p) Q_HIDDEN;
void *q_calloc(size_t n, size_t size) Q_HIDDEN;
void *q_realloc(void *p, size_t size) Q_HIDDEN;
void *q_reallocarray(void *p, size_t n, size_t size) Q_HIDDEN;
int q_posix_memalign(void **out, size_t align, size_t size) Q_HIDDEN;
void *q_aligned_alloc(size_t align, size_t size) Q_HIDDEN;
void *q_memalign(size_t align, size_t size) Q_HIDDEN;
void *q_valloc(size_t size) Q_HIDDEN;
void *q_pvalloc(size_t size) Q_HIDDEN;
size_t q_malloc_usable_size(const void *p) Q_HIDDEN;
void q_free_sized(void *p, size_t size) Q_HIDDEN;
void *q_alloc_aligned(size_t align, size_t size, unsigned kind) Q_HIDDEN;
void q_free_aligned_sized(void *p, size_t align, size_t size) Q_HIDDEN;
int q_malloc_trim(size_t pad) Q_HIDDEN;
void q_malloc_stats(void) Q_HIDDEN;
int q_mallopt(int param, int value) Q_HIDDEN;

/* ---------------------------------------------------------------------------------------------
 * Inline helpers
 * ------------------------------------------------------------------------------------------- */

#define Q_RELAXED memory_order_relaxed

/* The segment header of any address inside a segment (including its header). */
static inline struct q_segment *q_seg_of(const void *p) {
    return (struct q_segment *)(((uintptr_t)p & ~(uintptr_t)Q_SEG_MASK) + Q_SEG_HDR);
}

/* The first byte of a segment (its mapping), Q_SEG_HDR before its header. */
static inline char *q_seg_base(const struct q_segment *seg) {
    return (char *)seg - Q_SEG_HDR;
}

/* Whether the 4 MiB segment holding address a is a mapped quire segment (a < 2^47). */
static inline int q_segmap_has(uintptr_t a) {
    return atomic_load_explicit(&q_segmap[a >> Q_SEG_SHIFT], Q_RELAXED) != 0;
}

/* The in-use word of the granule at address a (pending word is the next one). */
static inline _Atomic uint64_t *q_bits_word(uintptr_t a) {
    uintptr_t seg = a & ~(uintptr_t)Q_SEG_MASK;
    /* ((a & MASK) >> 10) * 2 words of 8 bytes = ((a >> 6) & ~15) & (MASK >> 6) */
    return (_Atomic uint64_t *)(seg + Q_SEG_HDR + offsetof(struct q_segment, bits) +
                                ((a >> 6) & ((Q_SEG_MASK >> 6) & ~(uintptr_t)15)));
}

static inline uint64_t q_bit(uintptr_t a) {
    return (uint64_t)1 << ((a >> 4) & 63);
}

/* The calling thread's identity: its thread pointer (one %fs load), unique among live threads. */
static inline uintptr_t q_tid(void) {
    return (uintptr_t)__builtin_thread_pointer();
}

/* Owner-only: sets the in-use bit of a (plain load/or/store; only the owner writes it). */
static inline void q_inuse_set(uintptr_t a) {
    _Atomic uint64_t *w = q_bits_word(a);
    atomic_store_explicit(w, atomic_load_explicit(w, Q_RELAXED) | q_bit(a), Q_RELAXED);
}

static inline void q_inuse_clear(uintptr_t a) {
    _Atomic uint64_t *w = q_bits_word(a);
    atomic_store_explicit(w, atomic_load_explicit(w, Q_RELAXED) & ~q_bit(a), Q_RELAXED);
}

/* Size class of a size in (0, Q_MEDIUM_MAX]; 0 maps to class 0. */
static inline unsigned q_size_class(size_t size) {
    if (size <= 128) return size ? (unsigned)((size - 1) >> 4) : 0;
    size_t s = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzl(s);
    if (size <= 1024) return 8u + (b - 7u) * 4u + (unsigned)((s >> (b - 2)) & 3u);
    if (size <= 8192) return 20u + (b - 10u) * 8u + (unsigned)((s >> (b - 3)) & 7u);
    return 44u + (b - 13u) * 4u + (unsigned)((s >> (b - 2)) & 3u);
}

/*
 * Free-list links. The first word of a free block holds its successor n encoded as
 * n ^ b ^ q_key (b: the block's own address; q_key: a per-process random key; NULL at the end
 * of a list): a pointer written into a freed block by a use-after-free or an overflow decodes
 * to a random address, and the same successor stored in two blocks looks different. Every link
 * is checked when it is followed: the fast path accepts a successor in the same 64 KiB page as
 * b (every slab on that path is one page), q_slab_pop_last checks the rest (the end of a list,
 * slabs of several pages) against the slab's slots and reports anything else as heap
 * corruption. The thread_free list is checked the same way when collected (heap.c).
 */
static inline uintptr_t q_link_enc(const void *b, const void *n) {
    return (uintptr_t)n ^ (uintptr_t)b ^ q_key;
}

static inline void *q_link_dec(const struct q_block *b) {
    return (void *)(b->link ^ (uintptr_t)b ^ q_key);
}

/* w with the bit of granule address a cleared. On x86-64, btr masks the bit index to 0..63
   itself, which the compiler does not see from the C form (two instructions saved). */
static inline uint64_t q_bit_cleared(uint64_t w, uintptr_t a) {
#if defined(__x86_64__)
    __asm__("btrq %1, %0" : "+r"(w) : "r"(a >> 4) : "cc");
    return w;
#else
    return w & ~q_bit(a);
#endif
}

/* Takes block b (the list's head) with successor n: updates the counts, marks b in use. */
static inline void *q_slab_take(struct q_slab *s, struct q_block *b, struct q_block *n) {
    /* q_inuse_set with the segment's bitmap address taken from the slab (saves the masking). */
    uintptr_t a = (uintptr_t)b;
    _Atomic uint64_t *w =
        (_Atomic uint64_t *)(s->bits + ((a >> 6) & ((Q_SEG_MASK >> 6) & ~(uintptr_t)15)));
    uint64_t v = atomic_load_explicit(w, Q_RELAXED);
#if defined(__x86_64__)
    __asm__("btsq %1, %0" : "+r"(v) : "r"(a >> 4) : "cc");
#else
    v |= q_bit(a);
#endif
    atomic_store_explicit(w, v, Q_RELAXED);
    s->free = n;
    s->used++;
    s->nalloc++;
    b->link = 0; /* the encoded link would tell the program the key */
    return b;
}

/* Pops the head of the slab's (non-empty) free list and marks it in use. A successor outside
   b's 64 KiB page - the end of the list, a slab of several pages, or a corrupt link - is left
   to q_slab_pop_last (a tail call: the fast path keeps no register across a call). */
static inline void *q_slab_pop(struct q_slab *s) {
    struct q_block *b = s->free;
    uintptr_t t = b->link ^ q_key; /* successor ^ b */
    if (Q_UNLIKELY(t >= Q_PAGE_SIZE)) return q_slab_pop_last(s, b, t);
    return q_slab_take(s, b, (struct q_block *)(t ^ (uintptr_t)b));
}

/*
 * The malloc fast path. Budget (x86-64, see alloc/api.c): TLS load, size compare, direct[]
 * load, free-list load and test, link load, decode (xor with the key) and page check, next
 * store, used++, nalloc++, and the in-use bit (word address from the slab's bitmap base, bts):
 * 27 instructions. `kind` only reaches the slow path (operator new passes its own); under
 * QUIRE_SECURE every direct[] entry stays on the empty slab, so every call takes the slow path.
 */
/* Whether the sampled blocks of s (prof) are one it names: its frees may stay on the fast path
   (prof.c, q_prof_collect). */
static inline int q_prof_lazy(struct q_slab *s) {
    return atomic_load_explicit(&s->sampled, Q_RELAXED) == 1 &&
           atomic_load_explicit(&s->prof_one, Q_RELAXED) != 0 && !q_opt.leaks;
}

static inline __attribute__((always_inline)) void *q_malloc_kind_inline(size_t size,
                                                                        unsigned kind) {
    struct q_heap *h = q_tls_heap;
    if (Q_LIKELY(size <= Q_SMALL_MAX)) {
        struct q_slab *s = h->direct[(size + 15) >> 4];
        if (Q_LIKELY(s->free != NULL)) return q_slab_pop(s);
    }
    return q_malloc_slow(h, size, kind);
}

static inline __attribute__((always_inline)) void *q_malloc_inline(size_t size) {
    return q_malloc_kind_inline(size, Q_KIND_MALLOC);
}

/*
 * The free fast path: a quire segment (bitmap test), a 16-aligned address, in-use and not
 * pending (double/interior free check), a slab the calling thread owns and not full (and, for
 * a sized delete, a size of the slab's class); then push on local_free with an encoded link.
 * Everything else (NULL, large blocks, other threads' blocks, errors, the slab becoming
 * empty, QUIRE_SECURE, whose slabs never match) goes to the slow path. Ownership is a compare
 * of the slab's heap_fast with the thread pointer (no TLS variable load). Budget: 37
 * instructions (the sized check adds 4).
 */
static inline __attribute__((always_inline)) void q_free_fast(void *p, unsigned kind, int sized,
                                                              size_t n) {
    uintptr_t a = (uintptr_t)p;
    if (Q_LIKELY(!(a & Q_BAD_PTR_BITS) && q_segmap_has(a))) {
        _Atomic uint64_t *w = q_bits_word(a);
        unsigned idx = (unsigned)(a >> 4) & 63; /* bit tests (bt/btr), no mask in a register */
        uint64_t in = atomic_load_explicit(w, Q_RELAXED);
        uint64_t pend = atomic_load_explicit(w + 1, Q_RELAXED);
        if (Q_LIKELY(((in & ~pend) >> idx) & 1)) {
            struct q_slab *s = q_seg_of(p)->pagemap[(a & Q_SEG_MASK) >> Q_PAGE_SHIFT];
            if (Q_LIKELY(atomic_load_explicit(&s->heap_fast, Q_RELAXED) == q_tid()) &&
                (!sized || Q_LIKELY(n - s->size_lo <= s->size_span))) {
                atomic_store_explicit(w, q_bit_cleared(in, a), Q_RELAXED);
                struct q_block *b = (struct q_block *)p;
                b->link = q_link_enc(b, s->local_free);
                s->local_free = b;
                if (Q_UNLIKELY(--s->used == 0) && !s->kept) q_slab_emptied(q_tls_heap, s);
                return;
            }
            /* A live block, checked above: another thread's, a full slab's, QUIRE_SECURE. */
            if (!sized) {
                q_free_other(p, s, kind);
                return;
            }
        }
    }
    if (sized)
        q_free_sized_slow("operator delete", p, kind, n, 0, Q_SIZED);
    else
        q_free_slow(p, kind);
}

static inline __attribute__((always_inline)) void q_free_inline(void *p) {
    q_free_fast(p, Q_KIND_MALLOC, 0, 0);
}

#endif /* QUIRE_ALLOC_INTERNAL_H */
