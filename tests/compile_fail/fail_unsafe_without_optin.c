/* Using the unsafe escape hatch without defining QUIRE_UNSAFE. */
/* expect: unavailable */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_alloc_rw(4096, 0, &rw);
    return quire_pages_unsafe_make_rwx(&rw);
}
