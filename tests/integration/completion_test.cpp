// When is a series complete? Real `volnode serve`, real storescu, synthetic series.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/node_process.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using nlohmann::json;

namespace {

WrittenSeries completionSeries(const std::filesystem::path& dir, int slices, std::vector<Vec3> positions = {}) {
  SyntheticSeries s;
  s.rows = s.cols = 32;
  s.slices = slices;
  s.slice_spacing = 2.0;
  s.positions = std::move(positions);
  return writeSyntheticSeries(s, dir);
}

int send(const NodeProcess& node, const std::vector<std::filesystem::path>& files) {
  auto argv = node.scu("storescu");
  for (const auto& f : files) argv.push_back(f.string());
  return run(argv).exit_code;
}

json series(const NodeProcess& node, const std::string& uid) {
  auto response = node.get("/api/series/" + uid);
  return response.status == 200 ? json::parse(response.body) : json();
}

std::string waitForStateOtherThan(const NodeProcess& node, const std::string& uid, const std::string& state,
                                  std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = series(node, uid);
    if (!s.is_null() && s["state"] != state) return s["state"];
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return state;
}

std::vector<std::string> reasonsOf(const json& s, const std::string& state) {
  std::vector<std::string> reasons;
  for (const auto& t : s["transitions"])
    if (t["state"] == state) reasons.push_back(t["reason"]);
  return reasons;
}

}  // namespace

TEST(Completion, SeriesOverTwoAssociationsWithAPauseIsNotCompletedEarly) {
  TempDir dir;
  // The grace is well above the pause, even on a busy CI machine. The completion decision
  // itself: no start on release (speculative_start_test.cpp covers it).
  NodeProcess node(dir / "node", {"completion.quiet_s=30", "completion.release_grace_s=4",
                                  "completion.speculative_start=false", noRendering(dir.path())});
  auto written = completionSeries(dir / "series", 40);
  std::vector<std::filesystem::path> first(written.files.begin(), written.files.begin() + 20);
  std::vector<std::filesystem::path> second(written.files.begin() + 20, written.files.end());
  ASSERT_EQ(send(node, first), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the PACS pauses, shorter than the grace
  EXPECT_EQ(series(node, written.series_instance_uid)["state"], "receiving");
  ASSERT_EQ(send(node, second), 0);

  EXPECT_NE(waitForStateOtherThan(node, written.series_instance_uid, "receiving", std::chrono::seconds(25)),
            "receiving");
  auto s = series(node, written.series_instance_uid);
  EXPECT_EQ(s["instances"], 40);
  auto completions = reasonsOf(s, "complete");
  ASSERT_EQ(completions.size(), 1u) << s.dump(2);
  // Completed by the release signal, long before the 30 s quiet period.
  EXPECT_EQ(completions[0], "association released + 4 s grace");
  EXPECT_TRUE(reasonsOf(s, "receiving").size() == 1u) << "reopened by a late instance: completed too early";
}

TEST(Completion, SeriesWithAGapWaitsForTheQuietPeriod) {
  TempDir dir;
  NodeProcess node(dir / "node", {"completion.quiet_s=6", "completion.release_grace_s=1",
                                  noRendering(dir.path())});
  std::vector<Vec3> positions;
  for (int k = 0; k < 30; ++k)
    if (k != 12 && k != 13) positions.push_back({-16, -16, 2.0 * k});  // two slices missing
  auto written = completionSeries(dir / "series", 0, positions);
  ASSERT_EQ(send(node, written.files), 0);
  EXPECT_NE(waitForStateOtherThan(node, written.series_instance_uid, "receiving", std::chrono::seconds(30)),
            "receiving");
  auto completions = reasonsOf(series(node, written.series_instance_uid), "complete");
  ASSERT_EQ(completions.size(), 1u);
  EXPECT_EQ(completions[0], "quiet 6 s");
  EXPECT_NE(node.log().find("looks incomplete (gap of 6.0 mm"), std::string::npos) << node.log();
}

TEST(Completion, ReceivingSeriesIsReevaluatedAfterRestart) {
  TempDir dir;
  // No start on release: the series must still be receiving when the node dies (a
  // speculative start killed midway is SpeculativeStart's case).
  std::vector<std::string> settings{"completion.quiet_s=4", "completion.speculative_start=false",
                                    noRendering(dir.path())};
  auto node = std::make_unique<NodeProcess>(dir / "node", settings);
  auto written = completionSeries(dir / "series", 10);
  ASSERT_EQ(send(*node, written.files), 0);
  node->kill9();  // before the series could complete
  node->start();
  ASSERT_TRUE(node->waitUntilReady());
  EXPECT_NE(waitForStateOtherThan(*node, written.series_instance_uid, "receiving", std::chrono::seconds(20)),
            "receiving");
  EXPECT_EQ(reasonsOf(series(*node, written.series_instance_uid), "complete").at(0), "quiet 4 s");
}

TEST(Completion, CompleteSeriesThatNoRuleRendersIsRefusedWithTheReason) {
  TempDir dir;
  NodeProcess node(dir / "node", {"completion.quiet_s=2"});  // the shipped rules and presets
  auto argv = node.scu("storescu", {"+sd", "+r", "-nh"});
  argv.push_back((sharedData() / "edge-cases" / "notavolume").string());
  run(argv);
  argv = node.scu("storescu", {"+sd", "+r", "-nh"});
  argv.push_back((sharedData() / "ct-head-phantom-study" / "S1000").string());
  run(argv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::map<std::string, std::string> reasons;
  while (std::chrono::steady_clock::now() < deadline && reasons.size() < 2) {
    reasons.clear();
    auto studies = json::parse(node.get("/api/studies").body);
    for (const auto& study : studies["studies"]) {
      auto detail = json::parse(node.get("/api/studies/" + study["StudyInstanceUID"].get<std::string>()).body);
      for (const auto& s : detail["series"])
        if (s["state"] == "refused") reasons[s["SeriesInstanceUID"]] = s["state_reason"];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_EQ(reasons.size(), 2u) << node.log() << node.get("/api/studies").body;
  bool not_a_volume = false, localizer = false;
  for (const auto& [uid, reason] : reasons) {
    not_a_volume |= reason.find("not a volume (4 slices at one position)") != std::string::npos;
    localizer |= reason.find("localizer") != std::string::npos;
  }
  EXPECT_TRUE(not_a_volume) << json(reasons).dump();
  EXPECT_TRUE(localizer) << json(reasons).dump();
}
