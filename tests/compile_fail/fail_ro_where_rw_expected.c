/* Passing a read-only handle where a writable one is expected (a transition from rw). */
/* expect: not compatible with any */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_ro ro;
    quire_pages_rx rx;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_pages_rw_to_ro(&rw, &ro);
    return quire_pages_rw_to_rx(&ro, &rx);
}
