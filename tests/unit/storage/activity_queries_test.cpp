// ActivityQueries over a temporary index written by the real Index and JobQueue.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include "backends.hpp"
#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/activity_queries.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using volnode::test::Backend;
using volnode::test::TempDir;

namespace {

const std::string kStudy = "1.2.3.1";
const std::string kSeries = "1.2.3.2";
const std::string kLongAgo = "2000-01-01T00:00";

NewInstance activityInstance(const std::string& sop_uid, const std::string& series_uid = kSeries, uint64_t size = 100) {
  NewInstance n;
  n.attributes.patient_id = "P1";
  n.attributes.study_uid = kStudy;
  n.attributes.series_uid = series_uid;
  n.attributes.sop_uid = sop_uid;
  n.attributes.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2";
  n.attributes.modality = "CT";
  n.file_path = "ab/" + sop_uid + ".dcm";
  n.file_size = size;
  return n;
}

NewJob job(JobKind kind, const std::string& destination = "") {
  NewJob j;
  j.kind = kind;
  j.study_uid = kStudy;
  j.series_uid = kSeries;
  j.destination = destination;
  j.max_attempts = 2;
  return j;
}

struct ActivityFixture {
  explicit ActivityFixture(Backend backend = Backend::Sqlite)
      : location(test::freshIndex(backend, dir.path())), index(location), jobs(location), activity(location) {}
  TempDir dir;
  IndexLocation location;
  Index index;
  JobQueue jobs;
  ActivityQueries activity;

  // A render job that succeeded and planned one output object.
  int64_t succeededRender(const std::string& output_sop_uid) {
    int64_t id = jobs.enqueue(job(JobKind::Render));
    EXPECT_EQ(jobs.claimNext({JobKind::Render}, "w", 30)->id, id);
    JobOutput output;
    output.output_key = "mip:0";
    output.sop_uid = output_sop_uid;
    output.series_uid = "2.25.9";
    output.description = "MIP";
    jobs.planOutputs(id, {output});
    EXPECT_TRUE(jobs.succeed(id, "w"));
    return id;
  }
};

class ActivityQueriesTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(ActivityQueriesTest, ThroughputCountsInstancesBytesAndSucceededJobsPerMinute) {
  ActivityFixture f{GetParam()};
  f.index.addInstance(activityInstance("1.2.3.4.1", kSeries, 100));
  f.index.addInstance(activityInstance("1.2.3.4.2", kSeries, 250));
  f.succeededRender("2.25.1");
  f.jobs.enqueue(job(JobKind::Send, "pacs"));  // queued, not succeeded: not counted

  int64_t instances = 0, bytes = 0, renders = 0, sends = 0;
  std::string previous;
  for (const auto& m : f.activity.throughputSince(kLongAgo)) {
    EXPECT_EQ(m.minute.size(), 16u) << m.minute;
    EXPECT_LT(previous, m.minute) << "oldest first, one entry per minute";
    previous = m.minute;
    instances += m.instances;
    bytes += m.bytes;
    renders += m.renders;
    sends += m.sends;
  }
  EXPECT_EQ(instances, 2);
  EXPECT_EQ(bytes, 350);
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(sends, 0);
  EXPECT_TRUE(f.activity.throughputSince("2999-01-01T00:00").empty());
}

TEST_P(ActivityQueriesTest, RecentErrorsGatherFailedJobsFailedSeriesAndRefusedAssociations) {
  ActivityFixture f{GetParam()};
  f.index.addInstance(activityInstance("1.2.3.4.1"));
  ASSERT_TRUE(f.index.setSeriesState(kSeries, SeriesState::Complete, "all instances"));
  ASSERT_TRUE(f.index.setSeriesState(kSeries, SeriesState::Failed, "pixel data could not be decoded"));
  int64_t association = f.index.beginAssociation("MODALITY", "VOLNODE", "10.0.0.7");
  f.index.endAssociation(association, 0, 0, 0, "refused: calling AE title not allowed");
  int64_t released = f.index.beginAssociation("CT1", "VOLNODE", "10.0.0.8");
  f.index.endAssociation(released, 1, 100, 0, "released");
  int64_t send = f.jobs.enqueue(job(JobKind::Send, "pacs"));
  ASSERT_TRUE(f.jobs.claimNext({JobKind::Send}, "w", 30));
  ASSERT_EQ(f.jobs.fail(send, "w", "association rejected", 3600), JobState::Retry);
  f.jobs.enqueue(job(JobKind::Render));  // queued without error: not an error

  auto errors = f.activity.recentErrors(10);
  ASSERT_EQ(errors.size(), 3u);
  for (size_t i = 1; i < errors.size(); ++i) EXPECT_GE(errors[i - 1].at, errors[i].at) << "newest first";
  std::map<ErrorSource, RecentError> by_source;
  for (const auto& e : errors) by_source[e.source] = e;
  ASSERT_EQ(by_source.size(), 3u);
  const auto& job_error = by_source[ErrorSource::Job];
  EXPECT_EQ(job_error.job_id, send);
  EXPECT_EQ(job_error.job_kind, JobKind::Send);
  EXPECT_EQ(job_error.destination, "pacs");
  EXPECT_EQ(job_error.reason, "will be retried: association rejected");
  const auto& series_error = by_source[ErrorSource::Series];
  EXPECT_EQ(series_error.series_uid, kSeries);
  EXPECT_EQ(series_error.study_uid, kStudy);
  EXPECT_EQ(series_error.reason, "failed: pixel data could not be decoded");
  EXPECT_FALSE(series_error.job_kind);
  const auto& association_error = by_source[ErrorSource::Association];
  EXPECT_EQ(association_error.peer, "'MODALITY' at 10.0.0.7 calling 'VOLNODE'");
  EXPECT_EQ(association_error.reason, "refused: calling AE title not allowed");

  EXPECT_EQ(f.activity.recentErrors(1).size(), 1u);
  EXPECT_EQ(f.activity.recentErrors(1).front().at, errors.front().at);
}

TEST_P(ActivityQueriesTest, RefusedSeriesAreKeptApartFromTheErrors) {
  ActivityFixture f{GetParam()};
  f.index.addInstance(activityInstance("1.2.3.4.1"));
  ASSERT_TRUE(f.index.setSeriesState(kSeries, SeriesState::Complete, "all instances"));
  ASSERT_TRUE(f.index.setSeriesState(kSeries, SeriesState::Refused, "rule never-reports-and-captures"));
  EXPECT_TRUE(f.activity.recentErrors(10).empty());
  const auto refusals = f.activity.recentRefusals(10);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].source, ErrorSource::Series);
  EXPECT_EQ(refusals[0].series_uid, kSeries);
  EXPECT_EQ(refusals[0].study_uid, kStudy);
  EXPECT_EQ(refusals[0].reason, "refused: rule never-reports-and-captures");
  EXPECT_TRUE(f.activity.recentRefusals(0).empty());
}

TEST_P(ActivityQueriesTest, DeliveriesOfAStudyNameTheRenderThatProducedEachObject) {
  ActivityFixture f{GetParam()};
  int64_t render = f.succeededRender("2.25.1");
  f.jobs.recordDelivery("pacs", "2.25.1", 0, "stored");
  f.jobs.recordDelivery("archive", "2.25.1", 0xB000, "coerced");
  f.jobs.recordDelivery("pacs", "2.25.404", 0, "not an output of this study");

  auto deliveries = f.activity.deliveriesOfStudy(kStudy);
  ASSERT_EQ(deliveries.size(), 2u);
  for (size_t i = 1; i < deliveries.size(); ++i) EXPECT_LE(deliveries[i - 1].at, deliveries[i].at);
  std::map<std::string, Delivery> by_destination;
  for (const auto& d : deliveries) by_destination[d.destination] = d;
  EXPECT_EQ(by_destination["pacs"].job_id, render);
  EXPECT_EQ(by_destination["pacs"].sop_uid, "2.25.1");
  EXPECT_EQ(by_destination["pacs"].description, "MIP");
  EXPECT_EQ(by_destination["archive"].status, 0xB000);
  EXPECT_EQ(by_destination["archive"].detail, "coerced");
  EXPECT_TRUE(f.activity.deliveriesOfStudy("9.9").empty());
}

TEST_P(ActivityQueriesTest, TotalsCountByTypedStateKindAndDestination) {
  ActivityFixture f{GetParam()};
  f.index.addInstance(activityInstance("1.2.3.4.1"));
  f.index.addInstance(activityInstance("1.2.3.5.1", "1.2.3.5"));
  ASSERT_TRUE(f.index.setSeriesState("1.2.3.5", SeriesState::Complete, "all instances"));
  int64_t refused = f.index.beginAssociation("X", "VOLNODE", "10.0.0.7");
  f.index.endAssociation(refused, 0, 0, 0, "refused: unknown AE");
  int64_t released = f.index.beginAssociation("CT1", "VOLNODE", "10.0.0.8");
  f.index.endAssociation(released, 2, 200, 0, "released");
  f.succeededRender("2.25.1");
  f.jobs.recordDelivery("pacs", "2.25.1", 0, "");
  // A send that fails twice (retry, then failed for good): two failed attempts.
  int64_t send = f.jobs.enqueue(job(JobKind::Send, "pacs"));
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASSERT_TRUE(f.jobs.claimNext({JobKind::Send}, "w", 30));
    f.jobs.fail(send, "w", "unreachable", 0);
  }

  auto t = f.activity.totals();
  EXPECT_EQ(t.associations, 2);
  EXPECT_EQ(t.associations_refused, 1);
  EXPECT_EQ(t.associations_by_outcome["refused"], 1);
  EXPECT_EQ(t.associations_by_outcome["released"], 1);
  EXPECT_EQ(t.received_instances, 2);
  EXPECT_EQ(t.received_bytes, 200);
  EXPECT_EQ(t.series_by_state[SeriesState::Receiving], 1);
  EXPECT_EQ(t.series_by_state[SeriesState::Complete], 1);
  EXPECT_EQ((t.jobs_by_kind_and_state[{JobKind::Render, JobState::Succeeded}]), 1);
  EXPECT_EQ((t.jobs_by_kind_and_state[{JobKind::Send, JobState::Failed}]), 1);
  EXPECT_EQ(t.failed_sends_by_destination["pacs"], 2);
  EXPECT_EQ(t.deliveries_by_destination["pacs"], 1);
  ASSERT_EQ(t.render_seconds.size(), 1u);
  EXPECT_GE(t.render_seconds.front(), 0.0);
  EXPECT_TRUE(t.send_seconds.empty());
}

TEST_P(ActivityQueriesTest, LatestSucceededRenderOfASeries) {
  ActivityFixture f{GetParam()};
  EXPECT_FALSE(f.activity.latestSucceededRender(kSeries));
  int64_t first = f.succeededRender("2.25.1");
  int64_t second = f.succeededRender("2.25.2");
  f.jobs.enqueue(job(JobKind::Render));  // queued: not a result yet
  ASSERT_NE(first, second);
  EXPECT_EQ(f.activity.latestSucceededRender(kSeries), second);
  EXPECT_FALSE(f.activity.latestSucceededRender("9.9"));
}

// A dashboard polling during ingest neither waits for the writer nor sees what it
// has not committed.
TEST(ActivityQueries, ReadsWhileAWriterHoldsItsTransaction) {
  ActivityFixture f;
  f.index.addInstance(activityInstance("1.2.3.4.1"));
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open((f.dir / "index.sqlite").c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "BEGIN IMMEDIATE; INSERT INTO associations(calling_aet, called_aet, peer_host, outcome, "
                         "started_at) VALUES ('A', 'B', 'h', 'refused: test', '2026-01-01T00:00:00.000Z')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(writer);
  auto t = f.activity.totals();
  EXPECT_EQ(t.associations, 0);
  EXPECT_TRUE(f.activity.recentErrors(5).empty());
  sqlite3_exec(writer, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
  EXPECT_EQ(f.activity.totals().associations, 1);
}

TEST(ActivityQueries, AMissingIndexIsADatabaseError) {
  TempDir dir;
  ActivityQueries activity(dir / "none.sqlite");
  EXPECT_THROW(activity.totals(), Error);
}

VOLNODE_ON_BOTH_BACKENDS(ActivityQueriesTest);
