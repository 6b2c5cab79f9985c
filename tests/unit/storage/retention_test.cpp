#include <gtest/gtest.h>

#include <fstream>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/storage/retention.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

struct RetentionFixture {
  explicit RetentionFixture(Backend backend = Backend::Sqlite) : location(test::freshIndex(backend, dir.path())) {}
  TempDir dir;
  IndexLocation location;
  Index index{location};
  JobQueue jobs{location};
  FileStore files{dir / "store", false, index};

  // A study with one stored instance of `bytes`, and a send job in `send_state`.
  std::string study(const std::string& uid, int64_t bytes, const std::string& send_state) {
    auto slot = files.reserve();
    std::ofstream(slot.path) << std::string(static_cast<size_t>(bytes), 'x');
    NewInstance n;
    n.attributes.patient_id = "P-" + uid;
    n.attributes.study_uid = uid;
    n.attributes.series_uid = uid + ".1";
    n.attributes.sop_uid = uid + ".1.1";
    n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    n.file_path = slot.relative_path;
    n.file_size = static_cast<uint64_t>(bytes);
    index.addInstance(n);
    if (!send_state.empty()) {
      auto id = jobs.enqueue({JobKind::Send, uid, uid + ".1", "", "pacs"});
      jobs.claimNext({JobKind::Send}, "w", 60);
      if (send_state == "succeeded") jobs.succeed(id, "w");
      if (send_state == "failed") jobs.failPermanently(id, "w", "unreachable");
    }
    return slot.relative_path;
  }
};

class RetentionTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(RetentionTest, DeletesOnlyStudiesDeliveredLongEnoughAgo) {
  RetentionFixture f{GetParam()};
  auto delivered = f.study("1.1", 10, "succeeded");
  f.study("2.2", 10, "failed");
  f.study("3.3", 10, "");
  RetentionConfig config;
  config.delete_after_days = 7;
  RetentionPolicy policy(config, f.index, f.jobs, f.files);
  EXPECT_TRUE(policy.sweep(isoUtcNow()).deleted_studies.empty()) << "delivered today: kept";
  auto sweep = policy.sweep("2099-01-01T00:00:00.000Z");
  ASSERT_EQ(sweep.deleted_studies.size(), 1u);
  EXPECT_EQ(sweep.deleted_studies[0], "1.1");
  EXPECT_FALSE(f.index.study("1.1"));
  EXPECT_FALSE(std::filesystem::exists(f.files.absolute(delivered)));
  EXPECT_TRUE(f.index.study("2.2")) << "results never delivered: never deleted";
  EXPECT_TRUE(f.index.study("3.3"));
  EXPECT_EQ(f.index.counts().patients, 2);
}

TEST_P(RetentionTest, SizeCapEvictsDeliveredStudiesOldestFirst) {
  RetentionFixture f{GetParam()};
  f.study("1.1", 600, "succeeded");
  f.study("2.2", 600, "succeeded");
  f.study("3.3", 600, "");
  RetentionConfig config;
  config.max_store_gb = 1300e-9;  // 1300 bytes
  RetentionPolicy policy(config, f.index, f.jobs, f.files);
  auto sweep = policy.sweep(isoUtcNow());
  ASSERT_EQ(sweep.deleted_studies.size(), 1u);
  EXPECT_EQ(sweep.deleted_studies[0], "1.1");
  EXPECT_EQ(f.index.storedBytes(), 1200);
}

// A deleted study takes its rendered results (<results>/<render job id>/) with
// it; another study's results stay.
TEST_P(RetentionTest, RenderedResultsFollowTheirStudy) {
  RetentionFixture f{GetParam()};
  f.study("1.1", 10, "succeeded");
  f.study("2.2", 10, "failed");
  const auto results = f.dir / "results";
  auto render_of = [&](const std::string& uid) {
    const auto id = f.jobs.enqueue({JobKind::Render, uid, uid + ".1", "ct-bundle", ""});
    f.jobs.claimNext({JobKind::Render}, "w", 60);
    f.jobs.succeed(id, "w");
    std::filesystem::create_directories(results / std::to_string(id) / "png");
    std::ofstream(results / std::to_string(id) / "png" / "ct-bone-anterior.png") << std::string(1000, 'p');
    return results / std::to_string(id);
  };
  const auto gone = render_of("1.1"), kept = render_of("2.2");
  RetentionConfig config;
  config.delete_after_days = 7;
  RetentionPolicy policy(config, f.index, f.jobs, f.files, results);
  auto sweep = policy.sweep("2099-01-01T00:00:00.000Z");
  ASSERT_EQ(sweep.deleted_studies, std::vector<std::string>{"1.1"});
  EXPECT_EQ(sweep.deleted_result_bytes, 1000);
  EXPECT_FALSE(std::filesystem::exists(gone));
  EXPECT_TRUE(std::filesystem::exists(kept / "png" / "ct-bone-anterior.png"));
}

// The prepared volume a render keeps for the interactive view (volume.vol) goes
// with its study; retention.max_volume_cache_gb bounds those files on their own,
// newest kept, and leaves the rest of the results alone.
TEST_P(RetentionTest, PreparedVolumesGoWithTheirStudyAndAreCappedOldestFirst) {
  RetentionFixture f{GetParam()};
  f.study("1.1", 10, "succeeded");
  f.study("2.2", 10, "failed");
  f.study("3.3", 10, "failed");
  const auto results = f.dir / "results";
  int age_s = 0;
  auto render_of = [&](const std::string& uid, int64_t volume_bytes) {
    const auto id = f.jobs.enqueue({JobKind::Render, uid, uid + ".1", "ct-bundle", ""});
    f.jobs.claimNext({JobKind::Render}, "w", 60);
    f.jobs.succeed(id, "w");
    const auto dir = results / std::to_string(id);
    std::filesystem::create_directories(dir / "png");
    std::ofstream(dir / "png" / "ct-bone-anterior.png") << std::string(100, 'p');
    std::ofstream(dir / "volume.vol") << std::string(static_cast<size_t>(volume_bytes), 'v');
    // Written in this order, one hour apart (older first).
    std::filesystem::last_write_time(dir / "volume.vol",
                                     std::filesystem::file_time_type::clock::now() - std::chrono::hours(10 - ++age_s));
    return dir;
  };
  const auto delivered = render_of("1.1", 3000), oldest = render_of("2.2", 4000), newest = render_of("3.3", 5000);

  RetentionConfig config;
  config.delete_after_days = 7;
  RetentionPolicy deleting(config, f.index, f.jobs, f.files, results);
  auto sweep = deleting.sweep("2099-01-01T00:00:00.000Z");
  ASSERT_EQ(sweep.deleted_studies, std::vector<std::string>{"1.1"});
  EXPECT_EQ(sweep.deleted_result_bytes, 3100);
  EXPECT_FALSE(std::filesystem::exists(delivered / "volume.vol"));
  EXPECT_EQ(sweep.removed_volume_files, 0) << "no cap configured";

  RetentionConfig capped;
  capped.max_volume_cache_gb = 6000 / 1e9;  // room for the newest file only
  RetentionPolicy capping(capped, f.index, f.jobs, f.files, results);
  EXPECT_TRUE(capping.enabled());
  sweep = capping.sweep("2099-01-01T00:00:00.000Z");
  EXPECT_TRUE(sweep.deleted_studies.empty());
  EXPECT_EQ(sweep.removed_volume_files, 1);
  EXPECT_EQ(sweep.removed_volume_bytes, 4000);
  EXPECT_FALSE(std::filesystem::exists(oldest / "volume.vol"));
  EXPECT_TRUE(std::filesystem::exists(oldest / "png" / "ct-bone-anterior.png")) << "the other results stay";
  EXPECT_TRUE(std::filesystem::exists(newest / "volume.vol"));
  EXPECT_TRUE(f.index.study("2.2"));
}

// A CT angiogram's render also keeps the volume with the bone removed: the cap
// counts it like any prepared volume.
TEST_P(RetentionTest, TheBoneRemovedVolumeCountsAgainstTheVolumeCacheCap) {
  RetentionFixture f{GetParam()};
  f.study("4.4", 10, "failed");
  const auto id = f.jobs.enqueue({JobKind::Render, "4.4", "4.4.1", "ct-angiography", ""});
  f.jobs.claimNext({JobKind::Render}, "w", 60);
  f.jobs.succeed(id, "w");
  const auto dir = f.dir / "results" / std::to_string(id);
  std::filesystem::create_directories(dir);
  const auto now = std::filesystem::file_time_type::clock::now();
  std::ofstream(dir / "volume.vol") << std::string(3000, 'v');
  std::filesystem::last_write_time(dir / "volume.vol", now - std::chrono::hours(2));
  std::ofstream(dir / "volume-bone-removed.vol") << std::string(2000, 'b');
  std::filesystem::last_write_time(dir / "volume-bone-removed.vol", now - std::chrono::hours(1));

  RetentionConfig capped;
  capped.max_volume_cache_gb = 4000 / 1e9;  // room for one of the two
  RetentionPolicy capping(capped, f.index, f.jobs, f.files, f.dir / "results");
  const auto sweep = capping.sweep("2099-01-01T00:00:00.000Z");
  EXPECT_EQ(sweep.removed_volume_files, 1);
  EXPECT_EQ(sweep.removed_volume_bytes, 3000);
  EXPECT_FALSE(std::filesystem::exists(dir / "volume.vol")) << "the older file goes first";
  EXPECT_TRUE(std::filesystem::exists(dir / "volume-bone-removed.vol"));
}

VOLNODE_ON_BOTH_BACKENDS(RetentionTest);
