#include "volnode/workflow/job_worker.hpp"

#include <malloc.h>

#include <chrono>
#include <new>

#include "volnode/core/error.hpp"
#include "volnode/core/fault_point.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"
#include "volnode/workflow/lease_keeper.hpp"
#include "volnode/workflow/result_routing.hpp"
#include "volnode/workflow/series_router.hpp"

namespace volnode {
namespace {

constexpr double kRenderRetryDelayS = 30;  // a failed render is tried again after this
constexpr double kRouteRetryDelayS = 5;

}  // namespace

JobWorker::JobWorker(JobWorkerSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules)
    : settings_(std::move(settings)), index_(index), jobs_(jobs), rules_(rules) {}

JobWorker::~JobWorker() = default;

bool JobWorker::interruptedByOutage(const Job& job, const std::exception& error) {
  if (!isDatabaseUnavailable(error)) return false;
  interrupted_job_ = job.id;
  moduleLogger("pipeline")->warn("job {} (series {}) interrupted: {}; it goes back to the queue when the index answers",
                                 job.id, job.series_uid, error.what());
  return true;
}

bool JobWorker::runOne(const JobWorkerEvents& events) {
  if (interrupted_job_) {  // throws again while the index is still away
    jobs_.returnInterrupted(*interrupted_job_, settings_.name, "the index could not be reached during the attempt");
    interrupted_job_.reset();
  }
  // Routing first: it is quick, and it tells the console what becomes of a series.
  auto job = jobs_.claimNext({JobKind::Route}, settings_.name, settings_.lease_s);
  if (!job) job = jobs_.claimNext({JobKind::Render}, settings_.name, settings_.lease_s);
  if (!job) return false;
  if (events.claimed) events.claimed(*job);
  try {
    if (job->kind == JobKind::Route)
      route(*job);
    else
      render(*job, events);
  } catch (const std::exception& e) {
    // The index went away while the job's failure was being recorded: the job is
    // named, so it goes back uncounted once the index answers (not at lease expiry).
    if (isDatabaseUnavailable(e)) interrupted_job_ = job->id;
    throw;
  }
  if (events.finished) events.finished(*job);
  // A job allocates and frees hundreds of MiB (volume, grids, frames) on
  // several threads; glibc keeps freed memory in per-thread arenas. Give it back.
  ::malloc_trim(0);
  return true;
}

void JobWorker::route(const Job& job) {
  auto log = moduleLogger("pipeline");
  try {
    LeaseKeeper lease(jobs_, job.id, settings_.name, settings_.lease_s);
    SeriesRouter router(index_, jobs_, rules_, settings_.render.store_root, settings_.render.prefetch);
    auto outcome = router.decide(job.series_uid, parseRoutePayload(job.payload));
    faultPoint("route-decided");
    jobs_.succeed(job.id, settings_.name, outcome);
    faultPoint("route-succeeded");
  } catch (const Error& e) {
    if (interruptedByOutage(job, e)) return;
    if (e.code() == Errc::InvalidArgument || e.code() == Errc::NotFound) {
      jobs_.failPermanently(job.id, settings_.name, e.what());
    } else if (auto state = jobs_.fail(job.id, settings_.name, e.what(), kRouteRetryDelayS)) {
      log->error("route job {} (series {}) {}: {}", job.id, job.series_uid, toString(*state), e.what());
    }
  } catch (const std::exception& e) {
    jobs_.fail(job.id, settings_.name, std::string("routing error: ") + e.what(), kRouteRetryDelayS);
    log->error("route job {} (series {}): {}", job.id, job.series_uid, e.what());
  }
}

void JobWorker::render(const Job& job, const JobWorkerEvents& events) {
  auto log = moduleLogger("pipeline");
  auto started = std::chrono::steady_clock::now();
  try {
    LeaseKeeper lease(jobs_, job.id, settings_.name, settings_.lease_s);
    if (!runner_) runner_ = std::make_unique<RenderJobRunner>(settings_.render, index_, jobs_, rules_);
    // Each object is sent as soon as it is encoded: its destinations' send jobs are
    // queued (or woken) under this job's lease; they end when this job has.
    const auto sends =
        sendJobsFor(job, rules_, index_.series(job.series_uid), settings_.destinations, settings_.send_max_attempts);
    auto outputs_ready = [&] {
      if (!sends.empty() && jobs_.releaseSends(job.id, settings_.name, sends) && events.outputs_ready)
        events.outputs_ready(job);
    };
    auto result = runner_->run(
        job,
        [&](const std::string& stage, double percent) {
          if (!lease.progress(stage, percent))
            throw Error(Errc::Internal, "job " + std::to_string(job.id) + " was canceled or taken over");
        },
        outputs_ready);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    JobSuccess success;
    success.series = SeriesChange{SeriesState::Done, std::to_string(result.outputs.size()) + " objects rendered in " +
                                                         std::to_string(static_cast<int>(seconds + 0.5)) + " s (" +
                                                         result.volume_summary + ")"};
    success.follow_ups = sends;  // kept where released already; queued with the success otherwise
    faultPoint("render-written");
    const bool succeeded = jobs_.succeed(job.id, settings_.name, success);
    faultPoint("render-succeeded");
    if (!succeeded) {
      log->warn("job {}: rendered, but it was canceled or taken over meanwhile; results not sent", job.id);
      return;
    }
    log->info("job {} rendered series {}: {} objects in {:.1f} s ({})", job.id, job.series_uid,
              result.outputs.size(), seconds, result.timings.summary());
  } catch (const Error& e) {
    if (interruptedByOutage(job, e)) return;
    if (e.code() == Errc::NotAVolume) {
      jobs_.failPermanently(job.id, settings_.name, e.what(), SeriesChange{SeriesState::Refused, e.what()});
      log->info("job {}: series {} refused: {}", job.id, job.series_uid, e.what());
    } else if (auto state = jobs_.fail(job.id, settings_.name, e.what(), kRenderRetryDelayS)) {
      log->error("job {} (series {}) {}: {}", job.id, job.series_uid, toString(*state), e.what());
    }
  } catch (const std::bad_alloc&) {
    // Under render.max_memory_mb the kernel refuses the allocation: no retry can fit.
    std::string error = "out of memory: the series needs more than the worker's memory limit (render.max_memory_mb)";
    jobs_.failPermanently(job.id, settings_.name, error);
    log->error("job {} (series {}): {}", job.id, job.series_uid, error);
  } catch (const std::exception& e) {
    if (auto state = jobs_.fail(job.id, settings_.name, std::string("render error: ") + e.what(), kRenderRetryDelayS))
      log->error("job {} (series {}) {}: {}", job.id, job.series_uid, toString(*state), e.what());
  }
}

}  // namespace volnode
