/*
 * tests/unit/test_pager_kill.c - process kills at random instants.
 *
 * A child process opens the pager file and runs transactions of random allocations (with stamped
 * contents), frees, protected writes and sub-page slots, forever. Before each commit it sends the
 * parent, through a pipe, the digest of the state the commit will make durable ("intent"), and
 * after the commit returns a "done" message (messages are smaller than PIPE_BUF, so a SIGKILL
 * cannot tear them). The parent kills the child with SIGKILL after a random delay, then opens the
 * file: its digest must be that of the last done commit, or that of the commit in flight; and
 * quire_pager_check() must pass. The next child continues on the same file.
 * QUIRE_PAGER_KILLS sets the number of kills (default 200; `make crash-long` runs 10,000).
 * Prints "kills: N, N recovered".
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "test_pager_util.h"

struct msg {
    uint32_t kind; /* 1 intent, 2 done */
    uint32_t pad;
    uint64_t seq, digest;
};

static void send_msg(int fd, uint32_t kind, uint64_t seq, uint64_t digest) {
    struct msg m = {kind, 0, seq, digest};
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(3);
}

static void child(const char *path, int out, uint64_t seed) {
    quire_pager *p;
    int rc;
    while ((rc = quire_pager_open(path, 0, 0, &p)) == QUIRE_EBUSY) usleep(100);
    if (rc) _exit(2);
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
        int ops = 1 + (int)(tp_rand(&s) % 6);
        for (int o = 0; o < ops; o++) {
            int what = (int)(tp_rand(&s) % 9);
            int e = 0;
            if (what <= 1 && npages < 3000) {
                void *d;
                e = quire_pager_alloc(p, &id);
                if (!e) e = quire_pager_get_write(p, id, &d);
                if (!e) {
                    tp_fill(d, ps, tp_rand(&s));
                    pages[npages++] = id;
                }
            } else if (what == 2 && npages) {
                uint64_t k = tp_rand(&s) % npages;
                e = quire_pager_free(p, pages[k]);
                pages[k] = pages[--npages];
            } else if (what == 3 && nprot < 200) {
                e = quire_pager_protected_alloc(p, &prot[nprot]);
                nprot += !e;
            } else if (what == 4 && nprot) {
                quire_pager_writer *w;
                e = quire_pager_protected_write(p, prot[tp_rand(&s) % nprot], &w);
                if (!e) {
                    tp_fill(quire_pager_writer_data(w), ps, tp_rand(&s));
                    e = quire_pager_writer_commit(w);
                }
            } else if (what == 5 && nsubs < 1000) {
                void *d;
                size_t sz;
                e = quire_pager_subpage_alloc(p, 1 + tp_rand(&s) % (ps / 2), &subs[nsubs]);
                if (!e) e = quire_pager_subpage_get_write(p, subs[nsubs], &d, &sz);
                if (!e) {
                    tp_fill(d, sz, tp_rand(&s));
                    nsubs++;
                }
            } else if (what == 6 && nsubs) {
                uint64_t k = tp_rand(&s) % nsubs;
                e = quire_pager_subpage_free(p, subs[k]);
                subs[k] = subs[--nsubs];
            } else if (what == 7 && nprot > 8) {
                uint64_t k = tp_rand(&s) % nprot;
                e = quire_pager_protected_free(p, prot[k]);
                prot[k] = prot[--nprot];
            } else if (what == 8 && npages < 2900) {
                uint64_t ids[64];
                size_t n = 1 + tp_rand(&s) % 64;
                e = quire_pager_alloc_bulk(p, n, ids);
                for (size_t i = 0; !e && i < n; i++) pages[npages++] = ids[i];
            }
            if (e) _exit(5);
        }
        int err;
        uint64_t d = tp_digest(p, &err);
        if (err) {
            fprintf(stderr, "child digest error %d\n", err);
            _exit(6);
        }
        send_msg(out, 1, seq, d);
        if (quire_pager_commit(p)) _exit(7);
        send_msg(out, 2, seq, d);
    }
}

int main(void) {
    const char *env = getenv("QUIRE_PAGER_KILLS");
    long kills = env ? atol(env) : 200;
    char path[256];
    tp_path(path, sizeof path, "kill");
    quire_pager *p;
    CHECK_OK(quire_pager_create(path, 1024, &p));
    int err;
    uint64_t done_digest = tp_digest(p, &err);
    quire_pager_close(p);
    uint64_t seed = (uint64_t)time(NULL);
    printf("seed %llu\n", (unsigned long long)seed);
    long recovered = 0, k;
    uint64_t commits = 0;
    for (k = 0; k < kills; k++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(path, fds[1], seed + (uint64_t)k * 7919);
            _exit(0);
        }
        close(fds[1]);
        uint64_t delay = tp_rand(&seed) % 12000; /* up to 12 ms */
        usleep((useconds_t)delay);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        if (!WIFSIGNALED(status)) fprintf(stderr, "child exit %d\n", WEXITSTATUS(status));
        uint64_t intent = 0;
        int have_intent = 0;
        struct msg m;
        ssize_t r;
        while ((r = read(fds[0], &m, sizeof m)) == (ssize_t)sizeof m) {
            if (m.kind == 1) {
                intent = m.digest;
                have_intent = 1;
            } else {
                done_digest = m.digest;
                have_intent = 0;
                commits++;
            }
        }
        close(fds[0]);
        int rc = quire_pager_open(path, 0, 0, &p);
        CHECK_OK(rc);
        if (rc) break;
        uint64_t d = tp_digest(p, &err);
        quire_pager_close(p);
        CHECK_EQ(err, 0);
        int ok = d == done_digest || (have_intent && d == intent);
        CHECK(ok);
        if (ok) done_digest = d; /* an in-flight commit that made it is the new base */
        struct quire_pager_report rep = {0};
        int crc = quire_pager_check(path, &rep);
        CHECK_OK(crc);
        recovered += ok && !crc && !err;
    }
    unlink(path);
    printf("kills: %ld, %ld recovered (%llu commits reported done)\n", k, recovered,
           (unsigned long long)commits);
    return check_done();
}
