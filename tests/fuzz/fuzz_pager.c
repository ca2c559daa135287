/*
 * tests/fuzz/fuzz_pager.c - libFuzzer target: open + read everything + check, on any bytes.
 *
 * The input is written to a memfd and opened through /proc/self/fd/N, read-only, with the page
 * size taken from the file. Whatever the bytes, the pager must return an error code or a
 * consistent handle, never crash, hang or leak. `make fuzz` builds this with
 * clang -fsanitize=fuzzer,address; tests/unit/test_pager_corrupt.c includes this file and feeds
 * it the corpus (tests/fuzz/corpus/) and thousands of mutations with gcc, without libFuzzer.
 *
 * Every input runs twice: as given, then with its checksums repaired (both superblock slots and
 * their inline commit records, the leaves their roots name directly, the protected copies those
 * leaves name), so that mutated metadata gets past the CRC32C checks and exercises the
 * validation behind them.
 */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pager/format.h"
#include "quire/pager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Opens the bytes as a pager file and touches everything; returns open's result. */
static int fuzz_pager_one(const uint8_t *data, size_t size, int *check_rc) {
    int fd = memfd_create("quire-fuzz", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    quire_pager *p;
    int rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p);
    if (rc == 0) {
        uint32_t ps = quire_pager_page_size(p);
        volatile uint8_t sink = 0;
        uint64_t cur = 0, id;
        int n = 0;
        while (quire_pager_next_page(p, &cur, &id) == 1 && n++ < 100000) {
            const void *d;
            if (quire_pager_get(p, id, &d) == 0) sink ^= ((const uint8_t *)d)[ps - 1];
        }
        cur = 0;
        while (quire_pager_next_protected(p, &cur, &id) == 1) {
            const void *d;
            if (quire_pager_protected_get(p, id, &d) == 0) sink ^= ((const uint8_t *)d)[0];
        }
        cur = 0;
        while (quire_pager_next_subpage(p, &cur, &id) == 1) {
            const void *d;
            size_t sz;
            if (quire_pager_subpage_get(p, id, &d, &sz) == 0) sink ^= ((const uint8_t *)d)[sz - 1];
        }
        struct quire_pager_stat st;
        quire_pager_stat(p, &st);
        (void)sink;
        quire_pager_close(p);
    }
    struct quire_pager_report r;
    memset(&r, 0, sizeof r);
    int c = quire_pager_check(path, &r);
    if (check_rc) *check_rc = c;
    close(fd);
    return rc;
}

/* The physical page a ref names as current, if it lies inside the n bytes; else NULL. */
static uint8_t *fuzz_ref_page(uint8_t *d, size_t n, uint32_t ps, const struct q_ref *r) {
    if (!(r->flags & Q_REF_PRESENT)) return NULL;
    uint64_t pg = r->copy[r->flags & Q_REF_SEL];
    if (pg >= n / ps) return NULL;
    return d + pg * ps;
}

/* Recomputes the checksums of d in place: protected copies named by the protected-page leaves
 * that a root names directly (height 0), then those roots' leaves, then both superblocks. */
static void fuzz_fix_checksums(uint8_t *d, size_t n) {
    if (n < sizeof(struct q_super)) return;
    struct q_super sb;
    memcpy(&sb, d, sizeof sb);
    uint32_t ps = sb.page_size;
    if (ps < QUIRE_PAGER_MIN_PAGE_SIZE || ps > QUIRE_PAGER_MAX_PAGE_SIZE || (ps & (ps - 1)) ||
        n < (size_t)q_pager_super_page(ps, 1) * ps + sizeof sb)
        return;
    for (int pass = 0; pass < 3; pass++)
        for (int slot = 0; slot < 2; slot++) {
            uint8_t *at = d + (size_t)q_pager_super_page(ps, slot) * ps;
            memcpy(&sb, at, sizeof sb);
            if (pass == 2) {
                /* the inline commit record: its entries' page checksums, then its own */
                uint64_t nh = sb.n_home, nsh = sb.n_shadow;
                if (!sb.rec_page && nh * 16 + nsh * 32 <= Q_SB_INLINE) {
                    uint8_t *e = sb.inline_rec;
                    for (uint64_t i = 0; i < nh; i++, e += sizeof(struct q_home)) {
                        struct q_home h;
                        memcpy(&h, e, sizeof h);
                        if (h.page < n / ps) h.crc = q_pager_page_crc(h.page, d + h.page * ps, ps);
                        memcpy(e, &h, sizeof h);
                    }
                    for (uint64_t i = 0; i < nsh; i++, e += sizeof(struct q_shadow)) {
                        struct q_shadow h;
                        memcpy(&h, e, sizeof h);
                        if (h.page < n / ps) h.crc = q_pager_page_crc(h.home, d + h.page * ps, ps);
                        memcpy(e, &h, sizeof h);
                    }
                    sb.rec_crc = q_base_crc32c(0, sb.inline_rec, (size_t)(nh * 16 + nsh * 32));
                }
                sb.crc = q_base_crc32c(0, &sb, offsetof(struct q_super, crc));
                memcpy(at, &sb, sizeof sb);
                continue;
            }
            for (unsigned t = 0; t < Q_NTREES; t++) {
                if (sb.height[t] != 0) continue;
                for (unsigned k = 0; k < Q_ROOTS; k++) {
                    struct q_ref *root = &sb.root[t][k];
                    uint8_t *leaf = fuzz_ref_page(d, n, ps, root);
                    if (!leaf) continue;
                    if (pass == 0 && t == Q_TREE_PROT) {
                        for (uint32_t i = 0; i < ps / sizeof(struct q_ref); i++) {
                            struct q_ref rec;
                            memcpy(&rec, leaf + i * sizeof rec, sizeof rec);
                            const uint8_t *copy = fuzz_ref_page(d, n, ps, &rec);
                            if (!copy || copy == leaf) continue;
                            rec.crc = q_pager_node_crc(rec.gen, copy, ps);
                            memcpy(leaf + i * sizeof rec, &rec, sizeof rec);
                        }
                    } else if (pass == 1) {
                        root->crc = q_pager_node_crc(root->gen, leaf, ps);
                    }
                }
            }
            memcpy(at, &sb, sizeof sb);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 22)) return 0;
    (void)fuzz_pager_one(data, size, NULL);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fuzz_fix_checksums(fixed, size);
    (void)fuzz_pager_one(fixed, size, NULL);
    free(fixed);
    return 0;
}
