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
 * Frees. A slab holding a sampled live block keeps heap_fast at 0, so its frees take the slow
 * path, which forgets the block (q_prof_forget) when the slab's `sampled` count says there may
 * be one - unless the slab holds exactly one and names it (prof_one), so the frees of its other
 * blocks do not take the lock; the fast path stays as it is for every other slab.
 *
 * Records. Sampled blocks (address -> stack, size) and distinct stacks (hash -> index) live in
 * base/'s hash tables, on pages mapped here, under q_prof_lock; the stacks array grows by
 * mremap. Stacks are captured with glibc's backtrace(), primed once at start-up (its first call
 * loads libgcc_s, which allocates) and never re-entering malloc afterwards; the allocator's own
 * frames are cut off when it is a shared library (libquire.so), by the address range of its
 * code.
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
 * Stacks and records
 * ------------------------------------------------------------------------------------------- */

/* The caller's stack, without the allocator's own frames; returns the depth. */
static unsigned capture(void **pc) {
    void *raw[RAW_DEPTH];
    int n = backtrace(raw, RAW_DEPTH);
    int i = 1; /* this function */
    if (self_hi)
        while (i < n && (uintptr_t)raw[i] >= self_lo && (uintptr_t)raw[i] < self_hi) i++;
    unsigned d = 0;
    for (; i < n && d < DEPTH; i++) pc[d++] = raw[i];
    return d;
}

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

int q_prof_forget(const void *p) {
    q_lock(&q_prof_lock);
    struct prec *r = q_base_hash_get(&blocks, (uintptr_t)p);
    int had = r != NULL;
    if (r) {
        stacks[r->stack].live_n--;
        stacks[r->stack].live_bytes -= r->size;
        q_base_hash_del(&blocks, (uintptr_t)p);
    }
    q_unlock(&q_prof_lock);
    return had;
}

/* ---------------------------------------------------------------------------------------------
 * The slab side (heap.c calls these on its slow paths only)
 * ------------------------------------------------------------------------------------------- */

static uint64_t n_armed, n_taken; /* statistics (verbose=1), racy */

/* Arms s, whose free list holds n blocks: if the next sample falls among them, cuts the list
   before it. Only the blocks in front of the sample are walked; a list the sample does not
   reach is not walked at all (it is counted down by its length). */
static void arm_list(struct q_heap *h, struct q_slab *s, uint64_t n) {
    uint32_t size = s->slot_size;
    n_armed++;
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
    /* The gap after this sample starts now: the lists other classes hand out meanwhile count
       toward it (the rest of this one will when q_prof_take hands it out). */
    h->prof_left = next_gap();
}

void q_prof_arm(struct q_heap *h, struct q_slab *s) {
    if (s->prof_rest) return; /* armed already */
    /* capacity == used + |free| + |local_free| (internal.h): with local_free empty, as it is
       after the refill that swapped it in, the free list's length is known without a walk. */
    uint64_t n = 0;
    if (!s->local_free)
        n = s->capacity - s->used;
    else
        for (struct q_block *b = s->free; b; b = q_link_dec(b)) n++;
    arm_list(h, s, n);
}

void *q_prof_take(struct q_heap *h, struct q_slab *s) {
    struct q_block *b = s->prof_rest;
    uint64_t n_rest = s->prof_rest_n - 1;
    n_taken++;
    s->prof_rest = NULL;
    s->prof_rest_n = 0;
    struct q_block *rest = q_link_dec(b);
    /* b leaves as a malloc would take it: counts, in-use bit, link cleared. */
    s->free = b;
    b->link = q_link_enc(b, NULL);
    void *p = q_slab_pop(s);
    s->free = rest;
    if (atomic_fetch_add_explicit(&s->sampled, 1, Q_RELAXED) == 0)
        atomic_store_explicit(&s->prof_one, (uintptr_t)p, Q_RELAXED);
    atomic_store_explicit(&s->heap_fast, 0, Q_RELAXED);
    record(p, s->slot_size);
    if (s->free) arm_list(h, s, n_rest);
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
    q_verbose("prof: free lists armed", NULL, n_armed);
    q_verbose("prof: blocks sampled from slabs", NULL, n_taken);
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
    if (q_opt.prof_signal > 0 && q_os_signal(q_opt.prof_signal, on_signal) != 0)
        q_verbose("prof_signal: cannot install the handler", NULL, (uint64_t)q_opt.prof_signal);
    q_prof_on = 1;
}
