/*
 * pheap/internal.h - the persistent heap's glossary, its file format, its in-memory types with
 * their invariants, and the functions its files share (internal). The heap is built on the
 * pager's public API (quire/pager.h) only - tests/scripts/layering.sh fails if a heap source
 * includes a pager/ header - and on base/ (CRC32C, hash tables, vectors, the checkers' problem
 * reporter).
 *
 * Files: heap.c (open, the commit chain, abort, handles), data.c (allocations, declared writes,
 * root, statistics), alloc.c (the allocator: classes, chunks, slabs, lookup), names.c (named
 * objects), check.c (quire_pheap_check), validate.c (the invariants).
 *
 * Glossary
 * --------
 *  page     a pager page: P bytes, the pager's page size (quire_pager_page_size). Offsets
 *           (quire_pref.off) are file bytes: page id * P + offset. The heap reaches every page
 *           through the pager's mapping (quire_pager_mapping: `base`, `npages_map`), which the
 *           calls marked [remaps] move: q_pheap_rebase() re-reads it after them.
 *  header   protected page 0 (struct ph_header): magic, generation, root, names table. Written
 *           at every commit.
 *  chunk    a run of `npages` contiguous regular pages (`first`.., from quire_pager_alloc_run)
 *           plus one protected page, its chunk header (struct ph_chdr). Kind SMALL: the header
 *           holds a descriptor per page and a bitmap area of P/128 bytes per page; kind HUGE:
 *           the run is one allocation.
 *  desc     per page of a SMALL chunk: FREE; SLAB head (class, pages n, nused); RUN head
 *           (pages n); CONT (n = distance back to the head).
 *  slab     n pages holding slots of one class; its bitmap is the concatenated bitmap areas of
 *           its pages (n * P / 16 bits >= slots, since slots are at least 16 bytes).
 *  slot     one block of a slab (not the pager's superblock or sub-page slots).
 *  fresh    allocations made in the open transaction (their bytes were free at the last commit:
 *           freeing one again frees it at once).
 *  names table  a hash table that lives in the file, as an allocation (names.c); the heap's
 *           in-memory tables (fresh, freed, the names' reverse index) are base/ hash tables.
 *
 * Atomicity is the pager's: a declared write takes write views of the pages it touches, and the
 * pager's commit writes them (in place when fresh, else to shadow pages) with the metadata in
 * one flush (quire/pager.h). Version 1 of the format kept an undo log and synced it first.
 *
 * Invariants (between calls; q_pheap_validate() checks them, run after every commit and reload
 * in debug builds: base/assert.h)
 *  ch[0..nch) sorted by `first`; no two chunks' page runs overlap, nor the log's.
 *  A chunk's fields (first, npages, kind) equal its header's; a SMALL chunk's free_pages and
 *    max_run are its FREE descriptors and their longest run.
 *  For a SLAB head: 0 < nused == popcount(bitmap) <= slots(class).
 *  Outside a transaction (txn 0): nothing fresh or freed; in one: frees.n == freed.count, every
 *    freed offset a live block.
 *  cur[c], when set, is a chunk of ch[] whose descriptor cur_head[c] is a slab of class c.
 *  Header gen == the heap's commits.
 *  The names index: named[v] == the number of entries naming v, keys holds every entry's key.
 */
#ifndef QUIRE_PHEAP_INTERNAL_H
#define QUIRE_PHEAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/handle.h"
#include "base/hash.h"
#include "base/problem.h"
#include "base/vec.h"
#include "quire/pager.h"
#include "quire/pheap.h"

/* ---------------------------------------------------------------------------------------------
 * On-disk formats
 * ------------------------------------------------------------------------------------------- */

#define PH_MAGIC    "QUIREHP1"
#define PH_VERSION  2u
#define PH_CH_MAGIC 0x4b4e4843u /* "CHNK" */
#define PH_HDR_PID  0u
#define PH_DESC_OFF 64u
#define PH_MAX_SLAB 8u

enum { PH_SMALL = 1, PH_HUGE = 2 };
enum { PH_FREE = 0, PH_SLAB = 1, PH_RUN = 2, PH_CONT = 3 };

struct ph_header {
    char magic[8];
    uint32_t version;
    uint32_t page_size;
    uint64_t gen;   /* completed commits */
    uint64_t root;  /* root reference */
    uint64_t names; /* names table (ref) or 0 */
    uint64_t reserved[11];
};

struct ph_chdr {
    uint32_t magic;
    uint32_t kind;   /* PH_SMALL or PH_HUGE */
    uint64_t first;  /* first data page id */
    uint32_t npages; /* data pages */
    uint32_t ndesc;  /* SMALL: descriptor capacity D the page size gives */
    uint64_t size;   /* HUGE: requested bytes */
    uint64_t reserved[4];
};

struct ph_desc {
    uint8_t type;   /* PH_FREE/SLAB/RUN/CONT */
    uint8_t cls;    /* SLAB: size class */
    uint16_t nused; /* SLAB: used slots */
    uint32_t n;     /* head: pages; CONT: pages back to the head */
};

/* Names table (an allocation): ph_names then cap entries; a name is an allocation holding
 * a uint32_t length then the bytes and a NUL. */
struct ph_names {
    uint64_t cap;   /* power of two */
    uint64_t count; /* live entries */
    uint64_t dead;  /* deleted entries (hash 1): count + dead entries are in use */
    uint64_t reserved;
};
struct ph_nent {
    uint64_t hash; /* 0: empty; 1: deleted */
    uint64_t key;  /* ref of the name object */
    uint64_t val;  /* the named object */
};

/* ---------------------------------------------------------------------------------------------
 * In memory
 * ------------------------------------------------------------------------------------------- */

struct ph_chunk {
    uint64_t pid;   /* protected page of the header */
    uint64_t first; /* first data page */
    uint32_t npages;
    uint32_t kind;
    uint8_t *hdr;        /* P bytes: working copy of the chunk header */
    int dirty;           /* hdr changed in this transaction */
    uint32_t free_pages; /* SMALL: FREE descriptors */
    uint32_t max_run;    /* SMALL: longest run of FREE descriptors */
};

/* A block found from a reference. */
struct ph_block {
    struct ph_chunk *c;
    uint32_t head; /* SMALL: descriptor index of the slab/run head */
    uint32_t slot; /* SLAB: slot index */
    size_t size;   /* usable bytes */
};

typedef struct q_pheap q_pheap;

/* The handle the API hands out: a slot of base/handle.h (never freed, quarantined after close),
 * so that a call on a closed handle finds PH_HANDLE_CLOSED and stops with a message instead of
 * reading freed memory. */
#define PH_HANDLE_LIVE   UINT64_C(0x7175697265484550) /* "quireHEP" */
#define PH_HANDLE_CLOSED UINT64_C(0xdeadc105edd0beef)
struct quire_pheap {
    struct q_base_handle h; /* magic: PH_HANDLE_LIVE or PH_HANDLE_CLOSED; state: the q_pheap */
};

struct q_pheap {
    quire_pheap *handle; /* the caller's handle */
    quire_pager *pg;
    int rdonly;
    int fatal;   /* sticky error: QUIRE_EUNAVAIL */
    int txn;     /* pager transaction open */
    int changed; /* the transaction changed anything */
    uint32_t P, pshift;
    uint32_t D;           /* descriptors per SMALL chunk */
    uint8_t *base;        /* mapping base: page id i at base + i * P */
    uint64_t npages_map;  /* pages mapped */
    struct ph_header hdr; /* working header */
    struct ph_chunk **ch; /* sorted by first */
    size_t nch, capch;
    /* size classes */
    unsigned ncls;
    uint32_t cls_size[64];
    uint8_t cls_pages[64];
    uint32_t cls_slots[64];
    struct ph_chunk *cur[64]; /* class -> slab with free slots (hint) */
    uint32_t cur_head[64];
    /* class -> where the search for a partly used slab resumes (chunk index, descriptor): every
     * slab of the class before it is full. Reset when a slot of the class may have been freed
     * or chunk indices moved. */
    uint32_t scan_ci[64], scan_di[64];
    uint32_t chunk_hint;  /* index to start free-page searches */
    struct ph_chunk *hot; /* the chunk the last lookup found (cache; NULL when chunks change) */
    /* transaction */
    struct q_base_hash fresh; /* off -> 1: allocated in this txn (0: then freed in it) */
    struct q_base_hash freed; /* off -> 1: freed in this txn */
    struct q_base_vec frees;  /* offsets freed in this txn, in order */
    /* the names table's reverse index (names.c), built on first use, dropped on reload */
    int names_indexed;
    struct q_base_hash named; /* object -> number of names registered for it */
    struct q_base_hash keys;  /* name objects (the heap's own allocations) */
};

/* The state behind a handle: NULL for a NULL handle; a closed one stops the process with a
 * message naming the call (fn). */
q_pheap *q_pheap_state(const quire_pheap *h, const char *fn);
#define Q_PHEAP(h) q_pheap_state((h), __func__)

/* ---------------------------------------------------------------------------------------------
 * heap.c
 * ------------------------------------------------------------------------------------------- */

/* Opens a heap on an open pager (ownership passes to the heap, even on error). Modes:
 * PH_OPEN_CREATE writes a new heap into an empty pager; PH_OPEN_RDONLY for read-only pagers;
 * PH_OPEN_CHECK is read-only (quire_pheap_check). *out receives the handle. */
enum { PH_OPEN_CREATE = 1, PH_OPEN_CHECK = 2, PH_OPEN_RDONLY = 4 };
int q_pheap_open_pager(quire_pager *pg, int mode, quire_pheap **out);
/* quire_pheap_free() without the root/names bookkeeping (the names code frees its own). */
int q_pheap_free_internal(q_pheap *h, uint64_t off);
/* Re-reads the mapping base after a [remaps] pager call. */
int q_pheap_rebase(q_pheap *h);
/* 0, or why the heap cannot be modified: QUIRE_EINVAL (NULL), QUIRE_EUNAVAIL, QUIRE_ERDONLY. */
static inline int q_pheap_writable(const q_pheap *h) {
    if (!h) return QUIRE_EINVAL;
    if (h->fatal) return QUIRE_EUNAVAIL;
    if (h->rdonly) return QUIRE_ERDONLY;
    return 0;
}
/* Starts the pager transaction if needed (the change it is for may still fail). */
int q_pheap_begin(q_pheap *h);
/* Marks the transaction changed (after a change succeeded). */
static inline void q_pheap_changed(q_pheap *h) {
    h->changed = 1;
}
/* q_pheap_begin() then q_pheap_changed(): for changes that cannot fail half way. */
int q_pheap_touch(q_pheap *h);
/* Sets up the transaction's tables (empty). */
void q_pheap_txn_init(q_pheap *h);

/* ---------------------------------------------------------------------------------------------
 * alloc.c
 * ------------------------------------------------------------------------------------------- */

void q_pheap_classes(q_pheap *h);
unsigned q_pheap_class_of(const q_pheap *h, size_t size);
/* Loads every chunk header (protected pages other than the header); validates them. */
int q_pheap_load_chunks(q_pheap *h);
void q_pheap_free_chunks(q_pheap *h);
/* Validates a chunk header image; 0 or QUIRE_EHEAP with *why set. */
int q_pheap_chunk_validate(const q_pheap *h, const uint8_t *hdr, const char **why);
int q_pheap_alloc_block(q_pheap *h, size_t size, uint64_t *off);
/* Finds the live block at off (0 or QUIRE_EBADREF). */
int q_pheap_lookup(const q_pheap *h, uint64_t off, struct ph_block *b);
/* Applies the transaction's frees to the chunk headers (at commit). */
int q_pheap_apply_frees(q_pheap *h);
/* Frees at once a block q_pheap_lookup() just found (no allocator change since): for blocks
 * allocated in the open transaction, whose bytes were free at the last commit. */
int q_pheap_free_found(q_pheap *h, const struct ph_block *b);
/* Writes dirty chunk headers through protected writers (inside the pager txn). */
int q_pheap_write_chunks(q_pheap *h);
/* Allocates n contiguous regular pages. */
int q_pheap_alloc_run(q_pheap *h, uint64_t n, uint64_t *first);
int q_pheap_next_block(const q_pheap *h, uint64_t *cursor, uint64_t *off, size_t *size);
void q_pheap_stats(const q_pheap *h, struct quire_pheap_stat *st);

static inline struct ph_desc *ph_desc(const struct ph_chunk *c, uint32_t i) {
    return (struct ph_desc *)(void *)(c->hdr + PH_DESC_OFF + (size_t)i * sizeof(struct ph_desc));
}
static inline uint64_t *ph_bits(const q_pheap *h, const struct ph_chunk *c, uint32_t i) {
    return (uint64_t *)(void *)(c->hdr + PH_DESC_OFF + (size_t)h->D * sizeof(struct ph_desc) +
                                (size_t)i * (h->P / 128));
}
static inline struct ph_chdr *ph_chdr(const struct ph_chunk *c) {
    return (struct ph_chdr *)(void *)c->hdr;
}

/* ---------------------------------------------------------------------------------------------
 * validate.c
 * ------------------------------------------------------------------------------------------- */

/* NULL when the invariants above hold, else a sentence naming the first that does not. */
const char *q_pheap_validate(const q_pheap *h);

/* ---------------------------------------------------------------------------------------------
 * names.c
 * ------------------------------------------------------------------------------------------- */

uint64_t q_pheap_name_hash(const char *name, size_t len);
/* The allocation at val is being freed: removes every name registered for it, or, when newval
 * is not 0 (realloc moved it), registers them for newval. QUIRE_EBADREF when val is the names
 * table or a name's bytes (the heap's own allocations). O(1) unless val is named. */
int q_pheap_names_forget(q_pheap *h, uint64_t val, uint64_t newval);
/* Forgets the names' reverse index (reload: the table may have changed). */
void q_pheap_names_reset(q_pheap *h);

#endif
