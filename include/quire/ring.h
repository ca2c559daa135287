/*
 * quire/ring.h - mirrored ring buffers: every read and every write is one contiguous span.
 *
 * Overview
 * --------
 * A ring is a byte FIFO of a fixed capacity (a multiple of the page size) kept in one memfd. The
 * data pages of the memfd are mapped twice, back to back, inside one reserved range of address
 * space, so the byte after the last one of the ring is the first one again:
 *
 *     [ control page ][ data: capacity bytes ][ the same data again ]
 *
 * Whatever the read and write positions, the free space and the readable bytes are each one
 * contiguous span of memory: a reader parses a record that wraps around the end without copying
 * it, and a writer hands the span to read(2), memcpy or vsnprintf in one call. The control page
 * holds the read and write counters, so the whole ring lives in the memfd: after fork() parent
 * and child share it, and another process can attach to it through its descriptor.
 *
 * The mirror is built without a window in which another thread could take the address space:
 * the range is reserved PROT_NONE first and the three views are mapped over it with MAP_FIXED.
 *
 * Kinds of ring (flags of quire_ring_create()):
 *   - the default ring refuses a write that does not fit (QUIRE_EAGAIN) and is a lock-free
 *     single-producer/single-consumer queue: one thread (or process) may use the write side
 *     (quire_ring_write*, quire_ring_commit, quire_ring_printf, quire_ring_fill_from_fd) while
 *     one other thread uses the read side (quire_ring_read*, quire_ring_consume,
 *     quire_ring_getline, quire_ring_drain_to_fd). The counters are C11 atomics published with
 *     release and observed with acquire ordering, each on its own cache line. Either side may
 *     block until the other moves (quire_ring_wait_readable, quire_ring_wait_writable: a short
 *     spin, then a futex in the shared control page, so it works between processes too);
 *   - QUIRE_RING_OVERWRITE keeps the newest data: a write always succeeds and drops the oldest
 *     bytes to make room (a log of the last N bytes). Its writer moves the read counter, so an
 *     overwriting ring is for one thread at a time.
 *
 * Counters are 64-bit byte counts that only grow: they never wrap in practice (584 years at
 * 1 GB/s).
 *
 * The handle is a small struct of private fields: treat it as opaque. Copying it gives a second
 * handle to the same ring (use one of them to destroy it). A ring is not usable after
 * quire_ring_destroy().
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL or destroyed ring handle.
 */
#ifndef QUIRE_RING_H
#define QUIRE_RING_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A ring handle. Private fields: use the functions below. */
typedef struct quire_ring {
    unsigned char *data_; /**< first data byte; the mirror follows at data_ + cap_ */
    size_t cap_;          /**< capacity in bytes, a multiple of the page size */
    void *ctl_;           /**< the shared control page (counters) */
    void *map_;           /**< the whole reserved range */
    size_t map_len_;      /**< its length: one page + 2 * cap_ */
    int fd_;              /**< the memfd holding control page and data */
    unsigned flags_;      /**< QUIRE_RING_* flags given at creation */
} quire_ring;

/** Flags for quire_ring_create(). */
enum quire_ring_flags {
    QUIRE_RING_DEFAULT = 0,
    QUIRE_RING_OVERWRITE = 1 << 0, /**< writes never fail: the oldest bytes are dropped */
};

/**
 * @brief Creates a ring.
 * @param capacity bytes wanted; rounded up to a multiple of the page size.
 * @param flags    QUIRE_RING_DEFAULT or QUIRE_RING_OVERWRITE.
 * @param out      receives the ring.
 * @return 0, or QUIRE_EINVAL (capacity 0, unknown flag, out NULL), QUIRE_EOVERFLOW (capacity too
 *         large to round or double), QUIRE_ENOMEM (no memory or address space), QUIRE_EMFILE
 *         (no descriptor left for the memfd), QUIRE_ENOTSUP (no memfd_create).
 */
QUIRE_API int quire_ring_create(size_t capacity, unsigned flags, quire_ring *out);

/**
 * @brief Maps an existing ring from its descriptor (from quire_ring_fd(), inherited by a child
 *        or passed over a socket). Both mappings then share the counters and the data.
 * @param fd  a descriptor of a ring's memfd; it is duplicated, the caller keeps its own.
 * @param out receives the ring.
 * @return 0, or QUIRE_EINVAL (fd is not a ring: wrong magic or size), QUIRE_ENOMEM,
 *         QUIRE_EMFILE, QUIRE_EOS.
 */
QUIRE_API int quire_ring_attach(int fd, quire_ring *out);

/**
 * @brief Unmaps the ring, closes its descriptor and clears the handle.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_destroy(quire_ring *r);

/** @brief The ring's memfd (owned by the ring; dup it to keep it), or -1 for a bad handle. */
QUIRE_API int quire_ring_fd(const quire_ring *r);

/** @brief Capacity in bytes (a multiple of the page size); 0 for a bad handle. */
QUIRE_API size_t quire_ring_capacity(const quire_ring *r);

/** @brief Bytes ready to read; 0 for a bad handle. */
QUIRE_API size_t quire_ring_len(const quire_ring *r);

/** @brief Bytes that can be written without blocking or dropping data; 0 for a bad handle. */
QUIRE_API size_t quire_ring_space(const quire_ring *r);

/* -------------------------------------------------------------------------------------------
 * Zero-copy spans
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief The free space as one contiguous writable span. Write into it, then publish what was
 *        written with quire_ring_commit().
 * @param ptr receives the first free byte.
 * @param len receives the span's length (quire_ring_space(); 0 when the ring is full).
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_write_span(quire_ring *r, void **ptr, size_t *len);

/**
 * @brief Publishes n bytes written into the span from quire_ring_write_span() to the reader.
 * @return 0, or QUIRE_ERANGE (n larger than the free space), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_commit(quire_ring *r, size_t n);

/**
 * @brief The readable bytes as one contiguous span (valid until they are consumed).
 * @param ptr receives the first readable byte.
 * @param len receives the span's length (quire_ring_len(); 0 when the ring is empty).
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_read_span(quire_ring *r, const void **ptr, size_t *len);

/**
 * @brief Releases the first n readable bytes to the writer.
 * @return 0, or QUIRE_ERANGE (n larger than the readable bytes), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_consume(quire_ring *r, size_t n);

/* -------------------------------------------------------------------------------------------
 * Copying reads and writes
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Appends n bytes, all or nothing. On an overwriting ring the oldest bytes are dropped to
 *        make room, and of a write longer than the capacity only its last capacity bytes stay.
 * @return 0, or QUIRE_EAGAIN (default ring: fewer than n bytes free; nothing written),
 *         QUIRE_EINVAL (buf NULL with n > 0).
 */
QUIRE_API int quire_ring_write(quire_ring *r, const void *buf, size_t n);

/**
 * @brief Copies up to n readable bytes into buf and consumes them.
 * @param got receives the count copied (0 when the ring is empty).
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_read(quire_ring *r, void *buf, size_t n, size_t *got);

/**
 * @brief Copies up to n readable bytes into buf without consuming them.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_peek(const quire_ring *r, void *buf, size_t n, size_t *got);

/* -------------------------------------------------------------------------------------------
 * Buffered reader and writer
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Formats like printf straight into the free span (one vsnprintf, no intermediate
 *        buffer) and commits the text, without its terminating NUL, all or nothing.
 * @param written receives the number of bytes appended (may be NULL).
 *        Default ring: the free space must hold the text plus one byte (vsnprintf writes a
 *        NUL after the text; that byte is not committed). Overwriting ring: the oldest bytes
 *        are dropped to make room for exactly the text.
 * @return 0, or QUIRE_EAGAIN (default ring: the text and its NUL do not fit in the free space;
 *         nothing is committed), QUIRE_ERANGE (overwriting ring: the text is not shorter than
 *         the capacity),
 *         QUIRE_EINVAL (fmt NULL, or an encoding error in the format).
 */
QUIRE_API int quire_ring_printf(quire_ring *r, size_t *written, const char *fmt, ...)
    QUIRE_ATTR_PRINTF(3, 4);
/** @brief quire_ring_printf() with a va_list. */
QUIRE_API int quire_ring_vprintf(quire_ring *r, size_t *written, const char *fmt, va_list ap);

/**
 * @brief Zero-copy line read: finds the first '\n' among the readable bytes.
 * @param line receives the first byte of the line (inside the ring, contiguous even across the
 *             wrap); it stays valid until consumed.
 * @param len  receives the line's length including its '\n'. Consume it with
 *             quire_ring_consume(r, *len).
 * @return 0, or QUIRE_EAGAIN (no complete line yet), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_peek_line(const quire_ring *r, const char **line, size_t *len);

/**
 * @brief Reads one line into buf, NUL-terminated, and consumes it (the '\n' is kept, like
 *        fgets).
 * @param cap  size of buf; a line longer than cap - 1 bytes is not read.
 * @param len  receives the line's length without the NUL (may be NULL).
 * @return 0, or QUIRE_EAGAIN (no complete line yet), QUIRE_ERANGE (the line does not fit in
 *         buf; nothing consumed), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_getline(quire_ring *r, char *buf, size_t cap, size_t *len);

/**
 * @brief Fills the free span with one read(2) from fd (a buffered reader's refill).
 * @param got receives the count read; 0 means end of file (or a full ring, where no read is
 *            made: check quire_ring_space()).
 * @return 0, or QUIRE_EAGAIN (non-blocking fd with nothing to read), QUIRE_EIO, QUIRE_EOS and
 *         other codes translated from read(2), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_fill_from_fd(quire_ring *r, int fd, size_t *got);

/**
 * @brief Writes readable bytes to fd with one write(2) and consumes what was written (a
 *        buffered writer's flush).
 * @param put receives the count written (0 when the ring is empty).
 * @return 0, or QUIRE_EAGAIN (non-blocking fd is full), QUIRE_ENOSPC, QUIRE_EIO, QUIRE_EOS,
 *         QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_drain_to_fd(quire_ring *r, int fd, size_t *put);

/* -------------------------------------------------------------------------------------------
 * Waiting (blocking use of a ring, also between processes)
 *
 * Each side may sleep until the other has made progress: a futex on the other side's counter
 * in the shared control page, so the reader and the writer may live in different processes.
 * Every call that publishes (commit, write, printf, consume, read, ...) wakes a sleeper of the
 * other side; the cost when nobody sleeps is one memory fence and one load of a line that
 * stays in both caches.
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Waits until at least n bytes are readable.
 * @param n          1..capacity (0 returns at once).
 * @param timeout_ns longest wait in nanoseconds; 0 only checks; UINT64_MAX waits for ever.
 * @return 0 (n bytes are readable now), QUIRE_EAGAIN (the timeout passed first),
 *         QUIRE_ERANGE (n larger than the capacity), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_wait_readable(quire_ring *r, size_t n, uint64_t timeout_ns);

/**
 * @brief Waits until at least n bytes can be written (an overwriting ring never waits).
 * @return 0, QUIRE_EAGAIN (timeout), QUIRE_ERANGE (n larger than the capacity), QUIRE_EINVAL.
 */
QUIRE_API int quire_ring_wait_writable(quire_ring *r, size_t n, uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_RING_H */
