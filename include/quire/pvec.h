/*
 * quire/pvec.h - paged vectors: growable arrays of fixed-size elements over page runs.
 *
 * Overview
 * --------
 * A paged vector keeps its elements in one private anonymous mapping of whole pages. It grows
 * with mremap(2): in place when the pages after it are free, otherwise the kernel moves the
 * page-table entries to a larger range (MREMAP_MAYMOVE). The elements are never copied on
 * growth, whatever the vector's size: growing a 1 GiB vector costs a few microseconds, not the
 * second of a realloc-and-copy. Capacity doubles (page-rounded), so a run of pushes makes
 * O(log n) system calls.
 *
 * Pages beyond the length cost no memory until they are written. quire_pvec_decommit_unused()
 * and quire_pvec_clear_and_decommit() hand pages back to the system (MADV_DONTNEED) while
 * keeping the address range, and quire_pvec_shrink_to_fit() unmaps the tail.
 *
 * Faulting in: by default a vector prefaults the pages just ahead of its end, a chunk at a time
 * (an eighth of its size, at least 256 KiB, at most 64 MiB), with one madvise(POPULATE_WRITE)
 * instead of one page fault per page (the kernel allocates the pages in a loop without trapping
 * into it for each). At most that one chunk is committed ahead of the elements. Flags of
 * quire_pvec_init() change this:
 *   QUIRE_PVEC_LAZY      no prefaulting: every page faults on its first write;
 *   QUIRE_PVEC_HUGE      align the mapping on the transparent huge-page size, round capacity to
 *                        it and advise MADV_HUGEPAGE: one fault (or populate step) per 2 MiB.
 *                        Where memory is fragmented the kernel may compact it to find huge
 *                        pages (the THP "defrag" setting), which can cost more than it saves:
 *                        measure before choosing it (bench/companion/pvec_fill shows both);
 * and quire_pvec_advise() passes access hints (sequential, random, will-need, ...).
 *
 * Element addresses (quire_pvec_get, quire_pvec_data, slots) stay valid until the next call
 * that may change the capacity: push, insert, reserve, resize or shrink_to_fit (the mapping may
 * move). Element i lives at data + i * elem_size, so elements are as aligned as their size
 * allows (the data starts on a page boundary).
 *
 * The handle is a struct of private fields: treat it as opaque and never copy a live vector
 * (two copies would each believe they own the mapping). A zero-initialised struct is an invalid
 * vector; call quire_pvec_init(). Not thread-safe: one vector, one thread at a time.
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL vector or one that is not
 * initialised (or already destroyed).
 */
#ifndef QUIRE_PVEC_H
#define QUIRE_PVEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A paged vector. Private fields: use the functions below. */
typedef struct quire_pvec {
    unsigned char *data_; /**< the mapping, or NULL while nothing is mapped */
    size_t len_;          /**< elements in use */
    size_t cap_;          /**< push fast-path limit: elements mapped and prefaulted */
    size_t elem_;         /**< element size in bytes (0: not initialised) */
    size_t bytes_;        /**< mapping length, a multiple of the page (or huge-page) size */
    size_t ready_;        /**< bytes from data_ already prefaulted (<= bytes_) */
    unsigned flags_;      /**< QUIRE_PVEC_* hints */
} quire_pvec;

/** Flags for quire_pvec_init(). */
enum quire_pvec_flags {
    QUIRE_PVEC_DEFAULT = 0,
    QUIRE_PVEC_HUGE = 1 << 0, /**< huge-page aligned and advised (transparent huge pages) */
    QUIRE_PVEC_LAZY = 1 << 1, /**< no prefaulting ahead of the end: fault pages on first write */
};

/**
 * @brief Initialises an empty vector.
 * @param v         the vector to initialise (its previous contents are ignored).
 * @param elem_size bytes per element, at least 1.
 * @param capacity  elements to reserve now (0: map nothing until the first push).
 * @param flags     a combination of enum quire_pvec_flags.
 * @return 0, or QUIRE_EINVAL (v NULL, elem_size 0, unknown flag), QUIRE_EOVERFLOW
 *         (capacity * elem_size overflows), QUIRE_ENOMEM, QUIRE_ENOTSUP (QUIRE_PVEC_HUGE on a
 *         system without a huge-page size). On error v is left uninitialised.
 */
QUIRE_API int quire_pvec_init(quire_pvec *v, size_t elem_size, size_t capacity, unsigned flags);

/**
 * @brief Unmaps the elements and marks the vector uninitialised.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_destroy(quire_pvec *v);

/** @brief Number of elements (0 for an invalid vector). */
static inline size_t quire_pvec_len(const quire_pvec *v) {
    return v ? v->len_ : 0;
}
/** @brief Elements that fit in the mapping before the next growth (0 for an invalid vector). */
static inline size_t quire_pvec_capacity(const quire_pvec *v) {
    return (v && v->elem_) ? v->bytes_ / v->elem_ : 0;
}
/** @brief Bytes per element (0 for an invalid vector). */
static inline size_t quire_pvec_elem_size(const quire_pvec *v) {
    return v ? v->elem_ : 0;
}
/** @brief The first element, or NULL while nothing is mapped. */
static inline void *quire_pvec_data(const quire_pvec *v) {
    return v ? v->data_ : NULL;
}

/** Out-of-line slow path of quire_pvec_push_slot (grows the mapping). */
QUIRE_API int quire_pvec_push_slot_slow_(quire_pvec *v, void **slot);

/**
 * @brief Appends one element and gives its address to fill in (its contents are unspecified).
 *        Inline: a compare, a multiply and a store unless the vector must grow.
 * @param slot receives the new element's address.
 * @return 0, or QUIRE_EOVERFLOW (the vector would exceed the address space), QUIRE_ENOMEM,
 *         QUIRE_EINVAL.
 */
static inline int quire_pvec_push_slot(quire_pvec *v, void **slot) {
    if (__builtin_expect(v != NULL && v->len_ < v->cap_, 1)) {
        *slot = v->data_ + v->len_++ * v->elem_;
        return 0;
    }
    return quire_pvec_push_slot_slow_(v, slot);
}

/**
 * @brief Appends a copy of *elem (elem_size bytes), or a zeroed element when elem is NULL.
 * @return 0, or the errors of quire_pvec_push_slot().
 */
static inline int quire_pvec_push(quire_pvec *v, const void *elem) {
    void *slot;
    int rc = quire_pvec_push_slot(v, &slot);
    if (__builtin_expect(rc == 0, 1)) {
        if (elem)
            memcpy(slot, elem, v->elem_);
        else
            memset(slot, 0, v->elem_);
    }
    return rc;
}

/**
 * @brief The address of element i, or NULL when i >= length (or v is invalid).
 */
static inline void *quire_pvec_get(const quire_pvec *v, size_t i) {
    return (v && i < v->len_) ? v->data_ + i * v->elem_ : NULL;
}

/**
 * @brief Bounds-checked access to element i.
 * @param out receives the element's address.
 * @return 0, or QUIRE_ERANGE (i >= length), QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_at(const quire_pvec *v, size_t i, void **out);

/**
 * @brief Removes the last element, copying it to out first (out may be NULL).
 * @return 0, or QUIRE_ERANGE (the vector is empty), QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_pop(quire_pvec *v, void *out);

/**
 * @brief Inserts a copy of *elem (zeroes when elem is NULL) before element i, moving the
 *        elements from i on up by one.
 * @param i 0..length (length appends).
 * @return 0, or QUIRE_ERANGE (i > length), QUIRE_EOVERFLOW, QUIRE_ENOMEM, QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_insert(quire_pvec *v, size_t i, const void *elem);

/**
 * @brief Removes element i, copying it to out first (out may be NULL), and moves the elements
 *        after it down by one.
 * @return 0, or QUIRE_ERANGE (i >= length), QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_remove(quire_pvec *v, size_t i, void *out);

/**
 * @brief Makes room for at least `additional` more elements without further growth.
 * @return 0, or QUIRE_EOVERFLOW, QUIRE_ENOMEM, QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_reserve(quire_pvec *v, size_t additional);

/**
 * @brief Sets the length to n: new elements read as zero; elements past n are dropped.
 * @return 0, or QUIRE_EOVERFLOW, QUIRE_ENOMEM, QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_resize(quire_pvec *v, size_t n);

/**
 * @brief Shrinks the mapping to the pages the elements need (unmapping it entirely when the
 *        vector is empty). Never copies.
 * @return 0, or QUIRE_ENOMEM (the kernel could not split the mapping), QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_shrink_to_fit(quire_pvec *v);

/** @brief Sets the length to 0, keeping the capacity and the memory. */
QUIRE_API void quire_pvec_clear(quire_pvec *v);

/**
 * @brief Sets the length to 0 and returns every page to the system (MADV_DONTNEED), keeping
 *        the capacity: the memory is faulted in again, zeroed, as elements are pushed.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_clear_and_decommit(quire_pvec *v);

/**
 * @brief Returns the whole pages past the last element to the system (MADV_DONTNEED), keeping
 *        the capacity.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_pvec_decommit_unused(quire_pvec *v);

/**
 * @brief Gives the kernel an access hint for the vector's whole mapping.
 * @param advice one of enum quire_pages_advice (quire/pages.h).
 * @return 0 (also when nothing is mapped yet), or QUIRE_EINVAL (unknown advice), QUIRE_ENOTSUP
 *         (hint unknown to this kernel, e.g. huge pages disabled).
 */
QUIRE_API int quire_pvec_advise(quire_pvec *v, int advice);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_PVEC_H */
