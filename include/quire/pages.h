/*
 * quire/pages.h - page regions whose permission is part of their C type.
 *
 * Overview
 * --------
 * A page region is a run of whole pages of anonymous memory. Its current protection is carried
 * by the type of the handle that owns it:
 *
 *   quire_pages_rw    read + write      yields `void *`          (quire_pages_rw_ptr)
 *   quire_pages_ro    read only         yields `const void *`    (quire_pages_ro_ptr)
 *   quire_pages_rx    read + execute    yields a function address (quire_pages_rx_fn) and
 *                                       `const void *` to read the code bytes
 *   quire_pages_none  no access         yields nothing but its size
 *
 * The four handle types are distinct structs passed by value, so passing one kind where another
 * is expected, assigning one kind to another, or writing through the `const` pointer of a
 * read-only region is a compile error in C whatever the warning flags (tests/compile_fail/ proves
 * each case). There is no read+write+execute state in the safe API: code is written in an rw
 * region and then turned into rx (W^X).
 *
 * Transitions (quire_pages_rw_to_ro(), ...) change the protection with one checked mprotect and
 * CONSUME the old handle: on success the old handle is cleared, so any later use of it fails
 * with QUIRE_ECONSUMED (accessors return NULL) instead of touching memory with a stale
 * permission. On failure nothing changes and the old handle stays valid.
 *
 * Sizes are rounded up to the runtime page size (quire_page_size(), never a hard-coded 4096).
 * Optional guard pages (QUIRE_PAGES_GUARD) sit before and after the region: MADV_GUARD_INSTALL
 * where the kernel has it (Linux >= 6.13, no extra mapping), a PROT_NONE page otherwise. Any
 * access to a guard page raises SIGSEGV.
 *
 * Operations that apply to every kind (size, advise, populate, lock, unlock, seal, free) are
 * macros that accept a pointer to any handle type and nothing else (C11 _Generic; in C++, where
 * the header also compiles, overloaded inline functions do the same dispatch).
 *
 * Sealing (quire_pages_seal) uses mseal(2) (Linux >= 6.10): the region's protection and
 * mapping can never change again, not even by munmap; quire refuses later transitions, resizes
 * and frees of a sealed region with QUIRE_ESEALED (the memory stays mapped until exit).
 *
 * Thread safety: handles are plain values; operations on distinct regions are independent.
 * Operating on one region from two threads at once needs the caller's synchronisation.
 *
 * Unsafe escape hatch: defining QUIRE_UNSAFE before including this header enables
 * quire_pages_unsafe_* functions (raw pointers, adopting foreign mappings, an RWX state). Without
 * the macro, any use of them is a compile error.
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL handle pointer or a bad argument,
 * QUIRE_ECONSUMED for a handle already consumed or freed.
 */
#ifndef QUIRE_PAGES_H
#define QUIRE_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Internal representation shared by every handle. Do not use its fields directly. */
struct quire_pages_region_ {
    uintptr_t addr_; /**< first byte of the usable region (0 once consumed) */
    size_t size_;    /**< usable bytes, a multiple of the page size */
    size_t guard_;   /**< bytes of guard before and after (0 or a page) */
    unsigned flags_; /**< internal state bits */
};

/** A readable and writable region. */
typedef struct quire_pages_rw {
    struct quire_pages_region_ r_;
} quire_pages_rw;

/** A read-only region. */
typedef struct quire_pages_ro {
    struct quire_pages_region_ r_;
} quire_pages_ro;

/** A readable and executable region (never writable). */
typedef struct quire_pages_rx {
    struct quire_pages_region_ r_;
} quire_pages_rx;

/** An inaccessible region (a reservation of address space, or memory parked away). */
typedef struct quire_pages_none {
    struct quire_pages_region_ r_;
} quire_pages_none;

/** The type of the address an executable region yields; cast it to the real function type. */
typedef void (*quire_fn)(void);

/*
 * Pointer arguments of handle types are checked with _Generic: in C, passing a pointer to the
 * wrong struct is only a warning, but a _Generic selection with no matching type is an error
 * whatever the flags. In C++, the language itself rejects the mismatch.
 */
#ifdef __cplusplus
#define QUIRE_PAGES_EXPECT_(T, p) (p)
#else
#define QUIRE_PAGES_EXPECT_(T, p) _Generic((p), T * : (p))
#endif

/** Flags for quire_pages_alloc_rw() and quire_pages_alloc_none(). */
enum quire_pages_flags {
    QUIRE_PAGES_DEFAULT = 0,
    QUIRE_PAGES_GUARD = 1 << 0,     /**< a guard page before and after the region */
    QUIRE_PAGES_POPULATE = 1 << 1,  /**< fault every page in now */
    QUIRE_PAGES_HUGE = 1 << 2,      /**< round to and align on the huge-page size, MADV_HUGEPAGE */
    QUIRE_PAGES_NORESERVE = 1 << 3, /**< do not reserve swap for the region (MAP_NORESERVE) */
};

/** Access hints for quire_pages_advise(). */
enum quire_pages_advice {
    QUIRE_ADVICE_NORMAL = 0, /**< no particular pattern (the default) */
    QUIRE_ADVICE_SEQUENTIAL, /**< will be read sequentially: aggressive read-ahead */
    QUIRE_ADVICE_RANDOM,     /**< random access: no read-ahead */
    QUIRE_ADVICE_WILLNEED,   /**< will be needed soon: start faulting in */
    QUIRE_ADVICE_HUGEPAGE,   /**< back with transparent huge pages where possible */
    QUIRE_ADVICE_NOHUGEPAGE, /**< never back with huge pages */
    QUIRE_ADVICE_DONTDUMP,   /**< exclude from core dumps (secrets) */
    QUIRE_ADVICE_DODUMP,     /**< include in core dumps again */
};

/* -------------------------------------------------------------------------------------------
 * Sizes
 * ----------------------------------------------------------------------------------------- */

/** @brief The runtime page size in bytes (sysconf). Never fails. */
QUIRE_API size_t quire_page_size(void);

/** @brief The transparent huge-page size in bytes, or 0 when the system does not report one. */
QUIRE_API size_t quire_huge_page_size(void);

/**
 * @brief Rounds n up to a multiple of the page size.
 * @return the rounded size, or 0 when n is 0 or the rounding overflows.
 */
QUIRE_API size_t quire_page_round(size_t n);

/* -------------------------------------------------------------------------------------------
 * Creating and freeing
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Maps a new zero-filled read-write region.
 * @param size  bytes wanted; rounded up to the page size (to the huge-page size with
 *              QUIRE_PAGES_HUGE).
 * @param flags a combination of enum quire_pages_flags.
 * @param out   receives the handle.
 * @return 0, or QUIRE_EINVAL (size 0, unknown flag, out NULL), QUIRE_EOVERFLOW (size too large to
 *         round), QUIRE_ENOMEM (no memory or address space), QUIRE_ENOTSUP (QUIRE_PAGES_HUGE
 *         without a huge-page size).
 */
#define quire_pages_alloc_rw(size, flags, out)                                                     \
    quire_pages_alloc_rw_(size, flags, QUIRE_PAGES_EXPECT_(quire_pages_rw, out))
QUIRE_API int quire_pages_alloc_rw_(size_t size, unsigned flags, quire_pages_rw *out);

/**
 * @brief Reserves a new inaccessible region (address space only; it costs no memory until it is
 *        turned into an accessible kind). Same parameters and errors as quire_pages_alloc_rw();
 *        QUIRE_PAGES_NORESERVE is implied.
 */
#define quire_pages_alloc_none(size, flags, out)                                                   \
    quire_pages_alloc_none_(size, flags, QUIRE_PAGES_EXPECT_(quire_pages_none, out))
QUIRE_API int quire_pages_alloc_none_(size_t size, unsigned flags, quire_pages_none *out);

/**
 * @brief Unmaps a region and its guard pages, and clears the handle.
 * @return 0, or QUIRE_ECONSUMED (already freed or consumed), QUIRE_ESEALED (sealed regions
 *         cannot be unmapped; the handle stays valid), QUIRE_EINVAL.
 */
#ifdef __cplusplus
#define quire_pages_free(hp) quire_pages_free_of_(hp)
#else
#define quire_pages_free(hp)                                                                       \
    _Generic((hp), quire_pages_rw *                                                                \
             : quire_pages_free_rw_, quire_pages_ro *                                              \
             : quire_pages_free_ro_, quire_pages_rx *                                              \
             : quire_pages_free_rx_, quire_pages_none *                                            \
             : quire_pages_free_none_)(hp)
#endif

QUIRE_API int quire_pages_free_rw_(quire_pages_rw *h);
QUIRE_API int quire_pages_free_ro_(quire_pages_ro *h);
QUIRE_API int quire_pages_free_rx_(quire_pages_rx *h);
QUIRE_API int quire_pages_free_none_(quire_pages_none *h);

/* -------------------------------------------------------------------------------------------
 * Access: the only ways to get at the memory, each matching its permission
 * ----------------------------------------------------------------------------------------- */

/** @brief The writable address of an rw region (NULL if the handle was consumed). */
static inline void *quire_pages_rw_ptr(quire_pages_rw h) {
    return (void *)h.r_.addr_;
}

/** @brief The read-only address of an ro region (NULL if consumed). */
static inline const void *quire_pages_ro_ptr(quire_pages_ro h) {
    return (const void *)h.r_.addr_;
}

/** @brief The code bytes of an rx region, read-only (NULL if consumed). */
static inline const void *quire_pages_rx_ptr(quire_pages_rx h) {
    return (const void *)h.r_.addr_;
}

/**
 * @brief The address of the function at byte `offset` of an rx region.
 * @return the function address, or NULL when offset is outside the region or it was consumed.
 */
static inline quire_fn quire_pages_rx_fn(quire_pages_rx h, size_t offset) {
    if (h.r_.addr_ == 0 || offset >= h.r_.size_) return (quire_fn)0;
    return (quire_fn)(h.r_.addr_ + offset);
}

/** Pointer to the shared representation of any handle; a compile error for anything else (C++:
    the overloads at the end of this header). */
#ifndef __cplusplus
#define quire_pages_region_of_(hp)                                                                 \
    _Generic((hp), quire_pages_rw *: &(hp)->r_, quire_pages_ro *: &(hp)->r_,                       \
             quire_pages_rx *: &(hp)->r_, quire_pages_none *: &(hp)->r_,                           \
             const quire_pages_rw *: &(hp)->r_, const quire_pages_ro *: &(hp)->r_,                 \
             const quire_pages_rx *: &(hp)->r_, const quire_pages_none *: &(hp)->r_)
#endif

/** @brief Usable size in bytes of the region behind any handle pointer (0 once consumed). */
#define quire_pages_size(hp) (quire_pages_region_of_(hp)->size_)

/* -------------------------------------------------------------------------------------------
 * Transitions: each consumes *from and fills *to; on failure *from is untouched
 *
 * Errors: QUIRE_EINVAL (NULL), QUIRE_ECONSUMED (*from already consumed), QUIRE_ESEALED (region
 * sealed), QUIRE_EPERM (the system refused the protection, e.g. an exec policy), QUIRE_ENOMEM
 * (the kernel could not split the mapping: too many mappings).
 * ----------------------------------------------------------------------------------------- */

#define quire_pages_rw_to_ro(from, to)                                                             \
    quire_pages_rw_to_ro_(QUIRE_PAGES_EXPECT_(quire_pages_rw, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_ro, to))
QUIRE_API int quire_pages_rw_to_ro_(quire_pages_rw *from, quire_pages_ro *to);
#define quire_pages_rw_to_rx(from, to)                                                             \
    quire_pages_rw_to_rx_(QUIRE_PAGES_EXPECT_(quire_pages_rw, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_rx, to))
QUIRE_API int quire_pages_rw_to_rx_(quire_pages_rw *from, quire_pages_rx *to);
#define quire_pages_rw_to_none(from, to)                                                           \
    quire_pages_rw_to_none_(QUIRE_PAGES_EXPECT_(quire_pages_rw, from),                             \
                            QUIRE_PAGES_EXPECT_(quire_pages_none, to))
QUIRE_API int quire_pages_rw_to_none_(quire_pages_rw *from, quire_pages_none *to);
#define quire_pages_ro_to_rw(from, to)                                                             \
    quire_pages_ro_to_rw_(QUIRE_PAGES_EXPECT_(quire_pages_ro, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_rw, to))
QUIRE_API int quire_pages_ro_to_rw_(quire_pages_ro *from, quire_pages_rw *to);
#define quire_pages_ro_to_rx(from, to)                                                             \
    quire_pages_ro_to_rx_(QUIRE_PAGES_EXPECT_(quire_pages_ro, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_rx, to))
QUIRE_API int quire_pages_ro_to_rx_(quire_pages_ro *from, quire_pages_rx *to);
#define quire_pages_ro_to_none(from, to)                                                           \
    quire_pages_ro_to_none_(QUIRE_PAGES_EXPECT_(quire_pages_ro, from),                             \
                            QUIRE_PAGES_EXPECT_(quire_pages_none, to))
QUIRE_API int quire_pages_ro_to_none_(quire_pages_ro *from, quire_pages_none *to);
#define quire_pages_rx_to_rw(from, to)                                                             \
    quire_pages_rx_to_rw_(QUIRE_PAGES_EXPECT_(quire_pages_rx, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_rw, to))
QUIRE_API int quire_pages_rx_to_rw_(quire_pages_rx *from, quire_pages_rw *to);
#define quire_pages_rx_to_ro(from, to)                                                             \
    quire_pages_rx_to_ro_(QUIRE_PAGES_EXPECT_(quire_pages_rx, from),                               \
                          QUIRE_PAGES_EXPECT_(quire_pages_ro, to))
QUIRE_API int quire_pages_rx_to_ro_(quire_pages_rx *from, quire_pages_ro *to);
#define quire_pages_rx_to_none(from, to)                                                           \
    quire_pages_rx_to_none_(QUIRE_PAGES_EXPECT_(quire_pages_rx, from),                             \
                            QUIRE_PAGES_EXPECT_(quire_pages_none, to))
QUIRE_API int quire_pages_rx_to_none_(quire_pages_rx *from, quire_pages_none *to);
#define quire_pages_none_to_rw(from, to)                                                           \
    quire_pages_none_to_rw_(QUIRE_PAGES_EXPECT_(quire_pages_none, from),                           \
                            QUIRE_PAGES_EXPECT_(quire_pages_rw, to))
QUIRE_API int quire_pages_none_to_rw_(quire_pages_none *from, quire_pages_rw *to);
#define quire_pages_none_to_ro(from, to)                                                           \
    quire_pages_none_to_ro_(QUIRE_PAGES_EXPECT_(quire_pages_none, from),                           \
                            QUIRE_PAGES_EXPECT_(quire_pages_ro, to))
QUIRE_API int quire_pages_none_to_ro_(quire_pages_none *from, quire_pages_ro *to);
#define quire_pages_none_to_rx(from, to)                                                           \
    quire_pages_none_to_rx_(QUIRE_PAGES_EXPECT_(quire_pages_none, from),                           \
                            QUIRE_PAGES_EXPECT_(quire_pages_rx, to))
QUIRE_API int quire_pages_none_to_rx_(quire_pages_none *from, quire_pages_rx *to);

/* -------------------------------------------------------------------------------------------
 * Writable-only operations
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Releases the memory behind [offset, offset+length) of an rw region with
 *        MADV_DONTNEED: the pages are returned to the system now and read back as zero.
 * @param offset, length page-aligned; length 0 means "to the end of the region".
 * @return 0, or QUIRE_EINVAL (not page-aligned), QUIRE_ERANGE (outside the region),
 *         QUIRE_ESEALED, QUIRE_ECONSUMED.
 */
#define quire_pages_rw_decommit(h, offset, length)                                                 \
    quire_pages_rw_decommit_(QUIRE_PAGES_EXPECT_(quire_pages_rw, h), offset, length)
QUIRE_API int quire_pages_rw_decommit_(quire_pages_rw *h, size_t offset, size_t length);

/** Flags for quire_pages_rw_resize(). */
enum quire_pages_resize_flags {
    QUIRE_RESIZE_INPLACE = 0, /**< grow or shrink in place only */
    QUIRE_RESIZE_MAYMOVE = 1, /**< the region may move (contents move with it, no copying) */
};

/**
 * @brief Grows or shrinks an rw region with mremap; new bytes read as zero. Guard pages, if the
 *        region has them, follow it.
 * @param new_size rounded up to the page size.
 * @return 0 (h updated; the old address is invalid if it moved), or QUIRE_ENOMEM (cannot grow in
 *         place without QUIRE_RESIZE_MAYMOVE, or no memory), QUIRE_EINVAL, QUIRE_ESEALED,
 *         QUIRE_ECONSUMED, QUIRE_EOVERFLOW.
 */
#define quire_pages_rw_resize(h, new_size, flags)                                                  \
    quire_pages_rw_resize_(QUIRE_PAGES_EXPECT_(quire_pages_rw, h), new_size, flags)
QUIRE_API int quire_pages_rw_resize_(quire_pages_rw *h, size_t new_size, unsigned flags);

/* -------------------------------------------------------------------------------------------
 * Operations on any kind of region (pass a pointer to any handle)
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Gives the kernel an access hint for the whole region, or for a page-aligned range.
 * @return 0, or QUIRE_EINVAL (unknown advice, unaligned range), QUIRE_ERANGE, QUIRE_ENOTSUP
 *         (hint unknown to this kernel, e.g. huge pages disabled), QUIRE_ECONSUMED.
 */
#define quire_pages_advise(hp, advice)                                                             \
    quire_pages_advise_((quire_pages_region_of_(hp)), 0, 0, advice)
#define quire_pages_advise_range(hp, offset, length, advice)                                       \
    quire_pages_advise_((quire_pages_region_of_(hp)), offset, length, advice)
QUIRE_API int quire_pages_advise_(const struct quire_pages_region_ *r, size_t offset, size_t length,
                                  int advice);

/**
 * @brief Faults every page of the region in now (MADV_POPULATE_WRITE for rw regions,
 *        MADV_POPULATE_READ for ro and rx; touching each page on kernels before 5.14).
 * @return 0, or QUIRE_ENOMEM, QUIRE_EINVAL (a none region cannot be populated),
 *         QUIRE_ECONSUMED.
 */
#ifdef __cplusplus
#define quire_pages_populate(hp) quire_pages_populate_of_(hp)
#else
#define quire_pages_populate(hp)                                                                   \
    _Generic((hp), quire_pages_rw *                                                                \
             : quire_pages_populate_(&(hp)->r_, 1), quire_pages_ro *                               \
             : quire_pages_populate_(&(hp)->r_, 0), quire_pages_rx *                               \
             : quire_pages_populate_(&(hp)->r_, 0), quire_pages_none *                             \
             : quire_pages_populate_(&(hp)->r_, -1))
#endif
QUIRE_API int quire_pages_populate_(const struct quire_pages_region_ *r, int write);

/**
 * @brief Locks the region's pages in memory (mlock) / unlocks them (munlock).
 * @return 0, or QUIRE_ENOMEM (RLIMIT_MEMLOCK exceeded or no memory), QUIRE_EPERM,
 *         QUIRE_ECONSUMED.
 */
#define quire_pages_lock(hp)   quire_pages_lock_(quire_pages_region_of_(hp), 1)
#define quire_pages_unlock(hp) quire_pages_lock_(quire_pages_region_of_(hp), 0)
QUIRE_API int quire_pages_lock_(struct quire_pages_region_ *r, int lock);

/**
 * @brief Seals the region and its guard pages with mseal(2): protection and mapping can never
 *        change again in this process (mprotect, munmap, mremap and discarding madvise fail).
 * @return 0, or QUIRE_ENOTSUP (kernel without mseal, before 6.10), QUIRE_ESEALED (already),
 *         QUIRE_EPERM, QUIRE_ECONSUMED.
 */
#define quire_pages_seal(hp) quire_pages_seal_(quire_pages_region_of_(hp))
QUIRE_API int quire_pages_seal_(struct quire_pages_region_ *r);

/** @brief 1 if the region behind any handle pointer is sealed, else 0. */
#define quire_pages_is_sealed(hp) ((quire_pages_region_of_(hp)->flags_ & 0x4u) != 0)

/** @brief 1 if the region has guard pages, else 0. */
#define quire_pages_has_guards(hp) (quire_pages_region_of_(hp)->guard_ != 0)

/* -------------------------------------------------------------------------------------------
 * Unsafe escape hatch (compile with -DQUIRE_UNSAFE to use)
 * ----------------------------------------------------------------------------------------- */

#if defined(QUIRE_UNSAFE)
#define QUIRE_UNSAFE_API QUIRE_API
#elif defined(__GNUC__)
#define QUIRE_UNSAFE_API                                                                           \
    QUIRE_API __attribute__((unavailable("unsafe API: define QUIRE_UNSAFE to use it")))
#else
#define QUIRE_UNSAFE_API QUIRE_API
#endif

/**
 * @brief UNSAFE. The raw writable address of any region, whatever its permission: writing
 *        through it into an ro, rx or none region faults.
 */
QUIRE_UNSAFE_API void *quire_pages_unsafe_ptr(const struct quire_pages_region_ *r);
#define quire_pages_unsafe_raw(hp) quire_pages_unsafe_ptr(quire_pages_region_of_(hp))

/**
 * @brief UNSAFE. Makes an rw region read+write+execute in place (breaks W^X). The handle stays an
 *        rw handle; transitions out of it restore a safe protection.
 * @return 0, or QUIRE_EPERM (the system forbids RWX), QUIRE_ESEALED, QUIRE_ECONSUMED.
 */
#define quire_pages_unsafe_make_rwx(h)                                                             \
    quire_pages_unsafe_make_rwx_(QUIRE_PAGES_EXPECT_(quire_pages_rw, h))
QUIRE_UNSAFE_API int quire_pages_unsafe_make_rwx_(quire_pages_rw *h);

/**
 * @brief UNSAFE. Adopts an existing page-aligned read-write mapping as an rw handle, which then
 *        owns it (quire_pages_free unmaps it).
 * @return 0, or QUIRE_EINVAL (NULL or unaligned).
 */
#define quire_pages_unsafe_adopt_rw(addr, size, out)                                               \
    quire_pages_unsafe_adopt_rw_(addr, size, QUIRE_PAGES_EXPECT_(quire_pages_rw, out))
QUIRE_UNSAFE_API int quire_pages_unsafe_adopt_rw_(void *addr, size_t size, quire_pages_rw *out);

#ifdef __cplusplus
} /* extern "C" */

/*
 * C++ has no _Generic: the macros above that take "a pointer to any handle" dispatch through
 * these overloads instead. Same rules as in C: a pointer to any other type is a compile error,
 * and a pointer to a const handle yields a const region, which only the read-only operations
 * (size, advise, populate, is_sealed, has_guards) accept.
 */
#define QUIRE_PAGES_CXX_KIND_(T, write)                                                            \
    inline struct quire_pages_region_ *quire_pages_region_of_(T *h) {                              \
        return &h->r_;                                                                             \
    }                                                                                              \
    inline const struct quire_pages_region_ *quire_pages_region_of_(const T *h) {                  \
        return &h->r_;                                                                             \
    }                                                                                              \
    inline int quire_pages_populate_of_(const T *h) {                                              \
        return quire_pages_populate_(&h->r_, write);                                               \
    }
QUIRE_PAGES_CXX_KIND_(quire_pages_rw, 1)
QUIRE_PAGES_CXX_KIND_(quire_pages_ro, 0)
QUIRE_PAGES_CXX_KIND_(quire_pages_rx, 0)
QUIRE_PAGES_CXX_KIND_(quire_pages_none, -1)
#undef QUIRE_PAGES_CXX_KIND_
inline int quire_pages_free_of_(quire_pages_rw *h) {
    return quire_pages_free_rw_(h);
}
inline int quire_pages_free_of_(quire_pages_ro *h) {
    return quire_pages_free_ro_(h);
}
inline int quire_pages_free_of_(quire_pages_rx *h) {
    return quire_pages_free_rx_(h);
}
inline int quire_pages_free_of_(quire_pages_none *h) {
    return quire_pages_free_none_(h);
}
#endif
#endif /* QUIRE_PAGES_H */
