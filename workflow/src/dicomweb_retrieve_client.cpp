// Retrieval from DICOMweb archives: QIDO-RS for the series, WADO-RS for the
// instances, each kept through the listener's InstanceSink as if it had come by
// C-STORE within one association (so completion, routing and the association
// log treat both the same).
#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/dicomweb/dicomweb_source.hpp"
#include "volnode/scp/instance_sink.hpp"
#include "volnode/workflow/retrieve_client.hpp"

namespace volnode {
namespace {

RemoteSeries toRemote(const dicomweb::QidoSeries& s) {
  return RemoteSeries{s.study_instance_uid, s.patient_id,    s.series_instance_uid, s.modality,
                      s.series_description, s.series_number, s.number_of_instances};
}

// Hands each retrieved file to the sink; reports progress against the count QIDO-RS gave.
class KeepThroughSink : public dicomweb::RetrievedInstances {
 public:
  KeepThroughSink(InstanceSink& sink, const AssociationInfo& association, int expected,
                  const RetrieveProgress& progress)
      : sink_(sink), association_(association), expected_(expected), progress_(progress) {}

  std::filesystem::path begin() override {
    std::string why;
    if (!sink_.acceptsInstances(&why)) throw Error(Errc::OutOfSpace, "cannot keep retrieved instances: " + why);
    pending_ = sink_.prepareInstance();
    return pending_->file();
  }
  bool complete() override {
    DispositionResult kept = pending_->keep("", "", association_);
    pending_.reset();
    const bool ok = kept.disposition == InstanceDisposition::Kept ||
                    kept.disposition == InstanceDisposition::KeptConflict ||
                    kept.disposition == InstanceDisposition::Duplicate;
    if (ok) {
      ++stats.instances;
      stats.bytes += static_cast<int64_t>(kept.bytes);
    } else {
      ++stats.failures;
      if (first_refusal.empty()) first_refusal = kept.reason;
    }
    return ok;
  }
  void discard() override { pending_.reset(); }  // the pending instance releases its slot
  bool goOn() override {
    if (!progress_) return true;
    const int done = static_cast<int>(stats.instances + stats.failures);
    const double percent = expected_ > 0 ? std::min(99.0, 100.0 * done / expected_) : 0.0;
    return progress_(fmt::format("WADO-RS from {}: {} of {} instances", association_.calling_aet, done,
                                 expected_ > 0 ? std::to_string(expected_) : std::string("?")),
                     percent);
  }

  AssociationStats stats;
  std::string first_refusal;

 private:
  InstanceSink& sink_;
  const AssociationInfo& association_;
  int expected_;
  const RetrieveProgress& progress_;
  std::unique_ptr<PendingInstance> pending_;
};

class DicomWebRetrieveClient : public RetrieveClient {
 public:
  DicomWebRetrieveClient(InstanceSink& sink, std::string node_aet) : sink_(sink), node_aet_(std::move(node_aet)) {}

  std::vector<RemoteSeries> findSeries(const Destination& peer, const std::string& study_uid) override {
    std::vector<RemoteSeries> out;
    for (const auto& s : dicomweb::DicomWebSource(peer).seriesOfStudy(study_uid)) out.push_back(toRemote(s));
    return out;
  }
  std::optional<RemoteSeries> findSeriesByUid(const Destination& peer, const std::string& series_uid) override {
    auto found = dicomweb::DicomWebSource(peer).seriesByUid(series_uid);
    if (!found) return std::nullopt;
    return toRemote(*found);
  }

  MoveResult move(const Destination& peer, const std::string& study_uid, const std::string& series_uid,
                  const std::string&, const RetrieveProgress& progress) override {
    dicomweb::DicomWebSource source(peer);
    // How many to expect, for the progress; the retrieve itself does not need it.
    int expected = 0;
    try {
      for (const auto& s : source.seriesOfStudy(study_uid))
        if (series_uid.empty() || s.series_instance_uid == series_uid) expected += s.number_of_instances.value_or(0);
    } catch (const Error&) {
      expected = 0;  // the WADO-RS request says what is wrong
    }
    if (progress) progress("WADO-RS from " + peer.name, 0);

    AssociationInfo association{0, peer.name, node_aet_, hostOf(peer.url)};
    association.id = sink_.associationAccepted(association);
    KeepThroughSink into(sink_, association, expected, progress);
    const auto started = std::chrono::steady_clock::now();
    dicomweb::WadoReport report = source.retrieve(study_uid, series_uid, into);
    into.stats.duration_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    into.stats.outcome = report.error.empty() ? "released" : "aborted";
    sink_.associationEnded(association, into.stats);
    if (progress && report.error.empty())
      progress(fmt::format("WADO-RS from {}: {} instance(s) kept, {} not", peer.name, report.kept, report.not_kept), 100);

    MoveResult result;
    result.completed = report.kept;
    result.failed = report.not_kept;
    result.nothing_matched = report.nothing_matched || (report.error.empty() && report.kept + report.not_kept == 0);
    if (report.canceled) throw Error(Errc::Network, "canceled after " + std::to_string(report.kept) + " instance(s)");
    if (!report.error.empty()) {
      // Instances kept before the answer broke off stay; the next attempt finds them duplicates.
      result.status = 0xA700;
      result.status_text = "WADO-RS: " + report.error + fmt::format(" (after {} instance(s))", report.kept);
      result.failed = std::max(result.failed, 1);
      result.nothing_matched = false;
      return result;
    }
    result.status = report.not_kept > 0 ? 0xB000 : 0x0000;
    result.status_text = report.not_kept > 0
                             ? fmt::format("WADO-RS: {} instance(s) not kept ({})", report.not_kept, into.first_refusal)
                             : fmt::format("WADO-RS: {} instance(s), {} bytes", report.kept, report.bytes);
    return result;
  }

 private:
  static std::string hostOf(const std::string& url) {
    auto start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    return url.substr(start, url.find('/', start) - start);
  }

  InstanceSink& sink_;
  std::string node_aet_;
};

}  // namespace

std::unique_ptr<RetrieveClient> dicomWebRetrieveClient(InstanceSink& sink, const std::string& node_aet) {
  return std::make_unique<DicomWebRetrieveClient>(sink, node_aet);
}

}  // namespace volnode
