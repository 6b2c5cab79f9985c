#pragma once
// What integration tests that drive a node over DICOM and its console API share: a
// folder pushed, its answers as JSON, a bounded wait for a condition, settings lists joined.
#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/node_process.hpp"
#include "support/wait.hpp"

namespace volnode::test {

// The answer to GET `path` as JSON; null when the status is not 200 or the body not JSON.
inline nlohmann::json apiJson(const NodeProcess& node, const std::string& path) {
  auto response = node.get(path);
  if (response.status != 200) return nullptr;
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

// Results a CT series' default render sends: VR spin, MIP spin, key views, STL model.
inline constexpr std::size_t kResultsPerCtSeries = 4;

// Pushes every file under `folder` to the node with storescu (fails the test if it fails).
inline void pushFolder(const NodeProcess& node, const std::filesystem::path& folder) {
  auto argv = node.scu("storescu", {"+sd", "+r"});
  argv.push_back(folder.string());
  auto sent = run(argv);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
}

// True once the node's console says the series' render is done.
inline bool seriesDone(const NodeProcess& node, const std::string& series_uid) {
  return apiJson(node, "/api/series/" + series_uid).value("state", "") == "done";
}

inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace volnode::test
