#pragma once
// Work over the slices of a volume on all cores: slices are handed out in small
// chunks, so a thread slowed by the machine's other work does not hold the rest up.
#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

namespace volnode {

inline int volumeThreads() { return std::max(1, int(std::thread::hardware_concurrency())); }

// Calls fn(begin, end) for consecutive chunks [begin, end) of [0, n), at most
// `chunk` long, on up to `threads` threads (the caller's among them). The first
// exception thrown by any chunk is rethrown once all threads have stopped.
template <class Fn>
void forEachChunk(int n, int chunk, int threads, Fn&& fn) {
  chunk = std::max(1, chunk);
  threads = std::clamp(threads, 1, std::max(1, (n + chunk - 1) / chunk));
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  auto work = [&]() {
    try {
      for (int begin = next.fetch_add(chunk); begin < n && !failed; begin = next.fetch_add(chunk))
        fn(begin, std::min(n, begin + chunk));
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace volnode
