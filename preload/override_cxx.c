/*
 * preload/override_cxx.c - interposes every C++ operator new and delete (plain, array, nothrow,
 * sized, aligned) so that C++ programs never mix quire's blocks with another allocator's.
 *
 * Written in C with the Itanium-ABI mangled names (x86-64/aarch64 LP64: size_t is `m`,
 * std::align_val_t is `St11align_val_t`) so that libquire.so does not depend on libstdc++: the
 * two libstdc++ functions needed for the standard's failure semantics (std::get_new_handler and
 * std::__throw_bad_alloc) are weak references, present exactly when a C++ program loaded
 * libstdc++. Throwing forms call the new-handler until it gives up, then throw std::bad_alloc;
 * nothrow forms return NULL without calling the handler (a handler that throws could not be
 * caught here).
 */
#include <stddef.h>

#include "alloc/internal.h"

#define Q_EXPORT __attribute__((visibility("default")))

typedef void (*q_new_handler)(void);
extern q_new_handler _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

static void *alloc_a(size_t n, size_t align) {
    if (align <= 16) return q_malloc_inline(n);
    void *p = NULL;
    return q_posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n) == 0 ? p : NULL;
}

/* Throwing operator new after a failed allocation: new-handler loop, then std::bad_alloc. */
__attribute__((noinline)) static void *new_fail(size_t n, size_t align) {
    for (;;) {
        q_new_handler h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
        if (!h) break;
        h();
        void *p = alloc_a(n, align);
        if (p) return p;
    }
    if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
    q_report_invalid("operator new", NULL, "out of memory and no std::bad_alloc to throw");
}

static inline void *new_t(size_t n) {
    void *p = q_malloc_inline(n);
    return Q_LIKELY(p != NULL) ? p : new_fail(n, 0);
}

static inline void *new_at(size_t n, size_t align) {
    void *p = alloc_a(n, align);
    return Q_LIKELY(p != NULL) ? p : new_fail(n, align);
}

/* operator new / new[] */
Q_EXPORT void *_Znwm(size_t n) {
    return new_t(n);
}
Q_EXPORT void *_Znam(size_t n) {
    return new_t(n);
}
Q_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) {
    (void)nt;
    return q_malloc_inline(n);
}
Q_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) {
    (void)nt;
    return q_malloc_inline(n);
}
Q_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t al) {
    return new_at(n, al);
}
Q_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t al) {
    return new_at(n, al);
}
Q_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) {
    (void)nt;
    return alloc_a(n, al);
}
Q_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *nt) {
    (void)nt;
    return alloc_a(n, al);
}

/* operator delete / delete[] */
Q_EXPORT void _ZdlPv(void *p) {
    q_free_inline(p);
}
Q_EXPORT void _ZdaPv(void *p) {
    q_free_inline(p);
}
Q_EXPORT void _ZdlPvm(void *p, size_t n) {
    (void)n;
    q_free_inline(p);
}
Q_EXPORT void _ZdaPvm(void *p, size_t n) {
    (void)n;
    q_free_inline(p);
}
Q_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    q_free_inline(p);
}
Q_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    q_free_inline(p);
}
Q_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) {
    (void)al;
    q_free_inline(p);
}
Q_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) {
    (void)al;
    q_free_inline(p);
}
Q_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) {
    (void)n;
    (void)al;
    q_free_inline(p);
}
Q_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) {
    (void)n;
    (void)al;
    q_free_inline(p);
}
Q_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)al;
    (void)nt;
    q_free_inline(p);
}
Q_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)al;
    (void)nt;
    q_free_inline(p);
}
