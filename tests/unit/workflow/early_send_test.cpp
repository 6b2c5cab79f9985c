// Sending each object as soon as it is encoded: the test plays the render job (it
// records objects and releases them under the render's lease, step by step), the real
// export worker sends them over DICOM to a real DCMTK Storage SCP in this process.
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dstorscp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "support/dicom_files.hpp"
#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "support/synthetic_series.hpp"
#include "support/wait.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/send_workers.hpp"

namespace volnode {
namespace {

using namespace std::chrono_literals;

constexpr const char* kEarlySendStudy = "1.2.826.0.1.3680043.2.1125.77.1";
constexpr const char* kEarlySendSeries = "1.2.826.0.1.3680043.2.1125.77.2";
constexpr const char* kRenderWorker = "worker-1";

// A Storage SCP that takes CT images only (any other class is refused when the
// association is negotiated) and counts the C-STORE requests per SOP Instance UID.
class CtOnlyScp : public DcmStorageSCP {
 public:
  explicit CtOnlyScp(const std::filesystem::path& dir) : port_(test::freePort()) {
    std::filesystem::create_directories(dir / "received");
    setOutputDirectory((dir / "received").c_str());
    setAETitle("PACS");
    setPort(static_cast<Uint16>(port_));
    setConnectionBlockingMode(DUL_NOBLOCK);
    setConnectionTimeout(1);
    setHostLookupEnabled(false);
    const auto cfg = dir / "ct-only.cfg";
    std::ofstream(cfg) << "[[TransferSyntaxes]]\n[Uncompressed]\nTransferSyntax1 = LocalEndianExplicit\n"
                          "TransferSyntax2 = LittleEndianImplicit\n"
                          "[[PresentationContexts]]\n[CtOnly]\n"
                          "PresentationContext1 = VerificationSOPClass\\Uncompressed\n"
                          "PresentationContext2 = " UID_CTImageStorage "\\Uncompressed\n"
                          "[[Profiles]]\n[CtOnly]\nPresentationContexts = CtOnly\n";
    if (loadAssociationConfiguration(cfg.c_str(), "CtOnly").bad()) throw std::runtime_error("association configuration");
    thread_ = std::thread([this] { listen(); });
    if (!test::waitForPort(port_, 10000ms)) {
      stop_ = true;
      thread_.join();
      throw std::runtime_error("the storage SCP did not listen");
    }
  }
  ~CtOnlyScp() override {
    stop_ = true;
    thread_.join();
  }
  int port() const { return port_; }
  int storesOf(const std::string& sop_uid) {
    std::lock_guard lock(mutex_);
    return stores_[sop_uid];
  }
  int stores() {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& [uid, count] : stores_) n += count;
    return n;
  }

 protected:
  Uint16 checkAndProcessSTORERequest(const T_DIMSE_C_StoreRQ& request, DcmFileFormat& file) override {
    {
      std::lock_guard lock(mutex_);
      ++stores_[request.AffectedSOPInstanceUID];
    }
    return DcmStorageSCP::checkAndProcessSTORERequest(request, file);
  }
  OFBool stopAfterConnectionTimeout() override { return stop_.load(); }

 private:
  int port_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, int> stores_;
  std::thread thread_;
};

// Waits (bounded) for something the export worker does on its own thread.
struct Rig {
  test::TempDir dir{"volnode-early-send"};
  IndexLocation location = test::suiteIndexLocation(dir.path());
  Index index{location};
  JobQueue jobs{location};
  CtOnlyScp scp{dir.path() / "scp"};
  std::filesystem::path results = dir / "results";
  std::unique_ptr<SendWorkers> sender;
  int64_t render = 0;
  std::map<std::string, JobOutput> planned;  // output key -> planned object
  std::map<std::string, std::filesystem::path> file_of;

  Rig() {
    Destination pacs;
    pacs.name = "pacs";
    pacs.aet = "PACS";
    pacs.host = "127.0.0.1";
    pacs.port = static_cast<uint16_t>(scp.port());
    SendingConfig sending;
    sending.retry_initial_s = 1;
    sending.retry_max_s = 1;
    sender = std::make_unique<SendWorkers>(sending, std::map<std::string, Destination>{{"pacs", pacs}}, "VOLNODE",
                                           results, jobs);
    render = jobs.enqueue({JobKind::Render, kEarlySendStudy, kEarlySendSeries, "ct"});
    EXPECT_TRUE(jobs.claimNext({JobKind::Render}, kRenderWorker, 600));
  }
  ~Rig() { sender->stop(); }

  // The render's objects, planned before any is produced: CT images named by `ct`,
  // an MR image (a class the destination refuses) named by `mr`.
  void plan(const std::vector<std::string>& ct, const std::vector<std::string>& mr = {}) {
    std::vector<JobOutput> outputs;
    auto add = [&](const std::vector<std::string>& keys, const std::string& modality) {
      if (keys.empty()) return;
      test::SyntheticSeries s;
      s.modality = modality;
      s.rows = s.cols = 16;
      s.slices = static_cast<int>(keys.size());
      s.study_instance_uid = kEarlySendStudy;
      auto written = test::writeSyntheticSeries(s, dir / ("made-" + modality));
      for (size_t i = 0; i < keys.size(); ++i) {
        JobOutput o;
        o.output_key = keys[i];
        o.kind = "spin";
        o.sop_uid = test::sopInstanceUid(written.files[i]);
        o.series_uid = written.series_instance_uid;
        o.description = keys[i];
        outputs.push_back(o);
        planned[keys[i]] = o;
        file_of[keys[i]] = written.files[i];
      }
    };
    add(ct, "CT");
    add(mr, "MR");
    jobs.planOutputs(render, outputs);
  }

  // What the render job does when an object is encoded: file, record, release.
  bool encoded(const std::string& key, const std::string& worker = kRenderWorker) {
    const auto relative = std::filesystem::path(std::to_string(render)) / (key + ".dcm");
    std::filesystem::create_directories(results / relative.parent_path());
    std::filesystem::copy_file(file_of.at(key), results / relative, std::filesystem::copy_options::overwrite_existing);
    const bool mr = file_of.at(key).parent_path().filename() == "made-MR";
    jobs.recordOutputFile(render, key, mr ? UID_MRImageStorage : UID_CTImageStorage, relative.string(),
                          static_cast<int64_t>(std::filesystem::file_size(results / relative)), 1);
    const bool released = jobs.releaseSends(render, worker, {sendJob()});
    sender->poke();
    return released;
  }

  NewJob sendJob() const {
    return NewJob{JobKind::Send, kEarlySendStudy, kEarlySendSeries, "ct", "pacs", "{\"render_job\": " + std::to_string(render) + "}"};
  }

  // The render job's success, with its send jobs as follow-ups (as the render worker does).
  bool renderSucceeds(const std::string& worker = kRenderWorker) {
    JobSuccess success;
    success.follow_ups.push_back(sendJob());
    const bool ok = jobs.succeed(render, worker, success);
    sender->poke();
    return ok;
  }

  std::vector<Job> sendJobs() { return jobs.list({std::nullopt, JobKind::Send}); }
  bool delivered(const std::string& key) { return jobs.delivered("pacs", planned.at(key).sop_uid); }
  bool sendFinished() {
    auto sends = sendJobs();
    return sends.size() == 1 && !isActive(sends[0].state);
  }
};

TEST(EarlySend, TheFirstObjectIsDeliveredWhileTheRenderStillRuns) {
  Rig rig;
  rig.plan({"spin:ct-bone", "spin:ct-mip", "mesh:ct-bone"});
  rig.sender->start();
  ASSERT_TRUE(rig.encoded("spin:ct-bone"));
  ASSERT_EQ(rig.sendJobs().size(), 1u) << "the first object queues the destination's send job";

  ASSERT_TRUE(test::waitFor([&] { return rig.delivered("spin:ct-bone"); }, 30s, 20ms));
  EXPECT_EQ(rig.jobs.get(rig.render)->state, JobState::Running) << "the render has not ended";
  EXPECT_TRUE(isActive(rig.sendJobs()[0].state)) << "the send job waits for the rest";
  EXPECT_EQ(rig.scp.storesOf(rig.planned["spin:ct-bone"].sop_uid), 1);

  ASSERT_TRUE(rig.encoded("spin:ct-mip"));
  ASSERT_TRUE(rig.encoded("mesh:ct-bone"));
  ASSERT_TRUE(rig.renderSucceeds());
  ASSERT_TRUE(test::waitFor([&] { return rig.sendFinished(); }, 30s, 20ms));

  const auto sends = rig.sendJobs();
  ASSERT_EQ(sends.size(), 1u) << "one send job per destination";
  EXPECT_EQ(sends[0].state, JobState::Succeeded) << sends[0].last_error;
  EXPECT_EQ(sends[0].attempts, 1) << "waiting for the render costs no attempt";
  EXPECT_EQ(sends[0].warning, "");
  for (const auto& [key, output] : rig.planned) EXPECT_EQ(rig.scp.storesOf(output.sop_uid), 1) << key;
  EXPECT_EQ(rig.scp.stores(), 3);
}

TEST(EarlySend, ARefusedObjectIsRecordedAndTheRestDelivered) {
  Rig rig;
  rig.plan({"spin:ct-bone", "spin:ct-mip"}, {"mesh:ct-bone"});
  rig.sender->start();
  ASSERT_TRUE(rig.encoded("spin:ct-bone"));
  ASSERT_TRUE(test::waitFor([&] { return rig.delivered("spin:ct-bone"); }, 30s, 20ms));
  // Offered alone: the destination takes none of what is proposed, which is a refusal
  // of that class, not a destination that is down.
  ASSERT_TRUE(rig.encoded("mesh:ct-bone"));
  ASSERT_TRUE(test::waitFor([&] { return !rig.jobs.refusedSopClasses("pacs").empty(); }, 30s, 20ms));
  EXPECT_EQ(rig.jobs.refusedSopClasses("pacs"), std::vector<std::string>{UID_MRImageStorage});
  EXPECT_TRUE(isActive(rig.sendJobs()[0].state)) << "a refusal does not end the send job of a running render";
  EXPECT_EQ(rig.sendJobs()[0].last_error, "") << "a refusal is not a failed attempt";

  ASSERT_TRUE(rig.encoded("spin:ct-mip"));
  ASSERT_TRUE(rig.renderSucceeds());
  ASSERT_TRUE(test::waitFor([&] { return rig.sendFinished(); }, 30s, 20ms));
  const auto send = rig.sendJobs()[0];
  EXPECT_EQ(send.state, JobState::Succeeded) << send.last_error;
  EXPECT_NE(send.warning.find("refused 1 object(s) of a SOP class it does not accept (mesh:ct-bone)"),
            std::string::npos)
      << send.warning;
  EXPECT_TRUE(rig.delivered("spin:ct-bone"));
  EXPECT_TRUE(rig.delivered("spin:ct-mip"));
  EXPECT_FALSE(rig.delivered("mesh:ct-bone"));
  EXPECT_EQ(rig.scp.stores(), 2);
}

TEST(EarlySend, ObjectsSentBeforeTheRenderCrashedAreNotSentAgain) {
  Rig rig;
  rig.plan({"spin:ct-bone", "spin:ct-mip"});
  rig.sender->start();
  ASSERT_TRUE(rig.encoded("spin:ct-bone"));
  ASSERT_TRUE(test::waitFor([&] { return rig.delivered("spin:ct-bone"); }, 30s, 20ms));

  // The render's worker process dies; the next attempt produces the same objects again.
  ASSERT_EQ(rig.jobs.workerDied(rig.render, kRenderWorker, "killed by signal 9", 3), JobState::Retry);
  ASSERT_TRUE(rig.jobs.claimNext({JobKind::Render}, "worker-2", 600));
  ASSERT_TRUE(rig.encoded("spin:ct-bone", "worker-2"));
  ASSERT_TRUE(rig.encoded("spin:ct-mip", "worker-2"));
  ASSERT_TRUE(rig.renderSucceeds("worker-2"));
  ASSERT_TRUE(test::waitFor([&] { return rig.sendFinished(); }, 30s, 20ms));

  const auto sends = rig.sendJobs();
  ASSERT_EQ(sends.size(), 1u) << "the second attempt kept the send job of the first";
  EXPECT_EQ(sends[0].state, JobState::Succeeded) << sends[0].last_error;
  EXPECT_EQ(rig.scp.storesOf(rig.planned["spin:ct-bone"].sop_uid), 1) << "sent before the crash, not again";
  EXPECT_EQ(rig.scp.storesOf(rig.planned["spin:ct-mip"].sop_uid), 1);
}

TEST(EarlySend, ACanceledRenderEndsItsSendJobWithWhatWasSent) {
  Rig rig;
  rig.plan({"spin:ct-bone", "spin:ct-mip"});
  rig.sender->start();
  ASSERT_TRUE(rig.encoded("spin:ct-bone"));
  ASSERT_TRUE(test::waitFor([&] { return rig.delivered("spin:ct-bone"); }, 30s, 20ms));
  ASSERT_TRUE(rig.jobs.cancel(rig.render));
  EXPECT_FALSE(rig.encoded("spin:ct-mip")) << "a canceled render releases nothing more";
  ASSERT_TRUE(test::waitFor([&] { return rig.sendFinished(); }, 30s, 20ms));
  const auto send = rig.sendJobs()[0];
  EXPECT_EQ(send.state, JobState::Failed);
  EXPECT_NE(send.last_error.find("canceled"), std::string::npos) << send.last_error;
  EXPECT_FALSE(rig.delivered("spin:ct-mip"));
  EXPECT_EQ(rig.scp.stores(), 1);
}

}  // namespace
}  // namespace volnode
