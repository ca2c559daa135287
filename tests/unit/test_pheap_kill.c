/*
 * tests/unit/test_pheap_kill.c - SIGKILL at random instants of a running heap workload.
 *
 * A child opens the heap file and runs transactions forever: allocations (filled with stamped
 * bytes) whose references it records in the root object, declared writes to older objects (so
 * commits shadow the pages they change), frees, reallocs and named objects. Before each commit it
 * sends the parent the digest of the state the commit will make durable ("intent"), after it a
 * "done" message (messages are smaller than PIPE_BUF: a SIGKILL cannot tear them). The parent
 * kills the child after a random delay and opens the file (for writing, or every other time
 * read-only; either open recovers a crashed commit): the heap must equal the last done commit or
 * the one in flight, exactly (tests/unit/test_pheap_util.h digest: every allocation's offset, size
 * and bytes, root, names), and quire_pheap_check() must pass with no problem. The next child
 * continues on the same file. Every other child runs in QUIRE_PHEAP_NOSYNC mode. QUIRE_PHEAP_KILLS
 * sets the number of kills (default 300). A read-only heap stays attached throughout: its
 * snapshot must read the same after every kill; every fourth kill it refreshes to the recovered
 * state. Prints "kills: N, N recovered".
 */
#include "check.h"
#include "test_pheap_util.h"

#define MAXOBJ 200

struct table {
    uint64_t n;
    quire_pref refs[MAXOBJ];
};

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int e_ = (call);                                                                           \
        if (e_) {                                                                                  \
            fprintf(stderr, "child: %s: %s\n", #call, quire_strerror(e_));                         \
            _exit(5);                                                                              \
        }                                                                                          \
    } while (0)

static void child(const char *path, int out, uint64_t seed) {
    quire_pheap *h;
    int rc;
    while ((rc = quire_pheap_open(path, 0, 0, &h)) == QUIRE_EBUSY) usleep(100);
    if (rc) _exit(2);
    /* every other child commits without flushing (a kill loses nothing the kernel has) */
    if ((seed & 1) && quire_pheap_set_durability(h, QUIRE_PHEAP_NOSYNC)) _exit(2);
    quire_pref root;
    TRY(quire_pheap_root(h, &root));
    if (!root.off) {
        TRY(quire_pheap_zalloc(h, sizeof(struct table), &root));
        TRY(quire_pheap_set_root(h, root));
        uint64_t d = th_digest(h, NULL);
        ch_send(out, CH_INTENT, 0, d, 0);
        TRY(quire_pheap_commit(h));
        ch_send(out, CH_DONE, 0, d, 0);
    }
    uint64_t s = seed;
    for (uint64_t seq = 0;; seq++) {
        int ops = 1 + (int)(ch_rand(&s) % 5);
        for (int o = 0; o < ops; o++) {
            const struct table *t = quire_pheap_ptr(h, root);
            uint64_t n = t->n, what = ch_rand(&s) % 8;
            if (what <= 2 && n < MAXOBJ) {
                size_t sz = ch_rand(&s) % 10 ? 1 + ch_rand(&s) % 500 : 1 + ch_rand(&s) % 20000;
                quire_pref x;
                void *p;
                TRY(quire_pheap_alloc(h, sz, &x));
                TRY(quire_pheap_write(h, x, 0, sz, &p));
                ch_fill(p, sz, ch_rand(&s));
                TRY(quire_pheap_set(h, root, 8 + n * 8, &x, 8));
                n++;
                TRY(quire_pheap_set(h, root, 0, &n, 8));
            } else if (what <= 4 && n) {
                quire_pref x = t->refs[ch_rand(&s) % n];
                size_t us;
                void *p;
                TRY(quire_pheap_usable_size(h, x, &us));
                size_t a = ch_rand(&s) % us, len = 1 + ch_rand(&s) % (us - a);
                TRY(quire_pheap_write(h, x, a, len, &p));
                ch_fill(p, len, ch_rand(&s));
            } else if (what == 5 && n) {
                uint64_t k = ch_rand(&s) % n;
                quire_pref x = t->refs[k], last = t->refs[n - 1];
                TRY(quire_pheap_free(h, x));
                TRY(quire_pheap_set(h, root, 8 + k * 8, &last, 8));
                n--;
                TRY(quire_pheap_set(h, root, 0, &n, 8));
            } else if (what == 6 && n) {
                uint64_t k = ch_rand(&s) % n;
                quire_pref x = t->refs[k];
                TRY(quire_pheap_realloc(h, &x, 1 + ch_rand(&s) % 3000));
                TRY(quire_pheap_set(h, root, 8 + k * 8, &x, 8));
            } else if (what == 7) {
                char nm[16];
                quire_pref x;
                snprintf(nm, sizeof nm, "k%u", (unsigned)(ch_rand(&s) % 20));
                TRY(quire_pheap_named(h, nm, 16, &x, NULL));
                uint64_t v = ch_rand(&s);
                TRY(quire_pheap_set(h, x, 0, &v, 8));
            }
        }
        uint64_t d = th_digest(h, NULL);
        ch_send(out, CH_INTENT, seq, d, 0);
        TRY(quire_pheap_commit(h));
        ch_send(out, CH_DONE, seq, d, 0);
    }
}

/* What the parent knows after a kill: the last done commit and the one in flight. */
struct known {
    uint64_t done, intent, commits;
    int have_intent;
};

static void on_msg(void *ctx, const struct ch_msg *m) {
    struct known *kn = ctx;
    if (m->kind == CH_INTENT) {
        kn->intent = m->digest;
        kn->have_intent = 1;
    } else {
        kn->done = m->digest;
        kn->have_intent = 0;
        kn->commits++;
    }
}

int main(void) {
    const char *env = getenv("QUIRE_PHEAP_KILLS");
    long kills = env ? atol(env) : 300;
    char path[256];
    ch_path(path, sizeof path, "pheap-kill");
    quire_pheap *h;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 1024, &h));
    struct known kn = {0};
    kn.done = th_digest(h, NULL);
    CHECK_OK(quire_pheap_close(h));
    uint64_t seed = ch_seed();
    printf("seed %llu\n", (unsigned long long)seed);
    long recovered = 0, k;
    uint64_t in_flight_won = 0, rolled_back = 0, refreshes = 0;
    /* A read-only heap stays attached through the kills: its snapshot never changes while the
     * children commit and die, and every fourth kill it refreshes to the recovered state. */
    quire_pheap *rd;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &rd));
    uint64_t rd_digest = th_digest(rd, NULL);
    for (k = 0; k < kills; k++) {
        kn.have_intent = 0;
        uint64_t delay = ch_rand(&seed) % 15000;
        ch_kill_once(child, path, seed + (uint64_t)k * 7919, delay, on_msg, &kn);
        struct quire_pheap_report pre;
        memset(&pre, 0, sizeof pre);
        CHECK_OK(quire_pheap_check(path, &pre)); /* sound before any writer opens it again */
        rolled_back += (uint64_t)pre.pager.rolled_back;
        /* every other time a reader comes first */
        int rc = quire_pheap_open(path, k % 2 ? QUIRE_PHEAP_RDONLY : 0, 0, &h);
        CHECK_OK(rc);
        if (rc) break;
        uint64_t d = th_digest(h, NULL);
        CHECK_OK(quire_pheap_close(h));
        int ok = d == kn.done || (kn.have_intent && d == kn.intent);
        CHECK(ok);
        if (!ok)
            fprintf(stderr,
                    "  kill %ld: state matches neither the last commit nor the one in flight"
                    " (%s intent)\n",
                    k, kn.have_intent ? "with" : "without");
        if (ok && d != kn.done) in_flight_won++;
        kn.done = d; /* go on from what the file holds (one failure is reported once) */
        struct quire_pheap_report rep;
        memset(&rep, 0, sizeof rep);
        int crc = quire_pheap_check(path, &rep);
        CHECK_OK(crc);
        CHECK_EQ(rep.problems, 0);
        recovered += ok && !crc;
        CHECK_EQ(th_digest(rd, NULL), rd_digest); /* the reader's snapshot held */
        if (k % 4 == 3) {
            CHECK(quire_pheap_refresh(rd) >= 0);
            rd_digest = th_digest(rd, NULL);
            CHECK_EQ(rd_digest, d);
            refreshes++;
        }
    }
    CHECK_OK(quire_pheap_close(rd));
    ch_unlink(path);
    printf("kills: %ld, %ld recovered (%llu commits done, %llu in-flight commits survived, %llu "
           "opens fell back a slot); a reader attached throughout, refreshed %llu times\n",
           k, recovered, (unsigned long long)kn.commits, (unsigned long long)in_flight_won,
           (unsigned long long)rolled_back, (unsigned long long)refreshes);
    return check_done();
}
