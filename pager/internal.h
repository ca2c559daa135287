/*
 * pager/internal.h - the pager's types, on-disk formats and cross-file functions (internal).
 *
 * Glossary
 * --------
 *  P         page size (power of two, 1 KiB .. 64 KiB). Page id i lives at byte i * P.
 *  slot      the superblock is kept in two slots: page 0 (even generations) and page 1 (odd).
 *            A commit of generation g overwrites slot g & 1, which holds generation g - 2, so
 *            the newest durable superblock is never overwritten.
 *  ref       (struct q_ref, 32 bytes on disk) names a copy-on-write pair of physical pages
 *            {slot[0], slot[1]}, which copy is current (Q_REF_SEL), the generation that wrote it
 *            and the CRC32C of (generation, contents). Parents hold their children's refs; the
 *            superblock holds the roots. A node changed in a transaction is written to the copy
 *            that is NOT current in the last commit, so the committed tree is never overwritten.
 *  table     a radix tree of refs, rooted in Q_ROOTS refs of the superblock: `height` levels of
 *            interior nodes (each page = F = P / 32 refs) above leaves. Capacity in leaves:
 *            Q_ROOTS * F^height. An absent ref (flags without Q_REF_PRESENT) is an all-zero
 *            subtree that was never written: lazily materialized.
 *  map       table 0: leaf g is the 2-bit type of each of the G = 4 * P pages of group g
 *            (pages g*G .. g*G+G-1). Leaf g's own two copies are the first two pages of its group
 *            (group 0: pages 2 and 3, after the superblock slots). An absent leaf means "every
 *            page of the group is free" (its two leaf pages excepted: reserved).
 *  types     Q_FREE 0, Q_REGULAR 1, Q_INTERNAL 2 (superblocks, map leaves, table nodes,
 *            protected copies, sub-page pages), Q_PENDING 3 (freed in the open transaction; only
 *            in memory: written as Q_FREE, turned into Q_FREE in memory once the commit is
 * durable). prot      table 1: leaf records are refs (32 bytes): protected page id = record index.
 *  sub       table 2: leaf records are struct q_subrec (64 bytes): one per sub-page page.
 *  cow set   pages a write view was handed out for since the last commit: the mapping is
 *            MAP_PRIVATE, so those bytes live in private memory until the commit pwrite()s them
 *            (then MADV_DONTNEED drops the private copies). Every byte that reaches the file goes
 *            through struct q_pager_io, which the crash harness interposes.
 *
 * Invariants (between calls)
 *  page_count % 16 == 0; page_count * P <= file size; page_count * P == mapping size.
 *  page_count == sum(ntype) + n_absent_free + 2 * (absent groups in range).
 *  For a map leaf: nfree == number of Q_FREE entries below page_count.
 *  A node with Q_N_DIRTY has all its ancestors dirty.
 */
#ifndef QUIRE_PAGER_INTERNAL_H
#define QUIRE_PAGER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/crc32c.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/problem.h"
#include "base/vec.h"
#include "pager/format.h"
#include "pager/io.h"
#include "quire/pager.h"

/* ---------------------------------------------------------------------------------------------
 * In memory
 * ------------------------------------------------------------------------------------------- */

enum { Q_N_DIRTY = 1u };

struct q_node {
    struct q_ref ref;    /* where the node lives on disk, as its parent records it */
    struct q_node **kid; /* interior: F children (NULL: absent) */
    uint8_t *buf;        /* leaf: P bytes */
    uint32_t flags;      /* Q_N_DIRTY */
    uint32_t nfree;      /* map leaf: Q_FREE pages below page_count */
};

struct q_table {
    uint32_t height;              /* interior levels */
    uint32_t kind;                /* Q_TAB_* */
    uint32_t rec_size;            /* record bytes (map: 0) */
    uint64_t per_leaf;            /* records per leaf (map: pages per group) */
    struct q_node *root[Q_ROOTS]; /* height 0: leaves; else interior nodes */
};

struct quire_pager_writer {
    quire_pager *p;
    uint64_t pid;
    uint8_t *buf;
    struct quire_pager_writer *next, *prev; /* the pager's list of open writers */
};

struct quire_pager {
    int fd;
    int rdonly;
    int fatal;       /* 0, or the sticky state: every call returns QUIRE_EUNAVAIL */
    int in_txn;      /* quire_pager_begin() was called */
    int meta_dirty;  /* metadata changed since the last commit */
    uint32_t P;      /* page size */
    uint32_t pshift; /* log2(P) */
    uint32_t fanout; /* refs per interior node: P / 32 */
    uint64_t G;      /* pages per map group: 4 * P */
    uint8_t *map;    /* MAP_PRIVATE mapping of page_count pages (views) */
    size_t map_size;
    uint8_t *rmap; /* MAP_SHARED read-only mapping of the same: protected pages are read
                    * here, so a private copy made by a write view of a neighbouring page
                    * (P < OS page) can never hide what pwrite() put in the file */
    size_t rmap_size;
    uint64_t page_count;
    uint64_t gen;           /* generation of the last durable commit */
    uint64_t ntype[4];      /* pages below page_count of each type (materialized groups only) */
    uint64_t n_absent_free; /* free pages of absent groups (each such group: pages - 2) */
    uint64_t n_protected, n_subslots;
    uint64_t prot_end;      /* one past the highest protected id in use */
    uint64_t sub_end;       /* one past the highest sub-page record in use */
    uint64_t alloc_hint;    /* no free page below this id (a lower bound) */
    uint64_t prot_hint;     /* no free protected record below this index */
    uint64_t sub_hint[17];  /* per slot shift: first record that may have a free slot */
    uint64_t sub_free_hint; /* no unused sub-page record below this index */
    struct q_table tab[Q_NTREES];
    struct q_super sb;              /* the last durable superblock */
    struct q_base_hash cow;         /* pages with write views since the last commit */
    struct q_base_vec pending;      /* pages freed in this transaction (type Q_PENDING) */
    struct q_base_hash sub_pending; /* sub-page handles freed in this transaction */
    struct q_base_hash writers_on;  /* protected ids with an open writer */
    quire_pager_writer *writers;
    struct q_pager_io io;
    uint8_t *scratch; /* P bytes for serializing */
};

/* ---------------------------------------------------------------------------------------------
 * table.c: copy-on-write radix trees of refs
 * ------------------------------------------------------------------------------------------- */

void q_table_init(quire_pager *p, struct q_table *t, uint32_t kind);
void q_table_free(quire_pager *p, struct q_table *t);
/* Leaves the table can hold at its height (saturating). */
uint64_t q_table_capacity(const quire_pager *p, uint32_t height);
/* The leaf `leaf`, or NULL when absent (or beyond the capacity). */
struct q_node *q_table_leaf(const quire_pager *p, const struct q_table *t, uint64_t leaf);
/* The leaf `leaf`, created if absent (raising the height if needed), with it and every ancestor
 * marked dirty. Map leaves are initialized by q_map_leaf_init. */
int q_table_dirty(quire_pager *p, struct q_table *t, uint64_t leaf, struct q_node **out);
/* Reads and validates the tree under roots[] at `height`. */
int q_table_load(quire_pager *p, struct q_table *t, const struct q_ref *roots, uint32_t height);
/* Allocates the page pairs of dirty nodes that have none; *changed set when it allocated. */
int q_table_prepare(quire_pager *p, struct q_table *t, int *changed);
/* Writes every dirty node to its inactive copy, bottom-up, for generation gen; fills roots[]. */
int q_table_write(quire_pager *p, struct q_table *t, uint64_t gen, struct q_ref *roots);
/* Calls fn for every node's page pair (for the checker). */
int q_table_walk(const quire_pager *p, const struct q_table *t,
                 int (*fn)(void *arg, const struct q_node *n, int leaf, uint64_t index), void *arg);

/* ---------------------------------------------------------------------------------------------
 * map.c: the page-type map, allocation, growth
 * ------------------------------------------------------------------------------------------- */

/* The two page ids holding map leaf g. */
static inline uint64_t q_map_leaf_slot(const quire_pager *p, uint64_t g, int i) {
    return g == 0 ? (uint64_t)(2 + i) : g * p->G + (uint64_t)i;
}
static inline unsigned q_leaf_type(const uint8_t *buf, uint64_t i) {
    return (unsigned)(buf[i >> 2] >> ((i & 3) * 2)) & 3u;
}
static inline void q_leaf_set(uint8_t *buf, uint64_t i, unsigned type) {
    unsigned sh = (unsigned)(i & 3) * 2;
    buf[i >> 2] = (uint8_t)((buf[i >> 2] & ~(3u << sh)) | (type << sh));
}
void q_map_leaf_init(quire_pager *p, struct q_node *leaf, uint64_t g);
/* Type of page id (< page_count). Absent groups: Q_FREE, their leaf pages Q_INTERNAL. */
unsigned q_map_type(const quire_pager *p, uint64_t id);
int q_map_set(quire_pager *p, uint64_t id, unsigned type);
/* Allocates one page of `type` at or after hint (wrapping, then growing). */
int q_map_alloc(quire_pager *p, unsigned type, uint64_t hint, uint64_t *id);
/* Allocates the lowest run of n free pages as Q_REGULAR (growing the file by q_map_alloc()'s
 * steps until one exists): 0, QUIRE_EOVERFLOW (n > G - 2: a run lies inside one group), or a
 * growth error. */
int q_map_alloc_run(quire_pager *p, uint64_t n, uint64_t *first);
/* Allocates the n lowest free pages as `type` into ids[] (increasing), one leaf at a time; the
 * caller reserved them with q_map_reserve(). *done: pages taken (the caller undoes them on error).
 */
int q_map_alloc_many(quire_pager *p, unsigned type, size_t n, uint64_t *ids, size_t *done);
/* Makes sure at least n pages are free, growing the file if needed. */
int q_map_reserve(quire_pager *p, uint64_t n);
/* Grows to at least new_count pages (rounded to Q_GROW_MIN): ftruncate, remap, map height. */
int q_map_grow(quire_pager *p, uint64_t new_count);
/* Marks a page Q_PENDING (freed in this transaction) and records it. */
int q_map_free_pending(quire_pager *p, uint64_t id);
/* After a durable commit: pending pages become free. */
void q_map_settle(quire_pager *p);
/* Recomputes counters from the loaded map (open, abort). */
int q_map_count(quire_pager *p);
/* Drops private copies of pages in [first, first + n) (after their bytes reached the file). */
void q_map_drop_private(quire_pager *p, uint64_t first, uint64_t n);

/* ---------------------------------------------------------------------------------------------
 * pager.c: commit chain, open, close
 * ------------------------------------------------------------------------------------------- */

/* Resizes both mappings to `want` bytes (they may move). */
int q_pager_remap(quire_pager *p, size_t want);
/* Checks the pager can be modified: 0, QUIRE_ERDONLY or QUIRE_EUNAVAIL. */
int q_pager_writable(const quire_pager *p);
/* Commits when no explicit transaction is open (the autocommit of modifying calls). */
int q_pager_autocommit(quire_pager *p);
int q_pager_commit_now(quire_pager *p);
/* Returns to the last durable commit (re-reads metadata). */
int q_pager_reload(quire_pager *p);
/* Validates one superblock slot image (Q_SB_SIZE bytes): 0 or QUIRE_EMAGIC/EVERSION/ESUPER/
 * EPAGESIZE. */
int q_super_validate(const struct q_super *sb, uint32_t expect_page_size);
/* Reads the two slots of a file; fills valid/err/gens and returns the page size found (0 none). */
uint32_t q_super_scan(int fd, const struct q_pager_io *io, uint32_t page_size, struct q_super sb[2],
                      int err[2]);

/* protected.c / subpage.c */
struct q_ref *q_prot_rec(quire_pager *p, uint64_t pid);
struct q_subrec *q_sub_rec(quire_pager *p, uint64_t rec);
int q_prot_count(quire_pager *p, uint64_t *n);
int q_sub_count(quire_pager *p, uint64_t *n);
/* Applies sub-page frees of the transaction (at commit, before writing). */
int q_sub_settle(quire_pager *p);
void q_writers_drop_all(quire_pager *p);

#endif
