/*
 * base/assert.c - the assertion handler (see base/assert.h). It must work where nothing else
 * does - inside malloc, with a corrupt heap, in a signal handler - so it never allocates: the
 * message is assembled in a stack buffer and written with write(2), then abort(). These two
 * calls are the only system calls outside pages/ (base/ depends on nothing, not even pages/).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/assert.h"

/* Appends s to buf[*n..cap), truncating. */
static void put(char *buf, size_t *n, size_t cap, const char *s) {
    size_t l = strlen(s);
    if (l > cap - *n) l = cap - *n;
    memcpy(buf + *n, s, l);
    *n += l;
}

void q_base_assert_fail(const char *file, int line, const char *what) {
    char buf[512], num[16];
    size_t n = 0, k = sizeof num;
    unsigned v = line > 0 ? (unsigned)line : 0;
    num[--k] = 0;
    do num[--k] = (char)('0' + v % 10);
    while ((v /= 10) && k > 0);
    put(buf, &n, sizeof buf - 1, "quire: assertion failed: ");
    put(buf, &n, sizeof buf - 1, file ? file : "?");
    put(buf, &n, sizeof buf - 1, ":");
    put(buf, &n, sizeof buf - 1, num + k);
    put(buf, &n, sizeof buf - 1, ": ");
    put(buf, &n, sizeof buf - 1, what ? what : "?");
    buf[n++] = '\n';
    for (size_t off = 0; off < n;) {
        ssize_t w = write(2, buf + off, n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    abort();
}
