#include "volnode/workflow/retention_loop.hpp"

#include <pthread.h>

#include "volnode/core/clock.hpp"
#include "volnode/core/logging.hpp"

namespace volnode {

RetentionLoop::RetentionLoop(RetentionPolicy& policy, double every_s,
                             std::function<void(const RetentionSweep&)> on_swept)
    : policy_(policy), every_s_(every_s), on_swept_(std::move(on_swept)) {}

RetentionLoop::~RetentionLoop() { stop(); }

void RetentionLoop::start() {
  if (policy_.enabled() && !thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void RetentionLoop::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

void RetentionLoop::run() {
  pthread_setname_np(pthread_self(), "retention");
  do {
    try {
      auto sweep = policy_.sweep(isoUtcNow());
      if (on_swept_) on_swept_(sweep);
    } catch (const std::exception& e) {
      moduleLogger("storage")->error("retention: {}", e.what());
    }
  } while (waker_.wait(every_s_));
}

}  // namespace volnode
