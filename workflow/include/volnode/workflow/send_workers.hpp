#pragma once
// The export worker: sends a render job's DICOM objects to a destination, each as
// soon as it is encoded: while the render job runs, a send job sends what is ready
// and steps back into the queue (without spending an attempt) until more is; it ends
// when the render job has ended and the destination took or refused every object.
// A send job resumes where it stopped (objects a destination acknowledged are
// not sent again), skips SOP classes the destination refused before, and on a
// failure is retried with per-destination exponential back-off and jitter until
// sending.max_attempts, after which it is failed with its last error.
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "volnode/core/config.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/association_limits.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

// Delay before retry number `attempt` (1-based): initial * 2^(attempt-1), capped,
// times a jitter factor in [0.8, 1.2].
double retryDelaySeconds(const SendingConfig& config, int attempt, double jitter_factor);

class SendWorkers {
 public:
  SendWorkers(const SendingConfig& sending, std::map<std::string, Destination> destinations,
              std::string calling_aet, std::filesystem::path results_root, JobQueue& jobs);
  ~SendWorkers();
  void start();
  void stop();
  void poke() { waker_.poke(); }

 private:
  void run();
  void sendOne(const Job& job);
  // Ends a send job whose render job is done and whose objects the destination holds
  // or refused.
  void finish(const Job& job, const Destination& destination, size_t total, const std::vector<std::string>& warnings,
              const std::vector<std::string>& not_accepted, const std::string& peer);

  SendingConfig sending_;
  std::map<std::string, Destination> destinations_;
  std::string calling_aet_;
  std::filesystem::path results_root_;
  JobQueue& jobs_;
  AssociationLimits association_limits_;  // used by the export thread only
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode
