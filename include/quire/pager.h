/*
 * quire/pager.h - a crash-consistent file of fixed-size pages.
 *
 * A pager file is an array of pages of one size (a power of two, 1 KiB to 64 KiB, fixed when the
 * file is created and recorded in it). The pager hands out page ids, keeps track of which pages
 * are in use, and makes every change to that bookkeeping durable atomically: after a power loss
 * or a crash at any instant the file opens in the state of the last completed commit (or, for a
 * commit that was in flight, in the state before or after it, never in between).
 *
 * Concepts
 * --------
 *  - Regular pages: allocated with quire_pager_alloc() and friends, read and written through
 *    views (pointers into the pager's mapping of the file). A write view's bytes reach the file
 *    at the next commit, atomically with everything else the commit holds (see "What a commit
 *    guarantees" below): a page allocated since the last commit is written in place; a page an
 *    earlier commit holds is written to a new place (a shadow page) and copied back in place by
 *    a later commit, once no state that could still be opened or read needs its old bytes.
 *  - Protected pages: copy-on-write pairs of physical pages. A writer
 *    (quire_pager_protected_write) starts from the current contents; committing it makes the
 *    new contents durable and visible atomically; dropping it changes nothing. Every read
 *    verifies the copy's CRC32C and reports QUIRE_ECHECKSUM instead of returning bad bytes.
 *  - Sub-pages: slots of 16 bytes to half a page carved out of pages (quire_pager_subpage_*);
 *    their allocation state is kept in the file like everything else, and their contents are
 *    committed like regular pages' (the page holding them is written in place or shadowed).
 *  - Transactions: by default every modifying call commits on its own (one durable commit per
 *    call; bulk calls make one commit for the whole batch). Between quire_pager_begin() and
 *    quire_pager_commit() modifications accumulate and become durable together, so that a page
 *    can be allocated and its id recorded in a protected page atomically (nothing leaks when a
 *    crash falls between the two). quire_pager_abort() returns to the last commit.
 *    Pages and slots freed in a transaction are not reused before that transaction commits
 *    (and, with QUIRE_PAGER_NOSYNC, before it is durable).
 *  - Internal pages: the two superblock slots, the free-space map, the directories, shadow pages
 *    and commit-record pages are pages of the file too; ids naming them are refused with
 *    QUIRE_ERESERVED and iterators skip them.
 *
 * Durability protocol: one flush per commit
 * -----------------------------------------
 * A commit writes, in one batch: the pages write views were taken of, every changed metadata
 * page (to the copy the last durable commit does not use), the commit record (the CRC32C of
 * every page the commit wrote) and the superblock of the new generation, over the slot that does
 * not hold the last durable commit; then it calls fdatasync() once. Nothing the last durable
 * commit references is overwritten. Open takes the newest superblock slot whose checksum
 * validates and verifies everything that commit references and wrote: every metadata page's
 * checksum, and the checksum of every page the commit wrote. A commit cut short by a power loss
 * (any subset of its writes reached the disk, torn pages included) fails that verification, and
 * open takes the other slot: the previous commit, intact. Metadata scales to files of many
 * terabytes (the free-space map is a tree of pages materialized lazily, so a sparse 1 TiB file
 * costs a few pages). Redundant copies (the two superblock slots, the two copies of every
 * metadata page and protected page) lie in different 4 KiB blocks whatever the page size.
 * When allocation grows the file ahead of its need (by an eighth), the first 8 MiB of the
 * growth are written as zeros, so that later commits writing there overwrite allocated blocks
 * (a sync after a write into a hole also commits the file system's block allocation);
 * quire_pager_grow() and bulk allocations leave the file sparse.
 *
 * What a commit guarantees
 * ------------------------
 * After a crash or a power loss at any instant, the file opens in the state of a completed
 * commit: allocations, frees, protected pages, sub-page slots and the bytes written through
 * views since the previous commit are all there, or none of them. With QUIRE_PAGER_DURABLE
 * (the default) that is the last commit that returned, or the one in flight; with
 * QUIRE_PAGER_NOSYNC it may be an earlier one (durability below).
 *  - Regular pages and sub-page slots: the bytes written through write views are part of the
 *    commit; bytes the caller writes without a write view, or through a write view after the
 *    commit or abort that ended it, are not (undefined, as the Views section says). A page the
 *    commit writes in place is one no earlier state holds, so a torn write there is never
 *    visible: open rejects the commit and the page is free again. quire_pager_check() verifies
 *    the contents of the pages the last commit wrote and of every shadow; earlier contents of
 *    regular pages and sub-page slots carry no checksum, so damage to them after their commit
 *    (a failing disk, another program writing the file) goes unnoticed.
 *  - Protected pages: every read verifies the current copy's checksum (QUIRE_ECHECKSUM).
 *  - quire_pager_flush() and quire_pager_flush_range() write early, and sync, pages allocated in
 *    the open transaction only (nothing else can hold them); the commit still covers them.
 *
 * Durability modes (quire_pager_set_durability)
 * ---------------------------------------------
 *  - QUIRE_PAGER_DURABLE (default): a commit is durable when quire_pager_commit() (or an
 *    autocommitting call) returns: one fdatasync() per commit.
 *  - QUIRE_PAGER_NOSYNC: commits do not flush. The file stays consistent - a power loss leaves
 *    it at the last durable commit or at a later completed one, never in between - but the most
 *    recent commits may be lost. quire_pager_sync(), or the next commit in QUIRE_PAGER_DURABLE
 *    mode, makes every earlier commit durable. Until then nothing the last durable commit
 *    references is overwritten, so pages freed meanwhile are not reused and shadows are not
 *    copied back (the file grows a little more). A process crash (no power loss) loses
 *    nothing: the kernel still writes what the commits wrote. LMDB's MDB_NOSYNC is the same
 *    trade.

 * Views and remapping
 * -------------------
 * Views returned by quire_pager_get(), quire_pager_get_write(), quire_pager_protected_get() and
 * quire_pager_subpage_get*() point into the pager's mapping. They stay valid until the next call
 * marked [remaps] below (such calls may grow the file and move the mapping) or quire_pager_close().
 * A write view stays writable until the next commit or abort (autocommitting calls included);
 * take a new one with quire_pager_get_write() to write after that. Writing through a read view,
 * or through a write view after that point, is undefined (the bytes may be silently dropped).
 *
 * Readers beside the writer (snapshots)
 * -------------------------------------
 * One writer and any number of read-only handles (QUIRE_PAGER_RDONLY), in this process or
 * others, share a file. A read-only handle reads one commit's state - its snapshot - until it
 * moves forward explicitly: quire_pager_open() takes the latest commit, quire_pager_refresh()
 * the latest one at the time of the call (as LMDB's mdb_txn_begin(MDB_RDONLY) / mdb_txn_renew()
 * do). Between two refreshes nothing the snapshot holds changes: its pages' bytes, protected
 * pages, sub-page slots and the allocation state stay as that commit left them, whatever the
 * writer commits meanwhile; a half-applied commit or a torn page is never seen. The writer never
 * overwrites a page a live snapshot can read: pages freed (or shadows replaced) by its commits
 * are reused only when no snapshot that old remains.
 *  - Readers register in a reader table beside the file, "FILE-lock" (created when missing; it
 *    stays there, like LMDB's lock.mdb). A reader process that dies, even by SIGKILL, loses its
 *    slot's lock; the writer or the next reader finds the slot stale and frees it. At most
 *    1024 readers at once (QUIRE_EAGAIN beyond).
 *  - A reader that stays on an old snapshot holds back reuse: every page the writer frees or
 *    rewrites after that snapshot stays allocated (freed pages pending, rewritten pages in shadow
 *    pages) until the reader refreshes or closes, so the file grows by about as many pages as
 *    the writer frees and rewrites meanwhile (it does not shrink afterwards: those pages become
 *    free for later allocations). quire_pager_stat() reports readers,
 *    oldest_snapshot and held_pages (`quire pager info` prints them). A writer that opens while
 *    readers older than the file's last commit are there (their writer closed or died) leaves
 *    the free pages of the file alone, growing it instead, until those readers have moved on;
 *    the pages it grows by are used at once (the file grows by what the writer needs, not more).
 *  - Durability: a reader sees every commit the writer published, durable or not. With
 *    QUIRE_PAGER_NOSYNC, a reader may thus see a commit that a power loss then takes away (the
 *    file reopens at an earlier one); a process crash of the writer loses nothing.
 *  - Where the lock file cannot be created or written (a read-only directory or file system),
 *    read-only opens fall back to a shared lock of the data file: they then exclude a writer
 *    (QUIRE_EBUSY both ways), as before snapshots existed.
 *  - Each snapshot copies the pages that live in shadows at that commit into private memory of
 *    its process (few, unless a stale reader holds many back), and refresh reads the metadata
 *    pages that changed since the last snapshot.
 *
 * Errors and concurrency
 * ----------------------
 * Every function returns 0 or a negative QUIRE_E* code (quire/error.h) unless stated otherwise.
 * A pager handle is not thread-safe: use it from one thread at a time (give each reader thread a
 * handle of its own). A file is opened for writing by one pager at a time (an exclusive flock; a
 * second writer, in this or another process, gets QUIRE_EBUSY); read-only opens share the file
 * with the writer and with each other (above). When a commit fails
 * after it started writing (an I/O error, a failed remap), the pager becomes unavailable: every
 * later call but quire_pager_close() returns QUIRE_EUNAVAIL, and the file keeps its last
 * committed state.
 *
 * Handles: a handle is valid from the create or open that returned it until quire_pager_close().
 * Using it afterwards is an error that quire detects: the call prints "quire: FUNCTION: closed
 * (used after quire_pager_close) pager handle ADDRESS" on stderr and aborts the process, never
 * reading freed memory (each closed handle leaves a 16-byte tombstone behind for this). A
 * writer is valid until its commit or drop, or the pager's close.
 *
 * Files use the host's byte order (little-endian on every supported target). Format version 2
 * (this one; version 1 files get QUIRE_EVERSION).
 */
#ifndef QUIRE_PAGER_H
#define QUIRE_PAGER_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open pager file (opaque). */
typedef struct quire_pager quire_pager;
/** A staged write to one protected page (opaque). */
typedef struct quire_pager_writer quire_pager_writer;

#define QUIRE_PAGER_MIN_PAGE_SIZE     1024u  /**< smallest page size */
#define QUIRE_PAGER_MAX_PAGE_SIZE     65536u /**< largest page size */
#define QUIRE_PAGER_DEFAULT_PAGE_SIZE 4096u  /**< page size used when 0 is passed to create */

/** Flags for quire_pager_open(). */
enum {
    QUIRE_PAGER_RDONLY = 1, /**< open read-only: no modifying call is allowed (QUIRE_ERDONLY) */
};

/** Durability modes, for quire_pager_set_durability() (see "Durability modes" above). */
enum {
    QUIRE_PAGER_DURABLE = 0, /**< every commit is durable when it returns (one fdatasync) */
    QUIRE_PAGER_NOSYNC = 1,  /**< commits do not flush: consistent, recent commits may be lost */
};

/** Counters of a pager, filled by quire_pager_stat(). */
struct quire_pager_stat {
    uint32_t page_size;          /**< bytes per page */
    uint64_t page_count;         /**< pages in the file (all kinds) */
    uint64_t free_pages;         /**< pages an allocation can take without growing the file */
    uint64_t regular_pages;      /**< allocated regular pages */
    uint64_t protected_pages;    /**< live protected pages (each uses two physical pages) */
    uint64_t internal_pages;     /**< superblocks, metadata, protected copies, sub-page pages */
    uint64_t pending_pages;      /**< pages freed in the open transaction, free after commit */
    uint64_t subpage_slots;      /**< allocated sub-page slots */
    uint64_t generation;         /**< generation of the last commit (grows by one per commit) */
    uint64_t durable_generation; /**< generation of the last durable commit (<= generation;
                                      smaller only in QUIRE_PAGER_NOSYNC mode) */
    uint64_t shadow_pages;       /**< pages whose committed bytes wait in a shadow page to be
                                      copied back (internal_pages counts the shadows) */
    uint64_t readers;            /**< read-only handles with a snapshot of the file (in every
                                      process; this one included when it is one) */
    uint64_t oldest_snapshot;    /**< generation of the oldest of their snapshots (generation
                                      when there is none) */
    uint64_t held_pages;         /**< pages the writer cannot reuse yet because an older state
                                      still needs them: freed pages and shadows (for a reader:
                                      as its writer last published) */
};

/* ---------------------------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Creates a new pager file and opens it for writing.
 * @param path file to create; it must not exist.
 * @param page_size bytes per page: a power of two from QUIRE_PAGER_MIN_PAGE_SIZE to
 *        QUIRE_PAGER_MAX_PAGE_SIZE, or 0 for QUIRE_PAGER_DEFAULT_PAGE_SIZE.
 * @param out receives the handle.
 * @return 0, or QUIRE_EINVAL (NULL argument), QUIRE_EPAGESIZE (bad page size), QUIRE_EEXIST
 *         (the file exists), QUIRE_EACCES, QUIRE_ENOENT (no such directory), QUIRE_ENOSPC,
 *         QUIRE_EIO, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_create(const char *path, uint32_t page_size, quire_pager **out);

/**
 * @brief Opens an existing pager file, validating its superblocks and all its metadata.
 *
 * Takes the newest superblock slot whose checksum validates and whose metadata validates;
 * falls back to the other slot otherwise. Opening for writing takes an exclusive lock on the
 * file. A read-only open takes a slot in the reader table and a snapshot of the latest commit
 * (the one a live writer published, else the file's newest valid one): see "Readers".
 * @param path the file.
 * @param flags 0 or QUIRE_PAGER_RDONLY.
 * @param page_size the expected page size, or 0 to accept the file's.
 * @param out receives the handle.
 * @return 0, or QUIRE_EINVAL, QUIRE_ENOENT, QUIRE_EACCES, QUIRE_EBUSY (another pager has the
 *         file open for writing; or, without a lock file, a reader holds it and this is a
 *         writer, or a writer holds it and this is a reader), QUIRE_EAGAIN (1024 readers
 *         already),
 *         QUIRE_EMAGIC (not a pager file, empty file), QUIRE_EVERSION (unsupported format),
 *         QUIRE_ESUPER (no superblock slot validates), QUIRE_EPAGESIZE (page_size differs from
 *         the file's), QUIRE_EMETA (the metadata of both slots is corrupt), QUIRE_EFILESIZE (the
 *         file is shorter than its superblock says: truncated), QUIRE_EIO, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_open(const char *path, unsigned flags, uint32_t page_size,
                               quire_pager **out);

/**
 * @brief Closes the pager. An open transaction is aborted (not committed); outstanding writers
 *        are dropped and their handles become invalid. Unflushed writes through write views that
 *        were not committed are lost.
 * @param p the pager, or NULL (no-op).
 * @return 0, or QUIRE_EIO if closing the file failed (the pager is released anyway).
 */
QUIRE_API int quire_pager_close(quire_pager *p);

/** @brief Bytes per page (never fails). */
QUIRE_API uint32_t quire_pager_page_size(const quire_pager *p);
/** @brief Pages in the file, internal pages included (never fails). */
QUIRE_API uint64_t quire_pager_page_count(const quire_pager *p);
/** @brief Pages an allocation can take without growing the file (never fails). */
QUIRE_API uint64_t quire_pager_free_page_count(const quire_pager *p);

/**
 * @brief The pager's mapping of the whole file, for callers that address pages by arithmetic
 *        (the persistent heap): page id i lies at base + i * page_size, for i < *page_count.
 *        Reading an allocated regular page there is reading its view; writing one is allowed
 *        only after quire_pager_get_write() took a write view of it since the last commit or
 *        abort (other writes are undefined, as through a read view). Invalidated, like views,
 *        by every call marked [remaps].
 * @param base receives the mapping's address.
 * @param page_count receives the number of pages mapped, quire_pager_page_count() (may be
 *        NULL).
 * @return 0, or QUIRE_EINVAL (NULL p or base).
 */
QUIRE_API int quire_pager_mapping(const quire_pager *p, void **base, uint64_t *page_count);

/**
 * @brief Fills *st with the pager's counters.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pager_stat(const quire_pager *p, struct quire_pager_stat *st);

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Starts a transaction: later modifications accumulate until quire_pager_commit().
 * @return 0, or QUIRE_ESTATE (a transaction is already open), QUIRE_ERDONLY, QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_begin(quire_pager *p);

/**
 * @brief Makes every modification since the last commit durable (in QUIRE_PAGER_NOSYNC mode:
 *        committed, durable at the next sync), atomically, and ends the open transaction if
 *        there is one. Also writes every page a write view was taken of since the last commit.
 *        One fdatasync() (none in QUIRE_PAGER_NOSYNC mode). Without pending changes it does
 *        nothing. [remaps]
 * @return 0, or QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_ENOSPC, QUIRE_EFULL, QUIRE_EIO,
 *         QUIRE_ENOMEM. A failure before anything was written (no room to grow the file for new
 *         metadata) aborts the transaction, as quire_pager_abort() would; a failure after
 *         writing started makes the pager unavailable. Either way the file keeps its previous
 *         commit. Modifying calls that commit on their own return the same errors.
 */
QUIRE_API int quire_pager_commit(quire_pager *p);

/**
 * @brief Discards every modification since the last commit (allocations, frees, protected
 *        writes, sub-page changes, writes through write views) and ends the open transaction if
 *        there is one. Writers opened before the abort become stale: committing one returns
 *        QUIRE_ESTATE (drop them). [remaps]
 * @return 0, or QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO or QUIRE_EMETA (re-reading the last
 *         commit failed; the pager is then unavailable), QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_abort(quire_pager *p);

/**
 * @brief Moves a read-only handle's snapshot to the latest commit (see "Readers"): what it
 *        returns afterwards is that commit's state. Cheap when nothing was committed since
 *        (one shared-memory read); else it reads the metadata pages that changed and copies
 *        the commit's shadowed pages. Until the next refresh (or close) the handle's snapshot
 *        holds back the reuse of every page it can read. A writer's handle always sees the
 *        latest state: refresh does nothing. [remaps]
 * @return 1 when the snapshot moved to a newer commit, 0 when it was the latest already, or
 *         QUIRE_EINVAL, QUIRE_EUNAVAIL, QUIRE_ENOMEM, QUIRE_EIO, QUIRE_EMETA (the file is
 *         damaged; the handle is then unavailable).
 */
QUIRE_API int quire_pager_refresh(quire_pager *p);

/**
 * @brief Chooses the durability of later commits: QUIRE_PAGER_DURABLE (the default) or
 *        QUIRE_PAGER_NOSYNC (see "Durability modes"). Commits already made keep theirs: use
 *        quire_pager_sync() to make them durable.
 * @return 0, or QUIRE_EINVAL (NULL pager, unknown mode), QUIRE_ERDONLY, QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_set_durability(quire_pager *p, int mode);

/**
 * @brief Makes every commit made so far durable (one fdatasync() when a commit since the last
 *        one is not; nothing otherwise). An open transaction is not committed.
 * @return 0, or QUIRE_EINVAL, QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO (the pager becomes
 *         unavailable; the file keeps its last durable commit).
 */
QUIRE_API int quire_pager_sync(quire_pager *p);

/* ---------------------------------------------------------------------------------------------
 * Regular pages
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Allocates a regular page (the lowest free one), growing the file when none is free.
 *        Commits unless a transaction is open. The page's contents are unspecified. [remaps]
 * @param id receives the page id.
 * @return 0, or QUIRE_EINVAL, QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EFULL (the file reached the
 *         largest size the format supports), QUIRE_ENOSPC, QUIRE_EIO, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_alloc(quire_pager *p, uint64_t *id);

/**
 * @brief Like quire_pager_alloc(), but takes the first free page at or after `hint` (wrapping
 *        to the start of the file, then growing). [remaps]
 * @return as quire_pager_alloc().
 */
QUIRE_API int quire_pager_alloc_near(quire_pager *p, uint64_t hint, uint64_t *id);

/**
 * @brief Allocates n regular pages in one commit (all or nothing). [remaps]
 * @param ids receives n page ids, in increasing order.
 * @return as quire_pager_alloc(); on error no page is allocated.
 */
QUIRE_API int quire_pager_alloc_bulk(quire_pager *p, size_t n, uint64_t *ids);

/**
 * @brief Allocates n contiguous regular pages, first..first+n-1: the lowest run of n free pages.
 *        When the file holds no such run it grows, by the steps quire_pager_alloc() grows it (an
 *        eighth of the file, at least 32 pages) until one exists. A run lies inside one group of
 *        the free-space map (4 * page_size pages, the first two of which are the map's own), so
 *        n is at most 4 * page_size - 2. Commits unless a transaction is open. The pages'
 *        contents are unspecified. [remaps]
 * @param n pages wanted (at least 1).
 * @param first receives the id of the run's first page.
 * @return 0, or QUIRE_EINVAL (n is 0, NULL argument), QUIRE_EOVERFLOW (n above
 *         4 * page_size - 2), as quire_pager_alloc(); on error no page is allocated.
 */
QUIRE_API int quire_pager_alloc_run(quire_pager *p, uint64_t n, uint64_t *first);

/**
 * @brief Frees a regular page. Commits unless a transaction is open. The page is not reused
 *        before the freeing transaction commits. [remaps]
 * @return 0, or QUIRE_EBOUNDS (id past the end of the file), QUIRE_ERESERVED (an internal page:
 *         superblock, metadata, protected copy, sub-page page), QUIRE_EDOUBLEFREE (the page is
 *         free, or already freed in this transaction), QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO.
 */
QUIRE_API int quire_pager_free(quire_pager *p, uint64_t id);

/**
 * @brief Frees n regular pages in one commit. Every id is validated first: if any one is
 *        invalid (or appears twice), nothing changes. [remaps]
 * @return as quire_pager_free(); the error names the first bad id's problem.
 */
QUIRE_API int quire_pager_free_bulk(quire_pager *p, size_t n, const uint64_t *ids);

/**
 * @brief Grows the file to at least page_count pages (rounded up to a multiple of 16); the new
 *        pages are free. Commits unless a transaction is open. Never shrinks. [remaps]
 * @return 0, or QUIRE_EFULL (beyond the format's limit), QUIRE_ENOSPC, QUIRE_EIO, QUIRE_ERDONLY,
 *         QUIRE_EUNAVAIL (the file grew but remapping it failed).
 */
QUIRE_API int quire_pager_grow(quire_pager *p, uint64_t page_count);

/**
 * @brief A read view of an allocated regular page.
 * @param data receives a pointer to page_size bytes.
 * @return 0, or QUIRE_EBOUNDS, QUIRE_ERESERVED, QUIRE_ENOTALLOC (the page is free),
 *         QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_get(quire_pager *p, uint64_t id, const void **data);

/**
 * @brief A write view of an allocated regular page. The page will be written to the file at
 *        the next commit (or flush).
 * @return as quire_pager_get(), plus QUIRE_ERDONLY, QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_get_write(quire_pager *p, uint64_t id, void **data);

/**
 * @brief Writes the current contents of an allocated regular page to the file and syncs it.
 *        (Contents only: allocation changes still need a commit.)
 * @return as quire_pager_get(), plus QUIRE_ERDONLY, QUIRE_EIO (the pager becomes unavailable).
 */
QUIRE_API int quire_pager_flush(quire_pager *p, uint64_t id);

/**
 * @brief quire_pager_flush() for the n pages first..first+n-1, with one sync. Free and internal
 *        pages of the range are skipped.
 * @return 0, or QUIRE_EBOUNDS (range past the end), QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO.
 */
QUIRE_API int quire_pager_flush_range(quire_pager *p, uint64_t first, uint64_t n);

/**
 * @brief Iterates over allocated regular pages in increasing id order.
 * @param cursor set to 0 before the first call; updated by each call.
 * @param id receives the next page id.
 * @return 1 when *id was set, 0 at the end, or QUIRE_EINVAL / QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_next_page(quire_pager *p, uint64_t *cursor, uint64_t *id);

/* ---------------------------------------------------------------------------------------------
 * Protected pages
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Allocates a protected page (contents: zeros). Protected ids are small integers (0, 1,
 *        ...), independent of page ids, stable across reopen. Commits unless a transaction is
 *        open. [remaps]
 * @return 0, or as quire_pager_alloc().
 */
QUIRE_API int quire_pager_protected_alloc(quire_pager *p, uint64_t *pid);

/** @brief Allocates n protected pages in one commit (all or nothing). [remaps] */
QUIRE_API int quire_pager_protected_alloc_bulk(quire_pager *p, size_t n, uint64_t *pids);

/**
 * @brief Frees a protected page. Commits unless a transaction is open. [remaps]
 * @return 0, or QUIRE_EBOUNDS (no such protected id), QUIRE_EDOUBLEFREE (not allocated),
 *         QUIRE_EBUSY (a writer is open on it), QUIRE_ERDONLY, QUIRE_EUNAVAIL, QUIRE_EIO.
 */
QUIRE_API int quire_pager_protected_free(quire_pager *p, uint64_t pid);

/** @brief Frees n protected pages in one commit; validates every id first (one bad id: nothing
 *         changes). [remaps] */
QUIRE_API int quire_pager_protected_free_bulk(quire_pager *p, size_t n, const uint64_t *pids);

/**
 * @brief A read view of a protected page's current contents, after verifying its checksum.
 * @return 0, or QUIRE_EBOUNDS, QUIRE_ENOTALLOC, QUIRE_ECHECKSUM (the copy is corrupt: no bytes
 *         are returned), QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_protected_get(quire_pager *p, uint64_t pid, const void **data);

/**
 * @brief Opens a writer on a protected page: a private page-sized buffer holding the current
 *        contents. Change it through quire_pager_writer_data(), then commit or drop it. At most
 *        one writer per protected page at a time.
 * @return 0, or QUIRE_EBOUNDS, QUIRE_ENOTALLOC, QUIRE_EBUSY (a writer is already open on it),
 *         QUIRE_ECHECKSUM (the current copy is corrupt), QUIRE_ERDONLY, QUIRE_EUNAVAIL,
 *         QUIRE_ENOMEM.
 */
QUIRE_API int quire_pager_protected_write(quire_pager *p, uint64_t pid, quire_pager_writer **w);

/** @brief The writer's page_size-byte buffer (valid until commit or drop). */
QUIRE_API void *quire_pager_writer_data(quire_pager_writer *w);

/**
 * @brief Stages the writer's buffer in the protected page's inactive copy and makes it current;
 *        durable at once unless a transaction is open (then at its commit). Releases the writer
 *        whatever the result. [remaps]
 * @return 0, or QUIRE_EUNAVAIL, QUIRE_EIO, QUIRE_ENOSPC (on error nothing visible changed unless
 *         the pager became unavailable).
 */
QUIRE_API int quire_pager_writer_commit(quire_pager_writer *w);

/** @brief Releases a writer without changing anything. NULL is a no-op. */
QUIRE_API void quire_pager_writer_drop(quire_pager_writer *w);

/**
 * @brief Iterates over live protected pages in increasing id order (as quire_pager_next_page).
 */
QUIRE_API int quire_pager_next_protected(quire_pager *p, uint64_t *cursor, uint64_t *pid);

/* ---------------------------------------------------------------------------------------------
 * Sub-page allocator
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Allocates a slot of at least `size` bytes inside a page. Slot sizes are powers of two
 *        from max(16, page_size / 256) to page_size / 2; slots of one size share pages. The
 *        handle is never 0, stays valid across reopen, and the slot's contents are unspecified.
 *        Commits unless a transaction is open. [remaps]
 * @param handle receives the slot's handle.
 * @return 0, or QUIRE_EINVAL (size 0 or above page_size / 2), as quire_pager_alloc().
 */
QUIRE_API int quire_pager_subpage_alloc(quire_pager *p, size_t size, uint64_t *handle);

/**
 * @brief Frees a slot (reused only after the freeing transaction commits); a page whose slots
 *        are all free returns to the free pages. Commits unless a transaction is open. [remaps]
 * @return 0, or QUIRE_EBOUNDS (the handle names no slot), QUIRE_EDOUBLEFREE, QUIRE_ERDONLY,
 *         QUIRE_EUNAVAIL, QUIRE_EIO.
 */
QUIRE_API int quire_pager_subpage_free(quire_pager *p, uint64_t handle);

/**
 * @brief A read view of a slot. *size (if not NULL) receives the slot size.
 * @return 0, or QUIRE_EBOUNDS, QUIRE_ENOTALLOC, QUIRE_EUNAVAIL.
 */
QUIRE_API int quire_pager_subpage_get(quire_pager *p, uint64_t handle, const void **data,
                                      size_t *size);

/** @brief A write view of a slot (its page is written at the next commit or flush). */
QUIRE_API int quire_pager_subpage_get_write(quire_pager *p, uint64_t handle, void **data,
                                            size_t *size);

/** @brief Iterates over allocated sub-page slots (as quire_pager_next_page). */
QUIRE_API int quire_pager_next_subpage(quire_pager *p, uint64_t *cursor, uint64_t *handle);

/* ---------------------------------------------------------------------------------------------
 * Checking
 * ------------------------------------------------------------------------------------------- */

/** What quire_pager_check() found. Set on_problem (or leave NULL) before the call. */
struct quire_pager_report {
    /** Called once per problem with a one-line English description (may be NULL). */
    void (*on_problem)(void *arg, const char *message);
    void *arg;                    /**< passed to on_problem */
    uint32_t page_size;           /**< the file's page size (0 if no superblock validates) */
    int slot_valid[2];            /**< 1 when superblock slot 0 / 1 validates */
    int slot_error[2];            /**< why a slot does not validate (a QUIRE_E* code) or 0 */
    uint64_t slot_generation[2];  /**< generation recorded in each valid slot */
    int chosen_slot;              /**< the slot open used (-1 if none) */
    int rolled_back;              /**< 1 when the newer slot's checksum validates but what it
                                       references does not (a commit cut short by a crash, or
                                       damage): open fell back to the older slot, whose
                                       slot_error then says why (QUIRE_EMETA) */
    uint64_t warnings;            /**< invalid slots, a rolled-back commit included (0: none) */
    struct quire_pager_stat stat; /**< the counters of the chosen state */
    uint64_t file_size;           /**< bytes in the file */
    uint64_t problems;            /**< problems found (0 when the file is sound, and when it
                                       could not be opened: the return value says why) */
    int live;                     /**< 1 when a writer had the file open: the snapshot of its
                                       latest commit was checked, as a reader reads it */
};

/**
 * @brief Verifies a pager file: both superblock slots, every
 *        metadata checksum, the commit record and every page the last commit wrote, every
 *        shadow, every protected page's current copy, and the consistency of the free-space map
 *        with every structure that owns pages (no page owned twice, no owned page marked free,
 *        no internal page left unowned, counters equal to the map). Opens the file read-only.
 *        An invalid superblock slot, or a newer slot that had to be rolled back, is a warning
 *        (r->warnings, r->rolled_back), not a problem: a crash during a commit leaves one, and
 *        so does damage to the slot. On a file a writer has open (r->live), the check takes a
 *        reader's snapshot of the writer's latest commit and verifies that state while the
 *        writer goes on committing (see "Readers"): everything above but the checksums of the
 *        content pages the last commits wrote in place, which the writer published as written.
 *        Where no lock file can be created beside the file, a writer makes it QUIRE_EBUSY.
 * @param path the file.
 * @param r receives the report; its on_problem/arg are read first.
 * @return 0 when the file is sound (warnings or not); QUIRE_ECHECKSUM when a problem was found
 *         (see r->problems); or the error that prevented opening the file (QUIRE_ENOENT,
 *         QUIRE_EACCES, QUIRE_EBUSY, QUIRE_EMAGIC, QUIRE_EVERSION, QUIRE_ESUPER, QUIRE_EMETA,
 *         QUIRE_EFILESIZE, ...).
 */
QUIRE_API int quire_pager_check(const char *path, struct quire_pager_report *r);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_PAGER_H */
