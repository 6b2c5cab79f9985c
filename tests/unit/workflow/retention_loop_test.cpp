// The retention loop: sweeps at start with the real policy over a temporary
// index and store, and stop() ends its wait for the next sweep.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>

#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/workflow/retention_loop.hpp"

namespace volnode {
namespace {

struct Store {
  test::TempDir dir{"volnode-retention-loop"};
  IndexLocation location = test::suiteIndexLocation(dir.path());
  Index index{location};
  JobQueue jobs{location};
  FileStore files{dir / "store", false, index};

  // A study of one instance whose results were delivered.
  void deliveredStudy(const std::string& uid) {
    auto slot = files.reserve();
    std::ofstream(slot.path) << "instance";
    NewInstance n;
    n.attributes.patient_id = "P-" + uid;
    n.attributes.study_uid = uid;
    n.attributes.series_uid = uid + ".1";
    n.attributes.sop_uid = uid + ".1.1";
    n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    n.file_path = slot.relative_path;
    n.file_size = 8;
    index.addInstance(n);
    auto id = jobs.enqueue({JobKind::Send, uid, uid + ".1", "", "pacs"});
    jobs.claimNext({JobKind::Send}, "export", 60);
    jobs.succeed(id, "export");
  }
};

TEST(RetentionLoop, SweepsAtStartAndStopsDuringItsWait) {
  Store store;
  store.deliveredStudy("1.2.3.1");
  RetentionConfig config;
  config.max_store_gb = 1e-9;  // one byte: every delivered study goes
  RetentionPolicy policy(config, store.index, store.jobs, store.files);
  std::promise<RetentionSweep> first;
  auto swept = first.get_future();
  int sweeps = 0;
  RetentionLoop loop(policy, 3600, [&](const RetentionSweep& sweep) {
    if (++sweeps == 1) first.set_value(sweep);
  });
  loop.start();
  ASSERT_EQ(swept.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "no sweep at start";
  auto sweep = swept.get();
  EXPECT_EQ(sweep.deleted_studies, std::vector<std::string>{"1.2.3.1"});
  EXPECT_FALSE(store.index.study("1.2.3.1"));
  loop.stop();  // returns although the next sweep is an hour away
  EXPECT_EQ(sweeps, 1);
}

TEST(RetentionLoop, APolicyThatDeletesNothingStartsNoThread) {
  Store store;
  store.deliveredStudy("1.2.3.1");
  RetentionPolicy policy(RetentionConfig{}, store.index, store.jobs, store.files);
  int sweeps = 0;
  RetentionLoop loop(policy, 0, [&](const RetentionSweep&) { ++sweeps; });
  loop.start();
  loop.stop();
  EXPECT_EQ(sweeps, 0);
  EXPECT_TRUE(store.index.study("1.2.3.1"));
}

}  // namespace
}  // namespace volnode
