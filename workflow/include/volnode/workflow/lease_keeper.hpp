#pragma once
// Renews a running job's lease every third of its length while the worker process
// lives, whatever the job is doing (a long stage reports no progress for minutes).
// So the lease means "its worker is alive": a worker host that dies loses its jobs
// its lease later, and a live one never loses a job to a slow stage. A job that
// hangs is the supervisor's to end (render.job_timeout_s).
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace volnode {

class JobQueue;

class LeaseKeeper {
 public:
  LeaseKeeper(JobQueue& jobs, int64_t job_id, std::string worker, double lease_s);
  ~LeaseKeeper();  // stops renewing
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Renews now with this progress; false when the job is no longer ours (canceled or taken over).
  bool progress(const std::string& stage, double percent);

 private:
  void run();
  JobQueue& jobs_;
  const int64_t job_id_;
  const std::string worker_;
  const double lease_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string stage_;
  double percent_ = 0;
  std::thread thread_;
};

}  // namespace volnode
