/*
 * pager/open.c - creating, opening and closing a pager file: the superblock slots and their
 * validation, and loading a committed state (the trees, the counters, the mapping). The contract
 * is in quire/pager.h; the glossary in pager/internal.h.
 *
 * Open reads both superblock slots, takes the newest one whose checksum validates and loads
 * everything it references, checking every node's checksum and the counters the superblock
 * records; when that fails (EMETA), it falls back to the other slot, the previous commit. A
 * file shorter than its superblock says is reported (EFILESIZE), never silently rolled back.
 * Create writes two commits, so that both slots hold a valid state from the start.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

_Static_assert(sizeof(struct q_ref) == 32, "q_ref is 32 bytes on disk");
_Static_assert(sizeof(struct q_super) == Q_SB_SIZE, "superblock slot size");
_Static_assert(sizeof(struct q_subrec) == 64, "sub-page record size");

/* What the leaves of each tree hold (the trees are generic: pager/tree.c). */
static const struct q_pager_leaf_ops *const tree_leaves[Q_NTREES] = {
    [Q_TREE_FREEMAP] = &q_pager_freemap_leaves,
    [Q_TREE_PROT] = &q_pager_prot_leaves,
    [Q_TREE_SUB] = &q_pager_sub_leaves,
};

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
    return 0;
}

static int read_slot(int fd, const struct q_pager_io *io, uint64_t off, struct q_super *sb) {
    int rc = io->pread(io->ctx, fd, sb, Q_SB_SIZE, off);
    if (rc) memset(sb, 0, sizeof *sb);
    return rc;
}

uint32_t q_pager_super_scan(int fd, const struct q_pager_io *io, uint32_t ps, struct q_super sb[2],
                            int err[2]) {
    read_slot(fd, io, 0, &sb[0]);
    err[0] = super_validate(&sb[0], ps);
    if (!ps && !err[0]) ps = sb[0].page_size;
    if (ps) {
        read_slot(fd, io, ps, &sb[1]);
        err[1] = super_validate(&sb[1], ps);
        if (!err[1] || !err[0]) return ps;
        return 0;
    }
    /* Slot 0 is unreadable: look for slot 1 at every possible page size. */
    err[1] = QUIRE_EMAGIC;
    for (uint32_t cand = QUIRE_PAGER_MIN_PAGE_SIZE; cand <= QUIRE_PAGER_MAX_PAGE_SIZE; cand <<= 1) {
        struct q_super s;
        if (read_slot(fd, io, cand, &s)) break;
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

static void set_geometry(quire_pager *p, uint32_t ps) {
    p->P = ps;
    p->pshift = (uint32_t)__builtin_ctz(ps);
    p->fanout = ps / 32;
    p->G = (uint64_t)ps * 4;
}

static void free_trees(quire_pager *p) {
    for (unsigned t = 0; t < Q_NTREES; t++) q_pager_tree_free(p, &p->tree[t]);
}

int q_pager_load_state(quire_pager *p, const struct q_super *sb, uint64_t file_size) {
    free_trees(p);
    if (sb->page_count > (uint64_t)SIZE_MAX >> p->pshift) return QUIRE_EFBIG;
    if (file_size < (sb->page_count << p->pshift)) return QUIRE_EFILESIZE;
    p->page_count = sb->page_count;
    p->gen = sb->generation;
    int rc = q_pager_map_file(p);
    if (rc) return rc;
    for (unsigned t = 0; t < Q_NTREES; t++) {
        q_pager_tree_init(p, &p->tree[t], tree_leaves[t]);
        rc = q_pager_tree_load(p, &p->tree[t], sb->root[t], sb->height[t]);
        if (rc) return rc;
    }
    rc = q_pager_freemap_count(p);
    if (rc) return rc;
    if (p->ntype[Q_REGULAR] != sb->n_regular || p->ntype[Q_INTERNAL] != sb->n_internal)
        return QUIRE_EMETA;
    uint64_t n;
    rc = q_pager_prot_count(p, &n);
    if (rc) return rc;
    if (n != sb->n_protected) return QUIRE_EMETA;
    rc = q_pager_sub_count(p, &n);
    if (rc) return rc;
    if (n != sb->n_subslots) return QUIRE_EMETA;
    p->sb = *sb;
    Q_VALIDATE(q_pager_validate(p));
    return 0;
}

static quire_pager *pager_new(const struct q_pager_io *io) {
    quire_pager *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->fd = -1;
    p->io = io ? *io : q_pager_default_io;
    q_base_hash_init(&p->cow, 0, &q_base_mem_libc);
    q_base_hash_init(&p->sub_pending, 0, &q_base_mem_libc);
    q_base_hash_init(&p->writers_on, 0, &q_base_mem_libc);
    q_base_vec_init(&p->pending, &q_base_mem_libc);
    return p;
}

static void pager_release(quire_pager *p) {
    q_pager_writers_drop_all(p);
    free_trees(p);
    q_pager_unmap_file(p);
    if (p->fd >= 0) q_os_close(p->fd);
    q_base_hash_free(&p->cow);
    q_base_hash_free(&p->sub_pending);
    q_base_hash_free(&p->writers_on);
    q_base_vec_free(&p->pending);
    free(p->scratch);
    free(p);
}

/* ---------------------------------------------------------------------------------------------
 * Create, open, close
 * ------------------------------------------------------------------------------------------- */

int q_pager_create_io(const char *path, uint32_t ps, const struct q_pager_io *io,
                      quire_pager **out) {
    if (!path || !out) return QUIRE_EINVAL;
    *out = NULL;
    if (ps == 0) ps = QUIRE_PAGER_DEFAULT_PAGE_SIZE;
    if (!valid_page_size(ps)) return QUIRE_EPAGESIZE;
    quire_pager *p = pager_new(io);
    if (!p) return QUIRE_ENOMEM;
    set_geometry(p, ps);
    int rc = q_os_open(path, O_RDWR | O_CREAT | O_EXCL, 0644, &p->fd);
    if (rc) {
        free(p);
        return rc;
    }
    if (!(p->scratch = malloc(ps))) rc = QUIRE_ENOMEM;
    if (!rc) rc = q_os_flock(p->fd, 1);
    p->page_count = Q_GROW_MIN;
    if (!rc) rc = p->io.truncate(p->io.ctx, p->fd, p->page_count << p->pshift);
    if (!rc) rc = q_pager_map_file(p);
    for (unsigned t = 0; t < Q_NTREES; t++) q_pager_tree_init(p, &p->tree[t], tree_leaves[t]);
    struct q_node *leaf;
    if (!rc) rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], 0, &leaf);
    /* Two commits, so that both superblock slots hold a valid state from the start. */
    if (!rc) rc = q_pager_commit(p);
    if (!rc) rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], 0, &leaf);
    if (!rc) rc = q_pager_commit(p);
    if (rc) {
        pager_release(p);
        (void)q_os_unlink(path);
        return rc;
    }
    *out = p;
    return 0;
}

int q_pager_open_io(const char *path, unsigned flags, uint32_t ps, const struct q_pager_io *io,
                    quire_pager **out) {
    if (!path || !out || (flags & ~(unsigned)QUIRE_PAGER_RDONLY)) return QUIRE_EINVAL;
    *out = NULL;
    if (ps && !valid_page_size(ps)) return QUIRE_EPAGESIZE;
    quire_pager *p = pager_new(io);
    if (!p) return QUIRE_ENOMEM;
    p->rdonly = (flags & QUIRE_PAGER_RDONLY) != 0;
    int rc = q_os_open(path, p->rdonly ? O_RDONLY : O_RDWR, 0, &p->fd);
    if (rc) {
        free(p);
        return rc;
    }
    rc = q_os_flock(p->fd, !p->rdonly);
    off_t fsz = 0;
    if (!rc) rc = q_os_file_size(p->fd, &fsz);
    struct q_super sb[2];
    int err[2];
    uint32_t fps = 0;
    if (!rc) {
        fps = q_pager_super_scan(p->fd, &p->io, ps, sb, err);
        if (!fps) {
            /* The most telling reason: a foreign page size, a version, a checksum, no magic. */
            int order[] = {QUIRE_EPAGESIZE, QUIRE_EVERSION, QUIRE_ESUPER};
            rc = QUIRE_EMAGIC;
            for (int k = 0; k < 3 && rc == QUIRE_EMAGIC; k++)
                if (err[0] == order[k] || err[1] == order[k]) rc = order[k];
        }
    }
    if (!rc) {
        set_geometry(p, fps);
        if (!(p->scratch = malloc(fps))) rc = QUIRE_ENOMEM;
    }
    if (!rc) {
        /* Newest valid slot first; the other one if the newest's metadata does not validate. */
        int first = (!err[0] && (err[1] || sb[0].generation >= sb[1].generation)) ? 0 : 1;
        rc = q_pager_load_state(p, &sb[first], (uint64_t)fsz);
        if ((rc == QUIRE_EMETA || rc == QUIRE_EFILESIZE) && !err[1 - first]) {
            int rc0 = rc;
            rc = q_pager_load_state(p, &sb[1 - first], (uint64_t)fsz);
            /* A truncated file is reported as such, never silently rolled back. */
            if (rc0 == QUIRE_EFILESIZE)
                rc = rc0;
            else if (rc)
                rc = QUIRE_EMETA;
        }
    }
    if (rc) {
        pager_release(p);
        return rc;
    }
    *out = p;
    return 0;
}

int quire_pager_create(const char *path, uint32_t page_size, quire_pager **out) {
    return q_pager_create_io(path, page_size, NULL, out);
}

int quire_pager_open(const char *path, unsigned flags, uint32_t page_size, quire_pager **out) {
    return q_pager_open_io(path, flags, page_size, NULL, out);
}

int quire_pager_close(quire_pager *p) {
    if (!p) return 0;
    int fd = p->fd;
    p->fd = -1;
    int rc = fd >= 0 ? q_os_close(fd) : 0;
    pager_release(p);
    return rc ? QUIRE_EIO : 0;
}
