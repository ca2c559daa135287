/*
 * base/handle.h - handle slots that are never freed: what the pager and the persistent heap hand
 * out as quire_pager * and quire_pheap *. A slot holds a magic number and the object's state;
 * closing the object writes a "closed" magic into its slot, so that a call made with the closed
 * handle finds it and stops with a message instead of reading freed memory. A closed slot waits
 * in a FIFO quarantine of Q_BASE_HANDLE_QUARANTINE slots before a new handle may take it: use
 * after close is caught with certainty until that many more handles have been closed (after that
 * the slot may name another live object, whose different magic or state is then seen). Memory:
 * 16 bytes per slot, never more than the live handles plus the quarantine (about 1 MiB).
 */
#ifndef QUIRE_BASE_HANDLE_H
#define QUIRE_BASE_HANDLE_H

#include <stdint.h>

#define Q_BASE_HANDLE_QUARANTINE 65536u

struct q_base_handle {
    uint64_t magic; /* the owner's live or closed magic */
    void *state;    /* the owner's state (NULL once closed) */
};

/* A slot holding (magic, state), or NULL when out of memory. Thread-safe. */
struct q_base_handle *q_base_handle_new(uint64_t magic, void *state);
/* Marks h closed (closed_magic, state NULL) and puts it in the quarantine. Thread-safe. */
void q_base_handle_close(struct q_base_handle *h, uint64_t closed_magic);

#endif
