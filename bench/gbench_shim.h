/*
 * bench/gbench_shim.h - a C interface to Google Benchmark (libbenchmark, a C++ library).
 *
 * The micro-benchmarks (bench/micro.c) are plain C so that what they measure is exactly the C
 * malloc family; this header is all they see of Google Benchmark. gbench_shim.cc wraps
 * benchmark::State in the opaque gbench_state and forwards each call. A benchmark body is
 *
 *     static void bm_pair(gbench_state *st) {
 *         size_t n = (size_t)gbench_range(st, 0);
 *         while (gbench_keep_running_batch(st, 64))
 *             for (int i = 0; i < 64; i++) { void *p = malloc(n); GBENCH_ESCAPE(p); free(p); }
 *         gbench_set_items_processed(st, gbench_iterations(st));
 *     }
 *
 * registered from main() with gbench_register(), after which gbench_main() parses the usual
 * --benchmark_* options (--benchmark_format=json, --benchmark_out=FILE, --benchmark_filter=RE,
 * --benchmark_min_time=SECONDS ...), runs the selected benchmarks and reports.
 */
#ifndef QUIRE_BENCH_GBENCH_SHIM_H
#define QUIRE_BENCH_GBENCH_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The running state of one benchmark run (a benchmark::State). */
typedef struct gbench_state gbench_state;

/* A benchmark body. */
typedef void (*gbench_fn)(gbench_state *st);

/* Flags for gbench_register. */
#define GBENCH_REAL_TIME 1 /* report wall time, not the main thread's CPU time */

/* Keep the compiler from optimizing p (and what it points to) away. */
#define GBENCH_ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

/*
 * Register a benchmark.
 * @param name    base name; Google Benchmark appends "/arg0/arg1..." per case and
 *                "/threads:N" when threads > 1
 * @param fn      the body
 * @param args    ncases * nargs argument values, case after case (NULL when nargs is 0)
 * @param nargs   arguments per case (0: one case, no arguments)
 * @param ncases  number of cases
 * @param threads threads running the body at once (0 or 1: one)
 * @param flags   GBENCH_REAL_TIME or 0
 */
void gbench_register(const char *name, gbench_fn fn, const int64_t *args, int nargs, int ncases,
                     int threads, int flags);

/* Run the benchmarks selected on the command line; returns the process exit status. */
int gbench_main(int argc, char **argv);

/* Loop control: true while the benchmark should go on; each true counts n iterations (the body
 * then does n operations). Call until it returns false. */
bool gbench_keep_running_batch(gbench_state *st, int64_t n);

/* The i-th argument of the current case. */
int64_t gbench_range(gbench_state *st, int i);

/* Iterations done so far (after the loop: in total). */
int64_t gbench_iterations(gbench_state *st);

/* Index of the calling thread (0 .. threads - 1) and the number of threads. */
int gbench_thread_index(gbench_state *st);
int gbench_threads(gbench_state *st);

/* Report items/s and bytes/s (the runner derives ns per item from items/s). */
void gbench_set_items_processed(gbench_state *st, int64_t n);
void gbench_set_bytes_processed(gbench_state *st, int64_t n);

/* Stop and restart the timer around set-up work inside the loop. */
void gbench_pause_timing(gbench_state *st);
void gbench_resume_timing(gbench_state *st);

/* Mark the run as failed with msg (it is reported and the result not used). Call before the
 * loop or return right after. */
void gbench_skip_with_error(gbench_state *st, const char *msg);

#ifdef __cplusplus
}
#endif

#endif
