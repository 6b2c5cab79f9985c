#include "node_actions.hpp"

#include <pthread.h>

#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/scp/retrieve_scu.hpp"
#include "volnode/scp/store_scu.hpp"

namespace volnode {
namespace {

constexpr int kOnDemandPriority = 10;  // a clinician is waiting: ahead of routine pushes
constexpr double kEchoEveryS = 30;

bool hasRenderInFlightOrDone(const std::string& state) {
  return state == "queued" || state == "processing" || state == "done" || state == "receiving" || state == "complete";
}

}  // namespace

LiveNodeActions::LiveNodeActions(const Config& config, Index& index, JobQueue& jobs, SeriesRouter& router,
                                 std::function<void()> wake_workers)
    : config_(config), index_(index), jobs_(jobs), router_(router), wake_(std::move(wake_workers)) {
  for (const auto& [name, d] : config_.destinations) echo_cache_[name] = {name, d.aet, d.host, d.port, false, "", "not checked yet"};
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
        echo_cache_[name] = {name, d.aet, d.host, d.port, echo.ok, isoUtcNow(), echo.error};
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
      for (const auto& job : jobs_.list({"", "render", "", s.series_uid, 1})) ids.push_back(job.id);
      continue;
    }
    if (s.state == "refused" && rule.empty()) continue;  // the rules said no; a forced rule may say yes
    if (int64_t id = router_.route(s.series_uid, rule, kOnDemandPriority)) ids.push_back(id);
  }
  wake_();
  return ids;
}

OnDemandResult LiveNodeActions::renderStudy(const std::string& study_uid, const std::string& source,
                                            const std::string& rule) {
  OnDemandResult result;
  if (index_.study(study_uid)) {
    result.job_ids = renderHeld(index_.seriesOfStudy(study_uid), rule);
    result.accepted = true;
    result.retrieve_state = "held";
    result.message = result.job_ids.empty() ? "study held; no series to render" : "render queued or done";
    return result;
  }
  return retrieve(study_uid, source, rule);
}

OnDemandResult LiveNodeActions::renderSeries(const std::string& series_uid, const std::string& source,
                                             const std::string& rule) {
  if (auto series = index_.series(series_uid)) {
    OnDemandResult result;
    result.job_ids = renderHeld({*series}, rule);
    result.accepted = true;
    result.retrieve_state = "held";
    result.message = "render queued or done";
    return result;
  }
  // A series-level C-MOVE needs the study UID, which a series UID alone does not give.
  OnDemandResult refused;
  refused.status = 404;
  refused.message = "series " + series_uid + " is not held; request the render of its study instead";
  return refused;
}

OnDemandResult LiveNodeActions::retrieve(const std::string& study_uid, const std::string& source,
                                         const std::string& rule) {
  OnDemandResult result;
  std::string error;
  const Destination* from = peer(source, &error);
  if (!from) {
    result.status = 400;
    result.message = error;
    return result;
  }
  {
    std::lock_guard lock(mutex_);
    auto state = retrievals_.find(study_uid);
    if (state != retrievals_.end() && state->second == "retrieving") {
      result.accepted = true;
      result.retrieve_state = "retrieving";
      result.message = "already being retrieved from " + from->name;
      return result;
    }
    retrievals_[study_uid] = "retrieving";  // claimed: a second request now waits for this one
  }
  auto give_up = [&](int status, const std::string& message) {
    std::lock_guard lock(mutex_);
    retrievals_[study_uid] = "failed: " + message;
    result.status = status;
    result.message = message;
    return result;
  };
  ScuSettings settings;
  settings.calling_aet = config_.dicom.aet;
  RetrieveScu scu(settings);
  std::vector<SeriesInfo> series;
  try {
    series = scu.findSeries(*from, study_uid);
  } catch (const Error& e) {
    return give_up(502, std::string("cannot query ") + from->name + ": " + e.what());
  }
  if (series.empty()) return give_up(404, "study " + study_uid + " is neither held here nor known to " + from->name);
  router_.expectStudy(study_uid, rule, kOnDemandPriority);
  Destination peer_copy = *from;
  std::string our_aet = config_.dicom.aet;
  joinFinishedRetrievals();
  std::lock_guard threads_lock(threads_mutex_);
  // An earlier retrieval of this study has ended (this request claimed the study): join it.
  if (auto earlier = retrieval_threads_.find(study_uid); earlier != retrieval_threads_.end() && earlier->second.joinable())
    earlier->second.join();
  retrieval_threads_[study_uid] = std::thread([this, scu, peer_copy, study_uid, our_aet] {
    auto log = moduleLogger("app");
    std::string state;
    try {
      auto moved = scu.moveStudy(peer_copy, study_uid, our_aet);
      state = moved.ok() ? "retrieved" : "failed: " + moved.status_text;
      log->info("C-MOVE of study {} from {}: {} completed, {} failed ({})", study_uid, peer_copy.name,
                moved.completed, moved.failed, moved.status_text);
    } catch (const std::exception& e) {
      state = std::string("failed: ") + e.what();
      log->error("C-MOVE of study {} from {} failed: {}", study_uid, peer_copy.name, e.what());
    }
    std::lock_guard lock(mutex_);
    retrievals_[study_uid] = state;
  });
  result.accepted = true;
  result.retrieve_state = "retrieving";
  result.message = "retrieving " + std::to_string(series.size()) + " series from " + from->name +
                   "; each is rendered when it is complete";
  return result;
}

// A node runs for months: threads of ended retrievals are joined, not kept.
void LiveNodeActions::joinFinishedRetrievals() {
  std::lock_guard threads_lock(threads_mutex_);
  std::vector<std::string> ended;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [study, thread] : retrieval_threads_)
      if (retrievals_[study] != "retrieving") ended.push_back(study);
  }
  for (const auto& study : ended) {
    auto found = retrieval_threads_.find(study);
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
