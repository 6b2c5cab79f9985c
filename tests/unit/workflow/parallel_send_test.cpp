// Sending over several associations at once: the real export worker sends a render
// job's objects to DCMTK's storescp (--fork: one process per association, unique file
// names, so an object stored twice would leave two files) and every object arrives once.
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include "parallel_delivery.hpp"
#include "support/dicom_files.hpp"
#include "support/postgres_server.hpp"
#include "support/process.hpp"
#include "support/synthetic_series.hpp"
#include "support/wait.hpp"
#include "volnode/scp/store_scp.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/object_delivery.hpp"
#include "volnode/workflow/send_workers.hpp"

namespace volnode {
namespace {

using namespace std::chrono_literals;

constexpr const char* kParallelSendStudy = "1.2.826.0.1.3680043.2.1125.78.1";
constexpr const char* kParallelSendSeries = "1.2.826.0.1.3680043.2.1125.78.2";

std::string readText(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++count;
  return count;
}

// storescp forking a process per association, each object in a file of its own.
class ForkingStorescp {
 public:
  explicit ForkingStorescp(const std::filesystem::path& dir) : dir_(dir), port_(test::freePort()) {
    std::filesystem::create_directories(received());
    process_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{"storescp", "-v", "--fork", "-uf", "-aet", "PACS", "-od", received().string(),
                                 std::to_string(port_)},
        log());
    if (!test::waitForPort(port_, 10000ms)) throw std::runtime_error("storescp did not listen: " + readText(log()));
  }
  ~ForkingStorescp() { process_->terminate(10s); }
  std::filesystem::path received() const { return dir_ / "received"; }
  std::filesystem::path log() const { return dir_ / "storescp.log"; }
  int port() const { return port_; }

  // SOP Instance UID -> how many files hold it.
  std::map<std::string, int> storedObjects() const {
    std::map<std::string, int> count;
    for (const auto& entry : std::filesystem::directory_iterator(received()))
      ++count[test::sopInstanceUid(entry.path())];
    return count;
  }

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<test::ChildProcess> process_;
};

// The send worker's index on either backend (the pass's joined query and batch on both).
class ParallelSendOnBackend : public ::testing::TestWithParam<bool> {};

IndexLocation indexOn(bool postgresql, const std::filesystem::path& dir) {
  if (postgresql) return IndexLocation::postgresql(test::sharedPostgres().freshSchemaUrl());
  return IndexLocation(dir / "index.sqlite");
}

// The destination "pacs" (AE title PACS) on this machine's `port`, sent to over three
// associations at once.
Destination pacsOnThreeAssociations(int port) {
  Destination pacs;
  pacs.name = "pacs";
  pacs.aet = "PACS";
  pacs.host = "127.0.0.1";
  pacs.port = static_cast<uint16_t>(port);
  pacs.associations = 3;
  return pacs;
}

// A finished render job of series `series_uid` with `slices` small CT objects on disk,
// planned and recorded as the render does, and its send job to "pacs" queued.
std::vector<JobOutput> finishedRenderWithItsSend(JobQueue& jobs, const std::filesystem::path& made,
                                                 const std::filesystem::path& results, int slices,
                                                 const std::string& series_uid) {
  const int64_t render = jobs.enqueue({JobKind::Render, kParallelSendStudy, series_uid, "ct"});
  EXPECT_TRUE(jobs.claimNext({JobKind::Render}, "worker-1", 600));
  test::SyntheticSeries series;
  series.rows = series.cols = 32;
  series.slices = slices;
  series.study_instance_uid = kParallelSendStudy;
  const auto written = test::writeSyntheticSeries(series, made);
  std::vector<JobOutput> planned;
  for (size_t i = 0; i < written.files.size(); ++i) {
    JobOutput o;
    o.output_key = "reformat:axial:" + std::to_string(i + 1);
    o.kind = "reformat";
    o.sop_uid = test::sopInstanceUid(written.files[i]);
    o.series_uid = written.series_instance_uid;
    o.description = "axial";
    planned.push_back(o);
  }
  jobs.planOutputs(render, planned);
  for (size_t i = 0; i < written.files.size(); ++i) {
    const auto relative = std::filesystem::path(std::to_string(render)) / (std::to_string(i) + ".dcm");
    std::filesystem::create_directories(results / relative.parent_path());
    std::filesystem::copy_file(written.files[i], results / relative);
    jobs.recordOutputFile(render, planned[i].output_key, UID_CTImageStorage, relative.string(),
                          static_cast<int64_t>(std::filesystem::file_size(results / relative)), 1);
  }
  JobSuccess success;
  success.follow_ups.push_back(
      {JobKind::Send, kParallelSendStudy, series_uid, "ct", "pacs", "{\"render_job\": " + std::to_string(render) + "}"});
  EXPECT_TRUE(jobs.succeed(render, "worker-1", success));
  return planned;
}

TEST_P(ParallelSendOnBackend, EveryObjectArrivesOnceOverSeveralAssociations) {
  test::TempDir dir("volnode-parallel-send");
  const IndexLocation location = indexOn(GetParam(), dir.path());
  Index index(location);
  JobQueue jobs(location);
  ForkingStorescp storescp(dir / "scp");
  const auto results = dir / "results";
  const auto planned = finishedRenderWithItsSend(jobs, dir / "made", results, 25, kParallelSendSeries);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const Destination pacs = pacsOnThreeAssociations(storescp.port());
  SendWorkers sender(SendingConfig{}, {{"pacs", pacs}}, "VOLNODE", results, jobs);
  sender.start();
  auto sendJob = [&] { return jobs.list({std::nullopt, JobKind::Send}).at(0); };
  ASSERT_TRUE(test::waitFor([&] { return !isActive(sendJob().state); }, 60s, 20ms));
  sender.stop();
  ASSERT_EQ(sendJob().state, JobState::Succeeded) << sendJob().last_error;

  // Each object stored exactly once, and recorded as delivered.
  const auto stored = storescp.storedObjects();
  EXPECT_EQ(stored.size(), planned.size());
  for (const auto& o : planned) {
    EXPECT_EQ(stored.count(o.sop_uid) ? stored.at(o.sop_uid) : 0, 1) << o.sop_uid;
    EXPECT_TRUE(jobs.delivered("pacs", o.sop_uid)) << o.sop_uid;
  }
  // One pass (the render had ended), split over the three associations.
  EXPECT_EQ(occurrences(readText(storescp.log()), "Association Acknowledged"), 3u) << readText(storescp.log());
}

INSTANTIATE_TEST_SUITE_P(Backends, ParallelSendOnBackend, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Postgresql" : "Sqlite"; });

// The node's own listener as a PACS that takes one association at a time: it counts
// what it keeps, taking 200 ms for each instance so that the association that got the
// one slot holds it longer than the listener lets another wait for it (0.5 s).
class OneAtATimePacs : public InstanceSink {
 public:
  explicit OneAtATimePacs(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    initDicomNetworking();
    DicomConfig config;
    config.aet = "PACS";
    config.bind = "127.0.0.1";
    config.port = static_cast<uint16_t>(test::freePort());
    config.max_associations = 1;
    port_ = config.port;
    scp_ = std::make_unique<StoreScp>(config, *this);
    scp_->start();
  }
  ~OneAtATimePacs() override { scp_->stop(); }
  int port() const { return port_; }
  int64_t refused() const { return scp_->status().associations_refused; }
  std::map<std::string, int> kept() {
    std::lock_guard lock(mutex_);
    return kept_;
  }

  bool acceptsInstances(std::string*) override { return true; }
  std::unique_ptr<PendingInstance> prepareInstance() override {
    const auto file = dir_ / std::to_string(next_file_++);
    std::ofstream{file};  // the listener writes into a slot that exists
    return std::make_unique<Pending>(*this, file);
  }
  int64_t associationAccepted(const AssociationInfo&) override { return ++associations_; }
  void associationEnded(const AssociationInfo&, const AssociationStats&) override {}
  void associationRefused(const AssociationInfo&, const std::string&) override {}

 private:
  class Pending : public PendingInstance {
   public:
    Pending(OneAtATimePacs& pacs, std::filesystem::path file) : pacs_(pacs), file_(std::move(file)) {}
    const std::filesystem::path& file() const override { return file_; }
    DispositionResult keep(const std::string&, const std::string& sop_instance_uid, const AssociationInfo&) override {
      std::this_thread::sleep_for(200ms);
      std::lock_guard lock(pacs_.mutex_);
      ++pacs_.kept_[sop_instance_uid];
      return {InstanceDisposition::Kept, "", std::filesystem::file_size(file_)};
    }

   private:
    OneAtATimePacs& pacs_;
    std::filesystem::path file_;
  };

  std::filesystem::path dir_;
  int port_ = 0;
  std::atomic<int64_t> associations_{0}, next_file_{0};
  std::mutex mutex_;
  std::map<std::string, int> kept_;
  std::unique_ptr<StoreScp> scp_;
};

// Three associations configured, one taken: the refused ones' objects go again over one
// association within the same delivery (the send pass does not fail, no attempt is
// spent), and each object arrives once.
TEST(ParallelSend, APacsTakingFewerAssociationsGetsEveryObjectOnceInTheSamePass) {
  test::TempDir dir("volnode-parallel-send-one");
  OneAtATimePacs pacs(dir / "pacs");
  test::SyntheticSeries series;
  series.rows = series.cols = 16;
  series.slices = 12;
  const auto written = test::writeSyntheticSeries(series, dir / "made");
  const Destination one = pacsOnThreeAssociations(pacs.port());
  const SendReport report = makeObjectDelivery(one, "VOLNODE")->deliver(written.files, {});
  EXPECT_GE(pacs.refused(), 1) << "the PACS refused the associations beyond its one";
  EXPECT_EQ(report.association, AssociationFailure::None) << report.association_error;
  ASSERT_EQ(report.files.size(), written.files.size());
  const auto kept = pacs.kept();
  for (size_t i = 0; i < written.files.size(); ++i) {
    EXPECT_EQ(report.files[i].outcome, SendOutcome::Delivered) << report.files[i].text;
    const auto sop = test::sopInstanceUid(written.files[i]);
    EXPECT_EQ(report.files[i].sop_instance_uid, sop);
    EXPECT_EQ(kept.count(sop) ? kept.at(sop) : 0, 1) << sop;
  }
}

// The export worker remembers that the PACS took one association at a time: the next
// send opens one, so the PACS refuses nothing more and every object still arrives once.
TEST(ParallelSend, TheNextSendOpensOnlyTheAssociationsThePacsTook) {
  test::TempDir dir("volnode-parallel-send-learned");
  OneAtATimePacs pacs(dir / "pacs");
  const IndexLocation location(dir / "index.sqlite");
  Index index(location);
  JobQueue jobs(location);
  const auto results = dir / "results";
  // 4 objects an association (0.8 s) outlast the 0.5 s another may wait for the slot.
  auto first = finishedRenderWithItsSend(jobs, dir / "made-1", results, 12, "1.2.826.0.1.3680043.2.1125.78.3");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const Destination one = pacsOnThreeAssociations(pacs.port());
  SendWorkers sender(SendingConfig{}, {{"pacs", one}}, "VOLNODE", results, jobs);
  auto succeededSends = [&] {
    size_t done = 0;
    for (const auto& job : jobs.list({std::nullopt, JobKind::Send})) done += job.state == JobState::Succeeded;
    return done;
  };
  sender.start();
  ASSERT_TRUE(test::waitFor([&] { return succeededSends() == 1; }, 60s, 20ms));
  const int64_t refused_by_the_first = pacs.refused();
  EXPECT_EQ(refused_by_the_first, 2) << "the first send opened three";

  const auto second = finishedRenderWithItsSend(jobs, dir / "made-2", results, 12, "1.2.826.0.1.3680043.2.1125.78.4");
  ASSERT_FALSE(::testing::Test::HasFailure());
  sender.poke();
  ASSERT_TRUE(test::waitFor([&] { return succeededSends() == 2; }, 60s, 20ms));
  sender.stop();
  EXPECT_EQ(pacs.refused(), refused_by_the_first) << "the second send opened one association";
  first.insert(first.end(), second.begin(), second.end());
  const auto kept = pacs.kept();
  EXPECT_EQ(kept.size(), first.size());
  for (const auto& o : first) EXPECT_EQ(kept.count(o.sop_uid) ? kept.at(o.sop_uid) : 0, 1) << o.sop_uid;
}

// The lanes' reports come back as one, in the order of the files: with nobody listening,
// every file failed with the exchange's own error, which the send worker reports once.
TEST(ParallelSend, AnUnreachableDestinationFailsEveryFileInOrderWithTheExchangesError) {
  test::TempDir dir("volnode-parallel-send-down");
  test::SyntheticSeries series;
  series.rows = series.cols = 16;
  series.slices = 7;
  const auto written = test::writeSyntheticSeries(series, dir / "made");
  const Destination down = pacsOnThreeAssociations(test::freePort());  // nothing listens there
  const SendReport report = makeObjectDelivery(down, "VOLNODE")->deliver(written.files, {});
  EXPECT_EQ(report.association, AssociationFailure::Unreachable);
  EXPECT_FALSE(report.association_error.empty());
  ASSERT_EQ(report.files.size(), written.files.size());
  for (size_t i = 0; i < written.files.size(); ++i) {
    EXPECT_EQ(report.files[i].path, written.files[i].string());
    EXPECT_EQ(report.files[i].sop_instance_uid, test::sopInstanceUid(written.files[i]));
    EXPECT_EQ(report.files[i].outcome, SendOutcome::Failed);
    EXPECT_EQ(report.files[i].text, report.association_error);
  }
}

TEST(ParallelSend, FilesAreSplitBySizeEachOnceAndInOrder) {
  // A large spin first, then slices of equal size.
  std::vector<std::uintmax_t> sizes{9000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
  const auto groups = splitBySize(sizes, 3);
  ASSERT_EQ(groups.size(), 3u);
  std::vector<size_t> all;
  for (const auto& group : groups) {
    ASSERT_FALSE(group.empty());
    EXPECT_TRUE(std::is_sorted(group.begin(), group.end())) << "a group keeps the order it was given in";
    all.insert(all.end(), group.begin(), group.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<size_t> expected(sizes.size());
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected) << "every file in exactly one group";
  // The spin's group takes no slice while the others have fewer bytes.
  EXPECT_EQ(groups[0], (std::vector<size_t>{0}));
  EXPECT_EQ(groups[1].size() + groups[2].size(), 9u);

  EXPECT_EQ(splitBySize({5, 5}, 4).size(), 2u) << "never an empty group";
  EXPECT_EQ(splitBySize({}, 4).size(), 0u);
  EXPECT_EQ(splitBySize({5, 5, 5}, 1).size(), 1u);
}

}  // namespace
}  // namespace volnode
