/* Reading code bytes of an rx region through the ro accessor (kinds are not interchangeable). */
/* expect: incompatible type|passing 'quire_pages_rx' */
#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_rx rx;
    quire_pages_alloc_rw(4096, 0, &rw);
    quire_pages_rw_to_rx(&rw, &rx);
    const void *p = quire_pages_ro_ptr(rx);
    return p != 0;
}
