/*
 * tests/unit/test_pager_powerloss.c - the power-loss harness.
 *
 * A workload runs on a pager whose I/O layer (crash_harness.h) records every write (split into
 * pages), every size change and every sync. For each sync point k, the images a power loss just
 * before sync k completes could leave are built: everything written before sync k - 1, plus any
 * subset of what was written since (every subset when there are at most 6 events, else 64 random
 * ones, always including none and all), and for each non-empty subset a variant where one of the
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

static struct ch_states states;
static uint64_t tried, consistent;
static char img_path[256];

static void note_state(quire_pager *p, const struct ch_rec *r) {
    int err;
    ch_states_note(&states, tp_digest(p, &err), r->syncs);
    CHECK_EQ(err, 0);
}

static void check_image(void *ctx, const struct ch_img *m, uint64_t durable_syncs) {
    (void)ctx;
    ch_img_write(img_path, m);
    tried++;
    quire_pager *p;
    int rc = quire_pager_open(img_path, QUIRE_PAGER_RDONLY, 0, &p);
    CHECK_OK(rc);
    if (rc) return;
    int err;
    uint64_t d = tp_digest(p, &err);
    quire_pager_close(p);
    CHECK_EQ(err, 0);
    size_t j;
    int ok = ch_states_match(&states, durable_syncs, d, &j);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  image at sync %llu: state %zu (of %zu) expected\n",
                (unsigned long long)durable_syncs, j, states.n);
    struct quire_pager_report r = {0};
    rc = quire_pager_check(img_path, &r);
    CHECK_OK(rc);
    if (ok && !rc && !err) consistent++;
}

/* The workload: transactions of allocs (stamped), frees, protected writes, sub-page slots,
 * plus autocommitting calls, bulk calls and a grow. */
static void workload(uint32_t ps, int steps, uint64_t seed) {
    char path[256];
    ch_path(path, sizeof path, "pager-pl");
    struct ch_rec r;
    struct q_pager_io io = ch_rec_io(&r, ps);
    quire_pager *p;
    states.n = 0;
    CHECK_OK(q_pager_create_io(path, ps, &io, &p));
    uint64_t first_sync = r.syncs;
    note_state(p, &r);
    uint64_t s = seed;
    uint64_t pages[512], npages = 0, prot[64], nprot = 0, subs[256], nsubs = 0;
    for (int step = 0; step < steps; step++) {
        uint64_t gen0 = tp_generation(p);
        int kind = (int)(ch_rand(&s) % 10);
        if (kind < 6) {
            CHECK_OK(quire_pager_begin(p));
            int ops = 1 + (int)(ch_rand(&s) % 5);
            for (int o = 0; o < ops; o++) {
                int what = (int)(ch_rand(&s) % 8);
                if (what <= 1 && npages < 512) {
                    uint64_t id;
                    void *d;
                    CHECK_OK(quire_pager_alloc(p, &id));
                    CHECK_OK(quire_pager_get_write(p, id, &d));
                    ch_fill(d, ps, ch_rand(&s));
                    pages[npages++] = id;
                } else if (what == 2 && npages) {
                    uint64_t k = ch_rand(&s) % npages;
                    CHECK_OK(quire_pager_free(p, pages[k]));
                    pages[k] = pages[--npages];
                } else if (what == 3 && nprot < 64) {
                    CHECK_OK(quire_pager_protected_alloc(p, &prot[nprot]));
                    nprot++;
                } else if (what == 4 && nprot) {
                    quire_pager_writer *w;
                    uint64_t k = ch_rand(&s) % nprot;
                    CHECK_OK(quire_pager_protected_write(p, prot[k], &w));
                    if (ch_rand(&s) % 4 == 0) {
                        quire_pager_writer_drop(w);
                    } else {
                        ch_fill(quire_pager_writer_data(w), ps / 2, ch_rand(&s));
                        CHECK_OK(quire_pager_writer_commit(w));
                    }
                } else if (what == 5 && nsubs < 256) {
                    void *d;
                    size_t sz;
                    CHECK_OK(
                        quire_pager_subpage_alloc(p, 1 + ch_rand(&s) % (ps / 2), &subs[nsubs]));
                    CHECK_OK(quire_pager_subpage_get_write(p, subs[nsubs], &d, &sz));
                    ch_fill(d, sz, ch_rand(&s));
                    nsubs++;
                } else if (what == 6 && nsubs) {
                    uint64_t k = ch_rand(&s) % nsubs;
                    CHECK_OK(quire_pager_subpage_free(p, subs[k]));
                    subs[k] = subs[--nsubs];
                } else if (what == 7 && nprot > 4) {
                    uint64_t k = ch_rand(&s) % nprot;
                    CHECK_OK(quire_pager_protected_free(p, prot[k]));
                    prot[k] = prot[--nprot];
                }
            }
            CHECK_OK(quire_pager_commit(p));
        } else if (kind == 6 && npages < 400) {
            /* autocommitting bulk alloc, contents flushed separately */
            uint64_t ids[40];
            size_t n = 1 + ch_rand(&s) % 40;
            CHECK_OK(quire_pager_alloc_bulk(p, n, ids));
            for (size_t i = 0; i < n; i++) pages[npages++] = ids[i];
        } else if (kind == 7 && npages > 20) {
            uint64_t ids[10];
            size_t n = 1 + ch_rand(&s) % 10;
            for (size_t i = 0; i < n; i++) ids[i] = pages[npages - 1 - i];
            CHECK_OK(quire_pager_free_bulk(p, n, ids));
            npages -= n;
        } else if (kind == 8 && nprot) {
            quire_pager_writer *w; /* autocommitting protected write */
            CHECK_OK(quire_pager_protected_write(p, prot[0], &w));
            ch_fill(quire_pager_writer_data(w), ps, ch_rand(&s));
            CHECK_OK(quire_pager_writer_commit(w));
        } else if (kind == 9 && step % 7 == 0) {
            CHECK_OK(quire_pager_grow(p, quire_pager_page_count(p) + 64));
        }
        if (tp_generation(p) != gen0) note_state(p, &r);
    }
    quire_pager_close(p);
    unlink(path);
    ch_enumerate(&r, first_sync, &s, 6, 64, check_image, NULL);
    ch_rec_free(&r);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 140;
    ch_path(img_path, sizeof img_path, "pager-plimg");
    workload(1024, steps, 1);
    workload(4096, steps, 2);
    workload(2048, steps / 2, 3);
    unlink(img_path);
    printf("power-loss images: %llu tried, %llu consistent\n", (unsigned long long)tried,
           (unsigned long long)consistent);
    free(states.v);
    return check_done();
}
