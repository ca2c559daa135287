/*
 * pages/map.c - mapped file ranges (quire/map.h): open with create/truncate/resize options,
 * unaligned offsets, read-only / shared writable / private copy-on-write, flush, conversions,
 * hints and locks.
 *
 * A range [offset, offset + len_) of the file is mapped as [aligned, aligned + map_len_) with
 * aligned = offset rounded down to the page, delta_ = offset - aligned and
 * map_len_ = round_up(delta_ + len_); the caller sees base_ + delta_.
 */
#include "quire/map.h"

#include <fcntl.h>
#include <string.h>

#include "pages/prim.h"
#include "quire/pages.h"

enum {
    M_WRITABLE = 1, /* mapped with PROT_WRITE now */
    M_COW = 2,      /* MAP_PRIVATE */
};

enum { KIND_RO = 0, KIND_RW = 1, KIND_COW = 2 };

#define MAP_FLAGS_ALL                                                                              \
    (QUIRE_MAP_CREATE | QUIRE_MAP_CREATE_NEW | QUIRE_MAP_TRUNCATE | QUIRE_MAP_RESIZE |             \
     QUIRE_MAP_POPULATE | QUIRE_MAP_WRITABLE)

size_t quire_map_page_size(void) {
    return q_os_page_size();
}
size_t quire_map_granularity(void) {
    return q_os_page_size();
}
uint64_t quire_map_align_down(uint64_t off) {
    return off & ~(uint64_t)(q_os_page_size() - 1);
}
uint64_t quire_map_align_up(uint64_t off) {
    uint64_t g = q_os_page_size();
    if (off > UINT64_MAX - (g - 1)) return 0;
    return (off + g - 1) & ~(g - 1);
}

static int live(const struct quire_map_ *m) {
    if (!m) return QUIRE_EINVAL;
    return m->base_ ? 0 : QUIRE_ECONSUMED;
}

/* Maps [offset, offset+length) of fd (length 0: to the end of the file). */
static int map_range(int fd, uint64_t offset, size_t length, int kind, unsigned flags,
                     struct quire_map_ *out) {
    off_t fsize;
    int rc = q_os_file_size(fd, &fsize);
    if (rc) return rc;
    uint64_t size = fsize < 0 ? 0 : (uint64_t)fsize;
    if (offset > (uint64_t)INT64_MAX) return QUIRE_EOVERFLOW;
    if (length == 0) {
        if (offset >= size) return size == 0 ? QUIRE_EINVAL : QUIRE_ERANGE;
        if (size - offset > SIZE_MAX) return QUIRE_EOVERFLOW;
        length = (size_t)(size - offset);
    }
    if ((uint64_t)length > UINT64_MAX - offset) return QUIRE_EOVERFLOW;
    if (offset + length > size) return QUIRE_ERANGE;
    uint64_t aligned = quire_map_align_down(offset);
    size_t delta = (size_t)(offset - aligned);
    if (length > SIZE_MAX - delta) return QUIRE_EOVERFLOW;
    size_t map_len = q_os_page_round(delta + length);
    if (map_len == 0) return QUIRE_EOVERFLOW;
    int prot = Q_PROT_READ | (kind != KIND_RO ? Q_PROT_WRITE : 0);
    int mflags = (kind == KIND_COW) ? Q_MAP_PRIVATE : Q_MAP_SHARED;
    if (flags & QUIRE_MAP_POPULATE) mflags |= Q_MAP_POPULATE;
    void *p = NULL;
    rc = q_os_map(&p, map_len, prot, mflags, fd, (off_t)aligned);
    if (rc) return rc;
    out->base_ = (uintptr_t)p;
    out->map_len_ = map_len;
    out->delta_ = delta;
    out->len_ = length;
    out->flags_ = (kind != KIND_RO ? M_WRITABLE : 0) | (kind == KIND_COW ? M_COW : 0);
    return 0;
}

static int open_and_map(const char *path, const struct quire_map_options *opt, int kind,
                        struct quire_map_ *out) {
    static const struct quire_map_options none;
    if (!opt) opt = &none;
    if (!path || !out || (opt->flags & ~(unsigned)MAP_FLAGS_ALL)) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    unsigned f = opt->flags;
    int need_write =
        kind == KIND_RW || (f & (QUIRE_MAP_CREATE | QUIRE_MAP_CREATE_NEW | QUIRE_MAP_TRUNCATE |
                                 QUIRE_MAP_RESIZE | QUIRE_MAP_WRITABLE));
    int of = need_write ? O_RDWR : O_RDONLY;
    if (f & (QUIRE_MAP_CREATE | QUIRE_MAP_CREATE_NEW)) of |= O_CREAT;
    if (f & QUIRE_MAP_CREATE_NEW) of |= O_EXCL;
    if (f & QUIRE_MAP_TRUNCATE) of |= O_TRUNC;
    if ((f & QUIRE_MAP_RESIZE) && opt->resize_to > (uint64_t)INT64_MAX) return QUIRE_EOVERFLOW;
    int fd;
    int rc = q_os_open(path, of, opt->mode ? (int)opt->mode : 0644, &fd);
    if (rc) return rc;
    if (f & QUIRE_MAP_RESIZE) rc = q_os_ftruncate(fd, (off_t)opt->resize_to);
    if (rc == 0) rc = map_range(fd, opt->offset, opt->length, kind, f, out);
    int rc2 = q_os_close(fd);
    if (rc == 0 && rc2) {
        q_os_unmap((void *)out->base_, out->map_len_);
        memset(out, 0, sizeof *out);
        rc = rc2;
    }
    return rc;
}

int quire_map_open_ro(const char *path, const struct quire_map_options *opt, quire_map_ro *out) {
    return open_and_map(path, opt, KIND_RO, out ? &out->m_ : NULL);
}

int quire_map_open_rw(const char *path, const struct quire_map_options *opt, quire_map_rw *out) {
    return open_and_map(path, opt, KIND_RW, out ? &out->m_ : NULL);
}

int quire_map_open_cow(const char *path, const struct quire_map_options *opt, quire_map_rw *out) {
    return open_and_map(path, opt, KIND_COW, out ? &out->m_ : NULL);
}

int quire_map_fd(int fd, uint64_t offset, size_t length, int kind, quire_map_ro *out_ro,
                 quire_map_rw *out_rw) {
    if (fd < 0 || kind < KIND_RO || kind > KIND_COW) return QUIRE_EINVAL;
    struct quire_map_ *out =
        kind == KIND_RO ? (out_ro ? &out_ro->m_ : NULL) : (out_rw ? &out_rw->m_ : NULL);
    if (!out) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    return map_range(fd, offset, length, kind, 0, out);
}

int quire_map_is_cow(const quire_map_rw *m) {
    return m && (m->m_.flags_ & M_COW) != 0;
}

int quire_map_close_(struct quire_map_ *m) {
    int rc = live(m);
    if (rc) return rc;
    rc = q_os_unmap((void *)m->base_, m->map_len_);
    if (rc) return rc;
    memset(m, 0, sizeof *m);
    return 0;
}

/* Resolves a caller range to page-aligned mapping coordinates [*start, *start + *len). */
static int page_range(const struct quire_map_ *m, size_t offset, size_t length, uintptr_t *start,
                      size_t *len) {
    if (offset > m->len_) return QUIRE_ERANGE;
    if (length == 0) length = m->len_ - offset;
    if (length > m->len_ - offset) return QUIRE_ERANGE;
    if (length == 0) return QUIRE_ERANGE;
    size_t ps = q_os_page_size();
    size_t first = (m->delta_ + offset) & ~(ps - 1);
    size_t end = q_os_page_round(m->delta_ + offset + length);
    *start = m->base_ + first;
    *len = end - first;
    return 0;
}

static int flush(quire_map_rw *m, size_t offset, size_t length, int async) {
    if (!m) return QUIRE_EINVAL;
    int rc = live(&m->m_);
    if (rc) return rc;
    uintptr_t start;
    size_t len;
    rc = page_range(&m->m_, offset, length, &start, &len);
    if (rc) return rc;
    if (m->m_.flags_ & M_COW) return 0;
    return q_os_msync((void *)start, len, async);
}

int quire_map_flush(quire_map_rw *m, size_t offset, size_t length) {
    return flush(m, offset, length, 0);
}

int quire_map_flush_async(quire_map_rw *m, size_t offset, size_t length) {
    return flush(m, offset, length, 1);
}

int quire_map_ro_to_rw(quire_map_ro *from, quire_map_rw *to) {
    if (!from || !to) return QUIRE_EINVAL;
    int rc = live(&from->m_);
    if (rc) return rc;
    rc = q_os_protect((void *)from->m_.base_, from->m_.map_len_, Q_PROT_READ | Q_PROT_WRITE);
    if (rc) return rc;
    to->m_ = from->m_;
    to->m_.flags_ |= M_WRITABLE;
    memset(&from->m_, 0, sizeof from->m_);
    return 0;
}

int quire_map_rw_to_ro(quire_map_rw *from, quire_map_ro *to) {
    if (!from || !to) return QUIRE_EINVAL;
    int rc = live(&from->m_);
    if (rc) return rc;
    rc = q_os_protect((void *)from->m_.base_, from->m_.map_len_, Q_PROT_READ);
    if (rc) return rc;
    to->m_ = from->m_;
    to->m_.flags_ &= ~(unsigned)M_WRITABLE;
    memset(&from->m_, 0, sizeof from->m_);
    return 0;
}

int quire_map_advise_(const struct quire_map_ *m, size_t offset, size_t length, int advice) {
    static const enum q_advice map[] = {
        [QUIRE_ADVICE_NORMAL] = Q_ADV_NORMAL,     [QUIRE_ADVICE_SEQUENTIAL] = Q_ADV_SEQUENTIAL,
        [QUIRE_ADVICE_RANDOM] = Q_ADV_RANDOM,     [QUIRE_ADVICE_WILLNEED] = Q_ADV_WILLNEED,
        [QUIRE_ADVICE_HUGEPAGE] = Q_ADV_HUGEPAGE, [QUIRE_ADVICE_NOHUGEPAGE] = Q_ADV_NOHUGEPAGE,
        [QUIRE_ADVICE_DONTDUMP] = Q_ADV_DONTDUMP, [QUIRE_ADVICE_DODUMP] = Q_ADV_DODUMP,
    };
    int rc = live(m);
    if (rc) return rc;
    if (advice < 0 || (size_t)advice >= sizeof map / sizeof map[0]) return QUIRE_EINVAL;
    uintptr_t start;
    size_t len;
    rc = page_range(m, offset, length, &start, &len);
    if (rc) return rc;
    rc = q_os_advise((void *)start, len, map[advice]);
    if (rc == QUIRE_EINVAL &&
        (advice == QUIRE_ADVICE_HUGEPAGE || advice == QUIRE_ADVICE_NOHUGEPAGE))
        return QUIRE_ENOTSUP; /* file THP unsupported by this file system or kernel */
    return rc;
}

int quire_map_lock_(const struct quire_map_ *m, size_t offset, size_t length, int lock) {
    int rc = live(m);
    if (rc) return rc;
    uintptr_t start;
    size_t len;
    rc = page_range(m, offset, length, &start, &len);
    if (rc) return rc;
    return lock ? q_os_lock((void *)start, len) : q_os_unlock((void *)start, len);
}
