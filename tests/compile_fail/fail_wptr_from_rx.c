/* Taking a writable pointer from an executable region. */
/* expect: incompatible type|passing 'quire_pages_rx' */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_rx rx;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_pages_rw_to_rx(&rw, &rx);
    char *p = quire_pages_rw_ptr(rx);
    p[0] = 0;
    return 0;
}
