// kill -9 while storescu streams a series, over and over: whatever the node
// acknowledged with Success survives, byte for byte, and nothing else is left in
// the store. Cycles: kKillCycles (20) on a 60-slice 64x64 series each, about
// 1-2 s per cycle on two cores.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <set>

#include "reliability_support.hpp"
#include "support/dicom_files.hpp"
#include "support/synthetic_series.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {

constexpr int kKillCycles = 20;
constexpr int kSlicesPerKill = 60;

}  // namespace

TEST(KillDuringIngest, AcknowledgedInstancesSurviveKill9AtRandomMoments) {
  TempDir dir("volnode-rel-kill-ingest");
  auto node = std::make_unique<NodeProcess>(dir / "node", std::vector<std::string>{noRendering(dir.path())});
  std::mt19937 random(std::random_device{}());

  std::map<std::string, std::filesystem::path> sent;  // SOP Instance UID -> source file (every cycle)
  std::set<std::string> acknowledged;                // SOP Instance UIDs storescu saw Success for
  int killed_mid_stream = 0;

  for (int cycle = 0; cycle < kKillCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    auto source = dir / ("series-" + std::to_string(cycle));
    auto stream = killWhileStreaming(*node, source, kSlicesPerKill, "kill-ingest " + std::to_string(cycle), random);
    ASSERT_TRUE(stream.error.empty()) << stream.error;
    const auto& uid_of = stream.uid_of;
    for (const auto& [file, uid] : uid_of) sent[uid] = file;
    acknowledged.insert(stream.acknowledged.begin(), stream.acknowledged.end());
    if (stream.mid_stream) ++killed_mid_stream;

    node->start();
    ASSERT_TRUE(node->waitUntilReady()) << node->log();

    // 1. Every acknowledged instance is indexed (nothing acknowledged is lost).
    auto indexed = indexedInstances(storageDir(*node));
    std::map<std::string, std::string> path_of;
    std::set<std::string> indexed_paths;
    for (const auto& row : indexed) {
      ASSERT_EQ(path_of.count(row.sop_uid), 0u) << "instance indexed twice: " << row.sop_uid;
      path_of[row.sop_uid] = row.file_path;
      indexed_paths.insert(row.file_path);
    }
    for (const auto& uid : acknowledged) {
      ASSERT_TRUE(path_of.count(uid)) << "acknowledged instance lost after kill -9: " << uid;
    }
    // 2. Every indexed file of this cycle (acknowledged or indexed just before the
    //    kill) is whole and byte-identical; earlier cycles' files are checked at the end.
    for (const auto& row : indexed)
      ASSERT_TRUE(sent.count(row.sop_uid)) << "index holds an instance nobody sent: " << row.sop_uid;
    for (const auto& [source_file, uid] : uid_of) {
      if (!path_of.count(uid)) continue;
      const auto& relative = path_of[uid];
      auto file = storeDir(*node) / relative;
      ASSERT_TRUE(std::filesystem::exists(file)) << "indexed file missing: " << relative;
      std::string why;
      EXPECT_TRUE(parsesCompletely(file, &why)) << "indexed file does not parse: " << relative << ": " << why;
      EXPECT_TRUE(datasetBytes(file) == datasetBytes(sent[uid])) << "stored dataset differs from sent: " << relative;
    }
    // 3. No orphan: after start-up, every file in the store is indexed (slots were deleted).
    auto slots = fileSlots(storageDir(*node));
    std::set<std::string> slot_set(slots.begin(), slots.end());
    for (const auto& file : filesUnder(storeDir(*node))) {
      auto relative = std::filesystem::relative(file, storeDir(*node)).string();
      EXPECT_TRUE(indexed_paths.count(relative) || slot_set.count(relative))
          << "orphan file in the store after restart: " << relative << " (" << std::filesystem::file_size(file)
          << " bytes)";
      EXPECT_FALSE(slot_set.count(relative)) << "slot left after start-up: " << relative;
    }
    // 4. The API agrees with the index.
    auto health = apiJson(*node, "/api/health");
    ASSERT_TRUE(health.is_object());
    EXPECT_EQ(health["index"]["instances"].get<int64_t>(), static_cast<int64_t>(indexed.size()));
    int64_t indexed_of_cycle = 0;
    for (const auto& [file, uid] : uid_of) indexed_of_cycle += path_of.count(uid) ? 1 : 0;
    if (indexed_of_cycle > 0) {
      auto series = apiJson(*node, "/api/series/" + stream.series_uid);
      ASSERT_TRUE(series.is_object()) << "series of an indexed instance not in the API";
      EXPECT_EQ(series["instances"].get<int64_t>(), indexed_of_cycle);
    }
    if (HasFatalFailure()) return;
  }
  // Everything indexed at the end is whole and identical to what was sent.
  for (const auto& row : indexedInstances(storageDir(*node))) {
    auto file = storeDir(*node) / row.file_path;
    std::string why;
    EXPECT_TRUE(parsesCompletely(file, &why)) << row.file_path << ": " << why;
    EXPECT_TRUE(datasetBytes(file) == datasetBytes(sent[row.sop_uid])) << row.file_path;
  }
  node->kill9();  // a clean stop is not under test; it costs seconds
  std::cout << "[kill-ingest] " << kKillCycles << " kills, " << killed_mid_stream << " mid-stream, "
            << acknowledged.size() << " acknowledged instances kept\n";
  // The kills did land in the middle of streams, not only between them.
  EXPECT_GE(killed_mid_stream, kKillCycles / 2);
  EXPECT_GT(acknowledged.size(), 0u);
  RecordProperty("acknowledged", static_cast<int>(acknowledged.size()));
  RecordProperty("killed_mid_stream", killed_mid_stream);
}
