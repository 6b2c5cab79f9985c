#pragma once
// What the node has been doing, for the people who run it: throughput per minute,
// recent errors, deliveries of a study and the totals behind the metrics. Read-only
// and over its own read-only connections, so a dashboard that polls never waits for
// (or holds up) ingest and the workers, and never takes the Index's reader lock.
// Thread-safe: each call borrows a connection from a small pool.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "volnode/storage/index_location.hpp"
#include "volnode/storage/states.hpp"

namespace volnode {

struct ThroughputMinute {
  std::string minute;  // "2026-11-26T12:34" (UTC)
  int64_t instances = 0, bytes = 0;
  int64_t renders = 0, sends = 0;  // jobs of that kind that succeeded in that minute
};

enum class ErrorSource { Job, Series, Association };

struct RecentError {
  ErrorSource source = ErrorSource::Job;
  std::string at, reason;
  // Source Job: the job; Series: its series and study; Association: the peer.
  int64_t job_id = 0;
  std::optional<JobKind> job_kind;
  std::string study_uid, series_uid, destination;
  std::string peer;  // "'CALLING' at host calling 'CALLED'"
};

// One object of a render that a destination acknowledged.
struct Delivery {
  std::string destination, sop_uid, detail, at;
  int status = 0;  // the DIMSE status the destination answered
  int64_t job_id = 0;  // the render job that produced the object
  std::string description;
};

struct ActivityTotals {
  // Associations by outcome ("released", "aborted", ...; every refusal counted as "refused").
  std::map<std::string, int64_t> associations_by_outcome;
  int64_t associations = 0, associations_refused = 0;
  int64_t received_instances = 0, received_bytes = 0;  // over ended associations
  std::map<SeriesState, int64_t> series_by_state;
  std::map<std::pair<JobKind, JobState>, int64_t> jobs_by_kind_and_state;
  std::map<std::string, int64_t> failed_sends_by_destination;  // failed attempts, not jobs
  std::map<std::string, int64_t> deliveries_by_destination;    // acknowledged objects
  // Seconds from the start of the last attempt to the end, of succeeded jobs.
  std::vector<double> render_seconds, send_seconds;
};

class ActivityQueries {
 public:
  // The index must exist (an Index has created and migrated it).
  explicit ActivityQueries(IndexLocation location);
  ~ActivityQueries();
  ActivityQueries(const ActivityQueries&) = delete;
  ActivityQueries& operator=(const ActivityQueries&) = delete;

  // Instances received and jobs succeeded per minute since `since_iso` (UTC ISO
  // text); only minutes with activity, oldest first.
  std::vector<ThroughputMinute> throughputSince(const std::string& since_iso);
  // Failed jobs (and jobs waiting to retry after an error), failed series, refused
  // associations: the `limit` newest of all, newest first.
  std::vector<RecentError> recentErrors(int limit);
  // Series a rule or a check refused to render (a localizer, a perfusion map): expected,
  // so kept apart from the errors. The `limit` newest, newest first.
  std::vector<RecentError> recentRefusals(int limit);
  // Objects of the study's renders that destinations acknowledged, oldest first.
  std::vector<Delivery> deliveriesOfStudy(const std::string& study_uid);
  ActivityTotals totals();
  // The series' latest succeeded render job, if any.
  std::optional<int64_t> latestSucceededRender(const std::string& series_uid);

 private:
  struct Pool;
  std::unique_ptr<Pool> pool_;
};

}  // namespace volnode
