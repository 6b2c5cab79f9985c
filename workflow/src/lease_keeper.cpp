#include "volnode/workflow/lease_keeper.hpp"

#include <pthread.h>

#include <chrono>

#include "volnode/core/logging.hpp"
#include "volnode/storage/job_queue.hpp"

namespace volnode {

LeaseKeeper::LeaseKeeper(JobQueue& jobs, int64_t job_id, std::string worker, double lease_s)
    : jobs_(jobs), job_id_(job_id), worker_(std::move(worker)), lease_s_(lease_s), thread_([this] { run(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool LeaseKeeper::progress(const std::string& stage, double percent) {
  {
    std::lock_guard lock(mutex_);
    stage_ = stage;
    percent_ = percent;
  }
  return jobs_.heartbeat(job_id_, worker_, lease_s_, stage, percent);
}

void LeaseKeeper::run() {
  pthread_setname_np(pthread_self(), "lease");
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, std::chrono::duration<double>(lease_s_ / 3), [this] { return stopping_; })) {
    const std::string stage = stage_;
    const double percent = percent_;
    lock.unlock();
    bool ours = true;
    try {
      ours = jobs_.heartbeat(job_id_, worker_, lease_s_, stage, percent);
    } catch (const std::exception& e) {
      // The database is away for a moment: the next renewal may still come in time.
      moduleLogger("pipeline")->warn("job {}: cannot renew its lease: {}", job_id_, e.what());
    }
    lock.lock();
    if (!ours) return;  // canceled or taken over: the job's next progress report ends it
  }
}

}  // namespace volnode
