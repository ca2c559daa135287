/*
 * pages/pages.c - typed page regions (quire/pages.h): creation with guards and huge-page
 * alignment, permission transitions that consume their handle, decommit, resize with mremap,
 * hints, locking and sealing.
 *
 * Every system call goes through pages/prim.h and every result is checked: a transition whose
 * mprotect fails leaves the old handle valid and returns the error.
 */
#define QUIRE_UNSAFE /* this file defines the unsafe escape hatch */
#include "pages/internal.h"

#include <string.h>

#define Q_FLAGS_ALL                                                                                \
    (QUIRE_PAGES_GUARD | QUIRE_PAGES_POPULATE | QUIRE_PAGES_HUGE | QUIRE_PAGES_NORESERVE)

size_t quire_page_size(void) {
    return q_os_page_size();
}

size_t quire_huge_page_size(void) {
    return q_os_huge_page_size();
}

size_t quire_page_round(size_t n) {
    return n ? q_os_page_round(n) : 0;
}

/* Checks that a region may still change. */
static int live(const struct quire_pages_region_ *r) {
    if (!r) return QUIRE_EINVAL;
    if (r->addr_ == 0) return QUIRE_ECONSUMED;
    return 0;
}

static int changeable(const struct quire_pages_region_ *r) {
    int rc = live(r);
    if (rc) return rc;
    if (r->flags_ & Q_RF_SEALED) return QUIRE_ESEALED;
    return 0;
}

/* Makes [addr, addr+len) a guard: MADV_GUARD_INSTALL if the kernel has it, else PROT_NONE. */
int q_pages_force_prot_guards;

static int install_guard(void *addr, size_t len, unsigned *flags) {
    int rc =
        q_pages_force_prot_guards ? QUIRE_ENOTSUP : q_os_advise(addr, len, Q_ADV_GUARD_INSTALL);
    if (rc == 0) {
        *flags |= Q_RF_GUARD_MADV;
        return 0;
    }
    *flags &= ~(unsigned)Q_RF_GUARD_MADV;
    return q_os_protect(addr, len, Q_PROT_NONE);
}

/* Turns a guard back into ordinary zeroed memory with protection prot. */
static int remove_guard(void *addr, size_t len, unsigned flags, int prot) {
    if (flags & Q_RF_GUARD_MADV) {
        int rc = q_os_advise(addr, len, Q_ADV_GUARD_REMOVE);
        if (rc) return rc;
        if (prot == (Q_PROT_READ | Q_PROT_WRITE)) return 0;
    }
    return q_os_protect(addr, len, prot);
}

int q_pages_map(size_t size, int prot, unsigned flags, struct quire_pages_region_ *out) {
    if (!out || size == 0 || (flags & ~(unsigned)Q_FLAGS_ALL)) return QUIRE_EINVAL;
    size_t ps = q_os_page_size();
    size_t align = ps;
    unsigned rf = 0;
    if (flags & QUIRE_PAGES_HUGE) {
        align = q_os_huge_page_size();
        if (align < ps) return QUIRE_ENOTSUP;
        rf |= Q_RF_HUGE;
    }
    if (size > SIZE_MAX - align) return QUIRE_EOVERFLOW;
    size = (size + align - 1) & ~(align - 1);
    size_t guard = (flags & QUIRE_PAGES_GUARD) ? ps : 0;
    size_t slack = align > ps ? align - ps : 0;
    if (size > SIZE_MAX - 2 * guard - slack) return QUIRE_EOVERFLOW;
    size_t total = size + 2 * guard + slack;

    int mflags = 0;
    if ((flags & QUIRE_PAGES_NORESERVE) || prot == Q_PROT_NONE) mflags |= Q_MAP_NORESERVE;
    void *base = NULL;
    int rc = q_os_map(&base, total, prot, mflags, -1, 0);
    if (rc) return rc;

    /* Place the usable part on `align`, with the guard just before; trim the slack. */
    uintptr_t start = ((uintptr_t)base + guard + align - 1) & ~(uintptr_t)(align - 1);
    uintptr_t map_start = start - guard;
    uintptr_t map_end = start + size + guard;
    if (map_start > (uintptr_t)base) q_os_unmap(base, map_start - (uintptr_t)base);
    if ((uintptr_t)base + total > map_end)
        q_os_unmap((void *)map_end, (uintptr_t)base + total - map_end);

    if (guard) {
        rc = install_guard((void *)map_start, guard, &rf);
        if (rc == 0) rc = install_guard((void *)(start + size), guard, &rf);
        if (rc) {
            q_os_unmap((void *)map_start, map_end - map_start);
            return rc;
        }
    }
    if (flags & QUIRE_PAGES_HUGE) q_os_advise((void *)start, size, Q_ADV_HUGEPAGE);
    *out = q_pages_region((void *)start, size, guard, rf);
    if ((flags & QUIRE_PAGES_POPULATE) && prot != Q_PROT_NONE) {
        rc = quire_pages_populate_(out, (prot & Q_PROT_WRITE) != 0);
        if (rc) {
            q_os_unmap((void *)map_start, map_end - map_start);
            memset(out, 0, sizeof *out);
            return rc;
        }
    }
    return 0;
}

int q_pages_protect(struct quire_pages_region_ *r, int prot) {
    int rc = changeable(r);
    if (rc) return rc;
    return q_os_protect((void *)r->addr_, r->size_, prot);
}

int q_pages_unmap(struct quire_pages_region_ *r) {
    int rc = changeable(r);
    if (rc) return rc;
    rc = q_os_unmap(q_pages_map_base(r), q_pages_map_len(r));
    if (rc) return rc;
    memset(r, 0, sizeof *r);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Creating and freeing
 * ------------------------------------------------------------------------------------------- */

int quire_pages_alloc_rw_(size_t size, unsigned flags, quire_pages_rw *out) {
    if (!out) return QUIRE_EINVAL;
    return q_pages_map(size, Q_PROT_READ | Q_PROT_WRITE, flags, &out->r_);
}

int quire_pages_alloc_none_(size_t size, unsigned flags, quire_pages_none *out) {
    if (!out) return QUIRE_EINVAL;
    return q_pages_map(size, Q_PROT_NONE, flags | QUIRE_PAGES_NORESERVE, &out->r_);
}

int quire_pages_free_rw_(quire_pages_rw *h) {
    return h ? q_pages_unmap(&h->r_) : QUIRE_EINVAL;
}
int quire_pages_free_ro_(quire_pages_ro *h) {
    return h ? q_pages_unmap(&h->r_) : QUIRE_EINVAL;
}
int quire_pages_free_rx_(quire_pages_rx *h) {
    return h ? q_pages_unmap(&h->r_) : QUIRE_EINVAL;
}
int quire_pages_free_none_(quire_pages_none *h) {
    return h ? q_pages_unmap(&h->r_) : QUIRE_EINVAL;
}

/* ---------------------------------------------------------------------------------------------
 * Transitions: one checked mprotect, then the old handle is consumed
 * ------------------------------------------------------------------------------------------- */

#define Q_TRANSITION(FROM, TO, PROT)                                                               \
    int quire_pages_##FROM##_to_##TO##_(quire_pages_##FROM *from, quire_pages_##TO *to) {          \
        if (!from || !to) return QUIRE_EINVAL;                                                     \
        int rc = q_pages_protect(&from->r_, (PROT));                                               \
        if (rc) return rc;                                                                         \
        to->r_ = from->r_;                                                                         \
        memset(&from->r_, 0, sizeof from->r_);                                                     \
        return 0;                                                                                  \
    }

#define Q_RW (Q_PROT_READ | Q_PROT_WRITE)
#define Q_RO (Q_PROT_READ)
#define Q_RX (Q_PROT_READ | Q_PROT_EXEC)

Q_TRANSITION(rw, ro, Q_RO)
Q_TRANSITION(rw, rx, Q_RX)
Q_TRANSITION(rw, none, Q_PROT_NONE)
Q_TRANSITION(ro, rw, Q_RW)
Q_TRANSITION(ro, rx, Q_RX)
Q_TRANSITION(ro, none, Q_PROT_NONE)
Q_TRANSITION(rx, rw, Q_RW)
Q_TRANSITION(rx, ro, Q_RO)
Q_TRANSITION(rx, none, Q_PROT_NONE)
Q_TRANSITION(none, rw, Q_RW)
Q_TRANSITION(none, ro, Q_RO)
Q_TRANSITION(none, rx, Q_RX)

/* ---------------------------------------------------------------------------------------------
 * Writable-only operations
 * ------------------------------------------------------------------------------------------- */

/* Resolves (offset, length) against a region; length 0 means "to the end". */
static int range_of(const struct quire_pages_region_ *r, size_t offset, size_t *length) {
    size_t ps = q_os_page_size();
    if ((offset & (ps - 1)) || (*length & (ps - 1))) return QUIRE_EINVAL;
    if (offset > r->size_) return QUIRE_ERANGE;
    if (*length == 0) *length = r->size_ - offset;
    if (*length > r->size_ - offset) return QUIRE_ERANGE;
    return 0;
}

int quire_pages_rw_decommit_(quire_pages_rw *h, size_t offset, size_t length) {
    if (!h) return QUIRE_EINVAL;
    int rc = changeable(&h->r_);
    if (rc == 0) rc = range_of(&h->r_, offset, &length);
    if (rc || length == 0) return rc;
    return q_os_advise((void *)(h->r_.addr_ + offset), length, Q_ADV_DONTNEED);
}

/* Grows a guarded region in place: maps the space after the trailing guard, turns the old
 * trailing guard into memory and installs a new guard at the new end. */
static int grow_guarded_in_place(struct quire_pages_region_ *r, size_t new_size) {
    size_t g = r->guard_;
    uintptr_t old_end = r->addr_ + r->size_ + g;
    void *extra = (void *)old_end;
    int rc = q_os_map(&extra, new_size - r->size_, Q_RW, Q_MAP_FIXED_NOREPLACE, -1, 0);
    if (rc) return rc == QUIRE_EEXIST ? QUIRE_ENOMEM : rc;
    unsigned flags = r->flags_;
    rc = install_guard((void *)(r->addr_ + new_size), g, &flags);
    if (rc == 0) rc = remove_guard((void *)(r->addr_ + r->size_), g, r->flags_, Q_RW);
    if (rc) {
        q_os_unmap(extra, new_size - r->size_);
        return rc;
    }
    /* The guard kind may differ between the two ends only if the kernel changed mid-way;
     * keep the conservative bit (PROT_NONE guards are removed by mprotect, which also works). */
    r->flags_ = (r->flags_ & flags) | (flags & ~(unsigned)Q_RF_GUARD_MADV);
    r->size_ = new_size;
    return 0;
}

/* Moves a guarded region to a fresh guarded mapping of new_size (no copying: mremap). */
static int grow_guarded_moving(struct quire_pages_region_ *r, size_t new_size) {
    struct quire_pages_region_ n;
    int rc = q_pages_map(new_size, Q_RW, QUIRE_PAGES_GUARD, &n);
    if (rc) return rc;
    void *dst = (void *)n.addr_;
    rc = q_os_remap((void *)r->addr_, r->size_, r->size_, Q_REMAP_FIXED, &dst);
    if (rc) {
        q_pages_unmap(&n);
        return rc;
    }
    /* The usable pages moved; what is left of the old mapping is its two guards. */
    q_os_unmap((void *)(r->addr_ - r->guard_), r->guard_);
    q_os_unmap((void *)(r->addr_ + r->size_), r->guard_);
    n.flags_ |= r->flags_ & (Q_RF_LOCKED | Q_RF_HUGE);
    *r = n;
    return 0;
}

int quire_pages_rw_resize_(quire_pages_rw *h, size_t new_size, unsigned flags) {
    if (!h || new_size == 0 || (flags & ~(unsigned)QUIRE_RESIZE_MAYMOVE)) return QUIRE_EINVAL;
    struct quire_pages_region_ *r = &h->r_;
    int rc = changeable(r);
    if (rc) return rc;
    size_t rounded = q_os_page_round(new_size);
    if (rounded == 0) return QUIRE_EOVERFLOW;
    if (rounded == r->size_) return 0;
    size_t g = r->guard_;
    if (g == 0) {
        void *out = NULL;
        rc = q_os_remap((void *)r->addr_, r->size_, rounded,
                        (flags & QUIRE_RESIZE_MAYMOVE) ? Q_REMAP_MAYMOVE : 0, &out);
        if (rc) return rc;
        r->addr_ = (uintptr_t)out;
        r->size_ = rounded;
        return 0;
    }
    if (rounded < r->size_) {
        /* Shrink: the first dropped page becomes the trailing guard, the rest is unmapped. */
        unsigned f = r->flags_;
        rc = install_guard((void *)(r->addr_ + rounded), g, &f);
        if (rc) return rc;
        q_os_unmap((void *)(r->addr_ + rounded + g), r->size_ - rounded);
        r->size_ = rounded;
        return 0;
    }
    rc = grow_guarded_in_place(r, rounded);
    if (rc == QUIRE_ENOMEM && (flags & QUIRE_RESIZE_MAYMOVE)) rc = grow_guarded_moving(r, rounded);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Operations on any kind
 * ------------------------------------------------------------------------------------------- */

int quire_pages_advise_(const struct quire_pages_region_ *r, size_t offset, size_t length,
                        int advice) {
    static const enum q_advice map[] = {
        [QUIRE_ADVICE_NORMAL] = Q_ADV_NORMAL,     [QUIRE_ADVICE_SEQUENTIAL] = Q_ADV_SEQUENTIAL,
        [QUIRE_ADVICE_RANDOM] = Q_ADV_RANDOM,     [QUIRE_ADVICE_WILLNEED] = Q_ADV_WILLNEED,
        [QUIRE_ADVICE_HUGEPAGE] = Q_ADV_HUGEPAGE, [QUIRE_ADVICE_NOHUGEPAGE] = Q_ADV_NOHUGEPAGE,
        [QUIRE_ADVICE_DONTDUMP] = Q_ADV_DONTDUMP, [QUIRE_ADVICE_DODUMP] = Q_ADV_DODUMP,
    };
    int rc = live(r);
    if (rc) return rc;
    if (advice < 0 || (size_t)advice >= sizeof map / sizeof map[0]) return QUIRE_EINVAL;
    rc = range_of(r, offset, &length);
    if (rc || length == 0) return rc;
    rc = q_os_advise((void *)(r->addr_ + offset), length, map[advice]);
    /* Huge-page advice fails with EINVAL when THP is compiled out or disabled. */
    if (rc == QUIRE_EINVAL &&
        (advice == QUIRE_ADVICE_HUGEPAGE || advice == QUIRE_ADVICE_NOHUGEPAGE))
        return QUIRE_ENOTSUP;
    return rc;
}

int quire_pages_populate_(const struct quire_pages_region_ *r, int write) {
    int rc = live(r);
    if (rc) return rc;
    if (write < 0) return QUIRE_EINVAL;
    rc =
        q_os_advise((void *)r->addr_, r->size_, write ? Q_ADV_POPULATE_WRITE : Q_ADV_POPULATE_READ);
    if (rc != QUIRE_ENOTSUP) return rc;
    /* Kernels before 5.14: touch every page. */
    size_t ps = q_os_page_size();
    for (size_t off = 0; off < r->size_; off += ps) {
        volatile unsigned char *p = (volatile unsigned char *)(r->addr_ + off);
        unsigned char v = *p;
        if (write) *p = v;
    }
    return 0;
}

int quire_pages_lock_(struct quire_pages_region_ *r, int lock) {
    int rc = live(r);
    if (rc) return rc;
    rc = lock ? q_os_lock((void *)r->addr_, r->size_) : q_os_unlock((void *)r->addr_, r->size_);
    if (rc) return rc;
    if (lock)
        r->flags_ |= Q_RF_LOCKED;
    else
        r->flags_ &= ~(unsigned)Q_RF_LOCKED;
    return 0;
}

int quire_pages_seal_(struct quire_pages_region_ *r) {
    int rc = changeable(r);
    if (rc) return rc;
    rc = q_os_seal(q_pages_map_base(r), q_pages_map_len(r));
    if (rc) return rc;
    r->flags_ |= Q_RF_SEALED;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Unsafe escape hatch (declared unavailable unless QUIRE_UNSAFE is defined by the user)
 * ------------------------------------------------------------------------------------------- */

void *quire_pages_unsafe_ptr(const struct quire_pages_region_ *r) {
    return r ? (void *)r->addr_ : NULL;
}

int quire_pages_unsafe_make_rwx_(quire_pages_rw *h) {
    if (!h) return QUIRE_EINVAL;
    return q_pages_protect(&h->r_, Q_PROT_READ | Q_PROT_WRITE | Q_PROT_EXEC);
}

int quire_pages_unsafe_adopt_rw_(void *addr, size_t size, quire_pages_rw *out) {
    size_t ps = q_os_page_size();
    if (!addr || !out || size == 0 || ((uintptr_t)addr & (ps - 1)) || (size & (ps - 1)))
        return QUIRE_EINVAL;
    out->r_ = q_pages_region(addr, size, 0, 0);
    return 0;
}
