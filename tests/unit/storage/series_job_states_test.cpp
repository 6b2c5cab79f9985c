// Typed states and the transitions that change a job and its series together.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <nlohmann/json.hpp>

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

constexpr const char* kJobStatesSeries = "1.2.3.2";
constexpr const char* kJobStatesStudy = "1.2.3.1";

NewInstance jobStatesSeriesInstance(const std::string& sop_uid, const std::string& file_path) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.study_uid = kJobStatesStudy;
  n.attributes.series_uid = kJobStatesSeries;
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.file_path = file_path;
  n.file_size = 10;
  return n;
}

struct JobStatesFixture {
  explicit JobStatesFixture(Backend backend = Backend::Sqlite)
      : location(test::freshIndex(backend, dir.path())), index(location), jobs(location) {
    index.addInstance(jobStatesSeriesInstance("1.2.3.4.1", "ab/cd/1.dcm"));
  }
  TempDir dir;
  IndexLocation location;
  Index index;
  JobQueue jobs;

  SeriesState state() { return index.series(kJobStatesSeries)->state; }
  int64_t jobCount() { return static_cast<int64_t>(jobs.list({}).size()); }

  // complete + route job, routed: render job queued, claimed by `worker`.
  int64_t runningRender(const std::string& worker = "w") {
    int64_t route = jobs.enqueue({JobKind::Route, kJobStatesStudy, kJobStatesSeries}, SeriesChange{SeriesState::Complete, "quiet"});
    EXPECT_GT(route, 0);
    EXPECT_TRUE(jobs.claimNext({JobKind::Route}, worker, 60));
    JobSuccess routed;
    routed.series = SeriesChange{SeriesState::Queued, "rule ct-bundle"};
    routed.follow_ups.push_back({JobKind::Render, kJobStatesStudy, kJobStatesSeries, "ct-bundle"});
    EXPECT_TRUE(jobs.succeed(route, worker, routed));
    auto render = jobs.claimNext({JobKind::Render}, worker, 60);
    EXPECT_TRUE(render);
    return render ? render->id : 0;
  }
};

class StatesTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST(States, NamesRoundTripAndUnknownNamesAreRefused) {
  for (auto s : {SeriesState::Receiving, SeriesState::Complete, SeriesState::Queued, SeriesState::Processing,
                 SeriesState::Done, SeriesState::Refused, SeriesState::Failed, SeriesState::Canceled, SeriesState::Indexed})
    EXPECT_EQ(parseSeriesState(toString(s)), s);
  for (auto s : {JobState::Queued, JobState::Running, JobState::Retry, JobState::Succeeded, JobState::Failed,
                 JobState::Canceled})
    EXPECT_EQ(parseJobState(toString(s)), s);
  for (auto k : {JobKind::Route, JobKind::Render, JobKind::Send, JobKind::Retrieve})
    EXPECT_EQ(parseJobKind(toString(k)), k);
  EXPECT_FALSE(parseSeriesState("rendering"));
  EXPECT_FALSE(parseJobState(""));
}

TEST(States, OnlyTheListedSeriesTransitionsAreAllowed) {
  using S = SeriesState;
  EXPECT_TRUE(seriesTransitionAllowed(S::Receiving, S::Complete));
  EXPECT_FALSE(seriesTransitionAllowed(S::Receiving, S::Done)) << "a series is never done before it is complete";
  EXPECT_FALSE(seriesTransitionAllowed(S::Receiving, S::Receiving));
  EXPECT_TRUE(seriesTransitionAllowed(S::Processing, S::Receiving)) << "a late instance reopens any series";
  EXPECT_FALSE(seriesTransitionAllowed(S::Done, S::Processing)) << "a render job is queued first";
  EXPECT_FALSE(seriesTransitionAllowed(S::Canceled, S::Done));
  EXPECT_TRUE(seriesTransitionAllowed(S::Canceled, S::Queued)) << "the operator may render it again";
}

TEST(States, TheSchemaRefusesAStateNoCodeKnows) {
  JobStatesFixture f;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((f.dir / "index.sqlite").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "UPDATE series SET state = 'rendering'", nullptr, nullptr, nullptr), SQLITE_CONSTRAINT);
  EXPECT_EQ(sqlite3_exec(db,
                         "INSERT INTO jobs(kind, created_at, updated_at) VALUES ('transcode', 'now', 'now')",
                         nullptr, nullptr, nullptr),
            SQLITE_CONSTRAINT);
  EXPECT_EQ(sqlite3_exec(db,
                         "INSERT INTO jobs(kind, state, created_at, updated_at) VALUES ('render', 'running', 'n', 'n')",
                         nullptr, nullptr, nullptr),
            SQLITE_CONSTRAINT)
      << "a running job always has a lease owner";
  sqlite3_close(db);
  EXPECT_EQ(f.state(), SeriesState::Receiving);
}

// The same CHECK constraints hold on PostgreSQL (added in place by its 005 and 006).
TEST(StatesOnPostgresql, TheSchemaRefusesAStateNoCodeKnows) {
  auto& server = test::sharedPostgres();
  const std::string schema = server.freshSchema();
  Index index(IndexLocation::postgresql(server.schemaUrl(schema)));
  index.addInstance(jobStatesSeriesInstance("1.2.3.4.1", "ab/cd/1.dcm"));
  EXPECT_THROW(server.execute("UPDATE " + schema + ".series SET state = 'rendering'"), std::runtime_error);
  EXPECT_THROW(server.execute("INSERT INTO " + schema +
                              ".jobs(kind, created_at, updated_at) VALUES ('transcode', 'now', 'now')"),
               std::runtime_error);
  EXPECT_THROW(server.execute("INSERT INTO " + schema +
                              ".jobs(kind, state, created_at, updated_at) VALUES ('render', 'running', 'n', 'n')"),
               std::runtime_error)
      << "a running job always has a lease owner";
  EXPECT_NO_THROW(server.execute("INSERT INTO " + schema +
                                 ".jobs(kind, state, created_at, updated_at) VALUES ('retrieve', 'canceled', 'n', 'n')"));
  EXPECT_EQ(index.series(kJobStatesSeries)->state, SeriesState::Receiving);
}

// Migration 006 admits retrieve jobs; they name a series (the one retrieved) but,
// unlike route and render jobs, never change its state.
TEST(States, RetrieveJobsAreStoredAndLeaveTheirSeriesAlone) {
  JobStatesFixture f;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((f.dir / "index.sqlite").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "INSERT INTO jobs(kind, state, created_at, updated_at) VALUES ('retrieve', 'canceled', 'n', 'n')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  int64_t id = f.jobs.enqueue({JobKind::Retrieve, kJobStatesStudy, kJobStatesSeries, "", "pacs"});
  auto claimed = f.jobs.claimNext({JobKind::Retrieve}, "retrieval-1", 60);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->id, id);
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_TRUE(f.jobs.failPermanently(claimed->id, "retrieval-1", "pacs does not hold it"));
  EXPECT_EQ(f.state(), SeriesState::Receiving) << f.index.series(kJobStatesSeries)->state_reason;
  EXPECT_TRUE(f.jobs.retryNow(claimed->id));
  EXPECT_TRUE(f.jobs.cancel(claimed->id));
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_EQ(f.jobs.get(id)->state, JobState::Canceled);
}

// Migration 006 rebuilds the jobs table: an index of schema 5 keeps every job,
// with its counters, events and outputs (run here on a table of the same columns).
TEST(States, TheRetrieveMigrationKeepsEveryJobAndWhatRefersToIt) {
  JobStatesFixture f;
  const int64_t render = f.runningRender("worker-1-7");
  ASSERT_EQ(f.jobs.workerDied(render, "worker-1-7", "killed by signal 9", 5), JobState::Retry);
  f.jobs.planOutputs(render, {{render, "vr_spin:ct-bone", "vr_spin", "ct-bone", "1.2.9", "1.2.9.1", 9001, "VR"}});
  const auto before = f.jobs.get(render);
  const auto events = f.jobs.events(render).size();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((f.dir / "index.sqlite").c_str(), &db), SQLITE_OK);
  // What later migrations added goes too: a schema-5 index has none of it (007: cluster_members,
  // 008: the node columns and their indexes).
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE cluster_members; DROP INDEX file_slots_node; DROP INDEX associations_open; "
                         "DROP INDEX instances_association; ALTER TABLE file_slots DROP COLUMN node; "
                         "ALTER TABLE associations DROP COLUMN node; PRAGMA user_version = 5",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);

  Index reopened(f.dir / "index.sqlite");
  EXPECT_EQ(reopened.schemaVersion(), Index::latestSchemaVersion());
  JobQueue jobs(f.dir / "index.sqlite");
  const auto after = jobs.get(render);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->kind, JobKind::Render);
  EXPECT_EQ(after->state, before->state);
  EXPECT_EQ(after->crashes, 1);
  EXPECT_EQ(after->attempts, before->attempts);
  EXPECT_EQ(after->last_error, before->last_error);
  EXPECT_EQ(jobs.events(render).size(), events);
  ASSERT_EQ(jobs.outputs(render).size(), 1u);
  EXPECT_EQ(jobs.outputs(render)[0].sop_uid, "1.2.9.1");
  EXPECT_EQ(jobs.list({}).size(), 2u) << "the route job and the render job";
}

TEST_P(StatesTest, IndexRefusesATransitionTheTableDoesNotList) {
  JobStatesFixture f{GetParam()};
  EXPECT_FALSE(f.index.setSeriesState(kJobStatesSeries, SeriesState::Done, "too early"));
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_TRUE(f.index.setSeriesState(kJobStatesSeries, SeriesState::Complete, "quiet"));
  EXPECT_THROW(f.index.setSeriesState("9.9", SeriesState::Complete, "x"), Error);
}

TEST_P(StatesTest, AJobIsQueuedOnlyWithTheSeriesChangeItNeeds) {
  JobStatesFixture f{GetParam()};
  int64_t first = f.jobs.enqueue({JobKind::Route, kJobStatesStudy, kJobStatesSeries}, SeriesChange{SeriesState::Complete, "quiet"});
  EXPECT_GT(first, 0);
  EXPECT_EQ(f.state(), SeriesState::Complete);
  // Completion deciding twice (or a second node) must not route the series twice.
  EXPECT_EQ(f.jobs.enqueue({JobKind::Route, kJobStatesStudy, kJobStatesSeries}, SeriesChange{SeriesState::Complete, "quiet"}), 0);
  EXPECT_EQ(f.jobCount(), 1);
}

TEST_P(StatesTest, ARenderSucceedsWithItsSeriesDoneAndItsSendJobsInOneStep) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  EXPECT_EQ(f.state(), SeriesState::Processing);
  JobSuccess done;
  done.series = SeriesChange{SeriesState::Done, "4 objects"};
  done.follow_ups.push_back({JobKind::Send, kJobStatesStudy, kJobStatesSeries, "ct-bundle", "pacs", "{\"render_job\": 2}"});
  EXPECT_FALSE(f.jobs.succeed(render, "someone-else", done)) << "only the lease owner reports the outcome";
  EXPECT_EQ(f.jobs.list({std::nullopt, JobKind::Send}).size(), 0u);
  EXPECT_EQ(f.state(), SeriesState::Processing);
  EXPECT_TRUE(f.jobs.succeed(render, "w", done));
  EXPECT_EQ(f.state(), SeriesState::Done);
  EXPECT_EQ(f.jobs.list({JobState::Queued, JobKind::Send}).size(), 1u);
  EXPECT_TRUE(f.jobs.rendersWithoutSends("").empty());
}

TEST_P(StatesTest, FailAndFailPermanentlyCheckTheLeaseOwner) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  EXPECT_EQ(f.jobs.fail(render, "intruder", "boom", 0), std::nullopt);
  EXPECT_FALSE(f.jobs.failPermanently(render, "intruder", "boom"));
  EXPECT_EQ(f.jobs.get(render)->state, JobState::Running);
  EXPECT_EQ(f.jobs.fail(render, "w", "disk full", 60), JobState::Retry);
  EXPECT_EQ(f.state(), SeriesState::Queued);
  EXPECT_NE(f.index.series(kJobStatesSeries)->state_reason.find("disk full"), std::string::npos);
}

TEST_P(StatesTest, CancelingARunningRenderCancelsItsSeriesAndItCanBeRenderedAgain) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  EXPECT_TRUE(f.jobs.cancel(render, "canceled by operator"));
  EXPECT_EQ(f.state(), SeriesState::Canceled) << "not 'queued': no job is queued";
  EXPECT_FALSE(f.jobs.succeed(render, "w")) << "the worker finishing late changes nothing";
  EXPECT_EQ(f.state(), SeriesState::Canceled);
  for (const auto& job : f.jobs.list({})) EXPECT_FALSE(isActive(job.state)) << "job " << job.id;
  // Rendering it again: a route job, then a render that completes.
  EXPECT_GT(f.jobs.enqueue({JobKind::Route, kJobStatesStudy, kJobStatesSeries}, SeriesChange{SeriesState::Complete, "again"}), 0);
  EXPECT_EQ(f.state(), SeriesState::Complete);
}

TEST_P(StatesTest, RetryingACanceledRenderQueuesItsSeriesAgain) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  ASSERT_TRUE(f.jobs.cancel(render));
  EXPECT_TRUE(f.jobs.retryNow(render));
  EXPECT_EQ(f.state(), SeriesState::Queued);
  EXPECT_EQ(f.jobs.get(render)->attempts, 0);
}

TEST_P(StatesTest, ALateInstanceDuringARenderKeepsTheSeriesReceiving) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  f.index.addInstance(jobStatesSeriesInstance("1.2.3.4.2", "ab/cd/2.dcm"));
  EXPECT_EQ(f.state(), SeriesState::Receiving);
  EXPECT_TRUE(f.jobs.succeed(render, "w", {"", SeriesChange{SeriesState::Done, "rendered"}, {}}));
  EXPECT_EQ(f.state(), SeriesState::Receiving) << "completion must still see the late instance";
}

TEST_P(StatesTest, AJobWhoseWorkerDiesTooOftenFailsForGoodWithTheCause) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender("worker-1-100");
  EXPECT_EQ(f.jobs.workerDied(render, "worker-1-100", "worker killed by SIGSEGV while assembling series " +
                                                         std::string(kJobStatesSeries), 2),
            JobState::Retry);
  EXPECT_EQ(f.state(), SeriesState::Queued);
  auto again = f.jobs.claimNext({JobKind::Render}, "worker-1-101", 60);
  ASSERT_TRUE(again) << "retried at once";
  EXPECT_EQ(again->crashes, 1);
  EXPECT_EQ(f.jobs.workerDied(render, "worker-1-101", "worker killed by SIGSEGV while assembling series " +
                                                         std::string(kJobStatesSeries), 2),
            JobState::Failed);
  auto job = f.jobs.get(render);
  EXPECT_EQ(job->state, JobState::Failed);
  EXPECT_EQ(job->crashes, 2);
  EXPECT_NE(job->last_error.find("SIGSEGV while assembling series 1.2.3.2, 2 times"), std::string::npos)
      << job->last_error;
  EXPECT_EQ(f.state(), SeriesState::Failed);
  EXPECT_NE(f.index.series(kJobStatesSeries)->state_reason.find("2 times"), std::string::npos);
  EXPECT_FALSE(f.jobs.claimNext({JobKind::Render}, "worker-1-102", 60)) << "a poisoned series is not run again";
  JobQueue restarted(f.location);
  EXPECT_EQ(restarted.requeueAllRunning("node restarted"), 0);
  EXPECT_TRUE(restarted.seriesWithoutActiveJob().empty()) << "a failed series is not repaired into a new attempt";
}

TEST_P(StatesTest, RequeueingAfterARestartPutsTheSeriesBackInTheQueue) {
  JobStatesFixture f{GetParam()};
  f.runningRender("old-process");
  JobQueue restarted(f.location);
  EXPECT_EQ(restarted.requeueAllRunning("node restarted"), 1);
  EXPECT_EQ(f.state(), SeriesState::Queued);
  EXPECT_TRUE(restarted.seriesWithoutActiveJob().empty());
}

TEST_P(StatesTest, StartUpRepairFindsSeriesWithoutAnActiveJob) {
  JobStatesFixture f{GetParam()};
  ASSERT_TRUE(f.index.setSeriesState(kJobStatesSeries, SeriesState::Complete, "quiet (routed by an older version)"));
  auto orphans = f.jobs.seriesWithoutActiveJob();
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].series_uid, kJobStatesSeries);
  EXPECT_EQ(orphans[0].state, SeriesState::Complete);
}

TEST_P(StatesTest, ARenderWithoutSendJobsIsFoundForRepair) {
  JobStatesFixture f{GetParam()};
  int64_t render = f.runningRender();
  ASSERT_TRUE(f.jobs.succeed(render, "w", {"", SeriesChange{SeriesState::Done, "rendered"}, {}}));
  auto found = f.jobs.rendersWithoutSends("");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, render);
  EXPECT_TRUE(f.jobs.rendersWithoutSends("9999").empty()) << "only renders finished since the given time";
  nlohmann::json payload{{"render_job", render}};
  f.jobs.enqueue({JobKind::Send, kJobStatesStudy, kJobStatesSeries, "ct-bundle", "pacs", payload.dump()});
  EXPECT_TRUE(f.jobs.rendersWithoutSends("").empty());
}

VOLNODE_ON_BOTH_BACKENDS(StatesTest);
