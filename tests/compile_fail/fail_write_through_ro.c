/* Writing through the pointer of a read-only region. */
/* expect: read-only|not assignable */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_ro ro;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_pages_rw_to_ro(&rw, &ro);
    const char *p = quire_pages_ro_ptr(ro);
    p[0] = 'x';
    return 0;
}
