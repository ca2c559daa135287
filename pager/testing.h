/*
 * pager/testing.h - hooks for the tests that look inside a pager or damage it on purpose
 * (tests/unit/test_pager_api.c, test_pager_corrupt.c): what they need of the pager's state,
 * without pager/internal.h; and the pager's validator, which debug builds also run after every
 * commit and load (pager/validate.c, base/assert.h). Nothing else in the library calls them.
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

#endif
