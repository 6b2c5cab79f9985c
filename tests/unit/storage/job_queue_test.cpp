#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/storage/activity_queries.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

struct QueueFixture {
  explicit QueueFixture(Backend backend) : location(test::freshIndex(backend, dir.path())), index(location), queue(location) {}
  TempDir dir;
  IndexLocation location;
  Index index;  // creates and migrates the schema
  JobQueue queue;
};

class JobQueueTest : public ::testing::TestWithParam<Backend> {};

NewJob renderJob(const std::string& series, int priority = 0) {
  NewJob j;
  j.kind = JobKind::Render;
  j.series_uid = series;
  j.study_uid = "1.2";
  j.priority = priority;
  return j;
}

}  // namespace

TEST_P(JobQueueTest, ClaimTakesHighestPriorityThenOldestAndRecordsAttempt) {
  QueueFixture f{GetParam()};
  auto low = f.queue.enqueue(renderJob("a"));
  auto high = f.queue.enqueue(renderJob("b", 5));
  auto job = f.queue.claimNext({JobKind::Render}, "w1", 30);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, high);
  EXPECT_EQ(job->state, JobState::Running);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(f.queue.claimNext({JobKind::Render}, "w1", 30)->id, low);
  EXPECT_FALSE(f.queue.claimNext({JobKind::Render}, "w1", 30));
  EXPECT_FALSE(f.queue.claimNext({JobKind::Send}, "w1", 30));
}

TEST_P(JobQueueTest, ConcurrentWorkersNeverGetTheSameJob) {
  QueueFixture f{GetParam()};
  for (int i = 0; i < 40; ++i) f.queue.enqueue(renderJob(std::to_string(i)));
  std::vector<int64_t> claimed[4];
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      JobQueue own(f.location);
      while (auto job = own.claimNext({JobKind::Render}, "w" + std::to_string(w), 30)) claimed[w].push_back(job->id);
    });
  for (auto& t : workers) t.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (auto& c : claimed) {
    total += c.size();
    all.insert(c.begin(), c.end());
  }
  EXPECT_EQ(total, 40u);
  EXPECT_EQ(all.size(), 40u);
}

TEST_P(JobQueueTest, FailedAttemptRetriesAfterDelayThenFailsWhenAttemptsRunOut) {
  QueueFixture f{GetParam()};
  NewJob j = renderJob("a");
  j.max_attempts = 2;
  auto id = f.queue.enqueue(j);
  f.queue.claimNext({JobKind::Render}, "w", 30);
  EXPECT_EQ(f.queue.fail(id, "w", "PACS unreachable", 3600), JobState::Retry);
  EXPECT_FALSE(f.queue.claimNext({JobKind::Render}, "w", 30)) << "not before its time";
  EXPECT_EQ(f.queue.get(id)->last_error, "PACS unreachable");
  f.queue.retryNow(id);
  ASSERT_TRUE(f.queue.claimNext({JobKind::Render}, "w", 30));
  EXPECT_EQ(f.queue.fail(id, "w", "still unreachable", 0), JobState::Failed);
  EXPECT_EQ(f.queue.get(id)->state, JobState::Failed);
  EXPECT_TRUE(f.queue.retryNow(id)) << "an operator may retry a failed job";
  auto again = f.queue.claimNext({JobKind::Render}, "w", 30);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->attempts, 1);
}

TEST_P(JobQueueTest, ExpiredLeaseReturnsJobToQueued) {
  QueueFixture f{GetParam()};
  auto id = f.queue.enqueue(renderJob("a"));
  ASSERT_TRUE(f.queue.claimNext({JobKind::Render}, "crashed-worker", 0.01));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(f.queue.requeueExpiredLeases(), 1);
  EXPECT_EQ(f.queue.get(id)->state, JobState::Queued);
  EXPECT_FALSE(f.queue.heartbeat(id, "crashed-worker", 30, "render", 50)) << "the lease is gone";
  auto job = f.queue.claimNext({JobKind::Render}, "w2", 30);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->attempts, 2);
  EXPECT_TRUE(f.queue.heartbeat(id, "w2", 30, "render", 50));
  EXPECT_EQ(f.queue.get(id)->progress_percent, 50);
}

TEST_P(JobQueueTest, CanceledJobIsNeitherClaimedNorOverwrittenByItsWorker) {
  QueueFixture f{GetParam()};
  auto id = f.queue.enqueue(renderJob("a"));
  ASSERT_TRUE(f.queue.claimNext({JobKind::Render}, "w", 30));
  EXPECT_TRUE(f.queue.cancel(id));
  EXPECT_FALSE(f.queue.succeed(id, "w"));
  EXPECT_EQ(f.queue.fail(id, "w", "late failure", 0), std::nullopt);
  EXPECT_EQ(f.queue.get(id)->state, JobState::Canceled);
  EXPECT_FALSE(f.queue.cancel(id));
  auto events = f.queue.events(id);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().state, "canceled");
}

TEST_P(JobQueueTest, RunningJobsOfADeadProcessAreRequeuedAtStartup) {
  QueueFixture f{GetParam()};
  auto id = f.queue.enqueue(renderJob("a"));
  f.queue.claimNext({JobKind::Render}, "old-process", 3600);
  JobQueue restarted(f.location);
  EXPECT_EQ(restarted.requeueAllRunning("node restarted"), 1);
  EXPECT_EQ(restarted.get(id)->state, JobState::Queued);
}

TEST_P(JobQueueTest, PlannedOutputUidsAreKeptAcrossReplanning) {
  QueueFixture f{GetParam()};
  auto id = f.queue.enqueue(renderJob("a"));
  JobOutput o;
  o.output_key = "vr_spin:ct-bone";
  o.kind = "vr_spin";
  o.series_uid = "2.25.1";
  o.sop_uid = "2.25.2";
  o.series_number = 9001;
  o.description = "3D VR Bone spin";
  f.queue.planOutputs(id, {o});
  o.sop_uid = "2.25.999";  // a second plan must not replace the first UIDs
  f.queue.planOutputs(id, {o});
  auto outputs = f.queue.outputs(id);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].sop_uid, "2.25.2");
}

TEST_P(JobQueueTest, DeliveriesAndRefusedClassesAreRemembered) {
  QueueFixture f{GetParam()};
  EXPECT_FALSE(f.queue.delivered("pacs", "2.25.2"));
  f.queue.recordDelivery("pacs", "2.25.2", 0, "");
  EXPECT_TRUE(f.queue.delivered("pacs", "2.25.2"));
  EXPECT_FALSE(f.queue.delivered("other", "2.25.2"));
  f.queue.recordRefusedSopClass("pacs", "1.2.840.10008.5.1.4.1.1.104.3");
  EXPECT_EQ(f.queue.refusedSopClasses("pacs").size(), 1u);
}

// A send pass reads a render's outputs with what one destination acknowledged in one
// query, and records a pass's acknowledgements in one transaction.
TEST_P(JobQueueTest, OutputsWithDeliveryTellWhatEachDestinationAcknowledged) {
  QueueFixture f{GetParam()};
  const auto render = f.queue.enqueue(renderJob("a"));
  const auto other_render = f.queue.enqueue(renderJob("b"));
  auto output = [](const std::string& key, const std::string& sop) {
    JobOutput o;
    o.output_key = key;
    o.kind = "reformat";
    o.series_uid = "2.25.100";
    o.sop_uid = sop;
    o.series_number = 9001;
    o.description = "slice " + key;
    return o;
  };
  f.queue.planOutputs(render, {output("k1", "2.25.1"), output("k2", "2.25.2"), output("k3", "2.25.3")});
  f.queue.planOutputs(other_render, {output("k1", "2.25.9")});

  f.queue.recordDeliveries("pacs", {{"2.25.1", 0, ""}, {"2.25.3", 0xB000, "coerced"}, {"2.25.9", 0, ""}});
  f.queue.recordDeliveries("archive", {{"2.25.2", 0, ""}});
  f.queue.recordDeliveries("pacs", {});  // an empty pass records nothing

  using Flags = std::vector<std::pair<std::string, bool>>;
  auto flags = [&](int64_t job, const std::string& destination) {
    Flags out;
    for (const auto& [o, delivered] : f.queue.outputsWithDelivery(job, destination))
      out.emplace_back(o.sop_uid, delivered);
    return out;
  };
  EXPECT_EQ(flags(render, "pacs"), (Flags{{"2.25.1", true}, {"2.25.2", false}, {"2.25.3", true}}));
  EXPECT_EQ(flags(render, "archive"), (Flags{{"2.25.1", false}, {"2.25.2", true}, {"2.25.3", false}}));
  EXPECT_EQ(flags(render, "nowhere"), (Flags{{"2.25.1", false}, {"2.25.2", false}, {"2.25.3", false}}));
  EXPECT_EQ(flags(other_render, "pacs"), (Flags{{"2.25.9", true}}));
  // The outputs come whole, as outputs() reads them, in the same order.
  const auto with_delivery = f.queue.outputsWithDelivery(render, "pacs");
  const auto plain = f.queue.outputs(render);
  ASSERT_EQ(with_delivery.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(with_delivery[i].output.output_key, plain[i].output_key);
    EXPECT_EQ(with_delivery[i].output.description, plain[i].description);
    EXPECT_EQ(with_delivery[i].output.series_number, 9001);
    EXPECT_EQ(with_delivery[i].output.job_id, render);
  }
  EXPECT_TRUE(f.queue.delivered("pacs", "2.25.3"));
  EXPECT_FALSE(f.queue.delivered("pacs", "2.25.2"));
}

TEST_P(JobQueueTest, ABatchOfDeliveriesKeepsEachStatusAndARepeatReplacesIt) {
  QueueFixture f{GetParam()};
  NewJob job = renderJob("a");
  job.study_uid = "1.2.3";
  const auto render = f.queue.enqueue(job);
  std::vector<JobOutput> planned;
  std::vector<DeliveryRecord> batch;
  for (int i = 0; i < 50; ++i) {
    JobOutput o;
    o.output_key = "slice:" + std::to_string(i);
    o.kind = "reformat";
    o.series_uid = "2.25.100";
    o.sop_uid = "2.25.1." + std::to_string(i);
    o.description = "slice";
    planned.push_back(o);
    batch.push_back({o.sop_uid, i == 7 ? 0xB000 : 0, i == 7 ? "coerced" : ""});
  }
  f.queue.planOutputs(render, planned);
  f.queue.recordDeliveries("pacs", batch);
  // The same object acknowledged again (a resend after a crash between the C-STORE and
  // its recording) stays one delivery, with the latest status.
  f.queue.recordDeliveries("pacs", {{"2.25.1.7", 0, ""}, {"2.25.1.8", 0xB006, "elements discarded"}});

  ActivityQueries activity(f.location);
  const auto deliveries = activity.deliveriesOfStudy("1.2.3");
  ASSERT_EQ(deliveries.size(), 50u);
  std::set<std::string> sops;
  for (const auto& d : deliveries) {
    sops.insert(d.sop_uid);
    EXPECT_EQ(d.destination, "pacs");
    EXPECT_FALSE(d.at.empty());
    if (d.sop_uid == "2.25.1.8") {
      EXPECT_EQ(d.status, 0xB006);
      EXPECT_EQ(d.detail, "elements discarded");
    } else {
      EXPECT_EQ(d.status, 0) << d.sop_uid;
      EXPECT_EQ(d.detail, "") << d.sop_uid;
    }
  }
  EXPECT_EQ(sops.size(), 50u);
  for (const auto& [o, delivered] : f.queue.outputsWithDelivery(render, "pacs")) EXPECT_TRUE(delivered) << o.sop_uid;
}

// Each kind's claim leaves its attempt in the job's timeline, in the claim's own commit
// (on PostgreSQL a send, route or retrieve claim is one statement).
TEST_P(JobQueueTest, EveryClaimRecordsItsAttemptInTheTimeline) {
  QueueFixture f{GetParam()};
  for (JobKind kind : {JobKind::Send, JobKind::Route, JobKind::Retrieve, JobKind::Render}) {
    NewJob job;
    job.kind = kind;
    const int64_t id = f.queue.enqueue(job);
    auto claimed = f.queue.claimNext({kind}, "worker-7", 30);
    ASSERT_TRUE(claimed) << toString(kind);
    EXPECT_EQ(claimed->id, id);
    EXPECT_EQ(claimed->lease_owner, "worker-7");
    auto events = f.queue.events(id);
    ASSERT_EQ(events.size(), 2u) << toString(kind);
    EXPECT_EQ(events[1].state, "running");
    EXPECT_EQ(events[1].message, "attempt 1 by worker-7");
  }
}

VOLNODE_ON_BOTH_BACKENDS(JobQueueTest);
