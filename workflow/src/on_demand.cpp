#include "volnode/workflow/on_demand.hpp"

#include <cctype>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/retrieval_worker.hpp"

namespace volnode {
namespace {

// 504 when the peer did not answer in time, 502 for any other failure to ask it.
int retrieveFailureStatus(const std::string& message) {
  std::string text = message;
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text.find("timed out") != std::string::npos || text.find("timeout") != std::string::npos ? 504 : 502;
}

bool hasRenderInFlightOrDone(SeriesState state) {
  return state == SeriesState::Queued || state == SeriesState::Processing || state == SeriesState::Done ||
         state == SeriesState::Receiving || state == SeriesState::Complete;
}

std::string describe(const RemoteSeries& series) {
  return "series " + series.series_instance_uid + " (" +
         (series.modality.empty() ? std::string() : series.modality + ", ") +
         (series.number_of_instances ? std::to_string(*series.number_of_instances) + " instances, " : std::string()) +
         "study " + series.study_instance_uid + ")";
}

// Releases a UID claimed for its C-FIND however the request ends.
class AskingClaim {
 public:
  AskingClaim(std::mutex& mutex, std::set<std::string>& asking, std::string key)
      : mutex_(mutex), asking_(asking), key_(std::move(key)) {}
  ~AskingClaim() {
    std::lock_guard lock(mutex_);
    asking_.erase(key_);
  }

 private:
  std::mutex& mutex_;
  std::set<std::string>& asking_;
  std::string key_;
};

}  // namespace

std::optional<RetrievalState> latestRetrieval(JobQueue& jobs, const std::string& study_uid) {
  auto latest = jobs.list({std::nullopt, JobKind::Retrieve, study_uid, "", 1});
  if (latest.empty()) return std::nullopt;
  const Job& job = latest.front();
  RetrievalState status{"retrieving", job.last_error, job.destination};
  if (job.state == JobState::Succeeded) status = {"retrieved", "", job.destination};
  if (job.state == JobState::Failed) status.state = "failed";
  if (job.state == JobState::Canceled) status = {"failed", "the retrieval was canceled", job.destination};
  return status;
}

OnDemandRenders::OnDemandRenders(std::map<std::string, Destination> peers, Index& index, JobQueue& jobs,
                                 RouteRequests& routes, RetrieveClient& client, std::function<void()> wake_workers,
                                 std::function<void()> wake_retrievals)
    : peers_(std::move(peers)), index_(index), jobs_(jobs), routes_(routes), client_(client),
      wake_workers_(std::move(wake_workers)), wake_retrievals_(std::move(wake_retrievals)) {}

const Destination* OnDemandRenders::peer(const std::string& source, std::string* error) const {
  if (!source.empty()) {
    auto found = peers_.find(source);
    if (found == peers_.end()) {
      *error = "no configured peer named '" + source + "'";
      return nullptr;
    }
    return &found->second;
  }
  // "pacs" whatever it speaks; else a DIMSE peer; else a DICOMweb source.
  auto pacs = peers_.find("pacs");
  if (pacs != peers_.end()) return &pacs->second;
  for (const auto& [name, peer] : peers_)
    if (peer.type == DestinationType::Dimse) return &peer;
  for (const auto& [name, peer] : peers_)
    if (peer.section == "sources") return &peer;
  *error = "no PACS configured to retrieve from (set destinations.pacs.aet/host/port, or a [sources.<name>] of "
           "type \"dicomweb\")";
  return nullptr;
}

// Queues route jobs (then renders) for held series that have none yet; returns
// the job ids: the route job queued, or the series' latest route or render job.
std::vector<int64_t> OnDemandRenders::renderHeld(const std::vector<SeriesSummary>& series, const std::string& rule) {
  std::vector<int64_t> ids;
  for (const auto& s : series) {
    if (rule.empty() && hasRenderInFlightOrDone(s.state)) {
      for (const auto& job : jobs_.list({std::nullopt, JobKind::Render, "", s.series_uid, 1})) ids.push_back(job.id);
      if (ids.empty() || s.state == SeriesState::Complete)
        for (const auto& job : jobs_.list({std::nullopt, JobKind::Route, "", s.series_uid, 1})) ids.push_back(job.id);
      continue;
    }
    if (s.state == SeriesState::Refused && rule.empty()) continue;  // the rules said no; a forced rule may say yes
    if (int64_t id = routes_.reroute(s.series_uid, s.study_uid, {rule, kOnDemandPriority},
                                     "render requested" + (rule.empty() ? std::string() : " with rule " + rule)))
      ids.push_back(id);
  }
  if (wake_workers_) wake_workers_();
  return ids;
}

OnDemandOutcome OnDemandRenders::renderStudy(const std::string& study_uid, const std::string& source,
                                             const std::string& rule) {
  if (!index_.study(study_uid)) return retrieve(study_uid, "", source, rule);
  OnDemandOutcome result;
  result.study_uid = study_uid;
  result.job_ids = renderHeld(index_.seriesOfStudy(study_uid), rule);
  result.accepted = true;
  result.retrieve_state = "held";
  result.message = result.job_ids.empty() ? "study held; no series to render" : "render queued or done";
  return result;
}

OnDemandOutcome OnDemandRenders::renderSeries(const std::string& series_uid, const std::string& source,
                                              const std::string& rule) {
  auto series = index_.series(series_uid);
  if (!series) return retrieve("", series_uid, source, rule);
  OnDemandOutcome result;
  result.study_uid = series->study_uid;
  result.job_ids = renderHeld({*series}, rule);
  result.accepted = true;
  result.retrieve_state = "held";
  result.message = "render queued or done";
  return result;
}

std::optional<Job> OnDemandRenders::activeRetrieval(const std::string& study_uid, const std::string& series_uid) {
  for (const auto& job : jobs_.list({std::nullopt, JobKind::Retrieve, study_uid, series_uid, 20}))
    if (isActive(job.state) && job.series_uid == series_uid) return job;
  return std::nullopt;
}

OnDemandOutcome OnDemandRenders::retrieve(const std::string& study_uid, const std::string& series_uid,
                                          const std::string& source, const std::string& rule) {
  const bool whole_study = series_uid.empty();
  const std::string key = whole_study ? study_uid : series_uid;
  const std::string what = whole_study ? "study " + study_uid : "series " + series_uid;
  OnDemandOutcome result;
  result.study_uid = study_uid;
  auto refuse = [&](int status, const std::string& message) {
    result.status = status;
    result.message = message;
    return result;
  };
  std::string error;
  const Destination* from = peer(source, &error);
  if (!from) return refuse(400, error);

  auto already = [&](const std::string& study, const std::string& peer_name) {
    result.accepted = true;
    result.retrieve_state = "retrieving";
    result.study_uid = study;
    result.message = what + " is already being retrieved from " + peer_name;
    return result;
  };
  {
    std::lock_guard lock(mutex_);
    if (asking_.count(key)) return already(study_uid, from->name);
    if (auto running = activeRetrieval(study_uid, series_uid)) return already(running->study_uid, running->destination);
    asking_.insert(key);  // claimed: a second request now finds it
  }
  AskingClaim claim(mutex_, asking_, key);

  std::string study = study_uid;
  std::string found_text;
  try {
    if (whole_study) {
      const auto series = client_.findSeries(*from, study_uid);
      if (series.empty()) return refuse(404, "study " + study_uid + " is neither held here nor known to " + from->name);
      found_text = std::to_string(series.size()) + " series";
    } else {
      const auto series = client_.findSeriesByUid(*from, series_uid);
      if (!series) return refuse(404, "series " + series_uid + " is neither held here nor known to " + from->name);
      study = series->study_instance_uid;
      found_text = describe(*series);
    }
  } catch (const Error& e) {
    if (e.code() == Errc::InvalidArgument) return refuse(400, e.what());
    return refuse(retrieveFailureStatus(e.what()), std::string("cannot query ") + from->name + ": " + e.what());
  }
  const int64_t job = jobs_.enqueue(retrieveJob(study, series_uid, from->name, rule, kOnDemandPriority));
  if (wake_retrievals_) wake_retrievals_();
  result.accepted = true;
  result.retrieve_state = "retrieving";
  result.study_uid = study;
  result.message = "retrieving " + found_text + " from " + from->name +
                   (whole_study ? "; each is rendered when it is complete" : "; it is rendered when it is complete");
  moduleLogger("pipeline")->info("on-demand render: {} (retrieve job {})", result.message, job);
  return result;
}

}  // namespace volnode
