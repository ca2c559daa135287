/*
 * tests/unit/test_pager_powerloss.c - the power-loss harness.
 *
 * A workload runs on a pager whose I/O layer (struct q_pager_io) records every write (split into
 * pages), every size change and every sync. For each sync point k, the images a power loss just
 * before sync k completes could leave are built: everything written before sync k - 1, plus any
 * subset of what was written since (every subset when there are at most 64, else 64 random ones,
 * always including none and all), and for each non-empty subset a variant where one of the
 * included writes is torn (half old bytes, half new). Each image is opened read-only; its digest
 * (tests/unit/test_pager_util.h: every page, protected page and slot with its contents) must
 * equal the state of the last commit that completed before sync k - 1 or, for the commit in
 * flight, the state after it; nothing else. quire_pager_check() must pass on every image.
 * Prints "power-loss images: N tried, N consistent".
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "test_pager_util.h"

enum { EV_WRITE, EV_TRUNC, EV_SYNC };

struct ev {
    int kind;
    uint64_t off, len; /* EV_TRUNC: len is the new size */
    uint8_t *data;
};

struct rec {
    struct ev *ev;
    size_t n, cap;
    uint64_t syncs;
};

static void rec_push(struct rec *r, struct ev e) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
    }
    r->ev[r->n++] = e;
}

static uint32_t rec_page_size = 1024;

static int r_pread(void *c, int fd, void *b, size_t n, uint64_t o) {
    (void)c;
    return q_pager_default_io.pread(NULL, fd, b, n, o);
}
static int r_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o) {
    struct rec *r = c;
    /* split at page boundaries: each page may reach the disk or not, independently */
    const uint8_t *src = b;
    for (uint64_t pos = o; pos < o + n;) {
        uint64_t end = (pos / rec_page_size + 1) * rec_page_size;
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
    struct ev e = {EV_SYNC, 0, 0, NULL};
    rec_push(r, e);
    r->syncs++;
    return q_pager_default_io.sync(NULL, fd);
}
static int r_truncate(void *c, int fd, uint64_t sz) {
    struct rec *r = c;
    struct ev e = {EV_TRUNC, 0, sz, NULL};
    rec_push(r, e);
    return q_pager_default_io.truncate(NULL, fd, sz);
}
static int r_remap(void *c, void *o, size_t os, size_t ns, void **out) {
    (void)c;
    return q_pager_default_io.remap(NULL, o, os, ns, out);
}

/* A file image in memory. */
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

/* Applies event e; torn: 0 whole, 1 first half only, 2 second half only. */
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

static void note_state(quire_pager *p, struct rec *r) {
    int err;
    if (nstates == capstates) {
        capstates = capstates ? capstates * 2 : 256;
        states = realloc(states, capstates * sizeof *states);
    }
    states[nstates].digest = tp_digest(p, &err);
    states[nstates].syncs = r->syncs;
    CHECK_EQ(err, 0);
    nstates++;
}

static uint64_t tried, consistent;
static char img_path[256];

static void check_image(const struct img *m, uint64_t durable_syncs) {
    int fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, m->b, m->size) == (ssize_t)m->size);
    close(fd);
    tried++;
    /* The last state whose commit completed at or before durable_syncs, and the next one. */
    size_t j = 0;
    while (j + 1 < nstates && states[j + 1].syncs <= durable_syncs) j++;
    quire_pager *p;
    int rc = quire_pager_open(img_path, QUIRE_PAGER_RDONLY, 0, &p);
    CHECK_OK(rc);
    if (rc) return;
    int err;
    uint64_t d = tp_digest(p, &err);
    quire_pager_close(p);
    CHECK_EQ(err, 0);
    int ok = d == states[j].digest || (j + 1 < nstates && d == states[j + 1].digest);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  image at sync %llu: state %zu (of %zu) expected\n",
                (unsigned long long)durable_syncs, j, nstates);
    struct quire_pager_report r = {0};
    rc = quire_pager_check(img_path, &r);
    CHECK_OK(rc);
    if (ok && !rc && !err) consistent++;
}

/* Builds and checks every crash image of the recorded workload. */
static void enumerate(struct rec *r, uint64_t first_sync, uint64_t *seed) {
    struct img base = {0}, m = {0};
    size_t i = 0;
    uint64_t sync_no = 0;
    while (i < r->n) {
        /* events up to the next sync: the interval */
        size_t s = i;
        while (s < r->n && r->ev[s].kind != EV_SYNC) s++;
        size_t n = s - i;
        if (sync_no >= first_sync) {
            uint64_t total = n <= 6 ? (UINT64_C(1) << n) : 64;
            uint8_t *take = malloc(n + 1);
            for (uint64_t k = 0; k < total; k++) {
                size_t ntake = 0;
                for (size_t e = 0; e < n; e++) {
                    if (n <= 6)
                        take[e] = (uint8_t)(k >> e & 1);
                    else
                        take[e] = k == 0 ? 0 : k == 1 ? 1 : (uint8_t)(tp_rand(seed) & 1);
                    ntake += take[e] && r->ev[i + e].kind == EV_WRITE;
                }
                for (int torn_variant = 0; torn_variant < 2; torn_variant++) {
                    size_t tear = SIZE_MAX;
                    if (torn_variant) {
                        if (!ntake) continue;
                        size_t pick = tp_rand(seed) % ntake;
                        for (size_t e = 0; e < n && tear == SIZE_MAX; e++)
                            if (take[e] && r->ev[i + e].kind == EV_WRITE && pick-- == 0) tear = e;
                    }
                    img_size(&m, 0);
                    img_size(&m, base.size);
                    memcpy(m.b, base.b, base.size);
                    for (size_t e = 0; e < n; e++)
                        if (take[e])
                            img_apply(&m, &r->ev[i + e],
                                      e == tear ? 1 + (int)(tp_rand(seed) & 1) : 0);
                    check_image(&m, sync_no);
                }
            }
            free(take);
        }
        for (size_t e = i; e < s; e++) img_apply(&base, &r->ev[e], 0);
        if (s < r->n) sync_no++;
        i = s + 1;
    }
    /* after the last sync: the final state, exactly */
    check_image(&base, sync_no);
    free(base.b);
    free(m.b);
}

/* The workload: transactions of allocs (stamped), frees, protected writes, sub-page slots,
 * plus autocommitting calls, bulk calls and a grow. */
static void workload(uint32_t ps, int steps, uint64_t seed) {
    char path[256];
    tp_path(path, sizeof path, "pl");
    struct rec r = {0};
    rec_page_size = ps;
    struct q_pager_io io = {r_pread, r_pwrite, r_sync, r_truncate, r_remap, &r};
    quire_pager *p;
    nstates = 0;
    CHECK_OK(q_pager_create_ex(path, ps, &io, &p));
    uint64_t first_sync = r.syncs;
    note_state(p, &r);
    uint64_t s = seed;
    uint64_t pages[512], npages = 0, prot[64], nprot = 0, subs[256], nsubs = 0;
    for (int step = 0; step < steps; step++) {
        uint64_t gen0 = p->gen;
        int kind = (int)(tp_rand(&s) % 10);
        if (kind < 6) {
            CHECK_OK(quire_pager_begin(p));
            int ops = 1 + (int)(tp_rand(&s) % 5);
            for (int o = 0; o < ops; o++) {
                int what = (int)(tp_rand(&s) % 8);
                if (what <= 1 && npages < 512) {
                    uint64_t id;
                    void *d;
                    CHECK_OK(quire_pager_alloc(p, &id));
                    CHECK_OK(quire_pager_get_write(p, id, &d));
                    tp_fill(d, ps, tp_rand(&s));
                    pages[npages++] = id;
                } else if (what == 2 && npages) {
                    uint64_t k = tp_rand(&s) % npages;
                    CHECK_OK(quire_pager_free(p, pages[k]));
                    pages[k] = pages[--npages];
                } else if (what == 3 && nprot < 64) {
                    CHECK_OK(quire_pager_protected_alloc(p, &prot[nprot]));
                    nprot++;
                } else if (what == 4 && nprot) {
                    quire_pager_writer *w;
                    uint64_t k = tp_rand(&s) % nprot;
                    CHECK_OK(quire_pager_protected_write(p, prot[k], &w));
                    if (tp_rand(&s) % 4 == 0) {
                        quire_pager_writer_drop(w);
                    } else {
                        tp_fill(quire_pager_writer_data(w), ps / 2, tp_rand(&s));
                        CHECK_OK(quire_pager_writer_commit(w));
                    }
                } else if (what == 5 && nsubs < 256) {
                    void *d;
                    size_t sz;
                    CHECK_OK(
                        quire_pager_subpage_alloc(p, 1 + tp_rand(&s) % (ps / 2), &subs[nsubs]));
                    CHECK_OK(quire_pager_subpage_get_write(p, subs[nsubs], &d, &sz));
                    tp_fill(d, sz, tp_rand(&s));
                    nsubs++;
                } else if (what == 6 && nsubs) {
                    uint64_t k = tp_rand(&s) % nsubs;
                    CHECK_OK(quire_pager_subpage_free(p, subs[k]));
                    subs[k] = subs[--nsubs];
                } else if (what == 7 && nprot > 4) {
                    uint64_t k = tp_rand(&s) % nprot;
                    CHECK_OK(quire_pager_protected_free(p, prot[k]));
                    prot[k] = prot[--nprot];
                }
            }
            CHECK_OK(quire_pager_commit(p));
        } else if (kind == 6 && npages < 400) {
            /* autocommitting bulk alloc, contents flushed separately */
            uint64_t ids[40];
            size_t n = 1 + tp_rand(&s) % 40;
            CHECK_OK(quire_pager_alloc_bulk(p, n, ids));
            for (size_t i = 0; i < n; i++) pages[npages++] = ids[i];
        } else if (kind == 7 && npages > 20) {
            uint64_t ids[10];
            size_t n = 1 + tp_rand(&s) % 10;
            for (size_t i = 0; i < n; i++) ids[i] = pages[npages - 1 - i];
            CHECK_OK(quire_pager_free_bulk(p, n, ids));
            npages -= n;
        } else if (kind == 8 && nprot) {
            quire_pager_writer *w; /* autocommitting protected write */
            CHECK_OK(quire_pager_protected_write(p, prot[0], &w));
            tp_fill(quire_pager_writer_data(w), ps, tp_rand(&s));
            CHECK_OK(quire_pager_writer_commit(w));
        } else if (kind == 9 && step % 7 == 0) {
            CHECK_OK(quire_pager_grow(p, quire_pager_page_count(p) + 64));
        }
        if (p->gen != gen0) note_state(p, &r);
    }
    quire_pager_close(p);
    unlink(path);
    enumerate(&r, first_sync, &s);
    for (size_t i = 0; i < r.n; i++) free(r.ev[i].data);
    free(r.ev);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 140;
    tp_path(img_path, sizeof img_path, "plimg");
    workload(1024, steps, 1);
    workload(4096, steps, 2);
    workload(2048, steps / 2, 3);
    unlink(img_path);
    printf("power-loss images: %llu tried, %llu consistent\n", (unsigned long long)tried,
           (unsigned long long)consistent);
    free(states);
    return check_done();
}
