/*
 * pages/rawmem.c - raw memory (quire/rawmem.h): generic grow/shrink on top of a two-operation
 * vtable, and its four backends.
 *
 * Invariants: vt != NULL and elem_ > 0 for an open handle; len_ * elem_ bytes at data_ are the
 * contents; backends reserve cap_ >= len_ * elem_ bytes.
 *   heap:       cap_ bytes from malloc/realloc, doubled on growth, trimmed on shrink below 1/4.
 *   anon:       cap_ bytes of private anonymous pages (a page multiple), mremap(MAYMOVE).
 *   file, temp: the file's size is exactly len_ * elem_ at all times; cap_ bytes are mapped
 *               MAP_SHARED (a page multiple, possibly past the end of the file, which is never
 *               touched); growth is ftruncate first, then mremap of the mapping if it is short.
 *
 * Generic growth (grow_raw): overflow checks, vt->resize to the new byte length, then the
 * initialiser writes the new elements; a failed callback resizes back.
 */
#include "quire/rawmem.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "pages/prim.h"

static int open_ok(const quire_rawmem *m) {
    return m && m->vt && m->elem_;
}

/* ---------------------------------------------------------------------------------------------
 * Heap backend (malloc is allowed here: this backend is the heap)
 * ------------------------------------------------------------------------------------------- */

static int heap_resize(quire_rawmem *m, size_t bytes) {
    size_t want = m->cap_;
    if (bytes > m->cap_) {
        want = m->cap_ > SIZE_MAX / 2 ? bytes : m->cap_ * 2;
        if (want < bytes) want = bytes;
        if (want < 64) want = 64;
    } else if (bytes < m->cap_ / 4) {
        want = bytes;
    } else {
        return 0;
    }
    if (want == 0) {
        free(m->data_);
        m->data_ = NULL;
        m->cap_ = 0;
        return 0;
    }
    void *p = realloc(m->data_, want);
    if (!p) return QUIRE_ENOMEM;
    m->data_ = p;
    m->cap_ = want;
    return 0;
}

static int no_sync(quire_rawmem *m) {
    (void)m;
    return 0;
}

static int heap_close(quire_rawmem *m) {
    free(m->data_);
    return 0;
}

static const quire_rawmem_vtable heap_vt = {"heap", heap_resize, no_sync, heap_close};

/* ---------------------------------------------------------------------------------------------
 * Anonymous pages
 * ------------------------------------------------------------------------------------------- */

static int anon_resize(quire_rawmem *m, size_t bytes) {
    size_t want = q_os_page_round(bytes);
    if (bytes && want == 0) return QUIRE_EOVERFLOW;
    if (want > m->cap_) { /* grow geometrically */
        size_t dbl = m->cap_ > SIZE_MAX / 2 ? want : m->cap_ * 2;
        if (dbl > want) want = dbl;
    } else if (want >= m->cap_ / 4 && want != 0) {
        return 0; /* keep the pages: shrinking a little is not worth a system call */
    }
    if (want == m->cap_) return 0;
    if (want == 0) {
        int rc = q_os_unmap(m->data_, m->cap_);
        if (rc) return rc;
        m->data_ = NULL;
        m->cap_ = 0;
        return 0;
    }
    void *p = NULL;
    int rc = m->data_ ? q_os_remap(m->data_, m->cap_, want, Q_REMAP_MAYMOVE, &p)
                      : q_os_map(&p, want, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
    if (rc) return rc;
    m->data_ = p;
    m->cap_ = want;
    return 0;
}

static int anon_close(quire_rawmem *m) {
    return m->data_ ? q_os_unmap(m->data_, m->cap_) : 0;
}

static const quire_rawmem_vtable anon_vt = {"anon", anon_resize, no_sync, anon_close};

/* ---------------------------------------------------------------------------------------------
 * Files (named and temporary)
 * ------------------------------------------------------------------------------------------- */

/* Makes the mapping at least `bytes` long (the file is already that long). */
static int file_map(quire_rawmem *m, size_t bytes) {
    if (bytes <= m->cap_) return 0;
    size_t want = q_os_page_round(bytes);
    if (want == 0) return QUIRE_EOVERFLOW;
    size_t dbl = m->cap_ > SIZE_MAX / 2 ? want : m->cap_ * 2;
    if (dbl > want) want = dbl;
    void *p = NULL;
    int rc;
    if (m->data_) {
        rc = q_os_remap(m->data_, m->cap_, want, Q_REMAP_MAYMOVE, &p);
    } else {
        rc = q_os_map(&p, want, Q_PROT_READ | Q_PROT_WRITE, Q_MAP_SHARED, m->fd_, 0);
    }
    if (rc) return rc;
    m->data_ = p;
    m->cap_ = want;
    return 0;
}

static int file_resize(quire_rawmem *m, size_t bytes) {
    if (bytes > (size_t)INT64_MAX) return QUIRE_EFBIG;
    size_t old = m->len_ * m->elem_;
    int rc = q_os_ftruncate(m->fd_, (off_t)bytes);
    if (rc) return rc;
    if (bytes > old) {
        rc = file_map(m, bytes);
        if (rc) {
            q_os_ftruncate(m->fd_, (off_t)old);
            return rc;
        }
    }
    return 0;
}

static int file_sync(quire_rawmem *m) {
    if (m->data_ && m->len_) {
        int rc = q_os_msync(m->data_, q_os_page_round(m->len_ * m->elem_), 0);
        if (rc) return rc;
    }
    return q_os_fsync(m->fd_);
}

static int file_close(quire_rawmem *m) {
    int rc = m->data_ ? q_os_unmap(m->data_, m->cap_) : 0;
    int rc2 = q_os_close(m->fd_);
    return rc ? rc : rc2;
}

static const quire_rawmem_vtable file_vt = {"file", file_resize, file_sync, file_close};
static const quire_rawmem_vtable temp_vt = {"temp", file_resize, file_sync, file_close};

/* Adopts an open descriptor: checks its size and maps its contents. */
static int adopt_fd(quire_rawmem *m, int fd, size_t elem_size, const quire_rawmem_vtable *vt) {
    off_t size;
    int rc = q_os_file_size(fd, &size);
    if (rc) return rc;
    if (size < 0 || (uint64_t)size > SIZE_MAX) return QUIRE_EFBIG;
    if ((size_t)size % elem_size != 0) return QUIRE_EFILESIZE;
    memset(m, 0, sizeof *m);
    m->fd_ = fd;
    m->elem_ = elem_size;
    if (size > 0) {
        rc = file_map(m, (size_t)size);
        if (rc) return rc;
    }
    m->len_ = (size_t)size / elem_size;
    m->vt = vt;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------------------------- */

static int open_mem(quire_rawmem *m, size_t elem_size, const quire_rawmem_vtable *vt) {
    if (!m || elem_size == 0) return QUIRE_EINVAL;
    memset(m, 0, sizeof *m);
    m->fd_ = -1;
    m->elem_ = elem_size;
    m->vt = vt;
    return 0;
}

int quire_rawmem_open_heap(quire_rawmem *m, size_t elem_size) {
    return open_mem(m, elem_size, &heap_vt);
}

int quire_rawmem_open_anon(quire_rawmem *m, size_t elem_size) {
    return open_mem(m, elem_size, &anon_vt);
}

int quire_rawmem_open_file(quire_rawmem *m, const char *path, size_t elem_size, unsigned flags) {
    const unsigned all = QUIRE_RAWMEM_CREATE | QUIRE_RAWMEM_EXCL | QUIRE_RAWMEM_TRUNCATE;
    if (!m || !path || elem_size == 0 || (flags & ~all)) return QUIRE_EINVAL;
    memset(m, 0, sizeof *m);
    m->fd_ = -1;
    int of = O_RDWR;
    if (flags & QUIRE_RAWMEM_CREATE) of |= O_CREAT;
    if ((flags & QUIRE_RAWMEM_CREATE) && (flags & QUIRE_RAWMEM_EXCL)) of |= O_EXCL;
    if (flags & QUIRE_RAWMEM_TRUNCATE) of |= O_TRUNC;
    int fd;
    int rc = q_os_open(path, of, 0644, &fd);
    if (rc) return rc;
    rc = adopt_fd(m, fd, elem_size, &file_vt);
    if (rc) {
        q_os_close(fd);
        memset(m, 0, sizeof *m);
        m->fd_ = -1;
    }
    return rc;
}

int quire_rawmem_open_temp(quire_rawmem *m, const char *dir, size_t elem_size) {
    if (!m || elem_size == 0) return QUIRE_EINVAL;
    memset(m, 0, sizeof *m);
    m->fd_ = -1;
    int fd;
    int rc = q_os_open_tmpfile(dir, &fd);
    if (rc) return rc;
    rc = adopt_fd(m, fd, elem_size, &temp_vt);
    if (rc) {
        q_os_close(fd);
        memset(m, 0, sizeof *m);
        m->fd_ = -1;
    }
    return rc;
}

int quire_rawmem_close(quire_rawmem *m) {
    if (!open_ok(m)) return QUIRE_EINVAL;
    int rc = m->vt->close(m);
    memset(m, 0, sizeof *m);
    m->fd_ = -1;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Contents
 * ------------------------------------------------------------------------------------------- */

size_t quire_rawmem_len(const quire_rawmem *m) {
    return open_ok(m) ? m->len_ : 0;
}
size_t quire_rawmem_capacity(const quire_rawmem *m) {
    return open_ok(m) ? m->cap_ / m->elem_ : 0;
}
size_t quire_rawmem_elem_size(const quire_rawmem *m) {
    return open_ok(m) ? m->elem_ : 0;
}
const char *quire_rawmem_backend(const quire_rawmem *m) {
    return open_ok(m) ? m->vt->name : NULL;
}

int quire_rawmem_slice(const quire_rawmem *m, void **data, size_t *len) {
    if (!open_ok(m) || !data || !len) return QUIRE_EINVAL;
    *data = m->len_ ? m->data_ : NULL;
    *len = m->len_;
    return 0;
}

int quire_rawmem_sync(quire_rawmem *m) {
    if (!open_ok(m)) return QUIRE_EINVAL;
    return m->vt->sync ? m->vt->sync(m) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Growing and shrinking
 * ------------------------------------------------------------------------------------------- */

/* Resizes the storage for n more elements; *first receives the first new element. */
static int grow_raw(quire_rawmem *m, size_t n, unsigned char **first) {
    if (n > SIZE_MAX - m->len_) return QUIRE_EOVERFLOW;
    size_t len = m->len_ + n;
    if (len > SIZE_MAX / m->elem_) return QUIRE_EOVERFLOW;
    int rc = m->vt->resize(m, len * m->elem_);
    if (rc) return rc;
    *first = m->data_ + m->len_ * m->elem_;
    return 0;
}

int quire_rawmem_grow_filled(quire_rawmem *m, size_t n, const void *pattern) {
    if (!open_ok(m) || !pattern) return QUIRE_EINVAL;
    if (n == 0) return 0;
    unsigned char *p;
    int rc = grow_raw(m, n, &p);
    if (rc) return rc;
    /* Copy the pattern once, then double the filled run (few, large memcpy calls). */
    size_t total = n * m->elem_, done = m->elem_;
    memcpy(p, pattern, m->elem_);
    while (done < total) {
        size_t c = done < total - done ? done : total - done;
        memcpy(p + done, p, c);
        done += c;
    }
    m->len_ += n;
    return 0;
}

int quire_rawmem_grow_bytes(quire_rawmem *m, size_t n, unsigned char byte) {
    if (!open_ok(m)) return QUIRE_EINVAL;
    if (n == 0) return 0;
    unsigned char *p;
    int rc = grow_raw(m, n, &p);
    if (rc) return rc;
    memset(p, byte, n * m->elem_);
    m->len_ += n;
    return 0;
}

int quire_rawmem_grow_zeroed(quire_rawmem *m, size_t n) {
    return quire_rawmem_grow_bytes(m, n, 0);
}

int quire_rawmem_grow_from(quire_rawmem *m, const void *src, size_t n) {
    if (!open_ok(m) || (!src && n)) return QUIRE_EINVAL;
    if (n == 0) return 0;
    unsigned char *p;
    int rc = grow_raw(m, n, &p);
    if (rc) return rc;
    memcpy(p, src, n * m->elem_);
    m->len_ += n;
    return 0;
}

int quire_rawmem_grow_with(quire_rawmem *m, size_t n, quire_rawmem_init_fn init, void *ctx) {
    if (!open_ok(m) || !init) return QUIRE_EINVAL;
    if (n == 0) return 0;
    unsigned char *p;
    int rc = grow_raw(m, n, &p);
    if (rc) return rc;
    rc = init(ctx, p, m->len_, n);
    if (rc) {
        (void)m->vt->resize(m, m->len_ * m->elem_); /* undo: back to the old length */
        return rc;
    }
    m->len_ += n;
    return 0;
}

int quire_rawmem_shrink(quire_rawmem *m, size_t n) {
    if (!open_ok(m)) return QUIRE_EINVAL;
    if (n > m->len_) return QUIRE_ERANGE;
    if (n == 0) return 0;
    int rc = m->vt->resize(m, (m->len_ - n) * m->elem_);
    if (rc) return rc;
    m->len_ -= n;
    return 0;
}
