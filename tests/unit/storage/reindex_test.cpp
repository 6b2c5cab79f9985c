// `volnode reindex` (reindexStorage): the index rebuilt from the store, the old one
// kept aside, and from a readable old index what the store cannot tell.
#include <gtest/gtest.h>

#include <fstream>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/ids.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/storage/reindex.hpp"
#include "volnode/core/files.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {


// A storage folder as a node leaves it: two series of 3 instances, the first
// rendered (a succeeded render job) and delivered, the second still receiving.
struct Populated {
  TempDir dir;
  TempDir source;
  WrittenSeries first, second;
  std::vector<std::string> paths;  // relative, as indexed

  Populated() {
    SyntheticSeries s;
    s.rows = s.cols = 8;
    s.slices = 3;
    s.patient_id = "P1";
    first = writeSyntheticSeries(s, source / "a");
    s.patient_id = "P2";
    second = writeSyntheticSeries(s, source / "b");
    Index index(dir / "index.sqlite");
    FileStore files(dir / "store", false, index);
    StorageConfig config{(dir / "store").string(), 0, false};
    InstanceStore store(config, index, files);
    for (const auto* series : {&first, &second})
      for (const auto& f : series->files) {
        auto slot = store.reserve();
        std::filesystem::copy_file(f, slot.path, std::filesystem::copy_options::overwrite_existing);
        EXPECT_EQ(store.keep(slot, "", "", std::nullopt).outcome, KeepOutcome::Stored);
        paths.push_back(slot.relative_path);
      }
    for (auto state : {SeriesState::Complete, SeriesState::Queued, SeriesState::Processing, SeriesState::Done})
      index.setSeriesState(first.series_instance_uid, state, "rendered");
    JobQueue jobs(dir / "index.sqlite");
    int64_t id = jobs.enqueue({JobKind::Render, first.study_instance_uid, first.series_instance_uid, "ct", "", "{}", 0, 3});
    jobs.claimNext({JobKind::Render}, "w", 60);
    jobs.succeed(id, "w");
    jobs.recordDelivery("pacs", "1.2.3.4.5", 0, "");
  }
  std::filesystem::path index() const { return dir / "index.sqlite"; }
  void dropIndex() const {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(index().string() + suffix);
  }
};

}  // namespace

TEST(Reindex, DeletedIndexIsRebuiltFromTheStoreAndNothingIsRenderedAutomatically) {
  Populated p;
  p.dropIndex();
  auto report = reindexStorage(p.dir.path());
  EXPECT_EQ(report.old_index, "missing");
  EXPECT_TRUE(report.old_kept_as.empty());
  EXPECT_EQ(report.store.indexed, 6);
  EXPECT_EQ(report.instances, 6);
  EXPECT_EQ(report.series, 2);
  EXPECT_EQ(report.studies, 2);
  EXPECT_EQ(report.patients, 2);
  EXPECT_EQ(report.series_indexed_only, 2);
  EXPECT_EQ(report.jobs_kept, 0);
  EXPECT_FALSE(std::filesystem::exists(p.dir / "index.sqlite.rebuilding"));
  EXPECT_FALSE(std::filesystem::exists(p.index().string() + "-wal"));

  Index index(p.index());
  for (const auto* series : {&p.first, &p.second}) {
    auto s = index.series(series->series_instance_uid);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->instances, 3);
    EXPECT_EQ(s->state, SeriesState::Indexed);
    EXPECT_EQ(index.seriesTransitions(series->series_instance_uid).back().state, "indexed");
  }
  auto study = index.study(p.first.study_instance_uid);
  ASSERT_TRUE(study.has_value());
  EXPECT_EQ(study->patient_id, "P1");
  auto paths = index.instancePaths();
  std::sort(paths.begin(), paths.end());
  std::sort(p.paths.begin(), p.paths.end());
  EXPECT_EQ(paths, p.paths);  // the very same files, none copied or moved
}

TEST(Reindex, RouteMakesSeriesTheOldIndexDidNotKnowReceiving) {
  Populated p;
  p.dropIndex();
  auto report = reindexStorage(p.dir.path(), {true});
  EXPECT_EQ(report.series_receiving, 2);
  Index index(p.index());
  EXPECT_EQ(index.seriesInState(SeriesState::Receiving).size(), 2u);
}

TEST(Reindex, ReadableIndexKeepsJobsDeliveriesAndSeriesStates) {
  Populated p;
  // Since the index was written: a file of the second series lost, and an instance
  // of a third series in the store that the index never held.
  std::filesystem::remove(p.dir / "store" / p.paths.back());
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = 1;
  auto third = writeSyntheticSeries(s, p.source / "c");
  const std::string unknown = "fe/dc/" + newUuid() + ".dcm";
  std::filesystem::create_directories(p.dir / "store" / "fe" / "dc");
  std::filesystem::copy_file(third.files[0], p.dir / "store" / unknown);

  auto report = reindexStorage(p.dir.path());
  EXPECT_EQ(report.old_index, "readable");
  ASSERT_FALSE(report.old_kept_as.empty());
  EXPECT_TRUE(std::filesystem::exists(report.old_kept_as));
  EXPECT_EQ(report.jobs_kept, 1);
  EXPECT_EQ(report.deliveries_kept, 1);
  EXPECT_EQ(report.series_kept_state, 2);
  EXPECT_EQ(report.series_indexed_only, 1);
  EXPECT_EQ(report.dropped_count, 1);
  EXPECT_EQ(report.dropped, std::vector<std::string>{p.paths.back()});
  EXPECT_EQ(report.instances, 6);

  Index index(p.index());
  EXPECT_EQ(index.series(p.first.series_instance_uid)->state, SeriesState::Done);
  EXPECT_EQ(index.seriesTransitions(p.first.series_instance_uid).back().reason, "rendered");
  EXPECT_EQ(index.series(p.second.series_instance_uid)->state, SeriesState::Receiving);
  EXPECT_EQ(index.series(p.second.series_instance_uid)->instances, 2);
  EXPECT_EQ(index.series(third.series_instance_uid)->state, SeriesState::Indexed);
  JobQueue jobs(p.index());
  EXPECT_EQ(jobs.list({JobState::Succeeded, JobKind::Render, "", p.first.series_instance_uid, 10}).size(), 1u);
  EXPECT_TRUE(jobs.delivered("pacs", "1.2.3.4.5"));
  // The old index is intact under its new name.
  Index old(report.old_kept_as);
  EXPECT_EQ(old.counts().instances, 6);
}

TEST(Reindex, UnreadableIndexIsKeptAsItWasAndReplaced) {
  Populated p;
  {
    std::fstream f(p.index(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "THIS IS NOT SQLITE, IT WAS OVERWRITTEN";
  }
  const std::string corrupt = volnode::readFile(p.index());
  auto report = reindexStorage(p.dir.path());
  EXPECT_EQ(report.old_index.rfind("unreadable", 0), 0u) << report.old_index;
  EXPECT_EQ(volnode::readFile(report.old_kept_as), corrupt);
  EXPECT_EQ(report.instances, 6);
  Index index(p.index());
  EXPECT_EQ(index.counts().instances, 6);
}

TEST(Reindex, IndexOfANewerVolnodeIsLeftAlone) {
  Populated p;
  ASSERT_EQ(run({"sqlite3", p.index().string(), "PRAGMA user_version = 999"}).exit_code, 0);
  const std::string before = volnode::readFile(p.index());
  try {
    reindexStorage(p.dir.path());
    FAIL() << "an index of a newer schema was rebuilt";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::SchemaTooNew);
  }
  EXPECT_EQ(volnode::readFile(p.index()), before);
  EXPECT_FALSE(std::filesystem::exists(p.dir / "index.sqlite.rebuilding"));
}
