/*
 * pager/testing.h - hooks for the tests that look inside a pager or damage it on purpose
 * (tests/unit/test_pager_api.c, test_pager_corrupt.c, test_pager_powerloss.c): what they need
 * of the pager's state, without pager/internal.h; the pager's validator, which debug builds also
 * run after every commit and load (pager/validate.c, base/assert.h); and the deliberate faults
 * the negative controls of the crash tests switch on. Nothing else in the library calls them.
 */
#ifndef QUIRE_PAGER_TESTING_H
#define QUIRE_PAGER_TESTING_H

#include <stdint.h>

#include "pager/format.h"
#include "quire/pager.h"

/* Copies protected page pid's record (where its two copies lie, which is current) into *out:
 * 0, QUIRE_EINVAL, QUIRE_EBOUNDS or QUIRE_ENOTALLOC. */
int q_pager_protected_ref(quire_pager *p, uint64_t pid, struct q_ref *out);

/* Sets page id's type in the free map (Q_FREE, Q_REGULAR, Q_INTERNAL, Q_PENDING) with no check
 * at all, as a bug would, to make files that quire_pager_check() must find inconsistent (the
 * next commit writes them) or, with Q_PENDING (not recorded as freed), an in-memory state
 * q_pager_validate() must reject. 0, QUIRE_EINVAL (id past the end, bad type), QUIRE_ENOMEM. */
int q_pager_set_type(quire_pager *p, uint64_t id, unsigned type);

/* NULL when the invariants of pager/internal.h hold, else a sentence naming the first that does
 * not. */
const char *q_pager_validate(const quire_pager *p);

/* Deliberate faults for the negative controls of the crash tests (tests/unit/
 * test_pager_powerloss.c): each breaks one rule of the commit chain, and the power-loss harness
 * must find images that open in a state no commit made. Never set outside tests. */
enum {
    Q_FAULT_NONE = 0,
    Q_FAULT_ANCHOR_COPY = 1, /* metadata nodes written over the copy the anchor uses */
    Q_FAULT_IN_PLACE = 2,    /* content pages the last commit holds rewritten in place */
    Q_FAULT_SAME_SLOT = 3,   /* the superblock written over the slot that holds the anchor */
    Q_FAULT_NO_VERIFY = 4,   /* open trusts the newest slot without checking what it wrote */
};
extern int q_pager_test_fault;

#endif
