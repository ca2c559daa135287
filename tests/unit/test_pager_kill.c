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
 * QUIRE_PAGER_KILLS sets the number of kills (default 200; `make crash-long` runs 10,000).
 * Prints "kills: N, N recovered".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "test_pager_util.h"

struct msg {
    uint32_t kind; /* 1 intent, 2 done */
    uint32_t pad;
    uint64_t seq, digest, pages;
};

static void send_msg(int fd, uint32_t kind, uint64_t seq, uint64_t digest, uint64_t pages) {
    struct msg m = {kind, 0, seq, digest, pages};
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(3);
}

/* A committed state as the child reported it. */
struct state {
    uint64_t digest, pages;
};

/* Copies the file at src to dst (for a failure report); 0 on success. */
static int keep_copy(const char *src, const char *dst) {
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = -1;
    if (in >= 0 && out >= 0) {
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n) break;
        rc = n == 0 ? 0 : -1;
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    return rc;
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
        uint64_t d = tp_content_digest(p, &err);
        if (err) {
            fprintf(stderr, "child digest error %d\n", err);
            _exit(6);
        }
        send_msg(out, 1, seq, d, quire_pager_page_count(p));
        if (quire_pager_commit(p)) _exit(7);
        /* The commit may have grown the file (metadata needing pages when none was free): the
         * page count is taken after it. */
        send_msg(out, 2, seq, d, quire_pager_page_count(p));
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
    struct state done = {tp_content_digest(p, &err), quire_pager_page_count(p)};
    quire_pager_close(p);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const uint64_t seed0 = seed;
    printf("seed %llu\n", (unsigned long long)seed);
    long recovered = 0, k;
    uint64_t grew = 0; /* commits that grew the file for their own metadata */
    /* Every state a done commit reported, to tell on a failure which one the file went back to
     * (an older commit: lost work; none: a state no commit made). */
    size_t nhist = 0, cap = 1024;
    struct state *hist = malloc(cap * sizeof *hist);
    CHECK(hist != NULL);
    if (!hist) return check_done();
    hist[nhist++] = done;
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
        struct state intent = {0, 0};
        int have_intent = 0;
        struct msg m;
        while (read(fds[0], &m, sizeof m) == (ssize_t)sizeof m) {
            if (m.kind == 1) {
                intent = (struct state){m.digest, m.pages};
                have_intent = 1;
                continue;
            }
            done = (struct state){m.digest, m.pages};
            grew += have_intent && m.pages != intent.pages;
            have_intent = 0;
            if (nhist == cap) {
                struct state *h = realloc(hist, 2 * cap * sizeof *hist);
                if (!h) abort();
                hist = h;
                cap *= 2;
            }
            hist[nhist++] = done;
        }
        close(fds[0]);
        int rc = quire_pager_open(path, 0, 0, &p);
        CHECK_OK(rc);
        if (rc) break;
        struct state got = {tp_content_digest(p, &err), quire_pager_page_count(p)};
        quire_pager_close(p);
        CHECK_EQ(err, 0);
        int ok = (got.digest == done.digest && got.pages == done.pages) ||
                 (have_intent && got.digest == intent.digest && got.pages >= intent.pages);
        CHECK(ok);
        if (!ok) {
            size_t back = 0;
            while (back < nhist && hist[nhist - 1 - back].digest != got.digest) back++;
            fprintf(stderr,
                    "kill %ld: file %016llx with %llu pages; last done %016llx with %llu pages; "
                    "in flight %s%016llx from %llu pages: ",
                    k, (unsigned long long)got.digest, (unsigned long long)got.pages,
                    (unsigned long long)done.digest, (unsigned long long)done.pages,
                    have_intent ? "" : "(none) ", (unsigned long long)intent.digest,
                    (unsigned long long)intent.pages);
            if (back < nhist)
                fprintf(stderr, "the contents of %zu commits before the last done one\n", back);
            else
                fprintf(stderr, "contents no reported commit had\n");
            char keep[300];
            snprintf(keep, sizeof keep, "/tmp/quire-kill-failure-%llu-%ld.pager",
                     (unsigned long long)seed0, k);
            if (keep_copy(path, keep) == 0) fprintf(stderr, "file kept as %s\n", keep);
        }
        if (ok) done = got; /* an in-flight commit that made it is the new base */
        struct quire_pager_report rep = {0};
        int crc = quire_pager_check(path, &rep);
        CHECK_OK(crc);
        recovered += ok && !crc && !err;
    }
    unlink(path);
    printf("kills: %ld, %ld recovered (%zu commits reported done, %llu of them grew the file)\n", k,
           recovered, nhist - 1, (unsigned long long)grew);
    free(hist);
    return check_done();
}
