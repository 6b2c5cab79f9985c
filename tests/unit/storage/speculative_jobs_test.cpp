// Speculative start: a route job queued on a released association (payload
// "speculative": 1) passes the mark to its render, which sends nothing and leaves its
// series unfinished until confirmSpeculative(); withdrawSpeculative() discards it.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::TempDir;

namespace {

constexpr const char* kSpeculativeSeries = "1.2.3.2";
constexpr const char* kSpeculativeStudy = "1.2.3.1";

NewInstance speculativeSeriesInstance(const std::string& sop_uid) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.study_uid = kSpeculativeStudy;
  n.attributes.series_uid = kSpeculativeSeries;
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.file_path = "ab/" + sop_uid + ".dcm";
  n.file_size = 10;
  return n;
}

struct SpeculativeFixture {
  TempDir dir;
  Index index{dir / "index.sqlite"};
  JobQueue jobs{dir / "index.sqlite"};

  SpeculativeFixture() { index.addInstance(speculativeSeriesInstance("1.2.3.4.1")); }
  SeriesState state() { return index.series(kSpeculativeSeries)->state; }
  std::vector<Job> sends() { return jobs.list({std::nullopt, JobKind::Send}); }

  // Started on release: route job speculative, routed, its render claimed by "w".
  int64_t speculativeRender() {
    int64_t route = jobs.enqueue({JobKind::Route, kSpeculativeStudy, kSpeculativeSeries, "", "", R"({"speculative":1})"},
                                 SeriesChange{SeriesState::Complete, "released, grace running"});
    EXPECT_GT(route, 0);
    EXPECT_TRUE(jobs.claimNext({JobKind::Route}, "w", 60));
    JobSuccess routed;
    routed.series = SeriesChange{SeriesState::Queued, "rule ct-bundle"};
    routed.follow_ups.push_back({JobKind::Render, kSpeculativeStudy, kSpeculativeSeries, "ct-bundle", "", R"({"supersedes_job":0})"});
    EXPECT_TRUE(jobs.succeed(route, "w", routed));
    auto render = jobs.claimNext({JobKind::Render}, "w", 60);
    EXPECT_TRUE(render);
    return render ? render->id : 0;
  }
  NewJob sendOf(int64_t render) const {
    return {JobKind::Send, kSpeculativeStudy, kSpeculativeSeries, "ct-bundle", "pacs", "{\"render_job\": " + std::to_string(render) + "}"};
  }
  JobQueue::SendsFor sendsFor() const {
    return [this](const Job& render) { return std::vector<NewJob>{sendOf(render.id)}; };
  }
};

TEST(SpeculativeJobs, AHeldRenderSendsNothingAndItsSeriesIsDoneOnlyWhenConfirmed) {
  SpeculativeFixture f;
  const int64_t render = f.speculativeRender();
  EXPECT_EQ(f.jobs.speculativeSeries(), std::vector<std::string>{kSpeculativeSeries}) << "the route's mark passed to its render";
  ASSERT_TRUE(f.jobs.releaseSends(render, "w", {f.sendOf(render)})) << "still the lease holder's render";
  EXPECT_TRUE(f.sends().empty()) << "held: nothing released before completion";

  JobSuccess done;
  done.series = SeriesChange{SeriesState::Done, "4 objects rendered"};
  done.follow_ups = {f.sendOf(render)};
  ASSERT_TRUE(f.jobs.succeed(render, "w", done));
  EXPECT_EQ(f.jobs.get(render)->state, JobState::Succeeded);
  EXPECT_TRUE(f.sends().empty());
  EXPECT_EQ(f.state(), SeriesState::Processing) << "not done before its completion";

  EXPECT_EQ(f.jobs.confirmSpeculative(kSpeculativeSeries, "association released + 2 s grace", f.sendsFor()), 2);
  EXPECT_EQ(f.state(), SeriesState::Done);
  EXPECT_EQ(f.index.series(kSpeculativeSeries)->state_reason, "4 objects rendered");
  ASSERT_EQ(f.sends().size(), 1u);
  EXPECT_EQ(f.sends()[0].state, JobState::Queued);
  EXPECT_TRUE(f.jobs.speculativeSeries().empty());
  EXPECT_EQ(f.jobs.confirmSpeculative(kSpeculativeSeries, "again", f.sendsFor()), 0) << "confirmed once";
  EXPECT_EQ(f.sends().size(), 1u) << "nothing queued twice";
}

TEST(SpeculativeJobs, ConfirmedWhileRenderingTheRenderReleasesAsAnyOther) {
  SpeculativeFixture f;
  const int64_t render = f.speculativeRender();
  EXPECT_EQ(f.jobs.confirmSpeculative(kSpeculativeSeries, "quiet 10 s", f.sendsFor()), 2);
  ASSERT_EQ(f.sends().size(), 1u) << "what it encoded so far goes out now";
  ASSERT_TRUE(f.jobs.releaseSends(render, "w", {f.sendOf(render)}));
  JobSuccess done;
  done.series = SeriesChange{SeriesState::Done, "rendered"};
  done.follow_ups = {f.sendOf(render)};
  ASSERT_TRUE(f.jobs.succeed(render, "w", done));
  EXPECT_EQ(f.sends().size(), 1u) << "one send job per destination and render";
  EXPECT_EQ(f.state(), SeriesState::Done);
}

TEST(SpeculativeJobs, ANewInstanceWithdrawsTheRenderAndNothingOfItIsSentOrConfirmed) {
  SpeculativeFixture f;
  const int64_t render = f.speculativeRender();
  f.index.addInstance(speculativeSeriesInstance("1.2.3.4.2"));  // late: the series is receiving again
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_EQ(f.jobs.confirmSpeculative(kSpeculativeSeries, "association released + 2 s grace", f.sendsFor()), 0)
      << "a receiving series is not confirmed";

  EXPECT_EQ(f.jobs.withdrawSpeculative(kSpeculativeSeries, "a new instance arrived"), 2);
  EXPECT_EQ(f.jobs.get(render)->state, JobState::Canceled);
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_FALSE(f.jobs.releaseSends(render, "w", {f.sendOf(render)})) << "its worker lost the lease";
  JobSuccess done;
  done.follow_ups = {f.sendOf(render)};
  EXPECT_FALSE(f.jobs.succeed(render, "w", done));
  EXPECT_TRUE(f.sends().empty());
  EXPECT_TRUE(f.jobs.speculativeSeries().empty());
}

TEST(SpeculativeJobs, ASucceededHeldRenderIsWithdrawnAtStartUpAndItsSeriesReceivedAgain) {
  SpeculativeFixture f;
  const int64_t render = f.speculativeRender();
  ASSERT_TRUE(f.jobs.succeed(render, "w", {}));
  EXPECT_EQ(f.jobs.withdrawSpeculative(kSpeculativeSeries, "start-up repair"), 2);
  EXPECT_EQ(f.jobs.get(render)->state, JobState::Canceled) << "not the series' results";
  EXPECT_EQ(f.state(), SeriesState::Receiving) << "completion decides afresh";
  EXPECT_TRUE(f.jobs.outputsOfSeries(kSpeculativeSeries).empty());
  EXPECT_TRUE(f.sends().empty());
}

}  // namespace
