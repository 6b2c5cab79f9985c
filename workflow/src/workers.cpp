#include "volnode/workflow/workers.hpp"

#include <pthread.h>

#include <chrono>

#include "volnode/core/clock.hpp"
#include "volnode/core/error.hpp"
#include "volnode/core/fault_point.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/workflow/index_outage.hpp"

namespace volnode {
namespace {

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

CompletionLoop::CompletionLoop(double tick_s, CompletionMonitor& monitor, RouteRequests& routes, JobQueue& jobs,
                               std::function<void()> on_routed, JobQueue::SendsFor sends_for)
    : tick_s_(tick_s),
      monitor_(monitor),
      routes_(routes),
      jobs_(jobs),
      on_routed_(std::move(on_routed)),
      sends_for_(std::move(sends_for)) {
  // A release is looked at when it happens, not at the next tick: a speculative start
  // renders from then on.
  monitor_.onAssociationEnded([this] { waker_.poke(); });
}

CompletionLoop::~CompletionLoop() {
  monitor_.onAssociationEnded(nullptr);
  stop();
}

void CompletionLoop::start() { thread_ = std::thread([this] { run(); }); }

void CompletionLoop::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

void CompletionLoop::run() {
  nameThread("completion");
  auto log = moduleLogger("pipeline");
  IndexOutage outage("completion loop");  // a series whose completion an outage cut off completes at the next tick
  do {
    try {
      int queued = 0;
      for (const auto& decided : monitor_.tick(unixSecondsNow()))
        if (act(decided)) ++queued;
      if (queued > 0 && on_routed_) on_routed_();
      if (int requeued = jobs_.requeueExpiredLeases()) {
        log->warn("{} job(s) whose worker stopped answering were queued again", requeued);
        if (on_routed_) on_routed_();
      }
      outage.answered();
    } catch (const std::exception& e) {
      if (!outage.interrupted(e)) log->error("completion loop: {}", e.what());
    }
  } while (waker_.wait(outage.waitSeconds(std::min(tick_s_, monitor_.secondsUntilNextRelease(unixSecondsNow()) + 0.01))));
}

bool CompletionLoop::act(const CompletedSeries& decided) {
  const std::string& uid = decided.series.series_uid;
  switch (decided.step) {
    case CompletionStep::Complete:
      if (routes_.seriesCompleted(decided.series, decided.reason) == 0) return false;
      faultPoint("series-completed");
      return true;
    case CompletionStep::SpeculativeStart:
      if (routes_.seriesReleased(decided.series, decided.reason) == 0) return false;
      monitor_.speculationStarted(uid);
      faultPoint("series-started-on-release");
      return true;
    case CompletionStep::Confirmed: {
      const int confirmed = jobs_.confirmSpeculative(uid, decided.reason, sends_for_);
      monitor_.speculationSettled(uid);
      if (confirmed == 0) return false;
      faultPoint("series-completed");  // complete, as at a Complete step: its jobs committed
      return true;
    }
    case CompletionStep::Withdrawn:
      if (int withdrawn = jobs_.withdrawSpeculative(uid, decided.reason))
        moduleLogger("pipeline")->info("series {}: {} speculative job(s) canceled, nothing of them sent", uid,
                                       withdrawn);
      monitor_.speculationSettled(uid);
      return false;
  }
  return false;
}

}  // namespace volnode
