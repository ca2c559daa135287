/*
 * alloc/api.c - the public malloc family (quire_malloc, ...): POSIX and glibc semantics on top
 * of the engine's fast paths.
 *
 * Each quire_* function has a hidden alias q_* (internal.h) that the preload layer calls, so the
 * interposed malloc reaches the engine without a PLT hop.
 *
 * Instruction budget of the fast paths (x86-64, gcc 12 -O2; the preloaded malloc and free in
 * preload/override.c expand q_malloc_inline/q_free_inline in place, with no jump): malloc 25
 * and free 37 instructions including the return. `bench/workloads/pairloop.c` under callgrind
 * measures 79 per malloc(16)/free pair and 92 for its mixed working set (mimalloc 2.0:
 * 114 and 73), loop included.
 */
#include <errno.h>
#include <string.h>

#include "alloc/internal.h"

#define Q_ALIAS(name) __attribute__((alias(name)))

QUIRE_API void *quire_malloc(size_t size) {
    return q_malloc_inline(size);
}
extern __typeof__(quire_malloc) q_malloc Q_ALIAS("quire_malloc");

QUIRE_API void quire_free(void *p) {
    q_free_inline(p);
}
extern __typeof__(quire_free) q_free Q_ALIAS("quire_free");

QUIRE_API void *quire_calloc(size_t n, size_t size) {
    size_t total;
    if (Q_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (Q_LIKELY(total <= Q_SMALL_MAX)) {
        void *p = q_malloc_inline(total);
        if (Q_LIKELY(p != NULL)) memset(p, 0, total);
        return p;
    }
    return q_alloc_generic(total, 0, 1, Q_KIND_MALLOC);
}
extern __typeof__(quire_calloc) q_calloc Q_ALIAS("quire_calloc");

/* Whether a block of `usable` bytes may stay where it is when resized to `size`. */
static inline int fits_in_place(size_t size, size_t usable) {
    return size <= usable && (size >= usable / 2 || usable <= 128);
}

static void *realloc_default(void *p, size_t size);

/* realloc keeps errno on success whatever system call failed inside it (mremap refused, a
   purge's madvise...), and sets ENOMEM when it fails. */
QUIRE_API void *quire_realloc(void *p, size_t size) {
    int saved = errno;
    q_process_ready();
    void *n = size > PTRDIFF_MAX         ? NULL
              : Q_UNLIKELY(q_opt.secure) ? q_secure_realloc(p, size)
                                         : realloc_default(p, size);
    errno = n || (p && size == 0) ? saved : ENOMEM;
    return n;
}
extern __typeof__(quire_realloc) q_realloc Q_ALIAS("quire_realloc");

static void *realloc_default(void *p, size_t size) {
    if (!p) return q_malloc_inline(size);
    if (size == 0) {
        q_free_inline(p);
        return NULL;
    }
    uintptr_t a = (uintptr_t)p;
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) {
        size_t usable = q_block_usable("realloc", p);
        if (fits_in_place(size, usable)) return p;
        void *n = q_malloc_inline(size);
        if (!n) return NULL;
        memcpy(n, p, size < usable ? size : usable);
        q_free_inline(p);
        return n;
    }
    if (size > Q_MEDIUM_MAX) {
        int saved = errno;
        void *out;
        int rc = q_large_realloc(p, size, &out);
        if (rc == 0) {
            errno = saved;
            return out;
        }
        if (rc < 0) q_report_invalid("realloc", p, "pointer not allocated by quire");
        /* mremap refused (out of address space, or the program split the mapping with
           mprotect): move the block by copy, as below. */
        errno = saved;
    }
    size_t usable = q_large_usable(p);
    if (!usable) q_report_invalid("realloc", p, "pointer not allocated by quire");
    void *n = q_malloc_inline(size);
    if (!n) return NULL;
    memcpy(n, p, size < usable ? size : usable);
    q_large_free("realloc", p, Q_KIND_MALLOC, 0, 0, Q_UNSIZED);
    return n;
}

QUIRE_API void *quire_reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return quire_realloc(p, total);
}
extern __typeof__(quire_reallocarray) q_reallocarray Q_ALIAS("quire_reallocarray");

/* Aligned allocation for a valid power-of-two alignment (kind: operator new's aligned forms
   pass theirs). */
void *q_alloc_aligned(size_t align, size_t size, unsigned kind) {
    q_process_ready();
    if (Q_UNLIKELY(q_opt.secure)) return q_alloc_generic(size, align, 0, kind);
    if (align <= Q_GRANULE) return q_malloc_kind_inline(size, kind);
    if (align <= Q_SMALL_MAX && size <= Q_SMALL_MAX) {
        /* The class of a multiple of align is itself a multiple of align (classes are
           multiples of their step, and a multiple of align at least the step is a class
           boundary), and slabs start on 64 KiB boundaries: every slot is aligned. */
        size_t need = ((size > align ? size : align) + align - 1) & ~(align - 1);
        if (need <= Q_SMALL_MAX) return q_malloc_kind_inline(need, kind);
    }
    return q_alloc_generic(size, align, 0, kind);
}

static inline void *alloc_aligned(size_t align, size_t size) {
    return q_alloc_aligned(align, size, Q_KIND_MALLOC);
}

QUIRE_API int quire_posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    int saved = errno;
    void *p = alloc_aligned(align, size);
    errno = saved;
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
extern __typeof__(quire_posix_memalign) q_posix_memalign Q_ALIAS("quire_posix_memalign");

QUIRE_API void *quire_aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(align, size);
}
extern __typeof__(quire_aligned_alloc) q_aligned_alloc Q_ALIAS("quire_aligned_alloc");

QUIRE_API void *quire_memalign(size_t align, size_t size) {
    /* glibc's semantics: an alignment above the largest power of two is EINVAL; any other that
     * is not a power of two is rounded up to the next one (0 and small ones give malloc's). */
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if ((align & (align - 1)) != 0)
        align = (size_t)1 << (sizeof(size_t) * 8 - (size_t)__builtin_clzl((unsigned long)align));
    return alloc_aligned(align, size);
}
extern __typeof__(quire_memalign) q_memalign Q_ALIAS("quire_memalign");

QUIRE_API void *quire_valloc(size_t size) {
    return alloc_aligned(q_os_page_size(), size);
}
extern __typeof__(quire_valloc) q_valloc Q_ALIAS("quire_valloc");

QUIRE_API void *quire_pvalloc(size_t size) {
    size_t ps = q_os_page_size();
    if (size > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = size ? (size + ps - 1) & ~(ps - 1) : ps;
    return alloc_aligned(ps, n);
}
extern __typeof__(quire_pvalloc) q_pvalloc Q_ALIAS("quire_pvalloc");

QUIRE_API size_t quire_malloc_usable_size(const void *p) {
    if (!p) return 0;
    return q_block_usable("malloc_usable_size", p);
}
extern __typeof__(quire_malloc_usable_size)
    q_malloc_usable_size Q_ALIAS("quire_malloc_usable_size");

QUIRE_API void quire_free_sized(void *p, size_t size) {
    q_free_sized_slow("free_sized", p, Q_KIND_MALLOC, size, 0, Q_SIZED);
}
extern __typeof__(quire_free_sized) q_free_sized Q_ALIAS("quire_free_sized");

QUIRE_API void quire_free_aligned_sized(void *p, size_t align, size_t size) {
    q_free_sized_slow("free_aligned_sized", p, Q_KIND_MALLOC, size, align, Q_SIZED_ALIGNED);
}
extern __typeof__(quire_free_aligned_sized)
    q_free_aligned_sized Q_ALIAS("quire_free_aligned_sized");

QUIRE_API int quire_malloc_trim(size_t pad) {
    (void)pad;
    int saved = errno;
    struct q_heap *h = q_tls_heap;
    if (h != &q_heap_empty && h != &q_heap_dead) {
        q_secure_flush(h); /* QUIRE_SECURE: quarantined blocks become reusable (or purged) */
        q_heap_collect(h, 1);
    }
    int r = q_heap_purge(h, q_os_coarse_ns(), 1);
    errno = saved;
    return r;
}
extern __typeof__(quire_malloc_trim) q_malloc_trim Q_ALIAS("quire_malloc_trim");

/*
 * mallopt: glibc's parameters that mean something for quire act, the others are accepted when
 * glibc would accept them and have no effect (quire's heaps are per thread, its large-block
 * threshold and free-list policy are fixed); unknown ones give 0.
 *   M_TRIM_THRESHOLD (-1): a negative value keeps freed memory (purge_delay_ms=-1); any other
 *                     puts back the default delay.
 *   M_MMAP_THRESHOLD (-3): accepted up to 32 MiB (glibc's limit); blocks above 256 KiB are
 *                     always their own mappings.
 *   M_ARENA_MAX (-8), M_ARENA_TEST (-7): accepted when positive.
 *   M_MXFAST (1), M_TOP_PAD (-2), M_MMAP_MAX (-4), M_CHECK_ACTION (-5): accepted.
 *   M_PERTURB (-6): not supported (0).
 */
QUIRE_API int quire_mallopt(int param, int value) {
    q_process_init();
    switch (param) {
    case -1:
        q_opt.purge_delay_ns = value < 0 ? -1 : 100 * 1000 * 1000;
        return 1;
    case -3:
        return value >= 0 && value <= 32 * 1024 * 1024;
    case -7:
    case -8:
        return value > 0;
    case 1:
        return value >= 0 && value <= 160;
    case -2:
    case -4:
    case -5:
        return 1;
    default:
        return 0;
    }
}
extern __typeof__(quire_mallopt) q_mallopt Q_ALIAS("quire_mallopt");

QUIRE_API void quire_malloc_stats(void) {
    int saved = errno;
    q_stats_print();
    errno = saved;
}
extern __typeof__(quire_malloc_stats) q_malloc_stats Q_ALIAS("quire_malloc_stats");

QUIRE_API int quire_owns(const void *p) {
    return q_block_owned(p);
}
