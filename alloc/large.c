/*
 * alloc/large.c - large blocks (more than Q_MEDIUM_MAX bytes): each is its own page-aligned
 * mapping, a "paged vector" that realloc grows or shrinks with mremap(MREMAP_MAYMOVE), so its
 * contents are never copied.
 *
 * Each live large block has an out-of-line record in the library's hash table (base/hash.h, on
 * pages of its own) keyed by the block's address (the user pointer is the mapping's start: no
 * header page). free() of a pointer
 * outside every segment looks it up here; a miss is an invalid free. A few freed mappings are
 * kept in a small cache for a purge delay, so that programs that allocate and free big buffers
 * in a loop do not pay an mmap, a munmap and the page faults each time.
 *
 * Growth policy: a realloc beyond the mapping doubles it (slack: address space only), so a
 * buffer grown by small steps stays in place with no system call until it outgrows the slack;
 * only a shrink below a quarter of the mapping gives memory back. A block whose pages are
 * mostly resident (mincore) moves into a cached mapping by copy when it outgrows its own
 * (faulted-in pages are cheaper to copy into than fresh ones to fault); a sparse one moves by
 * mremap. The usable size is the last request rounded to pages, never the slack.
 *
 * Splitting without system calls: a shrink below a quarter, and a small request served from a
 * much bigger cached mapping, keep only the part they need and put the rest of the mapping
 * into the cache as an entry of its own, pages still faulted in. A block that grows again
 * takes the cached entry that starts right where it ends back in place: no mremap and no page
 * faults (buffers that are emptied and refilled, as SQLite's are, fault in their pages once).
 * Each range carries the id of the mmap or mremap that created it, and ranges are only joined
 * when their ids match, so a block never spans two kernel mappings (mremap needs one). Cached
 * entries expire after the purge delay like any other.
 *
 * q_large_lock protects the table and the cache; system calls are made outside it.
 */
#include <string.h>

#include "alloc/internal.h"
#include "base/hash.h"

#define CACHE_N         16
#define CACHE_MAX_BLOCK ((size_t)32 << 20)
#define CACHE_MAX_BYTES ((size_t)64 << 20)

/* The record of a live block (the value of its address in the table). */
struct lrec {
    size_t map;    /* mapping length, a multiple of the page size (QUIRE_SECURE: the part
                      between the two guard pages) */
    size_t usable; /* the last requested size, page-rounded (<= map; the rest is slack) */
    uint64_t vid;  /* id of the kernel mapping the range belongs to */
    size_t req;    /* the last requested size, exactly (sized frees must name it) */
    unsigned kind; /* enum q_kind: how it was allocated (delete must match new) */
};

struct lcache {
    uintptr_t ptr;
    size_t map;
    uint64_t expire_ns;
    uint64_t vid;
};

q_lock_t q_large_lock;
static struct lcache cache[CACHE_N];
static unsigned cache_n;
static size_t cache_bytes;
static _Atomic uint64_t cache_due; /* earliest expiry, 0 when the cache is empty */
static uint64_t last_vid;          /* ids of kernel mappings (under the lock) */

/* The table's memory: pages straight from the system (the engine cannot call malloc). */
static void *tab_get(void *ctx, size_t bytes) {
    (void)ctx;
    void *m = NULL;
    return q_os_map(&m, bytes, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0) ? NULL : m;
}
static void tab_put(void *ctx, void *block, size_t bytes) {
    (void)ctx;
    q_os_unmap(block, bytes);
}
static const struct q_base_mem tab_mem = {tab_get, tab_put, NULL};
/* Live blocks: address -> struct lrec (under q_large_lock). */
static struct q_base_hash tab = {.val_size = sizeof(struct lrec), .mem = &tab_mem};

/* The record of the live block at p, or NULL; valid until the next tab_insert. */
static struct lrec *tab_find(uintptr_t p) {
    return q_base_hash_get(&tab, p);
}

/* Records the block at p: 0, or -1 when the table cannot grow (out of memory). */
static int tab_insert(uintptr_t p, size_t map, size_t usable, uint64_t vid, size_t req,
                      unsigned kind) {
    void *v;
    if (q_base_hash_put(&tab, p, &v) < 0) return -1;
    *(struct lrec *)v = (struct lrec){map, usable, vid, req, kind};
    return 0;
}

static void tab_remove(uintptr_t p) {
    q_base_hash_del(&tab, p);
}

/* The largest cached mapping handed out whole for a request of `need` bytes: its pages are
   already faulted in, so the block can then grow in place without page faults. */
static size_t take_bound(size_t need) {
    size_t b = need + ((size_t)4 << 20);
    return b > need * 4 ? b : need * 4;
}

static uint64_t new_vid(void) {
    return ++last_vid;
}

static void update_due(void) {
    uint64_t due = 0;
    for (unsigned i = 0; i < cache_n; i++)
        if (due == 0 || cache[i].expire_ns < due) due = cache[i].expire_ns;
    atomic_store_explicit(&cache_due, due, Q_RELAXED);
}

static void cache_remove(unsigned i) {
    cache_bytes -= cache[i].map;
    cache[i] = cache[--cache_n];
}

/* The cached entry that starts at p and belongs to kernel mapping vid, or -1 (lock held). */
static int cache_find_at(uintptr_t p, uint64_t vid) {
    for (unsigned i = 0; i < cache_n; i++)
        if (cache[i].ptr == p && cache[i].vid == vid) return (int)i;
    return -1;
}

/*
 * Adds an entry (lock held; the caller made room), joined with cached neighbours of the same
 * kernel mapping (never beyond CACHE_MAX_BLOCK). The joined entry expires at the later of
 * the two expiries.
 */
static void cache_add(uintptr_t p, size_t map, uint64_t expire, uint64_t vid) {
    for (unsigned i = 0; i < cache_n;) {
        struct lcache *c = &cache[i];
        int before = c->ptr + c->map == p, after = p + map == c->ptr;
        if (c->vid == vid && (before || after) && map + c->map <= CACHE_MAX_BLOCK) {
            if (before) p = c->ptr;
            map += c->map;
            if (c->expire_ns > expire) expire = c->expire_ns;
            cache_remove(i);
            continue;
        }
        i++;
    }
    cache[cache_n].ptr = p;
    cache[cache_n].map = map;
    cache[cache_n].expire_ns = expire;
    cache[cache_n].vid = vid;
    cache_n++;
    cache_bytes += map;
}

/*
 * Takes a cached mapping to serve `need` bytes (lock held): the smallest one at least that big
 * (and at most take_bound(need)); else, when allow_resize, the smallest bigger one, of which
 * the block keeps twice `need` (address space to grow into) and the rest stays cached; else,
 * when allow_resize, the largest smaller one of at least half the size (the caller grows it
 * with mremap): either way the pages at its start are already faulted in. With align above
 * the page size, only mappings starting on such a boundary qualify (and are never grown:
 * mremap may move them). Returns 0 when none fits; else the address, its length in *map and
 * its kernel mapping's id in *vid.
 */
static uintptr_t cache_take(size_t need, size_t align, int allow_resize, size_t *map,
                            uint64_t *vid) {
    int best = -1, big = -1, grow = -1;
    size_t bound = take_bound(need);
    int aligned = align > q_os_page_size();
    for (unsigned i = 0; i < cache_n; i++) {
        size_t m = cache[i].map;
        if (aligned && (cache[i].ptr & (align - 1)) != 0) continue;
        if (m >= need && m <= bound) {
            if (best < 0 || m < cache[best].map) best = (int)i;
        } else if (allow_resize && m > bound) {
            if (big < 0 || m < cache[big].map) big = (int)i;
        } else if (allow_resize && !aligned && m < need && m >= need / 2) {
            if (grow < 0 || m > cache[grow].map) grow = (int)i;
        }
    }
    if (best < 0) best = big;
    if (best < 0) best = grow;
    if (best < 0) return 0;
    struct lcache c = cache[best];
    cache_remove((unsigned)best);
    if (c.map > bound) {
        /* Much bigger: keep its start, with as much slack as the block, and leave the rest
           cached (one entry fewer was just removed: there is room). No system call. */
        size_t keep = 2 * need;
        cache_add(c.ptr + keep, c.map - keep, c.expire_ns, c.vid);
        c.map = keep;
    }
    *map = c.map;
    *vid = c.vid;
    return c.ptr;
}

static void unmap_block(uintptr_t p, size_t map) {
    q_os_unmap((void *)p, map);
    atomic_fetch_add_explicit(&q_gs.unmappings, 1, Q_RELAXED);
    q_stats_note_mapped(-(int64_t)map);
}

/* Keeps a freed range for reuse (lock held), evicting the oldest entries into victims[]
   (which has room for CACHE_N + 1 entries); a range that is not cached becomes a victim. */
static unsigned cache_put(uintptr_t p, size_t map, uint64_t vid, struct lcache *victims) {
    unsigned nv = 0;
    if (q_opt.purge_delay_ns == 0 || map > CACHE_MAX_BLOCK) {
        victims[0].ptr = p;
        victims[0].map = map;
        return 1;
    }
    while (cache_n && (cache_n == CACHE_N || cache_bytes + map > CACHE_MAX_BYTES)) {
        unsigned o = 0;
        for (unsigned k = 1; k < cache_n; k++)
            if (cache[k].expire_ns < cache[o].expire_ns) o = k;
        victims[nv++] = cache[o];
        cache_remove(o);
    }
    uint64_t delay = q_opt.purge_delay_ns > 0 ? (uint64_t)q_opt.purge_delay_ns : UINT64_MAX / 2;
    cache_add(p, map, q_os_coarse_ns() + delay, vid);
    update_due();
    return nv;
}

static void unmap_victims(const struct lcache *victims, unsigned nv) {
    for (unsigned k = 0; k < nv; k++) unmap_block(victims[k].ptr, victims[k].map);
}

void *q_large_alloc(size_t size, size_t align, int zero, unsigned kind) {
    size_t ps = q_os_page_size();
    size_t map = q_os_page_round(size ? size : 1);
    if (!map || map > (size_t)PTRDIFF_MAX) return NULL;
    uintptr_t p = 0;
    uint64_t vid = 0;
    {
        size_t got = 0;
        q_lock(&q_large_lock);
        p = cache_take(map, align, 1, &got, &vid);
        update_due();
        q_unlock(&q_large_lock);
        if (p && got < map) {
            /* Grow the cached mapping to fit: its faulted-in pages are kept (and may move). */
            void *np = NULL;
            if (q_os_remap((void *)p, got, map, Q_REMAP_MAYMOVE, &np) == 0) {
                atomic_fetch_add_explicit(&q_gs.remaps, 1, Q_RELAXED);
                q_stats_note_mapped((int64_t)map - (int64_t)got);
                if ((uintptr_t)np != p) vid = 0; /* moved: a kernel mapping of its own */
                p = (uintptr_t)np;
            } else {
                unmap_block(p, got);
                p = 0;
            }
        } else if (p) {
            map = got;
        }
    }
    size_t usable = q_os_page_round(size ? size : 1);
    int fresh = p == 0;
    if (fresh) {
        void *m = NULL;
        int rc = align > ps ? q_os_map_aligned(&m, map, align, 0)
                            : q_os_map(&m, map, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
        if (rc) {
            q_verbose("mmap of a large block failed", NULL, map);
            return NULL;
        }
        p = (uintptr_t)m;
        atomic_fetch_add_explicit(&q_gs.mappings, 1, Q_RELAXED);
        q_stats_note_mapped((int64_t)map);
    }
    q_lock(&q_large_lock);
    if (vid == 0) vid = new_vid();
    int rc = tab_insert(p, map, usable, vid, size, kind);
    q_unlock(&q_large_lock);
    if (rc) {
        unmap_block(p, map);
        return NULL;
    }
    atomic_fetch_add_explicit(&q_gs.large_blocks, 1, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_bytes, map, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_allocs, 1, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_alloc_bytes, map, Q_RELAXED);
    if (zero && !fresh) memset((void *)p, 0, size);
    if (Q_UNLIKELY(q_prof_on)) q_prof_large((void *)p, size);
    return (void *)p;
}

static int large_free_secure(const char *fn, void *ptr, unsigned kind, size_t size, unsigned how);

int q_large_free(const char *fn, void *ptr, unsigned kind, size_t size, size_t align,
                 unsigned how) {
    uintptr_t p = (uintptr_t)ptr;
    struct lcache victims[CACHE_N + 1];
    unsigned nv = 0;
    (void)align; /* the caller checked the pointer's alignment */
    if (q_opt.secure) return large_free_secure(fn, ptr, kind, size, how);
    q_lock(&q_large_lock);
    struct lrec *r = tab_find(p);
    if (!r) {
        q_unlock(&q_large_lock);
        return 0;
    }
    if (r->kind != kind) q_kind_check(fn, ptr, r->kind, kind);
    if (how != Q_UNSIZED && size != r->req)
        q_report_invalid(fn, ptr, "size does not match the block");
    if (Q_UNLIKELY(q_prof_on)) q_prof_forget(ptr); /* q_prof_lock nests inside ours */
    size_t map = r->map;
    uint64_t vid = r->vid;
    tab_remove(p);
    nv = cache_put(p, map, vid, victims);
    q_unlock(&q_large_lock);
    atomic_fetch_sub_explicit(&q_gs.large_blocks, 1, Q_RELAXED);
    atomic_fetch_sub_explicit(&q_gs.large_bytes, map, Q_RELAXED);
    unmap_victims(victims, nv);
    return 1;
}

size_t q_large_usable(const void *ptr) {
    q_lock(&q_large_lock);
    const struct lrec *r = tab_find((uintptr_t)ptr);
    size_t n = !r ? 0 : q_opt.secure ? r->req : r->usable;
    q_unlock(&q_large_lock);
    return n;
}

/* Whether most pages of the first (up to) 4 MiB of a block are resident (one mincore). */
static int mostly_resident(void *ptr, size_t len) {
    unsigned char vec[1024];
    size_t ps = q_os_page_size();
    if (len > sizeof vec * ps) len = sizeof vec * ps;
    size_t n = len / ps;
    if (n == 0 || q_os_mincore(ptr, len, vec) != 0) return 0;
    size_t in = 0;
    for (size_t i = 0; i < n; i++) in += vec[i] & 1;
    return in * 4 >= n * 3;
}

int q_large_realloc(void *ptr, size_t size, void **out) {
    uintptr_t p = (uintptr_t)ptr;
    size_t want = q_os_page_round(size);
    q_lock(&q_large_lock);
    struct lrec *r = tab_find(p);
    if (!r) {
        q_unlock(&q_large_lock);
        return -1;
    }
    size_t map = r->map, old_usable = r->usable, old_req = r->req;
    uint64_t vid = r->vid;
    unsigned kind = r->kind;
    if (kind != Q_KIND_MALLOC) q_kind_check("realloc", ptr, kind, Q_KIND_MALLOC);
    if (!want || want > (size_t)PTRDIFF_MAX) {
        q_unlock(&q_large_lock);
        return 1;
    }
    if (want <= map && want >= map / 4) {
        /* Growth into the slack reserved by an earlier growth, or a moderate shrink: no system
           call. (Growth doubles the mapping, so a block that grew lives in the upper half of
           it; only a shrink below a quarter gives memory back.) */
        r->usable = want;
        r->req = size;
        q_unlock(&q_large_lock);
        *out = ptr;
        return 0;
    }
    size_t new_map = want;
    if (want > map) {
        /* Growing: reserve slack so a buffer that keeps growing mostly stays in place. The
           slack is address space only; its pages are not touched (no memory) until used. */
        size_t slack = map < ((size_t)64 << 20) ? map : ((size_t)64 << 20);
        if (new_map < map + slack && map + slack <= (size_t)PTRDIFF_MAX) new_map = map + slack;
        int t = cache_find_at(p + map, vid);
        if (t >= 0) {
            /* The cached rest of this block's own mapping follows it (left there by a shrink
               or a split): take back what the block needs, in place, pages and all. */
            size_t total = map + cache[t].map, take = new_map < total ? new_map : total;
            if (take < total) {
                cache_bytes -= take - map;
                cache[t].ptr = p + take;
                cache[t].map = total - take;
            } else {
                cache_remove((unsigned)t);
            }
            update_due();
            r->map = take;
            if (take >= want) {
                r->usable = want;
                r->req = size;
                q_unlock(&q_large_lock);
                atomic_fetch_add_explicit(&q_gs.large_bytes, take - map, Q_RELAXED);
                *out = ptr;
                return 0;
            }
            atomic_fetch_add_explicit(&q_gs.large_bytes, take - map, Q_RELAXED);
            map = take; /* not enough: grow the joined range below */
        }
        /* A cached mapping already holds faulted-in pages: when the block's own pages are
           mostly resident (a buffer that is really filled), copying them there costs less
           than faulting in fresh ones (and the old mapping is cached in turn). A sparse
           block is better moved by mremap, which copies nothing. */
        size_t got = 0;
        uint64_t cvid = 0;
        uintptr_t c = 0;
        if (cache_n && mostly_resident(ptr, old_usable)) c = cache_take(want, 0, 0, &got, &cvid);
        if (c) {
            struct lcache victims[CACHE_N + 1];
            tab_remove(p);
            int rc = tab_insert(c, got, want, cvid, size, kind);
            update_due();
            q_unlock(&q_large_lock);
            if (rc) q_report_invalid("realloc", ptr, "large-block table full (out of memory)");
            /* Copy before the old mapping goes into the cache: once there, another thread may
               take it and write to it. */
            memcpy((void *)c, ptr, old_usable);
            q_lock(&q_large_lock);
            unsigned nv = cache_put(p, map, vid, victims);
            q_unlock(&q_large_lock);
            unmap_victims(victims, nv);
            atomic_fetch_add_explicit(&q_gs.large_bytes, got - map, Q_RELAXED); /* may wrap */
            *out = (void *)c;
            return 0;
        }
    } else {
        /* Large shrink: keep as much slack as the new size; the rest of the mapping goes into
           the cache (pages and all) until it expires or the block grows back into it. */
        struct lcache victims[CACHE_N + 1];
        new_map *= 2;
        r->map = new_map;
        r->usable = want;
        r->req = size;
        unsigned nv = cache_put(p + new_map, map - new_map, vid, victims);
        q_unlock(&q_large_lock);
        unmap_victims(victims, nv);
        atomic_fetch_sub_explicit(&q_gs.large_bytes, map - new_map, Q_RELAXED);
        *out = ptr;
        return 0;
    }
    tab_remove(p);
    q_unlock(&q_large_lock);
    void *np = NULL;
    int rc = q_os_remap(ptr, map, new_map, Q_REMAP_MAYMOVE, &np);
    q_lock(&q_large_lock);
    if (rc) {
        /* The caller moves the block by copy (e.g. the application split its mapping with
           mprotect, so mremap refuses it). */
        tab_insert(p, map, old_usable, vid, old_req, kind);
        q_unlock(&q_large_lock);
        q_verbose("mremap of a large block failed", ptr, new_map);
        return 1;
    }
    if ((uintptr_t)np != p) vid = new_vid(); /* moved: a kernel mapping of its own */
    rc = tab_insert((uintptr_t)np, new_map, want, vid, size, kind);
    q_unlock(&q_large_lock);
    if (rc) q_report_invalid("realloc", np, "large-block table full (out of memory)");
    atomic_fetch_add_explicit(&q_gs.remaps, 1, Q_RELAXED);
    q_stats_note_mapped((int64_t)new_map - (int64_t)map);
    atomic_fetch_add_explicit(&q_gs.large_bytes, new_map - map, Q_RELAXED);
    *out = np;
    return 0;
}

uint64_t q_large_due(void) {
    return atomic_load_explicit(&cache_due, Q_RELAXED);
}

size_t q_large_trim(uint64_t now, int force) {
    uint64_t due = atomic_load_explicit(&cache_due, Q_RELAXED);
    if (due == 0 || (!force && now < due)) return 0;
    struct lcache victims[CACHE_N];
    unsigned nv = 0;
    q_lock(&q_large_lock);
    for (unsigned k = 0; k < cache_n;) {
        if (force || cache[k].expire_ns <= now) {
            victims[nv++] = cache[k];
            cache_bytes -= cache[k].map;
            cache[k] = cache[--cache_n];
        } else {
            k++;
        }
    }
    update_due();
    q_unlock(&q_large_lock);
    size_t total = 0;
    for (unsigned k = 0; k < nv; k++) {
        unmap_block(victims[k].ptr, victims[k].map);
        total += victims[k].map;
    }
    if (total) q_verbose("unmapped cached large blocks", NULL, total);
    return total;
}

/* ---------------------------------------------------------------------------------------------
 * QUIRE_SECURE large blocks
 *
 * Each block is its own mapping with a guard page on either side, [p - page, p) and
 * [p + map, p + map + page), so a write just before or past it faults; its canary fills
 * [req, min(map, req + Q_CANARY_MAX)) and is checked on free and realloc. No cache and no
 * mremap: a freed block's pages are made inaccessible at once (q_guard discards them) and the
 * range goes to a quarantine of the last LQUAR_N frees; it is unmapped only when pushed out,
 * so a dangling pointer faults and a new block never lands on a freed one's address until
 * then. realloc grows a block into its own slack or moves it by copy (to a block with room
 * for doubling, so growth by small steps copies O(log n) times).
 * ------------------------------------------------------------------------------------------- */

#define LQUAR_N 64

static struct {
    uintptr_t ptr;
    size_t map;
} lquar[LQUAR_N];
static unsigned lquar_head, lquar_n;

static int lquar_has(uintptr_t p) {
    for (unsigned k = 0; k < lquar_n; k++)
        if (lquar[(lquar_head + k) % LQUAR_N].ptr == p) return 1;
    return 0;
}

/* Unmaps a secure block's whole mapping, guards included. */
static void unmap_secure(uintptr_t p, size_t map) {
    size_t ps = q_os_page_size();
    unmap_block(p - ps, map + 2 * ps);
}

static size_t canary_end(size_t req, size_t map) {
    return req + Q_CANARY_MAX < map ? req + Q_CANARY_MAX : map;
}

void *q_large_alloc_secure(size_t size, size_t align, size_t room, unsigned kind) {
    size_t ps = q_os_page_size();
    size_t len = q_os_page_round(size > room ? size : room ? room : 1);
    size_t extra = align > ps ? align : 0;
    if (!len || len > (size_t)PTRDIFF_MAX / 2) return NULL;
    size_t total = len + 2 * ps + extra;
    void *m = NULL;
    if (q_os_map(&m, total, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0) != 0) {
        q_verbose("mmap of a large block failed", NULL, total);
        return NULL;
    }
    atomic_fetch_add_explicit(&q_gs.mappings, 1, Q_RELAXED);
    uintptr_t base = (uintptr_t)m, p = base + ps;
    if (extra) {
        /* Aligned: keep [p - ps, p + len + ps) of the bigger mapping. */
        p = (p + align - 1) & ~(uintptr_t)(align - 1);
        if (p - ps > base) q_os_unmap(m, p - ps - base);
        uintptr_t end = p + len + ps;
        if (base + total > end) q_os_unmap((void *)end, base + total - end);
    }
    q_stats_note_mapped((int64_t)(len + 2 * ps));
    if (q_guard((void *)(p - ps), ps, 1) != 0 || q_guard((void *)(p + len), ps, 1) != 0)
        q_verbose("guard pages of a large block failed", (void *)p, len);
    q_canary_fill((void *)p, size, canary_end(size, len));
    q_lock(&q_large_lock);
    int rc = tab_insert(p, len, len, new_vid(), size, kind);
    q_unlock(&q_large_lock);
    if (rc) {
        unmap_secure(p, len);
        return NULL;
    }
    atomic_fetch_add_explicit(&q_gs.large_blocks, 1, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_bytes, len, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_allocs, 1, Q_RELAXED);
    atomic_fetch_add_explicit(&q_gs.large_alloc_bytes, len, Q_RELAXED);
    return (void *)p;
}

/* Checks a secure block's canary (lock held; reports and aborts when it was overwritten). */
static void check_secure(const char *fn, void *ptr, const struct lrec *r) {
    if (!q_canary_ok(ptr, r->req, canary_end(r->req, r->map)))
        q_report_invalid(fn, ptr, "heap overflow (the canary after the block was overwritten)");
}

static int large_free_secure(const char *fn, void *ptr, unsigned kind, size_t size, unsigned how) {
    uintptr_t p = (uintptr_t)ptr;
    q_lock(&q_large_lock);
    const struct lrec *found = tab_find(p);
    if (!found) {
        int was = lquar_has(p);
        q_unlock(&q_large_lock);
        if (was) q_report_invalid(fn, ptr, "double free");
        return 0;
    }
    struct lrec r = *found;
    check_secure(fn, ptr, &r);
    if (r.kind != kind) q_kind_check(fn, ptr, r.kind, kind);
    if (how != Q_UNSIZED && size != r.req)
        q_report_invalid(fn, ptr, "size does not match the block");
    tab_remove(p);
    q_unlock(&q_large_lock);
    /* Inaccessible before it enters the quarantine: once there, another free may unmap it. */
    q_guard(ptr, r.map, 1);
    uintptr_t vp = 0;
    size_t vmap = 0;
    q_lock(&q_large_lock);
    if (lquar_n == LQUAR_N) {
        vp = lquar[lquar_head].ptr;
        vmap = lquar[lquar_head].map;
        lquar_head = (lquar_head + 1) % LQUAR_N;
        lquar_n--;
    }
    unsigned t = (lquar_head + lquar_n) % LQUAR_N;
    lquar[t].ptr = p;
    lquar[t].map = r.map;
    lquar_n++;
    q_unlock(&q_large_lock);
    atomic_fetch_sub_explicit(&q_gs.large_blocks, 1, Q_RELAXED);
    atomic_fetch_sub_explicit(&q_gs.large_bytes, r.map, Q_RELAXED);
    if (vp) unmap_secure(vp, vmap);
    return 1;
}

int q_large_realloc_secure(void *ptr, size_t size, void **out) {
    q_lock(&q_large_lock);
    struct lrec *found = tab_find((uintptr_t)ptr);
    if (!found) {
        int was = lquar_has((uintptr_t)ptr);
        q_unlock(&q_large_lock);
        if (was) q_report_invalid("realloc", ptr, "use after free (block already freed)");
        return -1;
    }
    struct lrec r = *found;
    check_secure("realloc", ptr, &r);
    if (r.kind != Q_KIND_MALLOC) q_kind_check("realloc", ptr, r.kind, Q_KIND_MALLOC);
    if (size + Q_TRAILER > Q_MEDIUM_MAX && q_os_page_round(size) <= r.map && size >= r.map / 4) {
        /* In place: the canary moves to the new end (growth into the slack, or a shrink). */
        found->req = size;
        q_canary_fill(ptr, size, canary_end(size, r.map));
        q_unlock(&q_large_lock);
        *out = ptr;
        return 0;
    }
    q_unlock(&q_large_lock);
    void *n = size + Q_TRAILER <= Q_MEDIUM_MAX
                  ? q_secure_alloc(size, 0, 0, Q_KIND_MALLOC)
                  : q_large_alloc_secure(size, 0, size > r.req ? 2 * r.map : 0, Q_KIND_MALLOC);
    if (!n) return 1;
    memcpy(n, ptr, size < r.req ? size : r.req);
    large_free_secure("realloc", ptr, Q_KIND_MALLOC, 0, Q_UNSIZED);
    *out = n;
    return 0;
}
