/*
 * preload/override.c - interposes the C malloc family: each standard name forwards to the
 * engine's hidden entry point (alloc/api.c), so `LD_PRELOAD=libquire.so program` or linking
 * with -lquire makes every allocation of the program and of libc quire's.
 *
 * Forwarders only, no logic: malloc and free expand the engine's inline fast paths
 * (alloc/internal.h) in place, so the common case costs no extra call or jump; everything else
 * calls the engine's hidden entry points. Nothing here allocates or calls libc, so these functions
 * are safe before main (the dynamic loader's first malloc) and after the heap of a thread is gone.
 * The glibc-internal aliases (__libc_malloc, ...) are overridden too, so code that calls them never
 * mixes allocators. mallinfo2/mallinfo report quire's own figures.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc/internal.h"

#define Q_EXPORT __attribute__((visibility("default")))

/* Tells the engine (alloc/init.c) that it is the process's malloc: the exit report is due even
   when the program never allocated. */
extern const int q_override_linked Q_HIDDEN;
const int q_override_linked = 1;

Q_EXPORT void *malloc(size_t size) {
    return q_malloc_inline(size);
}
Q_EXPORT void free(void *p) {
    q_free_inline(p);
}
Q_EXPORT void *calloc(size_t n, size_t size) {
    return q_calloc(n, size);
}
Q_EXPORT void *realloc(void *p, size_t size) {
    return q_realloc(p, size);
}
Q_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
    return q_reallocarray(p, n, size);
}
Q_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
    return q_posix_memalign(out, align, size);
}
Q_EXPORT void *aligned_alloc(size_t align, size_t size) {
    return q_aligned_alloc(align, size);
}
Q_EXPORT void *memalign(size_t align, size_t size) {
    return q_memalign(align, size);
}
Q_EXPORT void *valloc(size_t size) {
    return q_valloc(size);
}
Q_EXPORT void *pvalloc(size_t size) {
    return q_pvalloc(size);
}
Q_EXPORT size_t malloc_usable_size(void *p) {
    return q_malloc_usable_size(p);
}
Q_EXPORT void free_sized(void *p, size_t size) {
    q_free_sized(p, size);
}
Q_EXPORT void free_aligned_sized(void *p, size_t align, size_t size) {
    q_free_aligned_sized(p, align, size);
}
Q_EXPORT int malloc_trim(size_t pad) {
    return q_malloc_trim(pad);
}
Q_EXPORT void malloc_stats(void) {
    q_malloc_stats();
}
Q_EXPORT int mallopt(int param, int value) {
    return q_mallopt(param, value);
}

static void to_stream(void *fp, const char *p, size_t n) {
    fwrite(p, 1, n, fp);
}

/* malloc_info: the XML goes straight to the stream's descriptor (after what the stream holds);
   a stream with none (open_memstream) gets it through fwrite, which may allocate - from quire,
   outside any of its locks. */
Q_EXPORT int malloc_info(int options, FILE *fp) {
    if (options != 0 || !fp) {
        errno = EINVAL;
        return -1;
    }
    int saved = errno;
    int fd = fileno(fp);
    if (fd >= 0) {
        fflush(fp);
        q_stats_xml(fd, NULL, NULL);
    } else {
        q_stats_xml(-1, to_stream, fp);
    }
    errno = saved;
    return 0;
}

Q_EXPORT void cfree(void *p) {
    q_free_inline(p);
}

/* glibc's internal names, used by a few programs and libraries directly. */
Q_EXPORT void *__libc_malloc(size_t size) {
    return q_malloc_inline(size);
}
Q_EXPORT void __libc_free(void *p) {
    q_free_inline(p);
}
Q_EXPORT void *__libc_calloc(size_t n, size_t size) {
    return q_calloc(n, size);
}
Q_EXPORT void *__libc_realloc(void *p, size_t size) {
    return q_realloc(p, size);
}
Q_EXPORT void *__libc_memalign(size_t align, size_t size) {
    return q_memalign(align, size);
}
Q_EXPORT void *__libc_valloc(size_t size) {
    return q_valloc(size);
}
Q_EXPORT void *__libc_pvalloc(size_t size) {
    return q_pvalloc(size);
}

Q_EXPORT struct mallinfo2 mallinfo2(void) {
    struct quire_alloc_stats st;
    struct mallinfo2 mi = {0};
    quire_alloc_stats_get(&st);
    mi.arena = st.mapped_bytes;
    mi.ordblks = st.live_blocks;
    mi.hblks = st.large_blocks;
    mi.uordblks = st.live_bytes;
    mi.fordblks = st.mapped_bytes > st.live_bytes ? st.mapped_bytes - st.live_bytes : 0;
    mi.usmblks = st.peak_mapped_bytes;
    mi.keepcost = 0;
    return mi;
}

Q_EXPORT struct mallinfo mallinfo(void) {
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi = {0};
    mi.arena = (int)m2.arena;
    mi.ordblks = (int)m2.ordblks;
    mi.hblks = (int)m2.hblks;
    mi.uordblks = (int)m2.uordblks;
    mi.fordblks = (int)m2.fordblks;
    mi.usmblks = (int)m2.usmblks;
    return mi;
}
