#include "volnode/workflow/retrieval_worker.hpp"

#include <pthread.h>

#include <cmath>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"
#include "volnode/workflow/index_outage.hpp"

namespace volnode {
namespace {

// The node runs its retrievals itself and requeues them all when it restarts, so
// the lease only has to outlast the longest C-MOVE (each of its responses is
// bounded by the DIMSE timeout).
constexpr double kRetrieveLeaseS = 4 * 3600;

std::string whatOf(const Job& job) {
  return job.series_uid.empty() ? "study " + job.study_uid : "series " + job.series_uid;
}

}  // namespace

NewJob retrieveJob(const std::string& study_uid, const std::string& series_uid, const std::string& peer,
                   const std::string& rule, int priority) {
  return NewJob{JobKind::Retrieve, study_uid, series_uid, rule, peer, "{}", priority, kRetrieveAttempts};
}

RetrievalWorkers::RetrievalWorkers(RetrievalSettings settings, JobQueue& jobs, RouteRequests& routes,
                                   RetrieveClient& client)
    : settings_(std::move(settings)), jobs_(jobs), routes_(routes), client_(client) {}

RetrievalWorkers::~RetrievalWorkers() { stop(); }

void RetrievalWorkers::start() {
  for (int i = 1; i <= settings_.threads; ++i)
    threads_.emplace_back([this, i] { run("retrieval-" + std::to_string(i)); });
}

void RetrievalWorkers::stop() {
  waker_.stop();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  threads_.clear();
}

void RetrievalWorkers::run(const std::string& worker) {
  pthread_setname_np(pthread_self(), worker.substr(0, 15).c_str());
  IndexOutage outage(worker);
  while (!waker_.stopped()) {
    bool ran = false;
    try {
      ran = runOne(worker);
      outage.answered();
    } catch (const std::exception& e) {
      if (!outage.interrupted(e)) moduleLogger("pipeline")->error("{}: {}", worker, e.what());
    }
    if (!ran) waker_.wait(outage.waitSeconds(1.0));
  }
}

bool RetrievalWorkers::runOne(const std::string& worker) {
  std::optional<int64_t> interrupted;
  {
    std::lock_guard lock(interrupted_mutex_);
    if (auto found = interrupted_.find(worker); found != interrupted_.end()) interrupted = found->second;
  }
  if (interrupted) {
    jobs_.returnInterrupted(*interrupted, worker, "the index could not be reached during the attempt");
    std::lock_guard lock(interrupted_mutex_);
    interrupted_.erase(worker);
  }
  auto job = jobs_.claimNext({JobKind::Retrieve}, worker, kRetrieveLeaseS);
  if (!job) return false;
  try {
    retrieve(*job, worker);
  } catch (const std::exception& e) {  // not the peer's answer: the index, say
    if (isDatabaseUnavailable(e)) {
      std::lock_guard lock(interrupted_mutex_);
      interrupted_[worker] = job->id;
    } else {
      jobs_.fail(job->id, worker, e.what(), settings_.retry_delay_s);
    }
    throw;
  }
  return true;
}

void RetrievalWorkers::retrieve(const Job& job, const std::string& worker) {
  auto log = moduleLogger("pipeline");
  const std::string what = whatOf(job);
  auto found = settings_.peers.find(job.destination);
  if (found == settings_.peers.end()) {
    jobs_.failPermanently(job.id, worker, "no configured peer named '" + job.destination + "' to retrieve from");
    return;
  }
  const Destination& peer = found->second;
  routes_.expectStudy(job.study_uid, job.rule, job.priority);
  const std::string how = peer.type == DestinationType::DicomWeb ? "WADO-RS retrieve" : "C-MOVE";
  jobs_.heartbeat(job.id, worker, kRetrieveLeaseS, how + " from " + peer.name, 0);
  auto progress = [&](const std::string& stage, double percent) {
    return jobs_.heartbeat(job.id, worker, kRetrieveLeaseS, stage, percent);
  };

  const double delay = settings_.retry_delay_s * std::pow(2.0, std::max(0, job.attempts - 1));
  MoveResult moved;
  try {
    moved = client_.move(peer, job.study_uid, job.series_uid, settings_.move_destination_aet, progress);
  } catch (const Error& e) {
    const std::string error = fmt::format("{} of {} from {}: {}", how, what, peer.name, e.what());
    if (e.code() == Errc::InvalidArgument) {
      jobs_.failPermanently(job.id, worker, error);
    } else if (auto state = jobs_.fail(job.id, worker, error, delay)) {
      log->warn("retrieve job {} {}: {}", job.id, toString(*state), error);
    }
    return;
  }
  log->info("retrieve job {}: {} of {} from {}: {} completed, {} failed, {} warning ({})", job.id, how, what,
            peer.name, moved.completed, moved.failed, moved.warning, moved.status_text);
  if (moved.nothing_matched) {
    jobs_.failPermanently(job.id, worker, fmt::format("{} does not hold {} (any more)", peer.name, what));
    return;
  }
  if (!moved.ok()) {
    const std::string error = fmt::format("{} of {} from {}: {} completed, {} failed ({})", how, what, peer.name,
                                          moved.completed, moved.failed, moved.status_text);
    if (auto state = jobs_.fail(job.id, worker, error, delay))
      log->warn("retrieve job {} {}: {}", job.id, toString(*state), error);
    return;
  }
  const std::string warning =
      moved.warning > 0 ? fmt::format("{} sub-operation(s) ended with a warning", moved.warning) : "";
  jobs_.succeed(job.id, worker, JobSuccess{warning, std::nullopt, {}});
}

}  // namespace volnode
