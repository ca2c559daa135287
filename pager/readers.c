/*
 * pager/readers.c - readers beside the writer: the lock file, the reader table, snapshots
 * (the contract is in quire/pager.h, "Readers"; the lock file's layout in pager/format.h).
 *
 * The writer publishes every commit's superblock in the lock file, under a sequence count
 * (odd while it writes). A reader takes a slot (by locking its byte first, then claiming it with
 * a compare-and-swap, so that a cleaner never frees a slot being claimed) and takes a snapshot:
 *   1. copy the published superblock (retry while the count is odd or changed);
 *   2. store its generation in the slot;
 *   3. check that it is still the published one (else retry): either the writer's next scan
 *      of the slots sees the slot, or the reader sees the newer commit (the writer stores its
 *      publication before it scans, the reader its slot before it checks);
 *   4. load that commit: tree nodes whose refs did not change are kept; the others are read,
 *      each checked against its CRC (a node the writer has overwritten since fails: retry).
 * Without a live writer (no process holds the writer byte) the reader registers the older of
 * the file's two commits, checks that no writer is there (a writer takes its byte before it
 * scans the slots: it sees the registration, or the reader sees it), reads the file's newest
 * state like any open (again when a writer published meanwhile and the load failed: it may
 * have rewritten metadata being read), registers that, and checks again.
 *
 * The writer never overwrites a page a registered snapshot can read (commit.c, freemap.c,
 * protected.c): its oldest protected state (internal.h) is the oldest of the anchor, the latest
 * commit and every live reader's generation. A reader that died leaves its slot with no byte
 * lock: the writer tests the oldest reader's lock (at most every Q_LIVENESS_NS) and clears the
 * slot when nobody holds it; a reader that opens clears every such slot it finds. A writer that
 * opens while readers older than the file's last commit are there (their writer went away)
 * cannot tell which free pages those snapshots still read: it leaves every free page of the
 * materialized free-map groups that lie below the file's page count at its open until those
 * readers have moved on (the "barrier"), growing the file meanwhile; the pages the file grows by
 * are allocated at once (no older snapshot can read them: the file never shrinks).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

#define Q_LIVENESS_NS UINT64_C(50000000) /* 50 ms between tests of one lagging reader */

static struct q_lock_slot *slots(const q_pager *p) {
    return (struct q_lock_slot *)(void *)((uint8_t *)p->lk + Q_LOCK_HDR);
}

/* ---------------------------------------------------------------------------------------------
 * The lock file
 * ------------------------------------------------------------------------------------------- */

int q_pager_lock_open(q_pager *p) {
    p->lock_fd = -1;
    p->slot = -1;
    size_t n = strlen(p->path);
    char *name = malloc(n + 6);
    if (!name) return QUIRE_ENOMEM;
    memcpy(name, p->path, n);
    memcpy(name + n, "-lock", 6);
    int fd;
    int rc = q_os_open(name, O_RDWR | O_CREAT, 0644, &fd);
    free(name);
    if (rc == QUIRE_EACCES || rc == QUIRE_EPERM || rc == QUIRE_ENOENT) return 0; /* no table */
    if (rc) return rc;
    off_t sz = 0;
    rc = q_os_file_size(fd, &sz);
    if (!rc && (uint64_t)sz < Q_LOCK_SIZE) rc = q_os_ftruncate(fd, (off_t)Q_LOCK_SIZE);
    void *m = NULL;
    if (!rc) rc = q_os_map(&m, Q_LOCK_SIZE, Q_PROT_READ | Q_PROT_WRITE, Q_MAP_SHARED, fd, 0);
    if (rc) {
        q_os_close(fd);
        return rc;
    }
    struct q_lock_hdr *h = m;
    /* Set up a new file's header once (the init byte orders concurrent openers); the magic is
     * stored last, with release, and read with acquire. */
    uint64_t want;
    memcpy(&want, Q_LOCK_MAGIC, 8);
    uint64_t *mword = (uint64_t *)(void *)h->magic;
    if (__atomic_load_n(mword, __ATOMIC_ACQUIRE) != want) {
        for (int tries = 0; (rc = q_os_ofd_lock(fd, Q_LOCK_INIT_BYTE, 1, 1)) == QUIRE_EBUSY;
             tries++) {
            if (tries > 100000) break;
            q_os_yield();
        }
        if (!rc) {
            if (__atomic_load_n(mword, __ATOMIC_ACQUIRE) != want) {
                h->version = Q_LOCK_VERSION;
                h->nslots = Q_LOCK_SLOTS;
                __atomic_store_n(mword, want, __ATOMIC_RELEASE);
            }
            (void)q_os_ofd_unlock(fd, Q_LOCK_INIT_BYTE, 1);
        }
    }
    if (!rc && __atomic_load_n(mword, __ATOMIC_ACQUIRE) != want) rc = QUIRE_EVERSION;
    if (!rc && (h->version != Q_LOCK_VERSION || h->nslots != Q_LOCK_SLOTS)) rc = QUIRE_EVERSION;
    if (rc) {
        q_os_unmap(m, Q_LOCK_SIZE);
        q_os_close(fd);
        return rc;
    }
    p->lock_fd = fd;
    p->lk = h;
    return 0;
}

void q_pager_lock_close(q_pager *p) {
    if (p->lk && p->slot >= 0) {
        struct q_lock_slot *s = &slots(p)[p->slot];
        atomic_store(&s->gen, 0);
        uint64_t tok = p->token;
        atomic_compare_exchange_strong(&s->owner, &tok, 0);
    }
    if (p->lk) q_os_unmap(p->lk, Q_LOCK_SIZE);
    if (p->lock_fd >= 0) q_os_close(p->lock_fd); /* releases every byte lock it held */
    p->lk = NULL;
    p->lock_fd = -1;
    p->slot = -1;
}

int q_pager_writer_alive(const q_pager *p) {
    if (!p->lk) return 0;
    if (!p->rdonly) return 1;
    return q_os_ofd_locked(p->lock_fd, Q_LOCK_WRITER_BYTE, 1) == 1;
}

/* Clears slot i when its owner is gone (nobody holds its byte). The byte lock makes clearing
 * and claiming exclusive: a claimer locks the byte before it sets the owner. */
static void clear_if_stale(q_pager *p, uint32_t i) {
    struct q_lock_slot *s = &slots(p)[i];
    uint64_t owner = atomic_load(&s->owner);
    if (!owner || (p->slot == (int)i)) return;
    if (q_os_ofd_lock(p->lock_fd, Q_LOCK_SLOT_BYTE(i), 1, 1) != 0) return; /* alive */
    if (atomic_load(&s->owner) == owner) {
        atomic_store(&s->gen, 0);
        atomic_compare_exchange_strong(&s->owner, &owner, 0);
    }
    (void)q_os_ofd_unlock(p->lock_fd, Q_LOCK_SLOT_BYTE(i), 1);
}

static void clear_stale(q_pager *p) {
    for (uint32_t i = 0; i < Q_LOCK_SLOTS; i++) clear_if_stale(p, i);
}

/* ---------------------------------------------------------------------------------------------
 * The writer
 * ------------------------------------------------------------------------------------------- */

void q_pager_publish(q_pager *p) {
    struct q_lock_hdr *h = p->lk;
    if (!h || p->rdonly) return;
    uint64_t words[Q_SB_SIZE / 8];
    memcpy(words, &p->sb, sizeof words);
    atomic_fetch_add_explicit(&h->seq, 1, memory_order_seq_cst); /* odd */
    /* release: the odd count is seen before any of these (a seqlock's writer) */
    for (unsigned i = 0; i < Q_SB_SIZE / 8; i++)
        atomic_store_explicit(&h->sb[i], words[i], memory_order_release);
    atomic_store_explicit(&h->durable, p->anchor, memory_order_relaxed);
    /* seq_cst: the publication comes before the next scan of the slots (step 3 of a reader's
     * snapshot), which loads them seq_cst */
    atomic_store_explicit(&h->gen, p->gen, memory_order_seq_cst);
    atomic_fetch_add_explicit(&h->seq, 1, memory_order_seq_cst); /* even */
}

void q_pager_publish_stats(q_pager *p) {
    struct q_lock_hdr *h = p->lk;
    if (!h || p->rdonly) return;
    atomic_store_explicit(&h->held_pages, p->ntype[Q_PENDING] + p->shadows.count,
                          memory_order_relaxed);
    atomic_store_explicit(&h->shadow_pages, p->shadows.count, memory_order_relaxed);
    atomic_store_explicit(&h->oldest, p->oldest, memory_order_relaxed);
}

uint64_t q_pager_readers_oldest(q_pager *p) {
    if (!p->lk) {
        p->readers_seen = 0;
        return p->oldest_reader = UINT64_MAX;
    }
    for (int pass = 0; pass < 2; pass++) {
        uint64_t oldest = UINT64_MAX, n = 0;
        uint32_t at = 0;
        for (uint32_t i = 0; i < Q_LOCK_SLOTS; i++) {
            struct q_lock_slot *s = &slots(p)[i];
            if (!atomic_load_explicit(&s->owner, memory_order_relaxed)) continue;
            n++;
            uint64_t g = atomic_load_explicit(&s->gen, memory_order_seq_cst);
            if (g && g < oldest) {
                oldest = g;
                at = i;
            }
        }
        p->readers_seen = n;
        /* A reader holding back reuse: is it alive? (at most every Q_LIVENESS_NS) */
        uint64_t now = q_os_coarse_ns();
        if (pass == 0 && oldest < p->gen && now - p->liveness_ns > Q_LIVENESS_NS) {
            p->liveness_ns = now;
            uint64_t before = atomic_load(&slots(p)[at].owner);
            clear_if_stale(p, at);
            if (atomic_load(&slots(p)[at].owner) != before) continue; /* it was dead: again */
        }
        return p->oldest_reader = oldest;
    }
    return p->oldest_reader;
}

int q_pager_writer_attach(q_pager *p) {
    if (!p->lk) return 0;
    int rc = q_os_ofd_lock(p->lock_fd, Q_LOCK_WRITER_BYTE, 1, 1);
    if (rc) return rc; /* another writer: the data file's flock should have said so */
    atomic_store(&p->lk->writer_pid, (uint64_t)q_os_getpid());
    /* A writer killed inside q_pager_publish() left the count odd: even it again (there is no
     * other writer), or readers would wait for a publication that never ends. */
    uint64_t seq = atomic_load(&p->lk->seq);
    if (seq & 1) atomic_store(&p->lk->seq, seq + 1);
    clear_stale(p);
    q_pager_publish(p);
    /* Readers older than the file's last commit: their pages may be free in it (barrier). */
    uint64_t oldest = q_pager_readers_oldest(p);
    if (oldest < p->gen) {
        p->barrier = p->gen;
        p->held_below = p->page_count; /* growth from here on is usable at once */
        q_pager_freemap_hold(p, 1);
    }
    q_pager_protect_update(p);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Readers
 * ------------------------------------------------------------------------------------------- */

/* Copies the published superblock: 1 when one was published and copied whole, else 0. */
static int read_published(const q_pager *p, struct q_super *sb) {
    const struct q_lock_hdr *h = p->lk;
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t s1 = atomic_load_explicit(&h->seq, memory_order_acquire);
        if (s1 & 1) {
            q_os_yield();
            continue;
        }
        if (!atomic_load_explicit(&h->gen, memory_order_relaxed)) return 0;
        uint64_t words[Q_SB_SIZE / 8];
        /* acquire: every word is read before the count is read again (a seqlock's reader) */
        for (unsigned i = 0; i < Q_SB_SIZE / 8; i++)
            words[i] = atomic_load_explicit(&h->sb[i], memory_order_acquire);
        if (atomic_load_explicit(&h->seq, memory_order_acquire) != s1) continue;
        memcpy(sb, words, sizeof words);
        return q_pager_super_crc(sb) == sb->crc;
    }
    return 0;
}

/* Claims a free slot: its byte first (nobody may clear it then), then its owner word. */
static int claim_slot(q_pager *p) {
    static _Atomic uint32_t handles;
    p->token = ((uint64_t)q_os_getpid() << 24) | (atomic_fetch_add(&handles, 1) & 0xffffffu);
    if (!p->token) p->token = 1;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < Q_LOCK_SLOTS; i++) {
            struct q_lock_slot *s = &slots(p)[i];
            if (atomic_load(&s->owner)) continue;
            if (q_os_ofd_lock(p->lock_fd, Q_LOCK_SLOT_BYTE(i), 1, 1) != 0) continue;
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong(&s->owner, &zero, p->token)) {
                atomic_store(&s->gen, 0);
                p->slot = (int)i;
                return 0;
            }
            (void)q_os_ofd_unlock(p->lock_fd, Q_LOCK_SLOT_BYTE(i), 1);
        }
        clear_stale(p); /* full: dead readers' slots become free */
    }
    return QUIRE_EAGAIN; /* Q_LOCK_SLOTS readers at once */
}

/* Sets the geometry from the first superblock seen (page_size: the caller's expectation). */
static int geometry_from(q_pager *p, const struct q_super *sb, uint32_t page_size) {
    if (p->P) return sb->page_size == p->P ? 0 : QUIRE_EMETA;
    if (page_size && sb->page_size != page_size) return QUIRE_EPAGESIZE;
    return q_pager_set_geometry(p, sb->page_size);
}

/* The older generation of the file's two superblock slots (1 when none validates: any state
 * is protected then), read while no writer is there. */
static uint64_t file_oldest_gen(q_pager *p, uint32_t page_size) {
    struct q_super sb[2];
    int err[2];
    if (!q_pager_super_scan(p->fd, &p->io, p->P ? p->P : page_size, sb, err)) return 1;
    uint64_t g = UINT64_MAX;
    for (int i = 0; i < 2; i++)
        if (!err[i] && sb[i].generation < g) g = sb[i].generation;
    return g && g != UINT64_MAX ? g : 1;
}

/* The snapshot protocol (the opening comment): first for the attach, else a refresh. */
static int snapshot(q_pager *p, uint32_t page_size, int first) {
    struct q_lock_slot *me = &slots(p)[p->slot];
    int rc = QUIRE_EAGAIN;
    for (int tries = 0; tries < 10000; tries++) {
        if (tries > 10) q_os_yield();
        struct q_super sb;
        if (q_pager_writer_alive(p) && read_published(p, &sb)) {
            if ((rc = geometry_from(p, &sb, page_size))) return rc;
            atomic_store_explicit(&me->gen, sb.generation, memory_order_seq_cst);
            if (atomic_load_explicit(&p->lk->gen, memory_order_seq_cst) != sb.generation)
                continue; /* a newer commit meanwhile */
            off_t fsz = 0;
            rc = q_os_file_size(p->fd, &fsz);
            if (!rc)
                rc = first ? q_pager_load_state(p, &sb, (uint64_t)fsz)
                           : q_pager_load_snapshot(p, &sb, (uint64_t)fsz);
            if (rc == QUIRE_EMETA || rc == QUIRE_EFILESIZE) {
                first = 1; /* a node overwritten under us: start again from scratch */
                continue;
            }
            if (rc) return rc;
            p->sb_slot = -1;                /* not read from a slot */
            if (first) q_pager_drop_all(p); /* see below */
            return 0;
        }
        /* No writer: the file is what it is. Registered first, with the older of its two
         * commits: a writer that opens while this loads sees the slot and keeps every state
         * from that one on (or this sees the writer, and takes its publication instead). */
        atomic_store_explicit(&me->gen, file_oldest_gen(p, page_size), memory_order_seq_cst);
        if (q_pager_writer_alive(p)) {
            first = 1;
            continue;
        }
        uint64_t seq0 = atomic_load_explicit(&p->lk->seq, memory_order_acquire);
        rc = q_pager_load_newest(p, page_size);
        if (rc && (q_pager_writer_alive(p) ||
                   atomic_load_explicit(&p->lk->seq, memory_order_acquire) != seq0)) {
            /* A writer came (and may have gone) meanwhile: it may have rewritten metadata this
             * was reading (a snapshot keeps the metadata in memory, the content pages in the
             * file); take its publication, or the file again. */
            first = 1;
            continue;
        }
        if (rc) return rc;
        /* A full load leaves the private copies of pages an earlier snapshot (or a failed try)
         * had in shadows: only this state's shadows may keep one. */
        q_pager_drop_all(p);
        atomic_store_explicit(&me->gen, p->gen, memory_order_seq_cst);
        if (q_pager_writer_alive(p)) {
            first = 1;
            continue; /* a writer came meanwhile: take its publication */
        }
        return 0;
    }
    return rc;
}

int q_pager_reader_attach(q_pager *p, uint32_t page_size) {
    clear_stale(p);
    int rc = claim_slot(p);
    if (!rc) rc = snapshot(p, page_size, 1);
    if (!rc) {
        p->anchor = p->oldest = p->gen;
        Q_VALIDATE(q_pager_validate_state(p));
    }
    return rc;
}

int q_pager_reader_refresh(q_pager *p) {
    if (!p->lk || p->slot < 0) return 0; /* no table: no writer can be there */
    if (atomic_load_explicit(&p->lk->gen, memory_order_acquire) == p->gen)
        return 0; /* nothing newer published */
    uint64_t gen = p->gen;
    int rc = snapshot(p, 0, 0);
    if (rc) {
        p->fatal = rc;
        return rc;
    }
    p->anchor = p->oldest = p->gen;
    return p->gen != gen;
}
