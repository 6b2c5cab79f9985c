#pragma once
// The node's retention thread: sweeps the store by the retention policy
// (storage/retention.hpp) at start and then every `every_s`; a failed sweep is
// logged and tried again next time. stop() ends the wait at once.
#include <functional>
#include <thread>

#include "volnode/storage/retention.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

class RetentionLoop {
 public:
  // `on_swept`, when set, hears each finished sweep (on the loop's thread).
  RetentionLoop(RetentionPolicy& policy, double every_s,
                std::function<void(const RetentionSweep&)> on_swept = nullptr);
  ~RetentionLoop();
  void start();  // nothing when the policy deletes nothing (enabled() false)
  void stop();

 private:
  void run();
  RetentionPolicy& policy_;
  double every_s_;
  std::function<void(const RetentionSweep&)> on_swept_;
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode
