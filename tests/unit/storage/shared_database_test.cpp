// Several nodes on one PostgreSQL index: start-up repair takes back only what the
// starting node held, two nodes indexing one new study at once neither fail nor
// double a row, and an unreachable server is an outage (DatabaseUnavailable),
// never an acknowledged instance without its row or a deleted file that a row names.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "support/index_records.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "volnode/core/error.hpp"
#include "volnode/storage/database_unavailable.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/instance_store.hpp"
#include "volnode/storage/job_queue.hpp"

using namespace volnode;
using namespace volnode::test;

namespace {

NewJob sendJob(const std::string& destination) {
  NewJob job;
  job.kind = JobKind::Send;
  job.destination = destination;
  return job;
}

}  // namespace

TEST(StartupRepairOnPostgresql, OnlyTheStartingNodesJobsAndExpiredLeasesAreQueuedAgain) {
  const auto location = IndexLocation::postgresql(sharedPostgres().freshSchemaUrl());
  Index index(location);  // applies the schema
  JobQueue node_a(location), node_b(location), node_a10(location);
  node_a.ownLeasesAs("host-a:104");
  node_b.ownLeasesAs("host-b:104");
  node_a10.ownLeasesAs("host-a:10");  // a name that is a prefix of node a's
  for (int i = 0; i < 4; ++i) node_a.enqueue(sendJob("pacs"));

  auto a_job = node_a.claimNext({JobKind::Send}, "export", 300);
  auto b_job = node_b.claimNext({JobKind::Send}, "export", 300);
  auto b_expired = node_b.claimNext({JobKind::Send}, "worker-2-77", -1);  // its lease has already run out
  auto a10_job = node_a10.claimNext({JobKind::Send}, "export", 300);
  ASSERT_TRUE(a_job && b_job && b_expired && a10_job);
  EXPECT_EQ(node_a.get(a_job->id)->lease_owner, "host-a:104/export");

  // Node a starts again: a new process with the same name.
  JobQueue restarted(location);
  restarted.ownLeasesAs("host-a:104");
  EXPECT_EQ(restarted.requeueInterruptedAtStart("node restarted while the job ran"), 2);
  EXPECT_EQ(restarted.get(a_job->id)->state, JobState::Queued);
  EXPECT_EQ(restarted.get(b_expired->id)->state, JobState::Queued);
  EXPECT_EQ(restarted.get(b_job->id)->state, JobState::Running) << "a live peer's job is its own";
  EXPECT_EQ(restarted.get(a10_job->id)->state, JobState::Running) << "host-a:10 is another node";
  EXPECT_TRUE(node_b.heartbeat(b_job->id, "export", 300, "sending", 50));
  EXPECT_TRUE(node_a10.succeed(a10_job->id, "export"));
  // The worker names alone do not reach another node's leases.
  EXPECT_FALSE(node_a.succeed(b_job->id, "export"));
  EXPECT_TRUE(node_b.succeed(b_job->id, "export"));
}

TEST(StartupRepairOnPostgresql, AJobInterruptedByAnOutageGoesBackUncounted) {
  const auto location = IndexLocation::postgresql(sharedPostgres().freshSchemaUrl());
  Index index(location);
  JobQueue jobs(location);
  jobs.ownLeasesAs("host-a:104");
  const int64_t id = jobs.enqueue(sendJob("pacs"));
  ASSERT_TRUE(jobs.claimNext({JobKind::Send}, "export", 300));
  EXPECT_FALSE(jobs.returnInterrupted(id, "worker-1-1", "not its lease"));
  EXPECT_TRUE(jobs.returnInterrupted(id, "export", "the index could not be reached during the attempt"));
  auto job = jobs.get(id);
  EXPECT_EQ(job->state, JobState::Queued);
  EXPECT_EQ(job->attempts, 0);
  EXPECT_EQ(job->lease_owner, "");
}

TEST(ConcurrentIngestOnPostgresql, TwoNodesIndexingOneNewStudyAtOnceNeitherFailNorDoubleARow) {
  const auto location = IndexLocation::postgresql(sharedPostgres().freshSchemaUrl());
  constexpr int kNodes = 4, kStudies = 12, kInstancesPerNode = 3;
  std::vector<std::unique_ptr<Index>> nodes;
  for (int n = 0; n < kNodes; ++n) nodes.push_back(std::make_unique<Index>(location));

  std::barrier start_together(kNodes);
  std::atomic<int> failures{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (int n = 0; n < kNodes; ++n)
    threads.emplace_back([&, n] {
      for (int s = 0; s < kStudies; ++s) {
        const std::string study = "1.2.9." + std::to_string(s);
        start_together.arrive_and_wait();  // every node meets the new study at the same moment
        for (int i = 0; i < kInstancesPerNode; ++i) {
          const std::string series = study + "." + std::to_string(i % 2 + 1);
          const std::string sop = series + "." + std::to_string(n) + "." + std::to_string(i);
          try {
            nodes[static_cast<size_t>(n)]->addInstance(ctInstanceRecord(study, series, sop));
          } catch (const std::exception& e) {
            if (failures++ == 0) {
              std::lock_guard lock(failure_mutex);
              first_failure = e.what();
            }
          }
        }
      }
    });
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0) << first_failure;
  auto counts = nodes[0]->counts();
  EXPECT_EQ(counts.patients, kStudies);
  EXPECT_EQ(counts.studies, kStudies);
  EXPECT_EQ(counts.series, 2 * kStudies);
  EXPECT_EQ(counts.instances, kNodes * kInstancesPerNode * kStudies);
  for (int s = 0; s < kStudies; ++s) {
    const std::string study = "1.2.9." + std::to_string(s);
    auto one = nodes[0]->series(study + ".1"), two = nodes[0]->series(study + ".2");
    ASSERT_TRUE(one && two);
    EXPECT_EQ(one->instances, kNodes * 2);  // instances 0 and 2 of every node
    EXPECT_EQ(two->instances, kNodes * 1);
    EXPECT_EQ(nodes[0]->seriesFiles(study + ".1").size(), static_cast<size_t>(kNodes * 2));
    EXPECT_EQ(nodes[0]->seriesTransitions(study + ".1").size(), 1u) << "one 'first instance received'";
  }
}

namespace {

WrittenSeries sharedStoreSeries(const std::filesystem::path& dir, int slices) {
  SyntheticSeries s;
  s.rows = s.cols = 8;
  s.slices = slices;
  return writeSyntheticSeries(s, dir);
}

Reservation receivedInto(InstanceStore& store, const std::filesystem::path& source) {
  auto reservation = store.reserve();
  std::filesystem::copy_file(source, reservation.path, std::filesystem::copy_options::overwrite_existing);
  return reservation;
}

}  // namespace

TEST(IndexOutageOnPostgresql, AConnectionCutWhileIndexingIsAFailureWhoseFileIsKeptAndSettledLater) {
  TempDir dir;
  auto& server = sharedPostgres();
  const std::string schema = server.freshSchema();
  const auto location = IndexLocation::postgresql(server.schemaUrl(schema));
  Index index(location);
  FileStore files(dir / "store", true, index);
  StorageConfig config{(dir / "store").string(), 0, true};
  InstanceStore store(config, index, files);
  auto series = sharedStoreSeries(dir / "in", 2);

  // The server ends the session in the middle of the indexing transaction, as a
  // restart or a network cut would.
  server.execute("CREATE FUNCTION " + schema + ".cut_session() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$");
  server.execute("CREATE TRIGGER cut BEFORE INSERT ON " + schema + ".instances FOR EACH ROW EXECUTE FUNCTION " +
                 schema + ".cut_session()");
  auto slot = receivedInto(store, series.files[0]);
  auto result = store.keep(slot, "", "", std::nullopt);
  EXPECT_EQ(result.outcome, KeepOutcome::Failed) << "never Success without an index row";
  EXPECT_NE(result.reason.find(location.describe()), std::string::npos) << result.reason;
  EXPECT_TRUE(std::filesystem::exists(slot.path)) << "a row may name it: the file stays";
  EXPECT_EQ(store.unsettled(), 1u);
  EXPECT_FALSE(index.holdsFile(slot.relative_path));

  // The index answers again: the kept file is settled (indexed) before the next instance.
  server.execute("DROP TRIGGER cut ON " + schema + ".instances");
  auto next = receivedInto(store, series.files[1]);
  EXPECT_EQ(store.keep(next, "", "", std::nullopt).outcome, KeepOutcome::Stored);
  EXPECT_EQ(store.unsettled(), 0u);
  EXPECT_TRUE(index.holdsFile(slot.relative_path));
  EXPECT_EQ(index.counts().instances, 2);
  // The sender sends the refused instance again: the same instance, nothing doubled.
  auto again = receivedInto(store, series.files[0]);
  EXPECT_EQ(store.keep(again, "", "", std::nullopt).outcome, KeepOutcome::Duplicate);
  EXPECT_EQ(index.counts().instances, 2);
}

TEST(IndexOutageOnPostgresql, AStoppedServerIsAnOutageUntilItIsBackOnItsPortAndData) {
  TempDir dir;
  PostgresServer server;  // its own: this test stops it
  const auto location = IndexLocation::postgresql(server.url());
  Index index(location);
  JobQueue jobs(location);
  FileStore files(dir / "store", true, index);
  StorageConfig config{(dir / "store").string(), 0, true};
  InstanceStore store(config, index, files);
  auto series = sharedStoreSeries(dir / "in", 2);
  const int64_t job = jobs.enqueue(sendJob("pacs"));
  auto refused = store.reserve();  // a slot of the batch created before the outage

  server.stop();
  std::string why;
  EXPECT_FALSE(index.reachable(&why));
  EXPECT_NE(why.find("127.0.0.1:" + std::to_string(server.port())), std::string::npos) << why;
  try {
    jobs.claimNext({JobKind::Send}, "export", 300);
    ADD_FAILURE() << "claimed from a stopped server";
  } catch (const Error& e) {
    EXPECT_TRUE(isDatabaseUnavailable(e)) << e.what();
    EXPECT_EQ(e.code(), Errc::Database) << "still a database error to code that does not wait";
  }
  std::filesystem::copy_file(series.files[0], refused.path, std::filesystem::copy_options::overwrite_existing);
  auto result = store.keep(refused, "", "", std::nullopt);
  EXPECT_EQ(result.outcome, KeepOutcome::Failed);
  EXPECT_FALSE(std::filesystem::exists(refused.path)) << "nothing was written to the index: the slot is released";
  for (int i = 0; i < 64; ++i) {  // the rest of the batch; then a new batch must be recorded first
    try {
      store.release(store.reserve());
    } catch (const Error& e) {
      EXPECT_TRUE(isDatabaseUnavailable(e)) << e.what();
      break;
    }
    EXPECT_LT(i, 63) << "a new batch of slots was created without its ledger rows";
  }

  server.start();
  EXPECT_TRUE(index.reachable());
  auto claimed = jobs.claimNext({JobKind::Send}, "export", 300);
  ASSERT_TRUE(claimed);
  EXPECT_EQ(claimed->id, job);
  auto stored = receivedInto(store, series.files[0]);
  EXPECT_EQ(store.keep(stored, "", "", std::nullopt).outcome, KeepOutcome::Stored);
  EXPECT_EQ(index.counts().instances, 1);
}
