/*
 * alloc/secure.c - QUIRE_SECURE=1: the hardened mode, chosen at process start in the same
 * library, at no cost to the default mode's fast paths.
 *
 * How it is reached: under QUIRE_SECURE every direct[] entry of a thread heap stays on the
 * empty slab and every slab's heap_fast stays 0 (heap.c), so the inline malloc and free of
 * internal.h always fall through to their slow paths, which call this file: malloc through
 * q_malloc_slow to q_secure_malloc, and the free of a live small block - the inline free
 * already checked its in-use and pending bits and found its slab - through q_free_other to
 * q_secure_free_block, which does not validate the pointer again. Slots still come from the
 * engine's slabs and thread heaps; this file adds, per block:
 *
 *   trailer   the last Q_TRAILER bytes of every slot: the block's state (fresh: threaded,
 *             never allocated; live; free), how it was allocated (malloc, new, new[]) and its
 *             exact requested size, masked with a key and the slot address, with a 16-bit check
 *             and a never-zero sentinel byte, so an overwritten trailer is detected with
 *             probability 1 - 2^-24 (always when the byte before the next slot becomes zero).
 *             A slot holds size + Q_TRAILER bytes; malloc_usable_size is the requested size.
 *   canary    bytes [size, size + min(Q_CANARY_MAX, room)) after the block, derived from a key
 *             and the block address (for small blocks, from the trailer's keyed mask and a key
 *             of their own), never zero (an off-by-one NUL is caught). Checked on free
 *             and realloc: a write past the end shows. A write before the start shows in the
 *             previous slot's trailer, checked on free too; before a slab's first slot there is
 *             a guard page.
 *   zero      a freed block is zeroed (its size and canary, rounded up to whole words) and its
 *             trailer marked free; when the slot is handed out again, its bytes after the
 *             free-list link must still be zero and the trailer intact: a write after free is
 *             reported then. A block shrunk in place by realloc has its cut-off tail zeroed.
 *   quarantine a freed block is not reusable at once: it goes into a per-thread array of
 *             QUAR_RAND slots at a random index, and the block it displaces into a FIFO; only a
 *             block leaving the FIFO is really freed, once QUAR_FIFO - 1 later blocks entered
 *             it or QUAR_BYTES bytes are held. Releases come in batches: the FIFO holds up to
 *             QUAR_FIFO - 1 + QUAR_BATCH blocks, the quarantine up to 9/8 QUAR_BYTES bytes.
 *             While quarantined the block stays marked in use in the bitmap, its trailer says
 *             free, so a second free is reported as a double free.
 *   order     a slab's fresh slots are threaded onto its free list in random order.
 *   zero-size malloc(0) returns a unique address in a reserved inaccessible region (1 GiB of
 *             address space, no memory): reading or writing it faults; addresses are handed out
 *             round-robin, so a freed one comes back only after a full turn.
 *   guards    a guard page before the slots of every slab (as in both modes around each
 *             segment's metadata, segment.c); large blocks have one on each side, and a freed large
 * block's pages become inaccessible until 64 later large frees have passed (large.c). Guards use
 *             MADV_GUARD_INSTALL where the kernel has it (Linux 6.13; no new mapping, so
 *             vm.max_map_count is not consumed), else mprotect(PROT_NONE).
 *   kinds     delete of a new[] block, delete[] of a new block, free of either and delete of a
 *             malloc block are reported.
 *
 * Cost. The checks of a malloc/free pair are straight-line code on the words they concern: the
 * slot's trailer (one load, decoded with two multiplies), the canary (one or two words), the
 * previous slot's trailer, one compare-and-swap that makes live -> free happen once, the zeroing
 * and the zero check (word stores and loads up to 64 bytes, memset and memcmp beyond), and the
 * quarantine (one random index - one draw of the generator serves twelve frees - and a ring).
 * A block leaving the quarantine goes back on its slab's local_free list here when the calling
 * thread owns the slab; the engine (q_small_release) takes the other cases. Errors leave the
 * straight line for a cold function that finds out what went wrong and reports it; so do
 * the rarer cases (a refill, a block of more than 72 bytes to malloc, a draw of random bits, a
 * batch of releases), as tail calls. Callgrind, malloc(16)/free: 469 instructions a pair
 * (491 before this layout; the default mode's: 82).
 *
 * Reports name the misuse and the address ("quire: free(): heap overflow (...): 0x...") and
 * abort, without allocating (report.c).
 */
#include <errno.h>
#include <string.h>

#include "alloc/internal.h"

#ifndef QUAR_RAND
#define QUAR_RAND 32 /* a power of two */
#endif
#ifndef QUAR_FIFO
#define QUAR_FIFO 256 /* a power of two */
#endif
#define QUAR_BATCH 32              /* the FIFO releases down to QUAR_FIFO - 1 blocks in batches */
#define QUAR_RING  (2 * QUAR_FIFO) /* its ring: room for QUAR_FIFO - 1 + QUAR_BATCH */
#define QUAR_BYTES ((size_t)256 << 10)
#define QUAR_RBITS ((unsigned)__builtin_ctz(QUAR_RAND)) /* random bits per choice of rnd[] */
#define QUAR_RUSE  (63 / QUAR_RBITS * QUAR_RBITS)       /* bits of a draw used (12 choices) */
#define ZREGION    ((size_t)1 << 30)                    /* address space for zero-size blocks */

_Static_assert((QUAR_RAND & (QUAR_RAND - 1)) == 0 && (QUAR_FIFO & (QUAR_FIFO - 1)) == 0,
               "quarantine sizes are powers of two");

enum { TR_FRESH = 1, TR_LIVE = 2, TR_FREE = 3 };

/* A thread's quarantine (heap->quar), mapped once per heap struct. A block's class and slot
   size are found from its slab when it leaves (it stays in use, so its slab stays). */
struct q_quarantine {
    void *rnd[QUAR_RAND];      /* the random part: a freed block lands at a random index */
    void *fifo[QUAR_RING];     /* the FIFO: n entries from head (a ring) */
    unsigned head, n;          /* first entry and count of the FIFO */
    uint64_t rbits;            /* random bits for the next choices, above a sentinel 1 bit */
    size_t bytes;              /* slot bytes held in rnd and fifo */
    uint32_t held[Q_NCLASSES]; /* blocks held per class (statistics: not live) */
};

size_t q_guard_size;
static uint64_t key_mac, key_check, key_canary; /* secret, from q_os_random */
static __thread uint64_t rng_state __attribute__((tls_model("initial-exec")));

/* A keyed per-address value: one multiply. The keys make it unpredictable; what it guards
   against is a blind overwrite, which would have to hit the exact value. */
static inline uint64_t mix(uint64_t x) {
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

/* The calling thread's random numbers (xorshift64*, seeded from the kernel). */
static inline uint64_t rnd64(void) {
    uint64_t x = rng_state;
    if (Q_UNLIKELY(x == 0)) {
        q_os_random(&x, sizeof x);
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void q_secure_init(void) {
    uint64_t k[3];
    q_os_random(k, sizeof k);
    key_mac = k[0];
    key_check = k[1];
    key_canary = k[2];
    size_t ps = q_os_page_size();
    q_guard_size = ps <= Q_SEG_GUARD_MAX ? ps : 0; /* 64 KiB OS pages leave no room */
}

/* ---------------------------------------------------------------------------------------------
 * Guard pages of slabs
 * ------------------------------------------------------------------------------------------- */

size_t q_secure_slab_bytes(unsigned npages) {
    return (size_t)npages * Q_PAGE_SIZE - q_guard_size;
}

/*
 * The guard page before the slots of a slab carved at pages [page, page + n) of seg: the first
 * OS page of page `page`. A slab's guard stays when the slab is released (its pages free, even
 * purged: the guard survives MADV_DONTNEED), marked by `guarded` in the descriptor of its page,
 * so a slab carved there again - a sparse class's slab emptied and refilled, the common case -
 * costs no system call; a slab carved over pages with such guards inside opens them (removed,
 * they read as zero). Segments keep their descriptors in the cache, so the marks stay true.
 */
void q_secure_slab_guard(struct q_segment *seg, unsigned page, unsigned n) {
    if (!q_guard_size) return;
    char *base = q_seg_base(seg);
    for (unsigned i = page; i < page + n; i++) {
        struct q_slab *t = &seg->slabs[i];
        unsigned want = i == page;
        if (t->guarded == want) continue;
        void *g = base + (size_t)i * Q_PAGE_SIZE;
        if (q_guard(g, q_guard_size, (int)want) != 0) {
            q_verbose("guard page of a slab failed", g, want);
            if (want) continue; /* no guard (as before: the slab works without) */
        }
        t->guarded = (uint8_t)want;
    }
}

/* ---------------------------------------------------------------------------------------------
 * Trailers, canaries, zero checks
 * ------------------------------------------------------------------------------------------- */

/*
 * The trailer word of the slot at a: its low 40 bits hold v = state | kind << 2 | size << 8,
 * bits 40-55 a 16-bit keyed check of v, both xored with a keyed mask of the address; the top
 * byte (the one right before the next slot) is a keyed, never-zero sentinel byte, so an
 * underflow of the next block by one byte - a NUL terminator, typically - always shows.
 */
#define TR_LOW56 0x00ffffffffffffffull

static inline uint64_t tr_mask(uintptr_t a) {
    return mix(a ^ key_mac) | (uint64_t)1 << 56; /* the sentinel byte is odd: never zero */
}

static inline uint64_t tr_check(uint64_t v, uint64_t m) {
    return ((v ^ key_check) * (m | 1)) >> 48;
}

static inline uint64_t tr_make_m(uint64_t m, unsigned state, unsigned kind, uint64_t size) {
    uint64_t v = state | (uint64_t)kind << 2 | size << 8;
    return ((v | tr_check(v, m) << 40) ^ (m & TR_LOW56)) | (m & ~TR_LOW56);
}

static inline uint64_t tr_make(uintptr_t a, unsigned state, unsigned kind, uint64_t size) {
    return tr_make_m(tr_mask(a), state, kind, size);
}

/* Decodes the trailer word w of the slot whose mask is m; 0 when tr_make did not write it. */
static inline int tr_read_m(uint64_t m, uint64_t w, uint64_t *v) {
    uint64_t x = w ^ m;
    uint64_t lo = x & (((uint64_t)1 << 40) - 1);
    if ((x >> 40) != tr_check(lo, m) || (lo & 3) == 0) return 0; /* sentinel: x >> 56 == 0 */
    *v = lo;
    return 1;
}

static inline int tr_read(uintptr_t a, uint64_t w, uint64_t *v) {
    return tr_read_m(tr_mask(a), w, v);
}

#define TR_STATE(v) ((unsigned)((v)&3))
#define TR_KIND(v)  ((unsigned)(((v) >> 2) & 3))
#define TR_SIZE(v)  ((size_t)((v) >> 8))
#define TR_TAG(v)   ((unsigned)((v)&0xff)) /* state and kind (bits 4-7 are zero) */
#define DROP_MIN    Q_SPARSE_MIN           /* freed blocks this big are zeroed by resident page */

static inline _Atomic uint64_t *tr_at(uintptr_t a, uint32_t slot) {
    return (_Atomic uint64_t *)(a + slot - Q_TRAILER);
}

static inline uint64_t load8(const void *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline void store8(void *p, uint64_t w) {
    memcpy(p, &w, 8);
}

/* Canary bytes after a block of `size` bytes in a slot of `slot` bytes. */
static inline size_t canary_len(size_t size, uint32_t slot) {
    size_t room = slot - Q_TRAILER - size;
    return room < Q_CANARY_MAX ? room : Q_CANARY_MAX;
}

/* Bytes of a block of `size` bytes that are zeroed when it is freed and checked when its slot
   is handed out again: the block and its canary, rounded up to whole words (the trailer starts
   on a word boundary, so the rounding never reaches it). */
static inline size_t zero_span(size_t size, uint32_t slot) {
    return (size + canary_len(size, slot) + 7) & ~(size_t)7;
}

/* The canary of a block: 8 bytes, none zero; byte i of it goes at the addresses = i mod 8. */
static inline uint64_t canary_of(const void *block) {
    return mix((uintptr_t)block ^ key_canary) | 0x0101010101010101ull;
}

/* The 8 canary bytes that belong at addresses x .. x + 7 (any alignment): a rotation. */
static inline uint64_t canary_at(uint64_t c, uintptr_t x) {
    unsigned r = (unsigned)(x & 7) * 8;
    return (c >> r) | (c << ((64 - r) & 63));
}

/* The canary of a small block whose trailer mask (tr_mask) is m: as keyed as canary_of, for
   no multiply of its own (the trailer's mask is computed anyway). */
static inline uint64_t canary_small(uint64_t m) {
    return (m ^ key_canary) | 0x0101010101010101ull;
}

/* Canary bytes [lo, lo + n) of small block `block` (n <= Q_CANARY_MAX; m its trailer mask):
   two words, overlapping, when n >= 8; else byte by byte, none touching the trailer after
   them, which a thread freeing the next slot may be reading. */
static inline void canary_put(void *block, size_t lo, size_t n, uint64_t m) {
    uint64_t c = canary_small(m);
    unsigned char *p = (unsigned char *)block + lo;
    if (n < 8) {
        for (unsigned char *e = p + n; p < e; p++)
            *p = (unsigned char)(c >> (((uintptr_t)p & 7) * 8));
        return;
    }
    store8(p, canary_at(c, (uintptr_t)p));
    store8(p + n - 8, canary_at(c, (uintptr_t)p + n - 8));
}

static inline int canary_intact(const void *block, size_t lo, size_t n, uint64_t m) {
    uint64_t c = canary_small(m);
    const unsigned char *p = (const unsigned char *)block + lo;
    if (n >= 8)
        return ((load8(p) ^ canary_at(c, (uintptr_t)p)) |
                (load8(p + n - 8) ^ canary_at(c, (uintptr_t)p + n - 8))) == 0;
    uint64_t mask = ((uint64_t)1 << (8 * n)) - 1; /* n < 8; 0 bytes: mask 0 */
    return ((load8(p) ^ canary_at(c, (uintptr_t)p)) & mask) == 0;
}

/* Canaries of any length (large blocks, large.c): the same bytes, a byte at a time at the ends
   and a word at a time between. */
void q_canary_fill(void *block, size_t lo, size_t hi) {
    uint64_t c = canary_of(block);
    unsigned char *p = (unsigned char *)block + lo, *e = (unsigned char *)block + hi;
    for (; p < e && ((uintptr_t)p & 7); p++) *p = (unsigned char)(c >> (((uintptr_t)p & 7) * 8));
    for (; e - p >= 8; p += 8) store8(p, c);
    for (; p < e; p++) *p = (unsigned char)(c >> (((uintptr_t)p & 7) * 8));
}

int q_canary_ok(const void *block, size_t lo, size_t hi) {
    uint64_t c = canary_of(block), bad = 0;
    const unsigned char *p = (const unsigned char *)block + lo,
                        *e = (const unsigned char *)block + hi;
    for (; p < e && ((uintptr_t)p & 7); p++)
        bad |= *p ^ (unsigned char)(c >> (((uintptr_t)p & 7) * 8));
    for (; e - p >= 8; p += 8) bad |= load8(p) ^ c;
    for (; p < e; p++) bad |= *p ^ (unsigned char)(c >> (((uintptr_t)p & 7) * 8));
    return bad == 0;
}

static const uint64_t zero_page[512]; /* 4 KiB of zeros to compare freed blocks with */

/* Zeroes bytes [0, n) of block p, n a multiple of 8 (zero_span): word stores up to 64 bytes
   (the first and last words overlap when n is not a power of two), memset beyond. */
static inline void zero_words(void *p, size_t n) {
    unsigned char *b = p;
    if (n > 64) {
        memset(b, 0, n);
        return;
    }
    if (n >= 32) {
        store8(b, 0), store8(b + 8, 0), store8(b + 16, 0), store8(b + 24, 0);
        store8(b + n - 32, 0), store8(b + n - 24, 0), store8(b + n - 16, 0), store8(b + n - 8, 0);
    } else if (n >= 16) {
        store8(b, 0), store8(b + 8, 0), store8(b + n - 16, 0), store8(b + n - 8, 0);
    } else {
        store8(b, 0), store8(b + n - 8, 0);
    }
}

/* zero_after_link for n <= 72: word loads, no call. */
static inline int zero_short(const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p + 8, *e = (const unsigned char *)p + n;
    size_t len = n - 8;
    uint64_t acc;
    if (len >= 32)
        acc = load8(b) | load8(b + 8) | load8(b + 16) | load8(b + 24) | load8(e - 32) |
              load8(e - 24) | load8(e - 16) | load8(e - 8);
    else if (len >= 16)
        acc = load8(b) | load8(b + 8) | load8(e - 16) | load8(e - 8);
    else
        acc = len ? load8(b) : 0;
    return acc == 0;
}

/* Whether bytes [8, n) of block p are zero, n a multiple of 8 (zero_span) and at least 8. */
static inline int zero_after_link(const void *p, size_t n) {
    size_t len = n - 8;
    if (len <= 64) return zero_short(p, n);
    const unsigned char *b = (const unsigned char *)p + 8;
    for (; len > sizeof zero_page; b += sizeof zero_page, len -= sizeof zero_page)
        if (memcmp(b, zero_page, sizeof zero_page) != 0) return 0;
    return memcmp(b, zero_page, len) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Fresh slots in random order
 * ------------------------------------------------------------------------------------------- */

/* Threads the next k never-used slots of s in a random order (Fisher-Yates; the index below i
   is a multiply-shift of 32 random bits, no division), each with a fresh trailer. */
void q_secure_extend(struct q_slab *s, uint32_t k) {
    uint16_t order[8192 / Q_GRANULE]; /* k <= 8 KiB / slot size */
    uint32_t size = s->slot_size, first = s->capacity;
    for (uint32_t i = 0; i < k; i++) order[i] = (uint16_t)i;
    for (uint32_t i = k; i > 1; i--) {
        uint32_t j = (uint32_t)(((rnd64() >> 32) * i) >> 32);
        uint16_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    struct q_block *head = s->free;
    for (uint32_t i = k; i-- > 0;) {
        uintptr_t a = (uintptr_t)s->start + (size_t)(first + order[i]) * size;
        atomic_store_explicit(tr_at(a, size), tr_make(a, TR_FRESH, 0, 0), Q_RELAXED);
        struct q_block *b = (struct q_block *)a;
        b->link = q_link_enc(b, head);
        head = b;
    }
    s->free = head;
    s->capacity += k;
}

/* ---------------------------------------------------------------------------------------------
 * Zero-size blocks
 * ------------------------------------------------------------------------------------------- */

static q_lock_t zlock;
static _Atomic uintptr_t zbase; /* the reserved region, 0 until the first malloc(0) */
static uint64_t *zbits;         /* one bit per 16-byte address of the region: handed out */
static size_t zcur;             /* where the next search starts (granule index) */

static inline int zero_has(uintptr_t a) {
    uintptr_t b = atomic_load_explicit(&zbase, memory_order_acquire);
    return b && a - b < ZREGION;
}

static void *zero_alloc(size_t align) {
    size_t n = ZREGION / Q_GRANULE, step = align / Q_GRANULE;
    q_lock(&zlock);
    if (!atomic_load_explicit(&zbase, Q_RELAXED)) {
        void *r = NULL, *bits = NULL;
        if (q_os_reserve(&r, ZREGION) != 0 ||
            q_os_map(&bits, n / 8, Q_PROT_READ | Q_PROT_WRITE, Q_MAP_NORESERVE, -1, 0) != 0) {
            if (r) q_os_unmap(r, ZREGION);
            q_unlock(&zlock);
            return NULL;
        }
        zbits = bits;
        atomic_store_explicit(&zbase, (uintptr_t)r, memory_order_release);
    }
    size_t i = (zcur + step - 1) / step * step;
    for (size_t tried = 0; tried < n; tried += step, i += step) {
        if (i >= n) i = 0;
        if (!((zbits[i >> 6] >> (i & 63)) & 1)) {
            zbits[i >> 6] |= (uint64_t)1 << (i & 63);
            zcur = i + step;
            q_unlock(&zlock);
            return (void *)(atomic_load_explicit(&zbase, Q_RELAXED) + i * Q_GRANULE);
        }
    }
    q_unlock(&zlock);
    return NULL;
}

/* Whether zero-size block p is handed out; clears it when `release`. */
static int zero_live(uintptr_t a, int release) {
    uintptr_t off = a - atomic_load_explicit(&zbase, Q_RELAXED);
    if (off & (Q_GRANULE - 1)) return 0;
    size_t i = off / Q_GRANULE;
    q_lock(&zlock);
    int live = (int)((zbits[i >> 6] >> (i & 63)) & 1);
    if (live && release) zbits[i >> 6] &= ~((uint64_t)1 << (i & 63));
    q_unlock(&zlock);
    return live;
}

static void zero_free(const char *fn, void *p, size_t size, unsigned how) {
    if (how != Q_UNSIZED && size != 0) q_report_invalid(fn, p, "size does not match the block");
    if (!zero_live((uintptr_t)p, 1))
        q_report_invalid(fn, p,
                         ((uintptr_t)p & (Q_GRANULE - 1)) ? "misaligned pointer" : "double free");
}

/* ---------------------------------------------------------------------------------------------
 * Quarantine
 * ------------------------------------------------------------------------------------------- */

static inline struct q_slab *slab_of(uintptr_t a) {
    return q_seg_of((void *)a)->pagemap[(a & Q_SEG_MASK) >> Q_PAGE_SHIFT];
}

/* Maps h's quarantine (the first free of its thread); NULL when the system refuses. */
static struct q_quarantine *quar_map(struct q_heap *h) {
    if (!h->quar) {
        void *m = NULL;
        int saved = errno;
        size_t len = q_os_page_round(sizeof(struct q_quarantine));
        int rc = q_os_map(&m, len, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
        errno = saved;
        if (rc != 0) return NULL;
        atomic_fetch_add_explicit(&q_gs.mappings, 1, Q_RELAXED);
        q_stats_note_mapped((int64_t)len);
        h->quar = m;
    }
    return h->quar;
}

/* Really frees block y, leaving the quarantine of heap h (the calling thread's, or any heap
   when `own` is 0: then the engine decides whose the block is). Its first word, zero since
   the free, is about to become the free-list link: a write there while quarantined is
   reported now (the rest of the block is checked when the slot is handed out again). A block
   of a slab the calling thread owns goes straight back on its local_free list, unless that
   would empty the slab, take it off the full list or forget a profiled block: those are the
   engine's (q_small_release), as are other threads' blocks. */
static inline void quar_release(struct q_heap *h, struct q_quarantine *q, void *y, int own) {
    uintptr_t a = (uintptr_t)y;
    struct q_segment *seg = q_seg_of(y);
    struct q_slab *s = seg->pagemap[(a & Q_SEG_MASK) >> Q_PAGE_SHIFT];
    struct q_block *b = y;
    q->held[s->cls]--;
    q->bytes -= s->slot_size;
    if (Q_UNLIKELY(b->link != 0))
        q_report_invalid("free", y, "write after free (a freed block was overwritten)");
    if (own &&
        Q_LIKELY(atomic_load_explicit(&seg->heap, memory_order_acquire) == h && s->used > 1 &&
                 !s->in_full && atomic_load_explicit(&s->sampled, Q_RELAXED) == 0)) {
        q_inuse_clear(a);
        b->link = q_link_enc(b, s->local_free);
        s->local_free = b;
        s->used--;
        return;
    }
    q_small_release(y); /* validated when it was freed; the trailer's CAS made that once */
}

/* Really frees the oldest blocks of the quarantine q of h, the calling thread's heap, while
   it holds too many (QUAR_FIFO blocks in the FIFO) or too many bytes (QUAR_BYTES). Called
   when the FIFO holds QUAR_FIFO - 1 + QUAR_BATCH blocks or the quarantine an eighth more than
   QUAR_BYTES: the releases come in batches, and every block stays in the quarantine at least
   as long as when each push released one (QUAR_FIFO - 1 later blocks entered the FIFO, and
   QUAR_BYTES later bytes came in). */
static Q_NOINLINE void quar_drain(struct q_heap *h, struct q_quarantine *q) {
    while (q->n >= QUAR_FIFO || (q->bytes > QUAR_BYTES && q->n)) {
        void *y = q->fifo[q->head];
        q->head = (q->head + 1) & (QUAR_RING - 1);
        q->n--;
        quar_release(h, q, y, 1);
    }
}

static Q_NOINLINE void quar_push_draw(struct q_heap *h, struct q_quarantine *q, void *p,
                                      const struct q_slab *s);

/* Holds freed block p (of slab s) back in the quarantine q of h, the calling thread's heap;
   really frees the oldest ones (quar_drain). Every call in it is a tail call. */
static inline __attribute__((always_inline)) void
quar_push(struct q_heap *h, struct q_quarantine *q, void *p, const struct q_slab *s, int drawn) {
    uint64_t r = q->rbits;
    if (Q_UNLIKELY(r < (uint64_t)QUAR_RAND)) { /* only the sentinel left: draw again */
        if (!drawn) {
            quar_push_draw(h, q, p, s);
            return;
        }
        r = rnd64() >> (64 - QUAR_RUSE) | (uint64_t)1 << QUAR_RUSE;
    }
    unsigned i = (unsigned)(r & (QUAR_RAND - 1));
    q->rbits = r >> QUAR_RBITS;
    void *x = q->rnd[i];
    q->rnd[i] = p;
    q->held[s->cls]++;
    size_t bytes = q->bytes + s->slot_size;
    q->bytes = bytes;
    if (Q_UNLIKELY(!x)) return;
    unsigned n = q->n;
    q->fifo[(q->head + n) & (QUAR_RING - 1)] = x;
    q->n = ++n;
    if (n >= QUAR_FIFO - 1 + QUAR_BATCH || bytes > QUAR_BYTES + QUAR_BYTES / 8) quar_drain(h, q);
}

/* quar_push when the random bits ran out: draws more (out of line: the generator may call the
   system). */
static Q_NOINLINE void quar_push_draw(struct q_heap *h, struct q_quarantine *q, void *p,
                                      const struct q_slab *s) {
    quar_push(h, q, p, s, 1);
}

void q_secure_flush(struct q_heap *h) {
    struct q_quarantine *q = h->quar;
    if (!q) return;
    while (q->n) {
        void *y = q->fifo[q->head];
        q->head = (q->head + 1) & (QUAR_RING - 1);
        q->n--;
        quar_release(h, q, y, 0);
    }
    for (unsigned i = 0; i < QUAR_RAND; i++) {
        void *y = q->rnd[i];
        q->rnd[i] = NULL;
        if (y) quar_release(h, q, y, 0);
    }
    q->head = 0;
}

/* Adds the blocks h holds in quarantine, per class, to held[] (read racily by the statistics,
   as the other counters of running threads). */
__attribute__((no_sanitize("thread"))) void q_secure_held(const struct q_heap *h, uint64_t *held) {
    const struct q_quarantine *q = h->quar;
    for (unsigned c = 0; q && c < Q_NCLASSES; c++) held[c] += q->held[c];
}

/* ---------------------------------------------------------------------------------------------
 * Small blocks
 * ------------------------------------------------------------------------------------------- */

/* Whether bytes [x, y) are all zero. */
static int range_zero(uintptr_t x, uintptr_t y) {
    while (x < y) {
        size_t n = y - x < sizeof zero_page ? y - x : sizeof zero_page;
        if (memcmp((const void *)x, zero_page, n) != 0) return 0;
        x += n;
    }
    return 1;
}

/* Whether bytes [8, n) of freed big block b are zero, reading of its whole pages only those
   that vec - residency from mincore for the pages from `base` on - marks resident. */
static int big_zero_in(const void *b, size_t n, uintptr_t base, const unsigned char *vec) {
    size_t ps = q_os_page_size();
    uintptr_t x = (uintptr_t)b + 8, end = (uintptr_t)b + n;
    uintptr_t lo = (x + ps - 1) & ~(uintptr_t)(ps - 1), hi = end & ~(uintptr_t)(ps - 1);
    if (hi <= lo) return range_zero(x, end);
    if (!range_zero(x, lo) || !range_zero(hi, end)) return 0;
    for (uintptr_t pg = lo; pg < hi; pg += ps)
        if ((vec[(pg - base) / ps] & 1) && !range_zero(pg, pg + ps)) return 0;
    return 1;
}

/*
 * Big freed blocks (DROP_MIN bytes and more): zeroing all of one with memset would fault in
 * the pages a program never touched (a 200 KiB buffer used in a few places) and cost time in
 * proportion. mincore says which of its whole pages are resident: only those can hold anything
 * but zeros, so only those are zeroed (with the partial pages at either end); the check at
 * reuse reads the same way, so a write after free into any page - resident again once written
 * - is found. (A page swapped out while the block was live keeps its bytes: mincore reports it
 * absent. Quire cannot see swap without reading the page back.)
 *
 * Zeroes (zero) or checks (!zero) bytes [8, n) of big block b - the whole pages among them only
 * where resident - and returns whether they are (were) all zero. Keeps errno.
 */
static Q_NOINLINE int big_zero(void *b, size_t n, int zero) {
    size_t ps = q_os_page_size();
    uintptr_t x = (uintptr_t)b + 8, end = (uintptr_t)b + n; /* byte 0: the free-list link */
    uintptr_t lo = (x + ps - 1) & ~(uintptr_t)(ps - 1), hi = end & ~(uintptr_t)(ps - 1);
    unsigned char vec[Q_MEDIUM_MAX / 4096 + 1];
    size_t np = hi > lo ? (hi - lo) / ps : 0;
    int saved = errno;
    int rc = np == 0 || np > sizeof vec ? -1 : q_os_mincore((void *)lo, hi - lo, vec);
    errno = saved;
    if (rc != 0) {
        if (zero) memset((void *)x, 0, end - x); /* mincore cannot tell: all of it */
        return zero || range_zero(x, end);
    }
    if (!zero) return big_zero_in(b, n, lo, vec);
    memset((void *)x, 0, lo - x);
    memset((void *)hi, 0, end - hi);
    for (size_t i = 0; i < np; i++)
        if (vec[i] & 1) memset((void *)(lo + i * ps), 0, ps); /* not resident: zero already */
    return 1;
}

/*
 * Makes slot b (just taken from a free list: marked in use, first word zero) a live block of
 * `size` bytes: checks that it is as it was left (a fresh slot, or a freed one whose bytes
 * after the first word are still zero: else a write after free, or a forged free-list link,
 * whose trailer does not decode), then writes its canary and trailer.
 */
static inline __attribute__((always_inline)) void *slot_finish(void *b, uint32_t slot, size_t size,
                                                               unsigned kind, int zero) {
    uintptr_t a = (uintptr_t)b;
    _Atomic uint64_t *tp = tr_at(a, slot);
    uint64_t m = tr_mask(a), v;
    if (!tr_read_m(m, atomic_load_explicit(tp, Q_RELAXED), &v) || TR_STATE(v) == TR_LIVE ||
        TR_SIZE(v) + Q_TRAILER > slot)
        q_report_invalid("malloc", b, "write after free (a freed block's trailer was overwritten)");
    size_t clean = 8; /* bytes known to be zero */
    if (TR_STATE(v) == TR_FREE) {
        clean = zero_span(TR_SIZE(v), slot);
        if (!(clean >= DROP_MIN ? big_zero(b, clean, 0) : zero_after_link(b, clean)))
            q_report_invalid("malloc", b, "write after free (a freed block was overwritten)");
    }
    if (zero && size > clean) memset((char *)b + clean, 0, size - clean);
    canary_put(b, size, canary_len(size, slot), m);
    atomic_store_explicit(tp, tr_make_m(m, TR_LIVE, kind, size), Q_RELAXED);
    return b;
}

/*
 * A slab of big slots (DROP_MIN bytes and more) is about to give its pages back: every freed
 * slot must still be zero where resident, as its next malloc would have checked. Else a write
 * after free would vanish with the pages unreported: big slabs hold two to eight slots, so one
 * often empties before a freed slot of it is handed out again (test_misuse's 40 KB case missed
 * 1 run in 100). One mincore covers the whole slab. Smaller slots are not read here: their
 * slabs hold dozens to thousands of slots, reused long before the slab empties, and reading
 * them all at every release would cost in proportion. Keeps errno.
 */
void q_secure_slab_check(const struct q_slab *s) {
    uint32_t slot = s->slot_size;
    if (slot < DROP_MIN || s->capacity == 0) return;
    size_t ps = q_os_page_size();
    uintptr_t base = (uintptr_t)s->start & ~(uintptr_t)(ps - 1);
    uintptr_t top =
        ((uintptr_t)s->start + (size_t)s->capacity * slot + ps - 1) & ~(uintptr_t)(ps - 1);
    unsigned char vec[Q_MAX_SLAB_PAGES * Q_PAGE_SIZE / 4096];
    int saved = errno;
    int rc = (top - base) / ps <= sizeof vec ? q_os_mincore((void *)base, top - base, vec) : -1;
    errno = saved;
    for (uint32_t i = 0; i < s->capacity; i++) {
        uintptr_t a = (uintptr_t)s->start + (size_t)i * slot;
        uint64_t v;
        if (!tr_read(a, atomic_load_explicit(tr_at(a, slot), Q_RELAXED), &v) ||
            TR_STATE(v) == TR_LIVE || TR_SIZE(v) + Q_TRAILER > slot)
            q_report_invalid("free", (void *)a,
                             "write after free (a freed block's trailer was overwritten)");
        if (TR_STATE(v) != TR_FREE) continue;
        size_t clean = zero_span(TR_SIZE(v), slot);
        int ok = clean < DROP_MIN ? zero_after_link((void *)a, clean)
                 : rc == 0        ? big_zero_in((void *)a, clean, base, vec)
                                  : big_zero((void *)a, clean, 0);
        if (!ok)
            q_report_invalid("free", (void *)a, "write after free (a freed block was overwritten)");
    }
}

/* The class of a slot for `size` bytes (and the trailer) aligned to align (>= 16). */
static inline unsigned slot_class(size_t size, size_t align) {
    size_t need = size + Q_TRAILER;
    unsigned cls = q_size_class(need > align ? need : align);
    while (q_class_size[cls] & (align - 1)) cls++; /* the power-of-two class qualifies */
    return cls;
}

/* Writes a canary of 1 to 7 bytes and returns block b: a tail call. */
static Q_NOINLINE void *canary_short(void *b, size_t lo, size_t n, uint64_t m) {
    canary_put(b, lo, n, m);
    return b;
}

/* q_secure_malloc's slot at the head of s's free list (its trailer checked: `clean` bytes
   from its start are zero if intact) when it is the last of its page on the list
   (q_slab_pop_last). */
static Q_NOINLINE void *malloc_long(struct q_slab *s, size_t size, unsigned kind, size_t clean,
                                    uint32_t slot) {
    void *b = s->free;
    if (!(clean >= DROP_MIN ? big_zero(b, clean, 0) : zero_after_link(b, clean)))
        q_report_invalid("malloc", b, "write after free (a freed block was overwritten)");
    b = q_slab_pop(s);
    uintptr_t a = (uintptr_t)b;
    uint64_t m = tr_mask(a);
    atomic_store_explicit(tr_at(a, slot), tr_make_m(m, TR_LIVE, kind, size), Q_RELAXED);
    canary_put(b, size, canary_len(size, slot), m);
    return b;
}

/* q_secure_malloc's other cases: a slot from a refill (the class's current slab is empty), a
   slot of more than 80 bytes (its zero check may be long: memcmp, mincore), a trailer that
   does not decode (slot_finish reports), and the sizes and heaps q_secure_malloc does not take
   (zero, large, q_heap_dead, q_heap_empty). Out of line, so that its straight line saves no
   registers. */
static Q_NOINLINE void *malloc_other(struct q_heap *h, size_t size, unsigned kind) {
    if (Q_UNLIKELY(size - 1 >= Q_MEDIUM_MAX - Q_TRAILER || h == &q_heap_dead || h == &q_heap_empty))
        return q_alloc_generic(size, 0, 0, kind);
    unsigned cls = q_size_class(size + Q_TRAILER);
    struct q_slab *s = h->cur[cls];
    void *b;
    if (Q_LIKELY(s->free != NULL)) {
        b = q_slab_pop(s);
    } else {
        int saved = errno;
        b = q_heap_alloc_cls(h, cls);
        if (!b) {
            errno = ENOMEM;
            return NULL;
        }
        errno = saved;
    }
    return slot_finish(b, q_class_size[cls], size, kind, 0);
}

/*
 * malloc under QUIRE_SECURE: q_malloc_slow sends every call here, with h a thread heap or
 * q_heap_dead (it sends q_heap_empty's to q_alloc_generic; malloc_other would too). The common case
 * - a slot of at most 80 bytes on the class's current slab - is slot_finish's checks and writes on
 * a straight line with no call (at most 72 bytes to check: word loads); anything else goes to
 * malloc_other.
 */
void *q_secure_malloc(struct q_heap *h, size_t size, unsigned kind) {
    if (size - 1 >= 80 - Q_TRAILER || Q_UNLIKELY(h == &q_heap_dead)) /* slots over 80 bytes */
        return malloc_other(h, size, kind);
    unsigned cls = q_size_class(size + Q_TRAILER);
    struct q_slab *s = h->cur[cls];
    struct q_block *b = s->free;
    if (Q_UNLIKELY(b == NULL)) return malloc_other(h, size, kind);
    uint32_t slot = q_class_size[cls];
    /* slot <= 80: at most 72 bytes to check after the link, with word loads (zero_short) */
    uintptr_t a = (uintptr_t)b;
    uint64_t m = tr_mask(a), v;
    /* The slot's trailer before the pop, which links b's successor: a slot whose trailer
       does not decode goes the long way (slot_finish, which reports). */
    uint64_t w = atomic_load_explicit(tr_at(a, slot), Q_RELAXED);
    uintptr_t t = b->link ^ q_key; /* successor ^ b: q_slab_pop */
    if (Q_UNLIKELY(!tr_read_m(m, w, &v) || TR_STATE(v) == TR_LIVE || TR_SIZE(v) + Q_TRAILER > slot))
        return malloc_other(h, size, kind); /* reports */
    size_t clean = TR_STATE(v) == TR_FREE ? zero_span(TR_SIZE(v), slot) : 8;
    if (Q_UNLIKELY(t >= Q_PAGE_SIZE)) return malloc_long(s, size, kind, clean, slot);
    if (Q_UNLIKELY(!zero_short(b, clean)))
        q_report_invalid("malloc", b, "write after free (a freed block was overwritten)");
    q_slab_take(s, b, (struct q_block *)(t ^ a));
    atomic_store_explicit(tr_at(a, slot), tr_make_m(m, TR_LIVE, kind, size), Q_RELAXED);
    size_t n = canary_len(size, slot);
    if (Q_UNLIKELY(n < 8)) return n ? canary_short(b, size, n, m) : b;
    canary_put(b, size, n, m);
    return b;
}

void *q_secure_alloc(size_t size, size_t align, int zero, unsigned kind) {
    size_t max_align = q_guard_size ? q_guard_size : Q_PAGE_SIZE; /* slots start after a guard */
    if (align < Q_GRANULE) align = Q_GRANULE;
    if (size == 0 && align <= max_align) return zero_alloc(align);
    if (size > Q_MEDIUM_MAX - Q_TRAILER || align > max_align)
        return q_large_alloc_secure(size, align > Q_GRANULE ? align : 0, 0, kind);
    unsigned cls = slot_class(size, align);
    void *b = q_heap_slot(cls);
    return b ? slot_finish(b, q_class_size[cls], size, kind, zero) : NULL;
}

static const char *free_name(unsigned kind) {
    return kind == Q_KIND_MALLOC ? "free"
           : kind == Q_KIND_NEW  ? "operator delete"
                                 : "operator delete[]";
}

/*
 * Validates the live small block p for fn: the bitmap (in use, not pending: else
 * q_small_check reports), its trailer (live), its canary, and the previous slot's trailer
 * (any state, intact). Returns its requested size; *sp its slab, *wp its trailer word, *kp its
 * enum q_kind. Reports and aborts otherwise.
 */
static size_t small_live(const char *fn, void *p, struct q_slab **sp, uint64_t *wp, unsigned *kp) {
    uintptr_t a = (uintptr_t)p;
    _Atomic uint64_t *bw = q_bits_word(a);
    if (Q_UNLIKELY((a & (Q_GRANULE - 1)) || !(atomic_load_explicit(bw, Q_RELAXED) &
                                              ~atomic_load_explicit(bw + 1, Q_RELAXED) & q_bit(a))))
        q_small_check(fn, p); /* reports */
    struct q_slab *s = slab_of(a);
    uint32_t slot = s->slot_size;
    uint64_t w = atomic_load_explicit(tr_at(a, slot), Q_RELAXED), m = tr_mask(a), v;
    if (!tr_read_m(m, w, &v) || TR_SIZE(v) + Q_TRAILER > slot)
        q_report_invalid(fn, p, "heap overflow (the canary after the block was overwritten)");
    if (TR_STATE(v) != TR_LIVE)
        q_report_invalid(
            fn, p, TR_STATE(v) == TR_FREE ? "double free" : "pointer to a block never allocated");
    size_t size = TR_SIZE(v);
    *kp = TR_KIND(v);
    if (!canary_intact(p, size, canary_len(size, slot), m))
        q_report_invalid(fn, p, "heap overflow (the canary after the block was overwritten)");
    uintptr_t prev = a - slot;
    if (a - (uintptr_t)s->start >= slot &&
        !tr_read_m(tr_mask(prev), atomic_load_explicit(tr_at(prev, slot), Q_RELAXED), &v))
        q_report_invalid(fn, p, "heap underflow (the canary before the block was overwritten)");
    *sp = s;
    *wp = w;
    return size;
}

/* A free that small_free's checks refused: small_live and the kind and size checks find out
   which, in the order of their reports (fn NULL: the name of kind's free). */
static Q_NOINLINE __attribute__((noreturn)) void bad_free(const char *fn, void *p, unsigned kind,
                                                          size_t want, unsigned how) {
    struct q_slab *s;
    uint64_t w;
    unsigned have;
    if (!fn) fn = free_name(kind);
    size_t req = small_live(fn, p, &s, &w, &have);
    q_kind_check(fn, p, have, kind);
    if (how != Q_UNSIZED && want != req) q_report_invalid(fn, p, "size does not match the block");
    q_report_invalid(fn, p, "double free"); /* not reached: one of the checks failed */
}

/* The first free of a thread that has no quarantine yet (or no heap any more). */
static Q_NOINLINE void quar_first(struct q_heap *h, void *p, const struct q_slab *s) {
    int saved = errno;
    if (h == &q_heap_empty) h = q_thread_heap_create();
    struct q_quarantine *q = h && h != &q_heap_dead ? quar_map(h) : NULL;
    errno = saved;
    if (q)
        quar_push(h, q, p, s, 0);
    else
        q_small_release(p);
}

/*
 * Frees small block p of slab s, whose in-use and pending bits the caller checked: its trailer
 * must say live, of `kind` (and of size `want` for a sized free), its canary and the previous
 * slot's trailer must be intact; then its trailer says free (one compare-and-swap: of two
 * threads freeing it at the same time, one reports), it is zeroed and quarantined. Any failed
 * check goes to bad_free, which reports. Keeps errno.
 */
static inline __attribute__((always_inline)) void
small_free(const char *fn, void *p, struct q_slab *s, unsigned kind, size_t want, unsigned how) {
    uintptr_t a = (uintptr_t)p;
    uint32_t slot = s->slot_size;
    _Atomic uint64_t *tp = tr_at(a, slot);
    uint64_t w = atomic_load_explicit(tp, Q_RELAXED), m = tr_mask(a), v = 0, pv;
    if (Q_UNLIKELY(!tr_read_m(m, w, &v) || TR_TAG(v) != (TR_LIVE | kind << 2) ||
                   TR_SIZE(v) + Q_TRAILER > slot))
        bad_free(fn, p, kind, want, how);
    size_t req = TR_SIZE(v), clen = canary_len(req, slot);
    if (Q_UNLIKELY((how != Q_UNSIZED && want != req) || !canary_intact(p, req, clen, m)))
        bad_free(fn, p, kind, want, how);
    uintptr_t prev = a - slot;
    if (Q_LIKELY(a - (uintptr_t)s->start >= slot) &&
        Q_UNLIKELY(
            !tr_read_m(tr_mask(prev), atomic_load_explicit(tr_at(prev, slot), Q_RELAXED), &pv)))
        bad_free(fn, p, kind, want, how);
    if (Q_UNLIKELY(!atomic_compare_exchange_strong_explicit(tp, &w, tr_make_m(m, TR_FREE, 0, req),
                                                            Q_RELAXED, Q_RELAXED)))
        q_report_invalid(fn ? fn : free_name(kind), p, "double free");
    size_t n = (req + clen + 7) & ~(size_t)7; /* zero_span */
    if (Q_LIKELY(n < DROP_MIN)) {
        zero_words(p, n);
    } else {
        store8(p, 0);
        big_zero(p, n, 1);
    }
    struct q_heap *h = q_tls_heap;
    struct q_quarantine *q = h->quar; /* NULL for q_heap_empty and q_heap_dead */
    if (Q_UNLIKELY(q == NULL)) {
        quar_first(h, p, s);
        return;
    }
    quar_push(h, q, p, s, 0);
}

/* The free of live small block p of slab s (q_free_other: the inline free checked its bits). */
void q_secure_free_block(void *p, struct q_slab *s, unsigned kind) {
    small_free(NULL, p, s, kind, 0, Q_UNSIZED);
}

/* Every other free: NULL, sized, large, zero-size, and pointers that are not live blocks.
   Keeps errno. */
void q_secure_free(const char *fn, void *p, unsigned kind, size_t size, size_t align,
                   unsigned how) {
    uintptr_t a = (uintptr_t)p;
    if (!p) return;
    if ((a >> Q_ADDR_BITS) != 0 || !q_segmap_has(a)) {
        int saved = errno;
        if (zero_has(a))
            zero_free(fn, p, size, how);
        else if (!q_large_free(fn, p, kind, size, align, how))
            q_report_invalid(fn, p, "pointer not allocated by quire");
        errno = saved;
        return;
    }
    _Atomic uint64_t *bw = q_bits_word(a);
    if (Q_UNLIKELY((a & (Q_GRANULE - 1)) || !(atomic_load_explicit(bw, Q_RELAXED) &
                                              ~atomic_load_explicit(bw + 1, Q_RELAXED) & q_bit(a))))
        q_small_check(fn, p); /* reports */
    small_free(fn, p, slab_of(a), kind, size, how);
}

void *q_secure_realloc(void *p, size_t size) {
    uintptr_t a = (uintptr_t)p;
    if (!p) return q_secure_alloc(size, 0, 0, Q_KIND_MALLOC);
    if (size == 0) {
        q_secure_free("realloc", p, Q_KIND_MALLOC, 0, 0, Q_UNSIZED);
        return NULL;
    }
    if (zero_has(a)) {
        if (!zero_live(a, 0)) q_report_invalid("realloc", p, "pointer not allocated by quire");
        void *n = q_secure_alloc(size, 0, 0, Q_KIND_MALLOC);
        if (n) zero_free("realloc", p, 0, Q_UNSIZED);
        return n;
    }
    if ((a >> Q_ADDR_BITS) != 0 || !q_segmap_has(a)) {
        void *out;
        int rc = q_large_realloc_secure(p, size, &out);
        if (rc < 0) q_report_invalid("realloc", p, "pointer not allocated by quire");
        return rc == 0 ? out : NULL;
    }
    struct q_slab *s;
    uint64_t w;
    unsigned have;
    size_t req = small_live("realloc", p, &s, &w, &have);
    if (have != Q_KIND_MALLOC) q_kind_check("realloc", p, have, Q_KIND_MALLOC);
    uint32_t slot = s->slot_size;
    if (size + Q_TRAILER <= slot && (2 * size >= slot || slot <= 128)) {
        /* In place: the canary moves to the new end; a cut-off tail is zeroed as a free
           would (it is no longer the block's). */
        size_t ns = zero_span(size, slot), os = zero_span(req, slot);
        if (os > ns) memset((char *)p + ns, 0, os - ns);
        uint64_t m = tr_mask(a);
        canary_put(p, size, canary_len(size, slot), m);
        atomic_store_explicit(tr_at(a, slot), tr_make_m(m, TR_LIVE, Q_KIND_MALLOC, size),
                              Q_RELAXED);
        return p;
    }
    void *n = q_secure_alloc(size, 0, 0, Q_KIND_MALLOC);
    if (!n) return NULL;
    memcpy(n, p, size < req ? size : req);
    small_free("realloc", p, s, Q_KIND_MALLOC, 0, Q_UNSIZED);
    return n;
}

size_t q_secure_usable(const char *fn, const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (zero_has(a)) {
        if (!zero_live(a, 0)) q_report_invalid(fn, p, "pointer not allocated by quire");
        return 0;
    }
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) {
        struct q_slab *s;
        uint64_t w;
        unsigned kind;
        return small_live(fn, (void *)p, &s, &w, &kind);
    }
    size_t n = q_large_usable(p);
    if (!n) q_report_invalid(fn, p, "pointer not allocated by quire");
    return n;
}

int q_secure_owns(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (zero_has(a)) return zero_live(a, 0);
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) {
        if (a & (Q_GRANULE - 1)) return 0;
        _Atomic uint64_t *w = q_bits_word(a);
        uint64_t in = atomic_load_explicit(w, Q_RELAXED);
        uint64_t pend = atomic_load_explicit(w + 1, Q_RELAXED);
        if (!(in & ~pend & q_bit(a))) return 0;
        /* In use for the bitmap, but a quarantined block's trailer says free. */
        uint64_t v;
        uint32_t slot = slab_of(a)->slot_size;
        return tr_read(a, atomic_load_explicit(tr_at(a, slot), Q_RELAXED), &v) &&
               TR_STATE(v) == TR_LIVE;
    }
    return q_large_usable(p) != 0;
}
