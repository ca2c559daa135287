/*
 * tests/preload/test_cxx_new.cc - C++ operator new and delete, in all their
 * forms, are quire's.
 *
 * Linked against libquire.so: every replaceable allocation function of C++17
 * (plain, array, nothrow, aligned, sized and aligned-sized delete) must hand
 * out blocks quire owns, aligned as asked, and take them back. Failure
 * semantics: the throwing forms throw std::bad_alloc after calling the
 * installed new_handler; the nothrow forms call it too and return nullptr when
 * there is none left or it throws. Containers and strings work on top of it.
 */
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "check.h"
#include "quire/alloc.h"

// Sizes the compiler cannot fold (no warnings about impossible constant sizes).
static volatile std::size_t huge_size = SIZE_MAX / 2;

static bool aligned(const void *p, std::size_t a) {
    return (reinterpret_cast<std::uintptr_t>(p) & (a - 1)) == 0;
}

struct alignas(256) Wide {
    char bytes[300];
};

static int handler_calls;

static void counting_handler() {
    handler_calls++;
    std::set_new_handler(nullptr); // next failure throws
}

int main() {
    TEST("operator new/delete: plain, array, sized");
    void *p = ::operator new(100);
    CHECK(p != nullptr && quire_owns(p) == 1 && aligned(p, 16));
    std::memset(p, 1, 100);
    ::operator delete(p);
    p = ::operator new(100);
    CHECK(quire_owns(p) == 1);
    ::operator delete(p, std::size_t(100));
    p = ::operator new[](5000);
    CHECK(p != nullptr && quire_owns(p) == 1);
    ::operator delete[](p);
    p = ::operator new[](5000);
    CHECK(quire_owns(p) == 1);
    ::operator delete[](p, std::size_t(5000));
    p = ::operator new(0);
    CHECK(p != nullptr && quire_owns(p) == 1);
    ::operator delete(p);
    p = ::operator new(3u << 20);
    CHECK(p != nullptr && quire_owns(p) == 1);
    std::memset(p, 2, 3u << 20);
    ::operator delete(p, std::size_t(3u << 20));

    TEST("operator new/delete: nothrow");
    p = ::operator new(64, std::nothrow);
    CHECK(p != nullptr && quire_owns(p) == 1);
    ::operator delete(p, std::nothrow);
    p = ::operator new[](64, std::nothrow);
    CHECK(p != nullptr && quire_owns(p) == 1);
    ::operator delete[](p, std::nothrow);
    CHECK(::operator new(huge_size, std::nothrow) == nullptr);
    CHECK(::operator new[](huge_size, std::nothrow) == nullptr);

    TEST("operator new/delete: aligned (std::align_val_t), every power of two to "
         "1 MiB");
    int bad = 0;
    for (std::size_t a = 1; a <= (1u << 20); a <<= 1) {
        std::align_val_t al{a};
        void *q1 = ::operator new(a + 7, al);
        void *q2 = ::operator new[](3 * a, al);
        void *q3 = ::operator new(100, al, std::nothrow);
        void *q4 = ::operator new[](100, al, std::nothrow);
        for (void *q : {q1, q2, q3, q4})
            if (!q || !aligned(q, a) || quire_owns(q) != 1) bad++;
        std::memset(q1, 3, a + 7);
        std::memset(q2, 4, 3 * a);
        ::operator delete(q1, std::size_t(a + 7), al);
        ::operator delete[](q2, std::size_t(3 * a), al);
        ::operator delete(q3, al, std::nothrow);
        ::operator delete[](q4, al, std::nothrow);
        void *q5 = ::operator new(a, al);
        ::operator delete(q5, al);
        void *q6 = ::operator new[](a, al);
        ::operator delete[](q6, al);
    }
    CHECK_EQ(bad, 0);
    CHECK(::operator new (huge_size, std::align_val_t{64}, std::nothrow) == nullptr);

    TEST("new-expressions: over-aligned types, arrays");
    Wide *w = new Wide;
    CHECK(aligned(w, 256) && quire_owns(w) == 1);
    delete w;
    Wide *wa = new Wide[10];
    CHECK(aligned(wa, 256));
    delete[] wa;
    int *ia = new int[1000]();
    bool zero = true;
    for (int i = 0; i < 1000; i++)
        if (ia[i]) zero = false;
    CHECK(zero);
    delete[] ia;

    TEST("failure: std::bad_alloc after the new_handler ran");
    bool threw = false;
    try {
        void *never = ::operator new(huge_size);
        ::operator delete(never);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    threw = false;
    try {
        void *never = ::operator new[](huge_size, std::align_val_t{4096});
        ::operator delete[](never, std::align_val_t{4096});
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    handler_calls = 0;
    std::set_new_handler(counting_handler);
    threw = false;
    try {
        void *never = ::operator new(huge_size);
        ::operator delete(never);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    CHECK_EQ(handler_calls, 1);

    /* The nothrow forms call the new_handler too (as libstdc++, jemalloc and tcmalloc do):
       nullptr only when there is none left or it throws. */
    TEST("nothrow new calls the new_handler, then gives nullptr");
    struct nt_case {
        const char *name;
        void *(*alloc)();
    } nt[] = {
        {"plain", [] { return ::operator new(huge_size, std::nothrow); }},
        {"array", [] { return ::operator new[](huge_size, std::nothrow); }},
        {"aligned", [] { return ::operator new(huge_size, std::align_val_t{64}, std::nothrow); }},
        {"aligned array",
         [] { return ::operator new[](huge_size, std::align_val_t{4096}, std::nothrow); }},
    };
    for (auto &c : nt) {
        TEST(c.name);
        handler_calls = 0;
        std::set_new_handler(counting_handler); /* uninstalls itself after one call */
        CHECK(c.alloc() == nullptr);
        CHECK_EQ(handler_calls, 1);
        handler_calls = 0;
        std::set_new_handler([] {
            handler_calls++;
            if (handler_calls == 3) throw std::bad_alloc();
        });
        CHECK(c.alloc() == nullptr); /* the throw is caught inside: nothrow */
        CHECK_EQ(handler_calls, 3);
        std::set_new_handler(nullptr);
    }

    TEST("containers and strings on quire");
    std::map<std::string, std::vector<std::string>> m;
    for (int i = 0; i < 5000; i++) {
        std::string k = "key-" + std::to_string(i % 701);
        m[k].push_back(std::string(static_cast<std::size_t>(i % 97), char('a' + i % 26)));
    }
    std::size_t total = 0;
    for (auto &kv : m)
        for (auto &s : kv.second) total += s.size();
    std::size_t expect = 0;
    for (int i = 0; i < 5000; i++) expect += static_cast<std::size_t>(i % 97);
    CHECK_EQ(m.size(), 701);
    CHECK_EQ(total, expect);
    std::string big(1u << 20, 'x');
    CHECK(quire_owns(big.data()) == 1);
    return check_done();
}
