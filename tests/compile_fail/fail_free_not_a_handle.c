/* Freeing something that is not a page handle. */
/* expect: not compatible with any */
#include "quire/pages.h"

int main(void) {
    int x = 0;
    return quire_pages_free(&x);
}
