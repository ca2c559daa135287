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
 *             page. B = q_pager_block_pages(P) pages make a 4 KiB device block.
 *  regular    a page the API hands out (quire_pager_alloc); internal pages are the pager's own:
 *             superblock slots, tree nodes, protected copies, sub-page pages, shadow pages,
 *             record pages.
 *  content page  a page whose bytes the caller writes through views: a regular page or a
 *             sub-page page. The commit versions them (shadows, below).
 *  generation the number of commits: p->gen is the last commit (the latest state); a
 *             transaction writes generation gen + 1.
 *  anchor     p->anchor: the last commit known durable (synced). Nothing the anchor's state
 *             references is ever overwritten before the next sync, so a power loss can always
 *             fall back to it. With durability QUIRE_PAGER_DURABLE every commit syncs and the
 *             anchor is the latest commit; with QUIRE_PAGER_NOSYNC it stays behind until
 *             quire_pager_sync() or the next durable commit.
 *  protected states  the states whose pages must stay intact: the anchor and the latest commit
 *             (a reader may take it at any moment, a crash may leave it). p->oldest is the
 *             oldest of them; a page freed by commit f is reused only once oldest >= f.
 *  superblock slot  two slots (format.h); a commit writes the slot that does not hold the
 *             anchor (sb_slot[] says which slot holds which generation).
 *  ref        (struct q_ref, format.h) a pair of pages, the node's two copies, with which one is
 *             current (Q_REF_SEL), the generation that wrote it and the CRC32C of (generation,
 *             contents). Parents hold their children's refs; the superblock holds the roots. A
 *             node changed in a transaction is written to the copy neither the anchor nor the
 *             latest commit uses: the other copy when ref.gen <= anchor (the current copy is
 *             both's); when the node was written since the anchor (NOSYNC mode), the other copy
 *             is the anchor's and the current one the latest's, so a third page replaces the
 *             current copy in the ref (tree.c, relocate) and the old one is retired. Invariant:
 *             ref.gen > anchor => the non-current copy holds the anchor's version.
 *  tree       (struct q_tree, tree.c) a copy-on-write radix tree of refs, rooted in Q_ROOTS refs
 *             of the superblock: `height` levels of interior nodes (F = P / 32 refs each) above
 *             leaves. Capacity in leaves: Q_ROOTS * F^height. An absent ref (no Q_REF_PRESENT) is
 *             an all-zero subtree never written: materialized lazily. What a leaf holds is its
 *             owner's, described by a struct q_pager_leaf_ops; the tree never looks inside.
 *  free map   tree 0 (freemap.c): leaf g holds the 2-bit type of each of the G = 4 * P pages of
 *             group g (pages g*G .. g*G+G-1). Leaf g's two copies are reserved pages of its
 *             group (q_pager_leaf_page: the group's first page and the first of its second
 *             4 KiB block; group 0 also holds the superblock slots). An absent leaf means "every
 *             page of the group is free" but its two leaf pages (internal). A leaf dirtied in a
 *             transaction keeps its committed image (base_img) so that the commit can tell a
 *             page allocated since the last commit (fresh) from one the last commit holds.
 *  types      Q_FREE 0, Q_REGULAR 1, Q_INTERNAL 2, Q_PENDING 3: freed, not reusable yet (a
 *             protected state may still see it); only in memory (written as Q_FREE), with the
 *             generation that freed it (pending_gen); Q_FREE once oldest >= that generation.
 *  shadow     a content page X that the last commit holds (a protected state reads its bytes
 *             at home) and that the transaction wrote: the commit writes its new bytes to a
 *             fresh internal page S (its shadow) and records X -> S in the shadow map, never
 *             overwriting X itself. A later commit copies S's bytes back home once no
 *             protected state older than the shadow remains (oldest >= shadow gen), and frees
 *             S. Fresh content pages are written home at once. Both kinds of write carry a
 *             CRC32C in the commit record, which open verifies before it accepts the commit.
 *             The pager's own mapping holds the shadowed bytes at X (a private copy).
 *  commit record  the pages the commit wrote home (with their CRCs) and the whole shadow map;
 *             inline in the superblock when it fits, else in a chain of record pages (fresh
 *             internal pages, freed by the next commit).
 *  protected directory  tree 1 (protected.c): leaf records are refs, one per protected page
 *             (protected page id = record index); a protected page is its two copies. A write
 *             goes to the copy no protected state reads (relocated to a fresh page when both
 *             are still read).
 *  sub-page directory   tree 2 (subpage.c): leaf records are struct q_subrec, one per page cut
 *             into sub-page slots of one size.
 *  mapping    (mapping.c) the MAP_PRIVATE mapping of the whole file that views point into, and
 *             its read-only MAP_SHARED twin for protected pages and verification; mapping_len is
 *             its length in bytes (page_count * P).
 *  cow set    content pages a write view was handed out for since the last commit: their bytes
 *             live in private memory until the commit writes them (home or shadow). Every byte
 *             that reaches the file goes through the I/O hook (io.h).
 *
 * Invariants (between calls; q_pager_validate() checks them, run after every commit and load in
 * debug builds: base/assert.h)
 *  page_count % Q_GROW_MIN == 0; page_count * P == mapping_len == shared_len <= file size.
 *  page_count == sum(ntype) + n_absent_free + 2 * (absent groups below page_count).
 *  A free-map leaf: nfree == its Q_FREE entries below page_count; no entry beyond page_count;
 *    its own pages (and in group 0 the superblock slots) are Q_INTERNAL.
 *  ntype[Q_PENDING] == pending.n == pending_gen.n, every page in `pending` is Q_PENDING.
 *  No free page below alloc_hint. anchor <= gen; oldest == anchor (the latest is never older).
 *  Every shadow X -> S: X is a content page, S is Q_INTERNAL, S != X, shadow gen <= gen.
 *  A node with Q_N_DIRTY has every ancestor dirty; an interior node has no leaf buffer, a leaf
 *    no children.
 *  Outside a transaction (in_txn 0) and after a commit: nothing dirty, cow set empty.
 */
#ifndef QUIRE_PAGER_INTERNAL_H
#define QUIRE_PAGER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/handle.h"
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

typedef struct q_pager q_pager;

enum {
    Q_N_DIRTY = 1u, /* changed in the open transaction */
    Q_N_NEW = 2u,   /* materialized in the open transaction (absent in the last commit) */
    Q_N_MOVED = 4u, /* given a third page in the open commit (tree.c, relocate) */
    Q_N_HELD = 8u,  /* free-map leaf: its free pages below held_below are not allocated (barrier) */
};

/* A tree node: an interior node (kid) or a leaf (buf). */
struct q_node {
    struct q_ref ref;    /* where the node lives on disk, as its parent records it */
    struct q_node **kid; /* interior: F children (NULL: absent) */
    uint8_t *buf;        /* leaf: P bytes of records */
    uint8_t *base_img;   /* leaf of a tree with keep_committed, dirtied in the open transaction:
                          * its P bytes at the last commit (NULL otherwise) */
    uint32_t flags;      /* Q_N_DIRTY, Q_N_NEW */
    uint32_t nfree;      /* free-map leaf: Q_FREE pages below page_count */
};

/* What a tree's leaves hold, registered by the tree's owner (freemap.c, protected.c,
 * subpage.c). The optional hooks are the free map's: the other trees hold plain records. */
struct q_pager_leaf_ops {
    const char *name;   /* "free map", ... (validators' messages) */
    uint32_t rec_bits;  /* bits per record: a leaf holds P * 8 / rec_bits records */
    int keep_committed; /* a leaf dirtied in a transaction keeps its committed image */
    /* Optional. A leaf materialized in memory (absent until now) at leaf index `index`: fills
     * its records, and may give it its page pair (ref.copy[]), which a commit then keeps. */
    void (*init)(q_pager *p, struct q_node *leaf, uint64_t index);
    /* Optional. A leaf just read from the file: 0, or QUIRE_EMETA when its ref is not where
     * its owner puts it. */
    int (*check)(const q_pager *p, const struct q_ref *ref, uint64_t index);
    /* Optional. The P bytes to write for a dirty leaf (default: its buffer); may use
     * p->scratch. */
    const uint8_t *(*image)(q_pager *p, const struct q_node *leaf);
    /* Optional. The fixed page of copy i of leaf `index` (the free map's: its group's reserved
     * pages, which a leaf relocated to a third page can take back). */
    uint64_t (*fixed)(const q_pager *p, uint64_t index, int i);
};

/* How a commit gives tree nodes pages (commit.c passes the free map's functions). */
struct q_pager_tree_pages {
    /* Two internal pages in different 4 KiB blocks: a new node's copies. */
    int (*alloc_pair)(q_pager *p, uint64_t *a, uint64_t *b);
    /* An internal page in another 4 KiB block than `other`: a relocated node's third page. */
    int (*alloc_apart)(q_pager *p, uint64_t other, uint64_t *id);
    /* A copy a relocated node no longer uses: freed once the commit is protected. */
    int (*retire)(q_pager *p, uint64_t id);
};

struct q_tree {
    uint32_t height;                    /* interior levels */
    uint64_t per_leaf;                  /* records per leaf: P * 8 / ops->rec_bits */
    const struct q_pager_leaf_ops *ops; /* what the leaves hold */
    struct q_node *root[Q_ROOTS];       /* height 0: leaves; else interior nodes */
};

struct quire_pager_writer {
    q_pager *p;
    uint64_t pid;                           /* the protected page */
    uint8_t *buf;                           /* P bytes: the new contents */
    int stale;                              /* the transaction it belonged to was aborted */
    struct quire_pager_writer *next, *prev; /* the pager's list of open writers */
};

/* A shadow-map entry in memory (the value of p->shadows, keyed by the home page). */
struct q_shadow_val {
    uint64_t page; /* the shadow */
    uint64_t gen;  /* the commit that wrote it */
    uint32_t crc;  /* q_pager_page_crc(home, contents) */
    uint32_t pad;
};

/* The handle the API hands out: a slot of base/handle.h (never freed, quarantined after close),
 * so that a call on a closed handle finds Q_HANDLE_CLOSED and stops with a message instead of
 * reading freed memory. */
#define Q_HANDLE_LIVE   UINT64_C(0x7175697265504752) /* "quirePGR" */
#define Q_HANDLE_CLOSED UINT64_C(0xdeadc105edd00d00)
struct quire_pager {
    struct q_base_handle h; /* magic: Q_HANDLE_LIVE or Q_HANDLE_CLOSED; state: the q_pager */
};

struct q_pager {
    quire_pager *handle; /* the caller's handle */
    int fd;
    int rdonly;
    int fatal;        /* 0, or the sticky state: every call returns QUIRE_EUNAVAIL */
    int in_txn;       /* quire_pager_begin() was called */
    int meta_dirty;   /* metadata changed since the last commit */
    int nosync;       /* durability QUIRE_PAGER_NOSYNC: commits do not sync */
    uint32_t P;       /* page size */
    uint32_t pshift;  /* log2(P) */
    uint32_t fanout;  /* refs per interior node: P / 32 */
    uint64_t G;       /* pages per free-map group: 4 * P */
    uint64_t B;       /* pages per 4 KiB block: q_pager_block_pages(P) */
    uint8_t *mapping; /* MAP_PRIVATE mapping of page_count pages: views point here */
    size_t mapping_len;
    uint8_t *shared; /* MAP_SHARED read-only mapping of the same */
    size_t shared_len;
    uint64_t page_count;
    uint64_t gen;           /* generation of the last commit */
    uint64_t anchor;        /* generation of the last durable commit (<= gen) */
    uint64_t oldest;        /* oldest protected state (glossary): min(anchor, gen) */
    int sb_slot;            /* the slot that holds generation gen */
    int anchor_slot;        /* the slot that holds the anchor */
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
    struct q_super sb;              /* the superblock of the last commit */
    struct q_base_hash cow;         /* the cow set: pages with write views since the commit */
    struct q_base_vec pending;      /* pages of type Q_PENDING, ... */
    struct q_base_vec pending_gen;  /* ... each with the generation that freed it */
    struct q_base_hash sub_pending; /* sub-page handles freed in this transaction */
    struct q_base_hash writers_on;  /* protected ids with an open writer */
    struct q_base_hash shadows;     /* the shadow map: home page -> struct q_shadow_val */
    struct q_base_vec rec_pages;    /* the last commit's record pages */
    struct q_base_vec unsynced;     /* pages written home since the anchor, ... */
    struct q_base_vec unsynced_crc; /* ... with their CRCs (the next record repeats them) */
    quire_pager_writer *writers;
    struct q_pager_io io;
    uint8_t *scratch; /* P bytes for serializing */
    /* What open found (quire_pager_check reports it): the newest slot whose checksum
     * validates was rejected (what it references does not validate) and the older one used. */
    int fell_back;
    int fell_back_error; /* why the newer one was rejected */
    /* readers.c: the lock file and the reader table */
    int lock_fd;            /* the lock file (-1: none: no reader can share the file) */
    struct q_lock_hdr *lk;  /* its shared mapping (NULL: none) */
    int slot;               /* a reader's slot (-1: none) */
    uint64_t token;         /* a reader's owner token in its slot */
    uint64_t barrier;       /* writer: readers older than this were there at open, ... */
    uint64_t held_below;    /* ... and while they are, free pages below this (the page count
                               at open) in held leaves are not allocated; pages the file grew
                               by since are (no older snapshot can read them) */
    uint64_t readers_seen;  /* writer: live reader slots at the last count */
    uint64_t oldest_reader; /* writer: their oldest snapshot (UINT64_MAX: none) */
    uint64_t liveness_ns;   /* writer: when the oldest reader's liveness was last tested */
    char *path;             /* the data file's name (a reader's snapshots, lock file) */
};

/* The state behind a handle: NULL for a NULL handle; a closed one stops the process with a
 * message naming the call (fn). */
q_pager *q_pager_state(quire_pager *h, const char *fn);
#define Q_PAGER(h) q_pager_state((quire_pager *)(uintptr_t)(h), __func__)

/* 0, or why the pager cannot be modified: QUIRE_EUNAVAIL, QUIRE_ERDONLY. */
static inline int q_pager_writable(const q_pager *p) {
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
/* Makes sb (validated) the pager's state: maps the file, loads every tree and the commit record,
 * verifies what the commit wrote (home pages, shadows, protected copies of generation sb's),
 * fills the mapping with the shadowed contents, recounts and compares with the counters sb
 * records. 0, QUIRE_EFBIG, QUIRE_EFILESIZE, QUIRE_EMETA, QUIRE_ENOMEM, I/O errors. */
int q_pager_load_state(q_pager *p, const struct q_super *sb, uint64_t file_size);
/* The same for a reader's refresh: unchanged tree nodes are kept, the pages the commit wrote
 * in place are not verified (a live writer published it), shadows are. */
int q_pager_load_snapshot(q_pager *p, const struct q_super *sb, uint64_t file_size);
/* The invariants above: NULL when they hold, else a sentence naming the first that does not
 * (validate.c; q_pager_validate() of pager/testing.h takes a handle). */
const char *q_pager_validate_state(const q_pager *p);

/* Loads the newest state of the file: reads both slots, loads the newest valid one, falls back
 * to the other when what it references does not validate (p->fell_back). sb_slot set; the
 * geometry too when it was not (page_size: the expected one, or 0). */
int q_pager_load_newest(q_pager *p, uint32_t page_size);
/* Sets P and what follows from it, and the scratch page: 0 or QUIRE_ENOMEM. */
int q_pager_set_geometry(q_pager *p, uint32_t page_size);

/* ---------------------------------------------------------------------------------------------
 * readers.c: the lock file, the reader table, snapshots
 * ------------------------------------------------------------------------------------------- */

/* Opens (creating it if needed) and maps path's lock file. A lock file that cannot be opened
 * for writing (read-only directory or file system) is no error: p->lock_fd stays -1 and the
 * pager falls back to whole-file locks (readers and a writer exclude each other). */
int q_pager_lock_open(q_pager *p);
void q_pager_lock_close(q_pager *p);
/* Writer: marks itself alive, clears stale reader slots, publishes its state; readers older
 * than it set the reuse barrier (held free-map leaves, freemap.c). */
int q_pager_writer_attach(q_pager *p);
/* Writer: publishes the latest commit (after each commit, sync and open), before it scans the
 * reader table (q_pager_protect_update), which then publishes the statistics. */
void q_pager_publish(q_pager *p);
void q_pager_publish_stats(q_pager *p);
/* Writer: the oldest snapshot a live reader holds (UINT64_MAX: none); counts them. */
uint64_t q_pager_readers_oldest(q_pager *p);
/* Reader: takes a slot and a snapshot of the latest published commit (or, without a writer,
 * of the newest valid one in the file). */
int q_pager_reader_attach(q_pager *p, uint32_t page_size);
/* Reader: moves its snapshot to the latest commit. */
int q_pager_reader_refresh(q_pager *p);
/* 1 when a writer has the file open. */
int q_pager_writer_alive(const q_pager *p);

/* ---------------------------------------------------------------------------------------------
 * commit.c: the commit chain, transactions
 * ------------------------------------------------------------------------------------------- */

/* QUIRE_PAGER_NOSYNC: the pages written home since the anchor after which a commit syncs first
 * (every commit record repeats them until a sync). */
#define Q_NOSYNC_HOME_MAX 1024u
/* Commits every change since the last commit (the chain in commit.c's opening comment). */
int q_pager_commit(q_pager *p);
/* Commits when no explicit transaction is open (the autocommit of modifying calls). */
int q_pager_autocommit(q_pager *p);
/* Returns to the last commit (abort): drops the transaction, re-reads the metadata; a failure
 * makes the pager unavailable. */
int q_pager_reload(q_pager *p);
/* fdatasync; the latest commit becomes the anchor. */
int q_pager_sync(q_pager *p);
/* Recomputes p->oldest and settles the pending pages it allows. */
void q_pager_protect_update(q_pager *p);

/* ---------------------------------------------------------------------------------------------
 * mapping.c: the two mappings of the file
 * ------------------------------------------------------------------------------------------- */

/* Maps page_count pages (or resizes the existing mappings to them). */
int q_pager_map_file(q_pager *p);
/* Resizes both mappings to `want` bytes (they may move). */
int q_pager_remap(q_pager *p, size_t want);
void q_pager_unmap_file(q_pager *p);
/* Drops the private copies of pages ids[0..n) (sorted; after their bytes reached the file, or to
 * forget a transaction's writes); shadowed pages among them, or sharing an OS page with them,
 * get their contents back from their shadows. */
void q_pager_drop_pages(q_pager *p, const uint64_t *ids, size_t n);
/* The same for every page (out of memory for the list of pages). */
void q_pager_drop_all(q_pager *p);
/* Copies every shadowed page's contents from its shadow into the mapping. */
void q_pager_fill_shadows(q_pager *p);

/* ---------------------------------------------------------------------------------------------
 * tree.c: the generic copy-on-write tree
 * ------------------------------------------------------------------------------------------- */

/* An empty tree whose leaves hold what ops describes. */
void q_pager_tree_init(q_pager *p, struct q_tree *t, const struct q_pager_leaf_ops *ops);
void q_pager_tree_free(q_pager *p, struct q_tree *t);
/* The leaf `leaf`, or NULL when absent (or beyond the capacity). */
struct q_node *q_pager_tree_leaf(const q_pager *p, const struct q_tree *t, uint64_t leaf);
/* The leaf `leaf`, created if absent (ops->init fills it; the height grows when needed), with it
 * and every ancestor marked dirty. 0, QUIRE_EFULL (beyond Q_MAX_HEIGHT), QUIRE_ENOMEM. */
int q_pager_tree_dirty(q_pager *p, struct q_tree *t, uint64_t leaf, struct q_node **out);
/* Reads and validates the tree under roots[] at `height` (every node's checksum; ops->check).
 * With reuse, the nodes of the tree's current contents whose refs are unchanged are kept
 * instead of read again (a reader's refresh; the tree must be clean). */
int q_pager_tree_load(q_pager *p, struct q_tree *t, const struct q_ref *roots, uint32_t height,
                      int reuse);
/* Commit step 0: gives the dirty nodes that have none a page pair (in different 4 KiB blocks),
 * and the ones whose both copies a protected state uses (the anchor one, the latest commit the
 * other: QUIRE_PAGER_NOSYNC) a third page; *changed set when it allocated (which may dirty more
 * nodes: repeat until nothing changes). */
int q_pager_tree_prepare(q_pager *p, struct q_tree *t, const struct q_pager_tree_pages *pg,
                         int *changed);
/* Commit step 2: writes every dirty node, bottom-up, for generation gen to the copy the anchor
 * does not use; fills roots[]. */
int q_pager_tree_write(q_pager *p, struct q_tree *t, uint64_t gen, struct q_ref *roots);
/* Calls fn for every node (leaf: index = leaf index; interior: index = level). */
int q_pager_tree_walk(const q_pager *p, const struct q_tree *t,
                      int (*fn)(void *arg, const struct q_node *n, int leaf, uint64_t index),
                      void *arg);
/* Where a node's new version goes: the copy the anchor does not use (glossary, "ref"). */
static inline uint32_t q_pager_write_target(const q_pager *p, const struct q_ref *r) {
    if (!(r->flags & Q_REF_PRESENT)) return 0;
    uint32_t cur = r->flags & Q_REF_SEL;
    return r->gen > p->anchor ? cur : 1u - cur;
}

/* ---------------------------------------------------------------------------------------------
 * freemap.c: page types, allocation, growth
 * ------------------------------------------------------------------------------------------- */

extern const struct q_pager_leaf_ops q_pager_freemap_leaves;

/* Page i (0 or 1) of group g's leaf. */
static inline uint64_t q_pager_freemap_leaf_page(const q_pager *p, uint64_t g, int i) {
    return q_pager_leaf_page(p->P, g, i);
}
/* 1 when id is a page whose place the format fixes: a superblock slot or a free-map leaf copy
 * (no tree node, protected copy, sub-page page, shadow or record page may be one). */
static inline int q_pager_is_fixed(const q_pager *p, uint64_t id) {
    uint64_t g = id / p->G;
    return id == 0 || id == q_pager_super_page(p->P, 1) || id == q_pager_leaf_page(p->P, g, 0) ||
           id == q_pager_leaf_page(p->P, g, 1);
}
/* Entry i (a page type) of a free-map leaf. */
static inline unsigned q_freemap_entry(const uint8_t *buf, uint64_t i) {
    return (unsigned)(buf[i >> 2] >> ((i & 3) * 2)) & 3u;
}
static inline void q_freemap_set_entry(uint8_t *buf, uint64_t i, unsigned type) {
    unsigned sh = (unsigned)(i & 3) * 2;
    buf[i >> 2] = (uint8_t)((buf[i >> 2] & ~(3u << sh)) | (type << sh));
}
/* The longest run quire_pager_alloc_run() can return: a group but its two leaf pages, which
 * bound runs (the second lies B pages into the group). */
static inline uint64_t q_pager_run_max(const q_pager *p) {
    return p->B == 1 ? p->G - 2 : p->G - p->B - 1;
}
/* Type of page id (< page_count). Absent groups: Q_FREE, their leaf pages Q_INTERNAL. */
unsigned q_pager_freemap_type(const q_pager *p, uint64_t id);
/* Type of page id in the last commit (Q_FREE for pages the transaction's growth added). */
unsigned q_pager_freemap_committed_type(const q_pager *p, uint64_t id);
/* Sets a page's type, materializing its leaf. 0 or QUIRE_ENOMEM / QUIRE_EFULL. */
int q_pager_freemap_set(q_pager *p, uint64_t id, unsigned type);
/* Allocates one page of `type`: the first free one at or after hint, else the lowest, else the
 * file grows (by an eighth, at least 32 pages) and the first new page is taken. */
int q_pager_freemap_alloc(q_pager *p, unsigned type, uint64_t hint, uint64_t *id);
/* q_pager_freemap_alloc(p, Q_INTERNAL, 0, id): a page for the pager's own use. */
int q_pager_freemap_alloc_internal(q_pager *p, uint64_t *id);
/* An internal page in another 4 KiB block than page `other` (its redundant twin). */
int q_pager_freemap_alloc_apart(q_pager *p, uint64_t other, uint64_t *id);
/* Two internal pages in different 4 KiB blocks (a node's copies). */
int q_pager_freemap_alloc_pair(q_pager *p, uint64_t *a, uint64_t *b);
/* Allocates the lowest run of n free pages as Q_REGULAR, growing the file by
 * q_pager_freemap_alloc()'s steps until one exists: 0, QUIRE_EOVERFLOW (n > q_pager_run_max:
 * a run lies inside one group), or a growth error. */
int q_pager_freemap_alloc_run(q_pager *p, uint64_t n, uint64_t *first);
/* Allocates the n lowest free pages as `type` into ids[] (increasing), one leaf at a time; the
 * caller reserved them with q_pager_freemap_reserve(). *done: pages taken (the caller undoes
 * them on error). */
int q_pager_freemap_alloc_many(q_pager *p, unsigned type, size_t n, uint64_t *ids, size_t *done);
/* Makes sure at least n pages are free, growing the file if needed. */
int q_pager_freemap_reserve(q_pager *p, uint64_t n);
/* Grows to at least new_count pages (rounded up to Q_GROW_MIN): ftruncate, then remap; a failed
 * remap makes the pager unavailable. The new groups are absent (free). QUIRE_EFULL beyond the
 * format's limit (no arithmetic wraps). */
int q_pager_freemap_grow(q_pager *p, uint64_t new_count);
/* Marks a page Q_PENDING, freed by generation `gen` (gen + 1 for the open transaction). */
int q_pager_freemap_free_pending(q_pager *p, uint64_t id, uint64_t gen);
/* Pending pages freed by a generation <= p->oldest become free. */
void q_pager_freemap_settle(q_pager *p);
/* Marks free page id pending again, freed by `gen` (after a reload, which read it as free),
 * without dirtying its leaf (the file says free already). */
int q_pager_freemap_repend(q_pager *p, uint64_t id, uint64_t gen);
/* Forgets the pending pages freed in the open transaction (abort: they are allocated again). */
void q_pager_freemap_forget_txn(q_pager *p);
/* Holds (hold 1) or releases every materialized free-map leaf: a held leaf's free pages below
 * p->held_below are not allocated (the writer's barrier for readers older than its open,
 * readers.c). */
void q_pager_freemap_hold(q_pager *p, int hold);
/* Recomputes the counters from the loaded free map (open, abort): 0 or QUIRE_EMETA. */
int q_pager_freemap_count(q_pager *p);

/* ---------------------------------------------------------------------------------------------
 * protected.c, subpage.c: the two directories
 * ------------------------------------------------------------------------------------------- */

extern const struct q_pager_leaf_ops q_pager_prot_leaves;
extern const struct q_pager_leaf_ops q_pager_sub_leaves;

/* The record of protected page pid, or NULL when its leaf is absent. */
struct q_ref *q_pager_prot_rec(q_pager *p, uint64_t pid);
/* Counts (and validates) the live protected records; sets n_protected and prot_end. Also checks
 * the current copy of every record written after generation verify_after (UINT64_MAX: none):
 * QUIRE_EMETA when one fails its checksum (the commit that wrote it did not complete). */
int q_pager_prot_count(q_pager *p, uint64_t *n, uint64_t verify_after);
/* Drops every open writer (close). */
void q_pager_writers_drop_all(q_pager *p);
/* Makes every open writer stale (abort): its commit returns QUIRE_ESTATE. */
void q_pager_writers_stale_all(q_pager *p);
/* The sub-page record rec, or NULL when its leaf is absent. */
struct q_subrec *q_pager_sub_rec(q_pager *p, uint64_t rec);
/* Counts (and validates) the allocated sub-page slots; sets n_subslots and sub_end. */
int q_pager_sub_count(q_pager *p, uint64_t *n);
/* Commit step 0: applies the transaction's sub-page frees to their records. */
int q_pager_sub_settle(q_pager *p);
/* 1 when page id is a sub-page page (it has a record). */
int q_pager_sub_is_page(q_pager *p, uint64_t id);

#endif
