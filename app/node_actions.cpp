#include "node_actions.hpp"

#include <pthread.h>

#include <cctype>

#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/scp/retrieve_scu.hpp"
#include "volnode/scp/store_scu.hpp"

namespace volnode {
namespace {

constexpr int kOnDemandPriority = 10;  // a clinician is waiting: ahead of routine pushes
constexpr double kEchoEveryS = 30;

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

}  // namespace

LiveNodeActions::LiveNodeActions(const Config& config, Index& index, JobQueue& jobs, RouteRequests& routes,
                                 std::function<void()> wake_workers)
    : config_(config), index_(index), jobs_(jobs), routes_(routes), wake_(std::move(wake_workers)) {
  for (const auto& [name, d] : config_.destinations) echo_cache_[name] = {name, d.aet, d.host, d.port, false, "", "not checked yet", d.tls};
  if (config_.destinations.empty()) return;
  echo_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "echo");
    ScuSettings settings;
    settings.calling_aet = config_.dicom.aet;
    settings.connect_timeout_s = 3;
    StoreScu scu(settings);
    do {
      for (const auto& [name, d] : config_.destinations) {
        auto echo = scu.echo(d);
        std::lock_guard lock(mutex_);
        echo_cache_[name] = {name, d.aet, d.host, d.port, echo.ok, isoUtcNow(), echo.error, d.tls};
      }
    } while (echo_waker_.wait(kEchoEveryS));
  });
}

LiveNodeActions::~LiveNodeActions() {
  echo_waker_.stop();
  if (echo_thread_.joinable()) echo_thread_.join();
  std::lock_guard threads_lock(threads_mutex_);
  for (auto& [study, thread] : retrieval_threads_)
    if (thread.joinable()) thread.join();
}

const Destination* LiveNodeActions::peer(const std::string& source, std::string* error) const {
  if (!source.empty()) {
    auto found = config_.destinations.find(source);
    if (found == config_.destinations.end()) {
      *error = "no configured peer named '" + source + "'";
      return nullptr;
    }
    return &found->second;
  }
  auto pacs = config_.destinations.find("pacs");
  if (pacs != config_.destinations.end()) return &pacs->second;
  if (!config_.destinations.empty()) return &config_.destinations.begin()->second;
  *error = "no PACS configured to retrieve from (set destinations.pacs.aet/host/port)";
  return nullptr;
}

std::vector<int64_t> LiveNodeActions::renderHeld(const std::vector<SeriesSummary>& series, const std::string& rule) {
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
  wake_();
  return ids;
}

OnDemandResult LiveNodeActions::renderStudy(const std::string& study_uid, const std::string& source,
                                            const std::string& rule) {
  OnDemandResult result;
  result.study_uid = study_uid;
  if (index_.study(study_uid)) {
    result.job_ids = renderHeld(index_.seriesOfStudy(study_uid), rule);
    result.accepted = true;
    result.retrieve_state = "held";
    result.message = result.job_ids.empty() ? "study held; no series to render" : "render queued or done";
    return result;
  }
  return retrieve(study_uid, "", source, rule);
}

OnDemandResult LiveNodeActions::renderSeries(const std::string& series_uid, const std::string& source,
                                             const std::string& rule) {
  if (auto series = index_.series(series_uid)) {
    OnDemandResult result;
    result.study_uid = series->study_uid;
    result.job_ids = renderHeld({*series}, rule);
    result.accepted = true;
    result.retrieve_state = "held";
    result.message = "render queued or done";
    return result;
  }
  // Not held: the peer says which study it belongs to (C-FIND), then moves only this series.
  return retrieve("", series_uid, source, rule);
}

OnDemandResult LiveNodeActions::retrieve(const std::string& study_uid, const std::string& series_uid,
                                         const std::string& source, const std::string& rule) {
  const bool whole_study = series_uid.empty();
  const std::string key = whole_study ? study_uid : series_uid;  // what is claimed while it is retrieved
  const std::string what = whole_study ? "study " + study_uid : "series " + series_uid;
  OnDemandResult result;
  result.study_uid = study_uid;
  std::string error;
  const Destination* from = peer(source, &error);
  if (!from) {
    result.status = 400;
    result.message = error;
    return result;
  }
  {
    std::lock_guard lock(mutex_);
    auto state = retrievals_.find(key);
    if (state != retrievals_.end() && state->second.state == "retrieving") {
      result.accepted = true;
      result.retrieve_state = "retrieving";
      result.study_uid = state->second.study_uid;
      result.message = what + " is already being retrieved from " + from->name;
      return result;
    }
    // Claimed: a second request now waits for this one.
    retrievals_[key] = {"retrieving", study_uid, from->name, ++retrieval_sequence_};
    forgetOldRetrievals();
  }
  auto give_up = [&](int status, const std::string& message) {
    std::lock_guard lock(mutex_);
    retrievals_[key].state = "failed: " + message;
    result.status = status;
    result.message = message;
    return result;
  };
  ScuSettings settings;
  settings.calling_aet = config_.dicom.aet;
  RetrieveScu scu(settings);
  std::string study = study_uid;
  std::string found_text;
  try {
    if (whole_study) {
      const auto series = scu.findSeries(*from, study_uid);
      if (series.empty()) return give_up(404, "study " + study_uid + " is neither held here nor known to " + from->name);
      found_text = std::to_string(series.size()) + " series";
    } else {
      const auto series = scu.findSeriesByUid(*from, series_uid);
      if (!series) return give_up(404, "series " + series_uid + " is neither held here nor known to " + from->name);
      study = series->study_instance_uid;
      found_text = "series " + series_uid + " (" +
                   (series->modality.empty() ? std::string() : series->modality + ", ") +
                   (series->number_of_instances ? std::to_string(*series->number_of_instances) + " instances, "
                                                : std::string()) +
                   "study " + study + ")";
    }
  } catch (const Error& e) {
    if (e.code() == Errc::InvalidArgument) return give_up(400, e.what());
    return give_up(retrieveFailureStatus(e.what()), std::string("cannot query ") + from->name + ": " + e.what());
  }
  {
    std::lock_guard lock(mutex_);
    retrievals_[key].study_uid = study;
  }
  routes_.expectStudy(study, rule, kOnDemandPriority);
  Destination peer_copy = *from;
  std::string our_aet = config_.dicom.aet;
  joinFinishedRetrievals();
  std::lock_guard threads_lock(threads_mutex_);
  // An earlier retrieval of the same UID has ended (this request claimed it): join it.
  if (auto earlier = retrieval_threads_.find(key); earlier != retrieval_threads_.end() && earlier->second.joinable())
    earlier->second.join();
  retrieval_threads_[key] = std::thread([this, scu, peer_copy, key, study, series_uid, what, our_aet] {
    auto log = moduleLogger("app");
    std::string state;
    try {
      auto moved = series_uid.empty() ? scu.moveStudy(peer_copy, study, our_aet)
                                      : scu.moveSeries(peer_copy, study, series_uid, our_aet);
      state = moved.ok() ? "retrieved" : "failed: " + moved.status_text;
      log->info("C-MOVE of {} from {}: {} completed, {} failed ({})", what, peer_copy.name, moved.completed,
                moved.failed, moved.status_text);
    } catch (const std::exception& e) {
      state = std::string("failed: ") + e.what();
      log->error("C-MOVE of {} from {} failed: {}", what, peer_copy.name, e.what());
    }
    std::lock_guard lock(mutex_);
    retrievals_[key].state = state;
  });
  result.accepted = true;
  result.retrieve_state = "retrieving";
  result.study_uid = study;
  result.message = "retrieving " + found_text + " from " + from->name +
                   (whole_study ? "; each is rendered when it is complete" : "; it is rendered when it is complete");
  moduleLogger("app")->info("on-demand render: {}", result.message);
  return result;
}

std::optional<RetrievalStatus> LiveNodeActions::retrievalOf(const std::string& study_uid) {
  std::lock_guard lock(mutex_);
  const Retrieval* latest = nullptr;
  for (const auto& [key, r] : retrievals_)
    if (r.study_uid == study_uid && (!latest || r.sequence > latest->sequence)) latest = &r;
  if (!latest) return std::nullopt;
  RetrievalStatus status{latest->state, "", latest->source};
  if (latest->state.rfind("failed: ", 0) == 0) {
    status.state = "failed";
    status.message = latest->state.substr(8);
  }
  return status;
}

// A node runs for months: only the latest retrievals are remembered (those still
// running always), so the map does not grow with every study ever asked for.
void LiveNodeActions::forgetOldRetrievals() {
  constexpr size_t kRetrievalsKept = 256;
  while (retrievals_.size() > kRetrievalsKept) {
    auto oldest = retrievals_.end();
    for (auto it = retrievals_.begin(); it != retrievals_.end(); ++it)
      if (it->second.state != "retrieving" && (oldest == retrievals_.end() || it->second.sequence < oldest->second.sequence))
        oldest = it;
    if (oldest == retrievals_.end()) return;
    retrievals_.erase(oldest);
  }
}

// A node runs for months: threads of ended retrievals are joined, not kept.
void LiveNodeActions::joinFinishedRetrievals() {
  std::lock_guard threads_lock(threads_mutex_);
  std::vector<std::string> ended;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, thread] : retrieval_threads_)
      if (auto r = retrievals_.find(key); r == retrievals_.end() || r->second.state != "retrieving") ended.push_back(key);
  }
  for (const auto& key : ended) {
    auto found = retrieval_threads_.find(key);
    if (found->second.joinable()) found->second.join();
    retrieval_threads_.erase(found);
  }
}

std::vector<DestinationStatus> LiveNodeActions::destinations() {
  std::lock_guard lock(mutex_);
  std::vector<DestinationStatus> out;
  for (const auto& [name, status] : echo_cache_) out.push_back(status);
  return out;
}

}  // namespace volnode
