// On-demand retrieval as a job: the console's request asks the peer (C-FIND) and
// queues a retrieve job; the retrieval workers move it (C-MOVE). A fake peer
// answers in process, the index and the job queue are real (a temporary file).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>

#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/core/error.hpp"
#include "volnode/workflow/on_demand.hpp"
#include "volnode/workflow/retrieval_worker.hpp"
#include "volnode/workflow/startup_repair.hpp"

namespace volnode {
namespace {

constexpr const char* kRetrievalStudy = "1.2.826.0.1.3680043.2.1143.7.1";
constexpr const char* kRetrievalSeries = "1.2.826.0.1.3680043.2.1143.7.1.1";
constexpr const char* kOurAet = "VOLNODE";

struct Move {
  std::string peer, study, series, to;
};

// A peer holding one study of two series, answering moves as told.
class FakePeer : public RetrieveClient {
 public:
  std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) override {
    ++finds;
    if (unreachable) throw Error(Errc::Network, "cannot connect to " + peer.name + ": " + *unreachable);
    if (study_uid != kRetrievalStudy) return {};
    return {series(kRetrievalSeries, 30), series(std::string(kRetrievalSeries) + "0", 5)};
  }
  std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) override {
    ++finds;
    if (unreachable) throw Error(Errc::Network, "cannot connect to " + peer.name + ": " + *unreachable);
    if (series_uid != kRetrievalSeries) return std::nullopt;
    return series(kRetrievalSeries, 30);
  }
  MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                  const std::string& to, const RetrieveProgress&) override {
    std::lock_guard lock(mutex);
    moves.push_back({peer.name, study_uid, series_uid, to});
    if (moved) moved->set_value();
    moved.reset();
    if (move_throws) throw Error(Errc::Network, *move_throws);
    return move_answer;
  }

  static RemoteSeries series(const std::string& uid, int instances) {
    RemoteSeries s;
    s.study_instance_uid = kRetrievalStudy;
    s.series_instance_uid = uid;
    s.modality = "CT";
    s.number_of_instances = instances;
    return s;
  }

  int finds = 0;
  std::optional<std::string> unreachable;  // C-FIND fails with this
  std::optional<std::string> move_throws;  // C-MOVE fails with this
  MoveResult move_answer{0x0000, "Success", 35, 0, 0, 0};
  std::mutex mutex;
  std::vector<Move> moves;
  std::optional<std::promise<void>> moved;  // set by the next move
};

Destination pacs() {
  Destination d;
  d.name = "pacs";
  d.aet = "PACS";
  d.host = "127.0.0.1";
  d.port = 11112;
  return d;
}

// One run of the node: the queue, the route requests, the on-demand entry and
// the retrieval workers over one index.
struct NodeRun {
  NodeRun(const IndexLocation& location, FakePeer& peer, std::map<std::string, Destination> peers)
      : index(location),
        jobs(location),
        routes(jobs),
        on_demand(peers, index, jobs, routes, peer, nullptr, nullptr),
        workers(RetrievalSettings{peers, kOurAet, 2, 0.0}, jobs, routes, peer) {}
  Index index;
  JobQueue jobs;
  RouteRequests routes;
  OnDemandRenders on_demand;
  RetrievalWorkers workers;
};

struct Fixture {
  test::TempDir dir{"volnode-retrieval"};
  FakePeer peer;
  std::map<std::string, Destination> peers{{"pacs", pacs()}};
  IndexLocation location = test::suiteIndexLocation(dir.path());
  Index index{location};  // creates the schema
  std::unique_ptr<NodeRun> node = std::make_unique<NodeRun>(location, peer, peers);

  std::vector<Job> retrieveJobs() { return node->jobs.list({std::nullopt, JobKind::Retrieve}); }

  // The first instance of a retrieved series arrives and the series completes.
  int64_t seriesArrivesAndCompletes(RouteRequests& routes) {
    NewInstance n;
    n.attributes.patient_id = "P1";
    n.attributes.study_uid = kRetrievalStudy;
    n.attributes.series_uid = kRetrievalSeries;
    n.attributes.sop_uid = std::string(kRetrievalSeries) + ".1";
    n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
    n.file_path = "ab/cd/1.dcm";
    n.file_size = 10;
    index.addInstance(n);
    return routes.seriesCompleted(*index.series(kRetrievalSeries), "quiet");
  }
};

TEST(Retrieval, AStudyNotHeldIsFoundOnThePeerAndRetrievedByAJob) {
  Fixture f;
  auto outcome = f.node->on_demand.renderStudy(kRetrievalStudy, "", "ct-bundle");
  EXPECT_TRUE(outcome.accepted) << outcome.message;
  EXPECT_EQ(outcome.status, 202);
  EXPECT_EQ(outcome.retrieve_state, "retrieving");
  EXPECT_EQ(outcome.message, "retrieving 2 series from pacs; each is rendered when it is complete");
  auto queued = f.retrieveJobs();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].study_uid, kRetrievalStudy);
  EXPECT_EQ(queued[0].series_uid, "");
  EXPECT_EQ(queued[0].destination, "pacs");
  EXPECT_EQ(queued[0].rule, "ct-bundle");
  EXPECT_EQ(queued[0].priority, kOnDemandPriority);
  EXPECT_EQ(f.node->on_demand.retrievalOf(kRetrievalStudy)->state, "retrieving");

  auto again = f.node->on_demand.renderStudy(kRetrievalStudy, "", "");
  EXPECT_TRUE(again.accepted);
  EXPECT_EQ(again.message, std::string("study ") + kRetrievalStudy + " is already being retrieved from pacs");
  EXPECT_EQ(f.retrieveJobs().size(), 1u);
  EXPECT_EQ(f.peer.finds, 1) << "the peer is not asked again while the retrieval is pending";

  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  ASSERT_EQ(f.peer.moves.size(), 1u);
  EXPECT_EQ(f.peer.moves[0].study, kRetrievalStudy);
  EXPECT_EQ(f.peer.moves[0].series, "");
  EXPECT_EQ(f.peer.moves[0].to, kOurAet);
  EXPECT_EQ(f.node->jobs.get(queued[0].id)->state, JobState::Succeeded);
  auto status = f.node->on_demand.retrievalOf(kRetrievalStudy);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, "retrieved");
  EXPECT_EQ(status->source, "pacs");
  EXPECT_FALSE(f.node->workers.runOne("retrieval-1")) << "nothing else to retrieve";

  // Its series are routed as the request asked: the forced rule, ahead of routine work.
  auto route = f.node->jobs.get(f.seriesArrivesAndCompletes(f.node->routes));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->rule, "ct-bundle");
  EXPECT_EQ(route->priority, kOnDemandPriority);
}

TEST(Retrieval, ASeriesNotHeldNamesItsStudyAndOnlyItIsMoved) {
  Fixture f;
  auto outcome = f.node->on_demand.renderSeries(kRetrievalSeries, "pacs", "");
  EXPECT_TRUE(outcome.accepted) << outcome.message;
  EXPECT_EQ(outcome.study_uid, kRetrievalStudy);
  EXPECT_NE(outcome.message.find("(CT, 30 instances, study " + std::string(kRetrievalStudy) + ")"), std::string::npos)
      << outcome.message;
  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  ASSERT_EQ(f.peer.moves.size(), 1u);
  EXPECT_EQ(f.peer.moves[0].study, kRetrievalStudy);
  EXPECT_EQ(f.peer.moves[0].series, kRetrievalSeries);
  EXPECT_EQ(f.node->on_demand.retrievalOf(kRetrievalStudy)->state, "retrieved");
}

TEST(Retrieval, WhatThePeerCannotAnswerIsRefusedAtOnceWithoutAJob) {
  Fixture f;
  auto unknown = f.node->on_demand.renderStudy("1.2.3.999", "", "");
  EXPECT_FALSE(unknown.accepted);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.message, "study 1.2.3.999 is neither held here nor known to pacs");
  auto unknown_series = f.node->on_demand.renderSeries("1.2.3.998", "", "");
  EXPECT_EQ(unknown_series.status, 404);
  auto no_such_peer = f.node->on_demand.renderStudy(kRetrievalStudy, "elsewhere", "");
  EXPECT_EQ(no_such_peer.status, 400);
  EXPECT_EQ(no_such_peer.message, "no configured peer named 'elsewhere'");
  f.peer.unreachable = "connection refused";
  auto refused = f.node->on_demand.renderStudy(kRetrievalStudy, "", "");
  EXPECT_EQ(refused.status, 502);
  EXPECT_EQ(refused.message, "cannot query pacs: cannot connect to pacs: connection refused");
  f.peer.unreachable = "timed out";
  EXPECT_EQ(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").status, 504);
  EXPECT_TRUE(f.retrieveJobs().empty());
  EXPECT_FALSE(f.node->on_demand.retrievalOf(kRetrievalStudy));
  f.peer.unreachable.reset();
  EXPECT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted) << "a refused request claims nothing";
}

// The node stops while the C-MOVE runs: the next run queues the job again,
// start-up repair reports it resumed, and a retrieval worker moves it; its
// series are still routed as the request asked (the expectation is renewed).
TEST(Retrieval, AJobInterruptedByARestartIsResumedByTheNextRun) {
  Fixture f;
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "ct-bundle").accepted);
  auto running = f.node->jobs.claimNext({JobKind::Retrieve}, "retrieval-1", 3600);
  ASSERT_TRUE(running);
  f.node.reset();  // the node stops (its threads never ran the job to an end)

  f.node = std::make_unique<NodeRun>(f.location, f.peer, f.peers);
  EXPECT_EQ(f.node->jobs.requeueAllRunning("node restarted while the job ran"), 1);
  EXPECT_EQ(f.node->on_demand.retrievalOf(kRetrievalStudy)->state, "retrieving");
  auto repair = repairUnfinishedWork(f.node->index, f.node->jobs, f.node->routes, RuleSet::defaults(), f.peers, 3,
                                     f.dir / "results");
  EXPECT_EQ(repair.retrievals_resumed, 1);
  EXPECT_EQ(repair.retrievals_failed, 0);
  ASSERT_EQ(repair.findings.size(), 1u);
  EXPECT_NE(repair.findings[0].find("resumes"), std::string::npos) << repair.findings[0];

  EXPECT_TRUE(f.node->workers.runOne("retrieval-2"));
  ASSERT_EQ(f.peer.moves.size(), 1u);
  auto job = f.node->jobs.get(running->id);
  EXPECT_EQ(job->state, JobState::Succeeded);
  EXPECT_EQ(job->attempts, 2);
  EXPECT_EQ(f.node->on_demand.retrievalOf(kRetrievalStudy)->state, "retrieved");
  auto route = f.node->jobs.get(f.seriesArrivesAndCompletes(f.node->routes));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->rule, "ct-bundle");
  EXPECT_EQ(route->priority, kOnDemandPriority);
}

TEST(Retrieval, AJobWhosePeerIsNoLongerConfiguredFailsAtStartWithTheReason) {
  Fixture f;
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted);
  f.node = std::make_unique<NodeRun>(f.location, f.peer, std::map<std::string, Destination>{});
  auto repair = repairUnfinishedWork(f.node->index, f.node->jobs, f.node->routes, RuleSet::defaults(), {}, 3,
                                     f.dir / "results");
  EXPECT_EQ(repair.retrievals_failed, 1);
  EXPECT_EQ(repair.retrievals_resumed, 0);
  auto status = f.node->on_demand.retrievalOf(kRetrievalStudy);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, "failed");
  EXPECT_EQ(status->message, std::string("start-up repair: the peer 'pacs' it retrieves study ") + kRetrievalStudy +
                                 " from is no longer configured");
  EXPECT_FALSE(f.node->workers.runOne("retrieval-1"));
  EXPECT_TRUE(f.peer.moves.empty());
}

// Each failed C-MOVE is retried (no delay here) until the attempts run out; the
// state the console reads says why, while it is retried and once it failed.
TEST(Retrieval, AMoveThatKeepsFailingFailsAfterItsAttemptsWithTheReason) {
  Fixture f;
  f.peer.move_answer = MoveResult{0xA702, "Failed: out of resources (0xA702)", 0, 35, 0, 0};
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted);
  const std::string reason = std::string("C-MOVE of study ") + kRetrievalStudy +
                             " from pacs: 0 completed, 35 failed (Failed: out of resources (0xA702))";
  for (int attempt = 1; attempt <= kRetrieveAttempts; ++attempt) {
    ASSERT_TRUE(f.node->workers.runOne("retrieval-1")) << "attempt " << attempt;
    auto job = f.retrieveJobs().at(0);
    EXPECT_EQ(job.attempts, attempt);
    EXPECT_EQ(job.last_error, reason);
    auto status = f.node->on_demand.retrievalOf(kRetrievalStudy);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->message, reason);
    if (attempt < kRetrieveAttempts) {
      EXPECT_EQ(job.state, JobState::Retry);
      EXPECT_EQ(status->state, "retrieving");
    } else {
      EXPECT_EQ(job.state, JobState::Failed);
      EXPECT_EQ(status->state, "failed");
    }
  }
  EXPECT_FALSE(f.node->workers.runOne("retrieval-1"));
  EXPECT_EQ(f.peer.moves.size(), static_cast<size_t>(kRetrieveAttempts));

  // Asked again, it is retrieved anew (a failed retrieval claims nothing).
  f.peer.move_answer = MoveResult{0x0000, "Success", 35, 0, 0, 0};
  ASSERT_EQ(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").retrieve_state, "retrieving");
  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  EXPECT_EQ(f.node->on_demand.retrievalOf(kRetrievalStudy)->state, "retrieved");
}

TEST(Retrieval, APeerUnreachableDuringTheMoveIsRetriedWithItsError) {
  Fixture f;
  f.peer.move_throws = "association to pacs refused";
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted);
  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  auto job = f.retrieveJobs().at(0);
  EXPECT_EQ(job.state, JobState::Retry);
  EXPECT_EQ(job.last_error, std::string("C-MOVE of study ") + kRetrievalStudy + " from pacs: association to pacs refused");
  f.peer.move_throws.reset();
  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  EXPECT_EQ(f.node->jobs.get(job.id)->state, JobState::Succeeded);
}

TEST(Retrieval, APeerThatNoLongerHoldsTheStudyFailsItAtOnce) {
  Fixture f;
  f.peer.move_answer = MoveResult{0xC000, "Failed", 0, 0, 0, 0};
  f.peer.move_answer.nothing_matched = true;
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted);
  EXPECT_TRUE(f.node->workers.runOne("retrieval-1"));
  auto job = f.retrieveJobs().at(0);
  EXPECT_EQ(job.state, JobState::Failed);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.last_error, std::string("pacs does not hold study ") + kRetrievalStudy + " (any more)");
}

// The workers' threads run what the on-demand request queued, woken by it.
TEST(Retrieval, TheWorkerThreadsRunAQueuedJob) {
  Fixture f;
  std::promise<void> moved;
  auto done = moved.get_future();
  f.peer.moved.emplace(std::move(moved));
  f.node->workers.start();
  ASSERT_TRUE(f.node->on_demand.renderStudy(kRetrievalStudy, "", "").accepted);
  f.node->workers.poke();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "no worker thread moved the study";
  f.node->workers.stop();
  std::lock_guard lock(f.peer.mutex);
  EXPECT_EQ(f.peer.moves.size(), 1u);
}

}  // namespace
}  // namespace volnode
