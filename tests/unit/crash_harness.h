/*
 * tests/unit/crash_harness.h - what the pager's and the persistent heap's crash tests share.
 *
 *   - scratch paths, a PRNG (splitmix64), stamps and a hash mix for digests;
 *   - the power-loss recorder: an I/O hook (struct q_pager_io, pager/io.h) that logs every
 *     write, split into 512-byte sectors (each sector may reach the disk or not, independently:
 *     torn pages are subsets of their sectors), every size change and every sync, and
 *     ch_enumerate(), which builds the file images a power loss could leave at each sync point
 *     and hands each to the test's check;
 *   - the list of committed states a workload went through, and the rule an image must follow;
 *   - the kill loop: a child process is killed with SIGKILL at a random instant; it reported its
 *     commits through a pipe (messages smaller than PIPE_BUF, so a kill cannot tear them).
 * Header-only (static inline); each test includes it through its own util header.
 */
#ifndef QUIRE_TEST_CRASH_HARNESS_H
#define QUIRE_TEST_CRASH_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "pager/io.h"

/* ---- scratch files, PRNG, stamps ------------------------------------------------------------ */

/* Removes a pager file and its lock file ("FILE-lock", the reader table). */
static inline void ch_unlink(const char *path) {
    char lock[600];
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(path);
    unlink(lock);
}

/* A fresh scratch path on tmpfs where there is one (durability is modelled by the harness, not
 * the disk): quire-TAG-PID-N. */
static inline void ch_path(char *buf, size_t n, const char *tag) {
    static unsigned seq;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, n, "%s/quire-%s-%d-%u", dir, tag, (int)getpid(), seq++);
    unlink(buf);
}

static inline uint64_t ch_rand(uint64_t *s) {
    uint64_t x = (*s += UINT64_C(0x9E3779B97F4A7C15));
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* Fills n bytes with a pattern determined by seed. */
static inline void ch_fill(void *buf, size_t n, uint64_t seed) {
    uint8_t *b = buf;
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = ch_rand(&s);
        memcpy(b + i, &r, n - i < 8 ? n - i : 8);
    }
}

static inline uint64_t ch_mix(uint64_t h, uint64_t v) {
    h ^= v + UINT64_C(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
    return h * UINT64_C(0xff51afd7ed558ccd);
}

static inline void *ch_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "crash harness: out of memory\n");
        abort();
    }
    return q;
}

/* Copies the file at src to dst (to keep a failing file for a report); 0 on success. */
static inline int ch_copy_file(const char *src, const char *dst) {
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

/* ---- the power-loss recorder ---------------------------------------------------------------- */

enum { CH_WRITE, CH_TRUNC, CH_SYNC };

struct ch_ev {
    int kind;
    uint64_t off, len; /* CH_TRUNC: len is the new size */
    uint8_t *data;
};

/* The unit a power loss keeps or loses: a disk sector. */
#define CH_SECTOR 512u

struct ch_rec {
    struct ch_ev *ev;
    size_t n, cap;
    uint64_t syncs;  /* syncs so far */
    uint64_t dsyncs; /* fdatasync calls that went to the file (the test may count per commit) */
    uint32_t ps;     /* page size (kept for the tests) */
};

static inline void ch_rec_push(struct ch_rec *r, struct ch_ev e) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->ev = ch_xrealloc(r->ev, r->cap * sizeof *r->ev);
    }
    r->ev[r->n++] = e;
}

static int ch_r_pread(void *c, int fd, void *b, size_t n, uint64_t o) {
    (void)c;
    return q_pager_default_io.pread(NULL, fd, b, n, o);
}
static int ch_r_pwrite(void *c, int fd, const void *b, size_t n, uint64_t o) {
    struct ch_rec *r = c;
    const uint8_t *src = b;
    for (uint64_t pos = o; pos < o + n;) {
        uint64_t end = (pos / CH_SECTOR + 1) * CH_SECTOR;
        if (end > o + n) end = o + n;
        struct ch_ev e = {CH_WRITE, pos, end - pos, ch_xrealloc(NULL, end - pos)};
        memcpy(e.data, src + (pos - o), end - pos);
        ch_rec_push(r, e);
        pos = end;
    }
    return q_pager_default_io.pwrite(NULL, fd, b, n, o);
}
static int ch_r_sync(void *c, int fd) {
    struct ch_rec *r = c;
    ch_rec_push(r, (struct ch_ev){CH_SYNC, 0, 0, NULL});
    r->syncs++;
    r->dsyncs++;
    return q_pager_default_io.sync(NULL, fd);
}
static int ch_r_truncate(void *c, int fd, uint64_t sz) {
    ch_rec_push(c, (struct ch_ev){CH_TRUNC, 0, sz, NULL});
    return q_pager_default_io.truncate(NULL, fd, sz);
}
static int ch_r_remap(void *c, void *o, size_t os, size_t ns, void **out) {
    (void)c;
    return q_pager_default_io.remap(NULL, o, os, ns, out);
}

/* The recording I/O layer for a pager with page size ps, logging into *r. */
static inline struct q_pager_io ch_rec_io(struct ch_rec *r, uint32_t ps) {
    memset(r, 0, sizeof *r);
    r->ps = ps;
    return (struct q_pager_io){ch_r_pread, ch_r_pwrite, ch_r_sync, ch_r_truncate,
                               ch_r_remap, r,           NULL};
}

static inline void ch_rec_free(struct ch_rec *r) {
    for (size_t i = 0; i < r->n; i++) free(r->ev[i].data);
    free(r->ev);
    memset(r, 0, sizeof *r);
}

/* A file image in memory. */
struct ch_img {
    uint8_t *b;
    uint64_t size, cap;
};

static inline void ch_img_size(struct ch_img *m, uint64_t sz) {
    if (sz > m->cap) {
        m->b = ch_xrealloc(m->b, sz);
        m->cap = sz;
    }
    if (sz > m->size) memset(m->b + m->size, 0, sz - m->size);
    m->size = sz;
}

/* Applies event e (a write of one sector, or a size change). */
static inline void ch_img_apply(struct ch_img *m, const struct ch_ev *e) {
    if (e->kind == CH_TRUNC) {
        ch_img_size(m, e->len);
        return;
    }
    if (e->kind != CH_WRITE) return;
    if (e->off + e->len > m->size) ch_img_size(m, e->off + e->len);
    memcpy(m->b + e->off, e->data, e->len);
}

/* Writes image m to path (replacing it). */
static inline void ch_img_write(const char *path, const struct ch_img *m) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, m->b, m->size) == (ssize_t)m->size);
    close(fd);
}

/* Checks one crash image; durable_syncs: the syncs that completed before the power loss. */
typedef void (*ch_check_fn)(void *ctx, const struct ch_img *m, uint64_t durable_syncs);

/* Every image a power loss could leave: at each sync point from first_sync on, everything
 * written before the previous sync plus a subset of the sectors written since - every subset
 * when there are at most `exhaustive` events, else `sample` random ones (always none and all)
 * and, for each event, the subset that leaves out that one sector only and the one that keeps
 * it only. After the last sync, the final image exactly. Returns the images built. */
static inline uint64_t ch_enumerate(const struct ch_rec *r, uint64_t first_sync, uint64_t *seed,
                                    unsigned exhaustive, unsigned sample, ch_check_fn check,
                                    void *ctx) {
    struct ch_img base = {0}, m = {0};
    size_t i = 0;
    uint64_t sync_no = 0, built = 0;
    while (i < r->n) {
        /* events up to the next sync: the interval */
        size_t s = i;
        while (s < r->n && r->ev[s].kind != CH_SYNC) s++;
        size_t n = s - i;
        if (sync_no >= first_sync) {
            int all = n <= exhaustive;
            uint64_t total = all ? (UINT64_C(1) << n) : sample + 2 * (uint64_t)n;
            uint8_t *take = ch_xrealloc(NULL, n + 1);
            for (uint64_t k = 0; k < total; k++) {
                for (size_t e = 0; e < n; e++) {
                    if (all)
                        take[e] = (uint8_t)(k >> e & 1);
                    else if (k < sample) /* none, all, then random subsets */
                        take[e] = k == 0 ? 0 : k == 1 ? 1 : (uint8_t)(ch_rand(seed) & 1);
                    else if (k < sample + n) /* all but one */
                        take[e] = e != k - sample;
                    else /* one only */
                        take[e] = e == k - sample - n;
                }
                ch_img_size(&m, 0);
                ch_img_size(&m, base.size);
                memcpy(m.b, base.b, base.size);
                for (size_t e = 0; e < n; e++)
                    if (take[e]) ch_img_apply(&m, &r->ev[i + e]);
                check(ctx, &m, sync_no);
                built++;
            }
            free(take);
        }
        for (size_t e = i; e < s; e++) ch_img_apply(&base, &r->ev[e]);
        if (s < r->n) sync_no++;
        i = s + 1;
    }
    check(ctx, &base, sync_no);
    free(base.b);
    free(m.b);
    return built + 1;
}

/* ---- committed states ----------------------------------------------------------------------- */

/* The states a workload committed, in order, each with the sync that makes it durable: the
 * commit's own (QUIRE_PAGER_DURABLE: the syncs made when it returned) or the next one
 * (QUIRE_PAGER_NOSYNC: one more). */
struct ch_states {
    struct ch_state {
        uint64_t digest, durable_at;
    } * v;
    size_t n, cap;
};

static inline void ch_states_note(struct ch_states *s, uint64_t digest, uint64_t durable_at) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = ch_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (struct ch_state){digest, durable_at};
}

/* The rule for an image whose power loss came after durable_syncs syncs: it holds the last state
 * durable by then, or a later one whose writes had started (durable at the next sync at the
 * latest): with one flush per commit, the commit in flight; with commits that do not flush, any
 * of the commits since the last sync. *expect receives the index of the last durable state. */
static inline int ch_states_match(const struct ch_states *s, uint64_t durable_syncs,
                                  uint64_t digest, size_t *expect) {
    size_t j = 0;
    while (j + 1 < s->n && s->v[j + 1].durable_at <= durable_syncs) j++;
    *expect = j;
    for (size_t i = j; i < s->n && s->v[i].durable_at <= durable_syncs + 1; i++)
        if (s->v[i].digest == digest) return 1;
    return 0;
}

/* ---- the kill loop -------------------------------------------------------------------------- */

enum { CH_INTENT = 1, CH_DONE = 2 };

/* What a child reports: before a commit the state it will make durable (CH_INTENT), after it
 * CH_DONE; `pages` is free for the test's use (the pager's page count). */
struct ch_msg {
    uint32_t kind, pad;
    uint64_t seq, digest, pages;
};

static inline void ch_send(int fd, uint32_t kind, uint64_t seq, uint64_t digest, uint64_t pages) {
    struct ch_msg m = {kind, 0, seq, digest, pages};
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(3);
}

/* A seed for a kill run: the time and the pid (runs started in the same second differ). */
static inline uint64_t ch_seed(void) {
    return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* Forks a child running child(path, write end of a pipe, child_seed) - which never returns -
 * kills it with SIGKILL after delay_us microseconds, reaps it (it must have died of the kill)
 * and hands every message it sent to on_msg, in order. */
static inline void ch_kill_once(void (*child)(const char *path, int out, uint64_t seed),
                                const char *path, uint64_t child_seed, uint64_t delay_us,
                                void (*on_msg)(void *ctx, const struct ch_msg *m), void *ctx) {
    int fds[2];
    int piped = pipe(fds) == 0;
    CHECK(piped);
    if (!piped) return;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0) { /* never kill(-1, ...): that would signal every process we may signal */
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        child(path, fds[1], child_seed);
        _exit(0);
    }
    close(fds[1]);
    usleep((useconds_t)delay_us);
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    if (!WIFSIGNALED(status)) fprintf(stderr, "child exit %d\n", WEXITSTATUS(status));
    struct ch_msg m;
    while (read(fds[0], &m, sizeof m) == (ssize_t)sizeof m) on_msg(ctx, &m);
    close(fds[0]);
}

#endif
