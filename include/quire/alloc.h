/*
 * quire/alloc.h - quire's malloc engine.
 *
 * Overview
 * --------
 * A general-purpose, thread-caching, hardened memory allocator in the style of mimalloc:
 *
 *  - Small and medium blocks (up to QUIRE_ALLOC_LARGE_MIN - 1 bytes, rounded to one of four size
 *    classes per power of two, eight between 1 and 8 KiB) live in slabs: runs of 64 KiB pages
 * holding slots of one class, carved from 4 MiB segments aligned to their size. Metadata lives at
 * the start of the segment, away from user data, and free() finds it by masking the pointer.
 *  - Each thread owns a heap; the fast paths of malloc and free touch only that thread's memory
 *    (no locks, no atomic read-modify-write). Blocks freed by another thread go to the owning slab
 *    with one compare-and-swap and are collected by the owner.
 *  - Large blocks (QUIRE_ALLOC_LARGE_MIN bytes and up) are their own page-aligned mappings;
 *    realloc grows or shrinks them in place or with mremap; it copies only when mremap refuses
 *    (the program split the mapping with mprotect, or the address space is exhausted) or when
 *    a mostly resident block moves into a cached mapping whose pages are already there.
 *  - Empty slabs are reused first and purged (their pages returned to the system) after a short
 *    delay. A thread's heap is abandoned at thread exit and its segments reclaimed by others.
 *  - Every free is validated in O(1): a pointer that quire never returned, an interior pointer
 *    and a double free are reported on stderr with the address, then the process aborts.
 *
 * Hardening, always on (a few instructions per malloc/free pair):
 *  - Free-list links are never plain pointers: each is stored xored with a per-process random
 *    key and the block's own address, and checked when malloc follows it (it must lead to a
 *    slot of the same slab). A link overwritten after a free - a use-after-free write, an
 *    overflow, an attempt to make malloc return a chosen address - is reported as
 *    "quire: heap corruption: free list of the N B slab at 0x... overwritten" and the process
 *    aborts; malloc never returns an address outside the slots it handed out. The first word of
 *    a block is zero when malloc returns it (the encoded link is not shown to the program).
 *  - A segment's metadata sits between two guard pages, so a linear overflow or underflow from
 *    the memory around it faults before it reaches the allocator's structures.
 *  - Sized frees are checked against the block: free_sized and free_aligned_sized (C23) and the
 *    sized operator delete must name a size the block could have been allocated with (its size
 *    class; for a large block, exactly the size asked for), else "size does not match the
 *    block" is reported.
 *  - Large blocks record how they were allocated: delete of a new[] block, delete[] of a new
 *    block, delete of a malloc block and free of a new block are reported. Small and medium
 *    blocks carry no such record in the default mode, so those mismatches go unnoticed for them
 *    unless they change the pointer (delete of a new[] array of a type with a destructor frees
 *    an address 8 bytes into the block: reported as misaligned) or the size (a sized delete with
 *    the element type's size: reported); QUIRE_SECURE=1 detects all of them.
 *
 * QUIRE_SECURE=1, the hardened mode, chosen at start-up in the same library:
 *  - every block carries, in the last 8 bytes of its slot, a keyed record of its state, how it
 *    was allocated and its exact size; canary bytes (never zero) follow the block: an overflow
 *    is reported when the block is freed or reallocated, an underflow when the block after it
 *    is, a write just before a slab's first block faults on a guard page;
 *  - quire_malloc_usable_size() is the size asked for (the rest of the slot is canary);
 *  - malloc(0) returns a unique address in inaccessible memory (reading or writing it faults);
 *  - a freed block is zeroed at once and checked when its slot is handed out again (a write
 *    after free is reported then); a block also stays out of reach for a while (a per-thread
 *    quarantine of a random array and a FIFO, up to 288 blocks and 256 KiB): a second free is
 *    reported as a double free, and a dangling pointer does not reach the next object at once;
 *  - fresh slots are handed out in random order; a guard page precedes every slab; large blocks
 *    have a guard page on either side and their pages become inaccessible when freed, until 64
 *    later large frees have passed;
 *  - every malloc and free takes the slow path: expect allocation-heavy programs to run 2 to 6
 *    times slower, and programs that mostly compute about as fast (make bench measures it).
 * Guard pages use MADV_GUARD_INSTALL where the kernel has it (Linux 6.13: no extra mappings,
 * vm.max_map_count untouched), mprotect(PROT_NONE) otherwise.
 *
 * The quire_* functions below are the engine itself; build/libquire.so (and libquire.a) also
 * export the standard names (malloc, free, ..., operator new/delete) as forwarders to them, so
 * `LD_PRELOAD=libquire.so program` or linking with -lquire replaces the system allocator.
 *
 * Semantics follow POSIX and glibc (errors through NULL and errno, not QUIRE_E* codes):
 *  - quire_malloc(0) returns a unique, freeable, non-NULL pointer.
 *  - Impossible sizes (beyond PTRDIFF_MAX, or a failed mapping) return NULL with errno ENOMEM;
 *    calloc and reallocarray overflow of n * size likewise.
 *  - quire_realloc(p, 0) with p != NULL frees p and returns NULL (glibc's behaviour);
 *    quire_realloc(NULL, n) is quire_malloc(n). On failure the old block is left untouched.
 *  - errno is never modified by a call that succeeds.
 *  - Every returned block is aligned to at least 16 bytes.
 *
 * Environment (read once, without allocating):
 *   QUIRE_STATS=1            print the statistics summary on stderr at exit
 *   QUIRE_VERBOSE=1          report unusual events (mapping failures, purges, reclaims)
 *   QUIRE_PURGE_DELAY_MS=n   delay before unused pages are returned to the system (default 100;
 *                            0 purges at once, -1 never purges)
 *   QUIRE_PURGE=free         purge with MADV_FREE instead of MADV_DONTNEED
 *   QUIRE_SECURE=1           the hardened mode described above
 *   QUIRE_GUARDS=mprotect    make guard pages with mprotect even where MADV_GUARD_INSTALL works
 *                            (for testing the fallback)
 *   QUIRE_STATS_FILE=path    write the statistics there instead of stderr (%p: the pid, %n: the
 *                            program's name); QUIRE_STATS=json writes them as JSON
 *   QUIRE_LEAKS=1            record every block with its call stack; at exit, list the blocks
 *                            still live by call stack, largest first
 *   QUIRE_PROF=1             sample about one allocation per QUIRE_PROF_INTERVAL bytes (default
 *                            512K) with its call stack; write a heap profile (pprof's heap
 *                            format, read by google-pprof) at exit to QUIRE_PROF_FILE (default
 *                            quire.%p.heap), on signal number QUIRE_PROF_SIGNAL, or on
 *                            quire_alloc_prof_dump()
 *   QUIRE_OPTIONS=n=v,...    every option in one string by its lower-case name (stats,
 *                            stats_file, verbose, purge_delay_ms, purge, secure, guards, leaks,
 *                            prof, prof_interval, prof_file, prof_signal); booleans 1/0, yes/no,
 *                            true/false, on/off; sizes with K/M/G. The single variables override
 *                            it. Unknown options, bad values and misspelt QUIRE_ variables are
 *                            reported on stderr at start-up.
 *
 * Thread safety: every function may be called from any thread at any time, including before
 * main, from signal-free atexit handlers and after fork in the child.
 */
#ifndef QUIRE_ALLOC_H
#define QUIRE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Blocks of this many bytes and more are large blocks: their own mapping. */
#define QUIRE_ALLOC_LARGE_MIN (256u * 1024u + 1u)

/** Number of size classes reported in struct quire_alloc_stats. */
#define QUIRE_ALLOC_NCLASSES 64

/* ---------------------------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Allocates `size` bytes, aligned to at least 16 bytes.
 * @param size bytes wanted; 0 gives a unique minimal block.
 * @return the block, or NULL with errno ENOMEM when size is impossible or memory is exhausted.
 */
QUIRE_API void *quire_malloc(size_t size) QUIRE_ATTR_MALLOC
    QUIRE_ATTR_ALLOC_SIZE(1) QUIRE_ATTR_NODISCARD;

/**
 * @brief Frees a block returned by any quire allocation function. NULL is ignored.
 *
 * The pointer is validated first: a pointer quire never returned (including an interior
 * pointer into a block) or a block already freed is reported on stderr with its address and the
 * process aborts (SIGABRT). Heap structures are never corrupted by such a call.
 * @param p the block or NULL.
 */
QUIRE_API void quire_free(void *p);

/**
 * @brief Allocates an array of n elements of `size` bytes, zero-filled.
 * @return the block, or NULL with errno ENOMEM when n * size overflows or memory is exhausted.
 */
QUIRE_API void *quire_calloc(size_t n, size_t size) QUIRE_ATTR_MALLOC
    QUIRE_ATTR_ALLOC_SIZE2(1, 2) QUIRE_ATTR_NODISCARD;

/**
 * @brief Resizes a block, keeping its contents up to the smaller size.
 *
 * quire_realloc(NULL, size) is quire_malloc(size); quire_realloc(p, 0) frees p and returns NULL.
 * Large blocks grow and shrink in place or by remapping their pages (no copy). p is validated
 * like quire_free().
 * @param p the block or NULL.
 * @param size the new size.
 * @return the (possibly moved) block, or NULL with errno ENOMEM (p is then unchanged).
 */
QUIRE_API void *quire_realloc(void *p, size_t size) QUIRE_ATTR_ALLOC_SIZE(2) QUIRE_ATTR_NODISCARD;

/**
 * @brief quire_realloc(p, n * size) with overflow checking (OpenBSD/glibc reallocarray).
 * @return as quire_realloc; NULL with errno ENOMEM on overflow (p unchanged).
 */
QUIRE_API void *quire_reallocarray(void *p, size_t n, size_t size)
    QUIRE_ATTR_ALLOC_SIZE2(2, 3) QUIRE_ATTR_NODISCARD;

/**
 * @brief Allocates `size` bytes aligned to `align` (POSIX posix_memalign).
 * @param out receives the block (untouched on failure).
 * @param align a power of two, multiple of sizeof(void *).
 * @param size bytes wanted (0 allowed).
 * @return 0, EINVAL for a bad alignment, or ENOMEM. errno is not modified.
 */
QUIRE_API int quire_posix_memalign(void **out, size_t align, size_t size) QUIRE_ATTR_NODISCARD;

/**
 * @brief C11 aligned_alloc: `size` bytes aligned to `align`.
 * @param align a power of two (any size is accepted, as glibc does).
 * @return the block, NULL with errno EINVAL for a bad alignment, NULL with errno ENOMEM.
 */
QUIRE_API void *quire_aligned_alloc(size_t align, size_t size) QUIRE_ATTR_MALLOC
    QUIRE_ATTR_ALLOC_SIZE(2) QUIRE_ATTR_ALLOC_ALIGN(1) QUIRE_ATTR_NODISCARD;

/**
 * @brief memalign, with glibc's semantics: an alignment below 16 (0 included) gives 16, one that
 *        is not a power of two is rounded up to the next power of two.
 * @return the block, NULL with errno EINVAL when align > SIZE_MAX / 2 + 1, or ENOMEM.
 */
QUIRE_API void *quire_memalign(size_t align, size_t size) QUIRE_ATTR_MALLOC QUIRE_ATTR_ALLOC_SIZE(2)
    QUIRE_ATTR_ALLOC_ALIGN(1) QUIRE_ATTR_NODISCARD;

/** @brief valloc: `size` bytes aligned to the page size. NULL with errno ENOMEM on failure. */
QUIRE_API void *quire_valloc(size_t size) QUIRE_ATTR_MALLOC
    QUIRE_ATTR_ALLOC_SIZE(1) QUIRE_ATTR_NODISCARD;

/**
 * @brief pvalloc: size rounded up to a multiple of the page size (one page for 0), page-aligned.
 * @return the block, or NULL with errno ENOMEM.
 */
QUIRE_API void *quire_pvalloc(size_t size) QUIRE_ATTR_MALLOC QUIRE_ATTR_NODISCARD;

/**
 * @brief The number of usable bytes in a block (at least the size asked for; exactly that size
 *        under QUIRE_SECURE=1, whose canary follows it).
 * @param p a live block, or NULL (gives 0). Validated like quire_free (invalid -> abort).
 */
QUIRE_API size_t quire_malloc_usable_size(const void *p);

/**
 * @brief C23 free_sized: frees p, which was allocated with `size` bytes.
 *
 * The size is checked against the block: it must be one the block could have been allocated
 * with (at most its usable size and, unless the slot is 128 bytes or less, at least half of it,
 * as realloc keeps a block in place down to half its slot; exactly the size asked for with a
 * large block or under QUIRE_SECURE=1). Another size is reported as an invalid free (abort).
 */
QUIRE_API void quire_free_sized(void *p, size_t size);

/**
 * @brief C23 free_aligned_sized: frees p, allocated with alignment `align` and `size` bytes.
 * A pointer not aligned to `align`, or a size aligned_alloc(align, size) would not have given
 * this block, is reported as an invalid free (abort).
 */
QUIRE_API void quire_free_aligned_sized(void *p, size_t align, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Maintenance and statistics
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Returns unused memory to the system now: collects the calling thread's deferred frees,
 *        frees empty slabs and cached segments and large blocks, purges every unused page.
 * @param pad ignored (glibc keeps `pad` bytes at the top of its heap; quire has no such top).
 * @return 1 if some memory was returned to the system, 0 otherwise.
 */
QUIRE_API int quire_malloc_trim(size_t pad);

/**
 * @brief glibc's mallopt: M_TRIM_THRESHOLD (-1) with a negative value keeps freed memory
 *        (as purge_delay_ms=-1; any other value restores the default delay); M_MMAP_THRESHOLD
 *        (-3, up to 32 MiB), M_ARENA_MAX (-8) and M_ARENA_TEST (-7) (positive), M_MXFAST (1),
 *        M_TOP_PAD (-2), M_MMAP_MAX (-4) and M_CHECK_ACTION (-5) are accepted without effect
 *        (quire's heaps are per thread, blocks above 256 KiB are always their own mappings).
 * @return 1 when the parameter and value are accepted, 0 otherwise (M_PERTURB, unknown ones).
 */
QUIRE_API int quire_mallopt(int param, int value);

/**
 * @brief Prints the statistics summary (the QUIRE_STATS=1 report) on stderr. Never allocates.
 */
QUIRE_API void quire_malloc_stats(void);

/**
 * Statistics of the whole process (all threads). Counters of other running threads are read
 * without stopping them, so the figures are a consistent-enough snapshot, not an atomic one.
 */
struct quire_alloc_stats {
    uint64_t allocs;            /**< allocations made since start (all sizes) */
    uint64_t frees;             /**< blocks freed since start */
    uint64_t bytes_allocated;   /**< bytes handed out since start (slot sizes, large: page runs) */
    uint64_t live_blocks;       /**< blocks currently allocated */
    uint64_t live_bytes;        /**< bytes currently allocated (slot sizes and large page runs) */
    uint64_t mapped_bytes;      /**< bytes currently mapped from the system (segments, large) */
    uint64_t peak_mapped_bytes; /**< largest mapped_bytes since start */
    uint64_t resident_bytes;    /**< process resident set (/proc/self/statm) */
    uint64_t peak_resident_bytes; /**< largest resident set seen by quire (purge, stats, exit) */
    uint64_t segments;            /**< segments currently mapped (4 MiB each) */
    uint64_t large_blocks;        /**< large blocks currently mapped */
    uint64_t mappings;            /**< mmap calls made since start (segments and large blocks) */
    uint64_t unmappings;          /**< munmap calls made since start */
    uint64_t purges;              /**< madvise purge calls made since start */
    uint64_t purged_bytes;        /**< bytes returned to the system by purges since start */
    uint64_t remaps;              /**< mremap calls (large realloc) since start */
    uint64_t threads;             /**< thread heaps created since start */
    uint64_t abandoned;           /**< segments abandoned by exiting threads since start */
    uint64_t reclaimed;           /**< abandoned segments reclaimed by other threads since start */
    unsigned nclasses;            /**< number of valid entries in the per-class arrays */
    uint32_t class_size[QUIRE_ALLOC_NCLASSES];   /**< slot size of each class, bytes */
    uint64_t class_allocs[QUIRE_ALLOC_NCLASSES]; /**< allocations served by each class */
    uint64_t class_live[QUIRE_ALLOC_NCLASSES];   /**< live blocks of each class */
    uint64_t large_allocs;                       /**< large-block allocations since start */
};

/**
 * @brief Fills `out` with the current statistics. Never allocates.
 * @param out the structure to fill.
 * @return 0, or QUIRE_EINVAL when out is NULL.
 */
QUIRE_API int quire_alloc_stats_get(struct quire_alloc_stats *out);

/** The figures of one running thread's heap. Read without stopping the thread. */
struct quire_alloc_thread_stats {
    uint64_t tid;         /**< the thread's kernel id (gettid) */
    uint64_t allocs;      /**< small and medium allocations the thread made */
    uint64_t live_blocks; /**< blocks live in the thread's slabs (freed by anyone or not) */
    uint64_t live_bytes;  /**< their slot bytes */
};

/**
 * @brief Fills out[0 .. min(cap, n)) with the figures of the n running threads that have a
 *        heap (a thread gets one at its first allocation), in no particular order.
 * @param out   array of cap entries (may be NULL when cap is 0)
 * @param cap   entries out can hold
 * @param count receives n, the number of running threads with a heap
 * @return 0; QUIRE_EINVAL (count NULL, or out NULL with cap > 0); QUIRE_ERANGE when n > cap
 *         (the first cap entries are filled, *count says how many there are).
 */
QUIRE_API int quire_alloc_thread_stats_get(struct quire_alloc_thread_stats *out, size_t cap,
                                           size_t *count);

/**
 * @brief Writes the heap profile now (prof=1 or leaks=1): pprof's legacy heap format (read by
 *        google-pprof / pprof), the sampled blocks still live and those allocated since start,
 *        per call stack, then the process's mappings. Never allocates.
 * @param path the file to write (%p becomes the pid), or NULL for the prof_file option.
 * @return 0; QUIRE_ESTATE (neither prof nor leaks is on), or the error of creating the file.
 */
QUIRE_API int quire_alloc_prof_dump(const char *path);

/* ---------------------------------------------------------------------------------------------
 * Options at run time
 * ------------------------------------------------------------------------------------------- */

/**
 * @brief Reads an option's current value, as the environment would spell it.
 * @param name  an option of QUIRE_OPTIONS (see Environment above): "stats", "purge_delay_ms"...
 * @param buf   receives the value, NUL-terminated ("text", "100", "0", a path, "" for none)
 * @param cap   size of buf
 * @return 0; QUIRE_EINVAL (unknown name, buf NULL or cap 0); QUIRE_ERANGE (buf too small).
 */
QUIRE_API int quire_alloc_option_get(const char *name, char *buf, size_t cap);

/**
 * @brief Changes an option now, with the value syntax of QUIRE_OPTIONS. The run-time options
 *        are stats, stats_file, verbose, purge_delay_ms, purge, prof_interval and prof_file;
 *        the others choose how the engine starts and are fixed from then on. Another thread
 *        may see the change a little later; call it from one thread at a time.
 * @return 0; QUIRE_EINVAL (unknown name, NULL or bad value); QUIRE_ESTATE (the option cannot
 *         change after start-up: secure, guards, leaks, prof).
 */
QUIRE_API int quire_alloc_option_set(const char *name, const char *value);

/**
 * @brief Whether p is a live block that quire returned (exactly its start, not freed since).
 *
 * Never aborts and never dereferences memory that quire does not own: any pointer value may be
 * asked about. Meant for diagnostics and tests (it takes a lock for large blocks).
 * @return 1 if p is a live quire block, 0 otherwise (NULL gives 0).
 */
QUIRE_API int quire_owns(const void *p);

/** quire_alloc_exec() flag: set QUIRE_STATS=1 (the statistics summary on stderr at exit). */
#define QUIRE_EXEC_STATS 1u
/** quire_alloc_exec() flag: set QUIRE_VERBOSE=1 (reports of unusual allocator events). */
#define QUIRE_EXEC_VERBOSE 2u
/** quire_alloc_exec() flag: set QUIRE_LEAKS=1 (the blocks still live at exit, by call stack). */
#define QUIRE_EXEC_LEAKS 4u
/** quire_alloc_exec() flag: set QUIRE_PROF=1 (a sampled heap profile, quire.PID.heap). */
#define QUIRE_EXEC_PROF 8u

/**
 * @brief Finds the libquire.so that belongs to the running executable: DIR/libquire.so, then
 *        DIR/../lib/libquire.so (as `make install` lays them out), DIR being the executable's
 *        directory.
 * @param buf receives the path, NUL-terminated.
 * @param cap size of buf.
 * @return 0; QUIRE_EINVAL (buf NULL or cap 0), QUIRE_ENOENT (neither exists or is readable),
 *         QUIRE_ERANGE (the path does not fit in cap bytes).
 */
QUIRE_API int quire_alloc_library_path(char *buf, size_t cap);

/**
 * @brief Replaces the calling process with a program running on quire's malloc - the engine of
 *        `quire run`.
 *
 * Puts `lib` first in LD_PRELOAD (keeping what was there after it), sets the variables the flags
 * ask for, and executes argv[0] (searched in PATH, as execvp does) with argv. The process is
 * replaced, not forked: the program's exit status and the signals it receives are its own.
 * Not async-signal-safe and not for use from inside an allocator (setenv allocates).
 * @param lib   path of libquire.so, or NULL for quire_alloc_library_path()'s.
 * @param argv  the program and its arguments, NULL-terminated.
 * @param flags QUIRE_EXEC_STATS, QUIRE_EXEC_VERBOSE, QUIRE_EXEC_LEAKS, QUIRE_EXEC_PROF (or'd),
 *              or 0.
 * @return Does not return on success. On failure the environment is left as it was and the
 *         error is returned: QUIRE_EINVAL (argv NULL or empty, unknown flag), QUIRE_ENOENT (no
 *         libquire.so found, or no such program), QUIRE_EACCES (the program or the library may
 *         not be read or executed), QUIRE_ERANGE (lib NULL and the path found does not fit
 *         in 4096 bytes), QUIRE_ENOMEM (copying the variables it changes, or setenv), QUIRE_EOS
 *         (another exec failure, e.g. not an executable format). Variables of any length are
 *         kept: the previous values are copied to the heap, not to fixed buffers.
 */
QUIRE_API int quire_alloc_exec(const char *lib, char *const argv[], unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_ALLOC_H */
