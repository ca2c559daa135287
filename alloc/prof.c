/*
 * alloc/prof.c - sampled heap profiles (prof=1) and leak reports (leaks=1): which call stacks
 * hold the memory.
 *
 * Sampling. A thread's heap counts down the bytes until its next sample (prof_left; the gaps
 * are exponentially distributed with mean prof_interval, 512 KiB by default: a Poisson process
 * over allocated bytes, as tcmalloc's and jemalloc's, so pprof's heap_v2 correction applies).
 * The fast path of malloc is not touched: when the slow path hands out a slab's free list
 * (heap.c, heap_refill), q_prof_arm counts it (from the slab's counts, without a walk) and, if
 * the next sample falls inside it, walks to the sampled block, cuts the list just before it
 * and keeps the rest aside (slab->prof_rest). The fast path then runs dry exactly there, and
 * the slow path takes the sampled block with q_prof_take: captures the call stack, records the
 * block, and arms the rest. A list the sample does not reach costs a subtraction. A list's
 * bytes count toward the gap when it is handed out, as if allocated at once; the gap after a
 * sample starts when the sample is scheduled (the cut is made), so only one sample per heap is
 * pending at a time. A pending sample whose slab stops being current (slab_unarm) is dropped. Large
 * blocks count down on their own path. With leaks=1 every block is "sampled" (the gap is always 0).
 *
 * Frees. A slab's first sampled block is named in it (prof_one) and the slab stays on the free
 * fast path, which clears the block's in-use bit as any other's: the owner notices that before
 * the slab's freed blocks can be reused - when its local_free list becomes its free list again
 * (q_prof_arm at the refill, q_heap_collect) or its pages are released - and forgets the block
 * (q_prof_collect); a dump first forgets the sampled blocks whose bit is clear (sweep_freed).
 * Other threads' frees take the slow path anyway, which forgets the named block there. A slab
 * holding two sampled blocks or more (and every slab with leaks=1) keeps heap_fast at 0: its
 * frees take the slow path, which looks each block up (q_prof_forget).
 *
 * Records. Sampled blocks (address -> stack, size) and distinct stacks (hash -> index) live in
 * base/'s hash tables, on pages mapped here, under q_prof_lock; the stacks array grows by
 * mremap. Stacks are walked from cached unwind rules on x86-64, by glibc's backtrace()
 * elsewhere ("Stack capture" below); libgcc_s is loaded at start-up by a first backtrace()
 * (which allocates), and neither calls malloc afterwards. The allocator's own frames are cut
 * off when it is a shared library (libquire.so), by the address range of its code.
 *
 * Output, written without allocating: the heap profile in the legacy text format pprof reads
 * (google-pprof, Debian's google-perftools): "heap profile: ... @ heap_v2/<interval>", a line
 * per stack with live and allocated samples, then /proc/self/maps - at exit, on a signal
 * (prof_signal) or on a call (quire_alloc_prof_dump); and at exit with leaks=1, the live
 * blocks grouped by stack, largest first, symbolised with dladdr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <unwind.h>
#include <string.h>

#include "alloc/internal.h"
#include "base/hash.h"

#define DEPTH     8  /* frames kept per stack */
#define RAW_DEPTH 24 /* frames captured, before the allocator's are cut off */

struct pstack {
    uint64_t hash;
    uint32_t depth;
    uint32_t pad_;
    void *pc[DEPTH];
    uint64_t live_n, live_bytes;   /* sampled blocks still live */
    uint64_t alloc_n, alloc_bytes; /* sampled blocks ever */
};

struct prec {
    uint64_t stack; /* index into stacks */
    uint64_t size;  /* bytes asked for */
};

int q_prof_on;        /* prof or leaks, once start-up primed backtrace (read racily) */
q_lock_t q_prof_lock; /* the tables below; a fork handler takes it */
static struct q_base_hash blocks, stack_index;
static struct pstack *stacks;
static size_t nstacks, stacks_cap;
static uintptr_t self_lo, self_hi; /* our code, when a shared library */
static _Atomic int dump_pending;   /* a signal asked for a dump while the lock was held */
static int prof_exact;             /* leaks=1: every block */

static void *pages_get(void *ctx, size_t bytes) {
    (void)ctx;
    void *p = NULL;
    if (q_os_map(&p, q_os_page_round(bytes), Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0) != 0)
        return NULL;
    return p;
}

static void pages_put(void *ctx, void *p, size_t bytes) {
    (void)ctx;
    q_os_unmap(p, q_os_page_round(bytes));
}

static const struct q_base_mem pages_mem = {pages_get, pages_put, NULL};

/* ---------------------------------------------------------------------------------------------
 * Sampling intervals
 * ------------------------------------------------------------------------------------------- */

static __thread uint64_t rng __attribute__((tls_model("initial-exec")));

/* -ln(u) for u uniform in (0, 1], without libm: log2 of the integer by its leading bit plus a
   polynomial for the mantissa (error well under 1%, plenty for sampling). */
static double neg_log_uniform(void) {
    if (!rng) {
        q_os_random(&rng, sizeof rng);
        rng |= 1;
    }
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    uint64_t x = (rng >> 11) | 1; /* 53 bits, never 0 */
    int e = 63 - __builtin_clzll(x);
    double m = (double)x / (double)((uint64_t)1 << e) - 1.0; /* [0, 1) */
    double log2m =
        m * (1.4425449 + m * (-0.7181452 + m * (0.4575485 + m * (-0.2779042 + m * 0.0958459))));
    return (53.0 - (double)e - log2m) * 0.6931471805599453;
}

/* Bytes until the next sample. */
static int64_t next_gap(void) {
    if (prof_exact) return 0;
    double g = neg_log_uniform() * (double)q_opt.prof_interval;
    return g < 1.0 ? 1 : g > 4e18 ? INT64_MAX / 2 : (int64_t)g;
}

/* ---------------------------------------------------------------------------------------------
 * Stack capture
 *
 * glibc's backtrace() runs libgcc's DWARF unwinder, which looks up each frame's FDE and runs its
 * CFA program anew on every call: some 2,000 instructions a frame, a dozen frames a sample. On
 * x86-64 the walk is made here from a cache instead: for each return address, the rule that
 * unwinds its frame - CFA = rsp or rbp + offset, the return address at CFA - 8, the caller's
 * rbp unchanged or saved at CFA + offset - is read once from its FDE's CFA program (the FDE
 * found by libgcc's _Unwind_Find_FDE) and kept in an insert-only table shared by the threads;
 * a frame is then a hash probe and two loads. A frame whose rule is anything else (a signal
 * frame, a CFA given by an expression, no FDE) sends the whole capture to libgcc
 * (_Unwind_Backtrace), as does a walk that would leave the region of the thread's stack a
 * libgcc unwind to the outermost frame proved (uw_lo, uw_hi): the walk never reads outside it.
 * Rules learned before a library was unloaded may describe code that is gone: an unload (the
 * loader's count, read with dl_iterate_phdr once a capture) starts a new generation and the
 * older rules are learned again. Nothing here allocates; libgcc_s is loaded at start-up.
 * Elsewhere, or without libgcc_s, stacks come from backtrace().
 * ------------------------------------------------------------------------------------------- */

/* Whether pc lies in the allocator's own code (known when it is a shared library). */
static inline int is_self(uintptr_t pc) {
    return pc - self_lo < self_hi - self_lo;
}

#if defined(__x86_64__)
#define UW 1

/* What libgcc_s provides (resolved at start-up; _Unwind_Find_FDE is not in unwind.h). */
struct uw_bases {
    void *tbase, *dbase, *func;
};
static const uint8_t *(*uw_find_fde)(void *pc, struct uw_bases *bases);
static _Unwind_Reason_Code (*uw_backtrace)(_Unwind_Trace_Fn trace, void *arg);
static _Unwind_Ptr (*uw_get_ip_info)(struct _Unwind_Context *ctx, int *before);
static _Unwind_Word (*uw_get_cfa)(struct _Unwind_Context *ctx);
static int uw_ready; /* the above resolved and the table mapped */

/*
 * The rule table: UW_SIZE entries {return address, rule}, open addressing, insert-only. A
 * thread claims a free entry by a CAS of its key, then stores the rule; a reader that finds its
 * key with no rule of the current generation learns it again (the same value, stored again).
 * A rule word: kind (bits 0-1), CFA from rbp (bit 2), the caller's rbp saved at CFA + 8 * the
 * signed byte in bits 8-15 (0: not saved), generation (bits 16-31), CFA offset (bits 32-63).
 */
#define UW_BITS   15
#define UW_SIZE   ((size_t)1 << UW_BITS) /* 32768 entries, 512 KiB of address space */
#define UW_PROBES 32

enum { UW_NONE = 1, UW_FRAME = 2, UW_LAST = 3 }; /* unsupported, a frame, the outermost */
#define UW_RBP 4u

struct uw_ent {
    _Atomic uintptr_t ip;
    _Atomic uint64_t rule;
};
static struct uw_ent *uw_tab;
static _Atomic uint32_t uw_gen;     /* the generation of rules (its low 16 bits) */
static _Atomic uint64_t uw_subs;    /* the loader's count of unloads when last checked */
static _Atomic uint64_t n_fallback; /* statistics (verbose=1) */

/* The region of the calling thread's stack a libgcc unwind to its outermost frame walked. */
static __thread uintptr_t uw_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t uw_hi __attribute__((tls_model("initial-exec")));

static inline size_t uw_slot(uintptr_t ip) {
    return (size_t)((ip * 0x9e3779b97f4a7c15ull) >> (64 - UW_BITS));
}

/* The rule of return address ip in generation gen, 0 when not known (a key whose rule is not
   stored yet reads as 0). */
static inline uint64_t uw_get(uintptr_t ip, uint32_t gen) {
    size_t i = uw_slot(ip);
    for (unsigned k = 0; k < UW_PROBES; k++, i = (i + 1) & (UW_SIZE - 1)) {
        uintptr_t key = atomic_load_explicit(&uw_tab[i].ip, memory_order_acquire);
        if (key == ip) {
            uint64_t r = atomic_load_explicit(&uw_tab[i].rule, memory_order_acquire);
            return (uint32_t)(r >> 16 & 0xffff) == gen ? r : 0;
        }
        if (key == 0) return 0;
    }
    return 0;
}

static void uw_put(uintptr_t ip, uint64_t rule) {
    size_t i = uw_slot(ip);
    for (unsigned k = 0; k < UW_PROBES; k++, i = (i + 1) & (UW_SIZE - 1)) {
        uintptr_t key = atomic_load_explicit(&uw_tab[i].ip, memory_order_acquire);
        if (key == 0 && atomic_compare_exchange_strong_explicit(
                            &uw_tab[i].ip, &key, ip, memory_order_acq_rel, memory_order_acquire))
            key = ip;
        if (key == ip) {
            atomic_store_explicit(&uw_tab[i].rule, rule, memory_order_release);
            return;
        }
    }
    /* Full around ip: the rule is used this once and learned again next time. */
}

/* ---- the CFA program of one FDE (DWARF 4 section 6.4, the .eh_frame flavour) ---- */

/* How a register is recovered: unchanged, saved at CFA + off, undefined, anything else. */
enum { H_SAME, H_OFF, H_UNDEF, H_OTHER };
enum { R_RBP, R_RSP, R_RA, R_N }; /* the registers the walk follows */

struct cfi_row {
    int64_t cfa_off;
    uint64_t cfa_reg;
    int cfa_expr; /* the CFA is given by an expression */
    uint8_t how[R_N];
    int64_t off[R_N];
};

struct cfi {
    const uint8_t *p, *end; /* the program being read */
    uintptr_t loc, target;  /* the row's address; rows from target on do not apply */
    uint64_t code_align, ra_reg;
    int64_t data_align;
    int bad; /* a read past the end or an unsupported instruction */
    struct cfi_row row, init, stack[8];
    unsigned depth;
};

static uint64_t cfi_u(struct cfi *c, unsigned n) {
    uint64_t v = 0;
    if ((size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return 0;
    }
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)c->p[i] << (8 * i); /* little-endian */
    c->p += n;
    return v;
}

static uint64_t cfi_uleb(struct cfi *c) {
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end && shift < 64; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    c->bad = 1;
    return 0;
}

static int64_t cfi_sleb(struct cfi *c) {
    uint64_t v = 0;
    for (unsigned shift = 0; c->p < c->end && shift < 64;) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40)) v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
    c->bad = 1;
    return 0;
}

static void cfi_skip(struct cfi *c, uint64_t n) {
    if ((uint64_t)(c->end - c->p) < n)
        c->bad = 1;
    else
        c->p += n;
}

/* The walk's index of DWARF register reg (x86-64: rbp 6, rsp 7), -1 for the others. */
static int cfi_reg(const struct cfi *c, uint64_t reg) {
    return reg == 6 ? R_RBP : reg == 7 ? R_RSP : reg == c->ra_reg ? R_RA : -1;
}

static void cfi_set(struct cfi *c, uint64_t reg, int how, int64_t off) {
    int r = cfi_reg(c, reg);
    if (r < 0) return;
    if (r == R_RSP) how = H_OTHER; /* the caller's rsp is the CFA; any other rule: not ours */
    c->row.how[r] = (uint8_t)how;
    c->row.off[r] = off;
}

static void cfi_restore(struct cfi *c, uint64_t reg) {
    int r = cfi_reg(c, reg);
    if (r < 0) return;
    c->row.how[r] = c->init.how[r];
    c->row.off[r] = c->init.off[r];
}

/* Runs the instructions from c->p to c->end while the row's address is below c->target (as
   libgcc does: the row in force at the return address - 1). */
static void cfi_run(struct cfi *c) {
    while (!c->bad && c->p < c->end && c->loc < c->target) {
        uint8_t op = *c->p++;
        uint64_t reg, u;
        switch (op >> 6) {
        case 1: /* advance_loc */
            c->loc += (op & 0x3f) * c->code_align;
            continue;
        case 2: /* offset */
            u = cfi_uleb(c);
            cfi_set(c, op & 0x3f, H_OFF, (int64_t)u * c->data_align);
            continue;
        case 3: /* restore */
            cfi_restore(c, op & 0x3f);
            continue;
        }
        switch (op) {
        case 0x00: /* nop */
            break;
        case 0x02: /* advance_loc1, 2, 4 */
            c->loc += cfi_u(c, 1) * c->code_align;
            break;
        case 0x03:
            c->loc += cfi_u(c, 2) * c->code_align;
            break;
        case 0x04:
            c->loc += cfi_u(c, 4) * c->code_align;
            break;
        case 0x05: /* offset_extended */
            reg = cfi_uleb(c);
            u = cfi_uleb(c);
            cfi_set(c, reg, H_OFF, (int64_t)u * c->data_align);
            break;
        case 0x06: /* restore_extended */
            cfi_restore(c, cfi_uleb(c));
            break;
        case 0x07: /* undefined */
            cfi_set(c, cfi_uleb(c), H_UNDEF, 0);
            break;
        case 0x08: /* same_value */
            cfi_set(c, cfi_uleb(c), H_SAME, 0);
            break;
        case 0x09: /* register */
            reg = cfi_uleb(c);
            cfi_uleb(c);
            cfi_set(c, reg, H_OTHER, 0);
            break;
        case 0x0a: /* remember_state: the whole row, CFA included */
            if (c->depth == sizeof c->stack / sizeof c->stack[0])
                c->bad = 1;
            else
                c->stack[c->depth++] = c->row;
            break;
        case 0x0b: /* restore_state */
            if (c->depth == 0)
                c->bad = 1;
            else
                c->row = c->stack[--c->depth];
            break;
        case 0x0c: /* def_cfa */
            c->row.cfa_reg = cfi_uleb(c);
            c->row.cfa_off = (int64_t)cfi_uleb(c);
            c->row.cfa_expr = 0;
            break;
        case 0x0d: /* def_cfa_register */
            c->row.cfa_reg = cfi_uleb(c);
            c->row.cfa_expr = 0;
            break;
        case 0x0e: /* def_cfa_offset */
            c->row.cfa_off = (int64_t)cfi_uleb(c);
            break;
        case 0x0f: /* def_cfa_expression */
            cfi_skip(c, cfi_uleb(c));
            c->row.cfa_expr = 1;
            break;
        case 0x10: /* expression */
            reg = cfi_uleb(c);
            cfi_skip(c, cfi_uleb(c));
            cfi_set(c, reg, H_OTHER, 0);
            break;
        case 0x11: /* offset_extended_sf */
            reg = cfi_uleb(c);
            cfi_set(c, reg, H_OFF, cfi_sleb(c) * c->data_align);
            break;
        case 0x12: /* def_cfa_sf */
            c->row.cfa_reg = cfi_uleb(c);
            c->row.cfa_off = cfi_sleb(c) * c->data_align;
            c->row.cfa_expr = 0;
            break;
        case 0x13: /* def_cfa_offset_sf */
            c->row.cfa_off = cfi_sleb(c) * c->data_align;
            break;
        case 0x14: /* val_offset, val_offset_sf */
            reg = cfi_uleb(c);
            cfi_uleb(c);
            cfi_set(c, reg, H_OTHER, 0);
            break;
        case 0x15:
            reg = cfi_uleb(c);
            cfi_sleb(c);
            cfi_set(c, reg, H_OTHER, 0);
            break;
        case 0x16: /* val_expression */
            reg = cfi_uleb(c);
            cfi_skip(c, cfi_uleb(c));
            cfi_set(c, reg, H_OTHER, 0);
            break;
        case 0x2e: /* GNU_args_size: for landing pads only */
            cfi_uleb(c);
            break;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = cfi_uleb(c);
            u = cfi_uleb(c);
            cfi_set(c, reg, H_OFF, -(int64_t)u * c->data_align);
            break;
        default: /* set_loc, window_save and the rest: not on this target's common paths */
            c->bad = 1;
        }
    }
}

/* Bytes of a value in pointer encoding enc; 0 for the LEB128 forms; -1 unsupported. */
static int enc_size(uint8_t enc) {
    if (enc == 0xff) return -1;          /* omit: no value */
    if ((enc & 0x70) == 0x50) return -1; /* aligned */
    switch (enc & 0x0f) {
    case 0x00: /* absptr */
    case 0x04: /* udata8 */
    case 0x0c: /* sdata8 */
        return 8;
    case 0x02:
    case 0x0a:
        return 2;
    case 0x03:
    case 0x0b:
        return 4;
    case 0x01: /* uleb128 */
    case 0x09: /* sleb128 */
        return 0;
    default:
        return -1;
    }
}

static void cfi_skip_enc(struct cfi *c, uint8_t enc) {
    int n = enc_size(enc);
    if (n < 0)
        c->bad = 1;
    else if (n == 0)
        cfi_uleb(c);
    else
        cfi_skip(c, (uint64_t)n);
}

/* The bounds [p, end) of the CIE or FDE at p (its length field); NULL when malformed. */
static const uint8_t *entry_body(const uint8_t *p, const uint8_t **end) {
    uint32_t len32;
    memcpy(&len32, p, 4);
    if (len32 == 0 || len32 == 0xffffffffu) return NULL; /* a terminator; 64-bit DWARF */
    *end = p + 4 + len32;
    return p + 4;
}

/* The rule for return address ra, whose FDE is fde and function starts at func. */
static uint64_t uw_rule_of(const uint8_t *fde, uintptr_t func, uintptr_t ra) {
    struct cfi c;
    memset(&c, 0, sizeof c);
    const uint8_t *fde_end, *p = entry_body(fde, &fde_end);
    if (!p) return UW_NONE;
    int32_t cie_off;
    memcpy(&cie_off, p, 4);
    const uint8_t *cie = p - cie_off, *cie_end;
    const uint8_t *q = entry_body(cie, &cie_end);
    if (!q || cie_off <= 0) return UW_NONE;
    /* The CIE: id 0, version, augmentation, alignment factors, return address register. */
    c.p = q, c.end = cie_end;
    uint32_t id = (uint32_t)cfi_u(&c, 4);
    uint8_t version = (uint8_t)cfi_u(&c, 1);
    const char *aug = (const char *)c.p;
    size_t auglen = strnlen(aug, (size_t)(c.end - c.p));
    if (c.bad || id != 0 || (version != 1 && version != 3) || auglen == (size_t)(c.end - c.p))
        return UW_NONE;
    c.p += auglen + 1;
    c.code_align = cfi_uleb(&c);
    c.data_align = cfi_sleb(&c);
    c.ra_reg = version == 1 ? cfi_u(&c, 1) : cfi_uleb(&c);
    uint8_t fde_enc = 0; /* absptr */
    int has_z = aug[0] == 'z';
    if (has_z) {
        uint64_t n = cfi_uleb(&c);
        if (c.bad || n > (uint64_t)(c.end - c.p)) return UW_NONE;
        const uint8_t *aug_end = c.p + n;
        for (size_t i = 1; i < auglen && !c.bad; i++) {
            switch (aug[i]) {
            case 'R':
                fde_enc = (uint8_t)cfi_u(&c, 1);
                break;
            case 'P':
                cfi_skip_enc(&c, (uint8_t)cfi_u(&c, 1));
                break;
            case 'L':
                cfi_u(&c, 1);
                break;
            default: /* 'S' (a signal frame) and anything unknown */
                return UW_NONE;
            }
        }
        if (c.bad || c.p > aug_end) return UW_NONE;
        c.p = aug_end;
    } else if (auglen) {
        return UW_NONE;
    }
    if (c.bad || c.ra_reg != 16) return UW_NONE;
    c.row.cfa_reg = 7;
    c.row.cfa_off = 8; /* replaced by the CIE's own rule */
    c.loc = func;
    c.target = ra;
    cfi_run(&c); /* the CIE's initial instructions */
    c.init = c.row;
    /* The FDE: CIE pointer, initial location and range, augmentation data, instructions. */
    c.p = p + 4, c.end = fde_end;
    cfi_skip_enc(&c, fde_enc);
    cfi_skip_enc(&c, fde_enc & 0x0f);
    if (has_z) cfi_skip(&c, cfi_uleb(&c));
    cfi_run(&c);
    const struct cfi_row *r = &c.row;
    if (c.bad || r->cfa_expr || (r->cfa_reg != 6 && r->cfa_reg != 7)) return UW_NONE;
    if (r->how[R_RA] == H_UNDEF) return UW_LAST;
    if (r->how[R_RA] != H_OFF || r->off[R_RA] != -8 || r->how[R_RSP] != H_SAME) return UW_NONE;
    int64_t bp = 0;
    if (r->how[R_RBP] == H_OFF) {
        bp = r->off[R_RBP];
        if (bp >= 0 || bp < -1024 || (bp & 7)) return UW_NONE;
    } else if (r->how[R_RBP] != H_SAME) {
        return UW_NONE;
    }
    if (r->cfa_off < (r->cfa_reg == 7 ? 8 : INT32_MIN) || r->cfa_off > INT32_MAX) return UW_NONE;
    return UW_FRAME | (r->cfa_reg == 6 ? UW_RBP : 0) | (uint64_t)(uint8_t)(int8_t)(bp / 8) << 8 |
           (uint64_t)(uint32_t)(int32_t)r->cfa_off << 32;
}

/* Learns (and keeps) the rule for return address ip. */
static uint64_t uw_learn(uintptr_t ip, uint32_t gen) {
    struct uw_bases b;
    const uint8_t *fde = ip > 1 ? uw_find_fde((void *)(ip - 1), &b) : NULL;
    uint64_t r = fde ? uw_rule_of(fde, (uintptr_t)b.func, ip) : UW_NONE;
    r |= (uint64_t)gen << 16;
    uw_put(ip, r);
    return r;
}

static int uw_unload_cb(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    *(uint64_t *)arg = info->dlpi_subs;
    return 1;
}

/* The current generation of rules: a new one when a library was unloaded since the last look. */
static uint32_t uw_generation(void) {
    uint64_t subs = 0;
    dl_iterate_phdr(uw_unload_cb, &subs);
    uint64_t seen = atomic_load_explicit(&uw_subs, Q_RELAXED);
    if (subs != seen && atomic_compare_exchange_strong(&uw_subs, &seen, subs))
        atomic_fetch_add(&uw_gen, 1);
    return atomic_load_explicit(&uw_gen, memory_order_acquire) & 0xffff;
}

/*
 * Walks its caller's stack with the cached rules: stores up to max return addresses in pc (the
 * first one in the caller, as backtrace() would), stopping early once DEPTH frames beyond the
 * allocator's own are stored when `user`; returns their count, -1 when a frame has no rule the
 * walk can follow, -2 when it would leave the stack region [uw_lo, uw_hi). The caller's state
 * comes from this function's frame pointer (its frame has one: it takes the frame's address).
 */
__attribute__((noinline, no_sanitize("address"))) static int uw_walk(void **pc, unsigned max,
                                                                     int user, uint32_t gen) {
    uintptr_t *fp = __builtin_frame_address(0);
    uintptr_t ip = fp[1], sp = (uintptr_t)(fp + 2), bp = fp[0];
    uintptr_t lo = uw_lo, hi = uw_hi;
    if (sp < lo || sp >= hi) return -2;
    unsigned n = 0, kept = 0;
    int prefix = 1; /* still in the allocator's frames (after the first) */
    for (;;) {
        pc[n++] = (void *)ip;
        if (user && n > 1) {
            if (prefix && !is_self(ip)) prefix = 0;
            if (!prefix && ++kept == DEPTH) return (int)n;
        }
        if (n == max) return (int)n;
        uint64_t r = uw_get(ip, gen);
        if (!r) r = uw_learn(ip, gen);
        unsigned kind = (unsigned)r & 3;
        if (kind == UW_LAST) return (int)n;
        if (kind != UW_FRAME) return -1;
        uintptr_t cfa = ((r & UW_RBP) ? bp : sp) + (uintptr_t)(int64_t)(int32_t)(r >> 32);
        if (cfa < sp + 8 || cfa > hi) return -2;
        int64_t save = (int64_t)(int8_t)(r >> 8) * 8;
        if (save) {
            uintptr_t at = cfa + (uintptr_t)save;
            if (at < sp) return -2;
            bp = *(const uintptr_t *)at;
        }
        ip = *(const uintptr_t *)(cfa - 8);
        sp = cfa;
        if (!ip) return (int)n; /* the end of the stack */
    }
}

/* libgcc's unwind, taking what uw_walk needs: the frames, and whether the stack is one region
   walked to its outermost frame (then its bounds). */
struct uw_trace {
    void **pc;
    unsigned n, max;
    int first;  /* the next frame is this module's own (uw_slow's): left out */
    int full;   /* on to the outermost frame (the stack region is wanted) */
    int region; /* CFAs rose frame by frame, no signal frame */
    uintptr_t lo, last_ip, last_cfa;
};

static _Unwind_Reason_Code uw_trace_cb(struct _Unwind_Context *ctx, void *arg) {
    struct uw_trace *t = arg;
    int before = 0;
    uintptr_t ip = (uintptr_t)uw_get_ip_info(ctx, &before), cfa = (uintptr_t)uw_get_cfa(ctx);
    if (t->first) {
        t->first = 0;
        t->lo = t->last_cfa = cfa;
        return _URC_NO_REASON;
    }
    if (ip == t->last_ip && cfa == t->last_cfa) return _URC_END_OF_STACK; /* no progress */
    if (before || cfa <= t->last_cfa) t->region = 0;
    t->last_ip = ip;
    t->last_cfa = cfa;
    if (t->n < t->max)
        t->pc[t->n++] = (void *)ip;
    else if (!t->full)
        return _URC_END_OF_STACK;
    return _URC_NO_REASON;
}

/* The caller's stack by libgcc (the same frames as uw_walk's); with `full`, on to the outermost
   frame, and if the stack was one region, the thread's region is learned. */
__attribute__((noinline)) static int uw_slow(void **pc, unsigned max, int full) {
    struct uw_trace t = {.pc = pc, .max = max, .first = 1, .full = full, .region = 1};
    _Unwind_Reason_Code rc = uw_backtrace(uw_trace_cb, &t);
    if (rc == _URC_END_OF_STACK && t.region && t.n > 0) {
        uw_lo = t.lo;
        uw_hi = t.last_cfa;
    }
    if (t.n > 1 && pc[t.n - 1] == NULL) t.n--; /* as backtrace() */
    return (int)t.n;
}

/* Resolves libgcc's unwinder (loaded by the backtrace() at start-up) and maps the table. */
static int uw_init(void) {
    if (uw_ready) return 0;
    void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!gcc) gcc = dlopen("libgcc_s.so.1", RTLD_NOW);
    if (!gcc) return -1;
    *(void **)&uw_find_fde = dlsym(gcc, "_Unwind_Find_FDE");
    *(void **)&uw_backtrace = dlsym(gcc, "_Unwind_Backtrace");
    *(void **)&uw_get_ip_info = dlsym(gcc, "_Unwind_GetIPInfo");
    *(void **)&uw_get_cfa = dlsym(gcc, "_Unwind_GetCFA");
    if (!uw_find_fde || !uw_backtrace || !uw_get_ip_info || !uw_get_cfa) return -1;
    uw_tab = pages_get(NULL, UW_SIZE * sizeof *uw_tab);
    if (!uw_tab) return -1;
    uint64_t subs = 0;
    dl_iterate_phdr(uw_unload_cb, &subs);
    atomic_store(&uw_subs, subs);
    uw_ready = 1;
    return 0;
}
#endif /* __x86_64__ */

/* The caller's stack, without the allocator's own frames; returns the depth. */
__attribute__((noinline)) static unsigned capture(void **pc) {
    void *raw[RAW_DEPTH];
    int n = -1;
#if defined(UW)
    if (uw_ready) {
        n = uw_walk(raw, RAW_DEPTH, 1, uw_generation());
        if (n < 0) {
            atomic_fetch_add_explicit(&n_fallback, 1, Q_RELAXED);
            n = uw_slow(raw, RAW_DEPTH, n == -2);
        }
    }
#endif
    if (n < 0) n = backtrace(raw, RAW_DEPTH);
    int i = 1; /* this function */
    while (i < n && is_self((uintptr_t)raw[i])) i++;
    unsigned d = 0;
    for (; i < n && d < DEPTH; i++) pc[d++] = raw[i];
    return d;
}

int q_prof_unwind_init(void) {
#if defined(UW)
    return uw_init();
#else
    return -1;
#endif
}

__attribute__((noinline)) int q_prof_backtrace(void **pc, int max, int *cached) {
    void *raw[64];
    int n = -1;
    if (max > 63) max = 63;
    *cached = 0;
#if defined(UW)
    if (uw_ready) {
        n = uw_walk(raw, (unsigned)max + 1, 0, uw_generation());
        if (n >= 0)
            *cached = 1;
        else
            n = uw_slow(raw, (unsigned)max + 1, n == -2);
    }
#endif
    if (n < 0) n = backtrace(raw, max + 1);
    if (n > 0) memcpy(pc, raw + 1, (size_t)(n - 1) * sizeof *pc);
    return n > 0 ? n - 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Stacks and records
 * ------------------------------------------------------------------------------------------- */

static uint64_t hash_pcs(void *const *pc, unsigned d) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ d;
    for (unsigned i = 0; i < d; i++) {
        h ^= (uint64_t)(uintptr_t)pc[i];
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h == Q_BASE_HASH_RESERVED ? 1 : h;
}

/* The index of the stack pc[0..d), added when new (lock held); UINT64_MAX without memory. */
static uint64_t stack_of(void *const *pc, unsigned d) {
    uint64_t h = hash_pcs(pc, d);
    for (uint64_t key = h;; key = key * 0x9e3779b97f4a7c15ull + 1) { /* rehash on a collision */
        if (key == Q_BASE_HASH_RESERVED) continue;
        void *v;
        int rc = q_base_hash_put(&stack_index, key, &v);
        if (rc < 0) return UINT64_MAX;
        if (rc == 0) {
            uint64_t k = *(uint64_t *)v;
            if (stacks[k].depth == d && memcmp(stacks[k].pc, pc, d * sizeof *pc) == 0) return k;
            continue;
        }
        if (nstacks == stacks_cap) {
            size_t ncap = stacks_cap ? stacks_cap * 2 : 1024;
            void *np = NULL;
            int r =
                stacks ? q_os_remap(stacks, stacks_cap * sizeof *stacks, ncap * sizeof *stacks,
                                    Q_REMAP_MAYMOVE, &np)
                       : q_os_map(&np, ncap * sizeof *stacks, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
            if (r != 0) {
                q_base_hash_del(&stack_index, key);
                return UINT64_MAX;
            }
            stacks = np;
            stacks_cap = ncap;
        }
        struct pstack *s = &stacks[nstacks];
        memset(s, 0, sizeof *s);
        s->hash = h;
        s->depth = d;
        memcpy(s->pc, pc, d * sizeof *pc);
        *(uint64_t *)v = nstacks;
        return nstacks++;
    }
}

static void dump_locked(int fd);
static int open_profile(const char *pattern, int *fd);

/* Runs a dump a signal asked for while the lock was held (lock held). */
static void pending_dump(void) {
    if (!atomic_exchange_explicit(&dump_pending, 0, Q_RELAXED)) return;
    int fd;
    if (open_profile(q_opt.prof_file, &fd) == 0) {
        dump_locked(fd);
        q_os_close(fd);
    }
}

/* Records block p of `size` bytes as sampled, with the caller's stack. */
static void record(void *p, size_t size) {
    void *pc[DEPTH];
    unsigned d = capture(pc);
    q_lock(&q_prof_lock);
    uint64_t k = stack_of(pc, d);
    void *v;
    if (k != UINT64_MAX && q_base_hash_put(&blocks, (uintptr_t)p, &v) >= 0) {
        struct prec *r = v;
        r->stack = k;
        r->size = size;
        stacks[k].live_n++;
        stacks[k].live_bytes += size;
        stacks[k].alloc_n++;
        stacks[k].alloc_bytes += size;
    }
    pending_dump();
    q_unlock(&q_prof_lock);
}

/* Removes the record of block p, whose value is r (lock held). */
static void forget_locked(uintptr_t p, const struct prec *r) {
    stacks[r->stack].live_n--;
    stacks[r->stack].live_bytes -= r->size;
    q_base_hash_del(&blocks, p);
}

int q_prof_forget(const void *p) {
    q_lock(&q_prof_lock);
    struct prec *r = q_base_hash_get(&blocks, (uintptr_t)p);
    if (r) forget_locked((uintptr_t)p, r);
    q_unlock(&q_prof_lock);
    return r != NULL;
}

/* Whether the small block at p is in use (its in-use bit). */
static int block_in_use(uintptr_t p) {
    return (atomic_load_explicit(q_bits_word(p), Q_RELAXED) & q_bit(p)) != 0;
}

void q_prof_collect(struct q_slab *s) {
    if (atomic_load_explicit(&s->sampled, Q_RELAXED) != 1) return;
    uintptr_t one = atomic_load_explicit(&s->prof_one, Q_RELAXED);
    if (!one || block_in_use(one)) return;
    q_prof_forget((void *)one); /* unless a dump did (sweep_freed) */
    atomic_store_explicit(&s->prof_one, 0, Q_RELAXED);
    atomic_store_explicit(&s->sampled, 0, Q_RELAXED);
}

/* Forgets the sampled small blocks the fast path freed that their slab has not noticed yet:
   their in-use bit is clear (lock held; before a dump). */
static void sweep_freed(void) {
    for (size_t j = 0; j < blocks.cap;) {
        uint64_t tag = blocks.tags[j];
        uintptr_t a = (uintptr_t)(tag - 1);
        if (tag && !(a & Q_BAD_PTR_BITS) && q_segmap_has(a) && !block_in_use(a)) {
            forget_locked(a, (const struct prec *)(blocks.vals + j * blocks.val_size));
            continue; /* the deletion shifted the next key of the run here */
        }
        j++;
    }
}

/* ---------------------------------------------------------------------------------------------
 * The slab side (heap.c calls these on its slow paths only)
 * ------------------------------------------------------------------------------------------- */

static _Atomic uint64_t n_cut, n_taken; /* statistics (verbose=1) */

/* arm_list's other case: the next sample may fall among the n blocks of s's free list (or is
   not drawn yet): cuts the list before it. Only the blocks in front of it are walked. */
static Q_NOINLINE void arm_cut(struct q_heap *h, struct q_slab *s, uint64_t n) {
    uint32_t size = s->slot_size;
    if (h->prof_left < 0) h->prof_left = next_gap();
    uint64_t k = (uint64_t)h->prof_left / size; /* blocks before the sampled one */
    if (k >= n) {                               /* no sample in this list */
        h->prof_left -= (int64_t)(n * size);
        return;
    }
    struct q_block *b = s->free, *prev = NULL;
    for (uint64_t i = 0; b && i < k; i++) prev = b, b = q_link_dec(b);
    if (!b) { /* shorter than counted (cannot happen while the invariants hold) */
        h->prof_left -= (int64_t)(k * size);
        return;
    }
    /* Cut before b: the fast path runs dry there and q_prof_take gets b. */
    if (prev)
        prev->link = q_link_enc(prev, NULL);
    else
        s->free = NULL;
    s->prof_rest = b;
    s->prof_rest_n = (uint32_t)(n - k);
    atomic_fetch_add_explicit(&n_cut, 1, Q_RELAXED);
    /* The gap after this sample starts now: the lists other classes hand out meanwhile count
       toward it (the rest of this one will when q_prof_take hands it out). */
    h->prof_left = next_gap();
}

/* Arms s, whose free list holds n blocks: a list the next sample does not reach (the common
   case) is counted down by its bytes, without a walk or a division. */
static inline void arm_list(struct q_heap *h, struct q_slab *s, uint64_t n) {
    int64_t bytes = (int64_t)(n * s->slot_size);
    if (Q_LIKELY(h->prof_left >= bytes)) { /* -1 (no gap drawn yet) never is */
        h->prof_left -= bytes;
        return;
    }
    arm_cut(h, s, n);
}

/* q_prof_arm's less common cases: a slab holding a sampled block, a list whose length is not
   known from the counts. */
static Q_NOINLINE void arm_other(struct q_heap *h, struct q_slab *s) {
    if (atomic_load_explicit(&s->sampled, Q_RELAXED)) q_prof_collect(s); /* before reuse */
    /* capacity == used + |free| + |local_free|: the two lists walked in step, the end of the
       shorter one gives the free list's length (a walk of the free list alone, often the
       longer, took a cache miss a block). */
    uint64_t n = 0;
    struct q_block *a = s->free, *b = s->local_free;
    while (a && b) {
        a = q_link_dec(a);
        b = q_link_dec(b);
        n++;
    }
    if (a) n = s->capacity - s->used - n;
    arm_list(h, s, n);
}

/* Runs on every refill: the common case takes a dozen instructions and no call. */
void q_prof_arm(struct q_heap *h, struct q_slab *s) {
    if (s->prof_rest) return; /* armed already */
    if (atomic_load_explicit(&s->sampled, Q_RELAXED) || s->local_free) {
        arm_other(h, s);
        return;
    }
    /* capacity == used + |free| + |local_free| (internal.h): with local_free empty, as it is
       after the refill that swapped it in, the free list's length is known without a walk. */
    arm_list(h, s, s->capacity - s->used);
}

void *q_prof_take(struct q_heap *h, struct q_slab *s) {
    struct q_block *b = s->prof_rest;
    uint64_t n_rest = s->prof_rest_n - 1;
    atomic_fetch_add_explicit(&n_taken, 1, Q_RELAXED);
    s->prof_rest = NULL;
    s->prof_rest_n = 0;
    struct q_block *rest = q_link_dec(b);
    /* b leaves as a malloc would take it: counts, in-use bit, link cleared. */
    s->free = b;
    b->link = q_link_enc(b, NULL);
    void *p = q_slab_pop(s);
    s->free = rest;
    /* The slab's first sampled block is named (prof_one) and the slab stays on the free fast
       path (q_prof_collect notices the block's free); with a second, or with leaks=1, its frees
       take the slow path, which looks them up. */
    if (atomic_load_explicit(&s->sampled, Q_RELAXED) == 1) q_prof_collect(s);
    uint32_t ns = atomic_fetch_add_explicit(&s->sampled, 1, Q_RELAXED);
    atomic_store_explicit(&s->prof_one, ns == 0 ? (uintptr_t)p : 0, Q_RELAXED);
    if (ns != 0 || prof_exact) atomic_store_explicit(&s->heap_fast, 0, Q_RELAXED);
    if (s->free) arm_list(h, s, n_rest);
    /* Last, with the slab consistent: a capture that allocated (libgcc's FDE lookup may, for
       frames registered by __register_frame_info) would find it so. */
    record(p, s->slot_size);
    return p;
}

void q_prof_large(void *p, size_t size) {
    struct q_heap *h = q_tls_heap;
    if (h == &q_heap_empty || h == &q_heap_dead) return;
    if (h->prof_left < 0) h->prof_left = next_gap();
    h->prof_left -= (int64_t)size;
    if (h->prof_left > 0) return;
    h->prof_left = next_gap();
    record(p, size);
}

/* ---------------------------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------------------------- */

struct wr {
    int fd;
    size_t n;
    char buf[4096];
};

static void w_flush(struct wr *w) {
    q_os_write_all(w->fd, w->buf, w->n);
    w->n = 0;
}

static void w_str(struct wr *w, const char *s) {
    for (; *s; s++) {
        if (w->n == sizeof w->buf) w_flush(w);
        w->buf[w->n++] = *s;
    }
}

static void w_num(struct wr *w, uint64_t v, int hex) {
    char tmp[32];
    size_t t = 0;
    if (hex)
        q_write_hex(tmp, &t, v);
    else
        q_write_dec(tmp, &t, v);
    tmp[t] = 0;
    w_str(w, tmp);
}

/* The profile, pprof's legacy heap format (lock held). */
static void dump_locked(int fd) {
    struct wr w = {.fd = fd};
    if (!prof_exact) sweep_freed();
    uint64_t ln = 0, lb = 0, an = 0, ab = 0;
    for (size_t i = 0; i < nstacks; i++) {
        ln += stacks[i].live_n, lb += stacks[i].live_bytes;
        an += stacks[i].alloc_n, ab += stacks[i].alloc_bytes;
    }
    w_str(&w, "heap profile: ");
    w_num(&w, ln, 0);
    w_str(&w, ": ");
    w_num(&w, lb, 0);
    w_str(&w, " [");
    w_num(&w, an, 0);
    w_str(&w, ": ");
    w_num(&w, ab, 0);
    if (prof_exact) {
        w_str(&w, "] @ heapprofile\n");
    } else {
        w_str(&w, "] @ heap_v2/");
        w_num(&w, q_opt.prof_interval, 0);
        w_str(&w, "\n");
    }
    for (size_t i = 0; i < nstacks; i++) {
        const struct pstack *s = &stacks[i];
        w_num(&w, s->live_n, 0);
        w_str(&w, ": ");
        w_num(&w, s->live_bytes, 0);
        w_str(&w, " [");
        w_num(&w, s->alloc_n, 0);
        w_str(&w, ": ");
        w_num(&w, s->alloc_bytes, 0);
        w_str(&w, "] @");
        for (unsigned k = 0; k < s->depth; k++) {
            w_str(&w, " ");
            w_num(&w, (uintptr_t)s->pc[k], 1);
        }
        w_str(&w, "\n");
    }
    w_str(&w, "\nMAPPED_LIBRARIES:\n");
    w_flush(&w);
    int mfd;
    if (q_os_open("/proc/self/maps", O_RDONLY, 0, &mfd) == 0) {
        char buf[4096];
        size_t got;
        while (q_os_read(mfd, buf, sizeof buf, &got) == 0 && got) q_os_write_all(fd, buf, got);
        q_os_close(mfd);
    }
}

/* Opens the profile's file: the pattern with %p (pid) expanded. */
static int open_profile(const char *pattern, int *fd) {
    char path[512];
    size_t n = 0;
    for (const char *p = pattern; *p && n < sizeof path - 24; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            q_write_dec(path, &n, (uint64_t)q_os_getpid());
            p++;
        } else {
            path[n++] = *p;
        }
    }
    path[n] = 0;
    int rc = q_os_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, fd);
    if (rc) q_verbose("cannot write the heap profile", NULL, 0);
    return rc;
}

QUIRE_API int quire_alloc_prof_dump(const char *path) {
    q_process_init();
    if (!q_prof_on) return QUIRE_ESTATE;
    int saved = errno;
    int fd;
    int rc = open_profile(path ? path : q_opt.prof_file, &fd);
    if (rc == 0) {
        q_lock(&q_prof_lock);
        dump_locked(fd);
        q_unlock(&q_prof_lock);
        q_os_close(fd);
    }
    errno = saved;
    return rc;
}

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    uint32_t me = q_lock_me(), c = 0;
    if (atomic_compare_exchange_strong_explicit(&q_prof_lock.v, &c, me, memory_order_acquire,
                                                memory_order_relaxed)) {
        atomic_store_explicit(&dump_pending, 1, Q_RELAXED);
        pending_dump();
        q_unlock(&q_prof_lock);
    } else {
        atomic_store_explicit(&dump_pending, 1, Q_RELAXED); /* the holder dumps */
    }
    errno = saved;
}

/* "0x55d0c1a2b3c4 leak_big+0x1c (/path/prog)" */
static void describe(struct wr *w, void *pc) {
    Dl_info di;
    w_num(w, (uintptr_t)pc, 1);
    if (dladdr(pc, &di) && di.dli_fname) {
        w_str(w, " ");
        if (di.dli_sname) {
            w_str(w, di.dli_sname);
            w_str(w, "+");
            w_num(w, (uintptr_t)pc - (uintptr_t)di.dli_saddr, 1);
            w_str(w, " (");
        } else {
            w_str(w, "(");
        }
        w_str(w, di.dli_fname);
        if (!di.dli_sname) {
            w_str(w, "+");
            w_num(w, (uintptr_t)pc - (uintptr_t)di.dli_fbase, 1);
        }
        w_str(w, ")");
    }
}

/* leaks=1 at exit: live blocks by stack, largest first (lock held). */
static void leak_report(int fd) {
    enum { TOP = 20 };
    size_t top[TOP], ntop = 0;
    uint64_t total = 0, count = 0, sites = 0;
    for (size_t i = 0; i < nstacks; i++) {
        if (!stacks[i].live_n) continue;
        total += stacks[i].live_bytes;
        count += stacks[i].live_n;
        sites++;
        size_t j = ntop < TOP ? ntop++ : TOP - 1;
        if (j == TOP - 1 && ntop == TOP && stacks[top[j]].live_bytes >= stacks[i].live_bytes)
            continue;
        while (j > 0 && stacks[top[j - 1]].live_bytes < stacks[i].live_bytes) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    struct wr w = {.fd = fd};
    w_str(&w, "quire: leaks: ");
    w_num(&w, total, 0);
    w_str(&w, " bytes in ");
    w_num(&w, count, 0);
    w_str(&w, " blocks still live at exit, from ");
    w_num(&w, sites, 0);
    w_str(&w, " call sites");
    w_str(&w, sites > TOP ? " (the 20 largest):\n" : (sites ? ":\n" : "\n"));
    for (size_t t = 0; t < ntop; t++) {
        const struct pstack *s = &stacks[top[t]];
        w_str(&w, "  ");
        w_num(&w, s->live_bytes, 0);
        w_str(&w, " bytes in ");
        w_num(&w, s->live_n, 0);
        w_str(&w, s->live_n == 1 ? " block allocated at\n" : " blocks allocated at\n");
        for (unsigned k = 0; k < s->depth; k++) {
            w_str(&w, "    #");
            w_num(&w, k, 0);
            w_str(&w, " ");
            describe(&w, s->pc[k]);
            w_str(&w, "\n");
        }
    }
    w_flush(&w);
}

void q_prof_exit(void) {
    if (!q_prof_on) return;
    q_verbose("prof: free lists cut for a sample", NULL, atomic_load(&n_cut));
    q_verbose("prof: blocks sampled from slabs", NULL, atomic_load(&n_taken));
#if defined(UW)
    q_verbose("prof: stacks unwound by libgcc, not from cached rules", NULL,
              atomic_load(&n_fallback));
#endif
    q_lock(&q_prof_lock);
    if (q_opt.leaks) leak_report(q_opt.stats_fd);
    if (q_opt.prof) {
        int fd;
        if (open_profile(q_opt.prof_file, &fd) == 0) {
            dump_locked(fd);
            q_os_close(fd);
        }
    }
    q_unlock(&q_prof_lock);
}

/* ---------------------------------------------------------------------------------------------
 * Start-up (outside malloc: the library's constructor)
 * ------------------------------------------------------------------------------------------- */

/* The executable mapping holding this code, from /proc/self/maps - when it is a shared
   library's: in a program linked with libquire.a the mapping is the program's own, and the
   allocator's frames cannot be told apart by address (they stay at the top of each stack). */
static uintptr_t hexnum(const char **p) {
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return v;
        v = v * 16 + (uintptr_t)d;
    }
}

static void find_self(void) {
    int fd;
    if (q_os_open("/proc/self/maps", O_RDONLY, 0, &fd) != 0) return;
    char buf[8192];
    size_t len = 0, got;
    uintptr_t me = (uintptr_t)&q_prof_arm;
    while (q_os_read(fd, buf + len, sizeof buf - 1 - len, &got) == 0 && got) {
        len += got;
        buf[len] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            const char *p = line;
            uintptr_t lo = hexnum(&p);
            p += *p == '-';
            uintptr_t hi = hexnum(&p);
            if (me >= lo && me < hi && strstr(line, ".so")) self_lo = lo, self_hi = hi;
            line = nl + 1;
        }
        len = (size_t)(buf + len - line);
        memmove(buf, line, len);
    }
    q_os_close(fd);
}

void q_prof_start(void) {
    if (!q_opt.prof && !q_opt.leaks) return;
    prof_exact = q_opt.leaks;
    q_base_hash_init(&blocks, sizeof(struct prec), &pages_mem);
    q_base_hash_init(&stack_index, sizeof(uint64_t), &pages_mem);
    find_self();
    void *warm[2];
    backtrace(warm, 2); /* loads libgcc_s now, allocating outside malloc */
    if (q_prof_unwind_init() != 0)
        q_verbose("prof: stacks by backtrace() (no cached unwinder)", NULL, 0);
    if (q_opt.prof_signal > 0 && q_os_signal(q_opt.prof_signal, on_signal) != 0)
        q_verbose("prof_signal: cannot install the handler", NULL, (uint64_t)q_opt.prof_signal);
    q_prof_on = 1;
}
