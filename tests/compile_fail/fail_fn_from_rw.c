/* Taking a function address from a writable region. */
/* expect: incompatible type|passing 'quire_pages_rw' */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_fn f = quire_pages_rx_fn(rw, 0);
    f();
    return 0;
}
