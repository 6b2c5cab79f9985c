#pragma once
// A bounded wait for a condition, for tests that watch something happen in another
// thread or process.
#include <chrono>
#include <thread>

namespace volnode::test {

// Asks `done` every `poll` until it says true (true) or `timeout` has passed (false).
template <typename Pred>
bool waitFor(Pred done, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace volnode::test
