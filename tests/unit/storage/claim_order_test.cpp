// Queue order when many series complete together (a PACS pushing a backlog): the
// first complete is the first rendered, a job waiting for its retry holds up no one,
// and none waits behind jobs queued after it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

struct Backlog {
  explicit Backlog(Backend backend) : location(test::freshIndex(backend, dir.path())), index(location), jobs(location) {}
  TempDir dir;
  IndexLocation location;
  Index index;
  JobQueue jobs;

  static std::string series(int n) { return "1.2.826.7." + std::to_string(n); }

  // One instance of series n received, then the series complete with its route job.
  int64_t complete(int n) {
    NewInstance i;
    i.attributes.patient_id = "P" + std::to_string(n);
    i.attributes.study_uid = "1.2.826.6." + std::to_string(n);
    i.attributes.series_uid = series(n);
    i.attributes.sop_uid = series(n) + ".1";
    i.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    i.file_path = "s/" + std::to_string(n) + ".dcm";
    i.file_size = 10;
    index.addInstance(i);
    return jobs.enqueue({JobKind::Route, i.attributes.study_uid, series(n)}, SeriesChange{SeriesState::Complete, "quiet"});
  }

  // What a worker process does (job_worker.cpp): routing first, then rendering; a
  // route queues its render with the series, a render finishes it.
  std::optional<Job> step(const std::string& worker) {
    if (auto route = jobs.claimNext({JobKind::Route}, worker, 60)) {
      JobSuccess routed;
      routed.series = SeriesChange{SeriesState::Queued, "rule ct-bundle"};
      routed.follow_ups.push_back({JobKind::Render, route->study_uid, route->series_uid, "ct-bundle"});
      EXPECT_TRUE(jobs.succeed(route->id, worker, routed));
      return route;
    }
    auto render = jobs.claimNext({JobKind::Render}, worker, 60);
    if (render) {
      EXPECT_TRUE(jobs.succeed(render->id, worker, {"", SeriesChange{SeriesState::Done, "rendered"}, {}}));
    }
    return render;
  }
};

class ClaimOrderTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(ClaimOrderTest, SeriesCompletedTogetherAreRenderedInTheOrderTheyCompleted) {
  Backlog b{GetParam()};
  for (int n = 0; n < 10; ++n) ASSERT_GT(b.complete(n), 0);
  std::vector<std::string> rendered;
  while (auto job = b.step("w"))
    if (job->kind == JobKind::Render) rendered.push_back(job->series_uid);
  ASSERT_EQ(rendered.size(), 10u);
  for (int n = 0; n < 10; ++n) EXPECT_EQ(rendered[size_t(n)], Backlog::series(n)) << "position " << n;
  for (int n = 0; n < 10; ++n) EXPECT_EQ(b.index.series(Backlog::series(n))->state, SeriesState::Done);
}

// New series keep completing while the worker renders: each is rendered after
// every series that completed before it, so none waits longer than the work ahead of it.
TEST_P(ClaimOrderTest, NoSeriesWaitsBehindOnesThatCompletedAfterIt) {
  Backlog b{GetParam()};
  int next = 0;
  for (; next < 3; ++next) b.complete(next);
  std::vector<std::string> rendered;
  while (auto job = b.step("w")) {
    if (job->kind == JobKind::Render) rendered.push_back(job->series_uid);
    if (next < 12) b.complete(next++);  // one more arrives at every step
  }
  ASSERT_EQ(rendered.size(), 12u);
  for (int n = 0; n < 12; ++n) EXPECT_EQ(rendered[size_t(n)], Backlog::series(n)) << "position " << n;
}

// A render that failed waits for its retry without holding up the others; once due,
// it goes before series that completed after it.
TEST_P(ClaimOrderTest, ARetryWaitsAsideAndThenKeepsItsPlace) {
  Backlog b{GetParam()};
  for (int n = 0; n < 4; ++n) b.complete(n);
  for (int n = 0; n < 4; ++n) ASSERT_EQ(b.step("w")->kind, JobKind::Route);
  auto first = b.jobs.claimNext({JobKind::Render}, "w", 60);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->series_uid, Backlog::series(0));
  ASSERT_EQ(b.jobs.fail(first->id, "w", "the worker ran out of memory", 3600), JobState::Retry);
  auto second = b.jobs.claimNext({JobKind::Render}, "w", 60);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->series_uid, Backlog::series(1)) << "the retry's delay holds up no one";
  EXPECT_TRUE(b.jobs.retryNow(first->id, "its time has come"));
  auto third = b.jobs.claimNext({JobKind::Render}, "w", 60);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->series_uid, Backlog::series(0)) << "the oldest series goes before those complete after it";
}

VOLNODE_ON_BOTH_BACKENDS(ClaimOrderTest);
