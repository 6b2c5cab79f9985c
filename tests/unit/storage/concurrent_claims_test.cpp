// Several claimers, each with a connection of its own, take jobs from one queue at
// once (the worker processes of one node, or of several hosts on PostgreSQL): every
// job is claimed exactly once and finished by the claimer that holds it.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "backends.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

class ConcurrentClaimsTest : public ::testing::TestWithParam<Backend> {};

constexpr int kClaimers = 10;
constexpr int kJobs = 300;

}  // namespace

TEST_P(ConcurrentClaimsTest, EveryJobIsClaimedOnceByOneOfTenClaimers) {
  TempDir dir;
  const IndexLocation location = test::freshIndex(GetParam(), dir.path());
  Index index(location);
  JobQueue producer(location);
  for (int i = 0; i < kJobs; ++i) {
    NewJob job;
    job.kind = i % 2 ? JobKind::Send : JobKind::Route;
    job.study_uid = "1.2." + std::to_string(i);
    ASSERT_GT(producer.enqueue(job), 0);
  }
  std::vector<std::map<int64_t, int>> claimed(kClaimers);  // job id -> attempts seen
  std::atomic<int> lost_lease{0};
  std::vector<std::thread> claimers;
  for (int c = 0; c < kClaimers; ++c)
    claimers.emplace_back([&, c] {
      JobQueue own(location);
      const std::string name = "claimer-" + std::to_string(c);
      // As the workers' loops do: a statement that waited out SQLite's busy timeout
      // changed nothing and is tried again.
      auto retried = [](auto operation) {
        for (;;) {
          try {
            return operation();
          } catch (const Error& e) {
            if (e.code() != Errc::Database) throw;
          }
        }
      };
      while (auto job = retried([&] { return own.claimNext({JobKind::Route, JobKind::Send}, name, 300); })) {
        claimed[static_cast<size_t>(c)][job->id] = job->attempts;
        if (!retried([&] { return own.succeed(job->id, name); })) ++lost_lease;
      }
    });
  for (auto& t : claimers) t.join();

  std::map<int64_t, int> times_claimed;
  for (const auto& mine : claimed)
    for (const auto& [id, attempts] : mine) {
      ++times_claimed[id];
      EXPECT_EQ(attempts, 1) << "job " << id;
    }
  EXPECT_EQ(times_claimed.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, times] : times_claimed) EXPECT_EQ(times, 1) << "job " << id;
  EXPECT_EQ(lost_lease.load(), 0);
  JobFilter succeeded;
  succeeded.state = JobState::Succeeded;
  succeeded.limit = kJobs + 10;
  EXPECT_EQ(producer.list(succeeded).size(), static_cast<size_t>(kJobs));
}

VOLNODE_ON_BOTH_BACKENDS(ConcurrentClaimsTest);

// A claimer blocked in waitForWork() learns of a job queued by another process
// (here another connection) through LISTEN/NOTIFY, not by polling.
TEST(JobQueueOnPostgresql, AWaitingClaimerIsWokenByAJobQueuedElsewhere) {
  TempDir dir;
  const IndexLocation location = test::freshIndex(Backend::Postgresql, dir.path());
  Index index(location);
  JobQueue waiter(location);
  JobQueue producer(location);
  EXPECT_FALSE(waiter.waitForWork(0.05)) << "nothing queued yet";  // also opens the listening connection
  std::atomic<bool> woken{false};
  std::thread claimer([&] { woken = waiter.waitForWork(60); });
  NewJob job;
  job.kind = JobKind::Send;
  // The waiter may not be blocked yet: a notification that arrives before it
  // polls is kept by its connection, so this does not race.
  ASSERT_GT(producer.enqueue(job), 0);
  claimer.join();
  EXPECT_TRUE(woken.load()) << "waited the full minute: no notification arrived";
  EXPECT_TRUE(waiter.claimNext({JobKind::Send}, "w", 30));
}

TEST(JobQueueOnPostgresql, AJobRequeuedAfterALostLeaseWakesClaimersToo) {
  TempDir dir;
  const IndexLocation location = test::freshIndex(Backend::Postgresql, dir.path());
  Index index(location);
  JobQueue queue(location);
  NewJob job;
  job.kind = JobKind::Send;
  const int64_t id = queue.enqueue(job);
  ASSERT_TRUE(queue.claimNext({JobKind::Send}, "dead-host", 0.001));
  JobQueue waiter(location);
  EXPECT_FALSE(waiter.waitForWork(0.05));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(queue.requeueExpiredLeases(), 1) << "the lease ran out on the database's clock";
  EXPECT_TRUE(waiter.waitForWork(60));
  auto again = waiter.claimNext({JobKind::Send}, "live-host", 30);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, id);
  EXPECT_EQ(again->attempts, 2);
}

TEST(JobQueueOnSqlite, WaitingForWorkIsThePollingInterval) {
  TempDir dir;
  Index index(dir / "index.sqlite");
  JobQueue queue(dir / "index.sqlite");
  EXPECT_FALSE(queue.waitForWork(0.01)) << "SQLite has no notifications: the caller polls";
}

// The database restarts under a running queue (an upgrade, a fail-over): the next
// operation opens a new session and nothing acknowledged before is lost.
TEST(JobQueueOnPostgresql, AServerRestartIsSurvivedByTheNextOperation) {
  TempDir dir;
  auto& server = test::sharedPostgres();
  const IndexLocation location = IndexLocation::postgresql(server.freshSchemaUrl());
  Index index(location);
  JobQueue queue(location);
  NewJob job;
  job.kind = JobKind::Send;
  const int64_t before = queue.enqueue(job);
  ASSERT_GT(before, 0);
  server.restart();
  const int64_t after = queue.enqueue(job);  // the lost session is opened again
  EXPECT_GT(after, before);
  auto claimed = queue.claimNext({JobKind::Send}, "w", 30);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->id, before);
  EXPECT_EQ(index.counts().studies, 0) << "the index's own connections come back too";
}
