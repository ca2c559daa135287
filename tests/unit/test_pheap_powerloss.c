/*
 * tests/unit/test_pheap_powerloss.c - the pager's power-loss harness applied to a heap workload.
 *
 * A heap runs on a pager whose I/O layer (crash_harness.h) records every page write, size
 * change and sync. The workload makes transactions of allocations (filled), declared writes to
 * older blocks (their pages shadowed by the pager), frees, reallocs, root and name changes,
 * some rolled back. For each
 * sync point k, the images a power loss just before sync k completes could leave are built:
 * everything written before sync k - 1 plus a subset of the writes since (all subsets when there
 * are at most 5, else 24 random ones, always none and all), and for each a variant with one
 * included write torn (half old, half new bytes). Each image is opened for writing (which
 * recovers a crashed commit); its digest (tests/unit/test_pheap_util.h: every live allocation
 * with its offset, size and bytes, the root, the names) must equal the last commit completed
 * before sync k - 1 or the commit in flight, nothing else; quire_pheap_check() must then pass
 * with no problem. The same in QUIRE_PHEAP_NOSYNC mode (syncing now and then), where an image
 * may hold any commit since the last sync. Prints "power-loss images: N tried, N consistent".
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "test_pheap_util.h"

static struct ch_states states;
static uint64_t tried, consistent, rolled_back;
static char img_path[256];

static void note_state(const quire_pheap *h, const struct ch_rec *r, int nosync) {
    ch_states_note(&states, th_digest(h, NULL), r->syncs + (nosync ? 1 : 0));
}

static void check_image(void *ctx, const struct ch_img *m, uint64_t durable_syncs) {
    (void)ctx;
    ch_img_write(img_path, m);
    tried++;
    struct quire_pheap_report pre;
    memset(&pre, 0, sizeof pre);
    (void)quire_pheap_check(img_path, &pre);
    rolled_back += (uint64_t)pre.pager.rolled_back;
    quire_pheap *h;
    int rc = quire_pheap_open(img_path, QUIRE_PHEAP_CREATE, 0, &h); /* a crashed create too */
    CHECK_OK(rc);
    if (rc) return;
    uint64_t d = th_digest(h, NULL);
    CHECK_OK(quire_pheap_close(h));
    size_t j;
    int ok = ch_states_match(&states, durable_syncs, d, &j);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  image at sync %llu: state %zu (of %zu) expected\n",
                (unsigned long long)durable_syncs, j, states.n);
    struct quire_pheap_report r;
    memset(&r, 0, sizeof r);
    rc = quire_pheap_check(img_path, &r);
    CHECK_OK(rc);
    CHECK_EQ(r.problems, 0);
    if (ok && !rc) consistent++;
}

/* One random transaction on h (live: the workload's allocations). */
static void txn(quire_pheap *h, uint64_t *s, quire_pref *live, size_t *nlive, size_t max) {
    int ops = 1 + (int)(ch_rand(s) % 5);
    for (int o = 0; o < ops; o++) {
        int what = (int)(ch_rand(s) % 10);
        if (what <= 2 && *nlive < max) {
            uint64_t r = ch_rand(s) % 16;
            size_t sz = r < 12 ? 1 + ch_rand(s) % 300 : r < 15 ? 1 + ch_rand(s) % 9000 : 200000;
            quire_pref x;
            void *p;
            CHECK_OK(quire_pheap_alloc(h, sz, &x));
            CHECK_OK(quire_pheap_write(h, x, 0, sz, &p));
            ch_fill(p, sz, ch_rand(s));
            live[(*nlive)++] = x;
        } else if (what <= 5 && *nlive) {
            /* change part of an older block (its pages shadowed) */
            quire_pref x = live[ch_rand(s) % *nlive];
            size_t us, a, len;
            void *p;
            CHECK_OK(quire_pheap_usable_size(h, x, &us));
            a = ch_rand(s) % us;
            len = 1 + ch_rand(s) % (us - a < 3000 ? us - a : 3000);
            CHECK_OK(quire_pheap_write(h, x, a, len, &p));
            ch_fill(p, len, ch_rand(s));
        } else if (what == 6 && *nlive) {
            size_t k = ch_rand(s) % *nlive;
            CHECK_OK(quire_pheap_free(h, live[k]));
            live[k] = live[--*nlive];
        } else if (what == 7 && *nlive) {
            size_t k = ch_rand(s) % *nlive;
            CHECK_OK(quire_pheap_realloc(h, &live[k], 1 + ch_rand(s) % 2000));
        } else if (what == 8 && *nlive) {
            CHECK_OK(quire_pheap_set_root(h, live[ch_rand(s) % *nlive]));
        } else if (what == 9) {
            char nm[16];
            quire_pref x;
            snprintf(nm, sizeof nm, "n%u", (unsigned)(ch_rand(s) % 12));
            if (ch_rand(s) % 3)
                CHECK_OK(quire_pheap_named(h, nm, 1 + ch_rand(s) % 64, &x, NULL));
            else if (quire_pheap_find(h, nm, &x) == 0)
                CHECK_OK(quire_pheap_name_set(h, nm, QUIRE_PREF_NULL));
        }
    }
}

static void workload(uint32_t ps, int steps, uint64_t seed, unsigned subsets, int nosync) {
    char path[256];
    ch_path(path, sizeof path, "pheap-pl");
    struct ch_rec r;
    struct q_pager_io io = ch_rec_io(&r, ps);
    quire_pager *pg;
    quire_pheap *h;
    states.n = 0;
    CHECK_OK(q_pager_create_io(path, ps, &io, &pg));
    uint64_t first_sync = r.syncs;
    CHECK_OK(q_pheap_open_pager(pg, PH_OPEN_CREATE, &h));
    note_state(h, &r, 0);
    if (nosync) CHECK_OK(quire_pheap_set_durability(h, QUIRE_PHEAP_NOSYNC));
    uint64_t s = seed;
    quire_pref live[200];
    size_t nlive = 0;
    for (int step = 0; step < steps; step++) {
        /* a transaction whose live set may change: keep a copy for rollback */
        quire_pref save[200];
        size_t nsave = nlive;
        memcpy(save, live, nlive * sizeof *live);
        txn(h, &s, live, &nlive, 200);
        if (ch_rand(&s) % 8 == 0) {
            CHECK_OK(quire_pheap_abort(h));
            nlive = nsave;
            memcpy(live, save, nlive * sizeof *live);
        } else {
            CHECK_OK(quire_pheap_commit(h));
            note_state(h, &r, nosync);
            if (nosync && ch_rand(&s) % 6 == 0) CHECK_OK(quire_pheap_sync(h));
        }
    }
    CHECK_OK(quire_pheap_close(h));
    ch_unlink(path);
    ch_enumerate(&r, first_sync, &s, 5, subsets, check_image, NULL);
    ch_rec_free(&r);
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 40;
    unsigned subsets = argc > 2 ? (unsigned)atoi(argv[2]) : 24;
    ch_path(img_path, sizeof img_path, "pheap-plimg");
    workload(1024, steps, 11, subsets, 0);
    workload(4096, steps, 12, subsets, 0);
    workload(4096, steps, 13, subsets, 1); /* QUIRE_PHEAP_NOSYNC */
    ch_unlink(img_path);
    printf("power-loss images: %llu tried, %llu consistent (%llu opened at the older slot)\n",
           (unsigned long long)tried, (unsigned long long)consistent,
           (unsigned long long)rolled_back);
    free(states.v);
    return check_done();
}
