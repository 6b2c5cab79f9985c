#include "volnode/workflow/job_notifications.hpp"

#include <pthread.h>

#include <chrono>

#include "volnode/core/logging.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

JobNotificationRelay::JobNotificationRelay(JobQueue& jobs, std::function<void()> wake_claimers)
    : jobs_(jobs), wake_claimers_(std::move(wake_claimers)) {}

JobNotificationRelay::~JobNotificationRelay() { stop(); }

void JobNotificationRelay::start() { thread_ = std::thread([this] { run(); }); }

void JobNotificationRelay::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void JobNotificationRelay::run() {
  pthread_setname_np(pthread_self(), "job-notify");
  auto log = moduleLogger("pipeline");
  bool reported = false;
  while (!stopping_) {
    try {
      if (jobs_.waitForWork(kWaitS)) wake_claimers_();
      if (reported) log->info("job notifications: listening again");
      reported = false;
    } catch (const std::exception& e) {
      // The database is unreachable: the claimers' own polling carries on meanwhile.
      if (!reported) log->warn("job notifications: {}; claimers poll until the database answers", e.what());
      reported = true;
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace volnode
