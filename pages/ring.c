/*
 * pages/ring.c - mirrored rings (quire/ring.h): one memfd holding a control page and the data,
 * the data mapped twice back to back inside one reserved range, so every span is contiguous.
 *
 * Layout of the memfd and of the reserved range:
 *
 *     file:    [ ctl (1 page) ][ data (cap) ]
 *     memory:  [ ctl ][ data ][ data again ]      map_ .. map_ + page + 2 * cap
 *
 * The range is reserved PROT_NONE first, then each view is mapped over it with MAP_FIXED: the
 * reservation is never unmapped before the views are in place, so no other thread can take a
 * piece of the range between the calls.
 *
 * Counters (struct ring_ctl): head = bytes ever written, tail = bytes ever consumed;
 * 0 <= head - tail <= cap; the next write goes to data[head % cap], the next read comes from
 * data[tail % cap]. The writer owns head, the reader owns tail (except for the overwriting ring,
 * whose writer also advances tail). Each side publishes its counter with a release store and
 * reads the other's with an acquire load, so the bytes written before a commit are visible to
 * the reader that sees the new head, and a consumed span is not overwritten before the reader is
 * done with it. Each side also caches the last value it saw of the other side's counter, on its
 * own cache line, to avoid touching the other line when the cached value already suffices.
 *
 * Sleeping (quire_ring_wait_*): a side that must wait spins briefly, then sets its flag
 * (reader_sleeps or writer_sleeps, on a third line), fences, re-checks, and sleeps on a futex on
 * the low 32 bits of the other side's counter. Every publication fences and, if the flag is set,
 * clears it and wakes (shared futexes: the control page is a memfd mapping, so the two sides
 * may be two processes).
 */
#include "quire/ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pages/prim.h"

#define RING_MAGIC 0x71756972652d7267ull /* "quire-rg" */

/* The control page, shared by every mapping of the ring (and every process). */
struct ring_ctl {
    uint64_t magic; /* RING_MAGIC once initialised */
    uint64_t cap;   /* data capacity in bytes */
    /* 128-byte separation: the adjacent-line prefetcher of some CPUs pulls lines in pairs. */
    alignas(128) _Atomic uint64_t head;
    uint64_t tail_seen; /* writer's cache of tail (writer-private) */
    alignas(128) _Atomic uint64_t tail;
    uint64_t head_seen; /* reader's cache of head (reader-private) */
    /* Sleepers (quire_ring_wait_*): set by a side about to sleep on a futex, read by the other
     * side after each publication; a line of their own, so it stays clean in both caches. */
    alignas(128) _Atomic uint32_t reader_sleeps; /* waits for head to move */
    _Atomic uint32_t writer_sleeps;              /* waits for tail to move */
};

/* The futex word of a 64-bit counter: its low 32 bits. */
static const uint32_t *low32(const _Atomic uint64_t *p) {
    return (const uint32_t *)(const void *)p + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
}

/* After publishing a counter: wakes the other side if it sleeps on it. The seq_cst fences here
 * and in wait_for() make sure that either the sleeper sees the new counter before it sleeps
 * or the publisher sees the sleeper's flag. */
static void wake(_Atomic uint32_t *flag, const _Atomic uint64_t *counter) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(flag, memory_order_relaxed)) {
        atomic_store_explicit(flag, 0, memory_order_relaxed);
        q_os_futex_wake(low32(counter), INT32_MAX);
    }
}

static struct ring_ctl *ctl_of(const quire_ring *r) {
    return (struct ring_ctl *)r->ctl_;
}

static int ok(const quire_ring *r) {
    return r && r->ctl_ && r->data_;
}

/* Maps the three views of fd over a fresh reservation. */
static int map_views(int fd, size_t cap, quire_ring *out) {
    size_t ps = q_os_page_size();
    if (cap > (SIZE_MAX - ps) / 2) return QUIRE_EOVERFLOW;
    size_t len = ps + 2 * cap;
    void *base = NULL;
    int rc = q_os_reserve(&base, len);
    if (rc) return rc;
    int rw = Q_PROT_READ | Q_PROT_WRITE;
    void *ctl = base;
    void *data = (char *)base + ps;
    void *mirror = (char *)base + ps + cap;
    rc = q_os_map(&ctl, ps, rw, Q_MAP_SHARED | Q_MAP_FIXED, fd, 0);
    if (rc == 0) rc = q_os_map(&data, cap, rw, Q_MAP_SHARED | Q_MAP_FIXED, fd, (off_t)ps);
    if (rc == 0) rc = q_os_map(&mirror, cap, rw, Q_MAP_SHARED | Q_MAP_FIXED, fd, (off_t)ps);
    if (rc) {
        q_os_unmap(base, len);
        return rc;
    }
    out->data_ = data;
    out->cap_ = cap;
    out->ctl_ = ctl;
    out->map_ = base;
    out->map_len_ = len;
    out->fd_ = fd;
    return 0;
}

int quire_ring_create(size_t capacity, unsigned flags, quire_ring *out) {
    if (!out || capacity == 0 || (flags & ~(unsigned)QUIRE_RING_OVERWRITE)) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    out->fd_ = -1;
    size_t ps = q_os_page_size();
    size_t cap = q_os_page_round(capacity);
    if (cap == 0 || cap > (SIZE_MAX - ps) / 2) return QUIRE_EOVERFLOW;
    int fd;
    int rc = q_os_memfd("quire-ring", 0, &fd);
    if (rc) return rc;
    rc = q_os_ftruncate(fd, (off_t)(ps + cap));
    if (rc == 0) rc = map_views(fd, cap, out);
    if (rc) {
        q_os_close(fd);
        out->fd_ = -1;
        return rc;
    }
    struct ring_ctl *c = ctl_of(out);
    c->cap = cap;
    atomic_store_explicit(&c->head, 0, memory_order_relaxed);
    atomic_store_explicit(&c->tail, 0, memory_order_relaxed);
    c->magic = RING_MAGIC;
    out->flags_ = flags;
    return 0;
}

int quire_ring_attach(int fd, quire_ring *out) {
    if (!out || fd < 0) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    out->fd_ = -1;
    size_t ps = q_os_page_size();
    off_t fsize;
    int rc = q_os_file_size(fd, &fsize);
    if (rc) return rc;
    if (fsize <= (off_t)ps || ((size_t)fsize & (ps - 1))) return QUIRE_EINVAL;
    int nfd;
    rc = q_os_dup(fd, &nfd);
    if (rc) return rc;
    size_t cap = (size_t)fsize - ps;
    rc = map_views(nfd, cap, out);
    if (rc) {
        q_os_close(nfd);
        out->fd_ = -1;
        return rc;
    }
    const struct ring_ctl *c = ctl_of(out);
    if (c->magic != RING_MAGIC || c->cap != cap) {
        q_os_unmap(out->map_, out->map_len_);
        q_os_close(nfd);
        memset(out, 0, sizeof *out);
        out->fd_ = -1;
        return QUIRE_EINVAL;
    }
    return 0;
}

int quire_ring_destroy(quire_ring *r) {
    if (!ok(r)) return QUIRE_EINVAL;
    int rc = q_os_unmap(r->map_, r->map_len_);
    int rc2 = q_os_close(r->fd_);
    memset(r, 0, sizeof *r);
    r->fd_ = -1;
    return rc ? rc : rc2;
}

int quire_ring_fd(const quire_ring *r) {
    return ok(r) ? r->fd_ : -1;
}

size_t quire_ring_capacity(const quire_ring *r) {
    return ok(r) ? r->cap_ : 0;
}

size_t quire_ring_len(const quire_ring *r) {
    if (!ok(r)) return 0;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
    return (size_t)(h - t);
}

size_t quire_ring_space(const quire_ring *r) {
    return ok(r) ? r->cap_ - quire_ring_len(r) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Writer side
 * ------------------------------------------------------------------------------------------- */

/* Free bytes seen by the writer; refreshes the cached tail only when the cache says "full". */
static size_t writer_space(const quire_ring *r, uint64_t head, size_t want) {
    struct ring_ctl *c = ctl_of(r);
    if (r->flags_ & QUIRE_RING_OVERWRITE) /* the writer itself moves tail: no caching */
        return r->cap_ - (size_t)(head - atomic_load_explicit(&c->tail, memory_order_acquire));
    size_t space = r->cap_ - (size_t)(head - c->tail_seen);
    if (space < want || want == 0) {
        c->tail_seen = atomic_load_explicit(&c->tail, memory_order_acquire);
        space = r->cap_ - (size_t)(head - c->tail_seen);
    }
    return space;
}

int quire_ring_write_span(quire_ring *r, void **ptr, size_t *len) {
    if (!ok(r) || !ptr || !len) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    *len = writer_space(r, h, 0);
    *ptr = r->data_ + (size_t)(h % r->cap_);
    return 0;
}

int quire_ring_commit(quire_ring *r, size_t n) {
    if (!ok(r)) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    if (n > writer_space(r, h, n)) return QUIRE_ERANGE;
    atomic_store_explicit(&c->head, h + n, memory_order_release);
    wake(&c->reader_sleeps, &c->head);
    return 0;
}

/* Overwriting ring: advances tail so that `need` bytes are free after head. */
static void make_room(quire_ring *r, uint64_t h, size_t need) {
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (h - t + need > r->cap_)
        atomic_store_explicit(&c->tail, h + need - r->cap_, memory_order_release);
}

int quire_ring_write(quire_ring *r, const void *buf, size_t n) {
    if (!ok(r) || (!buf && n)) return QUIRE_EINVAL;
    if (n == 0) return 0;
    struct ring_ctl *c = ctl_of(r);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    if (r->flags_ & QUIRE_RING_OVERWRITE) {
        const unsigned char *src = buf;
        if (n > r->cap_) {
            /* Only the newest cap bytes survive: write them as if the rest had been written. */
            size_t skip = n - r->cap_;
            src += skip;
            h += skip;
            n = r->cap_;
        }
        make_room(r, h, n);
        memcpy(r->data_ + (size_t)(h % r->cap_), src, n);
        atomic_store_explicit(&c->head, h + n, memory_order_release);
        wake(&c->reader_sleeps, &c->head);
        return 0;
    }
    if (writer_space(r, h, n) < n) return QUIRE_EAGAIN;
    memcpy(r->data_ + (size_t)(h % r->cap_), buf, n);
    atomic_store_explicit(&c->head, h + n, memory_order_release);
    wake(&c->reader_sleeps, &c->head);
    return 0;
}

int quire_ring_vprintf(quire_ring *r, size_t *written, const char *fmt, va_list ap) {
    if (written) *written = 0;
    if (!ok(r) || !fmt) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_relaxed);
    char *dst = (char *)r->data_ + (size_t)(h % r->cap_);
    int n;
    if (r->flags_ & QUIRE_RING_OVERWRITE) {
        va_list aq;
        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0) return QUIRE_EINVAL;
        /* The text must leave one byte of the ring for vsnprintf's NUL, which lands on the
         * oldest byte kept: save that byte and put it back (one thread at a time on an
         * overwriting ring, so nobody reads it meanwhile). */
        if ((size_t)n >= r->cap_) return QUIRE_ERANGE;
        make_room(r, h, (size_t)n);
        char keep = dst[n];
        int n2 = vsnprintf(dst, (size_t)n + 1, fmt, ap);
        dst[n] = keep;
        if (n2 != n) return QUIRE_EINVAL;
    } else {
        size_t space = writer_space(r, h, 0);
        n = vsnprintf(dst, space, fmt, ap);
        if (n < 0) return QUIRE_EINVAL;
        if (n == 0) return 0;
        if ((size_t)n >= space) return QUIRE_EAGAIN; /* text and its NUL did not fit */
    }
    atomic_store_explicit(&c->head, h + (size_t)n, memory_order_release);
    wake(&c->reader_sleeps, &c->head);
    if (written) *written = (size_t)n;
    return 0;
}

int quire_ring_printf(quire_ring *r, size_t *written, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = quire_ring_vprintf(r, written, fmt, ap);
    va_end(ap);
    return rc;
}

int quire_ring_fill_from_fd(quire_ring *r, int fd, size_t *got) {
    if (!got) return QUIRE_EINVAL;
    *got = 0;
    void *p;
    size_t space;
    int rc = quire_ring_write_span(r, &p, &space);
    if (rc || space == 0) return rc;
    rc = q_os_read(fd, p, space, got);
    if (rc) return rc;
    return quire_ring_commit(r, *got);
}

/* ---------------------------------------------------------------------------------------------
 * Reader side
 * ------------------------------------------------------------------------------------------- */

/* Readable bytes seen by the reader; refreshes the cached head when it does not suffice. */
static size_t reader_avail(const quire_ring *r, uint64_t tail, size_t want) {
    struct ring_ctl *c = ctl_of(r);
    if (r->flags_ & QUIRE_RING_OVERWRITE) /* the writer moves tail: no caching */
        return (size_t)(atomic_load_explicit(&c->head, memory_order_acquire) - tail);
    size_t avail = (size_t)(c->head_seen - tail);
    if (c->head_seen < tail || avail < want || want == 0) {
        c->head_seen = atomic_load_explicit(&c->head, memory_order_acquire);
        avail = (size_t)(c->head_seen - tail);
    }
    return avail;
}

int quire_ring_read_span(quire_ring *r, const void **ptr, size_t *len) {
    if (!ok(r) || !ptr || !len) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    *len = reader_avail(r, t, 0);
    *ptr = r->data_ + (size_t)(t % r->cap_);
    return 0;
}

int quire_ring_consume(quire_ring *r, size_t n) {
    if (!ok(r)) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    if (n > reader_avail(r, t, n)) return QUIRE_ERANGE;
    atomic_store_explicit(&c->tail, t + n, memory_order_release);
    wake(&c->writer_sleeps, &c->tail);
    return 0;
}

int quire_ring_peek(const quire_ring *r, void *buf, size_t n, size_t *got) {
    if (!ok(r) || !got || (!buf && n)) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
    size_t avail = (size_t)(h - t);
    if (n > avail) n = avail;
    if (n) memcpy(buf, r->data_ + (size_t)(t % r->cap_), n);
    *got = n;
    return 0;
}

int quire_ring_read(quire_ring *r, void *buf, size_t n, size_t *got) {
    if (!ok(r) || !got || (!buf && n)) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_relaxed);
    size_t avail = reader_avail(r, t, n);
    if (n > avail) n = avail;
    if (n) memcpy(buf, r->data_ + (size_t)(t % r->cap_), n);
    if (n) {
        atomic_store_explicit(&c->tail, t + n, memory_order_release);
        wake(&c->writer_sleeps, &c->tail);
    }
    *got = n;
    return 0;
}

int quire_ring_peek_line(const quire_ring *r, const char **line, size_t *len) {
    if (!ok(r) || !line || !len) return QUIRE_EINVAL;
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
    const char *p = (const char *)r->data_ + (size_t)(t % r->cap_);
    const char *nl = memchr(p, '\n', (size_t)(h - t));
    if (!nl) return QUIRE_EAGAIN;
    *line = p;
    *len = (size_t)(nl - p) + 1;
    return 0;
}

int quire_ring_getline(quire_ring *r, char *buf, size_t cap, size_t *len) {
    if (!buf || cap == 0) return QUIRE_EINVAL;
    const char *line;
    size_t n;
    int rc = quire_ring_peek_line(r, &line, &n);
    if (rc) return rc;
    if (n > cap - 1) return QUIRE_ERANGE;
    memcpy(buf, line, n);
    buf[n] = 0;
    if (len) *len = n;
    return quire_ring_consume(r, n);
}

int quire_ring_drain_to_fd(quire_ring *r, int fd, size_t *put) {
    if (!put) return QUIRE_EINVAL;
    *put = 0;
    const void *p;
    size_t avail;
    int rc = quire_ring_read_span(r, &p, &avail);
    if (rc || avail == 0) return rc;
    rc = q_os_write(fd, p, avail, put);
    if (rc) return rc;
    return quire_ring_consume(r, *put);
}

/* ---------------------------------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------------------------------- */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Bytes readable (reader) or writable (writer) now. */
static size_t ready_now(const quire_ring *r, int writer) {
    struct ring_ctl *c = ctl_of(r);
    uint64_t t = atomic_load_explicit(&c->tail, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&c->head, memory_order_acquire);
    return writer ? r->cap_ - (size_t)(h - t) : (size_t)(h - t);
}

/* Waits until ready_now(r, writer) >= n: a short spin, then sleeps on the futex of the counter
 * the other side moves (head for a reader, tail for a writer). */
static int wait_for(quire_ring *r, size_t n, uint64_t timeout_ns, int writer) {
    struct ring_ctl *c = ctl_of(r);
    _Atomic uint32_t *flag = writer ? &c->writer_sleeps : &c->reader_sleeps;
    const _Atomic uint64_t *counter = writer ? &c->tail : &c->head;
    /* Spin first (some microseconds): a running partner usually moves soon, and a futex
     * sleep and wake-up costs tens of microseconds. */
    for (int spin = 0; spin < 2048; spin++) {
        if (ready_now(r, writer) >= n) return 0;
        if (timeout_ns == 0) return QUIRE_EAGAIN;
        cpu_relax();
    }
    uint64_t start = q_os_now_ns();
    for (;;) {
        uint64_t left = UINT64_MAX;
        if (timeout_ns != UINT64_MAX) {
            uint64_t spent = q_os_now_ns() - start;
            if (spent >= timeout_ns) return ready_now(r, writer) >= n ? 0 : QUIRE_EAGAIN;
            left = timeout_ns - spent;
        }
        atomic_store_explicit(flag, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        uint32_t seen = (uint32_t)atomic_load_explicit(counter, memory_order_relaxed);
        if (ready_now(r, writer) >= n) return 0; /* the flag may stay set: costs one wake */
        int rc = q_os_futex_wait(low32(counter), seen, left);
        if (rc && rc != QUIRE_EAGAIN) return rc;
        if (ready_now(r, writer) >= n) return 0;
    }
}

int quire_ring_wait_readable(quire_ring *r, size_t n, uint64_t timeout_ns) {
    if (!ok(r)) return QUIRE_EINVAL;
    if (n > r->cap_) return QUIRE_ERANGE;
    if (n == 0) return 0;
    return wait_for(r, n, timeout_ns, 0);
}

int quire_ring_wait_writable(quire_ring *r, size_t n, uint64_t timeout_ns) {
    if (!ok(r)) return QUIRE_EINVAL;
    if (n > r->cap_) return QUIRE_ERANGE;
    if (n == 0 || (r->flags_ & QUIRE_RING_OVERWRITE)) return 0; /* writes always succeed */
    return wait_for(r, n, timeout_ns, 1);
}
