/*
 * pager/open.c - creating, opening and closing a pager file: the superblock slots and their
 * validation, and loading a committed state (the trees, the commit record, the counters, the
 * mapping). The contract is in quire/pager.h; the glossary in pager/internal.h.
 *
 * Open reads both superblock slots and takes the newest one whose checksum validates, then
 * verifies everything that commit references: every tree node's checksum (the refs form a
 * Merkle tree under the superblock), the commit record's checksum, the checksum of every page
 * the commit wrote (home pages, shadows, protected copies of its generation) and the counters.
 * A commit cut short by a power loss fails one of these (its one sync never completed), and
 * open falls back to the other slot: the previous commit, which nothing since has overwritten.
 * The fall-back is recorded (p->fell_back) for quire_pager_check() to report. A newest commit
 * that grew the file and finds it shorter is one of those (the size change is in the same batch
 * as its writes); a file shorter than both commits say is reported (EFILESIZE): truncated.
 *
 * Create builds the file under no name (O_TMPFILE; a hidden temporary name where the file
 * system has no O_TMPFILE), writes two commits so that both slots hold a valid state, syncs,
 * links it into place (never replacing an existing file) and syncs the directory: a crash
 * during create leaves no file, or a complete one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

_Static_assert(sizeof(struct q_ref) == 32, "q_ref is 32 bytes on disk");
_Static_assert(sizeof(struct q_super) == Q_SB_SIZE, "superblock slot size");
_Static_assert(sizeof(struct q_subrec) == 64, "sub-page record size");
_Static_assert(sizeof(struct q_home) == 16, "home entry size");
_Static_assert(sizeof(struct q_shadow) == 32, "shadow entry size");

/* What the leaves of each tree hold (the trees are generic: pager/tree.c). */
static const struct q_pager_leaf_ops *const tree_leaves[Q_NTREES] = {
    [Q_TREE_FREEMAP] = &q_pager_freemap_leaves,
    [Q_TREE_PROT] = &q_pager_prot_leaves,
    [Q_TREE_SUB] = &q_pager_sub_leaves,
};

/* ---------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------- */

q_pager *q_pager_state(quire_pager *h, const char *fn) {
    if (!h) return NULL;
    if (h->h.magic == Q_HANDLE_LIVE && h->h.state) return h->h.state;
    char msg[160];
    snprintf(msg, sizeof msg, "quire: %s: %s pager handle %p\n", fn,
             h->h.magic == Q_HANDLE_CLOSED ? "closed (used after quire_pager_close)" : "invalid",
             (void *)h);
    q_os_write_all(2, msg, strlen(msg));
    q_os_abort();
}

/* ---------------------------------------------------------------------------------------------
 * Superblock slots
 * ------------------------------------------------------------------------------------------- */

static int valid_page_size(uint32_t ps) {
    return ps >= QUIRE_PAGER_MIN_PAGE_SIZE && ps <= QUIRE_PAGER_MAX_PAGE_SIZE && !(ps & (ps - 1));
}

/* Validates one superblock slot image: 0, or QUIRE_EMAGIC, QUIRE_ESUPER (checksum, page size or
 * geometry), QUIRE_EVERSION, QUIRE_EPAGESIZE (not the expected page size, when one is given). */
static int super_validate(const struct q_super *sb, uint32_t expect) {
    if (memcmp(sb->magic, Q_MAGIC, 8) != 0) return QUIRE_EMAGIC;
    if (q_pager_super_crc(sb) != sb->crc) return QUIRE_ESUPER;
    if (sb->version != Q_VERSION) return QUIRE_EVERSION;
    if (!valid_page_size(sb->page_size)) return QUIRE_ESUPER;
    if (expect && sb->page_size != expect) return QUIRE_EPAGESIZE;
    if (sb->page_count < Q_GROW_MIN || sb->page_count % Q_GROW_MIN || sb->page_count > Q_MAX_PAGES)
        return QUIRE_ESUPER;
    for (unsigned t = 0; t < Q_NTREES; t++)
        if (sb->height[t] > Q_MAX_HEIGHT) return QUIRE_ESUPER;
    if (sb->n_home > sb->page_count || sb->n_shadow > sb->page_count) return QUIRE_ESUPER;
    if (!sb->rec_page && (sb->rec_pages || sb->n_home * 16 + sb->n_shadow * 32 > Q_SB_INLINE))
        return QUIRE_ESUPER;
    return 0;
}

static int read_slot(int fd, const struct q_pager_io *io, uint64_t off, struct q_super *sb) {
    int rc = io->pread(io->ctx, fd, sb, Q_SB_SIZE, off);
    if (rc) memset(sb, 0, sizeof *sb);
    return rc;
}

/* Byte offset of slot 1 for page size ps. */
static uint64_t slot1_offset(uint32_t ps) {
    return q_pager_super_page(ps, 1) * ps;
}

uint32_t q_pager_super_scan(int fd, const struct q_pager_io *io, uint32_t ps, struct q_super sb[2],
                            int err[2]) {
    read_slot(fd, io, 0, &sb[0]);
    err[0] = super_validate(&sb[0], ps);
    if (!ps && !err[0]) ps = sb[0].page_size;
    if (ps) {
        read_slot(fd, io, slot1_offset(ps), &sb[1]);
        err[1] = super_validate(&sb[1], ps);
        if (!err[1] || !err[0]) return ps;
        return 0;
    }
    /* Slot 0 is unreadable: look for slot 1 at every place a page size puts it. */
    err[1] = QUIRE_EMAGIC;
    for (uint32_t cand = QUIRE_PAGER_MIN_PAGE_SIZE; cand <= QUIRE_PAGER_MAX_PAGE_SIZE; cand <<= 1) {
        struct q_super s;
        if (read_slot(fd, io, slot1_offset(cand), &s)) break;
        int e = super_validate(&s, 0);
        if (!e && s.page_size != cand) e = QUIRE_ESUPER;
        if (!e) {
            sb[1] = s;
            err[1] = 0;
            return cand;
        }
        if (e != QUIRE_EMAGIC && err[1] == QUIRE_EMAGIC) err[1] = e;
    }
    memset(&sb[1], 0, sizeof sb[1]);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * A committed state: loading, releasing
 * ------------------------------------------------------------------------------------------- */

static void set_geometry(q_pager *p, uint32_t ps) {
    p->P = ps;
    p->pshift = (uint32_t)__builtin_ctz(ps);
    p->fanout = ps / 32;
    p->G = (uint64_t)ps * 4;
    p->B = q_pager_block_pages(ps);
}

int q_pager_set_geometry(q_pager *p, uint32_t ps) {
    if (!valid_page_size(ps)) return QUIRE_ESUPER;
    set_geometry(p, ps);
    if (!p->scratch && !(p->scratch = malloc(ps))) return QUIRE_ENOMEM;
    return 0;
}

static void free_trees(q_pager *p) {
    for (unsigned t = 0; t < Q_NTREES; t++) q_pager_tree_free(p, &p->tree[t]);
}

/* The commit record's bytes (inline, or gathered from its chain into *out, which the caller
 * frees): 0, or QUIRE_EMETA when the chain or the checksum does not hold. The chain's pages go to
 * p->rec_pages. */
static int read_record(q_pager *p, const struct q_super *sb, uint8_t **out, size_t *len) {
    uint64_t bytes = sb->n_home * sizeof(struct q_home) + sb->n_shadow * sizeof(struct q_shadow);
    p->rec_pages.n = 0;
    *out = NULL;
    *len = (size_t)bytes;
    uint8_t *b = malloc(bytes ? (size_t)bytes : 1);
    if (!b) return QUIRE_ENOMEM;
    if (!sb->rec_page) {
        memcpy(b, sb->inline_rec, (size_t)bytes);
    } else {
        uint64_t at = 0, pg = sb->rec_page, n = 0;
        const uint64_t room = p->P - sizeof(struct q_rec_page);
        while (pg) {
            if (pg >= p->page_count || q_pager_freemap_type(p, pg) != Q_INTERNAL ||
                ++n > sb->rec_pages || q_base_vec_push(&p->rec_pages, pg)) {
                free(b);
                return QUIRE_EMETA;
            }
            const uint8_t *page = p->shared + (pg << p->pshift);
            struct q_rec_page h;
            memcpy(&h, page, sizeof h);
            if (h.nbytes > room || h.nbytes > bytes - at) {
                free(b);
                return QUIRE_EMETA;
            }
            memcpy(b + at, page + sizeof h, (size_t)h.nbytes);
            at += h.nbytes;
            pg = h.next;
        }
        if (at != bytes || n != sb->rec_pages) {
            free(b);
            return QUIRE_EMETA;
        }
    }
    if (q_base_crc32c(0, b, (size_t)bytes) != sb->rec_crc) {
        free(b);
        return QUIRE_EMETA;
    }
    *out = b;
    return 0;
}

/* A content page: regular, or internal and cut into sub-page slots. */
static int content_page(q_pager *p, uint64_t id) {
    if (id >= p->page_count || q_pager_is_fixed(p, id)) return 0;
    unsigned t = q_pager_freemap_type(p, id);
    return t == Q_REGULAR || (t == Q_INTERNAL && q_pager_sub_is_page(p, id));
}

/* Loads the commit record: the shadow map (each shadow verified and copied into the mapping)
 * and, when verify is set, the checksums of the pages the commit wrote home. */
/* What a load verifies: everything the commit wrote (open, abort), or, for a reader's snapshot
 * of a commit a live writer published, the shadows only (their bytes are copied at once). */
enum { VERIFY_NONE = 0, VERIFY_SHADOWS = 1, VERIFY_ALL = 3 };

static int load_record(q_pager *p, const struct q_super *sb, int verify) {
    uint8_t *b;
    size_t len;
    int rc = read_record(p, sb, &b, &len);
    if (rc) return rc;
    q_base_hash_clear(&p->shadows);
    p->unsynced.n = p->unsynced_crc.n = 0;
    const uint8_t *homes = b, *at = b + sb->n_home * sizeof(struct q_home);
    for (uint64_t i = 0; i < sb->n_shadow && !rc; i++, at += sizeof(struct q_shadow)) {
        struct q_shadow e;
        memcpy(&e, at, sizeof e);
        if (!content_page(p, e.home) || e.page >= p->page_count || q_pager_is_fixed(p, e.page) ||
            q_pager_freemap_type(p, e.page) != Q_INTERNAL || q_pager_sub_is_page(p, e.page) ||
            e.gen > sb->generation || e.gen == 0) {
            rc = QUIRE_EMETA;
            break;
        }
        if ((verify & VERIFY_SHADOWS) &&
            q_pager_page_crc(e.home, p->shared + (e.page << p->pshift), p->P) != e.crc) {
            rc = QUIRE_EMETA; /* the commit that wrote it did not complete */
            break;
        }
        void *v;
        int added = q_base_hash_put(&p->shadows, e.home, &v);
        if (added < 0) {
            rc = added;
        } else if (!added) {
            rc = QUIRE_EMETA; /* two shadows for one page */
        } else {
            struct q_shadow_val sv = {e.page, e.gen, e.crc, 0};
            memcpy(v, &sv, sizeof sv);
        }
    }
    if (!rc) rc = q_base_vec_reserve(&p->unsynced, (size_t)sb->n_home);
    if (!rc) rc = q_base_vec_reserve(&p->unsynced_crc, (size_t)sb->n_home);
    for (uint64_t i = 0; i < sb->n_home && !rc; i++, homes += sizeof(struct q_home)) {
        struct q_home e;
        memcpy(&e, homes, sizeof e);
        if (e.page >= p->page_count || q_pager_is_fixed(p, e.page)) {
            rc = QUIRE_EMETA;
            break;
        }
        /* written by an earlier commit since the anchor, and freed or shadowed since */
        if (!content_page(p, e.page) || q_base_hash_has(&p->shadows, e.page)) continue;
        if (verify == VERIFY_ALL &&
            q_pager_page_crc(e.page, p->shared + (e.page << p->pshift), p->P) != e.crc) {
            rc = QUIRE_EMETA; /* the commit's write did not reach the disk */
            break;
        }
        p->unsynced.v[p->unsynced.n++] = e.page;
        p->unsynced_crc.v[p->unsynced_crc.n++] = e.crc;
    }
    free(b);
    if (!rc) q_pager_fill_shadows(p);
    return rc;
}

static int load_inner(q_pager *p, const struct q_super *sb, uint64_t file_size, int snapshot);

/* Makes sb the pager's state; snapshot: a reader's refresh (unchanged nodes kept, only the
 * shadows verified). */
static int load(q_pager *p, const struct q_super *sb, uint64_t file_size, int snapshot) {
    if (!snapshot) free_trees(p);
    /* A reader's mapping holds private copies of the last snapshot's shadowed pages: they go
     * once the new snapshot is loaded (its own shadows are copied in again). */
    struct q_base_vec stale;
    q_base_vec_init(&stale, &q_base_mem_libc);
    if (snapshot && q_base_hash_sorted_keys(&p->shadows, &stale)) snapshot = 2; /* no memory */
    int rc = load_inner(p, sb, file_size, snapshot != 0);
    if (!rc && snapshot == 2) q_pager_drop_all(p);
    if (!rc && snapshot == 1) q_pager_drop_pages(p, stale.v, stale.n);
    q_base_vec_free(&stale);
    return rc;
}

static int load_inner(q_pager *p, const struct q_super *sb, uint64_t file_size, int snapshot) {
    q_base_hash_clear(&p->shadows);
    if (sb->page_count > (uint64_t)SIZE_MAX >> p->pshift) return QUIRE_EFBIG;
    if (file_size < (sb->page_count << p->pshift)) return QUIRE_EFILESIZE;
    p->page_count = sb->page_count;
    p->gen = sb->generation;
    int rc = q_pager_map_file(p);
    if (rc) return rc;
    for (unsigned t = 0; t < Q_NTREES; t++) {
        if (!snapshot || !p->tree[t].ops) q_pager_tree_init(p, &p->tree[t], tree_leaves[t]);
        rc = q_pager_tree_load(p, &p->tree[t], sb->root[t], sb->height[t], snapshot);
        if (rc) return rc;
    }
    rc = q_pager_freemap_count(p);
    if (rc) return rc;
    if (p->ntype[Q_REGULAR] != sb->n_regular || p->ntype[Q_INTERNAL] != sb->n_internal)
        return QUIRE_EMETA;
    int verify = q_pager_test_fault == Q_FAULT_NO_VERIFY ? VERIFY_NONE
                 : snapshot                              ? VERIFY_SHADOWS
                                                         : VERIFY_ALL;
    uint64_t n;
    /* the protected copies written since the anchor this commit was written after */
    rc = q_pager_prot_count(p, &n, verify == VERIFY_ALL ? sb->anchor : UINT64_MAX);
    if (rc) return rc;
    if (n != sb->n_protected) return QUIRE_EMETA;
    rc = q_pager_sub_count(p, &n);
    if (rc) return rc;
    if (n != sb->n_subslots) return QUIRE_EMETA;
    rc = load_record(p, sb, verify);
    if (rc) return rc;
    p->sb = *sb;
    Q_VALIDATE(q_pager_validate_state(p));
    return 0;
}

int q_pager_load_state(q_pager *p, const struct q_super *sb, uint64_t file_size) {
    return load(p, sb, file_size, 0);
}

int q_pager_load_snapshot(q_pager *p, const struct q_super *sb, uint64_t file_size) {
    return load(p, sb, file_size, 1);
}

static q_pager *pager_new(const struct q_pager_io *io) {
    q_pager *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->handle = (quire_pager *)q_base_handle_new(Q_HANDLE_LIVE, p);
    if (!p->handle) {
        free(p);
        return NULL;
    }
    p->fd = -1;
    p->lock_fd = -1;
    p->slot = -1;
    p->io = io ? *io : q_pager_default_io;
    q_base_hash_init(&p->cow, 0, &q_base_mem_libc);
    q_base_hash_init(&p->sub_pending, 0, &q_base_mem_libc);
    q_base_hash_init(&p->writers_on, 0, &q_base_mem_libc);
    q_base_hash_init(&p->shadows, sizeof(struct q_shadow_val), &q_base_mem_libc);
    q_base_vec_init(&p->pending, &q_base_mem_libc);
    q_base_vec_init(&p->pending_gen, &q_base_mem_libc);
    q_base_vec_init(&p->rec_pages, &q_base_mem_libc);
    q_base_vec_init(&p->unsynced, &q_base_mem_libc);
    q_base_vec_init(&p->unsynced_crc, &q_base_mem_libc);
    return p;
}

/* Releases everything; the handle becomes a tombstone (q_pager_state() reports its use). */
static void pager_release(q_pager *p) {
    q_pager_writers_drop_all(p);
    q_pager_lock_close(p);
    free(p->path);
    free_trees(p);
    q_pager_unmap_file(p);
    if (p->fd >= 0) q_os_close(p->fd);
    q_base_hash_free(&p->cow);
    q_base_hash_free(&p->sub_pending);
    q_base_hash_free(&p->writers_on);
    q_base_hash_free(&p->shadows);
    q_base_vec_free(&p->pending);
    q_base_vec_free(&p->pending_gen);
    q_base_vec_free(&p->rec_pages);
    q_base_vec_free(&p->unsynced);
    q_base_vec_free(&p->unsynced_crc);
    free(p->scratch);
    q_base_handle_close(&p->handle->h, Q_HANDLE_CLOSED);
    free(p);
}

/* ---------------------------------------------------------------------------------------------
 * Create, open, close
 * ------------------------------------------------------------------------------------------- */

/* An unnamed file in path's directory (O_TMPFILE), or, where the file system has none, a new
 * hidden one named after path (its name in tmp). */
static int open_unnamed(const char *path, int *fd, char *tmp, size_t tmpn) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n + 2 > sizeof dir) return QUIRE_EINVAL;
    if (!slash)
        strcpy(dir, ".");
    else if (n == 0)
        strcpy(dir, "/");
    else {
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    tmp[0] = 0;
    int rc = q_os_open(dir, O_TMPFILE | O_RDWR, 0644, fd);
    if (rc == 0 || rc == QUIRE_EACCES || rc == QUIRE_ENOENT) return rc;
    static unsigned seq;
    const char *base = slash ? slash + 1 : path;
    snprintf(tmp, tmpn, "%s%s.%s.quire-new.%d.%u", slash ? dir : "", slash ? "/" : "", base,
             (int)q_os_getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
    return q_os_open(tmp, O_RDWR | O_CREAT | O_EXCL, 0644, fd);
}

int q_pager_create_io(const char *path, uint32_t ps, const struct q_pager_io *io,
                      quire_pager **out) {
    if (!path || !out) return QUIRE_EINVAL;
    *out = NULL;
    if (ps == 0) ps = QUIRE_PAGER_DEFAULT_PAGE_SIZE;
    if (!valid_page_size(ps)) return QUIRE_EPAGESIZE;
    int rc = q_os_exists(path);
    if (rc == 0) return QUIRE_EEXIST;
    if (rc != QUIRE_ENOENT) return rc;
    q_pager *p = pager_new(io);
    if (!p) return QUIRE_ENOMEM;
    set_geometry(p, ps);
    char tmp[4200];
    rc = open_unnamed(path, &p->fd, tmp, sizeof tmp);
    if (rc) {
        p->fd = -1;
        pager_release(p);
        return rc;
    }
    if (!(p->scratch = malloc(ps))) rc = QUIRE_ENOMEM;
    if (!rc) rc = q_os_flock(p->fd, 1);
    p->page_count = Q_GROW_MIN;
    p->anchor_slot = 1; /* the first commit (generation 1) goes to slot 0 */
    p->sb_slot = 1;
    if (!rc) rc = p->io.truncate(p->io.ctx, p->fd, p->page_count << p->pshift);
    if (!rc) rc = q_pager_map_file(p);
    for (unsigned t = 0; t < Q_NTREES; t++) q_pager_tree_init(p, &p->tree[t], tree_leaves[t]);
    struct q_node *leaf;
    if (!rc) rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], 0, &leaf);
    /* Two commits, so that both superblock slots hold a valid state from the start. */
    if (!rc) rc = q_pager_commit(p);
    if (!rc) rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], 0, &leaf);
    if (!rc) rc = q_pager_commit(p);
    /* Only a complete file gets the name (never replacing one), then the name is made durable. */
    if (!rc)
        rc = q_os_link_new(p->fd, tmp[0] ? tmp : NULL, path);
    else if (tmp[0])
        (void)q_os_unlink(tmp);
    if (!rc) rc = q_os_fsync_parent(path);
    /* readers may join now */
    if (!rc) rc = (p->path = strdup(path)) ? 0 : QUIRE_ENOMEM;
    if (!rc) rc = q_pager_lock_open(p);
    if (!rc) rc = q_pager_writer_attach(p);
    if (rc) {
        pager_release(p);
        return rc;
    }
    *out = p->handle;
    return 0;
}

int q_pager_load_newest(q_pager *p, uint32_t ps) {
    off_t fsz = 0;
    int rc = q_os_file_size(p->fd, &fsz);
    if (rc) return rc;
    struct q_super sb[2];
    int err[2];
    uint32_t fps = q_pager_super_scan(p->fd, &p->io, p->P ? p->P : ps, sb, err);
    if (!fps) {
        /* The most telling reason: a foreign page size, a version, a checksum, no magic. */
        int order[] = {QUIRE_EPAGESIZE, QUIRE_EVERSION, QUIRE_ESUPER};
        rc = QUIRE_EMAGIC;
        for (int k = 0; k < 3 && rc == QUIRE_EMAGIC; k++)
            if (err[0] == order[k] || err[1] == order[k]) rc = order[k];
        return rc;
    }
    if ((rc = q_pager_set_geometry(p, fps))) return rc;
    /* Newest valid slot first; the other one if what the newest references does not validate
     * (a commit cut short, or damage). */
    int first = (!err[0] && (err[1] || sb[0].generation >= sb[1].generation)) ? 0 : 1;
    int used = first;
    p->fell_back = 0;
    rc = q_pager_load_state(p, &sb[first], (uint64_t)fsz);
    if ((rc == QUIRE_EMETA || rc == QUIRE_EFILESIZE) && !err[1 - first]) {
        int rc0 = rc;
        used = 1 - first;
        rc = q_pager_load_state(p, &sb[1 - first], (uint64_t)fsz);
        if (rc == QUIRE_EFILESIZE || (rc && rc0 == QUIRE_EFILESIZE)) {
            rc = QUIRE_EFILESIZE; /* shorter than both commits say: truncated */
        } else if (rc) {
            rc = QUIRE_EMETA;
        } else {
            /* Reported by quire_pager_check() as a warning. A newest commit that grew the
             * file and finds it shorter is one whose growth never reached the disk. */
            p->fell_back = 1;
            p->fell_back_error = rc0;
        }
    }
    if (rc) return rc;
    p->sb_slot = used;
    p->anchor = p->oldest = p->gen;
    p->anchor_slot = used;
    return 0;
}

int q_pager_open_io(const char *path, unsigned flags, uint32_t ps, const struct q_pager_io *io,
                    quire_pager **out) {
    if (!path || !out || (flags & ~(unsigned)QUIRE_PAGER_RDONLY)) return QUIRE_EINVAL;
    *out = NULL;
    if (ps && !valid_page_size(ps)) return QUIRE_EPAGESIZE;
    q_pager *p = pager_new(io);
    if (!p) return QUIRE_ENOMEM;
    p->rdonly = (flags & QUIRE_PAGER_RDONLY) != 0;
    int rc = (p->path = strdup(path)) ? 0 : QUIRE_ENOMEM;
    if (!rc) rc = q_os_open(path, p->rdonly ? O_RDONLY : O_RDWR, 0, &p->fd);
    if (rc) p->fd = -1;
    /* The reader table beside the file (none where it cannot be written: then readers and a
     * writer exclude each other with the data file's flock, as before readers had slots). */
    if (!rc) rc = q_pager_lock_open(p);
    if (!rc && !p->rdonly) {
        rc = q_os_flock(p->fd, 1); /* one writer */
        if (!rc) rc = q_pager_load_newest(p, ps);
        /* What a writer builds on must be durable: the state may have reached the file only as
         * far as the page cache (a process killed in NOSYNC mode). */
        if (!rc) rc = p->io.sync(p->io.ctx, p->fd);
        p->unsynced.n = p->unsynced_crc.n = 0;
        if (!rc) rc = q_pager_writer_attach(p);
    } else if (!rc && p->lk) {
        rc = q_pager_reader_attach(p, ps); /* a slot and a snapshot */
    } else if (!rc) {
        rc = q_os_flock(p->fd, 0);
        if (!rc) rc = q_pager_load_newest(p, ps);
    }
    if (rc) {
        pager_release(p);
        return rc;
    }
    *out = p->handle;
    return 0;
}

int quire_pager_create(const char *path, uint32_t page_size, quire_pager **out) {
    return q_pager_create_io(path, page_size, NULL, out);
}

int quire_pager_open(const char *path, unsigned flags, uint32_t page_size, quire_pager **out) {
    return q_pager_open_io(path, flags, page_size, NULL, out);
}

int quire_pager_close(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return 0;
    int fd = p->fd;
    p->fd = -1;
    int rc = fd >= 0 ? q_os_close(fd) : 0;
    pager_release(p);
    return rc ? QUIRE_EIO : 0;
}
