/*
 * pager/internal.h - the pager's glossary, its in-memory types with their invariants, and the
 * functions its files share (internal: nothing outside pager/ includes it; tests use
 * pager/format.h, pager/io.h and pager/testing.h).
 *
 * Glossary
 * --------
 *  page       the pager's unit: P bytes (a power of two, 1 KiB .. 64 KiB, fixed at create);
 *             page id i lies at byte i * P of the file and of the mapping. Not the OS page
 *             (q_os_page_size(), which madvise and mmap work in) nor the malloc engine's 64 KiB
 *             page.
 *  regular    a page the API hands out (quire_pager_alloc); internal pages are the pager's own:
 *             superblock slots, tree nodes, protected copies, sub-page pages.
 *  superblock slot  pages 0 and 1. Generation g is written to slot g & 1, over generation
 *             g - 2, so the newest durable superblock is never overwritten (format.h).
 *  ref        (struct q_ref, format.h) a pair of pages, the node's two copies, with which one is
 *             current (Q_REF_SEL), the generation that wrote it and the CRC32C of (generation,
 *             contents). Parents hold their children's refs; the superblock holds the roots. A
 *             node changed in a transaction is written to the copy that is NOT current in the
 *             last commit, so the committed tree is never overwritten.
 *  tree       (struct q_tree, tree.c) a copy-on-write radix tree of refs, rooted in Q_ROOTS refs
 *             of the superblock: `height` levels of interior nodes (F = P / 32 refs each) above
 *             leaves. Capacity in leaves: Q_ROOTS * F^height. An absent ref (no Q_REF_PRESENT) is
 *             an all-zero subtree never written: materialized lazily. What a leaf holds is its
 *             owner's, described by a struct q_pager_leaf_ops; the tree never looks inside.
 *  free map   tree 0 (freemap.c): leaf g holds the 2-bit type of each of the G = 4 * P pages of
 *             group g (pages g*G .. g*G+G-1). Leaf g's own two copies are the first two pages
 *             of its group (group 0: pages 2 and 3, after the superblock slots). An absent leaf
 *             means "every page of the group is free" but its two leaf pages (internal).
 *  types      Q_FREE 0, Q_REGULAR 1, Q_INTERNAL 2, Q_PENDING 3: freed in the open transaction;
 *             only in memory (written as Q_FREE), Q_FREE in memory once the commit is durable,
 *             so a page is never reused before its free is.
 *  protected directory  tree 1 (protected.c): leaf records are refs, one per protected page
 *             (protected page id = record index); a protected page is its two copies.
 *  sub-page directory   tree 2 (subpage.c): leaf records are struct q_subrec, one per page cut
 *             into sub-page slots of one size.
 *  mapping    (mapping.c) the MAP_PRIVATE mapping of the whole file that views point into, and
 *             its read-only MAP_SHARED twin for protected pages; mapping_len is its length in
 *             bytes (page_count * P).
 *  cow set    pages a write view was handed out for since the last commit: their bytes live in
 *             private memory until the commit pwrite()s them, then the private copies are
 *             dropped. Every byte that reaches the file goes through the I/O hook (io.h).
 *  generation the number of commits: p->gen is the last durable one; a transaction writes
 *             generation gen + 1.
 *
 * Invariants (between calls; q_pager_validate() checks them, run after every commit and load in
 * debug builds: base/assert.h)
 *  page_count % Q_GROW_MIN == 0; page_count * P == mapping_len == shared_len <= file size.
 *  page_count == sum(ntype) + n_absent_free + 2 * (absent groups below page_count).
 *  A free-map leaf: nfree == its Q_FREE entries below page_count; no entry beyond page_count;
 *    its own pages (and in group 0 the superblock slots) are Q_INTERNAL.
 *  ntype[Q_PENDING] == pending.n, every page in `pending` is Q_PENDING.
 *  No free page below alloc_hint.
 *  A node with Q_N_DIRTY has every ancestor dirty; an interior node has no leaf buffer, a leaf
 *    no children.
 *  Outside a transaction (in_txn 0) and after a commit: nothing dirty, cow and pending empty.
 */
#ifndef QUIRE_PAGER_INTERNAL_H
#define QUIRE_PAGER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/problem.h"
#include "base/vec.h"
#include "pager/format.h"
#include "pager/io.h"
#include "pager/testing.h"
#include "quire/pager.h"

/* ---------------------------------------------------------------------------------------------
 * In memory
 * ------------------------------------------------------------------------------------------- */

enum { Q_N_DIRTY = 1u };

/* A tree node: an interior node (kid) or a leaf (buf). */
struct q_node {
    struct q_ref ref;    /* where the node lives on disk, as its parent records it */
    struct q_node **kid; /* interior: F children (NULL: absent) */
    uint8_t *buf;        /* leaf: P bytes of records */
    uint32_t flags;      /* Q_N_DIRTY: changed in the open transaction */
    uint32_t nfree;      /* free-map leaf: Q_FREE pages below page_count */
};

/* What a tree's leaves hold, registered by the tree's owner (freemap.c, protected.c,
 * subpage.c). The optional hooks are the free map's: the other trees hold plain records. */
struct q_pager_leaf_ops {
    const char *name;  /* "free map", ... (validators' messages) */
    uint32_t rec_bits; /* bits per record: a leaf holds P * 8 / rec_bits records */
    /* Optional. A leaf materialized in memory (absent until now) at leaf index `index`: fills
     * its records, and may give it its page pair (ref.copy[]), which a commit then keeps. */
    void (*init)(quire_pager *p, struct q_node *leaf, uint64_t index);
    /* Optional. A leaf just read from the file: 0, or QUIRE_EMETA when its ref is not where
     * its owner puts it. */
    int (*check)(const quire_pager *p, const struct q_ref *ref, uint64_t index);
    /* Optional. The P bytes to write for a dirty leaf (default: its buffer); may use
     * p->scratch. */
    const uint8_t *(*image)(quire_pager *p, const struct q_node *leaf);
};

struct q_tree {
    uint32_t height;                    /* interior levels */
    uint64_t per_leaf;                  /* records per leaf: P * 8 / ops->rec_bits */
    const struct q_pager_leaf_ops *ops; /* what the leaves hold */
    struct q_node *root[Q_ROOTS];       /* height 0: leaves; else interior nodes */
};

struct quire_pager_writer {
    quire_pager *p;
    uint64_t pid;                           /* the protected page */
    uint8_t *buf;                           /* P bytes: the new contents */
    struct quire_pager_writer *next, *prev; /* the pager's list of open writers */
};

struct quire_pager {
    int fd;
    int rdonly;
    int fatal;        /* 0, or the sticky state: every call returns QUIRE_EUNAVAIL */
    int in_txn;       /* quire_pager_begin() was called */
    int meta_dirty;   /* metadata changed since the last commit */
    uint32_t P;       /* page size */
    uint32_t pshift;  /* log2(P) */
    uint32_t fanout;  /* refs per interior node: P / 32 */
    uint64_t G;       /* pages per free-map group: 4 * P */
    uint8_t *mapping; /* MAP_PRIVATE mapping of page_count pages: views point here */
    size_t mapping_len;
    uint8_t *shared; /* MAP_SHARED read-only mapping of the same, for protected pages */
    size_t shared_len;
    uint64_t page_count;
    uint64_t gen;           /* generation of the last durable commit */
    uint64_t ntype[4];      /* pages below page_count of each type (materialized groups only) */
    uint64_t n_absent_free; /* free pages of absent groups (each such group: pages - 2) */
    uint64_t n_protected;   /* live protected pages */
    uint64_t n_subslots;    /* allocated sub-page slots (not counting ones freed in the txn) */
    uint64_t prot_end;      /* one past the highest protected id in use */
    uint64_t sub_end;       /* one past the highest sub-page record in use */
    uint64_t alloc_hint;    /* no free page below this id (a lower bound) */
    uint64_t prot_hint;     /* no free protected record below this index */
    uint64_t sub_hint[17];  /* per slot shift: first record that may have a free slot */
    uint64_t sub_free_hint; /* no unused sub-page record below this index */
    struct q_tree tree[Q_NTREES];   /* indexed by Q_TREE_* */
    struct q_super sb;              /* the last durable superblock */
    struct q_base_hash cow;         /* the cow set: pages with write views since the commit */
    struct q_base_vec pending;      /* pages freed in this transaction (type Q_PENDING) */
    struct q_base_hash sub_pending; /* sub-page handles freed in this transaction */
    struct q_base_hash writers_on;  /* protected ids with an open writer */
    quire_pager_writer *writers;
    struct q_pager_io io;
    uint8_t *scratch; /* P bytes for serializing */
};

/* 0, or why the pager cannot be modified: QUIRE_EUNAVAIL, QUIRE_ERDONLY. */
static inline int q_pager_writable(const quire_pager *p) {
    if (p->fatal) return QUIRE_EUNAVAIL;
    if (p->rdonly) return QUIRE_ERDONLY;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * open.c: superblock slots, loading a committed state
 * ------------------------------------------------------------------------------------------- */

/* Reads both slots of a file: sb[] and err[] (0 or why a slot does not validate) for each;
 * returns the page size found, or 0 when no slot validates. page_size: the expected one, or 0. */
uint32_t q_pager_super_scan(int fd, const struct q_pager_io *io, uint32_t page_size,
                            struct q_super sb[2], int err[2]);
/* Makes sb (validated) the pager's state: maps the file, loads every tree, recounts and compares
 * with the counters sb records. 0, QUIRE_EFBIG, QUIRE_EFILESIZE, QUIRE_EMETA, I/O errors. */
int q_pager_load_state(quire_pager *p, const struct q_super *sb, uint64_t file_size);

/* ---------------------------------------------------------------------------------------------
 * commit.c: the commit chain, transactions
 * ------------------------------------------------------------------------------------------- */

/* Commits every change since the last commit (the chain in commit.c's opening comment). */
int q_pager_commit(quire_pager *p);
/* Commits when no explicit transaction is open (the autocommit of modifying calls). */
int q_pager_autocommit(quire_pager *p);
/* Returns to the last durable commit (abort): drops the transaction, re-reads the metadata;
 * a failure makes the pager unavailable. */
int q_pager_reload(quire_pager *p);

/* ---------------------------------------------------------------------------------------------
 * mapping.c: the two mappings of the file
 * ------------------------------------------------------------------------------------------- */

/* Maps page_count pages (or resizes the existing mappings to them). */
int q_pager_map_file(quire_pager *p);
/* Resizes both mappings to `want` bytes (they may move). */
int q_pager_remap(quire_pager *p, size_t want);
void q_pager_unmap_file(quire_pager *p);
/* Drops private copies of pages [first, first + n) (after their bytes reached the file). */
void q_pager_drop_private(quire_pager *p, uint64_t first, uint64_t n);

/* ---------------------------------------------------------------------------------------------
 * tree.c: the generic copy-on-write tree
 * ------------------------------------------------------------------------------------------- */

/* An empty tree whose leaves hold what ops describes. */
void q_pager_tree_init(quire_pager *p, struct q_tree *t, const struct q_pager_leaf_ops *ops);
void q_pager_tree_free(quire_pager *p, struct q_tree *t);
/* The leaf `leaf`, or NULL when absent (or beyond the capacity). */
struct q_node *q_pager_tree_leaf(const quire_pager *p, const struct q_tree *t, uint64_t leaf);
/* The leaf `leaf`, created if absent (ops->init fills it; the height grows when needed), with it
 * and every ancestor marked dirty. 0, QUIRE_EFULL (beyond Q_MAX_HEIGHT), QUIRE_ENOMEM. */
int q_pager_tree_dirty(quire_pager *p, struct q_tree *t, uint64_t leaf, struct q_node **out);
/* Reads and validates the tree under roots[] at `height` (every node's checksum; ops->check). */
int q_pager_tree_load(quire_pager *p, struct q_tree *t, const struct q_ref *roots, uint32_t height);
/* Commit step 0: gives the dirty nodes that have none a page pair from alloc_page; *changed set
 * when it allocated (which may dirty more nodes: repeat until nothing changes). */
int q_pager_tree_prepare(quire_pager *p, struct q_tree *t,
                         int (*alloc_page)(quire_pager *p, uint64_t *id), int *changed);
/* Commit step 2: writes every dirty node to its inactive copy, bottom-up, for generation gen;
 * fills roots[]. */
int q_pager_tree_write(quire_pager *p, struct q_tree *t, uint64_t gen, struct q_ref *roots);
/* Calls fn for every node (leaf: index = leaf index; interior: index = level). */
int q_pager_tree_walk(const quire_pager *p, const struct q_tree *t,
                      int (*fn)(void *arg, const struct q_node *n, int leaf, uint64_t index),
                      void *arg);

/* ---------------------------------------------------------------------------------------------
 * freemap.c: page types, allocation, growth
 * ------------------------------------------------------------------------------------------- */

extern const struct q_pager_leaf_ops q_pager_freemap_leaves;

/* Page i (0 or 1) of group g's leaf. */
static inline uint64_t q_pager_freemap_leaf_page(const quire_pager *p, uint64_t g, int i) {
    return g == 0 ? (uint64_t)(2 + i) : g * p->G + (uint64_t)i;
}
/* Entry i (a page type) of a free-map leaf. */
static inline unsigned q_freemap_entry(const uint8_t *buf, uint64_t i) {
    return (unsigned)(buf[i >> 2] >> ((i & 3) * 2)) & 3u;
}
static inline void q_freemap_set_entry(uint8_t *buf, uint64_t i, unsigned type) {
    unsigned sh = (unsigned)(i & 3) * 2;
    buf[i >> 2] = (uint8_t)((buf[i >> 2] & ~(3u << sh)) | (type << sh));
}
/* Type of page id (< page_count). Absent groups: Q_FREE, their leaf pages Q_INTERNAL. */
unsigned q_pager_freemap_type(const quire_pager *p, uint64_t id);
/* Sets a page's type, materializing its leaf. 0 or QUIRE_ENOMEM / QUIRE_EFULL. */
int q_pager_freemap_set(quire_pager *p, uint64_t id, unsigned type);
/* Allocates one page of `type`: the first free one at or after hint, else the lowest, else the
 * file grows (by an eighth, at least 32 pages) and the first new page is taken. */
int q_pager_freemap_alloc(quire_pager *p, unsigned type, uint64_t hint, uint64_t *id);
/* q_pager_freemap_alloc(p, Q_INTERNAL, 0, id): a page for a tree node (commit step 0). */
int q_pager_freemap_alloc_internal(quire_pager *p, uint64_t *id);
/* Allocates the lowest run of n free pages as Q_REGULAR, growing the file by
 * q_pager_freemap_alloc()'s steps until one exists: 0, QUIRE_EOVERFLOW (n > G - 2: a run lies
 * inside one group), or a growth error. */
int q_pager_freemap_alloc_run(quire_pager *p, uint64_t n, uint64_t *first);
/* Allocates the n lowest free pages as `type` into ids[] (increasing), one leaf at a time; the
 * caller reserved them with q_pager_freemap_reserve(). *done: pages taken (the caller undoes
 * them on error). */
int q_pager_freemap_alloc_many(quire_pager *p, unsigned type, size_t n, uint64_t *ids,
                               size_t *done);
/* Makes sure at least n pages are free, growing the file if needed. */
int q_pager_freemap_reserve(quire_pager *p, uint64_t n);
/* Grows to at least new_count pages (rounded up to Q_GROW_MIN): ftruncate, then remap; a failed
 * remap makes the pager unavailable. The new groups are absent (free). */
int q_pager_freemap_grow(quire_pager *p, uint64_t new_count);
/* Marks a page Q_PENDING (freed in this transaction) and records it in `pending`. */
int q_pager_freemap_free_pending(quire_pager *p, uint64_t id);
/* After a durable commit: pending pages become free. */
void q_pager_freemap_settle(quire_pager *p);
/* Recomputes the counters from the loaded free map (open, abort): 0 or QUIRE_EMETA. */
int q_pager_freemap_count(quire_pager *p);

/* ---------------------------------------------------------------------------------------------
 * protected.c, subpage.c: the two directories
 * ------------------------------------------------------------------------------------------- */

extern const struct q_pager_leaf_ops q_pager_prot_leaves;
extern const struct q_pager_leaf_ops q_pager_sub_leaves;

/* The record of protected page pid, or NULL when its leaf is absent. */
struct q_ref *q_pager_prot_rec(quire_pager *p, uint64_t pid);
/* Counts (and validates) the live protected records; sets n_protected and prot_end. */
int q_pager_prot_count(quire_pager *p, uint64_t *n);
/* Drops every open writer (close, and the writers' handles become invalid). */
void q_pager_writers_drop_all(quire_pager *p);
/* The sub-page record rec, or NULL when its leaf is absent. */
struct q_subrec *q_pager_sub_rec(quire_pager *p, uint64_t rec);
/* Counts (and validates) the allocated sub-page slots; sets n_subslots and sub_end. */
int q_pager_sub_count(quire_pager *p, uint64_t *n);
/* Commit step 0: applies the transaction's sub-page frees to their records. */
int q_pager_sub_settle(quire_pager *p);

#endif
