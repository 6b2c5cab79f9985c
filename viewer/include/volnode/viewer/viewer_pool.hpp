#pragma once
// The node's side of the interactive view: viewer.max_sessions worker processes
// (`volnode viewer-worker`), started with the node, each answering one request at
// a time over its Unix socket. The console's threads ask through here and never
// touch patient pixels themselves. A request goes to the worker that served the
// same series last when it is free (its volume is warm there), else to any free
// one; when none frees up within viewer.wait_s the answer is 503 with
// Retry-After. A worker that dies or hangs costs its request (503) and is
// started again for the next.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "volnode/viewer/viewer_metrics.hpp"
#include "volnode/viewer/viewer_protocol.hpp"

namespace volnode::viewer {

struct ViewerPoolSettings {
  std::vector<std::string> command;  // argv of a viewer worker; "--slot N" is appended
  int workers = 2;
  double wait_s = 2;                 // for a free worker
  double request_timeout_s = 120;    // a worker that takes longer is killed (a cold open may assemble)
  // prepare() leaves alone a worker that answered a user this recently: the series
  // on its screen stays warm.
  double prepare_spares_user_s = 60;
  // What the workers are called in logs and answers ("viewer-<slot>-<pid>"), and the
  // setting that bounds them, named when all are busy (empty: none to name).
  std::string name = "viewer";
  std::string limit_setting = "viewer.max_sessions";
};

// What ViewerPool::prepare did with a series.
enum class PrepareOutcome {
  Prepared,     // opened in a worker, which now answers the series
  AlreadyWarm,  // a worker holds it already
  NoWorker,     // none is free, or each answered a user too recently
  Failed,       // the worker could not open it (not a volume, ...) or died
};

struct ViewerPoolStatus {
  int workers = 0, running = 0, busy = 0;
  int64_t answered = 0, refused_busy = 0, worker_deaths = 0;
  int64_t prepared = 0;  // series opened ahead by prepare()
  ViewerMetrics metrics;  // every answer, by quality, volume source and status
};

class ViewerPool {
 public:
  explicit ViewerPool(ViewerPoolSettings settings);
  ~ViewerPool();  // stops the workers
  ViewerPool(const ViewerPool&) = delete;
  ViewerPool& operator=(const ViewerPool&) = delete;

  // Starts the workers now (they open their render windows and wait), so the first
  // frame of the first series does not wait for a process to start. Optional: ask()
  // starts a missing worker itself.
  void start();
  // Thread-safe. Never throws: failures are replies (503 with retry_after_s set).
  ViewerReply ask(const ViewerRequest& request);
  // Opens a series ahead in a worker that is free now and has not answered a user
  // within prepare_spares_user_s, so that the series' first frame is warm; that
  // worker then gets the series' requests. Never waits for a worker and never
  // starts one. Blocks while the worker prepares (a second or two). Says why not when no
  // worker qualifies (NoWorker), the series is already warm in one, or it failed.
  PrepareOutcome prepare(const std::string& series_uid);
  ViewerPoolStatus status() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode::viewer
