/* Assigning one handle kind to another. */
/* expect: invalid initializer|incompatible types|initializing 'quire_pages_rw' */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_ro ro;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_pages_rw_to_ro(&rw, &ro);
    quire_pages_rw again = ro;
    (void)again;
    return 0;
}
