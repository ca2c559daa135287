/*
 * tests/unit/test_pheap_powerloss.c - the pager's power-loss harness applied to a heap workload.
 *
 * A heap runs on a pager whose I/O layer (struct q_pager_io) records every page write, size
 * change and sync. The workload makes transactions of allocations (filled), declared writes to
 * older blocks (undo-logged), frees, reallocs, root and name changes, some rolled back. For each
 * sync point k, the images a power loss just before sync k completes could leave are built:
 * everything written before sync k - 1 plus a subset of the writes since (all subsets when there
 * are at most 5, else 24 random ones, always none and all), and for each a variant with one
 * included write torn (half old, half new bytes). Each image is opened for writing (which
 * recovers a crashed commit); its digest (tests/unit/test_pheap_util.h: every live allocation
 * with its offset, size and bytes, the root, the names) must equal the last commit completed
 * before sync k - 1 or the commit in flight, nothing else; quire_pheap_check() must then pass
 * with no problem. Prints "power-loss images: N tried, N consistent".
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "test_pheap_util.h"

enum { EV_WRITE, EV_TRUNC, EV_SYNC };

struct ev {
    int kind;
    uint64_t off, len;
    uint8_t *data;
};

struct rec {
    struct ev *ev;
    size_t n, cap;
    uint64_t syncs;
    uint32_t ps;
};

static void rec_push(struct rec *r, struct ev e) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
    }
    r->ev[r->n++] = e;
}

static int r_pread(void *c, int fd, void *b, size_t n, uint64_t o) {
    (void)c;
    return q_pager_default_io.pread(NULL, fd, b, n, o);
}
static int r_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o) {
    struct rec *r = c;
    const uint8_t *src = b;
    for (uint64_t pos = o; pos < o + n;) {
        uint64_t end = (pos / r->ps + 1) * r->ps;
        if (end > o + n) end = o + n;
        struct ev e = {EV_WRITE, pos, end - pos, malloc(end - pos)};
        memcpy(e.data, src + (pos - o), end - pos);
        rec_push(r, e);
        pos = end;
    }
    return q_pager_default_io.pwrite(NULL, fd, b, n, o);
}
static int r_sync(void *c, int fd) {
    struct rec *r = c;
    rec_push(r, (struct ev){EV_SYNC, 0, 0, NULL});
    r->syncs++;
    return q_pager_default_io.sync(NULL, fd);
}
static int r_truncate(void *c, int fd, uint64_t sz) {
    rec_push(c, (struct ev){EV_TRUNC, 0, sz, NULL});
    return q_pager_default_io.truncate(NULL, fd, sz);
}
static int r_remap(void *c, void *o, size_t os, size_t ns, void **out) {
    (void)c;
    return q_pager_default_io.remap(NULL, o, os, ns, out);
}

struct img {
    uint8_t *b;
    uint64_t size, cap;
};

static void img_size(struct img *m, uint64_t sz) {
    if (sz > m->cap) {
        m->b = realloc(m->b, sz);
        m->cap = sz;
    }
    if (sz > m->size) memset(m->b + m->size, 0, sz - m->size);
    m->size = sz;
}

static void img_apply(struct img *m, const struct ev *e, int torn) {
    if (e->kind == EV_TRUNC) {
        img_size(m, e->len);
        return;
    }
    if (e->kind != EV_WRITE) return;
    if (e->off + e->len > m->size) img_size(m, e->off + e->len);
    uint64_t h = e->len / 2, a = 0, b = e->len;
    if (torn == 1) b = h;
    if (torn == 2) a = h;
    memcpy(m->b + e->off + a, e->data + a, b - a);
}

struct state {
    uint64_t digest, syncs;
};
static struct state *states;
static size_t nstates, capstates;
static uint64_t tried, consistent, recovered_logs;
static char img_path[256];

static void note_state(const quire_pheap *h, const struct rec *r) {
    if (nstates == capstates) {
        capstates = capstates ? capstates * 2 : 256;
        states = realloc(states, capstates * sizeof *states);
    }
    states[nstates].digest = th_digest(h, NULL);
    states[nstates].syncs = r->syncs;
    nstates++;
}

static void check_image(const struct img *m, uint64_t durable_syncs) {
    int fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, m->b, m->size) == (ssize_t)m->size);
    close(fd);
    tried++;
    size_t j = 0;
    while (j + 1 < nstates && states[j + 1].syncs <= durable_syncs) j++;
    struct quire_pheap_report pre;
    memset(&pre, 0, sizeof pre);
    (void)quire_pheap_check(img_path, &pre);
    recovered_logs += pre.recovery_pending;
    quire_pheap *h;
    int rc = quire_pheap_open(img_path, QUIRE_PHEAP_CREATE, 0, &h); /* a crashed create too */
    CHECK_OK(rc);
    if (rc) return;
    uint64_t d = th_digest(h, NULL);
    CHECK_OK(quire_pheap_close(h));
    int ok = d == states[j].digest || (j + 1 < nstates && d == states[j + 1].digest);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  image at sync %llu: state %zu (of %zu) expected\n",
                (unsigned long long)durable_syncs, j, nstates);
    struct quire_pheap_report r;
    memset(&r, 0, sizeof r);
    rc = quire_pheap_check(img_path, &r);
    CHECK_OK(rc);
    CHECK_EQ(r.problems, 0);
    CHECK_EQ(r.recovery_pending, 0);
    if (ok && !rc) consistent++;
}

static void enumerate(struct rec *r, uint64_t first_sync, uint64_t *seed, unsigned subsets) {
    struct img base = {0}, m = {0};
    size_t i = 0;
    uint64_t sync_no = 0;
    while (i < r->n) {
        size_t s = i;
        while (s < r->n && r->ev[s].kind != EV_SYNC) s++;
        size_t n = s - i;
        if (sync_no >= first_sync) {
            uint64_t total = n <= 5 ? (UINT64_C(1) << n) : subsets;
            uint8_t *take = malloc(n + 1);
            for (uint64_t k = 0; k < total; k++) {
                size_t ntake = 0;
                for (size_t e = 0; e < n; e++) {
                    if (n <= 5)
                        take[e] = (uint8_t)(k >> e & 1);
                    else
                        take[e] = k == 0 ? 0 : k == 1 ? 1 : (uint8_t)(th_rand(seed) & 1);
                    ntake += take[e] && r->ev[i + e].kind == EV_WRITE;
                }
                for (int torn_variant = 0; torn_variant < 2; torn_variant++) {
                    size_t tear = SIZE_MAX;
                    if (torn_variant) {
                        if (!ntake) continue;
                        size_t pick = th_rand(seed) % ntake;
                        for (size_t e = 0; e < n && tear == SIZE_MAX; e++)
                            if (take[e] && r->ev[i + e].kind == EV_WRITE && pick-- == 0) tear = e;
                    }
                    img_size(&m, 0);
                    img_size(&m, base.size);
                    memcpy(m.b, base.b, base.size);
                    for (size_t e = 0; e < n; e++)
                        if (take[e])
                            img_apply(&m, &r->ev[i + e],
                                      e == tear ? 1 + (int)(th_rand(seed) & 1) : 0);
                    check_image(&m, sync_no);
                }
            }
            free(take);
        }
        for (size_t e = i; e < s; e++) img_apply(&base, &r->ev[e], 0);
        if (s < r->n) sync_no++;
        i = s + 1;
    }
    check_image(&base, sync_no);
    free(base.b);
    free(m.b);
}

/* One random transaction on h (live: the workload's allocations). */
static void txn(quire_pheap *h, uint64_t *s, quire_pref *live, size_t *nlive, size_t max) {
    int ops = 1 + (int)(th_rand(s) % 5);
    for (int o = 0; o < ops; o++) {
        int what = (int)(th_rand(s) % 10);
        if (what <= 2 && *nlive < max) {
            uint64_t r = th_rand(s) % 16;
            size_t sz = r < 12 ? 1 + th_rand(s) % 300 : r < 15 ? 1 + th_rand(s) % 9000 : 200000;
            quire_pref x;
            void *p;
            CHECK_OK(quire_pheap_alloc(h, sz, &x));
            CHECK_OK(quire_pheap_write(h, x, 0, sz, &p));
            th_fill(p, sz, th_rand(s));
            live[(*nlive)++] = x;
        } else if (what <= 5 && *nlive) {
            /* change part of an older block (undo-logged) */
            quire_pref x = live[th_rand(s) % *nlive];
            size_t us, a, len;
            void *p;
            CHECK_OK(quire_pheap_usable_size(h, x, &us));
            a = th_rand(s) % us;
            len = 1 + th_rand(s) % (us - a < 3000 ? us - a : 3000);
            CHECK_OK(quire_pheap_write(h, x, a, len, &p));
            th_fill(p, len, th_rand(s));
        } else if (what == 6 && *nlive) {
            size_t k = th_rand(s) % *nlive;
            CHECK_OK(quire_pheap_free(h, live[k]));
            live[k] = live[--*nlive];
        } else if (what == 7 && *nlive) {
            size_t k = th_rand(s) % *nlive;
            CHECK_OK(quire_pheap_realloc(h, &live[k], 1 + th_rand(s) % 2000));
        } else if (what == 8 && *nlive) {
            CHECK_OK(quire_pheap_set_root(h, live[th_rand(s) % *nlive]));
        } else if (what == 9) {
            char nm[16];
            quire_pref x;
            snprintf(nm, sizeof nm, "n%u", (unsigned)(th_rand(s) % 12));
            if (th_rand(s) % 3)
                CHECK_OK(quire_pheap_named(h, nm, 1 + th_rand(s) % 64, &x, NULL));
            else if (quire_pheap_find(h, nm, &x) == 0)
                CHECK_OK(quire_pheap_name_set(h, nm, QUIRE_PREF_NULL));
        }
    }
}

static void workload(uint32_t ps, int steps, uint64_t seed, unsigned subsets) {
    char path[256];
    th_path(path, sizeof path, "pl");
    struct rec r = {0};
    r.ps = ps;
    struct q_pager_io io = {r_pread, r_pwrite, r_sync, r_truncate, r_remap, &r};
    quire_pager *pg;
    quire_pheap *h;
    nstates = 0;
    CHECK_OK(q_pager_create_ex(path, ps, &io, &pg));
    uint64_t first_sync = r.syncs;
    CHECK_OK(q_pheap_open_pager(pg, PH_OPEN_CREATE, &h));
    note_state(h, &r);
    uint64_t s = seed;
    quire_pref live[200];
    size_t nlive = 0;
    for (int step = 0; step < steps; step++) {
        /* a transaction whose live set may change: keep a copy for rollback */
        quire_pref save[200];
        size_t nsave = nlive;
        memcpy(save, live, nlive * sizeof *live);
        txn(h, &s, live, &nlive, 200);
        if (th_rand(&s) % 8 == 0) {
            CHECK_OK(quire_pheap_abort(h));
            nlive = nsave;
            memcpy(live, save, nlive * sizeof *live);
        } else {
            CHECK_OK(quire_pheap_commit(h));
            note_state(h, &r);
        }
    }
    CHECK_OK(quire_pheap_close(h));
    unlink(path);
    enumerate(&r, first_sync, &s, subsets);
    for (size_t i = 0; i < r.n; i++) free(r.ev[i].data);
    free(r.ev);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    unsigned subsets = argc > 2 ? (unsigned)atoi(argv[2]) : 24;
    th_path(img_path, sizeof img_path, "plimg");
    workload(1024, steps, 11, subsets);
    workload(4096, steps, 12, subsets);
    unlink(img_path);
    printf("power-loss images: %llu tried, %llu consistent (%llu needed undo-log recovery)\n",
           (unsigned long long)tried, (unsigned long long)consistent,
           (unsigned long long)recovered_logs);
    free(states);
    return check_done();
}
