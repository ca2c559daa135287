/*
 * tests/unit/test_pager_powerloss.c - the power-loss harness.
 *
 * A workload runs on a pager whose I/O layer (crash_harness.h) records every write (split into
 * 512-byte sectors), every size change and every sync. For each sync point k, the images a
 * power loss just before sync k completes could leave are built: everything written before sync
 * k - 1, plus any subset of the sectors written since (every subset when there are at most 6,
 * else 64 random ones - always none and all - and, for each sector, all but it and it alone).
 * Each image is opened read-only; its digest (tests/unit/test_pager_util.h: every page,
 * protected page and slot with its contents) must equal the state of the last commit durable by
 * sync k - 1 or a later one whose writes had started (the commit in flight; in
 * QUIRE_PAGER_NOSYNC mode any commit since the last sync); nothing else. quire_pager_check() must
 * pass on every image.
 *
 * The workload rewrites pages earlier commits hold (shadows, copy-back), writes protected pages
 * and sub-page slots, frees, grows, and makes one fdatasync per commit, which the test counts.
 * It runs in both durability modes (NOSYNC with quire_pager_sync() now and then), and in both
 * again with a read-only handle attached that refreshes now and then (the writer then holds
 * back pages and shadows for its snapshot; the snapshot must read the same between refreshes).
 *
 * Negative controls: the same workload with each rule of the commit chain broken on purpose
 * (pager/testing.h, q_pager_test_fault) - metadata over the anchor's copy, committed pages
 * rewritten in place, the superblock over the anchor's slot, open trusting the newest slot
 * without verifying what it wrote - must produce images the harness rejects: a harness that
 * cannot fail proves nothing.
 * Prints "power-loss images: N tried, N consistent" and a line per control.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "pager/testing.h"
#include "test_pager_util.h"

static struct ch_states states;
static uint64_t tried, consistent, bad; /* bad: images the rule rejects (controls) */
static int control;                     /* a negative control runs: count, do not fail */
static char img_path[256];

static void note_state(quire_pager *p, const struct ch_rec *r, int nosync) {
    int err;
    ch_states_note(&states, tp_digest(p, &err), r->syncs + (nosync ? 1 : 0));
    CHECK_EQ(err, 0);
}

static void check_image(void *ctx, const struct ch_img *m, uint64_t durable_syncs) {
    (void)ctx;
    ch_img_write(img_path, m);
    tried++;
    quire_pager *p;
    int rc = quire_pager_open(img_path, QUIRE_PAGER_RDONLY, 0, &p);
    if (!control) CHECK_OK(rc);
    if (rc) {
        bad++;
        return;
    }
    int err;
    uint64_t d = tp_digest(p, &err);
    quire_pager_close(p);
    size_t j = 0;
    int ok = !err && ch_states_match(&states, durable_syncs, d, &j);
    struct quire_pager_report r = {0};
    rc = quire_pager_check(img_path, &r);
    if (!control) {
        CHECK_EQ(err, 0);
        CHECK(ok);
        CHECK_OK(rc);
        if (!ok) {
            size_t got = states.n;
            for (size_t i = 0; i < states.n; i++)
                if (states.v[i].digest == d) got = i;
            fprintf(stderr, "  image at sync %llu: state %zu (of %zu) expected, found %zu\n",
                    (unsigned long long)durable_syncs, j, states.n, got);
        }
    }
    if (ok && !rc)
        consistent++;
    else
        bad++;
}

/* The workload: transactions of allocs (stamped), rewrites of committed pages, frees,
 * protected writes, sub-page slots, plus autocommitting calls, bulk calls and a grow. Returns
 * the fdatasync calls per commit it measured. */
static double workload(uint32_t ps, int steps, uint64_t seed, int nosync, int reader) {
    char path[256];
    ch_path(path, sizeof path, "pager-pl");
    struct ch_rec r;
    struct q_pager_io io = ch_rec_io(&r, ps);
    quire_pager *p;
    states.n = 0;
    CHECK_OK(q_pager_create_io(path, ps, &io, &p));
    if (nosync) CHECK_OK(quire_pager_set_durability(p, QUIRE_PAGER_NOSYNC));
    uint64_t first_sync = r.syncs, commits = 0, syncs0 = r.dsyncs;
    note_state(p, &r, 0);
    /* With reader set, a read-only handle is attached throughout: the writer holds back what its
     * snapshot reads (and what it refreshes away from); its snapshot must read the same from one
     * refresh to the next (every 1 to 12 steps). */
    quire_pager *rd = NULL;
    uint64_t rd_digest = 0, rd_next = 0;
    int rerr = 0;
    if (reader) {
        CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &rd));
        rd_digest = tp_content_digest(rd, &rerr);
    }
    uint64_t s = seed;
    uint64_t pages[512], npages = 0, prot[64], nprot = 0, subs[256], nsubs = 0;
    for (int step = 0; step < steps; step++) {
        uint64_t gen0 = tp_generation(p);
        int kind = (int)(ch_rand(&s) % 11);
        if (kind < 6) {
            CHECK_OK(quire_pager_begin(p));
            int ops = 1 + (int)(ch_rand(&s) % 5);
            for (int o = 0; o < ops; o++) {
                int what = (int)(ch_rand(&s) % 10);
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
                } else if (what == 8 && npages) {
                    /* rewrite part of a page an earlier commit holds: a shadow */
                    uint8_t *d;
                    uint64_t k = ch_rand(&s) % npages;
                    CHECK_OK(quire_pager_get_write(p, pages[k], (void **)&d));
                    size_t at = ch_rand(&s) % ps;
                    ch_fill(d + at, ps - at < 700 ? ps - at : 700, ch_rand(&s));
                } else if (what == 9 && nsubs) {
                    void *d;
                    size_t sz;
                    CHECK_OK(quire_pager_subpage_get_write(p, subs[ch_rand(&s) % nsubs], &d, &sz));
                    ch_fill(d, sz, ch_rand(&s));
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
        } else if (kind == 10 && nosync) {
            CHECK_OK(quire_pager_sync(p));
        }
        if (tp_generation(p) != gen0) {
            note_state(p, &r, nosync);
            commits++;
        }
        if (rd && (uint64_t)step >= rd_next) {
            CHECK_EQ(tp_content_digest(rd, &rerr), rd_digest);
            CHECK_EQ(rerr, 0);
            CHECK(quire_pager_refresh(rd) >= 0);
            rd_digest = tp_content_digest(rd, &rerr);
            CHECK_EQ(tp_generation(rd), tp_generation(p));
            rd_next = (uint64_t)step + 1 + ch_rand(&s) % 12;
        }
    }
    if (rd) quire_pager_close(rd);
    double per_commit = commits ? (double)(r.dsyncs - syncs0) / (double)commits : 0;
    quire_pager_close(p);
    ch_unlink(path);
    ch_enumerate(&r, first_sync, &s, 6, 64, check_image, NULL);
    ch_rec_free(&r);
    return per_commit;
}

/* A run with one rule broken: returns the images the harness rejected. */
static uint64_t run_control(int fault, const char *what, int steps) {
    uint64_t bad0 = bad, tried0 = tried;
    control = 1;
    q_pager_test_fault = fault;
    workload(1024, steps, 41, 0, 0);
    workload(4096, steps, 42, 0, 0);
    q_pager_test_fault = Q_FAULT_NONE;
    control = 0;
    uint64_t caught = bad - bad0;
    printf("negative control (%s): %llu images, %llu rejected\n", what,
           (unsigned long long)(tried - tried0), (unsigned long long)caught);
    CHECK(caught > 0); /* the harness can fail */
    return caught;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 140;
    ch_path(img_path, sizeof img_path, "pager-plimg");
    double spc = workload(1024, steps, 1, 0, 0);
    spc += workload(4096, steps, 2, 0, 0);
    spc += workload(2048, steps / 2, 3, 0, 0);
    printf("durable mode: %.3f fdatasync per commit\n", spc / 3);
    CHECK(spc / 3 <= 1.0 + 1e-9); /* one flush per commit (grows make none of their own) */
    uint64_t t0 = tried, c0 = consistent;
    double nsc = workload(1024, steps, 4, 1, 0);
    nsc += workload(4096, steps, 5, 1, 0);
    printf("nosync mode: %.3f fdatasync per commit, %llu images, %llu consistent\n", nsc / 2,
           (unsigned long long)(tried - t0), (unsigned long long)(consistent - c0));
    CHECK(nsc / 2 < 0.5);
    uint64_t t1 = tried, c1 = consistent; /* a reader attached: every image still consistent */
    workload(1024, steps / 2, 6, 0, 1);
    workload(4096, steps / 2, 7, 1, 1);
    printf("with a reader attached: %llu images, %llu consistent\n",
           (unsigned long long)(tried - t1), (unsigned long long)(consistent - c1));
    uint64_t good_tried = tried, good_consistent = consistent;
    run_control(Q_FAULT_ANCHOR_COPY, "metadata over the anchor's copy", steps / 2);
    run_control(Q_FAULT_IN_PLACE, "committed pages rewritten in place", steps / 2);
    run_control(Q_FAULT_SAME_SLOT, "superblock over the anchor's slot", steps / 2);
    run_control(Q_FAULT_NO_VERIFY, "open without verifying the commit's writes", steps / 2);
    ch_unlink(img_path);
    printf("power-loss images: %llu tried, %llu consistent\n", (unsigned long long)good_tried,
           (unsigned long long)good_consistent);
    free(states.v);
    return check_done();
}
