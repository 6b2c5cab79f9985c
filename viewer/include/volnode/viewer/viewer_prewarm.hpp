#pragma once
// Opens each series whose batch render has just succeeded in a viewer worker that
// has nothing else to do (ViewerPool::prepare), so that a radiologist who opens
// the 3D view from the PACS minutes later gets a warm first frame instead of
// waiting for the volume to be read and its gradients computed. Polls the queue
// for renders that succeeded since the last look (viewer.prepare_after_render).
// Viewer workers run at idle priority: preparing never slows ingest or renders.
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "volnode/storage/job_queue.hpp"
#include "volnode/viewer/viewer_pool.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode::viewer {

class ViewerPrewarm {
 public:
  // `prepare` is ViewerPool::prepare (a function, so tests need no worker processes).
  ViewerPrewarm(JobQueue& jobs, std::function<PrepareOutcome(const std::string& series_uid)> prepare,
                double poll_s = 2);
  ~ViewerPrewarm();
  void start();  // renders that succeeded before start() are not prepared
  void stop();

  // One look at the queue: prepares the newest renders that succeeded since the
  // last look (in any order: a render queued earlier may finish later), newest
  // first, until no worker is free; those then wait for the next look. Returns how
  // many were prepared.
  int pollOnce();

 private:
  JobQueue& jobs_;
  std::function<PrepareOutcome(const std::string&)> prepare_;
  double poll_s_;
  bool looked_ = false;
  std::set<int64_t> handled_;  // among the newest succeeded renders: prepared, warm, failed, or there at start
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode::viewer
