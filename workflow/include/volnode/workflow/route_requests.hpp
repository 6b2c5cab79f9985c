#pragma once
// Queues the route jobs the workers run: for each series completion declares
// complete (marked complete and queued in one transaction), and for on-demand
// renders of series already held. On-demand requests for a study not held yet
// leave an expectation, so its series are routed with the requested rule and
// priority when they complete after the C-MOVE. Runs in the node process: it
// reads only the index, never a received file.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/series_router.hpp"

namespace volnode {

class RouteRequests {
 public:
  explicit RouteRequests(JobQueue& jobs) : jobs_(jobs) {}

  // Series of this study that complete later are routed with this rule (empty:
  // the rules decide) and priority.
  void expectStudy(const std::string& study_uid, const std::string& rule, int priority);

  // receiving -> complete, with its route job (routed as its study is expected,
  // or as `request` says). Returns the job id, 0 when the series was no longer
  // receiving (a late instance, say).
  int64_t seriesCompleted(const SeriesSummary& series, const std::string& reason,
                          const std::optional<RouteRequest>& request = std::nullopt);
  // receiving -> complete on a released association whose grace still runs: its route
  // job, and the render job it queues, are speculative (JobQueue::confirmSpeculative).
  // Returns the job id, 0 when the series was no longer receiving.
  int64_t seriesReleased(const SeriesSummary& series, const std::string& reason);
  // Routes a held series again (on demand, or after a repair). 0 when its state
  // does not allow it (it is being received or routed right now).
  int64_t reroute(const std::string& series_uid, const std::string& study_uid, const RouteRequest& request,
                  const std::string& why);

 private:
  JobQueue& jobs_;
  std::mutex mutex_;
  std::map<std::string, RouteRequest> expected_;  // by study UID
};

}  // namespace volnode
