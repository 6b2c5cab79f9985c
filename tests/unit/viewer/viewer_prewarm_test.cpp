// ViewerPrewarm with a real queue (SQLite in a temporary folder) and a recording
// stand-in for ViewerPool::prepare: which series it opens ahead, in what order,
// and that it stops when no worker takes one.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/viewer/viewer_prewarm.hpp"

using namespace volnode;
using volnode::test::TempDir;

namespace {

struct PrewarmFixture {
  TempDir dir;
  IndexLocation location = test::suiteIndexLocation(dir.path());
  Index index{location};  // creates and migrates the schema
  JobQueue jobs{location};
  std::vector<std::string> asked;
  int workers_free = 100;
  std::set<std::string> warm;  // series a worker holds already

  viewer::ViewerPrewarm prewarm{jobs, [this](const std::string& uid) {
                                  asked.push_back(uid);
                                  if (warm.count(uid)) return viewer::PrepareOutcome::AlreadyWarm;
                                  if (workers_free <= 0) return viewer::PrepareOutcome::NoWorker;
                                  --workers_free;
                                  warm.insert(uid);
                                  return viewer::PrepareOutcome::Prepared;
                                }};

  int64_t queue(const std::string& series) {
    NewJob job;
    job.kind = JobKind::Render;
    job.study_uid = "1.2";
    job.series_uid = series;
    return jobs.enqueue(job);
  }
  // The oldest queued render is claimed and then succeeds (or fails).
  void finishNext(bool succeeds = true) {
    auto claimed = jobs.claimNext({JobKind::Render}, "worker", 60);
    ASSERT_TRUE(claimed);
    if (succeeds)
      ASSERT_TRUE(jobs.succeed(claimed->id, "worker"));
    else
      ASSERT_TRUE(jobs.failPermanently(claimed->id, "worker", "no volume"));
  }
  void render(const std::string& series, bool succeeds = true) {
    queue(series);
    finishNext(succeeds);
  }
};

}  // namespace

TEST(ViewerPrewarm, OnlyRendersThatSucceedAfterTheFirstLookAreOpenedNewestFirst) {
  PrewarmFixture f;
  f.render("1.2.1");
  EXPECT_EQ(f.prewarm.pollOnce(), 0) << "the first look only remembers where the queue stands";
  EXPECT_TRUE(f.asked.empty());
  f.render("1.2.2");
  f.render("1.2.3", false);
  f.render("1.2.4");
  EXPECT_EQ(f.prewarm.pollOnce(), 2);
  EXPECT_EQ(f.asked, (std::vector<std::string>{"1.2.4", "1.2.2"})) << "a failed render has no volume to open";
  EXPECT_EQ(f.prewarm.pollOnce(), 0) << "each render once";
  EXPECT_EQ(f.asked.size(), 2u);
}

TEST(ViewerPrewarm, ARenderQueuedEarlierThatSucceedsLaterIsStillOpened) {
  PrewarmFixture f;
  f.prewarm.pollOnce();
  const auto earlier = f.queue("1.2.10"), later = f.queue("1.2.11");
  auto first = f.jobs.claimNext({JobKind::Render}, "worker-a", 60), second = f.jobs.claimNext({JobKind::Render}, "worker-b", 60);
  ASSERT_TRUE(first && second);
  ASSERT_EQ(first->id, earlier);
  ASSERT_TRUE(f.jobs.succeed(later, "worker-b"));  // the later job finishes first
  EXPECT_EQ(f.prewarm.pollOnce(), 1);
  ASSERT_TRUE(f.jobs.succeed(earlier, "worker-a"));
  EXPECT_EQ(f.prewarm.pollOnce(), 1) << "a lower job id that succeeded after the last look";
  EXPECT_EQ(f.asked, (std::vector<std::string>{"1.2.11", "1.2.10"}));
}

TEST(ViewerPrewarm, WithNoWorkerFreeTheSeriesWaitsForTheNextLookAndAWarmOneDoesNotStopIt) {
  PrewarmFixture f;
  f.prewarm.pollOnce();
  f.workers_free = 1;
  f.render("1.2.5");
  f.render("1.2.6");
  f.render("1.2.7");
  EXPECT_EQ(f.prewarm.pollOnce(), 1);
  EXPECT_EQ(f.asked, (std::vector<std::string>{"1.2.7", "1.2.6"})) << "no worker for 1.2.6: the look stops";
  f.workers_free = 1;
  EXPECT_EQ(f.prewarm.pollOnce(), 1) << "1.2.6 is tried again";
  EXPECT_EQ(f.asked, (std::vector<std::string>{"1.2.7", "1.2.6", "1.2.6", "1.2.5"})) << "then none for 1.2.5";
  f.workers_free = 1;
  f.warm.insert("1.2.8");
  f.render("1.2.8");
  EXPECT_EQ(f.prewarm.pollOnce(), 1) << "1.2.8 is warm already; 1.2.5 behind it still gets the worker";
  EXPECT_EQ(f.asked.back(), "1.2.5");
  EXPECT_EQ(f.prewarm.pollOnce(), 0);
}
