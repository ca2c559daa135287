/* Receiving a new writable region into a read-only handle. */
/* expect: not compatible with any */
#include "quire/pages.h"

int main(void) {
    quire_pages_ro ro;
    return quire_pages_alloc_rw(4096, 0, &ro);
}
