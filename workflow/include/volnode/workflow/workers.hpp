#pragma once
// The node's completion thread, catching at its top and naming itself: every tick
// and at each released association's grace deadline it marks complete series
// (with their route jobs, which worker processes run: worker_supervisor.hpp) and
// queues jobs whose lease expired again.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "volnode/workflow/completion.hpp"
#include "volnode/workflow/route_requests.hpp"

namespace volnode {

// A stoppable sleep shared by the loops: wakes early on stop() or poke().
class Waker {
 public:
  // Waits up to `seconds`; false once stopped.
  bool wait(double seconds);
  void poke();
  void stop();
  bool stopped() const { return stopped_; }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool poked_ = false;
  std::atomic<bool> stopped_{false};
};

class CompletionLoop {
 public:
  // sends_for: the send jobs of a render job whose series is confirmed complete after
  // a speculative start (result_routing.hpp's sendJobsFor).
  CompletionLoop(double tick_s, CompletionMonitor& monitor, RouteRequests& routes, JobQueue& jobs,
                 std::function<void()> on_routed, JobQueue::SendsFor sends_for);
  ~CompletionLoop();
  void start();
  void stop();

 private:
  void run();
  // Acts on one decision of the monitor; true when jobs became claimable.
  bool act(const CompletedSeries& decided);
  double tick_s_;
  CompletionMonitor& monitor_;
  RouteRequests& routes_;
  JobQueue& jobs_;
  std::function<void()> on_routed_;
  JobQueue::SendsFor sends_for_;
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode
