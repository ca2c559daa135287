/*
 * pager/pager.c - opening, closing and the commit chain of quire's crash-consistent pager, and
 * the regular-page API (see quire/pager.h for the contract, pager/internal.h for the glossary).
 *
 * The commit chain (q_pager_commit_now), LMDB's protocol with copy-on-write metadata:
 *   1. apply the transaction's sub-page frees; give every new metadata node its page pair
 *      (may grow the file; nothing is written yet, so a failure here just aborts the txn);
 *   2. pwrite the pages write views were taken of, then every dirty metadata node to the copy
 *      the last commit does not use;
 *   3. fdatasync                                   -- all of the new state is on disk
 *   4. pwrite the superblock of generation g into slot g & 1 (the older one), checksummed;
 *   5. fdatasync                                   -- the new state is the committed one
 *   6. pages freed in the transaction become free; private copies of written pages are dropped.
 * A failure in 2-5 makes the pager unavailable (sticky, like LMDB's fatal flag): the file still
 * holds the previous commit, which the next open finds.
 *
 * The file is mapped MAP_PRIVATE: write views write private memory, which reaches the file only
 * through the I/O layer (step 2 or quire_pager_flush), so the crash harness sees every byte.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

_Static_assert(sizeof(struct q_ref) == 32, "q_ref is 32 bytes on disk");
_Static_assert(sizeof(struct q_super) == Q_SB_SIZE, "superblock slot size");
_Static_assert(sizeof(struct q_subrec) == 64, "sub-page record size");

/* ---------------------------------------------------------------------------------------------
 * Superblocks
 * ------------------------------------------------------------------------------------------- */

static int valid_page_size(uint32_t ps) {
    return ps >= QUIRE_PAGER_MIN_PAGE_SIZE && ps <= QUIRE_PAGER_MAX_PAGE_SIZE && !(ps & (ps - 1));
}

int q_super_validate(const struct q_super *sb, uint32_t expect) {
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

uint32_t q_super_scan(int fd, const struct q_pager_io *io, uint32_t ps, struct q_super sb[2],
                      int err[2]) {
    read_slot(fd, io, 0, &sb[0]);
    err[0] = q_super_validate(&sb[0], ps);
    if (!ps && !err[0]) ps = sb[0].page_size;
    if (ps) {
        read_slot(fd, io, ps, &sb[1]);
        err[1] = q_super_validate(&sb[1], ps);
        if (!err[1] || !err[0]) return ps;
        return 0;
    }
    /* Slot 0 is unreadable: look for slot 1 at every possible page size. */
    err[1] = QUIRE_EMAGIC;
    for (uint32_t cand = QUIRE_PAGER_MIN_PAGE_SIZE; cand <= QUIRE_PAGER_MAX_PAGE_SIZE; cand <<= 1) {
        struct q_super s;
        if (read_slot(fd, io, cand, &s)) break;
        int e = q_super_validate(&s, 0);
        if (!e && s.page_size != cand) e = QUIRE_ESUPER;
        if (!e) {
            sb[1] = s;
            err[1] = 0;
            return cand;
        }
        if (e != QUIRE_EMAGIC && err[1] == QUIRE_EMAGIC) err[1] = e;
    }
    memset(&sb[1], 0, sizeof sb[1]);
    /* Report the slot-0 error when it is more telling than "no magic". */
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * State: loading a committed superblock, releasing
 * ------------------------------------------------------------------------------------------- */

static void set_geometry(quire_pager *p, uint32_t ps) {
    p->P = ps;
    p->pshift = (uint32_t)__builtin_ctz(ps);
    p->fanout = ps / 32;
    p->G = (uint64_t)ps * 4;
}

static void free_tables(quire_pager *p) {
    for (unsigned t = 0; t < Q_NTREES; t++) q_table_free(p, &p->tab[t]);
}

int q_pager_remap(quire_pager *p, size_t want) {
    void *nm = NULL;
    int rc = 0;
    if (p->map_size != want) {
        rc = p->io.remap(p->io.ctx, p->map, p->map_size, want, &nm);
        if (rc) return rc;
        p->map = nm;
        p->map_size = want;
    }
    if (p->rmap_size != want) {
        rc = p->io.remap(p->io.ctx, p->rmap, p->rmap_size, want, &nm);
        if (rc) return rc;
        p->rmap = nm;
        p->rmap_size = want;
    }
    return 0;
}

/* Maps (or resizes the mappings to) page_count pages. */
static int map_file(quire_pager *p) {
    size_t want = (size_t)(p->page_count << p->pshift);
    if (p->map) return q_pager_remap(p, want);
    void *m = NULL, *r = NULL;
    int prot = Q_PROT_READ | (p->rdonly ? 0 : Q_PROT_WRITE);
    int rc = q_os_map(&m, want, prot, Q_MAP_NORESERVE, p->fd, 0);
    if (rc) return rc;
    p->map = m;
    p->map_size = want;
    rc = q_os_map(&r, want, Q_PROT_READ, Q_MAP_SHARED, p->fd, 0);
    if (rc) return rc;
    p->rmap = r;
    p->rmap_size = want;
    return 0;
}

/* Makes sb (validated) the pager's state: maps the file, reads and checks all metadata. */
static int load_state(quire_pager *p, const struct q_super *sb, uint64_t file_size) {
    free_tables(p);
    if (sb->page_count > (uint64_t)SIZE_MAX >> p->pshift) return QUIRE_EFBIG;
    if (file_size < (sb->page_count << p->pshift)) return QUIRE_EFILESIZE;
    p->page_count = sb->page_count;
    p->gen = sb->generation;
    int rc = map_file(p);
    if (rc) return rc;
    for (unsigned t = 0; t < Q_NTREES; t++) {
        q_table_init(p, &p->tab[t], t);
        rc = q_table_load(p, &p->tab[t], sb->root[t], sb->height[t]);
        if (rc) return rc;
    }
    rc = q_map_count(p);
    if (rc) return rc;
    if (p->ntype[Q_REGULAR] != sb->n_regular || p->ntype[Q_INTERNAL] != sb->n_internal)
        return QUIRE_EMETA;
    uint64_t n;
    rc = q_prot_count(p, &n);
    if (rc) return rc;
    if (n != sb->n_protected) return QUIRE_EMETA;
    rc = q_sub_count(p, &n);
    if (rc) return rc;
    if (n != sb->n_subslots) return QUIRE_EMETA;
    p->sb = *sb;
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
    q_writers_drop_all(p);
    free_tables(p);
    if (p->map) q_os_unmap(p->map, p->map_size);
    if (p->rmap) q_os_unmap(p->rmap, p->rmap_size);
    if (p->fd >= 0) q_os_close(p->fd);
    q_base_hash_free(&p->cow);
    q_base_hash_free(&p->sub_pending);
    q_base_hash_free(&p->writers_on);
    q_base_vec_free(&p->pending);
    free(p->scratch);
    free(p);
}

/* ---------------------------------------------------------------------------------------------
 * The commit chain
 * ------------------------------------------------------------------------------------------- */

int q_pager_writable(const quire_pager *p) {
    if (p->fatal) return QUIRE_EUNAVAIL;
    if (p->rdonly) return QUIRE_ERDONLY;
    return 0;
}

static void drop_cow(quire_pager *p) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    if (q_base_hash_sorted_keys(&p->cow, &v) == 0) {
        const uint64_t *ids = v.v;
        size_t n = v.n;
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && ids[j] == ids[j - 1] + 1) j++;
            q_map_drop_private(p, ids[i], ids[j - 1] - ids[i] + 1);
            i = j;
        }
        q_base_vec_free(&v);
    } else {
        q_map_drop_private(p, 0, p->page_count); /* out of memory: drop everything */
    }
    q_base_hash_clear(&p->cow);
}

/* Writes the pages write views were taken of (runs of consecutive pages in one pwrite). */
static int write_cow(quire_pager *p) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->cow, &v);
    if (rc) return rc;
    const uint64_t *ids = v.v;
    size_t n = v.n;
    for (size_t i = 0; i < n && !rc;) {
        unsigned ty = ids[i] < p->page_count ? q_map_type(p, ids[i]) : Q_FREE;
        if (ty != Q_REGULAR && ty != Q_INTERNAL) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && ids[j] == ids[j - 1] + 1 && j - i < 256) {
            unsigned t2 = q_map_type(p, ids[j]);
            if (t2 != Q_REGULAR && t2 != Q_INTERNAL) break;
            j++;
        }
        uint64_t first = ids[i], cnt = j - i;
        rc = p->io.pwrite(p->io.ctx, p->fd, p->map + (first << p->pshift),
                          (size_t)(cnt << p->pshift), first << p->pshift);
        i = j;
    }
    q_base_vec_free(&v);
    return rc;
}

static void build_super(quire_pager *p, uint64_t gen, struct q_super *sb) {
    sb->generation = gen;
    sb->page_count = p->page_count;
    sb->n_regular = p->ntype[Q_REGULAR];
    sb->n_internal = p->ntype[Q_INTERNAL];
    sb->n_protected = p->n_protected;
    sb->n_subslots = p->n_subslots;
    for (unsigned t = 0; t < Q_NTREES; t++) sb->height[t] = p->tab[t].height;
    memcpy(sb->magic, Q_MAGIC, 8);
    sb->version = Q_VERSION;
    sb->page_size = p->P;
    sb->crc = q_pager_super_crc(sb);
}

int q_pager_commit_now(quire_pager *p) {
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (!p->meta_dirty && !p->cow.count && !p->sub_pending.count) {
        p->in_txn = 0;
        return 0;
    }
    uint64_t gen = p->gen + 1;
    struct q_super sb;
    memset(&sb, 0, sizeof sb);

    /* 1. Settle sub-page frees; give new nodes their page pairs (until nothing changes). */
    rc = q_sub_settle(p);
    for (int changed = 1; !rc && changed;) {
        changed = 0;
        for (unsigned t = 0; t < Q_NTREES && !rc; t++)
            rc = q_table_prepare(p, &p->tab[t], &changed);
    }
    if (rc) {
        if (!p->fatal) (void)q_pager_reload(p); /* nothing was written: abort the txn */
        return rc;
    }
    /* 2. Data pages, then metadata, to places the last commit does not use. */
    rc = write_cow(p);
    for (unsigned t = 0; t < Q_NTREES && !rc; t++)
        rc = q_table_write(p, &p->tab[t], gen, sb.root[t]);
    /* 3. Barrier: everything the new superblock will reference is durable. */
    if (!rc) rc = p->io.sync(p->io.ctx, p->fd);
    /* 4-5. The superblock of generation gen over the older slot, then the second barrier. */
    if (!rc) {
        build_super(p, gen, &sb);
        rc = p->io.pwrite(p->io.ctx, p->fd, &sb, Q_SB_SIZE, (gen & 1) << p->pshift);
    }
    if (!rc) rc = p->io.sync(p->io.ctx, p->fd);
    if (rc) {
        p->fatal = rc;
        return rc;
    }
    /* 6. Committed. */
    p->sb = sb;
    p->gen = gen;
    q_map_settle(p);
    drop_cow(p);
    p->meta_dirty = 0;
    p->in_txn = 0;
    return 0;
}

int q_pager_autocommit(quire_pager *p) {
    return p->in_txn ? 0 : q_pager_commit_now(p);
}

int q_pager_reload(quire_pager *p) {
    drop_cow(p);
    q_base_hash_clear(&p->sub_pending);
    p->pending.n = 0;
    p->meta_dirty = 0;
    p->in_txn = 0;
    off_t fsz = 0;
    int rc = q_os_file_size(p->fd, &fsz);
    struct q_super sb = p->sb;
    if (!rc) rc = load_state(p, &sb, (uint64_t)fsz);
    if (rc) p->fatal = rc;
    memset(p->sub_hint, 0, sizeof p->sub_hint);
    p->prot_hint = 0;
    p->sub_free_hint = 0;
    return rc;
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
    if (!rc) rc = map_file(p);
    for (unsigned t = 0; t < Q_NTREES; t++) q_table_init(p, &p->tab[t], t);
    struct q_node *leaf;
    if (!rc) rc = q_table_dirty(p, &p->tab[Q_TREE_FREEMAP], 0, &leaf);
    /* Two commits, so that both superblock slots hold a valid state from the start. */
    if (!rc) rc = q_pager_commit_now(p);
    if (!rc) rc = q_table_dirty(p, &p->tab[Q_TREE_FREEMAP], 0, &leaf);
    if (!rc) rc = q_pager_commit_now(p);
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
        fps = q_super_scan(p->fd, &p->io, ps, sb, err);
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
        rc = load_state(p, &sb[first], (uint64_t)fsz);
        if ((rc == QUIRE_EMETA || rc == QUIRE_EFILESIZE) && !err[1 - first]) {
            int rc0 = rc;
            rc = load_state(p, &sb[1 - first], (uint64_t)fsz);
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

uint32_t quire_pager_page_size(const quire_pager *p) {
    return p ? p->P : 0;
}
uint64_t quire_pager_page_count(const quire_pager *p) {
    return p ? p->page_count : 0;
}
uint64_t quire_pager_free_page_count(const quire_pager *p) {
    return p ? p->ntype[Q_FREE] + p->n_absent_free : 0;
}

int quire_pager_mapping(const quire_pager *p, void **base, uint64_t *page_count) {
    if (!p || !base) return QUIRE_EINVAL;
    *base = p->map;
    if (page_count) *page_count = p->page_count;
    return 0;
}

int quire_pager_stat(const quire_pager *p, struct quire_pager_stat *st) {
    if (!p || !st) return QUIRE_EINVAL;
    st->page_size = p->P;
    st->page_count = p->page_count;
    st->free_pages = p->ntype[Q_FREE] + p->n_absent_free;
    st->regular_pages = p->ntype[Q_REGULAR];
    st->protected_pages = p->n_protected;
    st->internal_pages = p->ntype[Q_INTERNAL] + (p->page_count - p->ntype[0] - p->ntype[1] -
                                                 p->ntype[2] - p->ntype[3] - p->n_absent_free);
    st->pending_pages = p->ntype[Q_PENDING];
    st->subpage_slots = p->n_subslots;
    st->generation = p->gen;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

int quire_pager_begin(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (p->in_txn) return QUIRE_ESTATE;
    p->in_txn = 1;
    return 0;
}

int quire_pager_commit(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    return q_pager_commit_now(p);
}

int quire_pager_abort(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    return q_pager_reload(p);
}

/* ---------------------------------------------------------------------------------------------
 * Regular pages
 * ------------------------------------------------------------------------------------------- */

/* Validates a regular page id: 0 when allocated, else the error for `op` (free or access). */
static int check_regular(const quire_pager *p, uint64_t id, int for_free) {
    if (id >= p->page_count) return QUIRE_EBOUNDS;
    unsigned t = q_map_type(p, id);
    if (t == Q_INTERNAL) return QUIRE_ERESERVED;
    if (t == Q_REGULAR) return 0;
    return for_free ? QUIRE_EDOUBLEFREE : QUIRE_ENOTALLOC;
}

int quire_pager_alloc_near(quire_pager *p, uint64_t hint, uint64_t *id) {
    if (!p || !id) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_map_alloc(p, Q_REGULAR, hint, id);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_alloc(quire_pager *p, uint64_t *id) {
    return quire_pager_alloc_near(p, 0, id);
}

int quire_pager_alloc_bulk(quire_pager *p, size_t n, uint64_t *ids) {
    if (!p || (!ids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    rc = q_map_reserve(p, n);
    size_t done = 0;
    if (!rc) rc = q_map_alloc_many(p, Q_REGULAR, n, ids, &done);
    if (rc) {
        /* All or nothing: give back what this call took (only ENOMEM can get here). */
        for (size_t k = 0; k < done; k++) (void)q_map_set(p, ids[k], Q_FREE);
        return rc;
    }
    return q_pager_autocommit(p);
}

int quire_pager_alloc_run(quire_pager *p, uint64_t n, uint64_t *first) {
    if (!p || !first || !n) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_map_alloc_run(p, n, first);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_free(quire_pager *p, uint64_t id) {
    return quire_pager_free_bulk(p, 1, &id);
}

int quire_pager_free_bulk(quire_pager *p, size_t n, const uint64_t *ids) {
    if (!p || (!ids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_regular(p, ids[i], 1))) return rc;
    rc = q_base_ids_repeat(ids, n, &q_base_mem_libc); /* the same id twice is a double free */
    if (rc) return rc < 0 ? rc : QUIRE_EDOUBLEFREE;
    /* Reserve the bookkeeping first so that the loop below cannot fail half way. */
    if ((rc = q_base_vec_reserve(&p->pending, n))) return rc;
    for (size_t i = 0; i < n; i++) {
        rc = q_map_free_pending(p, ids[i]);
        if (rc) { /* leaves exist for allocated pages: cannot happen */
            p->fatal = rc;
            return rc;
        }
    }
    return q_pager_autocommit(p);
}

int quire_pager_grow(quire_pager *p, uint64_t count) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_map_grow(p, count);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_get(quire_pager *p, uint64_t id, const void **data) {
    if (!p || !data) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    int rc = check_regular(p, id, 0);
    if (rc) return rc;
    *data = p->map + (id << p->pshift);
    return 0;
}

int quire_pager_get_write(quire_pager *p, uint64_t id, void **data) {
    if (!p || !data) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if ((rc = check_regular(p, id, 0))) return rc;
    rc = q_base_hash_put(&p->cow, id, NULL);
    if (rc < 0) return rc;
    *data = p->map + (id << p->pshift);
    return 0;
}

int quire_pager_flush_range(quire_pager *p, uint64_t first, uint64_t n) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (first >= p->page_count || n > p->page_count - first) return QUIRE_EBOUNDS;
    for (uint64_t i = first; i < first + n && !rc;) {
        unsigned t = q_map_type(p, i);
        if (t != Q_REGULAR && !(t == Q_INTERNAL && q_base_hash_has(&p->cow, i))) {
            i++;
            continue;
        }
        uint64_t j = i + 1;
        while (j < first + n && q_map_type(p, j) == Q_REGULAR && j - i < 256) j++;
        rc = p->io.pwrite(p->io.ctx, p->fd, p->map + (i << p->pshift),
                          (size_t)((j - i) << p->pshift), i << p->pshift);
        i = j;
    }
    if (!rc) rc = p->io.sync(p->io.ctx, p->fd);
    if (rc) p->fatal = rc;
    return rc;
}

int quire_pager_flush(quire_pager *p, uint64_t id) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if ((rc = check_regular(p, id, 0))) return rc;
    return quire_pager_flush_range(p, id, 1);
}

int quire_pager_next_page(quire_pager *p, uint64_t *cursor, uint64_t *id) {
    if (!p || !cursor || !id) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    uint64_t i = *cursor;
    while (i < p->page_count) {
        uint64_t g = i / p->G, base = g * p->G;
        struct q_node *leaf = q_table_leaf(p, &p->tab[Q_TREE_FREEMAP], g);
        uint64_t end = base + p->G < p->page_count ? base + p->G : p->page_count;
        if (leaf) {
            for (; i < end; i++) {
                if ((i & 31) == 0 && i + 32 <= end) {
                    uint64_t w;
                    memcpy(&w, leaf->buf + ((i - base) >> 2), 8);
                    /* no entry equal to 01 in this word: skip it */
                    if (!((w & ~(w >> 1)) & UINT64_C(0x5555555555555555))) {
                        i += 31;
                        continue;
                    }
                }
                if (q_leaf_type(leaf->buf, i - base) == Q_REGULAR) {
                    *id = i;
                    *cursor = i + 1;
                    return 1;
                }
            }
        }
        i = end;
    }
    *cursor = i;
    return 0;
}
