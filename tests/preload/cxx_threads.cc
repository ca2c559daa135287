/*
 * tests/preload/cxx_threads.cc - a C++ program with threads, strings, maps and
 * vectors.
 *
 * Built two ways: by the Makefile linked against libquire.so (a test of its
 * own, run by tests/run.sh), and by tests/scripts/real_programs.sh with plain
 * g++ and run with and without LD_PRELOAD=libquire.so; the outputs must be
 * identical. Each of 8 threads builds maps of strings to vectors from its own
 * deterministic generator, sorts, erases, and passes strings to the next thread
 * through a queue (so strings die on a thread other than their allocator's).
 * Everything it prints is deterministic: per-thread checksums and
 * order-independent sums of what crossed the queues. It checks itself: thread
 * 0's work redone on the main thread must give the same checksum, and what each
 * consumer received must match what its producer sent. When quire is present
 * (its quire_owns is found at run time, weakly), every string buffer must be
 * quire's.
 */
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

extern "C" int quire_owns(const void *p) __attribute__((weak));

namespace {

constexpr int kThreads = 8;
constexpr int kItems = 20000;

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::uint64_t fnv(const std::string &s, std::uint64_t h = 1469598103934665603ull) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> items;
    void push(std::string s) {
        {
            std::lock_guard<std::mutex> lk(mu);
            items.push_back(std::move(s));
        }
        cv.notify_one();
    }
    std::string pop() {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [this] { return !items.empty(); });
        std::string s = std::move(items.front());
        items.pop_front();
        return s;
    }
};

struct Result {
    std::uint64_t work = 0;     // checksum of the thread's own data structures
    std::uint64_t sent = 0;     // sum of hashes of the strings sent
    std::uint64_t received = 0; // sum of hashes of the strings received
    long foreign = 0;           // string buffers quire did not own (when quire is present)
};

Queue queues[kThreads];

std::string make_string(std::uint64_t &rng, int i) {
    rng = mix(rng + static_cast<std::uint64_t>(i));
    std::size_t len = static_cast<std::size_t>(rng % 200);
    if (rng % 97 == 0) len += 5000;
    std::string s = "s" + std::to_string(i) + ":";
    for (std::size_t k = 0; k < len; k++)
        s.push_back(static_cast<char>('a' + (rng >> (k % 50)) % 26));
    return s;
}

// The thread's own work; deterministic for a given id.
std::uint64_t own_work(int id, long *foreign) {
    std::uint64_t rng = mix(static_cast<std::uint64_t>(id) + 1);
    std::map<std::string, std::vector<std::string>> m;
    std::unordered_map<std::uint64_t, std::shared_ptr<std::string>> u;
    for (int i = 0; i < kItems; i++) {
        std::string s = make_string(rng, i);
        if (quire_owns && s.size() > 40 && quire_owns(s.data()) != 1) (*foreign)++;
        std::string key = s.substr(0, std::min<std::size_t>(s.size(), 6));
        m[key].push_back(s);
        u[rng % 4096] = std::make_shared<std::string>(s + s);
        if (i % 7 == 0 && !m.empty()) m.erase(m.begin());
    }
    std::vector<std::string> all;
    for (auto &kv : m)
        for (auto &s : kv.second) all.push_back(kv.first + "|" + s);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::uint64_t h = 1469598103934665603ull;
    for (auto &s : all) h = fnv(s, h);
    std::uint64_t uh = 0;
    for (auto &kv : u) uh += mix(kv.first) ^ fnv(*kv.second);
    return h ^ (uh * 31) ^ all.size();
}

void run(int id, Result *r) {
    r->work = own_work(id, &r->foreign);
    // Send strings to the next thread, receive from the previous one.
    std::uint64_t rng = mix(static_cast<std::uint64_t>(id) * 7919 + 13);
    Queue &out = queues[(id + 1) % kThreads];
    Queue &in = queues[id];
    for (int i = 0; i < kItems; i++) {
        std::string s = make_string(rng, i);
        r->sent += fnv(s);
        out.push(std::move(s));
        if (i % 2 == 1) {
            r->received += fnv(in.pop());
            r->received += fnv(in.pop());
        }
    }
}

} // namespace

int main() {
    std::vector<Result> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++) threads.emplace_back(run, i, &results[i]);
    for (auto &t : threads) t.join();

    int passed = 0, failed = 0;
    auto check = [&](bool ok, const char *what) {
        if (ok)
            passed++;
        else {
            failed++;
            std::fprintf(stderr, "FAIL cxx_threads: %s\n", what);
        }
    };
    std::uint64_t total = 0;
    for (int i = 0; i < kThreads; i++) {
        std::printf("thread %d: work %016llx sent %016llx received %016llx\n", i,
                    static_cast<unsigned long long>(results[i].work),
                    static_cast<unsigned long long>(results[i].sent),
                    static_cast<unsigned long long>(results[i].received));
        total ^= results[i].work + results[i].sent;
        check(results[i].received == results[(i + kThreads - 1) % kThreads].sent,
              "a consumer received what its producer sent");
        check(results[i].foreign == 0, "string buffers are quire's");
    }
    long foreign = 0;
    check(own_work(0, &foreign) == results[0].work, "thread 0's work redone on main matches");
    std::printf("total %016llx\n", static_cast<unsigned long long>(total));
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
