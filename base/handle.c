/*
 * base/handle.c - never-freed handle slots with a quarantine (see base/handle.h): slots come in
 * chunks of 1024 from calloc, kept on a list so that they stay reachable (leak checkers see
 * them as in use, which they are); closed slots wait in a ring of Q_BASE_HANDLE_QUARANTINE
 * before they go to the free list. One mutex: opening and closing are rare next to the calls
 * made in between.
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/handle.h"

enum { CHUNK = 1024 };

struct chunk {
    struct chunk *next;
    struct q_base_handle slot[CHUNK];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *chunks;        /* every chunk (reachable, never freed) */
static size_t chunk_used = CHUNK;   /* slots of the newest chunk handed out */
static struct q_base_handle **ring; /* the quarantine: closed slots, oldest first */
static size_t ring_head, ring_n;
static struct q_base_handle **spare; /* slots out of quarantine, free to reuse */
static size_t spare_n, spare_cap;

struct q_base_handle *q_base_handle_new(uint64_t magic, void *state) {
    struct q_base_handle *h = NULL;
    pthread_mutex_lock(&lock);
    if (spare_n) {
        h = spare[--spare_n];
    } else {
        if (chunk_used == CHUNK) {
            struct chunk *c = calloc(1, sizeof *c);
            if (c) {
                c->next = chunks;
                chunks = c;
                chunk_used = 0;
            }
        }
        if (chunk_used < CHUNK) h = &chunks->slot[chunk_used++];
    }
    if (h) {
        h->magic = magic;
        h->state = state;
    }
    pthread_mutex_unlock(&lock);
    return h;
}

void q_base_handle_close(struct q_base_handle *h, uint64_t closed_magic) {
    if (!h) return;
    pthread_mutex_lock(&lock);
    h->magic = closed_magic;
    h->state = NULL;
    if (!ring) ring = calloc(Q_BASE_HANDLE_QUARANTINE, sizeof *ring);
    if (!ring) { /* no quarantine: the slot stays closed for good */
        pthread_mutex_unlock(&lock);
        return;
    }
    if (ring_n == Q_BASE_HANDLE_QUARANTINE) {
        /* the oldest closed slot leaves the quarantine */
        struct q_base_handle *old = ring[ring_head];
        if (spare_n == spare_cap) {
            size_t nc = spare_cap ? spare_cap * 2 : 1024;
            struct q_base_handle **a = realloc(spare, nc * sizeof *a);
            if (a) {
                spare = a;
                spare_cap = nc;
            }
        }
        if (spare_n < spare_cap) spare[spare_n++] = old;
        ring[ring_head] = h;
        ring_head = (ring_head + 1) % Q_BASE_HANDLE_QUARANTINE;
    } else {
        ring[(ring_head + ring_n) % Q_BASE_HANDLE_QUARANTINE] = h;
        ring_n++;
    }
    pthread_mutex_unlock(&lock);
}
