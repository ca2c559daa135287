/*
 * tests/cxx/headers_example.cc - the public headers used from C++17: every macro that C
 * dispatches with _Generic (quire_pages_free, quire_pages_size, quire_pages_populate,
 * quire_map_close, ...) and each module's main calls, compiled with g++ (and clang++) with
 * -Wall -Wextra -Werror and run by tests/scripts/cxx_headers.sh. Prints "N passed, N failed".
 */
#include <quire/alloc.h>
#include <quire/error.h>
#include <quire/jit.h>
#include <quire/map.h>
#include <quire/pager.h>
#include <quire/pages.h>
#include <quire/pheap.h>
#include <quire/pvec.h>
#include <quire/rawmem.h>
#include <quire/ring.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

static int passed, failed;

static void check(bool ok, const char *what, int line) {
    if (ok) {
        passed++;
    } else {
        failed++;
        std::printf("FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(e)       check((e), #e, __LINE__)
#define CHECK_OK(call) check((call) == 0, #call, __LINE__)

static void pages() {
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(3 * quire_page_size(), QUIRE_PAGES_GUARD, &rw));
    CHECK(quire_pages_size(&rw) == 3 * quire_page_size());
    CHECK(quire_pages_has_guards(&rw) == 1);
    CHECK(quire_pages_is_sealed(&rw) == 0);
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_SEQUENTIAL));
    CHECK_OK(quire_pages_advise_range(&rw, 0, quire_page_size(), QUIRE_ADVICE_WILLNEED));
    CHECK_OK(quire_pages_populate(&rw));
    int rc = quire_pages_lock(&rw); /* RLIMIT_MEMLOCK may refuse: only the dispatch matters */
    CHECK(rc == 0 || rc == QUIRE_ENOMEM || rc == QUIRE_EPERM);
    if (rc == 0) CHECK_OK(quire_pages_unlock(&rw));
    std::strcpy(static_cast<char *>(quire_pages_rw_ptr(rw)), "typed pages from C++");

    const quire_pages_rw *crw = &rw; /* a const handle: the read-only operations accept it */
    CHECK(quire_pages_size(crw) == 3 * quire_page_size());

    quire_pages_ro ro;
    CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
    CHECK(quire_pages_rw_ptr(rw) == nullptr); /* consumed */
    CHECK(std::strcmp(static_cast<const char *>(quire_pages_ro_ptr(ro)), "typed pages from C++") ==
          0);
    CHECK_OK(quire_pages_populate(&ro));
    quire_pages_none none;
    CHECK_OK(quire_pages_ro_to_none(&ro, &none));
    CHECK(quire_pages_populate(&none) == QUIRE_EINVAL);
    CHECK_OK(quire_pages_free(&none));
    CHECK(quire_pages_free(&none) == QUIRE_ECONSUMED);

#if defined(__x86_64__)
    static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
    quire_pages_rw code;
    quire_pages_rx rx;
    CHECK_OK(quire_pages_alloc_rw(sizeof ret42, 0, &code));
    std::memcpy(quire_pages_rw_ptr(code), ret42, sizeof ret42);
    CHECK_OK(quire_pages_rw_to_rx(&code, &rx));
    int (*fn)(void) = reinterpret_cast<int (*)(void)>(quire_pages_rx_fn(rx, 0));
    CHECK(fn && fn() == 42);
    CHECK_OK(quire_pages_free(&rx));
#endif
    quire_pages_none res;
    quire_pages_rw back;
    CHECK_OK(quire_pages_alloc_none(1, 0, &res));
    CHECK_OK(quire_pages_none_to_rw(&res, &back));
    CHECK_OK(quire_pages_rw_resize(&back, 2 * quire_page_size(), QUIRE_RESIZE_MAYMOVE));
    CHECK_OK(quire_pages_rw_decommit(&back, 0, 0));
    CHECK_OK(quire_pages_free(&back));
}

static void map(const std::string &dir) {
    std::string path = dir + "/map.bin";
    quire_map_options opt = {};
    opt.flags = QUIRE_MAP_CREATE | QUIRE_MAP_RESIZE;
    opt.resize_to = 8192;
    quire_map_rw rw;
    CHECK_OK(quire_map_open_rw(path.c_str(), &opt, &rw));
    CHECK(quire_map_len(&rw) == 8192);
    std::memcpy(quire_map_rw_ptr(rw), "mapped", 7);
    CHECK_OK(quire_map_flush(&rw, 0, 0));
    CHECK_OK(quire_map_advise(&rw, 0, 0, QUIRE_ADVICE_RANDOM));
    int rc = quire_map_lock(&rw, 0, 4096);
    CHECK(rc == 0 || rc == QUIRE_ENOMEM || rc == QUIRE_EPERM);
    if (rc == 0) CHECK_OK(quire_map_unlock(&rw, 0, 4096));
    quire_map_ro ro;
    CHECK_OK(quire_map_rw_to_ro(&rw, &ro));
    const quire_map_ro *cro = &ro;
    CHECK(quire_map_len(cro) == 8192);
    CHECK(std::strcmp(static_cast<const char *>(quire_map_ro_ptr(ro)), "mapped") == 0);
    CHECK_OK(quire_map_close(&ro));
    CHECK(quire_map_close(&ro) == QUIRE_ECONSUMED);
    CHECK(quire_map_align_down(4097) == 4096);
}

static void pager_and_heap(const std::string &dir) {
    std::string pf = dir + "/p.qp";
    quire_pager *p = nullptr;
    CHECK_OK(quire_pager_create(pf.c_str(), 4096, &p));
    uint64_t id = 0;
    void *page = nullptr;
    CHECK_OK(quire_pager_alloc(p, &id));
    CHECK_OK(quire_pager_get_write(p, id, &page));
    std::memcpy(page, "hello", 6);
    CHECK_OK(quire_pager_commit(p));
    CHECK_OK(quire_pager_close(p));
    quire_pager_report r = {};
    CHECK_OK(quire_pager_check(pf.c_str(), &r));

    std::string hf = dir + "/h.heap";
    quire_pheap *h = nullptr;
    CHECK_OK(quire_pheap_open(hf.c_str(), QUIRE_PHEAP_CREATE, 0, &h));
    quire_pref root = QUIRE_PREF_NULL;
    CHECK_OK(quire_pheap_root(h, &root));
    CHECK(root.off == 0);
    CHECK_OK(quire_pheap_zalloc(h, 64, &root));
    CHECK_OK(quire_pheap_set(h, root, 0, "persistent", 11));
    CHECK_OK(quire_pheap_set_root(h, root));
    CHECK_OK(quire_pheap_commit(h));
    CHECK(std::strcmp(static_cast<const char *>(quire_pheap_ptr(h, root)), "persistent") == 0);
    CHECK_OK(quire_pheap_close(h));
}

static void companions(const std::string &dir) {
    quire_pvec v;
    CHECK_OK(quire_pvec_init(&v, sizeof(uint64_t), 0, QUIRE_PVEC_DEFAULT));
    for (uint64_t i = 0; i < 1000; i++) CHECK_OK(quire_pvec_push(&v, &i));
    CHECK(quire_pvec_len(&v) == 1000);
    CHECK(*static_cast<uint64_t *>(quire_pvec_get(&v, 999)) == 999);
    CHECK_OK(quire_pvec_destroy(&v));

    quire_ring r;
    CHECK_OK(quire_ring_create(4096, QUIRE_RING_DEFAULT, &r));
    size_t n = 0;
    CHECK_OK(quire_ring_printf(&r, &n, "line %d\n", 1));
    char buf[32];
    CHECK_OK(quire_ring_getline(&r, buf, sizeof buf, &n));
    CHECK(std::string(buf) == "line 1\n");
    CHECK_OK(quire_ring_destroy(&r));

    quire_rawmem m;
    CHECK_OK(quire_rawmem_open_temp(&m, dir.c_str(), 4));
    CHECK_OK(quire_rawmem_grow_bytes(&m, 10, 0xab));
    CHECK(quire_rawmem_len(&m) == 10);
    CHECK_OK(quire_rawmem_close(&m));

    quire_jit j;
    CHECK_OK(quire_jit_create(4096, QUIRE_JIT_DEFAULT, &j));
#if defined(__x86_64__)
    CHECK_OK(quire_jit_emit8(&j, 0xb8)); /* mov eax, imm32; ret */
    CHECK_OK(quire_jit_emit32(&j, 7));
    CHECK_OK(quire_jit_emit8(&j, 0xc3));
    CHECK_OK(quire_jit_seal(&j));
    int (*fn)(void) = reinterpret_cast<int (*)(void)>(quire_jit_fn(&j, 0));
    CHECK(fn && fn() == 7);
#endif
    CHECK_OK(quire_jit_destroy(&j));

    void *b = quire_malloc(100);
    CHECK(b && quire_owns(b) == 1 && quire_malloc_usable_size(b) >= 100);
    quire_free(b);
    void *a = quire_aligned_alloc(256, 512);
    CHECK(a && reinterpret_cast<uintptr_t>(a) % 256 == 0);
    quire_free(a);
    CHECK(std::string(quire_strerror(QUIRE_ENOMEM)).size() > 0);
    CHECK(std::string(quire_version()) == QUIRE_VERSION_STRING);
}

int main() {
    char tmpl[] = "/tmp/quire-cxx.XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    std::string dir = tmpl;
    pages();
    map(dir);
    pager_and_heap(dir);
    companions(dir);
    for (const char *f : {"map.bin", "p.qp", "h.heap"}) unlink((dir + "/" + f).c_str());
    rmdir(dir.c_str());
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
