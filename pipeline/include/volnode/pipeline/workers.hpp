#pragma once
// The node's background threads, each catching at its top and naming itself:
//   CompletionLoop  every tick and at each released association's grace deadline: completion,
//                   routing of complete series, expired leases
//   RenderWorkers   N threads, each with its own render window, running render jobs
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "volnode/pipeline/completion.hpp"
#include "volnode/pipeline/render_job.hpp"
#include "volnode/pipeline/series_router.hpp"

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
  CompletionLoop(double tick_s, CompletionMonitor& monitor, SeriesRouter& router, JobQueue& jobs,
                 std::function<void()> on_routed);
  ~CompletionLoop();
  void start();
  void stop();

 private:
  void run();
  double tick_s_;
  CompletionMonitor& monitor_;
  SeriesRouter& router_;
  JobQueue& jobs_;
  std::function<void()> on_routed_;
  Waker waker_;
  std::thread thread_;
};

// Decides where a render job's results go once it succeeded (send jobs).
using RenderedHandler = std::function<void(const Job& render_job, const RenderJobResult& result)>;

class RenderWorkers {
 public:
  RenderWorkers(int count, RenderJobSettings settings, Index& index, JobQueue& jobs, const RuleSet& rules,
                RenderedHandler on_rendered);
  ~RenderWorkers();
  void start();
  void stop();
  void poke() { waker_.poke(); }  // a job may be waiting
  int busy() const { return busy_; }
  int count() const { return count_; }

 private:
  void run(int number);
  int count_;
  RenderJobSettings settings_;
  Index& index_;
  JobQueue& jobs_;
  const RuleSet& rules_;
  RenderedHandler on_rendered_;
  Waker waker_;
  std::atomic<int> busy_{0};
  std::vector<std::thread> threads_;
};

}  // namespace volnode
