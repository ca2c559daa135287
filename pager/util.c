/*
 * pager/util.c - small containers of the pager (a set and a vector of u64), the problem reporter
 * of the checkers, and the default I/O layer, which forwards to the OS primitives of pages/prim.h.
 *
 * The pager runs in ordinary processes (not inside malloc), so these use malloc freely.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

/* ---------------------------------------------------------------------------------------------
 * q_set: open addressing, linear probing, backward-shift deletion
 * ------------------------------------------------------------------------------------------- */

#define Q_EMPTY UINT64_MAX

static size_t hash64(uint64_t k) {
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (size_t)k;
}

static int set_resize(struct q_set *s, size_t cap) {
    uint64_t *nk = malloc(cap * sizeof *nk);
    if (!nk) return QUIRE_ENOMEM;
    for (size_t i = 0; i < cap; i++) nk[i] = Q_EMPTY;
    for (size_t i = 0; i < s->cap; i++) {
        uint64_t k = s->keys[i];
        if (k == Q_EMPTY) continue;
        size_t j = hash64(k) & (cap - 1);
        while (nk[j] != Q_EMPTY) j = (j + 1) & (cap - 1);
        nk[j] = k;
    }
    free(s->keys);
    s->keys = nk;
    s->cap = cap;
    return 0;
}

int q_set_add(struct q_set *s, uint64_t key) {
    if (key == Q_EMPTY) return QUIRE_EINVAL;
    if ((s->count + 1) * 4 > s->cap * 3) {
        int rc = set_resize(s, s->cap ? s->cap * 2 : 64);
        if (rc) return rc;
    }
    size_t j = hash64(key) & (s->cap - 1);
    while (s->keys[j] != Q_EMPTY) {
        if (s->keys[j] == key) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = key;
    s->count++;
    return 1;
}

int q_set_has(const struct q_set *s, uint64_t key) {
    if (!s->count || key == Q_EMPTY) return 0;
    size_t j = hash64(key) & (s->cap - 1);
    while (s->keys[j] != Q_EMPTY) {
        if (s->keys[j] == key) return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

int q_set_del(struct q_set *s, uint64_t key) {
    if (!s->count || key == Q_EMPTY) return 0;
    size_t m = s->cap - 1, j = hash64(key) & m;
    while (s->keys[j] != key) {
        if (s->keys[j] == Q_EMPTY) return 0;
        j = (j + 1) & m;
    }
    /* Backward shift: move later entries of the cluster into the hole when allowed. */
    size_t hole = j;
    for (size_t i = (j + 1) & m; s->keys[i] != Q_EMPTY; i = (i + 1) & m) {
        size_t home = hash64(s->keys[i]) & m;
        if (((i - home) & m) >= ((i - hole) & m)) {
            s->keys[hole] = s->keys[i];
            hole = i;
        }
    }
    s->keys[hole] = Q_EMPTY;
    s->count--;
    return 1;
}

void q_set_clear(struct q_set *s) {
    if (s->count)
        for (size_t i = 0; i < s->cap; i++) s->keys[i] = Q_EMPTY;
    s->count = 0;
}

void q_set_free(struct q_set *s) {
    free(s->keys);
    memset(s, 0, sizeof *s);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int q_set_sorted(const struct q_set *s, uint64_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (!s->count) return 0;
    uint64_t *a = malloc(s->count * sizeof *a);
    if (!a) return QUIRE_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->keys[i] != Q_EMPTY) a[k++] = s->keys[i];
    qsort(a, k, sizeof *a, cmp_u64);
    *out = a;
    *n = k;
    return 0;
}

int q_vec_push(struct q_vec *v, uint64_t x) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        uint64_t *nv = realloc(v->v, nc * sizeof *nv);
        if (!nv) return QUIRE_ENOMEM;
        v->v = nv;
        v->cap = nc;
    }
    v->v[v->n++] = x;
    return 0;
}

void q_vec_free(struct q_vec *v) {
    free(v->v);
    memset(v, 0, sizeof *v);
}

void q_problem(uint64_t *count, void (*on_problem)(void *arg, const char *message), void *arg,
               const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (*count)++;
    if (on_problem) on_problem(arg, msg);
}

/* ---------------------------------------------------------------------------------------------
 * The default I/O layer
 * ------------------------------------------------------------------------------------------- */

static int io_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off) {
    (void)ctx;
    return q_os_pread_full(fd, buf, n, (off_t)off);
}
static int io_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off) {
    (void)ctx;
    return q_os_pwrite_full(fd, buf, n, (off_t)off);
}
static int io_sync(void *ctx, int fd) {
    (void)ctx;
    return q_os_fdatasync(fd);
}
static int io_truncate(void *ctx, int fd, uint64_t size) {
    (void)ctx;
    return q_os_ftruncate(fd, (off_t)size);
}
static int io_remap(void *ctx, void *old, size_t old_size, size_t new_size, void **out) {
    (void)ctx;
    return q_os_remap(old, old_size, new_size, Q_REMAP_MAYMOVE, out);
}

const struct q_pager_io q_pager_default_io = {io_pread,    io_pwrite, io_sync,
                                              io_truncate, io_remap,  NULL};
