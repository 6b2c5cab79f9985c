#pragma once
// This process as a member of the cluster (storage/cluster_members.hpp): joins at
// start(), renews its heartbeat every kHeartbeatS with the jobs its workers run, and
// leaves at stop(). On its way it takes over two chores no single node owns:
// forgetting members gone for a day, and (for processes that run no completion
// loop, i.e. `volnode worker`) queuing again the jobs whose lease ran out. A
// database that does not answer is logged once and retried at the next beat.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "volnode/storage/cluster_members.hpp"
#include "volnode/workflow/workers.hpp"

namespace volnode {

class JobQueue;

// This host's name (gethostname), "localhost" when it has none.
std::string thisHostName();

struct PresenceSettings {
  MemberInfo member;
  std::function<std::vector<int64_t>()> current_jobs;  // the jobs its worker processes hold now
  JobQueue* requeue_expired = nullptr;  // non-null: queue jobs whose lease ended again at every beat
  std::function<void()> on_requeued;    // after it did (e.g. wake the local workers)
};

class ClusterPresence {
 public:
  ClusterPresence(ClusterMembers& members, PresenceSettings settings);
  ~ClusterPresence();
  ClusterPresence(const ClusterPresence&) = delete;
  ClusterPresence& operator=(const ClusterPresence&) = delete;

  void start();  // joins at once: throws when the database cannot record it
  void stop();   // leaves (a clean stop removes the row)
  int64_t memberId() const { return id_.load(); }

  // How often members renew their heartbeat; one silent for three of these is stale.
  static constexpr double kHeartbeatS = 5;

 private:
  void run();
  void beat();
  ClusterMembers& members_;
  PresenceSettings settings_;
  std::atomic<int64_t> id_{0};  // rewritten by the heartbeat thread when it joins again, read by the console
  bool reported_ = false;  // a failed beat was logged
  Waker waker_;
  std::thread thread_;
};

}  // namespace volnode
