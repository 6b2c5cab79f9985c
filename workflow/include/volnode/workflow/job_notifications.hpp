#pragma once
// Wake-ups from the shared queue (PostgreSQL): a thread that blocks in
// JobQueue::waitForWork() and, when another process or host queued, retried or
// requeued a job, wakes this node's claimers at once instead of at their next poll.
// On SQLite there is nothing to listen to and the relay is not started.
#include <atomic>
#include <functional>
#include <thread>

namespace volnode {

class JobQueue;

class JobNotificationRelay {
 public:
  JobNotificationRelay(JobQueue& jobs, std::function<void()> wake_claimers);
  ~JobNotificationRelay();
  JobNotificationRelay(const JobNotificationRelay&) = delete;
  JobNotificationRelay& operator=(const JobNotificationRelay&) = delete;

  void start();
  // Returns within about one wait (kWaitS).
  void stop();

  static constexpr double kWaitS = 1.0;  // how long one wait blocks: the bound on stop()

 private:
  void run();
  JobQueue& jobs_;
  std::function<void()> wake_claimers_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace volnode
