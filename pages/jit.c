/*
 * pages/jit.c - W^X code buffers (quire/jit.h): mprotect mode on typed pages, dual-mapping mode
 * on a memfd, and the fallback from the first to the second when the system refuses to make
 * written memory executable.
 *
 * State of a buffer (state_ bits):
 *   mprotect mode, writable:  rw_ live, w_ == x_ == rw_'s address, rx_ consumed
 *   mprotect mode, sealed:    rx_ live, w_ NULL
 *   dual mode, writable:      fd_ >= 0; w_ = a MAP_SHARED RW view, x_ = a MAP_SHARED RX view
 *   dual mode, sealed:        fd_ >= 0; w_ NULL (the RW view is unmapped), x_ the RX view
 * No mapping is ever PROT_WRITE|PROT_EXEC. In a seal-time fallback the RX view of the memfd is
 * mapped with MAP_FIXED exactly over the old RW region, so x_ never changes.
 *
 * Whether the system refuses RW->RX: learned once per process by a probe (one page mapped RW,
 * mprotect'ed to RX) or by a refused seal, and remembered in rx_policy; QUIRE_JIT_FORCE_DUAL=1
 * in the environment, or q_pages_jit_test_refuse_rx(1), simulates the refusal (the mprotect is then
 * not attempted and reported as QUIRE_EACCES), so tests can take every path on any system.
 */
#include "quire/jit.h"

#include <stdatomic.h>
#include <string.h>

#include "pages/internal.h"

enum {
    J_DUAL = 1,   /* dual-mapping mode */
    J_SEALED = 2, /* executable, not writable */
};

#define MFD_EXEC_FLAG 0x10u /* MFD_EXEC (Linux 6.3): executable memfd even under memfd_noexec */

/* 0 unknown, 1 RW->RX allowed, 2 refused. */
static _Atomic int rx_policy;
/* -1: read QUIRE_JIT_FORCE_DUAL on first use; 0 off; 1 simulate refusal. */
static _Atomic int refuse_sim = -1;

void q_pages_jit_test_refuse_rx(int on) {
    atomic_store(&refuse_sim, on ? 1 : 0);
    atomic_store(&rx_policy, 0);
}

static int simulated_refusal(void) {
    int s = atomic_load_explicit(&refuse_sim, memory_order_relaxed);
    if (s < 0) {
        const char *e = q_os_getenv("QUIRE_JIT_FORCE_DUAL");
        s = (e && e[0] == '1') ? 1 : 0;
        atomic_store(&refuse_sim, s);
    }
    return s;
}

static int is_refusal(int rc) {
    return rc == QUIRE_EACCES || rc == QUIRE_EPERM;
}

/* Whether RW->RX mprotect is refused here (probing once per process). */
static int rx_refused(void) {
    if (simulated_refusal()) return 1;
    int p = atomic_load_explicit(&rx_policy, memory_order_relaxed);
    if (p == 0) {
        struct quire_pages_region_ r;
        p = 1;
        if (q_pages_map(q_os_page_size(), Q_PROT_READ | Q_PROT_WRITE, 0, &r) == 0) {
            if (is_refusal(q_pages_protect(&r, Q_PROT_READ | Q_PROT_EXEC))) p = 2;
            q_pages_unmap(&r);
        }
        atomic_store_explicit(&rx_policy, p, memory_order_relaxed);
    }
    return p == 2;
}

static int live(const quire_jit *j) {
    return j && j->cap_ != 0;
}

static int fail(quire_jit *j, int rc) {
    if (j->err_ == 0) j->err_ = rc;
    return rc;
}

/* Opens a file of `cap` bytes that may be mapped executable: a memfd (MFD_EXEC where the kernel
 * knows it), else an unlinked file in /dev/shm or /tmp. The probe maps one page RX. */
static int exec_backing(size_t cap, int *out) {
    size_t ps = q_os_page_size();
    int last = QUIRE_ENOTSUP;
    for (int kind = 0; kind < 4; kind++) {
        int fd = -1, rc;
        if (kind == 0)
            rc = q_os_memfd("quire-jit", MFD_EXEC_FLAG, &fd);
        else if (kind == 1)
            rc = q_os_memfd("quire-jit", 0, &fd);
        else
            rc = q_os_open_tmpfile(kind == 2 ? "/dev/shm" : "/tmp", &fd);
        if (rc) {
            last = rc;
            continue;
        }
        rc = q_os_ftruncate(fd, (off_t)cap);
        if (rc == 0) {
            void *probe = NULL;
            rc = q_os_map(&probe, ps, Q_PROT_READ | Q_PROT_EXEC, Q_MAP_SHARED, fd, 0);
            if (rc == 0) q_os_unmap(probe, ps);
        }
        if (rc == 0) {
            *out = fd;
            return 0;
        }
        last = rc;
        q_os_close(fd);
    }
    return last;
}

static int create_dual(quire_jit *j) {
    int fd;
    int rc = exec_backing(j->cap_, &fd);
    if (rc) return rc;
    void *w = NULL, *x = NULL;
    rc = q_os_map(&w, j->cap_, Q_PROT_READ | Q_PROT_WRITE, Q_MAP_SHARED, fd, 0);
    if (rc == 0) {
        rc = q_os_map(&x, j->cap_, Q_PROT_READ | Q_PROT_EXEC, Q_MAP_SHARED, fd, 0);
        if (rc) q_os_unmap(w, j->cap_);
    }
    if (rc) {
        q_os_close(fd);
        return rc;
    }
    j->fd_ = fd;
    j->w_ = w;
    j->x_ = (uintptr_t)x;
    j->state_ = J_DUAL;
    return 0;
}

int quire_jit_create(size_t capacity, unsigned flags, quire_jit *out) {
    if (!out || capacity == 0 || (flags & ~(unsigned)QUIRE_JIT_DUAL)) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    out->fd_ = -1;
    size_t cap = q_os_page_round(capacity);
    if (cap == 0) return QUIRE_EOVERFLOW;
    out->cap_ = cap;
    int rc;
    if ((flags & QUIRE_JIT_DUAL) || rx_refused()) {
        rc = create_dual(out);
    } else {
        rc = quire_pages_alloc_rw(cap, 0, &out->rw_);
        if (rc == 0) {
            out->w_ = quire_pages_rw_ptr(out->rw_);
            out->x_ = (uintptr_t)out->w_;
        }
    }
    if (rc) {
        memset(out, 0, sizeof *out);
        out->fd_ = -1;
    }
    return rc;
}

int quire_jit_destroy(quire_jit *j) {
    if (!live(j)) return QUIRE_EINVAL;
    int rc = 0;
    if (j->state_ & J_DUAL) {
        if (j->w_) rc = q_os_unmap(j->w_, j->cap_);
        int rc2 = q_os_unmap((void *)j->x_, j->cap_);
        int rc3 = q_os_close(j->fd_);
        if (!rc) rc = rc2 ? rc2 : rc3;
    } else if (j->state_ & J_SEALED) {
        rc = quire_pages_free(&j->rx_);
    } else {
        rc = quire_pages_free(&j->rw_);
    }
    memset(j, 0, sizeof *j);
    j->fd_ = -1;
    return rc;
}

int quire_jit_is_dual(const quire_jit *j) {
    return live(j) ? (j->state_ & J_DUAL) != 0 : -1;
}
int quire_jit_is_sealed(const quire_jit *j) {
    return live(j) ? (j->state_ & J_SEALED) != 0 : -1;
}
size_t quire_jit_offset(const quire_jit *j) {
    return live(j) ? j->len_ : 0;
}
size_t quire_jit_capacity(const quire_jit *j) {
    return live(j) ? j->cap_ : 0;
}
int quire_jit_error(const quire_jit *j) {
    return live(j) ? j->err_ : QUIRE_EINVAL;
}

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */

int quire_jit_emit(quire_jit *j, const void *bytes, size_t n) {
    if (!live(j)) return QUIRE_EINVAL;
    if (!bytes && n) return fail(j, QUIRE_EINVAL);
    if (j->state_ & J_SEALED) return QUIRE_ESTATE; /* nothing half-written: not sticky */
    if (n > j->cap_ - j->len_) return fail(j, QUIRE_ERANGE);
    if (n) memcpy(j->w_ + j->len_, bytes, n);
    j->len_ += n;
    return 0;
}

int quire_jit_emit8(quire_jit *j, uint8_t v) {
    return quire_jit_emit(j, &v, 1);
}

int quire_jit_emit32(quire_jit *j, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return quire_jit_emit(j, b, 4);
}

int quire_jit_emit64(quire_jit *j, uint64_t v) {
    int rc = quire_jit_emit32(j, (uint32_t)v);
    return rc ? rc : quire_jit_emit32(j, (uint32_t)(v >> 32));
}

int quire_jit_align(quire_jit *j, size_t align, uint8_t fill) {
    if (!live(j)) return QUIRE_EINVAL;
    if (align == 0 || (align & (align - 1)) || align > q_os_page_size())
        return fail(j, QUIRE_EINVAL);
    if (j->state_ & J_SEALED) return QUIRE_ESTATE; /* nothing half-written: not sticky */
    size_t pad = (align - (j->len_ & (align - 1))) & (align - 1);
    if (pad > j->cap_ - j->len_) return fail(j, QUIRE_ERANGE);
    memset(j->w_ + j->len_, fill, pad);
    j->len_ += pad;
    return 0;
}

int quire_jit_patch32(quire_jit *j, size_t at, uint32_t v) {
    if (!live(j)) return QUIRE_EINVAL;
    if (j->state_ & J_SEALED) return QUIRE_ESTATE; /* nothing half-written: not sticky */
    if (at > j->len_ || j->len_ - at < 4) return fail(j, QUIRE_ERANGE);
    unsigned char *p = j->w_ + at;
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
    return 0;
}

int quire_jit_patch_rel32(quire_jit *j, size_t at, size_t target) {
    if (!live(j)) return QUIRE_EINVAL;
    if (target > j->cap_ || at > j->cap_ - 4) return fail(j, QUIRE_ERANGE);
    /* Offsets within one buffer below 2 GiB always fit; larger buffers are checked. */
    int64_t d = (int64_t)target - (int64_t)(at + 4);
    if (d < INT32_MIN || d > INT32_MAX) return fail(j, QUIRE_ERANGE);
    return quire_jit_patch32(j, at, (uint32_t)(int32_t)d);
}

int quire_jit_patch_rel32_abs(quire_jit *j, size_t at, const void *target) {
    if (!live(j)) return QUIRE_EINVAL;
    if (at > j->cap_ - 4) return fail(j, QUIRE_ERANGE);
    uintptr_t from = j->x_ + at + 4;
    uintptr_t to = (uintptr_t)target;
    int64_t d = to >= from ? (int64_t)(to - from) : -(int64_t)(from - to);
    if ((to >= from && to - from > (uintptr_t)INT32_MAX) ||
        (to < from && from - to > (uintptr_t)INT32_MAX + 1))
        return fail(j, QUIRE_ERANGE);
    return quire_jit_patch32(j, at, (uint32_t)(int32_t)d);
}

void *quire_jit_write_ptr(quire_jit *j, size_t at) {
    if (!live(j) || (j->state_ & J_SEALED) || at >= j->cap_) return NULL;
    return j->w_ + at;
}

const void *quire_jit_exec_addr(const quire_jit *j, size_t offset) {
    if (!live(j) || offset >= j->cap_) return NULL;
    return (const void *)(j->x_ + offset);
}

/* ---------------------------------------------------------------------------------------------
 * Sealing
 * ------------------------------------------------------------------------------------------- */

/* mprotect was refused: move the code into an executable file mapping at the same address. */
static int fallback_to_dual(quire_jit *j) {
    int fd;
    int rc = exec_backing(j->cap_, &fd);
    if (rc) return rc;
    rc = q_os_pwrite_full(fd, j->w_, j->len_, 0);
    if (rc == 0) {
        void *x = (void *)j->x_;
        /* Replaces the RW anonymous region in one step: never W and X at once. */
        rc = q_os_map(&x, j->cap_, Q_PROT_READ | Q_PROT_EXEC, Q_MAP_SHARED | Q_MAP_FIXED, fd, 0);
    }
    if (rc) {
        q_os_close(fd);
        return rc;
    }
    memset(&j->rw_, 0, sizeof j->rw_); /* the region was replaced, not freed */
    j->fd_ = fd;
    j->w_ = NULL;
    j->state_ |= J_DUAL | J_SEALED;
    return 0;
}

int quire_jit_seal(quire_jit *j) {
    if (!live(j)) return QUIRE_EINVAL;
    if (j->err_) return j->err_;
    if (j->state_ & J_SEALED) return 0;
    if (j->state_ & J_DUAL) {
        q_os_icache_flush((void *)j->x_, j->len_);
        int rc = q_os_unmap(j->w_, j->cap_);
        if (rc) return rc;
        j->w_ = NULL;
        j->state_ |= J_SEALED;
        return 0;
    }
    int rc = simulated_refusal() ? QUIRE_EACCES : quire_pages_rw_to_rx(&j->rw_, &j->rx_);
    if (is_refusal(rc)) {
        if (!simulated_refusal()) atomic_store_explicit(&rx_policy, 2, memory_order_relaxed);
        rc = fallback_to_dual(j);
    } else if (rc == 0) {
        j->w_ = NULL;
        j->state_ |= J_SEALED;
    }
    if (rc == 0) q_os_icache_flush((void *)j->x_, j->len_);
    return rc;
}

int quire_jit_unseal(quire_jit *j) {
    if (!live(j)) return QUIRE_EINVAL;
    if (!(j->state_ & J_SEALED)) return 0;
    if (j->state_ & J_DUAL) {
        void *w = NULL;
        int rc = q_os_map(&w, j->cap_, Q_PROT_READ | Q_PROT_WRITE, Q_MAP_SHARED, j->fd_, 0);
        if (rc) return rc;
        j->w_ = w;
    } else {
        int rc = quire_pages_rx_to_rw(&j->rx_, &j->rw_);
        if (rc) return rc;
        j->w_ = quire_pages_rw_ptr(j->rw_);
    }
    j->state_ &= ~(unsigned)J_SEALED;
    return 0;
}

quire_fn quire_jit_fn(const quire_jit *j, size_t offset) {
    if (!live(j) || !(j->state_ & J_SEALED) || offset >= j->len_) return (quire_fn)0;
    return (quire_fn)(j->x_ + offset);
}
