/*
 * pages/internal.h - internals of the pages layer shared by its modules (typed pages, JIT,
 * rings, mapped files, paged vectors, raw memory).
 *
 * Glossary
 *   region   struct quire_pages_region_: [addr_, addr_+size_) usable, with guard_ bytes of guard
 *            before and after; the whole mapping is [addr_-guard_, addr_+size_+guard_).
 *   consumed addr_ == 0: the handle was freed or passed to a transition.
 * Invariants: size_ and guard_ are multiples of the page size; guard_ is 0 or one page;
 *   Q_RF_SEALED implies every later change is refused before any system call is made.
 */
#ifndef QUIRE_PAGES_INTERNAL_H
#define QUIRE_PAGES_INTERNAL_H

#include "pages/prim.h"
#include "quire/pages.h"

/* Bits of quire_pages_region_.flags_ (Q_RF_SEALED must match quire_pages_is_sealed). */
enum {
    Q_RF_GUARD_MADV = 0x1, /* guards are MADV_GUARD_INSTALL markers, not PROT_NONE pages */
    Q_RF_HUGE = 0x2,       /* region was aligned for huge pages */
    Q_RF_SEALED = 0x4,     /* mseal'ed: never change again */
    Q_RF_LOCKED = 0x8,     /* mlock'ed */
};

/* Wraps a raw mapping into a region value (the caller owns the mapping). */
static inline struct quire_pages_region_ q_pages_region(void *addr, size_t size, size_t guard,
                                                        unsigned flags) {
    struct quire_pages_region_ r = {(uintptr_t)addr, size, guard, flags};
    return r;
}

/* Start and length of the whole mapping including guards. */
static inline void *q_pages_map_base(const struct quire_pages_region_ *r) {
    return (void *)(r->addr_ - r->guard_);
}
static inline size_t q_pages_map_len(const struct quire_pages_region_ *r) {
    return r->size_ + 2 * r->guard_;
}

/* pages.c: regions */

/* Maps a region of `size` usable bytes with protection `prot` and quire_pages_flags. */
int q_pages_map(size_t size, int prot, unsigned flags, struct quire_pages_region_ *out);
/* Changes the protection of a live region (checks consumed/sealed first). */
int q_pages_protect(struct quire_pages_region_ *r, int prot);
/* Unmaps a region and clears it (checks consumed/sealed first). */
int q_pages_unmap(struct quire_pages_region_ *r);

/* ---------------------------------------------------------------------------------------------
 * Testing switches (tests/unit/test_pages.c, test_jit.c): fallback paths stay tested on
 * systems that would never take them
 * ------------------------------------------------------------------------------------------- */

/* pages.c: when non-zero, guards are PROT_NONE pages even where the kernel has
 * MADV_GUARD_INSTALL. */
extern int q_pages_force_prot_guards;

/* jit.c: on != 0 makes every RW->RX mprotect of a JIT buffer count as refused by the system
 * (QUIRE_EACCES, without calling mprotect), exactly like QUIRE_JIT_FORCE_DUAL=1; 0 turns the
 * simulation off. Either way the process's remembered probe result is forgotten. */
void q_pages_jit_test_refuse_rx(int on);

#endif
