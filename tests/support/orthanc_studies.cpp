#include "support/orthanc_studies.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace volnode::test {

using nlohmann::json;

std::string uploadToOrthanc(const OrthancProcess& orthanc, const std::filesystem::path& folder) {
  std::string study;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    auto response = orthanc.post("/instances", readBytes(entry.path()), "application/dicom");
    if (response.status != 200) continue;
    study = json::parse(response.body, nullptr, false).value("ParentStudy", study);
  }
  return study;
}

json orthancJson(const OrthancProcess& orthanc, const std::string& path) {
  auto response = orthanc.get(path);
  EXPECT_EQ(response.status, 200) << path;
  return json::parse(response.body.empty() ? "null" : response.body, nullptr, false);
}

std::vector<json> nodeJobs(const NodeProcess& node, const std::string& kind) {
  std::vector<json> out;
  auto response = node.get("/api/jobs?kind=" + kind);
  auto body = json::parse(response.status == 200 ? response.body : "{}", nullptr, false);
  if (body.is_object() && body.contains("jobs"))
    for (const auto& j : body["jobs"]) out.push_back(j);
  return out;
}

bool jobFinished(const json& job) {
  const std::string state = job.value("state", "");
  return state == "succeeded" || state == "failed" || state == "canceled";
}

json waitForFinishedJob(const NodeProcess& node, const std::string& kind, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& j : nodeJobs(node, kind))
      if (jobFinished(j)) return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return json();
}

}  // namespace volnode::test
