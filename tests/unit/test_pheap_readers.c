/*
 * tests/unit/test_pheap_readers.c - readers in other processes while a writer commits
 * (quire/pheap.h, "Readers"), with SIGKILL.
 *
 * A writer process commits numbered transactions of tests/unit/readers_workload.h (cells freed,
 * reallocated and rewritten in place, a linked list pushed and trimmed, a sum and checksums
 * kept) for a few seconds. Five reader processes (more than this machine's cores) loop: refresh
 * their snapshot, verify every invariant, check that commit numbers never go back. Every
 * ~50 ms the parent kills a random reader with SIGKILL and starts another (at most 40 kills).
 * Each reader reports its snapshots and violations through a pipe (messages shorter than
 * PIPE_BUF). At the end: no violation, readers took snapshots and saw commits move, the file
 * stayed small (the dead readers' slots were cleaned up, or pages would have been held back), a
 * dead reader's slot is not left behind, and quire_pheap_check passes. Every child is reaped; a
 * child that hangs is ended by alarm().
 */
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "readers_workload.h"

#define NREADERS   5
#define MAX_KILLS  40
#define WRITE_SECS 4

struct report {
    uint32_t snapshots, moved, violations, pad;
    uint64_t last_seq;
    char why[64];
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void writer(const char *path, double secs) {
    alarm(60);
    quire_pheap *h;
    if (quire_pheap_open(path, 0, 0, &h)) _exit(2);
    uint64_t s = 12345;
    double t0 = now_s();
    uint64_t n = 0;
    while (now_s() - t0 < secs) {
        if (rw_txn(h, &s)) _exit(3);
        n++;
    }
    quire_pheap_close(h);
    _exit(n > 0 ? 0 : 4);
}

/* Refreshes and verifies until the writer is done (deadline), reporting every 64 snapshots. */
static void reader(const char *path, int out, double deadline) {
    alarm(60);
    quire_pheap *h;
    if (quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &h)) _exit(2);
    struct report rep;
    memset(&rep, 0, sizeof rep);
    uint64_t last = 0;
    while (now_s() < deadline) {
        int rc = quire_pheap_refresh(h);
        if (rc < 0) _exit(3);
        rep.moved += rc == 1;
        uint64_t seq = 0;
        const char *why = rw_verify(h, &seq);
        if (!why && seq < last) why = "commit numbers went back";
        last = seq;
        rep.snapshots++;
        rep.last_seq = seq;
        if (why) {
            rep.violations++;
            snprintf(rep.why, sizeof rep.why, "%s", why);
        }
        if (why || rep.snapshots % 64 == 0) {
            if (write(out, &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(4);
            memset(&rep, 0, sizeof rep);
        }
    }
    if (write(out, &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(4);
    quire_pheap_close(h);
    _exit(0);
}

int main(void) {
    char path[256];
    ch_path(path, sizeof path, "pheap-readers");
    quire_pheap *h;
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_CREATE, 0, &h));
    CHECK_OK(rw_setup(h));
    CHECK_OK(quire_pheap_close(h));
    int fds[2];
    CHECK(pipe(fds) == 0);
    double deadline = now_s() + WRITE_SECS + 0.5;
    fflush(NULL);
    pid_t wpid = fork();
    if (wpid == 0) {
        close(fds[0]);
        writer(path, WRITE_SECS);
    }
    pid_t rd[NREADERS];
    for (int i = 0; i < NREADERS; i++) {
        rd[i] = fork();
        if (rd[i] == 0) {
            close(fds[0]);
            reader(path, fds[1], deadline);
        }
    }
    /* fds[1] stays open here: replacement readers inherit it */
    struct report total;
    memset(&total, 0, sizeof total);
    uint64_t s = ch_seed(), kills = 0, max_seq = 0;
    double next_kill = now_s() + 0.2;
    int open_readers = NREADERS;
    while (open_readers > 0 || now_s() < deadline) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, 10) > 0) {
            struct report r;
            ssize_t got = read(fds[0], &r, sizeof r);
            if (got == (ssize_t)sizeof r) {
                total.snapshots += r.snapshots;
                total.moved += r.moved;
                total.violations += r.violations;
                if (r.last_seq > max_seq) max_seq = r.last_seq;
                if (r.violations) fprintf(stderr, "reader: %s\n", r.why);
            }
        }
        /* reap readers that finished; kill and replace one now and then */
        for (int i = 0; i < NREADERS; i++) {
            int status;
            if (rd[i] > 0 && waitpid(rd[i], &status, WNOHANG) == rd[i]) {
                if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
                    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                rd[i] = 0;
                open_readers--;
            }
        }
        if (now_s() >= next_kill && kills < MAX_KILLS && now_s() < deadline - 0.5) {
            int i = (int)(ch_rand(&s) % NREADERS);
            if (rd[i] > 0) {
                kill(rd[i], SIGKILL);
                int status;
                waitpid(rd[i], &status, 0);
                kills++;
                fflush(NULL);
                rd[i] = fork();
                if (rd[i] == 0) reader(path, fds[1], deadline);
            }
            next_kill = now_s() + 0.05;
        }
        if (now_s() > deadline + 30) break; /* never hang */
    }
    for (int i = 0; i < NREADERS; i++)
        if (rd[i] > 0) {
            kill(rd[i], SIGKILL);
            waitpid(rd[i], NULL, 0);
        }
    int status;
    CHECK(waitpid(wpid, &status, 0) == wpid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    printf("readers: %u snapshots verified (%u moved to a newer commit), %u violations; %llu "
           "readers killed; last commit seen %llu\n",
           total.snapshots, total.moved, total.violations, (unsigned long long)kills,
           (unsigned long long)max_seq);
    CHECK_EQ(total.violations, 0);
    CHECK(total.snapshots > 100);
    CHECK(total.moved > 10);
    CHECK(kills > 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    printf("file: %.1f MiB after the run\n", (double)st.st_size / 1048576.0);
    CHECK(st.st_size < 64 << 20); /* the dead readers did not hold pages back for long */
    CHECK_OK(quire_pheap_open(path, 0, 0, &h));
    struct quire_pheap_stat hs;
    CHECK_OK(quire_pheap_stat(h, &hs));
    CHECK_EQ(hs.readers, 0); /* the killed readers' slots are gone */
    quire_pheap *rh;         /* a reader, then a commit it holds back */
    CHECK_OK(quire_pheap_open(path, QUIRE_PHEAP_RDONLY, 0, &rh));
    struct quire_pheap_stat hs0;
    CHECK_OK(quire_pheap_stat(h, &hs0));
    CHECK_EQ(hs0.readers, 1);
    uint64_t s2 = 7;
    for (int i = 0; i < 3; i++) CHECK_OK(rw_txn(h, &s2));
    CHECK_OK(quire_pheap_stat(h, &hs));
    CHECK_EQ(hs.readers, 1);
    CHECK_EQ(hs.oldest_snapshot, hs0.oldest_snapshot); /* the reader's, older than 3 commits */
    CHECK(hs.held_pages > 0);
    CHECK_EQ(quire_pheap_refresh(rh), 1);
    CHECK_OK(quire_pheap_stat(rh, &hs0));
    CHECK(hs0.oldest_snapshot > hs.oldest_snapshot);
    CHECK_OK(quire_pheap_close(rh));
    CHECK_OK(quire_pheap_close(h));
    quire_pager *pg;
    CHECK_OK(quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &pg));
    struct quire_pager_stat ps;
    CHECK_OK(quire_pager_stat(pg, &ps));
    CHECK_EQ(ps.readers, 1); /* ours: the killed readers' slots are gone */
    quire_pager_close(pg);
    struct quire_pheap_report rep;
    memset(&rep, 0, sizeof rep);
    CHECK_OK(quire_pheap_check(path, &rep));
    CHECK_EQ(rep.problems, 0);
    ch_unlink(path);
    return check_done();
}
