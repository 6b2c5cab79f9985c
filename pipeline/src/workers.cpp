#include "volnode/pipeline/workers.hpp"

#include <malloc.h>
#include <pthread.h>

#include <chrono>

#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

constexpr double kRenderLeaseS = 120;       // renewed at every progress report
constexpr double kRenderRetryDelayS = 30;   // a failed render is tried again after this

void nameThread(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }

}  // namespace

bool Waker::wait(double seconds) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return poked_ || stopped_; });
  poked_ = false;
  return !stopped_;
}

void Waker::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  cv_.notify_all();
}

void Waker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  cv_.notify_all();
}

CompletionLoop::CompletionLoop(double tick_s, CompletionMonitor& monitor, SeriesRouter& router, JobQueue& jobs,
                               std::function<void()> on_routed)
    : tick_s_(tick_s), monitor_(monitor), router_(router), jobs_(jobs), on_routed_(std::move(on_routed)) {}

CompletionLoop::~CompletionLoop() { stop(); }

void CompletionLoop::start() { thread_ = std::thread([this] { run(); }); }

void CompletionLoop::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

void CompletionLoop::run() {
  nameThread("completion");
  auto log = moduleLogger("pipeline");
  do {
    try {
      monitor_.tick(unixSecondsNow());
      if (router_.routeCompleted() > 0 && on_routed_) on_routed_();
      if (int requeued = jobs_.requeueExpiredLeases()) {
        log->warn("{} job(s) whose worker stopped answering were queued again", requeued);
        if (on_routed_) on_routed_();
      }
    } catch (const std::exception& e) {
      log->error("completion loop: {}", e.what());
    }
  } while (waker_.wait(std::min(tick_s_, monitor_.secondsUntilNextRelease(unixSecondsNow()) + 0.01)));
}

RenderWorkers::RenderWorkers(int count, RenderJobSettings settings, Index& index, JobQueue& jobs,
                             const RuleSet& rules, RenderedHandler on_rendered)
    : count_(count), settings_(std::move(settings)), index_(index), jobs_(jobs), rules_(rules),
      on_rendered_(std::move(on_rendered)) {}

RenderWorkers::~RenderWorkers() { stop(); }

void RenderWorkers::start() {
  for (int i = 0; i < count_; ++i) threads_.emplace_back([this, i] { run(i); });
}

void RenderWorkers::stop() {
  waker_.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void RenderWorkers::run(int number) {
  std::string name = "render-" + std::to_string(number);
  nameThread(name);
  auto log = moduleLogger("pipeline");
  RenderJobRunner runner(settings_, index_, jobs_, rules_);  // owns this thread's render window
  while (!waker_.stopped()) {
    std::optional<Job> job;
    try {
      job = jobs_.claimNext({"render"}, name, kRenderLeaseS);
    } catch (const std::exception& e) {
      log->error("{}: cannot claim a job: {}", name, e.what());
    }
    if (!job) {
      waker_.wait(1.0);
      continue;
    }
    busy_++;
    auto started = std::chrono::steady_clock::now();
    try {
      index_.setSeriesState(job->series_uid, "processing",
                            "render job " + std::to_string(job->id) + ", attempt " + std::to_string(job->attempts));
      auto result = runner.run(*job, [&](const std::string& stage, double percent) {
        if (!jobs_.heartbeat(job->id, name, kRenderLeaseS, stage, percent))
          throw Error(Errc::Internal, "job " + std::to_string(job->id) + " was canceled or taken over");
      });
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      jobs_.succeed(job->id);
      index_.setSeriesState(job->series_uid, "done",
                            std::to_string(result.outputs.size()) + " objects rendered in " +
                                std::to_string(static_cast<int>(seconds + 0.5)) + " s (" + result.volume_summary + ")");
      log->info("job {} rendered series {}: {} objects in {:.1f} s ({})", job->id, job->series_uid,
                result.outputs.size(), seconds, result.timings.summary());
      if (on_rendered_) on_rendered_(*job, result);
    } catch (const Error& e) {
      if (e.code() == Errc::NotAVolume) {
        jobs_.failPermanently(job->id, e.what());
        index_.setSeriesState(job->series_uid, "refused", e.what());
        log->info("job {}: series {} refused: {}", job->id, job->series_uid, e.what());
      } else {
        std::string state = jobs_.fail(job->id, e.what(), kRenderRetryDelayS);
        index_.setSeriesState(job->series_uid, state == "failed" ? "failed" : "queued",
                              (state == "failed" ? "render failed: " : "render will be retried: ") +
                                  std::string(e.what()));
        log->error("job {} (series {}) {}: {}", job->id, job->series_uid, state, e.what());
      }
    } catch (const std::exception& e) {
      std::string state = jobs_.fail(job->id, e.what(), kRenderRetryDelayS);
      index_.setSeriesState(job->series_uid, state == "failed" ? "failed" : "queued",
                            std::string("render error: ") + e.what());
      log->error("job {} (series {}) {}: {}", job->id, job->series_uid, state, e.what());
    }
    // A job allocates and frees hundreds of MiB (volume, grids, frames) on
    // several threads; glibc keeps freed memory in per-thread arenas, so an
    // idle node held 1-1.5 GiB of which ~0.2 GiB was in use. Give it back.
    ::malloc_trim(0);
    busy_--;
  }
}

}  // namespace volnode
