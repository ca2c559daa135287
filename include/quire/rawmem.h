/*
 * quire/rawmem.h - raw memory: one interface over heap, anonymous, file and temporary-file
 * storage of an array of fixed-size elements.
 *
 * Overview
 * --------
 * A quire_rawmem is a growable array of `elem_size`-byte elements whose storage comes from one
 * of four backends, chosen when it is opened:
 *
 *   quire_rawmem_open_heap   malloc/realloc (geometric capacity growth)
 *   quire_rawmem_open_anon   private anonymous pages, grown with mremap (no copying)
 *   quire_rawmem_open_file   a file mapped MAP_SHARED: the file always holds exactly the
 *                            elements (size = length * elem_size); reopening it gives them back
 *   quire_rawmem_open_temp   the same over an unnamed temporary file (O_TMPFILE, or a file
 *                            unlinked at once): nothing is left on disk after close or a crash
 *
 * Every operation dispatches through the handle's vtable (`vt`), so code written against
 * quire_rawmem works with any backend, including one of your own (fill a quire_rawmem_vtable
 * and set `vt`; see the contract of its fields).
 *
 * Growing appends elements initialised one of several ways: a copy of one element pattern
 * (quire_rawmem_grow_filled), one repeated byte (quire_rawmem_grow_bytes), zeroes
 * (quire_rawmem_grow_zeroed), a copy of a slice (quire_rawmem_grow_from), or a callback that
 * fills the new elements in place (quire_rawmem_grow_with; if it fails, the growth is undone).
 * quire_rawmem_shrink drops elements from the end; quire_rawmem_slice gives the current
 * contents as one contiguous array.
 *
 * The file backend fixes a known bug of platform-mem's FileMapped, which zeroed the file's
 * existing contents when it was opened: quire keeps them, and refuses a file whose size is not
 * a multiple of the element size (QUIRE_EFILESIZE) instead of silently dropping or inventing a
 * partial element.
 *
 * Pointers into the data stay valid until the next grow or shrink (the storage may move). One
 * handle, one thread at a time. Never copy a live handle.
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL handle or one that is closed.
 */
#ifndef QUIRE_RAWMEM_H
#define QUIRE_RAWMEM_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct quire_rawmem quire_rawmem;

/**
 * A backend: the two operations the generic code needs. A custom backend fills this table and
 * the handle's `vt`, `elem_` fields (and keeps its own state in `fd_`, `flags_`, `cap_`).
 */
typedef struct quire_rawmem_vtable {
    /** Backend name for diagnostics ("heap", "anon", "file", "temp"). */
    const char *name;
    /**
     * Makes [data_, data_ + bytes) valid storage, keeping the first min(bytes, old length)
     * bytes; may move data_ (and must set it; NULL is allowed when bytes is 0). Bytes past the
     * old length have unspecified contents. Returns 0 or a QUIRE_E* code (nothing changed).
     */
    int (*resize)(quire_rawmem *m, size_t bytes);
    /** Writes the contents to stable storage if the backend has any (0 otherwise). */
    int (*sync)(quire_rawmem *m);
    /** Releases everything; the handle is cleared afterwards by the caller. */
    int (*close)(quire_rawmem *m);
} quire_rawmem_vtable;

/** A raw-memory handle. Fields other than `vt` are private to the backend. */
struct quire_rawmem {
    const quire_rawmem_vtable *vt; /**< the backend's operations (NULL: closed) */
    unsigned char *data_;          /**< first element, or NULL while empty */
    size_t len_;                   /**< elements in use */
    size_t elem_;                  /**< bytes per element */
    size_t cap_;                   /**< backend: bytes of storage reserved */
    int fd_;                       /**< backend: file descriptor, or -1 */
    unsigned flags_;               /**< backend: private bits */
};

/** Flags for quire_rawmem_open_file(). */
enum quire_rawmem_flags {
    QUIRE_RAWMEM_DEFAULT = 0,       /**< open an existing file, keep its contents */
    QUIRE_RAWMEM_CREATE = 1 << 0,   /**< create the file (mode 0644) if it does not exist */
    QUIRE_RAWMEM_EXCL = 1 << 1,     /**< with CREATE: fail with QUIRE_EEXIST if it exists */
    QUIRE_RAWMEM_TRUNCATE = 1 << 2, /**< start empty, discarding the file's contents */
};

/* -------------------------------------------------------------------------------------------
 * Opening and closing
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Opens an empty array on the heap (malloc).
 * @return 0, or QUIRE_EINVAL (m NULL or elem_size 0).
 */
QUIRE_API int quire_rawmem_open_heap(quire_rawmem *m, size_t elem_size);

/**
 * @brief Opens an empty array in anonymous pages.
 * @return 0, or QUIRE_EINVAL (m NULL or elem_size 0).
 */
QUIRE_API int quire_rawmem_open_anon(quire_rawmem *m, size_t elem_size);

/**
 * @brief Opens an array stored in a file, keeping its contents: the length is the file's size
 *        divided by elem_size.
 * @param flags a combination of enum quire_rawmem_flags.
 * @return 0, or QUIRE_EINVAL (NULL path, elem_size 0, unknown flag), QUIRE_ENOENT (missing
 *         and no QUIRE_RAWMEM_CREATE), QUIRE_EEXIST (QUIRE_RAWMEM_EXCL and it exists),
 *         QUIRE_EACCES or QUIRE_EPERM (not allowed to read and write it), QUIRE_EFILESIZE (its
 *         size is not a multiple of elem_size; the file is left untouched), QUIRE_ENOMEM,
 *         QUIRE_EMFILE, QUIRE_EOS.
 */
QUIRE_API int quire_rawmem_open_file(quire_rawmem *m, const char *path, size_t elem_size,
                                     unsigned flags);

/**
 * @brief Opens an empty array in an unnamed temporary file in `dir` (NULL: /tmp), deleted when
 *        the array is closed (or the process dies).
 * @return 0, or QUIRE_EINVAL, QUIRE_ENOENT (no such directory), QUIRE_EACCES, QUIRE_EMFILE,
 *         QUIRE_EOS.
 */
QUIRE_API int quire_rawmem_open_temp(quire_rawmem *m, const char *dir, size_t elem_size);

/**
 * @brief Releases the storage (a file keeps its contents; a temporary file is deleted) and
 *        clears the handle.
 * @return 0, or QUIRE_EINVAL, or an error of the backend's release (the handle is cleared
 *         anyway).
 */
QUIRE_API int quire_rawmem_close(quire_rawmem *m);

/* -------------------------------------------------------------------------------------------
 * Contents
 * ----------------------------------------------------------------------------------------- */

/** @brief Number of elements (0 for a closed handle). */
QUIRE_API size_t quire_rawmem_len(const quire_rawmem *m);

/** @brief Elements the storage holds before it must grow (0 for a closed handle). */
QUIRE_API size_t quire_rawmem_capacity(const quire_rawmem *m);

/** @brief Bytes per element (0 for a closed handle). */
QUIRE_API size_t quire_rawmem_elem_size(const quire_rawmem *m);

/**
 * @brief The current contents as one array.
 * @param data receives the first element (NULL when empty).
 * @param len  receives the number of elements.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_rawmem_slice(const quire_rawmem *m, void **data, size_t *len);

/** @brief The backend's name ("heap", "anon", "file", "temp"), or NULL for a closed handle. */
QUIRE_API const char *quire_rawmem_backend(const quire_rawmem *m);

/* -------------------------------------------------------------------------------------------
 * Growing and shrinking
 *
 * Errors of every grow function: QUIRE_EOVERFLOW (the length or its byte size would overflow),
 * QUIRE_ENOMEM, QUIRE_ENOSPC and QUIRE_EIO (file backends: the file could not grow),
 * QUIRE_EINVAL. On error the contents are unchanged. Growing by 0 elements succeeds and does
 * nothing.
 * ----------------------------------------------------------------------------------------- */

/** @brief Appends n copies of the element at `pattern` (elem_size bytes). */
QUIRE_API int quire_rawmem_grow_filled(quire_rawmem *m, size_t n, const void *pattern);

/** @brief Appends n elements whose every byte is `byte`. */
QUIRE_API int quire_rawmem_grow_bytes(quire_rawmem *m, size_t n, unsigned char byte);

/** @brief Appends n zeroed elements. */
QUIRE_API int quire_rawmem_grow_zeroed(quire_rawmem *m, size_t n);

/** @brief Appends copies of the n elements at src (which must not point into m's storage). */
QUIRE_API int quire_rawmem_grow_from(quire_rawmem *m, const void *src, size_t n);

/**
 * The callback of quire_rawmem_grow_with(): initialise `count` elements at `elems`, which will
 * be elements first..first+count-1 of the array. Return 0, or a negative QUIRE_E* code to undo
 * the growth.
 */
typedef int (*quire_rawmem_init_fn)(void *ctx, void *elems, size_t first, size_t count);

/**
 * @brief Appends n elements initialised in place by `init`.
 * @return 0, or the code init returned (the growth is undone), or the errors above.
 */
QUIRE_API int quire_rawmem_grow_with(quire_rawmem *m, size_t n, quire_rawmem_init_fn init,
                                     void *ctx);

/**
 * @brief Removes the last n elements (a file backend truncates the file).
 * @return 0, or QUIRE_ERANGE (n > length), QUIRE_EIO, QUIRE_EINVAL.
 */
QUIRE_API int quire_rawmem_shrink(quire_rawmem *m, size_t n);

/**
 * @brief Writes file-backed contents to disk (msync + the file's metadata); 0 at once for heap
 *        and anonymous storage.
 * @return 0, or QUIRE_EIO, QUIRE_EINVAL.
 */
QUIRE_API int quire_rawmem_sync(quire_rawmem *m);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_RAWMEM_H */
