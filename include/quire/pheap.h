/*
 * quire/pheap.h - a persistent heap: malloc-like allocation inside a file that survives restarts
 * and crashes, built on the crash-consistent pager (quire/pager.h).
 *
 * Concepts
 * --------
 *  - References: an allocation is named by a quire_pref, a byte offset into the file (never a
 *    raw pointer), so it stays valid wherever the file is mapped and across reopen. The null
 *    reference has off == 0. quire_pheap_ptr() turns a reference into a read-only pointer.
 *  - Root: one reference stored in the heap's header (quire_pheap_set_root / quire_pheap_root),
 *    from which an application finds its data after reopening.
 *  - Named objects: references registered under a name (find or create, as Boost.Interprocess
 *    managed_mapped_file and Metall offer); names are up to QUIRE_PHEAP_NAME_MAX bytes.
 *  - Transactions: a writable heap always has one open transaction. Every allocation, free,
 *    root or name change and data write made since the last quire_pheap_commit() becomes
 *    durable atomically at the next commit, or none of it does (crash, quire_pheap_abort(),
 *    closing without commit). After a crash, the next open finds the heap exactly as the last
 *    completed commit left it: no leaked block, no half-written object.
 *
 * Writing data: declare, then write
 * ---------------------------------
 * Pointers from quire_pheap_ptr() are read-only. To change bytes of an allocation, declare the
 * range first with quire_pheap_write(h, ref, off, len, &p) (libpmemobj's tx_add_range): it
 * returns a writable pointer to those bytes, in place (reads through quire_pheap_ptr() see the
 * new bytes at once). Writing outside a declared range, or through a pointer after the
 * transaction ended, is undefined: such bytes may be lost, or reach the file unprotected.
 * quire_pheap_set() is a memcpy through a declared range.
 *
 * How atomicity is obtained (any file system, no persistent-memory hardware):
 *  - allocator metadata (per-chunk slab bitmaps and page descriptors) and the heap header live in
 *    the pager's protected pages, which a pager commit switches atomically;
 *  - a declared write takes write views of the pages it touches; the pager's commit writes them
 *    with everything else, in one batch and one flush: in place when the page was free at the
 *    last commit, else to a shadow page, copied back by a later commit (quire/pager.h). Nothing
 *    the last commit holds is overwritten, so a crash at any instant leaves the last commit or
 *    the new one, whole;
 *  - freed blocks are not reused before the freeing transaction commits.
 * Cost per commit: one fdatasync() (none in QUIRE_PHEAP_NOSYNC mode). Version 1 of the format
 * kept an undo log and synced it before the data pages: two or three flushes per commit.
 *
 * Durability modes (quire_pheap_set_durability): QUIRE_PHEAP_DURABLE (the default) makes every
 * commit durable when quire_pheap_commit() returns; QUIRE_PHEAP_NOSYNC does not flush at commit:
 * the file stays consistent, but a power loss may lose the most recent commits (never part of
 * one); quire_pheap_sync(), or the next commit in QUIRE_PHEAP_DURABLE mode, makes everything
 * durable. These are the pager's modes (QUIRE_PAGER_DURABLE, QUIRE_PAGER_NOSYNC).
 *
 * Pointer validity
 * ----------------
 * Pointers returned by quire_pheap_ptr() and quire_pheap_write() point into the pager's mapping
 * of the file. They stay valid until the next call marked [remaps] (which may grow and move the
 * mapping), the end of the transaction (commit, abort) or close; references stay valid forever.
 * Keep references in your data, not pointers. The unmarked modifying calls (write, set, free,
 * set_root) never move the mapping.
 *
 * Sizes
 * -----
 * Sizes up to the page size are rounded to size classes (16..128 by 16, then four classes per
 * power of two: 160, 192, 224, 256, 320, ... -- the heap's own, part of the file format) and
 * served from slabs of one to eight pages; larger sizes take runs of whole pages inside a chunk
 * (about 100 pages at 4 KiB); sizes beyond a chunk get a page run of their own ("huge" block)
 * from quire_pager_alloc_run(), so the largest allocation is the longest run the pager
 * allocates, 4 * P - 2 pages (64 MiB - 8 KiB with 4 KiB pages, 16 GiB with 64 KiB pages; with
 * 1 KiB and 2 KiB pages 4 * P - 5 and 4 * P - 3; QUIRE_EOVERFLOW beyond). Choose the page size at
 * create for the largest block you need. Allocations are 16-byte aligned.
 *
 * The root and names never dangle: freeing the root's block clears the root, freeing a named
 * block removes its names, and a realloc that moves a block moves its root and names with it.
 * Named objects cost O(1) per insertion, lookup and removal (amortized: the table is rebuilt at
 * twice its live size when it fills up).
 *
 * Readers: one writer and any number of read-only heaps (QUIRE_PHEAP_RDONLY), in any process,
 * share a file. A read-only heap reads one commit's heap - its snapshot: the commit that was
 * the latest when it opened or last called quire_pheap_refresh() - whatever the writer commits
 * meanwhile (LMDB's read transactions; the pager's "Readers" section in quire/pager.h tells
 * how, what a stale reader costs - the file grows by what the writer frees and rewrites
 * meanwhile - and what a reader sees of commits made with QUIRE_PHEAP_NOSYNC: every commit,
 * durable or not). References and pointers from a reader are valid for its snapshot.
 *
 * Concurrency: a heap handle is not thread-safe: give each thread its own. One writer per file
 * at a time (the pager's exclusive file lock: a second writer gets QUIRE_EBUSY).
 *
 * Errors: every function returns 0 or a negative QUIRE_E* code (quire/error.h) unless stated.
 * A call that fails leaves the transaction as it was (a failed allocation does not make the
 * transaction "changed"). After a failed commit (I/O error), the heap is unavailable
 * (QUIRE_EUNAVAIL) and must be closed; the file keeps its last commit.
 *
 * Handles: a handle is valid from the open that returned it until quire_pheap_close(). Using it
 * afterwards is an error quire detects: the call prints "quire: FUNCTION: closed (used after
 * quire_pheap_close) heap handle ADDRESS" on stderr and aborts, never reading freed memory (16
 * bytes stay behind per closed handle for this).
 */
#ifndef QUIRE_PHEAP_H
#define QUIRE_PHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"
#include "quire/pager.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open persistent heap (opaque). */
typedef struct quire_pheap quire_pheap;

/** A reference to an allocation: its byte offset in the file. off == 0 is the null reference. */
typedef struct {
    uint64_t off; /**< byte offset of the allocation's first byte in the heap file */
} quire_pref;

/** The null reference. */
#ifdef __cplusplus
#define QUIRE_PREF_NULL (quire_pref{0})
#else
#define QUIRE_PREF_NULL ((quire_pref){0})
#endif

/** Longest object name accepted by the named-object calls, in bytes (no terminator). */
#define QUIRE_PHEAP_NAME_MAX 255u

/** Flags for quire_pheap_open(). */
enum {
    QUIRE_PHEAP_CREATE = 1, /**< create the file if it does not exist */
    QUIRE_PHEAP_RDONLY = 2, /**< open read-only (shared with other readers) */
    QUIRE_PHEAP_EXCL = 4,   /**< with CREATE: fail with QUIRE_EEXIST if the file exists */
};

/** Durability modes, for quire_pheap_set_durability() (see "Durability modes" above). */
enum {
    QUIRE_PHEAP_DURABLE = 0, /**< every commit durable when it returns (one fdatasync) */
    QUIRE_PHEAP_NOSYNC = 1,  /**< commits do not flush: consistent, recent commits may be lost */
};

/** Counters filled by quire_pheap_stat(). */
struct quire_pheap_stat {
    uint32_t page_size;    /**< the pager's page size */
    uint64_t generation;   /**< commits made since the heap was created */
    uint64_t objects;      /**< live allocations (not counting ones freed in the open txn) */
    uint64_t bytes_used;   /**< usable bytes of live allocations */
    uint64_t bytes_free;   /**< free bytes inside the heap's chunks (slots and pages) */
    uint64_t largest_free; /**< largest run of free pages inside one chunk, in bytes */
    uint64_t chunks;       /**< chunks (groups of pages the heap manages; huge blocks too) */
    uint64_t file_bytes;   /**< size of the file's pages */
    /* Readers (see "Readers"; quire_pager_stat() of the heap's pager says the same): */
    uint64_t readers;         /**< read-only handles with a snapshot of the file, in every
                                   process (this one included when it is one) */
    uint64_t oldest_snapshot; /**< pager generation of the oldest of their snapshots (the
                                   pager's generation when there is none; not a heap
                                   generation) */
    uint64_t held_pages;      /**< pages the writer cannot reuse yet because an older state
                                   still needs them (freed pages, shadows) */
};

/* ---------------------------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Opens (or creates) a heap file. After a crash it opens at the last completed commit
 *        (the pager's open does all the recovery there is). Create is atomic: a crash during it
 *        leaves no file, or an empty pager file that the next CREATE open turns into a heap.
 * @param path the file.
 * @param flags QUIRE_PHEAP_CREATE, QUIRE_PHEAP_EXCL, QUIRE_PHEAP_RDONLY (CREATE and RDONLY
 *        exclude each other).
 * @param page_size page size for a new file (0: 4096); for an existing file 0 or its page size.
 * @param out receives the handle.
 * @return 0, or QUIRE_EINVAL, QUIRE_ENOENT (no file and no CREATE), QUIRE_EEXIST (EXCL),
 *         QUIRE_EBUSY (another writer has the file; or, without a lock file beside it, readers
 *         have it and this is a writer, or a writer and this is a reader), QUIRE_EAGAIN (1024
 *         readers already),
 *         QUIRE_EACCES, QUIRE_EMAGIC (not a heap file), QUIRE_EVERSION, QUIRE_EPAGESIZE,
 *         QUIRE_ESUPER / QUIRE_EMETA / QUIRE_EFILESIZE / QUIRE_ECHECKSUM (corrupt pager level),
 *         QUIRE_EHEAP (corrupt heap structures), QUIRE_EIO, QUIRE_ENOSPC, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pheap_open(const char *path, unsigned flags, uint32_t page_size,
                               quire_pheap **out);

/**
 * @brief Closes the heap. The open transaction is rolled back (not committed).
 * @param h the heap or NULL (no-op).
 * @return 0, or QUIRE_EIO (the handle is released anyway).
 */
QUIRE_API int quire_pheap_close(quire_pheap *h);

/* ---------------------------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Allocates size bytes (contents unspecified). Part of the open transaction. [remaps]
 * @param ref receives the reference.
 * @return 0, or QUIRE_EINVAL (size 0, NULL argument), QUIRE_EOVERFLOW (size too large),
 *         QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EFULL, QUIRE_ENOSPC, QUIRE_EIO, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pheap_alloc(quire_pheap *h, size_t size, quire_pref *ref);

/** @brief quire_pheap_alloc() with the contents set to zero. [remaps] */
QUIRE_API int quire_pheap_zalloc(quire_pheap *h, size_t size, quire_pref *ref);

/**
 * @brief Frees an allocation. Takes effect at commit; the block is not reused before. If the
 *        block is the root, the root becomes null; names registered for it are removed (so the
 *        heap never holds a dangling root or name).
 * @return 0, or QUIRE_EBADREF (not a live allocation, or one the heap itself owns: the names
 *         table and name strings, which iteration also lists), QUIRE_EDOUBLEFREE (already
 *         freed in this transaction), QUIRE_ERDONLY, QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pheap_free(quire_pheap *h, quire_pref ref);

/**
 * @brief Resizes an allocation: keeps the reference when the new size fits its block, else
 *        allocates a new block, copies min(old, new) bytes and frees the old one; when the
 *        block was the root or named, the root and names follow it. A null *ref allocates.
 *        [remaps]
 * @param ref in: the allocation; out: its (possibly new) reference. Unchanged on error.
 * @param size new size (> 0).
 * @return as quire_pheap_alloc(), plus QUIRE_EBADREF.
 */
QUIRE_API int quire_pheap_realloc(quire_pheap *h, quire_pref *ref, size_t size);

/**
 * @brief Usable size of an allocation (its slot or page run).
 * @return 0, or QUIRE_EBADREF, QUIRE_EINVAL.
 */
QUIRE_API int quire_pheap_usable_size(quire_pheap *h, quire_pref ref, size_t *size);

/* ---------------------------------------------------------------------------------------------
 * Reading and writing
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief A read-only pointer to a reference's bytes (valid until the next [remaps] call).
 *        Cheap: checks only that the reference lies inside the file (use
 *        quire_pheap_usable_size() to validate one fully).
 * @return the pointer, or NULL for the null reference or an offset outside the file.
 */
QUIRE_API const void *quire_pheap_ptr(const quire_pheap *h, quire_pref ref);

/**
 * @brief Declares that bytes [off, off + len) of an allocation will be written in this
 *        transaction and returns a writable pointer to them (libpmemobj's tx_add_range). The
 *        bytes keep their current value; write the new ones through *p.
 * @return 0, or QUIRE_EBADREF (not a live allocation), QUIRE_ERANGE (the range exceeds the
 *         allocation), QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pheap_write(quire_pheap *h, quire_pref ref, size_t off, size_t len, void **p);

/** @brief quire_pheap_write() then memcpy(p, src, len). */
QUIRE_API int quire_pheap_set(quire_pheap *h, quire_pref ref, size_t off, const void *src,
                              size_t len);

/* ---------------------------------------------------------------------------------------------
 * Root and named objects
 * ------------------------------------------------------------------------------------------- */

/** @brief Reads the root reference (null until set). @return 0 or QUIRE_EINVAL. */
QUIRE_API int quire_pheap_root(const quire_pheap *h, quire_pref *root);

/**
 * @brief Sets the root reference (part of the open transaction).
 * @return 0, or QUIRE_EBADREF (neither null nor a live allocation), QUIRE_ERDONLY,
 *         QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pheap_set_root(quire_pheap *h, quire_pref root);

/**
 * @brief Finds the object registered under name.
 * @return 0, or QUIRE_ENOTFOUND, QUIRE_ENAMETOOLONG, QUIRE_EINVAL.
 */
QUIRE_API int quire_pheap_find(const quire_pheap *h, const char *name, quire_pref *ref);

/**
 * @brief Finds the object registered under name, or allocates size zeroed bytes and registers
 *        them under it (Boost's find_or_construct). [remaps]
 * @param created set to 1 when the object was created, 0 when found (may be NULL).
 * @return 0, or QUIRE_ENAMETOOLONG, QUIRE_EINVAL (empty name, size 0), as quire_pheap_alloc().
 */
QUIRE_API int quire_pheap_named(quire_pheap *h, const char *name, size_t size, quire_pref *ref,
                                int *created);

/**
 * @brief Registers ref under name, replacing any earlier registration (the earlier object is
 *        not freed). A null ref removes the name. [remaps]
 * @return 0, or QUIRE_ENOTFOUND (null ref and no such name), QUIRE_EBADREF,
 *         QUIRE_ENAMETOOLONG, QUIRE_EINVAL, as quire_pheap_alloc().
 */
QUIRE_API int quire_pheap_name_set(quire_pheap *h, const char *name, quire_pref ref);

/**
 * @brief Iterates over named objects in unspecified order.
 * @param cursor set to 0 before the first call.
 * @param name receives a pointer to the name (NUL-terminated, valid until [remaps]).
 * @return 1 when an entry was returned, 0 at the end, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pheap_next_name(const quire_pheap *h, uint64_t *cursor, const char **name,
                                    quire_pref *ref);

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Makes every change since the last commit durable, atomically. Without changes it does
 *        nothing. [remaps]
 * @return 0, or QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO, QUIRE_ENOSPC, QUIRE_ENOMEM (the heap
 *         is unavailable after a failure; the file keeps its previous commit).
 */
QUIRE_API int quire_pheap_commit(quire_pheap *h);

/**
 * @brief Discards every change since the last commit (allocations, frees, root and name
 *        changes, data writes). [remaps]
 * @return 0, or QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO.
 */
QUIRE_API int quire_pheap_abort(quire_pheap *h);

/**
 * @brief Moves a read-only heap's snapshot to the latest commit (see "Readers"); afterwards
 *        every call sees that commit's heap. Cheap when nothing was committed since. [remaps]
 * @return 1 when the snapshot moved to a newer commit, 0 when it was the latest already (and
 *         always for a writable heap, which sees its own latest state), or QUIRE_EINVAL,
 *         QUIRE_EUNAVAIL, QUIRE_ENOMEM, QUIRE_EIO, QUIRE_EMETA / QUIRE_EHEAP (damaged file: the
 *         heap is then unavailable).
 */
QUIRE_API int quire_pheap_refresh(quire_pheap *h);

/**
 * @brief Chooses the durability of later commits: QUIRE_PHEAP_DURABLE (the default) or
 *        QUIRE_PHEAP_NOSYNC (see "Durability modes").
 * @return 0, or QUIRE_EINVAL (NULL heap, unknown mode), QUIRE_ERDONLY, QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pheap_set_durability(quire_pheap *h, int mode);

/**
 * @brief Makes every commit made so far durable (one fdatasync() if one is not; nothing
 *        otherwise). The open transaction is not committed.
 * @return 0, or QUIRE_EINVAL, QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO (the heap becomes
 *         unavailable; the file keeps its last durable commit).
 */
QUIRE_API int quire_pheap_sync(quire_pheap *h);

/* ---------------------------------------------------------------------------------------------
 * Statistics, iteration, checking
 * ------------------------------------------------------------------------------------------- */

/** @brief Fills *st. @return 0 or QUIRE_EINVAL. */
QUIRE_API int quire_pheap_stat(const quire_pheap *h, struct quire_pheap_stat *st);

/**
 * @brief Iterates over live allocations in increasing offset order (blocks freed in the open
 *        transaction are skipped; blocks allocated in it are listed). The heap's own allocations
 *        (the names table and name strings) are listed too.
 * @param cursor set to 0 before the first call; updated by each call.
 * @param ref receives the next allocation; size (may be NULL) its usable size.
 * @return 1 when one was returned, 0 at the end, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pheap_next(const quire_pheap *h, uint64_t *cursor, quire_pref *ref,
                               size_t *size);

/** What quire_pheap_check() found. Set on_problem (or leave NULL) before the call. */
struct quire_pheap_report {
    /** Called once per problem with a one-line English description (may be NULL). */
    void (*on_problem)(void *arg, const char *message);
    void *arg;                       /**< passed to on_problem */
    int pager_rc;                    /**< quire_pager_check()'s result for the file */
    struct quire_pager_report pager; /**< quire_pager_check()'s report (on_problem: the same) */
    int is_heap;                     /**< 1 when the file holds a heap header */
    uint64_t generation;             /**< heap generation */
    uint64_t chunks;                 /**< chunks checked */
    uint64_t objects;                /**< live allocations */
    uint64_t bytes_used;             /**< their usable bytes */
    uint64_t names;                  /**< named objects */
    uint64_t problems;               /**< heap-level problems found (pager-level ones: pager_rc) */
};

/**
 * @brief Verifies a heap file: the pager level (quire_pager_check), then the heap: header,
 *        every chunk header (descriptors well formed, bitmaps agree with their counters, no
 *        page both free and used, no block claimed twice), every regular page owned by exactly
 *        one chunk (no leak), every protected page a chunk header, root and every name naming a
 *        live allocation. On a file a writer has open, each level checks the snapshot of the
 *        writer's latest commit as a reader (the heap level's may be a later commit than the
 *        pager level's), while the writer goes on committing.
 * @param path the file.
 * @param r receives the report (on_problem/arg read first).
 * @return 0 when sound; QUIRE_ECHECKSUM when a problem was found; QUIRE_EMAGIC when the file is
 *         a pager file without a heap (r->is_heap 0, r->pager_rc set); or the error that
 *         prevented opening it.
 */
QUIRE_API int quire_pheap_check(const char *path, struct quire_pheap_report *r);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_PHEAP_H */
