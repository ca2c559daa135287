/*
 * preload/new_handler.cc - the nothrow operator new's new-handler loop, the one place in the
 * preload layer that must catch a C++ exception.
 *
 * operator new(size, std::nothrow) must behave as libstdc++'s does: on failure, call the
 * installed std::new_handler and retry, and return NULL only when there is no handler or the
 * handler throws (std::bad_alloc, or anything: libstdc++ catches all). Catching needs C++, so
 * this file is compiled as C++ with exceptions (no RTTI: catch (...) needs none). So that
 * libquire.so still does not depend on libstdc++ or libgcc_s, every C++ runtime symbol it
 * refers to is weak: a program that is not C++ never reaches this code (there is no
 * new-handler to call), and a C++ program has loaded the runtime that defines them.
 */
#include <stddef.h>

extern "C" {
typedef void (*q_new_handler)(void);
q_new_handler _ZSt15get_new_handlerv(void) noexcept __attribute__((weak));
void *q_alloc_aligned(size_t align, size_t size, unsigned kind)
    __attribute__((visibility("hidden")));
void *q_new_nothrow_retry(size_t n, size_t align, unsigned kind)
    __attribute__((visibility("hidden")));
}

/* The references the compiler makes for try/catch, weak (see above). */
__asm__(".weak __gxx_personality_v0\n\t.weak __cxa_begin_catch\n\t.weak __cxa_end_catch\n\t"
        ".weak _Unwind_Resume");

void *q_new_nothrow_retry(size_t n, size_t align, unsigned kind) {
    for (;;) {
        q_new_handler h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : nullptr;
        if (!h) return nullptr;
        try {
            h();
        } catch (...) {
            return nullptr;
        }
        void *p = q_alloc_aligned(align < 16 ? 16 : align, n, kind);
        if (p) return p;
    }
}
