/* Control: correct use of the typed pages API must compile (with -Wall -Wextra -Werror). */
#include <string.h>

#include "quire/pages.h"

int main(void) {
    quire_pages_rw rw;
    quire_pages_ro ro;
    quire_pages_rx rx;
    quire_pages_none none;
    if (quire_pages_alloc_rw(4096, QUIRE_PAGES_GUARD, &rw)) return 1;
    memset(quire_pages_rw_ptr(rw), 0xc3, quire_pages_size(&rw));
    if (quire_pages_rw_to_ro(&rw, &ro)) return 1;
    const unsigned char *p = quire_pages_ro_ptr(ro);
    if (p[0] != 0xc3) return 1;
    if (quire_pages_ro_to_rx(&ro, &rx)) return 1;
    quire_fn f = quire_pages_rx_fn(rx, 0);
    (void)f;
    if (quire_pages_rx_to_none(&rx, &none)) return 1;
    if (quire_pages_none_to_rw(&none, &rw)) return 1;
    if (quire_pages_rw_decommit(&rw, 0, 0)) return 1;
    if (quire_pages_rw_resize(&rw, 8192, QUIRE_RESIZE_MAYMOVE)) return 1;
    (void)quire_pages_advise(&rw, QUIRE_ADVICE_SEQUENTIAL);
    return quire_pages_free(&rw);
}
