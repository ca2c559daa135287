/*
 * examples/pheap_kv.c - the README's persistent-heap example: a key-value map that lives in a
 * heap file and survives kill -9 and restarts (driven by tests/scripts/pheap_example.sh).
 *
 *   pheap_kv FILE put KEY VALUE     set one key (one commit)
 *   pheap_kv FILE get KEY           print its value
 *   pheap_kv FILE fill N            put k<i> = v<i> for i = count .. N-1, one commit each
 *   pheap_kv FILE verify            every k<i> (i < count) holds v<i>; exit 1 otherwise
 *
 * The map: the root is a struct kv {count, nbuckets, buckets}; buckets is an array of
 * references to chains of entries {next, klen, vlen, bytes}. References are offsets, so the
 * file works wherever it is mapped. Writes are declared first (quire_pheap_write/set); a crash
 * leaves the map as the last commit left it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire/pheap.h"

struct kv {
    uint64_t count, nbuckets;
    quire_pref buckets; /* nbuckets references */
};

struct entry {
    quire_pref next;
    uint32_t klen, vlen;
    char bytes[]; /* key then value */
};

#define TRY(call)                                                                                  \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_) {                                                                                 \
            fprintf(stderr, "%s: %s\n", #call, quire_strerror(rc_));                               \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    while (n--) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

/* The map, created (and committed) on first use. */
static quire_pref map_root(quire_pheap *h) {
    quire_pref root;
    TRY(quire_pheap_root(h, &root));
    if (root.off) return root;
    struct kv kv = {0, 1024, QUIRE_PREF_NULL};
    TRY(quire_pheap_zalloc(h, kv.nbuckets * sizeof(quire_pref), &kv.buckets));
    TRY(quire_pheap_alloc(h, sizeof kv, &root));
    TRY(quire_pheap_set(h, root, 0, &kv, sizeof kv));
    TRY(quire_pheap_set_root(h, root));
    TRY(quire_pheap_commit(h));
    return root;
}

static const struct entry *find(quire_pheap *h, const char *key, quire_pref *slot_owner,
                                size_t *slot_off, quire_pref *at) {
    const struct kv *kv = quire_pheap_ptr(h, map_root(h));
    size_t klen = strlen(key), b = hash(key, klen) % kv->nbuckets;
    *slot_owner = kv->buckets; /* the reference to follow lives in the bucket array... */
    *slot_off = b * sizeof(quire_pref);
    quire_pref r = ((const quire_pref *)quire_pheap_ptr(h, kv->buckets))[b];
    while (r.off) {
        const struct entry *e = quire_pheap_ptr(h, r);
        if (e->klen == klen && memcmp(e->bytes, key, klen) == 0) {
            *at = r;
            return e;
        }
        *slot_owner = r; /* ...or in the previous entry's `next` */
        *slot_off = offsetof(struct entry, next);
        r = e->next;
    }
    return NULL;
}

/* Sets key to value in the open transaction. */
static void put(quire_pheap *h, const char *key, const char *value) {
    quire_pref root = map_root(h), owner, old = QUIRE_PREF_NULL, e;
    size_t off, klen = strlen(key), vlen = strlen(value);
    const struct entry *cur = find(h, key, &owner, &off, &old);
    TRY(quire_pheap_alloc(h, sizeof(struct entry) + klen + vlen, &e)); /* may move the mapping */
    struct entry *w;
    TRY(quire_pheap_write(h, e, 0, sizeof *w + klen + vlen, (void **)&w));
    w->klen = (uint32_t)klen;
    w->vlen = (uint32_t)vlen;
    memcpy(w->bytes, key, klen);
    memcpy(w->bytes + klen, value, vlen);
    if (cur) { /* replace: the new entry takes the old one's place in the chain */
        cur = quire_pheap_ptr(h, old);
        w->next = cur->next;
        TRY(quire_pheap_free(h, old));
    } else { /* insert at the head of the bucket */
        const struct kv *kv = quire_pheap_ptr(h, root);
        off = (hash(key, klen) % kv->nbuckets) * sizeof(quire_pref);
        owner = kv->buckets;
        w->next = ((const quire_pref *)quire_pheap_ptr(h, owner))[off / sizeof(quire_pref)];
        uint64_t count = kv->count + 1;
        TRY(quire_pheap_set(h, root, offsetof(struct kv, count), &count, sizeof count));
    }
    TRY(quire_pheap_set(h, owner, off, &e, sizeof e));
}

static int get(quire_pheap *h, const char *key, char *out, size_t n) {
    quire_pref owner, at;
    size_t off;
    const struct entry *e = find(h, key, &owner, &off, &at);
    if (!e) return 0;
    snprintf(out, n, "%.*s", (int)e->vlen, e->bytes + e->klen);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: pheap_kv FILE put K V | get K | fill N | verify\n");
        return 2;
    }
    quire_pheap *h;
    TRY(quire_pheap_open(argv[1], QUIRE_PHEAP_CREATE, 0, &h));
    const char *cmd = argv[2];
    char key[64], val[64], got[64];
    int status = 0;
    if (!strcmp(cmd, "put") && argc == 5) {
        put(h, argv[3], argv[4]);
        TRY(quire_pheap_commit(h));
    } else if (!strcmp(cmd, "get") && argc == 4) {
        if (get(h, argv[3], got, sizeof got))
            printf("%s\n", got);
        else
            status = 1;
    } else if (!strcmp(cmd, "fill") && argc == 4) {
        uint64_t n = strtoull(argv[3], NULL, 10);
        for (;;) {
            const struct kv *kv = quire_pheap_ptr(h, map_root(h));
            uint64_t i = kv->count;
            if (i >= n) break;
            snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
            snprintf(val, sizeof val, "v%llu", (unsigned long long)i);
            put(h, key, val);
            TRY(quire_pheap_commit(h)); /* k<i> and the count: durable together */
        }
    } else if (!strcmp(cmd, "verify")) {
        const struct kv *kv = quire_pheap_ptr(h, map_root(h));
        uint64_t count = kv->count;
        for (uint64_t i = 0; i < count; i++) {
            snprintf(key, sizeof key, "k%llu", (unsigned long long)i);
            snprintf(val, sizeof val, "v%llu", (unsigned long long)i);
            if (!get(h, key, got, sizeof got) || strcmp(got, val)) {
                printf("%s is missing or wrong\n", key);
                status = 1;
            }
        }
        snprintf(key, sizeof key, "k%llu", (unsigned long long)count);
        if (get(h, key, got, sizeof got)) {
            printf("%s exists beyond the count\n", key);
            status = 1;
        }
        printf("%llu keys %s\n", (unsigned long long)count, status ? "NOT consistent" : "verified");
    } else {
        fprintf(stderr, "unknown command\n");
        status = 2;
    }
    TRY(quire_pheap_close(h));
    return status;
}
