// `volnode reindex` on a real node's storage folder: a deleted or unreadable index
// is rebuilt from the store, and the restarted node holds every instance again
// with the same patients, studies and series. It never runs beside a node.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "reliability_support.hpp"
#include "support/dicom_files.hpp"
#include "support/suite_index.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/files.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

namespace {


RunResult reindexCli(const std::filesystem::path& storage, const std::filesystem::path& scratch) {
  return run({VOLNODE_BINARY, "reindex", "--set", "storage.dir=" + storage.string(), "--set",
              "log.file=" + (scratch / "reindex.log").string()},
             60s);
}

// What the API says about the held studies, without times and states (which a
// rebuild may set differently): patient, study and series attributes and counts.
nlohmann::json heldView(const NodeProcess& node) {
  nlohmann::json view = nlohmann::json::object();
  auto studies = apiJson(node, "/api/studies?limit=1000");
  if (!studies.is_object()) return nullptr;
  for (const auto& study : studies["studies"]) {
    std::string uid = study["StudyInstanceUID"];
    auto detail = apiJson(node, "/api/studies/" + uid);
    nlohmann::json series = nlohmann::json::object();
    for (const auto& s : detail["series"])
      series[s["SeriesInstanceUID"].get<std::string>()] = {
          {"Modality", s["Modality"]}, {"SeriesDescription", s["SeriesDescription"]},
          {"SeriesNumber", s["SeriesNumber"]}, {"instances", s["instances"]}};
    view[uid] = {{"PatientID", study["PatientID"]},       {"PatientName", study["PatientName"]},
                 {"StudyDate", study["StudyDate"]},       {"AccessionNumber", study["AccessionNumber"]},
                 {"instances", study["instances"]},       {"series", series}};
  }
  return view;
}

struct Populated {
  TempDir dir{"volnode-rel-reindex"};
  std::unique_ptr<NodeProcess> node;
  std::map<std::string, std::filesystem::path> sent;  // SOP Instance UID -> source file
  nlohmann::json view;

  Populated() {
    node = std::make_unique<NodeProcess>(dir / "node", std::vector<std::string>{noRendering(dir.path())});
    for (int study = 0; study < 2; ++study) {
      for (int series = 0; series < 2; ++series) {
        SyntheticSeries s;
        s.slices = 6 + 4 * series;
        s.patient_id = "REINDEX" + std::to_string(study);
        s.patient_name = "REINDEX^PATIENT" + std::to_string(study);
        s.series_number = series + 1;
        s.series_description = "reindex " + std::to_string(series);
        if (series == 1) s.study_instance_uid = studyUid(study);
        auto source = dir / ("source-" + std::to_string(study) + "-" + std::to_string(series));
        auto written = writeSyntheticSeries(s, source);
        studies.push_back(written.study_instance_uid);
        for (const auto& f : written.files) sent[sopInstanceUid(f)] = f;
        auto argv = node->scu("storescu", {"+sd"});
        argv.push_back(source.string());
        EXPECT_EQ(run(argv).exit_code, 0);
      }
    }
    view = heldView(*node);
  }
  std::string studyUid(int study) const { return studies.at(static_cast<size_t>(study) * 2); }
  std::filesystem::path storage() const { return storageDir(*node); }
  std::filesystem::path index() const { return storage() / "index.sqlite"; }

  // After a rebuild: the node starts and holds all of it again, byte for byte.
  void expectEverythingBack() {
    node->start();
    ASSERT_TRUE(node->waitUntilReady()) << node->log();
    auto indexed = indexedInstances(storage());
    EXPECT_EQ(indexed.size(), sent.size());
    for (const auto& row : indexed) {
      ASSERT_TRUE(sent.count(row.sop_uid)) << row.sop_uid;
      EXPECT_TRUE(datasetBytes(storeDir(*node) / row.file_path) == datasetBytes(sent[row.sop_uid])) << row.file_path;
    }
    EXPECT_EQ(heldView(*node), view);
    auto health = apiJson(*node, "/api/health");
    EXPECT_EQ(health["status"], "ok") << health.dump();
    EXPECT_FALSE(health.contains("recovery")) << "the rebuilt index and the store disagree: " << health.dump();
    node->kill9();
  }

  std::vector<std::string> studies;
};

}  // namespace

TEST(ReindexCli, DeletedIndexIsRebuiltFromTheStoreWithPatientsStudiesAndSeries) {
  VOLNODE_SKIP_ON_POSTGRESQL("volnode reindex rebuilds an SQLite index (it refuses a PostgreSQL one)");
  Populated p;
  ASSERT_EQ(p.view.size(), 2u) << p.view.dump();
  // Not while a node runs on the folder.
  auto refused = reindexCli(p.storage(), p.dir.path());
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("in use"), std::string::npos) << refused.output;
  EXPECT_TRUE(std::filesystem::exists(p.index()));

  p.node->kill9();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.index().string() + suffix);
  auto result = reindexCli(p.storage(), p.dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("old index: missing"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(std::to_string(p.sent.size()) + " instances"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("`indexed`"), std::string::npos) << result.output;
  p.expectEverythingBack();
  if (HasFatalFailure()) return;
  // Nothing is rendered on its own after a rebuild without history.
  for (const auto& row : nlohmann::json::parse(suiteIndexQuery(p.storage(), "SELECT json_group_array(state) FROM series")))
    EXPECT_EQ(row, "indexed");
}

// An index that is not a database any more (as a log dropped in the middle of a
// checkpoint could leave it): the node refuses it, reindex keeps it aside and rebuilds.
TEST(ReindexCli, UnreadableIndexIsKeptAsideAndRebuilt) {
  VOLNODE_SKIP_ON_POSTGRESQL("overwrites the SQLite index file; volnode reindex rebuilds SQLite indexes only");
  Populated p;
  p.node->kill9();
  ASSERT_EQ(run({"sqlite3", p.index().string(), "PRAGMA wal_checkpoint(TRUNCATE)"}).exit_code, 0);
  {
    std::fstream f(p.index(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "THIS IS NOT SQLITE, IT WAS OVERWRITTEN";
  }
  const std::string corrupt = volnode::readFile(p.index());
  auto result = reindexCli(p.storage(), p.dir.path());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("old index: unreadable"), std::string::npos) << result.output;
  std::filesystem::path kept;
  for (const auto& entry : std::filesystem::directory_iterator(p.storage()))
    if (entry.path().filename().string().find(".before-reindex") != std::string::npos &&
        entry.path().extension() == ".before-reindex")
      kept = entry.path();
  ASSERT_FALSE(kept.empty()) << result.output;
  EXPECT_TRUE(volnode::readFile(kept) == corrupt) << "the unreadable index was not kept as it was";
  p.expectEverythingBack();
}
