// ViewerPrewarm with a real queue (SQLite in a temporary folder) and a recording
// stand-in for ViewerPool::prepare: which series it opens ahead, in what order,
// and that it stops when no worker takes one.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/process.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/viewer/viewer_prewarm.hpp"

using namespace volnode;
using volnode::test::TempDir;

namespace {

struct PrewarmFixture {
  TempDir dir;
  IndexLocation location{dir / "index.sqlite"};
  Index index{location};  // creates and migrates the schema
  JobQueue jobs{location};
  std::vector<std::string> asked;
  int workers_free = 100;

  viewer::ViewerPrewarm prewarm{jobs, [this](const std::string& uid) {
                                  asked.push_back(uid);
                                  return workers_free-- > 0;
                                }};

  // A render of `series` that runs and succeeds (or fails).
  void render(const std::string& series, bool succeeds = true) {
    NewJob job;
    job.kind = JobKind::Render;
    job.study_uid = "1.2";
    job.series_uid = series;
    const auto id = jobs.enqueue(job);
    auto claimed = jobs.claimNext({JobKind::Render}, "worker", 60);
    ASSERT_TRUE(claimed);
    ASSERT_EQ(claimed->id, id);
    if (succeeds)
      ASSERT_TRUE(jobs.succeed(id, "worker"));
    else
      ASSERT_TRUE(jobs.failPermanently(id, "worker", "no volume"));
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

TEST(ViewerPrewarm, WhenNoWorkerTakesASeriesTheOlderOnesAreNotTried) {
  PrewarmFixture f;
  f.prewarm.pollOnce();
  f.workers_free = 1;
  f.render("1.2.5");
  f.render("1.2.6");
  f.render("1.2.7");
  EXPECT_EQ(f.prewarm.pollOnce(), 1);
  EXPECT_EQ(f.asked, (std::vector<std::string>{"1.2.7", "1.2.6"}));
  f.render("1.2.8");
  f.workers_free = 1;
  EXPECT_EQ(f.prewarm.pollOnce(), 1) << "the next look starts from the newest again";
  EXPECT_EQ(f.asked.back(), "1.2.8");
}
