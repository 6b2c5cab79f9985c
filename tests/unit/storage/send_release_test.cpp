// A render's objects are released for sending while it runs: one send job per
// destination and render, queued under the render's lease; a send job steps back
// into the queue without spending an attempt while it waits for more objects.
#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::TempDir;

namespace {

constexpr const char* kReleaseStudy = "1.2.3.1";
constexpr const char* kReleaseSeries = "1.2.3.2";

struct Fixture {
  TempDir dir;
  IndexLocation location = volnode::test::suiteIndexLocation(dir.path());
  Index index{location};
  JobQueue jobs{location};
  int64_t render = 0;

  Fixture() {
    render = jobs.enqueue({JobKind::Render, kReleaseStudy, kReleaseSeries, "ct-bundle"});
    EXPECT_TRUE(jobs.claimNext({JobKind::Render}, "w", 60));
  }
  NewJob sendTo(const std::string& destination) const {
    return {JobKind::Send, kReleaseStudy, kReleaseSeries, "ct-bundle", destination,
            "{\"render_job\": " + std::to_string(render) + "}"};
  }
  std::vector<Job> sends() { return jobs.list({std::nullopt, JobKind::Send}); }
};

TEST(SendRelease, OnlyTheRenderLeaseHolderReleasesAndEachDestinationGetsOneSendJob) {
  Fixture f;
  EXPECT_FALSE(f.jobs.releaseSends(f.render, "another-worker", {f.sendTo("pacs")}));
  EXPECT_TRUE(f.sends().empty());

  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs"), f.sendTo("archive")}));
  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs"), f.sendTo("archive")}));
  EXPECT_EQ(f.sends().size(), 2u);
  EXPECT_EQ(f.jobs.get(f.render)->state, JobState::Running) << "releasing ends nothing";

  JobSuccess done;
  done.follow_ups = {f.sendTo("pacs"), f.sendTo("archive")};
  ASSERT_TRUE(f.jobs.succeed(f.render, "w", done));
  EXPECT_EQ(f.sends().size(), 2u) << "the success keeps the send jobs released before";
}

TEST(SendRelease, ARenderThatReleasedNothingQueuesItsSendJobsWithItsSuccess) {
  Fixture f;
  JobSuccess done;
  done.follow_ups = {f.sendTo("pacs")};
  ASSERT_TRUE(f.jobs.succeed(f.render, "w", done));
  ASSERT_EQ(f.sends().size(), 1u);
  EXPECT_EQ(f.sends()[0].state, JobState::Queued);
}

TEST(SendRelease, ACanceledRenderReleasesNothing) {
  Fixture f;
  ASSERT_TRUE(f.jobs.cancel(f.render));
  EXPECT_FALSE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs")}));
  EXPECT_TRUE(f.sends().empty());
}

TEST(SendRelease, AYieldedJobIsQueuedWithoutSpendingAnAttemptAndWokenByTheNextRelease) {
  Fixture f;
  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs")}));
  auto send = f.jobs.claimNext({JobKind::Send}, "export", 60);
  ASSERT_TRUE(send);
  EXPECT_EQ(send->attempts, 1);

  EXPECT_FALSE(f.jobs.yieldBack(send->id, "someone-else", 3600, "waiting")) << "only the lease holder yields";
  ASSERT_TRUE(f.jobs.yieldBack(send->id, "export", 3600, "waiting for render job"));
  auto waiting = f.jobs.get(send->id);
  EXPECT_EQ(waiting->state, JobState::Queued);
  EXPECT_EQ(waiting->attempts, 0) << "a yield is not an attempt";
  EXPECT_FALSE(f.jobs.claimNext({JobKind::Send}, "export", 60)) << "not claimable before its time";

  // The render releases more objects: the waiting send job is claimable at once.
  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs")}));
  EXPECT_EQ(f.sends().size(), 1u);
  auto again = f.jobs.claimNext({JobKind::Send}, "export", 60);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, send->id);
  EXPECT_EQ(again->attempts, 1);
}

TEST(SendRelease, AFinishedSendJobDoesNotKeepARetriedRenderFromSending) {
  Fixture f;
  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs")}));
  auto send = f.jobs.claimNext({JobKind::Send}, "export", 60);
  ASSERT_TRUE(send);
  // The render failed for good; its send job ended with it. An operator retries the render.
  ASSERT_TRUE(f.jobs.failPermanently(f.render, "w", "broken"));
  ASSERT_TRUE(f.jobs.failPermanently(send->id, "export", "render job failed"));
  ASSERT_TRUE(f.jobs.retryNow(f.render));
  ASSERT_TRUE(f.jobs.claimNext({JobKind::Render}, "w", 60));
  ASSERT_TRUE(f.jobs.releaseSends(f.render, "w", {f.sendTo("pacs")}));
  EXPECT_EQ(f.jobs.list({JobState::Queued, JobKind::Send}).size(), 1u) << "a fresh send job for the retried render";
}

}  // namespace
