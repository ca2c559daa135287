/*
 * tests/unit/test_pager_kill.c - process kills at random instants.
 *
 * A child process opens the pager file and runs transactions of random allocations (with stamped
 * contents), frees, protected writes and sub-page slots, forever. Before each commit it sends the
 * parent, through a pipe, the digest of the contents the commit will make durable and the page
 * count before it ("intent"), and after the commit returns a "done" message with the page count
 * the commit left (a commit may grow the file for its own metadata). Messages are smaller than
 * PIPE_BUF, so a SIGKILL cannot tear them. The parent kills the child with SIGKILL after a random
 * delay, then opens the file: it must hold the state of the last done commit (same contents, same
 * page count), or that of the commit in flight (its contents, at least its page count); and
 * quire_pager_check() must pass. The next child continues on the same file. On a mismatch the
 * test says which earlier commit, if any, the file went back to and keeps a copy of the file.
 * Every other child runs in QUIRE_PAGER_NOSYNC mode. A read-only handle stays attached
 * throughout: its snapshot must read the same after every kill, and every fourth kill it
 * refreshes to the recovered state. QUIRE_PAGER_KILLS sets the number of kills
 * (default 200; `make crash-long` runs 10,000).
 * Prints "kills: N, N recovered".
 */
#include "check.h"
#include "pager/testing.h"
#include "test_pager_util.h"

static void child(const char *path, int out, uint64_t seed) {
    quire_pager *p;
    int rc;
    while ((rc = quire_pager_open(path, 0, 0, &p)) == QUIRE_EBUSY) usleep(100);
    if (rc) _exit(2);
    /* every other child commits without flushing (a kill loses nothing the kernel has) */
    if ((seed & 1) && quire_pager_set_durability(p, QUIRE_PAGER_NOSYNC)) _exit(2);
    uint32_t ps = quire_pager_page_size(p);
    /* Learn the current state from the file. */
    uint64_t pages[4096], npages = 0, prot[256], nprot = 0, subs[1024], nsubs = 0, cur = 0, id;
    while (npages < 4096 && quire_pager_next_page(p, &cur, &id) == 1) pages[npages++] = id;
    cur = 0;
    while (nprot < 256 && quire_pager_next_protected(p, &cur, &id) == 1) prot[nprot++] = id;
    cur = 0;
    while (nsubs < 1024 && quire_pager_next_subpage(p, &cur, &id) == 1) subs[nsubs++] = id;
    uint64_t s = seed;
    for (uint64_t seq = 0;; seq++) {
        if (quire_pager_begin(p)) _exit(4);
        int ops = 1 + (int)(ch_rand(&s) % 6);
        for (int o = 0; o < ops; o++) {
            int what = (int)(ch_rand(&s) % 10);
            int e = 0;
            if (what <= 1 && npages < 3000) {
                void *d;
                e = quire_pager_alloc(p, &id);
                if (!e) e = quire_pager_get_write(p, id, &d);
                if (!e) {
                    ch_fill(d, ps, ch_rand(&s));
                    pages[npages++] = id;
                }
            } else if (what == 2 && npages) {
                uint64_t k = ch_rand(&s) % npages;
                e = quire_pager_free(p, pages[k]);
                pages[k] = pages[--npages];
            } else if (what == 3 && nprot < 200) {
                e = quire_pager_protected_alloc(p, &prot[nprot]);
                nprot += !e;
            } else if (what == 4 && nprot) {
                quire_pager_writer *w;
                e = quire_pager_protected_write(p, prot[ch_rand(&s) % nprot], &w);
                if (!e) {
                    ch_fill(quire_pager_writer_data(w), ps, ch_rand(&s));
                    e = quire_pager_writer_commit(w);
                }
            } else if (what == 5 && nsubs < 1000) {
                void *d;
                size_t sz;
                e = quire_pager_subpage_alloc(p, 1 + ch_rand(&s) % (ps / 2), &subs[nsubs]);
                if (!e) e = quire_pager_subpage_get_write(p, subs[nsubs], &d, &sz);
                if (!e) {
                    ch_fill(d, sz, ch_rand(&s));
                    nsubs++;
                }
            } else if (what == 6 && nsubs) {
                uint64_t k = ch_rand(&s) % nsubs;
                e = quire_pager_subpage_free(p, subs[k]);
                subs[k] = subs[--nsubs];
            } else if (what == 7 && nprot > 8) {
                uint64_t k = ch_rand(&s) % nprot;
                e = quire_pager_protected_free(p, prot[k]);
                prot[k] = prot[--nprot];
            } else if (what == 9 && npages) {
                /* rewrite a page an earlier commit holds: it goes to a shadow */
                uint8_t *d;
                e = quire_pager_get_write(p, pages[ch_rand(&s) % npages], (void **)&d);
                if (!e) ch_fill(d + ch_rand(&s) % (ps / 2), ps / 2, ch_rand(&s));
            } else if (what == 8 && npages < 2900) {
                uint64_t ids[64];
                size_t n = 1 + ch_rand(&s) % 64;
                e = quire_pager_alloc_bulk(p, n, ids);
                for (size_t i = 0; !e && i < n; i++) pages[npages++] = ids[i];
            }
            if (e) _exit(5);
        }
        int err;
        uint64_t d = tp_content_digest(p, &err);
        if (err) {
            fprintf(stderr, "child digest error %d\n", err);
            _exit(6);
        }
        ch_send(out, CH_INTENT, seq, d, quire_pager_page_count(p));
        if (quire_pager_commit(p)) _exit(7);
        /* The commit may have grown the file (metadata needing pages when none was free): the
         * page count is taken after it. */
        ch_send(out, CH_DONE, seq, d, quire_pager_page_count(p));
    }
}

/* A committed state as the child reported it: contents digest and page count. */
struct state {
    uint64_t digest, pages;
};

/* What the parent knows after a kill: the last done commit, the one in flight, every done one. */
struct known {
    struct state done, intent;
    int have_intent;
    uint64_t grew; /* commits that grew the file for their own metadata */
    struct state *hist;
    size_t nhist, cap;
};

static void on_msg(void *ctx, const struct ch_msg *m) {
    struct known *kn = ctx;
    struct state st = {m->digest, m->pages};
    if (m->kind == CH_INTENT) {
        kn->intent = st;
        kn->have_intent = 1;
        return;
    }
    kn->grew += kn->have_intent && m->pages != kn->intent.pages;
    kn->done = st;
    kn->have_intent = 0;
    if (kn->nhist == kn->cap) {
        kn->cap = kn->cap ? 2 * kn->cap : 1024;
        kn->hist = ch_xrealloc(kn->hist, kn->cap * sizeof *kn->hist);
    }
    kn->hist[kn->nhist++] = st;
}

int main(void) {
    const char *env = getenv("QUIRE_PAGER_KILLS");
    long kills = env ? atol(env) : 200;
    char path[256];
    ch_path(path, sizeof path, "pager-kill");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, 1024, &p));
    int err;
    struct known kn = {0};
    /* Every state a done commit reported, to tell on a failure which one the file went back to
     * (an older commit: lost work; none: a state no commit made). */
    struct ch_msg first = {CH_DONE, 0, 0, tp_content_digest(p, &err), quire_pager_page_count(p)};
    on_msg(&kn, &first);
    quire_pager_close(p);
    uint64_t seed = ch_seed();
    const uint64_t seed0 = seed;
    printf("seed %llu\n", (unsigned long long)seed);
    long recovered = 0, k;
    /* A reader stays attached through the kills: its snapshot never changes while the children
     * commit and die and the parent reopens the file (a writer beside an older reader), and
     * every fourth kill it refreshes to the recovered state. */
    quire_pager *rd;
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &rd));
    int rerr;
    uint64_t rd_digest = tp_content_digest(rd, &rerr), refreshes = 0;
    CHECK_EQ(rerr, 0);
    for (k = 0; k < kills; k++) {
        uint64_t delay = ch_rand(&seed) % 12000; /* up to 12 ms */
        kn.have_intent = 0;
        ch_kill_once(child, path, seed + (uint64_t)k * 7919, delay, on_msg, &kn);
        int rc = quire_pager_open(path, 0, 0, &p);
        CHECK_OK(rc);
        if (rc) break;
        struct state got = {tp_content_digest(p, &err), quire_pager_page_count(p)};
        quire_pager_close(p);
        CHECK_EQ(err, 0);
        int ok = (got.digest == kn.done.digest && got.pages == kn.done.pages) ||
                 (kn.have_intent && got.digest == kn.intent.digest && got.pages >= kn.intent.pages);
        CHECK(ok);
        if (!ok) {
            size_t back = 0;
            while (back < kn.nhist && kn.hist[kn.nhist - 1 - back].digest != got.digest) back++;
            fprintf(stderr,
                    "kill %ld: file %016llx with %llu pages; last done %016llx with %llu pages; "
                    "in flight %s%016llx from %llu pages: ",
                    k, (unsigned long long)got.digest, (unsigned long long)got.pages,
                    (unsigned long long)kn.done.digest, (unsigned long long)kn.done.pages,
                    kn.have_intent ? "" : "(none) ", (unsigned long long)kn.intent.digest,
                    (unsigned long long)kn.intent.pages);
            if (back < kn.nhist)
                fprintf(stderr, "the contents of %zu commits before the last done one\n", back);
            else
                fprintf(stderr, "contents no reported commit had\n");
            char keep[300];
            snprintf(keep, sizeof keep, "/tmp/quire-kill-failure-%llu-%ld.pager",
                     (unsigned long long)seed0, k);
            if (ch_copy_file(path, keep) == 0) fprintf(stderr, "file kept as %s\n", keep);
        }
        if (ok) kn.done = got; /* an in-flight commit that made it is the new base */
        struct quire_pager_report rep = {0};
        int crc = quire_pager_check(path, &rep);
        CHECK_OK(crc);
        recovered += ok && !crc && !err;
        CHECK_EQ(tp_content_digest(rd, &rerr), rd_digest); /* the reader's snapshot held */
        CHECK_EQ(rerr, 0);
        if (k % 4 == 3) {
            CHECK(quire_pager_refresh(rd) >= 0);
            rd_digest = tp_content_digest(rd, &rerr);
            CHECK_EQ(rerr, 0);
            CHECK_EQ(rd_digest, got.digest);
            refreshes++;
        }
    }
    CHECK(q_pager_validate(rd) == NULL);
    quire_pager_close(rd);
    ch_unlink(path);
    printf("kills: %ld, %ld recovered (%zu commits reported done, %llu of them grew the file); a "
           "reader attached throughout, its snapshot checked after each kill, refreshed %llu "
           "times\n",
           k, recovered, kn.nhist - 1, (unsigned long long)kn.grew, (unsigned long long)refreshes);
    free(kn.hist);
    return check_done();
}
