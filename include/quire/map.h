/*
 * quire/map.h - memory-mapped file ranges whose writability is part of their C type.
 *
 * Overview
 * --------
 * A mapped file range is a byte range of a file [offset, offset + length) visible in memory.
 * As with typed pages (quire/pages.h), the handle type carries the permission:
 *
 *   quire_map_ro   read-only            yields `const void *`   (quire_map_ro_ptr)
 *   quire_map_rw   writable             yields `void *`         (quire_map_rw_ptr), either
 *                  - shared (quire_map_open_rw): writes reach the file, flush makes them
 *                    durable;
 *                  - private copy-on-write (quire_map_open_cow): writes stay in this process
 *                    and never reach the file.
 *
 * Passing a read-only map where a writable one is expected, or writing through the `const`
 * pointer of a read-only map, is a compile error. Conversions (quire_map_ro_to_rw,
 * quire_map_rw_to_ro) change the protection with one checked mprotect and consume the old
 * handle: on success it is cleared, on failure nothing changes.
 *
 * Offsets need not be page-aligned: quire maps from the offset rounded down to the allocation
 * granularity (the page size on Linux) and hands back a pointer adjusted to the exact offset.
 * quire_map_granularity(), quire_map_align_down() and quire_map_align_up() expose the
 * arithmetic.
 *
 * The file descriptor is closed once the range is mapped (the mapping keeps the file alive).
 * A shared read-only map can later become writable only if the file was opened for writing:
 * pass QUIRE_MAP_WRITABLE (or any of CREATE, TRUNCATE, RESIZE) when opening it read-only.
 *
 * Ranges must lie inside the file: bytes of a page past the end of the file read as zero, but
 * touching a whole page past the end raises SIGBUS, so quire refuses such ranges
 * (QUIRE_ERANGE); grow the file first with QUIRE_MAP_RESIZE.
 *
 * Operations on either kind of handle (length, close, advise, lock) are macros that accept a
 * pointer to a quire_map_ro or a quire_map_rw and nothing else (C11 _Generic; in C++, overloaded
 * inline functions).
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL handle pointer or a bad argument,
 * QUIRE_ECONSUMED for a handle already closed or consumed by a conversion.
 */
#ifndef QUIRE_MAP_H
#define QUIRE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Internal representation shared by both handles. Do not use its fields directly. */
struct quire_map_ {
    uintptr_t base_; /**< start of the mapping (granularity-aligned; 0 once consumed) */
    size_t map_len_; /**< length of the mapping, a multiple of the page size */
    size_t delta_;   /**< offset of the caller's first byte inside the mapping */
    size_t len_;     /**< the caller's length in bytes */
    unsigned flags_; /**< internal state bits */
};

/** A read-only mapped range. */
typedef struct quire_map_ro {
    struct quire_map_ m_;
} quire_map_ro;

/** A writable mapped range (shared with the file, or private copy-on-write). */
typedef struct quire_map_rw {
    struct quire_map_ m_;
} quire_map_rw;

/** Flags of struct quire_map_options. */
enum quire_map_flags {
    QUIRE_MAP_DEFAULT = 0,
    QUIRE_MAP_CREATE = 1 << 0,     /**< create the file if it does not exist */
    QUIRE_MAP_CREATE_NEW = 1 << 1, /**< create the file; QUIRE_EEXIST if it exists */
    QUIRE_MAP_TRUNCATE = 1 << 2,   /**< truncate the file to 0 first (then RESIZE, if given) */
    QUIRE_MAP_RESIZE = 1 << 3,     /**< set the file's size to resize_to before mapping */
    QUIRE_MAP_POPULATE = 1 << 4,   /**< read the range in now (MAP_POPULATE) */
    QUIRE_MAP_WRITABLE = 1 << 5,   /**< read-only opens: open the file read-write anyway, so the
                                        map can be converted with quire_map_ro_to_rw() */
};

/** Options of the open functions; a zeroed struct (or NULL) maps the whole existing file. */
struct quire_map_options {
    uint64_t offset;    /**< first byte of the range in the file; any value */
    size_t length;      /**< bytes to map; 0 = from offset to the end of the file */
    unsigned flags;     /**< enum quire_map_flags */
    uint64_t resize_to; /**< with QUIRE_MAP_RESIZE: the file's new size */
    unsigned mode;      /**< permission bits of a created file; 0 means 0644 */
};

/* -------------------------------------------------------------------------------------------
 * Opening
 *
 * Errors of the open functions: QUIRE_EINVAL (NULL path or out, unknown flag, empty range),
 * QUIRE_ENOENT (missing file, no CREATE), QUIRE_EEXIST (CREATE_NEW and the file exists),
 * QUIRE_EACCES or QUIRE_EPERM (permission denied, read-only file system), QUIRE_ERANGE (the
 * range does not lie inside the file), QUIRE_EOVERFLOW (offset + length overflows),
 * QUIRE_ENOMEM, QUIRE_EMFILE, QUIRE_ENOSPC (RESIZE could not grow the file), QUIRE_EOS.
 * ----------------------------------------------------------------------------------------- */

/** @brief Maps a file range read-only (MAP_SHARED: later changes to the file are visible). */
QUIRE_API int quire_map_open_ro(const char *path, const struct quire_map_options *opt,
                                quire_map_ro *out);

/** @brief Maps a file range writable and shared with the file (the file is opened O_RDWR). */
QUIRE_API int quire_map_open_rw(const char *path, const struct quire_map_options *opt,
                                quire_map_rw *out);

/**
 * @brief Maps a file range as a private copy-on-write view: writable, but writes are never
 *        written back (the file only needs to be readable, unless CREATE/TRUNCATE/RESIZE).
 */
QUIRE_API int quire_map_open_cow(const char *path, const struct quire_map_options *opt,
                                 quire_map_rw *out);

/**
 * @brief Maps a range of an open descriptor (which the caller keeps).
 * @param fd     open for reading (and writing, for a shared writable map).
 * @param kind   0 read-only (use out_ro), 1 shared writable, 2 private copy-on-write (out_rw).
 * @param length 0: to the end of the file.
 * @return 0, or the errors of the open functions (QUIRE_EACCES: fd lacks the access).
 */
QUIRE_API int quire_map_fd(int fd, uint64_t offset, size_t length, int kind, quire_map_ro *out_ro,
                           quire_map_rw *out_rw);

/* -------------------------------------------------------------------------------------------
 * Access
 * ----------------------------------------------------------------------------------------- */

/** @brief The first byte of a read-only range (NULL once closed or consumed). */
static inline const void *quire_map_ro_ptr(quire_map_ro m) {
    return m.m_.base_ ? (const void *)(m.m_.base_ + m.m_.delta_) : (const void *)0;
}

/** @brief The first byte of a writable range (NULL once closed or consumed). */
static inline void *quire_map_rw_ptr(quire_map_rw m) {
    return m.m_.base_ ? (void *)(m.m_.base_ + m.m_.delta_) : (void *)0;
}

/** Pointer to the shared representation of either handle; a compile error for anything else (C++:
    the overloads at the end of this header). */
#ifndef __cplusplus
#define quire_map_of_(hp)                                                                          \
    _Generic((hp), quire_map_ro *: &(hp)->m_, quire_map_rw *: &(hp)->m_,                           \
             const quire_map_ro *: &(hp)->m_, const quire_map_rw *: &(hp)->m_)
#endif

/** @brief The range's length in bytes (0 once closed or consumed). */
#define quire_map_len(hp) (quire_map_of_(hp)->base_ ? quire_map_of_(hp)->len_ : 0)

/** @brief 1 if a writable map is private copy-on-write, 0 if shared with the file. */
QUIRE_API int quire_map_is_cow(const quire_map_rw *m);

/**
 * @brief Unmaps the range and clears the handle.
 * @return 0, or QUIRE_ECONSUMED, QUIRE_EINVAL.
 */
#define quire_map_close(hp) quire_map_close_(quire_map_of_(hp))
QUIRE_API int quire_map_close_(struct quire_map_ *m);

/* -------------------------------------------------------------------------------------------
 * Writing back
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Writes the pages holding [offset, offset + length) of the range back to the file and
 *        waits for the device (msync MS_SYNC). A private copy-on-write map has nothing to write
 *        back: 0 without a system call.
 * @param offset, length relative to quire_map_rw_ptr(); any alignment; length 0 means "to the
 *        end of the range".
 * @return 0, or QUIRE_ERANGE (outside the range), QUIRE_EIO, QUIRE_ENOMEM, QUIRE_ECONSUMED,
 *         QUIRE_EINVAL.
 */
QUIRE_API int quire_map_flush(quire_map_rw *m, size_t offset, size_t length);

/** @brief quire_map_flush() without waiting (MS_ASYNC: schedules the write-back). */
QUIRE_API int quire_map_flush_async(quire_map_rw *m, size_t offset, size_t length);

/* -------------------------------------------------------------------------------------------
 * Conversions: consume *from and fill *to; on failure *from is untouched
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Makes a read-only range writable (shared maps: through to the file; private maps:
 *        copy-on-write).
 * @return 0, or QUIRE_EACCES (shared map of a file opened read-only: open with
 *         QUIRE_MAP_WRITABLE), QUIRE_ECONSUMED, QUIRE_EINVAL, QUIRE_ENOMEM.
 */
QUIRE_API int quire_map_ro_to_rw(quire_map_ro *from, quire_map_rw *to);

/**
 * @brief Makes a writable range read-only (unflushed writes of a shared map still reach the
 *        file in time; flush first to make them durable now).
 * @return 0, or QUIRE_ECONSUMED, QUIRE_EINVAL, QUIRE_ENOMEM.
 */
QUIRE_API int quire_map_rw_to_ro(quire_map_rw *from, quire_map_ro *to);

/* -------------------------------------------------------------------------------------------
 * Hints and locking on ranges of either kind
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Gives an access hint for [offset, offset + length) of the range (0 length: to the
 *        end). `advice` is one of enum quire_pages_advice (quire/pages.h).
 * @return 0, or QUIRE_ERANGE, QUIRE_EINVAL (unknown advice), QUIRE_ENOTSUP, QUIRE_ECONSUMED.
 */
#define quire_map_advise(hp, offset, length, advice)                                               \
    quire_map_advise_(quire_map_of_(hp), offset, length, advice)
QUIRE_API int quire_map_advise_(const struct quire_map_ *m, size_t offset, size_t length,
                                int advice);

/**
 * @brief Locks the pages of [offset, offset + length) in memory (mlock) / unlocks them.
 * @return 0, or QUIRE_ERANGE, QUIRE_ENOMEM (RLIMIT_MEMLOCK), QUIRE_EPERM, QUIRE_ECONSUMED.
 */
#define quire_map_lock(hp, offset, length)   quire_map_lock_(quire_map_of_(hp), offset, length, 1)
#define quire_map_unlock(hp, offset, length) quire_map_lock_(quire_map_of_(hp), offset, length, 0)
QUIRE_API int quire_map_lock_(const struct quire_map_ *m, size_t offset, size_t length, int lock);

/* -------------------------------------------------------------------------------------------
 * Granularity helpers
 * ----------------------------------------------------------------------------------------- */

/** @brief The page size (sysconf). */
QUIRE_API size_t quire_map_page_size(void);

/** @brief The alignment a mapping's file offset needs (the page size on Linux). */
QUIRE_API size_t quire_map_granularity(void);

/** @brief off rounded down to the allocation granularity. */
QUIRE_API uint64_t quire_map_align_down(uint64_t off);

/** @brief off rounded up to the allocation granularity (UINT64_MAX rounds to 0: overflow). */
QUIRE_API uint64_t quire_map_align_up(uint64_t off);

#ifdef __cplusplus
} /* extern "C" */

/* C++ has no _Generic: quire_map_of_ is overloaded instead (any other type: a compile error). */
inline struct quire_map_ *quire_map_of_(quire_map_ro *m) {
    return &m->m_;
}
inline struct quire_map_ *quire_map_of_(quire_map_rw *m) {
    return &m->m_;
}
inline const struct quire_map_ *quire_map_of_(const quire_map_ro *m) {
    return &m->m_;
}
inline const struct quire_map_ *quire_map_of_(const quire_map_rw *m) {
    return &m->m_;
}
#endif
#endif /* QUIRE_MAP_H */
