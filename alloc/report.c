/*
 * alloc/report.c - error reports and verbose messages, written without malloc or stdio.
 *
 * An invalid free (a pointer quire never returned, an interior pointer, a double free) is
 * reported on stderr as
 *     quire: free(): double free of 0x7f12a4c01040
 * and the process aborts (SIGABRT) before any heap structure is touched. QUIRE_VERBOSE=1
 * messages go through q_verbose. Numbers are formatted here (hex and decimal) so that nothing in
 * the path can allocate or take a libc lock.
 */
#include "alloc/internal.h"

void q_write_str(char *buf, size_t *len, const char *s) {
    while (*s && *len < 255) buf[(*len)++] = *s++;
}

void q_write_hex(char *buf, size_t *len, uint64_t v) {
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    q_write_str(buf, len, "0x");
    while (n && *len < 255) buf[(*len)++] = tmp[--n];
}

void q_write_dec(char *buf, size_t *len, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && *len < 255) buf[(*len)++] = tmp[--n];
}

void q_report_invalid(const char *fn, const void *p, const char *why) {
    char buf[256];
    size_t n = 0;
    q_write_str(buf, &n, "quire: ");
    q_write_str(buf, &n, fn);
    q_write_str(buf, &n, "(): ");
    q_write_str(buf, &n, why);
    q_write_str(buf, &n, ": ");
    q_write_hex(buf, &n, (uintptr_t)p);
    q_write_str(buf, &n, "\n");
    q_os_write_all(2, buf, n);
    q_os_abort();
}

/* "quire: heap corruption: free list of the 64 B slab at 0x... overwritten (link to 0x...)" */
void q_report_corrupt(const char *what, uint64_t size, const void *where, const void *bad) {
    char buf[256];
    size_t n = 0;
    q_write_str(buf, &n, "quire: heap corruption: ");
    q_write_str(buf, &n, what);
    q_write_str(buf, &n, " of the ");
    q_write_dec(buf, &n, size);
    q_write_str(buf, &n, " B slab at ");
    q_write_hex(buf, &n, (uintptr_t)where);
    q_write_str(buf, &n, " overwritten (link to ");
    q_write_hex(buf, &n, (uintptr_t)bad);
    q_write_str(buf, &n, ")\n");
    q_os_write_all(2, buf, n);
    q_os_abort();
}

unsigned q_kind_check(const char *fn, const void *p, unsigned have, unsigned want) {
    if (have == want) return have;
    static const char *const what[3][3] = {
        /* have malloc */ {"", "operator delete of a block allocated with malloc (use free)",
                           "operator delete[] of a block allocated with malloc (use free)"},
        /* have new */
        {"free of a block allocated with operator new (use delete)", "",
         "operator delete[] of a block allocated with new (use delete)"},
        /* have new[] */
        {"free of a block allocated with operator new[] (use delete[])",
         "operator delete of a block allocated with new[] (use delete[])", ""},
    };
    q_report_invalid(fn, p, have < 3 && want < 3 ? what[have][want] : "allocation kind mismatch");
}

void q_verbose(const char *msg, const void *addr, uint64_t v) {
    if (!q_opt.verbose) return;
    char buf[256];
    size_t n = 0;
    q_write_str(buf, &n, "quire: ");
    q_write_str(buf, &n, msg);
    if (addr) {
        q_write_str(buf, &n, " ");
        q_write_hex(buf, &n, (uintptr_t)addr);
    }
    q_write_str(buf, &n, " (");
    q_write_dec(buf, &n, v);
    q_write_str(buf, &n, ")\n");
    q_os_write_all(2, buf, n);
}
