/*
 * preload/override_cxx.c - interposes every C++ operator new and delete (plain, array, nothrow,
 * sized, aligned) so that C++ programs never mix quire's blocks with another allocator's.
 *
 * Written in C with the Itanium-ABI mangled names (x86-64/aarch64 LP64: size_t is `m`,
 * std::align_val_t is `St11align_val_t`) so that libquire.so does not depend on libstdc++: the
 * libstdc++ functions needed for the standard's failure semantics (std::get_new_handler and
 * std::__throw_bad_alloc) are weak references, present exactly when a C++ program loaded
 * libstdc++. Throwing forms call the new-handler until it gives up, then throw std::bad_alloc;
 * nothrow forms call it too and return NULL when there is none or it throws (new_handler.cc,
 * the one piece that must catch a C++ exception).
 *
 * Each form tells the engine how the block was made (enum q_kind) and how it is released:
 * sized deletes are checked against the block on the fast path (a size of another class is
 * reported), and QUIRE_SECURE, which records every block's kind, reports a delete that does
 * not match its new (delete of new[], delete[] of new, either of malloc).
 */
#include <stddef.h>

#include "alloc/internal.h"

#define Q_EXPORT __attribute__((visibility("default")))

typedef void (*q_new_handler)(void);
extern q_new_handler _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* new_handler.cc: the nothrow forms' handler loop (NULL when given up). */
void *q_new_nothrow_retry(size_t n, size_t align, unsigned kind) Q_HIDDEN;

static inline void *alloc_k(size_t n, size_t align, unsigned kind) {
    if (align <= Q_GRANULE) return q_malloc_kind_inline(n, kind);
    return q_alloc_aligned(align, n, kind);
}

/* Throwing operator new after a failed allocation: new-handler loop, then std::bad_alloc. */
__attribute__((noinline)) static void *new_fail(size_t n, size_t align, unsigned kind) {
    for (;;) {
        q_new_handler h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
        if (!h) break;
        h();
        void *p = alloc_k(n, align, kind);
        if (p) return p;
    }
    if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
    q_report_invalid("operator new", NULL, "out of memory and no std::bad_alloc to throw");
}

static inline void *new_t(size_t n, size_t align, unsigned kind) {
    void *p = alloc_k(n, align, kind);
    return Q_LIKELY(p != NULL) ? p : new_fail(n, align, kind);
}

static inline void *new_nt(size_t n, size_t align, unsigned kind) {
    void *p = alloc_k(n, align, kind);
    return Q_LIKELY(p != NULL) ? p : q_new_nothrow_retry(n, align, kind);
}

/* operator new / new[] */
Q_EXPORT void *_Znwm(size_t n) {
    return new_t(n, 0, Q_KIND_NEW);
}
Q_EXPORT void *_Znam(size_t n) {
    return new_t(n, 0, Q_KIND_NEW_ARRAY);
}
Q_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) {
    (void)nt;
    return new_nt(n, 0, Q_KIND_NEW);
}
Q_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) {
    (void)nt;
    return new_nt(n, 0, Q_KIND_NEW_ARRAY);
}
Q_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) {
    return new_t(n, al, Q_KIND_NEW);
}
Q_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) {
    return new_t(n, al, Q_KIND_NEW_ARRAY);
}
Q_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) {
    (void)nt;
    return new_nt(n, al, Q_KIND_NEW);
}
Q_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) {
    (void)nt;
    return new_nt(n, al, Q_KIND_NEW_ARRAY);
}

/* Sized delete of an over-aligned block: the class aligned new chose for (n, al). */
static inline void delete_sized_aligned(void *p, size_t n, size_t al, unsigned kind) {
    if (al <= Q_GRANULE)
        q_free_fast(p, kind, 1, n);
    else
        q_free_sized_slow(kind == Q_KIND_NEW ? "operator delete" : "operator delete[]", p, kind, n,
                          al, Q_SIZED_ALIGNED);
}

/* operator delete / delete[] */
Q_EXPORT void _ZdlPv(void *p) {
    q_free_fast(p, Q_KIND_NEW, 0, 0);
}
Q_EXPORT void _ZdaPv(void *p) {
    q_free_fast(p, Q_KIND_NEW_ARRAY, 0, 0);
}
Q_EXPORT void _ZdlPvm(void *p, size_t n) {
    q_free_fast(p, Q_KIND_NEW, 1, n);
}
Q_EXPORT void _ZdaPvm(void *p, size_t n) {
    q_free_fast(p, Q_KIND_NEW_ARRAY, 1, n);
}
Q_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    q_free_fast(p, Q_KIND_NEW, 0, 0);
}
Q_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    q_free_fast(p, Q_KIND_NEW_ARRAY, 0, 0);
}
Q_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) {
    (void)al;
    q_free_fast(p, Q_KIND_NEW, 0, 0);
}
Q_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) {
    (void)al;
    q_free_fast(p, Q_KIND_NEW_ARRAY, 0, 0);
}
Q_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) {
    delete_sized_aligned(p, n, al, Q_KIND_NEW);
}
Q_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) {
    delete_sized_aligned(p, n, al, Q_KIND_NEW_ARRAY);
}
Q_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)al;
    (void)nt;
    q_free_fast(p, Q_KIND_NEW, 0, 0);
}
Q_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)al;
    (void)nt;
    q_free_fast(p, Q_KIND_NEW_ARRAY, 0, 0);
}
