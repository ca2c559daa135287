/*
 * base/crc32c.h - CRC32C (Castagnoli), the checksum of the pager's superblock slots, metadata
 * pages and protected page copies, and of the persistent heap's undo log.
 *
 * Start with crc 0 and feed the bytes in as many calls as convenient: q_base_crc32c(
 * q_base_crc32c(0, a, n), b, m) is the CRC of a then b. The iSCSI convention (init and final
 * ~0): q_base_crc32c(0, "123456789", 9) == 0xE3069283.
 */
#ifndef QUIRE_BASE_CRC32C_H
#define QUIRE_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of buf[0..n) continuing from crc: the SSE4.2 instruction when the CPU has it, else
 * q_base_crc32c_sw(). */
uint32_t q_base_crc32c(uint32_t crc, const void *buf, size_t n);

/* The portable slicing-by-8 implementation (tests compare it with the hardware one). */
uint32_t q_base_crc32c_sw(uint32_t crc, const void *buf, size_t n);

#endif
