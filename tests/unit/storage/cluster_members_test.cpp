// The cluster registry (migration 007) on both backends: members join, renew their
// heartbeat with the jobs they run, turn stale when silent, are forgotten a day
// later and leave on a clean stop; and the jobs of a worker stopped cleanly are
// queued again at once.
#include <gtest/gtest.h>

#include "backends.hpp"
#include "database/connection.hpp"
#include "support/process.hpp"
#include "volnode/storage/cluster_members.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

class ClusterMembersTest : public ::testing::TestWithParam<Backend> {
 protected:
  TempDir dir;
  IndexLocation location = test::freshIndex(GetParam(), dir.path());
  Index index{location};  // applies the migrations
  ClusterMembers members{location};

  // What a member silent for `seconds` looks like, without waiting for it.
  void ageHeartbeats(double seconds) {
    auto db = sql::open(location, false);
    db->prepare("UPDATE cluster_members SET heartbeat_at = heartbeat_at - ?").bind(1, seconds).run();
  }
};

MemberInfo serveNode() { return {"serve", "node-a", 101, 10, 2, "DICOM AE VOLNODE on port 11112"}; }
MemberInfo workerHost() { return {"worker", "render-b", 202, 10, 4, "display :90"}; }

}  // namespace

TEST_P(ClusterMembersTest, MembersJoinBeatWithTheirJobsAndLeave) {
  const int64_t worker = members.join(workerHost());
  const int64_t serve = members.join(serveNode());
  ASSERT_TRUE(members.heartbeat(worker, {12, 15}));

  auto list = members.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, serve) << "serve nodes first";
  EXPECT_EQ(list[0].info.role, "serve");
  EXPECT_EQ(list[0].info.detail, "DICOM AE VOLNODE on port 11112");
  EXPECT_TRUE(list[0].current_jobs.empty());
  EXPECT_EQ(list[1].info.host, "render-b");
  EXPECT_EQ(list[1].info.pid, 202);
  EXPECT_EQ(list[1].info.workers, 4);
  EXPECT_EQ(list[1].current_jobs, (std::vector<int64_t>{12, 15}));
  for (const auto& m : list) {
    EXPECT_FALSE(m.stale);
    EXPECT_GT(m.started_at, 1.7e9) << "unix seconds on the database's clock";
    EXPECT_GE(m.heartbeat_at, m.started_at);
  }

  ASSERT_TRUE(members.heartbeat(worker, {}));
  EXPECT_TRUE(members.list()[1].current_jobs.empty()) << "idle again";
  members.leave(worker);
  list = members.list();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, serve);
}

TEST_P(ClusterMembersTest, AMemberSilentForThreeIntervalsIsStaleUntilItBeatsAgain) {
  const int64_t worker = members.join(workerHost());  // heartbeat_s = 10
  ageHeartbeats(29);
  EXPECT_FALSE(members.list()[0].stale) << "under three intervals";
  ageHeartbeats(2);
  auto list = members.list();
  EXPECT_TRUE(list[0].stale);
  EXPECT_GT(list[0].heartbeat_age_s, 30);
  ASSERT_TRUE(members.heartbeat(worker, {}));
  EXPECT_FALSE(members.list()[0].stale);
}

TEST_P(ClusterMembersTest, MembersGoneForADayAreForgottenAndAForgottenOneNoticesOnItsNextBeat) {
  const int64_t gone = members.join(workerHost());
  ageHeartbeats(ClusterMembers::kForgetAfterS + 60);
  const int64_t alive = members.join(serveNode());
  EXPECT_EQ(members.forgetLongGone(), 1);
  ASSERT_EQ(members.list().size(), 1u);
  EXPECT_EQ(members.list()[0].id, alive);
  EXPECT_FALSE(members.heartbeat(gone, {})) << "its row is gone: it must join again";
}

TEST_P(ClusterMembersTest, AStoppedWorkersJobsAreQueuedAgainAtOnceAndOnlyThose) {
  JobQueue jobs(location);
  NewJob send;
  send.kind = JobKind::Send;
  send.destination = "pacs";
  const int64_t first = jobs.enqueue(send);
  const int64_t second = jobs.enqueue(send);
  ASSERT_TRUE(jobs.claimNext({JobKind::Send}, "worker-1-7@render-b", 600));
  ASSERT_TRUE(jobs.claimNext({JobKind::Send}, "worker-1-7@node-a", 600));

  EXPECT_EQ(jobs.requeueJobsOf("worker-1-7@render-b", "its worker was stopped"), 1);
  EXPECT_EQ(jobs.get(first)->state, JobState::Queued);
  EXPECT_EQ(jobs.get(first)->lease_owner, "");
  EXPECT_EQ(jobs.get(second)->state, JobState::Running) << "the same slot and pid on another host is another worker";
  EXPECT_EQ(jobs.requeueJobsOf("worker-1-7@render-b", "again"), 0);
}

VOLNODE_ON_BOTH_BACKENDS(ClusterMembersTest);
