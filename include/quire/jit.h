/*
 * quire/jit.h - a W^X code buffer: write machine code, seal it read+execute, call it.
 *
 * Overview
 * --------
 * A quire_jit is a fixed-capacity region for generated code with a tiny assembler-side API:
 * append bytes (quire_jit_emit*), pad to an alignment (quire_jit_align), patch 32-bit fields and
 * rel32 branch targets afterwards (quire_jit_patch32, quire_jit_patch_rel32). When the code is
 * complete, quire_jit_seal() makes it read+execute, flushes the instruction cache where the
 * architecture needs it (q_os_icache_flush) and quire_jit_fn() hands out function addresses.
 *
 * W^X at every instant: no mapping of a quire_jit is ever writable and executable at once.
 * Two ways to get there, chosen per buffer:
 *
 *  - mprotect mode (the usual one): the buffer is one anonymous region of typed pages
 *    (quire/pages.h). It is read+write while code is written, and quire_jit_seal() turns it into
 *    read+execute with one checked mprotect (quire_pages_rw_to_rx). quire_jit_unseal() turns it
 *    back into read+write, so the code is not executable while it is being changed.
 *
 *  - dual-mapping mode (asmjit's JitAllocator does the same on hardened systems): where the
 *    system refuses to make written memory executable (SELinux execmem, PaX MPROTECT), the
 *    buffer is one memfd mapped twice: a read+write view that code is written through, and a
 *    separate read+execute view that it runs from. Sealing unmaps the writable view (so no
 *    writable alias is left); unsealing maps a new one while the executable view keeps running.
 *
 * The mode is chosen when the buffer is created: dual mapping when QUIRE_JIT_DUAL is passed,
 * when the environment variable QUIRE_JIT_FORCE_DUAL=1 is set (it makes quire behave as if the
 * system refused RW->RX mprotect, for testing), or when an earlier probe or seal of this process
 * found that refusal. If mprotect is refused at seal time, the buffer falls back on its own:
 * the code is copied into a memfd that is mapped read+execute at the very same address
 * (MAP_FIXED over the writable region), so addresses computed before sealing stay valid.
 *
 * Addresses: quire_jit_exec_addr() gives the address an offset will have when executed; it is
 * fixed from creation on and never changes (not even in a seal-time fallback), so absolute and
 * relative references to code may be computed before sealing. In dual-mapping mode the address
 * written through differs from the executed one: never embed the writable view's address in
 * code.
 *
 * Errors are sticky: the first failed emit, align or patch (but for QUIRE_ESTATE: writing into a
 * sealed buffer, which changes nothing) is remembered and quire_jit_seal() refuses with it, so a
 * code generator may emit many instructions and check once.
 *
 * The handle is a struct of private fields: treat it as opaque, never copy a live one. One
 * thread at a time; executing sealed code from any number of threads is fine.
 *
 * Errors common to every function: QUIRE_EINVAL for a NULL or destroyed buffer.
 */
#ifndef QUIRE_JIT_H
#define QUIRE_JIT_H

#include <stddef.h>
#include <stdint.h>

#include "quire/error.h"
#include "quire/pages.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A code buffer. Private fields: use the functions below. */
typedef struct quire_jit {
    quire_pages_rw rw_; /**< mprotect mode while writable */
    quire_pages_rx rx_; /**< mprotect mode once sealed */
    unsigned char *w_;  /**< where code is written (NULL while sealed) */
    uintptr_t x_;       /**< where code executes (fixed from creation on) */
    size_t cap_;        /**< capacity in bytes, a multiple of the page size */
    size_t len_;        /**< bytes emitted */
    int fd_;            /**< backing memfd in dual-mapping mode, else -1 */
    int err_;           /**< first error of emit/align/patch (sticky), or 0 */
    unsigned state_;    /**< private state bits */
} quire_jit;

/** Flags for quire_jit_create(). */
enum quire_jit_flags {
    QUIRE_JIT_DEFAULT = 0,
    QUIRE_JIT_DUAL = 1 << 0, /**< use the dual mapping even where mprotect to RX is allowed */
};

/**
 * @brief Creates an empty, writable code buffer.
 * @param capacity bytes of code it can hold; rounded up to the page size.
 * @param flags    QUIRE_JIT_DEFAULT or QUIRE_JIT_DUAL.
 * @param out      receives the buffer.
 * @return 0, or QUIRE_EINVAL (capacity 0, unknown flag, out NULL), QUIRE_EOVERFLOW, QUIRE_ENOMEM,
 *         QUIRE_EMFILE (dual mode: no descriptor), QUIRE_EPERM or QUIRE_EACCES (dual mode: the
 *         system refuses executable file mappings too: no way to run generated code).
 */
QUIRE_API int quire_jit_create(size_t capacity, unsigned flags, quire_jit *out);

/**
 * @brief Unmaps the buffer (both views) and closes its memfd.
 * @return 0, or QUIRE_EINVAL.
 */
QUIRE_API int quire_jit_destroy(quire_jit *j);

/** @brief 1 if the buffer uses the dual mapping, 0 if mprotect, -1 for a bad handle. */
QUIRE_API int quire_jit_is_dual(const quire_jit *j);

/** @brief 1 if sealed (executable, not writable), 0 if writable, -1 for a bad handle. */
QUIRE_API int quire_jit_is_sealed(const quire_jit *j);

/** @brief Bytes emitted so far (the offset the next byte goes to); 0 for a bad handle. */
QUIRE_API size_t quire_jit_offset(const quire_jit *j);

/** @brief Capacity in bytes; 0 for a bad handle. */
QUIRE_API size_t quire_jit_capacity(const quire_jit *j);

/** @brief The first error of emit/align/patch since creation (sticky), or 0. */
QUIRE_API int quire_jit_error(const quire_jit *j);

/* -------------------------------------------------------------------------------------------
 * Writing code (only while not sealed)
 *
 * Errors: QUIRE_ESTATE (sealed: unseal first), QUIRE_ERANGE (the bytes would pass the
 * capacity, or a patch lies outside the emitted code), QUIRE_EINVAL. Each error but
 * QUIRE_ESTATE (which changes nothing) is also recorded as the buffer's sticky error.
 * ----------------------------------------------------------------------------------------- */

/** @brief Appends n bytes. */
QUIRE_API int quire_jit_emit(quire_jit *j, const void *bytes, size_t n);
/** @brief Appends one byte. */
QUIRE_API int quire_jit_emit8(quire_jit *j, uint8_t v);
/** @brief Appends a 32-bit value, little-endian. */
QUIRE_API int quire_jit_emit32(quire_jit *j, uint32_t v);
/** @brief Appends a 64-bit value, little-endian. */
QUIRE_API int quire_jit_emit64(quire_jit *j, uint64_t v);

/**
 * @brief Pads with `fill` until the offset is a multiple of `align` (a power of two, at most
 *        the page size). x86 code pads with 0x90 (nop) or 0xcc (int3).
 * @return 0, or QUIRE_EINVAL (align not a power of two or too large), QUIRE_ERANGE,
 *         QUIRE_ESTATE.
 */
QUIRE_API int quire_jit_align(quire_jit *j, size_t align, uint8_t fill);

/**
 * @brief Overwrites the 32-bit little-endian field at offset `at` (at + 4 <= offset).
 */
QUIRE_API int quire_jit_patch32(quire_jit *j, size_t at, uint32_t v);

/**
 * @brief Points the rel32 field at offset `at` to the code at offset `target` of the same
 *        buffer: writes target - (at + 4), the x86 encoding for jmp, call and jcc whose rel32 is
 *        the instruction's last field. `target` may be past the current offset (a forward
 *        branch patched before the target is emitted) but not past the capacity.
 */
QUIRE_API int quire_jit_patch_rel32(quire_jit *j, size_t at, size_t target);

/**
 * @brief Points the rel32 field at offset `at` to an absolute address (e.g. a C function for
 *        `call rel32`), measured from the field's executed address.
 * @return 0, or QUIRE_ERANGE also when the distance does not fit in 32 bits (call through a
 *         register instead), QUIRE_ESTATE, QUIRE_EINVAL.
 */
QUIRE_API int quire_jit_patch_rel32_abs(quire_jit *j, size_t at, const void *target);

/**
 * @brief The writable address of offset `at` of the code (NULL while sealed or out of range):
 *        for code generators that write instructions in place. Never embed it in code.
 */
QUIRE_API void *quire_jit_write_ptr(quire_jit *j, size_t at);

/**
 * @brief The address the byte at `offset` has when executed (valid from creation on, never
 *        changes; not callable before quire_jit_seal()). NULL for an offset past the capacity.
 */
QUIRE_API const void *quire_jit_exec_addr(const quire_jit *j, size_t offset);

/* -------------------------------------------------------------------------------------------
 * Sealing
 * ----------------------------------------------------------------------------------------- */

/**
 * @brief Makes the code read+execute (falling back on the dual mapping if the system refuses
 *        the mprotect), flushes the instruction cache for it, and drops write access.
 * @return 0 (also when already sealed), or the sticky error of an earlier emit/align/patch
 *         (nothing changes), QUIRE_ENOMEM, QUIRE_EMFILE, QUIRE_EPERM or QUIRE_EACCES (neither
 *         mprotect nor an executable file mapping is allowed).
 */
QUIRE_API int quire_jit_seal(quire_jit *j);

/**
 * @brief Makes the buffer writable again to add or patch code; seal again to run the changes.
 *        mprotect mode: the code stops being executable until then. Dual mode: a new writable
 *        view is mapped and the executable view keeps running the old code meanwhile.
 * @return 0 (also when not sealed), or QUIRE_ENOMEM, QUIRE_EPERM, QUIRE_EINVAL.
 */
QUIRE_API int quire_jit_unseal(quire_jit *j);

/**
 * @brief The function whose first instruction is at `offset`; cast it to its real type.
 * @return the address, or NULL when the buffer is not sealed or offset >= quire_jit_offset().
 */
QUIRE_API quire_fn quire_jit_fn(const quire_jit *j, size_t offset);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_JIT_H */
