#pragma once
// What integration tests that drive a node over its console API share: its answers as
// JSON, a bounded wait for a condition, and settings lists joined.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/node_process.hpp"

namespace volnode::test {

// The answer to GET `path` as JSON; null when the status is not 200 or the body not JSON.
inline nlohmann::json apiJson(const NodeProcess& node, const std::string& path) {
  auto response = node.get(path);
  return response.status == 200 ? nlohmann::json::parse(response.body, nullptr, false) : nlohmann::json();
}

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

inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace volnode::test
