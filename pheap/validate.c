/*
 * pheap/validate.c - q_pheap_validate(): the invariants written in pheap/internal.h, checked
 * against the in-memory state. Debug builds (Q_DEBUG >= 2, base/assert.h) run it after every
 * commit and every reload of the last commit (open, abort); tests call it directly. It reads every
 * chunk header: never in release paths.
 */
#include "pheap/internal.h"

/* A SMALL chunk's cached counters against its descriptors. */
static const char *check_counters(const q_pheap *h, const struct ph_chunk *c) {
    uint32_t fp = 0, run = 0, best = 0;
    for (uint32_t i = 0; i < h->D; i++) {
        if (ph_desc(c, i)->type == PH_FREE) {
            fp++;
            if (++run > best) best = run;
        } else {
            run = 0;
        }
    }
    if (c->free_pages != fp) return "pheap: a chunk's free_pages differs from its descriptors";
    if (c->max_run != best) return "pheap: a chunk's max_run differs from its descriptors";
    return NULL;
}

static const char *check_chunks(const q_pheap *h) {
    for (size_t i = 0; i < h->nch; i++) {
        const struct ph_chunk *c = h->ch[i];
        const struct ph_chdr *ch = ph_chdr(c);
        if (c->first != ch->first || c->npages != ch->npages || c->kind != ch->kind)
            return "pheap: a chunk's fields differ from its header";
        const char *why;
        if (q_pheap_chunk_validate(h, c->hdr, &why)) return why;
        if (i + 1 < h->nch && c->first + c->npages > h->ch[i + 1]->first)
            return "pheap: chunks out of order or overlapping";
        if (c->kind == PH_SMALL && (why = check_counters(h, c))) return why;
    }
    /* the allocation hints name slabs of their class in live chunks */
    for (unsigned k = 0; k < h->ncls; k++) {
        const struct ph_chunk *c = h->cur[k];
        if (!c) continue;
        size_t i = 0;
        while (i < h->nch && h->ch[i] != c) i++;
        if (i == h->nch) return "pheap: a class's current slab is in no chunk";
        const struct ph_desc *d = ph_desc(c, h->cur_head[k]);
        if (h->cur_head[k] >= h->D || d->type != PH_SLAB || d->cls != k)
            return "pheap: a class's current slab is not a slab of that class";
    }
    return NULL;
}

static const char *check_txn(const q_pheap *h) {
    const char *why = q_base_hash_validate(&h->fresh);
    if (!why) why = q_base_hash_validate(&h->freed);
    if (!why) why = q_base_hash_validate(&h->named);
    if (!why) why = q_base_hash_validate(&h->keys);
    if (why) return why;
    if (!h->txn) {
        if (h->fresh.count || h->freed.count || h->frees.n)
            return "pheap: transaction state left over outside a transaction";
        return NULL;
    }
    if (h->frees.n != h->freed.count) return "pheap: the frees list differs from `freed`";
    for (size_t i = 0; i < h->frees.n; i++) {
        struct ph_block b;
        if (q_pheap_lookup(h, h->frees.v[i], &b)) return "pheap: a freed offset is no live block";
    }
    return NULL;
}

const char *q_pheap_validate(const q_pheap *h) {
    const char *why = check_chunks(h);
    return why ? why : check_txn(h);
}
