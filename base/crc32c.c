/*
 * base/crc32c.c - CRC32C (Castagnoli polynomial, reflected 0x82F63B78), the checksum of every
 * pager superblock slot, metadata page and protected page copy, and of the heap's undo log.
 *
 * Portable path: slicing-by-8 (eight 256-entry tables built once, eight bytes per step).
 * Fast path: the SSE4.2 crc32 instruction, chosen at run time with __builtin_cpu_supports, so
 * the library still runs on x86-64 machines without it. Both compute the same function
 * (tests/unit/test_base.c compares them on random inputs and known vectors).
 * The CRC is used with init ~0 and final ~0 (the iSCSI convention):
 * q_base_crc32c(0, "123456789", 9) is 0xE3069283.
 */
#include <stdatomic.h>
#include <string.h>

#include "base/crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define Q_HAVE_SSE42_PATH 1
#endif

static uint32_t table[8][256];
static atomic_int table_ready; /* 0 none, 1 building, 2 ready */

static void build_tables(void) {
    int expect = 0;
    if (atomic_load_explicit(&table_ready, memory_order_acquire) == 2) return;
    if (!atomic_compare_exchange_strong(&table_ready, &expect, 1)) {
        while (atomic_load_explicit(&table_ready, memory_order_acquire) != 2) { /* spin */
        }
        return;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
    atomic_store_explicit(&table_ready, 2, memory_order_release);
}

uint32_t q_base_crc32c_sw(uint32_t crc, const void *buf, size_t n) {
    build_tables();
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = table[7][w & 0xFF] ^ table[6][(w >> 8) & 0xFF] ^ table[5][(w >> 16) & 0xFF] ^
            table[4][(w >> 24) & 0xFF] ^ table[3][(w >> 32) & 0xFF] ^ table[2][(w >> 40) & 0xFF] ^
            table[1][(w >> 48) & 0xFF] ^ table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

#ifdef Q_HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *buf, size_t n) {
    const uint8_t *p = buf;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static atomic_int hw_state; /* 0 unknown, 1 absent, 2 present */

uint32_t q_base_crc32c(uint32_t crc, const void *buf, size_t n) {
    int s = atomic_load_explicit(&hw_state, memory_order_relaxed);
    if (s == 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("sse4.2") ? 2 : 1;
        atomic_store_explicit(&hw_state, s, memory_order_relaxed);
    }
    return s == 2 ? crc_hw(crc, buf, n) : q_base_crc32c_sw(crc, buf, n);
}
#else
uint32_t q_base_crc32c(uint32_t crc, const void *buf, size_t n) {
    return q_base_crc32c_sw(crc, buf, n);
}
#endif
