#pragma once
// The registry of the processes that share one index (table cluster_members,
// migration 007): each `volnode serve` node and `volnode worker` process joins at
// start, renews its heartbeat on the database's clock, and leaves when it stops.
// Any node's console lists them all; one whose heartbeat is older than three of its
// own intervals is stale (its host or process died, or cannot reach the database).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "volnode/storage/index_location.hpp"

namespace volnode {

struct MemberInfo {
  std::string role;         // "serve" | "worker"
  std::string host;
  int64_t pid = 0;
  double heartbeat_s = 10;  // how often it renews its heartbeat
  int workers = 0;          // render worker processes it runs
  std::string detail;       // what it offers, for people (listener, console)
  std::string node;         // the node name its rows carry ("<host>:<dicom.port>", Index::ownRowsAs)
};

struct ClusterMember {
  int64_t id = 0;
  MemberInfo info;
  double started_at = 0;       // unix seconds, database clock
  double heartbeat_at = 0;     // unix seconds, database clock
  double heartbeat_age_s = 0;  // now - heartbeat_at, both on the database clock
  std::vector<int64_t> current_jobs;
  bool stale = false;
};

class ClusterMembers {
 public:
  // A member stale for this long is removed by forgetLongGone().
  static constexpr double kForgetAfterS = 86400;
  // Silent for more than this many of its heartbeat intervals: stale.
  static constexpr double kStaleIntervals = 3;

  explicit ClusterMembers(const IndexLocation& location);
  ~ClusterMembers();

  // Records this process; returns its member id.
  int64_t join(const MemberInfo& info);
  // Renews the heartbeat and the jobs it runs now; false when the row is gone
  // (forgotten as stale while this process could not reach the database): join again.
  bool heartbeat(int64_t id, const std::vector<int64_t>& current_jobs);
  // A clean stop: the row goes.
  void leave(int64_t id);
  // Every member, serve nodes first, then by host and pid.
  std::vector<ClusterMember> list();
  // Members stale for longer than kForgetAfterS; returns how many were removed.
  int forgetLongGone();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
