// bench/gbench_shim.cc - the C++ side of gbench_shim.h: forwards each call to Google Benchmark.
//
// gbench_state is never defined: a gbench_state * is a benchmark::State * under another name,
// which keeps the C side free of C++ types. Each registered C body is wrapped in a lambda.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <vector>

static benchmark::State &S(gbench_state *st) {
    return *reinterpret_cast<benchmark::State *>(st);
}

extern "C" void gbench_register(const char *name, gbench_fn fn, const int64_t *args, int nargs,
                                int ncases, int threads, int flags) {
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        name, [fn](benchmark::State &st) { fn(reinterpret_cast<gbench_state *>(&st)); });
    for (int c = 0; nargs > 0 && c < ncases; c++)
        b->Args(std::vector<int64_t>(args + c * nargs, args + (c + 1) * nargs));
    if (threads > 1) b->Threads(threads);
    if (flags & GBENCH_REAL_TIME) b->UseRealTime();
}

extern "C" int gbench_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

extern "C" bool gbench_keep_running_batch(gbench_state *st, int64_t n) {
    return S(st).KeepRunningBatch(n);
}
extern "C" int64_t gbench_range(gbench_state *st, int i) {
    return S(st).range(i);
}
extern "C" int64_t gbench_iterations(gbench_state *st) {
    return S(st).iterations();
}
extern "C" int gbench_thread_index(gbench_state *st) {
    return S(st).thread_index();
}
extern "C" int gbench_threads(gbench_state *st) {
    return S(st).threads();
}
extern "C" void gbench_set_items_processed(gbench_state *st, int64_t n) {
    S(st).SetItemsProcessed(n);
}
extern "C" void gbench_set_bytes_processed(gbench_state *st, int64_t n) {
    S(st).SetBytesProcessed(n);
}
extern "C" void gbench_pause_timing(gbench_state *st) {
    S(st).PauseTiming();
}
extern "C" void gbench_resume_timing(gbench_state *st) {
    S(st).ResumeTiming();
}
extern "C" void gbench_skip_with_error(gbench_state *st, const char *msg) {
    S(st).SkipWithError(msg);
}
