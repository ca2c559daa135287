/*
 * pages/pvec.c - paged vectors (quire/pvec.h): growth by mremap, never by copying.
 *
 * Invariants: elem_ > 0 for a live vector; bytes_ is 0 (data_ NULL) or a multiple of the
 * granule (the page size, or the huge-page size with QUIRE_PVEC_HUGE); ready_ <= bytes_ is a
 * multiple of the page size; cap_ = bytes_ / elem_ for lazy vectors, else ready_ / elem_ (the
 * push fast path stops at the prefaulted part, and its slow path prefaults the next chunk or
 * grows the mapping); len_ <= bytes_ / elem_ (len_ may exceed cap_ after insert or resize:
 * the fast path then simply takes the slow path).
 *
 * Prefaulting (default): the slow path of push populates [ready_, ready_ + chunk) with
 * MADV_POPULATE_WRITE, chunk = clamp(used / 8, 256 KiB, 64 MiB). The kernel fills the page
 * tables in one loop instead of taking one trap per page, which on a virtual machine is several
 * times faster. A failed populate (a kernel without MADV_POPULATE_WRITE, or no memory at that
 * moment) turns the vector lazy, so a failing madvise is never retried on every push.
 *
 * Growth (grow_bytes): first mremap in place; when the next pages are taken, either
 * mremap(MREMAP_MAYMOVE) (plain vectors) or, for huge-page vectors, mremap(MREMAP_FIXED) into a
 * fresh huge-aligned range, so the moved vector stays aligned and keeps its huge pages. Either
 * way the kernel moves page-table entries; no element is copied.
 */
#include "quire/pvec.h"

#include "pages/prim.h"
#include "quire/pages.h"

#define PVEC_FLAGS (QUIRE_PVEC_HUGE | QUIRE_PVEC_LAZY)
#define CHUNK_MIN  ((size_t)256 << 10)
#define CHUNK_MAX  ((size_t)64 << 20)

static int live(const quire_pvec *v) {
    return v && v->elem_ != 0;
}

/* 1 if the vector uses huge pages. */
static int is_huge(const quire_pvec *v) {
    return (v->flags_ & QUIRE_PVEC_HUGE) != 0;
}

/* The unit mappings are sized in. */
static size_t granule(const quire_pvec *v) {
    if (is_huge(v)) {
        size_t h = q_os_huge_page_size();
        if (h >= q_os_page_size()) return h;
    }
    return q_os_page_size();
}

/* Rounds n up to a multiple of g (a power of two); 0 on overflow. */
static size_t round_to(size_t n, size_t g) {
    if (n > SIZE_MAX - (g - 1)) return 0;
    return (n + g - 1) & ~(g - 1);
}

/* Elements the mapping holds. */
static size_t mapped_cap(const quire_pvec *v) {
    return v->bytes_ / v->elem_;
}

/* Recomputes the push fast-path limit. */
static void set_cap(quire_pvec *v) {
    v->cap_ = (v->flags_ & QUIRE_PVEC_LAZY) ? mapped_cap(v) : v->ready_ / v->elem_;
}

/* Prefaults at least up to byte `need` (and a chunk beyond it) of the mapping. A failure only
 * means the pages will fault on first write: the vector then stops prefaulting. */
static void prefault(quire_pvec *v, size_t need) {
    if ((v->flags_ & QUIRE_PVEC_LAZY) || v->ready_ >= v->bytes_) return;
    size_t chunk = v->ready_ / 8;
    if (chunk < CHUNK_MIN) chunk = CHUNK_MIN;
    if (chunk > CHUNK_MAX) chunk = CHUNK_MAX;
    size_t end = v->ready_ + chunk;
    if (end < need) end = need;
    end = round_to(end, granule(v));
    if (end == 0 || end > v->bytes_) end = v->bytes_;
    int rc = q_os_advise(v->data_ + v->ready_, end - v->ready_, Q_ADV_POPULATE_WRITE);
    if (rc == 0)
        v->ready_ = end;
    else /* no MADV_POPULATE_WRITE, or no memory right now: let the pages fault on demand */
        v->flags_ |= QUIRE_PVEC_LAZY;
    set_cap(v);
}

/* Maps a fresh range of `bytes` (huge-aligned for huge vectors). */
static int map_fresh(const quire_pvec *v, size_t bytes, void **out) {
    if (is_huge(v)) {
        int rc = q_os_map_aligned(out, bytes, granule(v), 0);
        if (rc == 0) (void)q_os_advise(*out, bytes, Q_ADV_HUGEPAGE);
        return rc;
    }
    *out = NULL;
    return q_os_map(out, bytes, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
}

/* Makes the mapping exactly `bytes` long (bytes > bytes_, a multiple of the granule). */
static int grow_bytes(quire_pvec *v, size_t bytes) {
    void *p = NULL;
    int rc;
    if (!v->data_) {
        rc = map_fresh(v, bytes, &p);
    } else {
        rc = q_os_remap(v->data_, v->bytes_, bytes, 0, &p);
        if (rc == 0 && is_huge(v)) (void)q_os_advise(p, bytes, Q_ADV_HUGEPAGE);
        if (rc) {
            if (is_huge(v)) {
                rc = map_fresh(v, bytes, &p);
                if (rc == 0) {
                    void *dst = p;
                    rc = q_os_remap(v->data_, v->bytes_, v->bytes_, Q_REMAP_FIXED, &dst);
                    if (rc)
                        q_os_unmap(p, bytes);
                    else /* one advice over the moved part and the new tail */
                        (void)q_os_advise(p, bytes, Q_ADV_HUGEPAGE);
                }
            } else {
                rc = q_os_remap(v->data_, v->bytes_, bytes, Q_REMAP_MAYMOVE, &p);
            }
        }
    }
    if (rc) return rc;
    v->data_ = p;
    v->bytes_ = bytes;
    set_cap(v);
    return 0;
}

/* Ensures the mapping holds `need` elements, doubling it when it must grow. */
static int ensure(quire_pvec *v, size_t need) {
    if (need <= mapped_cap(v)) return 0;
    if (need > SIZE_MAX / v->elem_) return QUIRE_EOVERFLOW;
    size_t want = need * v->elem_;
    size_t g = granule(v);
    size_t dbl = v->bytes_ > SIZE_MAX / 2 ? SIZE_MAX : v->bytes_ * 2;
    if (dbl > want) want = dbl;
    size_t bytes = round_to(want, g);
    if (bytes == 0) bytes = round_to(need * v->elem_, g); /* doubling overflowed */
    if (bytes == 0) return QUIRE_EOVERFLOW;
    return grow_bytes(v, bytes);
}

int quire_pvec_init(quire_pvec *v, size_t elem_size, size_t capacity, unsigned flags) {
    if (!v || elem_size == 0 || (flags & ~(unsigned)PVEC_FLAGS)) return QUIRE_EINVAL;
    memset(v, 0, sizeof *v);
    if ((flags & QUIRE_PVEC_HUGE) && q_os_huge_page_size() < q_os_page_size()) return QUIRE_ENOTSUP;
    v->elem_ = elem_size;
    v->flags_ = flags;
    if (capacity == 0) return 0;
    if (capacity > SIZE_MAX / elem_size) {
        memset(v, 0, sizeof *v);
        return QUIRE_EOVERFLOW;
    }
    size_t bytes = round_to(capacity * elem_size, granule(v));
    int rc = bytes ? grow_bytes(v, bytes) : QUIRE_EOVERFLOW;
    if (rc) memset(v, 0, sizeof *v);
    return rc;
}

int quire_pvec_destroy(quire_pvec *v) {
    if (!live(v)) return QUIRE_EINVAL;
    int rc = v->data_ ? q_os_unmap(v->data_, v->bytes_) : 0;
    memset(v, 0, sizeof *v);
    return rc;
}

int quire_pvec_push_slot_slow_(quire_pvec *v, void **slot) {
    if (!live(v) || !slot) return QUIRE_EINVAL;
    if (v->len_ == SIZE_MAX) return QUIRE_EOVERFLOW;
    int rc = ensure(v, v->len_ + 1);
    if (rc) return rc;
    prefault(v, (v->len_ + 1) * v->elem_);
    *slot = v->data_ + v->len_++ * v->elem_;
    return 0;
}

int quire_pvec_at(const quire_pvec *v, size_t i, void **out) {
    if (!live(v) || !out) return QUIRE_EINVAL;
    if (i >= v->len_) return QUIRE_ERANGE;
    *out = v->data_ + i * v->elem_;
    return 0;
}

int quire_pvec_pop(quire_pvec *v, void *out) {
    if (!live(v)) return QUIRE_EINVAL;
    if (v->len_ == 0) return QUIRE_ERANGE;
    v->len_--;
    if (out) memcpy(out, v->data_ + v->len_ * v->elem_, v->elem_);
    return 0;
}

int quire_pvec_insert(quire_pvec *v, size_t i, const void *elem) {
    if (!live(v)) return QUIRE_EINVAL;
    if (i > v->len_) return QUIRE_ERANGE;
    if (v->len_ == SIZE_MAX) return QUIRE_EOVERFLOW;
    int rc = ensure(v, v->len_ + 1);
    if (rc) return rc;
    unsigned char *at = v->data_ + i * v->elem_;
    memmove(at + v->elem_, at, (v->len_ - i) * v->elem_);
    if (elem)
        memcpy(at, elem, v->elem_);
    else
        memset(at, 0, v->elem_);
    v->len_++;
    return 0;
}

int quire_pvec_remove(quire_pvec *v, size_t i, void *out) {
    if (!live(v)) return QUIRE_EINVAL;
    if (i >= v->len_) return QUIRE_ERANGE;
    unsigned char *at = v->data_ + i * v->elem_;
    if (out) memcpy(out, at, v->elem_);
    memmove(at, at + v->elem_, (v->len_ - i - 1) * v->elem_);
    v->len_--;
    return 0;
}

int quire_pvec_reserve(quire_pvec *v, size_t additional) {
    if (!live(v)) return QUIRE_EINVAL;
    if (additional > SIZE_MAX - v->len_) return QUIRE_EOVERFLOW;
    size_t need = v->len_ + additional;
    if (need <= mapped_cap(v)) return 0;
    if (need > SIZE_MAX / v->elem_) return QUIRE_EOVERFLOW;
    size_t bytes = round_to(need * v->elem_, granule(v)); /* exact: a reservation, no doubling */
    if (bytes == 0) return QUIRE_EOVERFLOW;
    return grow_bytes(v, bytes);
}

int quire_pvec_resize(quire_pvec *v, size_t n) {
    if (!live(v)) return QUIRE_EINVAL;
    if (n > v->len_) {
        int rc = ensure(v, n);
        if (rc) return rc;
        /* Slots past the length may hold old elements (pop, clear): zero them. */
        memset(v->data_ + v->len_ * v->elem_, 0, (n - v->len_) * v->elem_);
    }
    v->len_ = n;
    return 0;
}

int quire_pvec_shrink_to_fit(quire_pvec *v) {
    if (!live(v)) return QUIRE_EINVAL;
    if (!v->data_) return 0;
    if (v->len_ == 0) {
        int rc = q_os_unmap(v->data_, v->bytes_);
        if (rc) return rc;
        v->data_ = NULL;
        v->bytes_ = 0;
        v->ready_ = 0;
        v->cap_ = 0;
        return 0;
    }
    size_t bytes = round_to(v->len_ * v->elem_, granule(v));
    if (bytes >= v->bytes_) return 0;
    int rc = q_os_unmap(v->data_ + bytes, v->bytes_ - bytes);
    if (rc) return rc;
    v->bytes_ = bytes;
    if (v->ready_ > bytes) v->ready_ = bytes;
    set_cap(v);
    return 0;
}

void quire_pvec_clear(quire_pvec *v) {
    if (live(v)) v->len_ = 0;
}

int quire_pvec_clear_and_decommit(quire_pvec *v) {
    if (!live(v)) return QUIRE_EINVAL;
    v->len_ = 0;
    return quire_pvec_decommit_unused(v);
}

int quire_pvec_decommit_unused(quire_pvec *v) {
    if (!live(v)) return QUIRE_EINVAL;
    if (!v->data_) return 0;
    size_t used = q_os_page_round(v->len_ * v->elem_);
    if (used >= v->bytes_) return 0;
    int rc = q_os_advise(v->data_ + used, v->bytes_ - used, Q_ADV_DONTNEED);
    if (rc) return rc;
    if (v->ready_ > used) v->ready_ = used; /* those pages are gone: prefault them again */
    set_cap(v);
    return 0;
}

int quire_pvec_advise(quire_pvec *v, int advice) {
    static const enum q_advice map[] = {
        [QUIRE_ADVICE_NORMAL] = Q_ADV_NORMAL,     [QUIRE_ADVICE_SEQUENTIAL] = Q_ADV_SEQUENTIAL,
        [QUIRE_ADVICE_RANDOM] = Q_ADV_RANDOM,     [QUIRE_ADVICE_WILLNEED] = Q_ADV_WILLNEED,
        [QUIRE_ADVICE_HUGEPAGE] = Q_ADV_HUGEPAGE, [QUIRE_ADVICE_NOHUGEPAGE] = Q_ADV_NOHUGEPAGE,
        [QUIRE_ADVICE_DONTDUMP] = Q_ADV_DONTDUMP, [QUIRE_ADVICE_DODUMP] = Q_ADV_DODUMP,
    };
    if (!live(v)) return QUIRE_EINVAL;
    if (advice < 0 || (size_t)advice >= sizeof map / sizeof map[0]) return QUIRE_EINVAL;
    if (!v->data_) return 0;
    int rc = q_os_advise(v->data_, v->bytes_, map[advice]);
    if (rc == QUIRE_EINVAL &&
        (advice == QUIRE_ADVICE_HUGEPAGE || advice == QUIRE_ADVICE_NOHUGEPAGE))
        return QUIRE_ENOTSUP;
    return rc;
}
